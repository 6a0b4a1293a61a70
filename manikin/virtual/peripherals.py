"""Virtual manikins: GATT peripherals that emit the real byte formats.

:class:`VirtualLittleAnne` follows the rules of the real Little Anne QCPR as
far as they are publicly known (``laerdal-qcpr-ble.md``):

- writes to 0x0127 before its indications are enabled fail with GATT error
  0xFD (253, "CCCD improperly configured");
- the 0xAA acknowledgement of the token is a notification on 0x01B2, so it
  only arrives if notifications on 0x01B2 are on;
- writing 0x01E2 wipes the vendor GATT table and drops the connection (the
  device is then useless until :meth:`VirtualLittleAnne.factory_reset`);
- streaming: 5-byte samples every 32 ticks of a 2048 Hz, 16-bit clock that
  wraps every 32 s (the start value is random, so a wrap comes early);
- notifications are dropped at ``drop_rate`` (the ticks still advance, so
  the decoder sees the gap); :meth:`drop_connection` simulates a link loss.

Assumption of the simulator, not documented for the real device: writes to
0x0127 before the token was accepted fail with GATT error 0x08
(insufficient authorisation).

:class:`VirtualOpenManikin` implements ``docs/open-manikin-profile.md``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Optional

import numpy as np
from bleak.exc import BleakGATTProtocolError

from manikin.protocols import laerdal_qcpr as lq
from manikin.protocols import open_manikin as om
from manikin.protocols.base import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    DEVICE_INFO_SERVICE_UUID,
    DEVICE_INFO_UUIDS,
)

from .fake_bleak import FakeCharacteristic, FakeService

log = logging.getLogger("manikin.virtual")

GATT_INSUFFICIENT_AUTHORIZATION = 0x08
GATT_INVALID_LENGTH = 0x0D
GATT_WRITE_NOT_PERMITTED = 0x03
GATT_READ_NOT_PERMITTED = 0x02
GATT_CCCD_IMPROPERLY_CONFIGURED = 0xFD


class Waveform:
    """Depth over time, looped: ``depth_at(t)`` for any ``t >= 0`` (seconds)."""

    def __init__(self, t_s, depth_mm, volume_ml=None) -> None:
        self.t_s = np.asarray(t_s, dtype=float)
        self.depth_mm = np.asarray(depth_mm, dtype=float)
        if self.t_s.ndim != 1 or self.t_s.shape != self.depth_mm.shape or len(self.t_s) < 2:
            raise ValueError("t_s and depth_mm must be 1-D arrays of equal length >= 2")
        self.t_s = self.t_s - self.t_s[0]
        self.period_s = float(self.t_s[-1] + (self.t_s[-1] - self.t_s[-2]))
        self.volume_ml = None if volume_ml is None else np.asarray(volume_ml, dtype=float)

    def depth_at(self, t: float) -> float:
        return float(np.interp(t % self.period_s, self.t_s, self.depth_mm))

    @classmethod
    def from_profile(cls, profile: str, *, duration_s: float = 120.0, rate_hz: float = 100.0,
                     seed: Optional[int] = None) -> "Waveform":
        """Waveform from ``manikin.simulator.simulate`` (written by the scoring team)."""
        try:
            from manikin.simulator import simulate
        except ImportError as exc:  # pragma: no cover - depends on the tree state
            raise RuntimeError(
                "manikin.simulator is not available, cannot build a depth profile: " + str(exc)) from exc
        result = simulate(profile, duration_s=duration_s, rate_hz=rate_hz, seed=seed)
        return cls(result.t_s, result.depth_mm, getattr(result, "volume_ml", None))

    @classmethod
    def sine(cls, *, rate_cpm: float = 110.0, depth_mm: float = 55.0, leaning_mm: float = 0.0,
             duration_s: float = 6.0, rate_hz: float = 100.0) -> "Waveform":
        """A plain half-sine compression train (tests and demos without the simulator)."""
        t = np.arange(0.0, duration_s, 1.0 / rate_hz)
        phase = (t * rate_cpm / 60.0) % 1.0
        d = leaning_mm + (depth_mm - leaning_mm) * np.sin(np.pi * phase) ** 2
        return cls(t, d)


def _char(uuid: str, handle: int, props, service: str) -> FakeCharacteristic:
    return FakeCharacteristic(uuid, handle, props, service)


class VirtualPeripheral:
    """Connection handling shared by the virtual manikins (one central at a time)."""

    def __init__(self, address: str, name: str, *, rssi_dbm: int = -60, battery_pct: int = 87,
                 drop_rate: float = 0.0, seed: Optional[int] = None,
                 info: Optional[dict] = None) -> None:
        self.address = address.upper()
        self.name = name
        self.rssi_dbm = rssi_dbm
        self.battery_pct = battery_pct
        self.drop_rate = drop_rate
        self.rng = random.Random(seed)
        self.advertising = True
        self.client = None
        self.info = info or {}
        self.subscriptions: dict[str, str] = {}
        self.sent = 0  # notifications delivered
        self.dropped = 0  # notifications dropped on purpose
        self.connections = 0
        self._stream_task: Optional[asyncio.Task] = None
        self.advertised_service_uuids: list[str] = []

    # -- link ------------------------------------------------------------------

    def attach(self, client) -> None:
        self.client = client
        self.connections += 1
        self.subscriptions.clear()
        self.on_connect()

    def detach(self, client) -> None:
        if self.client is client:
            self._stop_stream()
            self.client = None
            self.subscriptions.clear()  # CCCDs of an unbonded central are not kept
            self.on_disconnect()

    def drop_connection(self, *, stay_away_s: float = 0.0) -> None:
        """Simulate a link loss (out of range, battery swap...).

        With ``stay_away_s`` the device also stops advertising for that long.
        """
        client = self.client
        if client is None:
            return
        self.detach(client)
        client._lost()
        if stay_away_s > 0:
            self.advertising = False
            asyncio.get_running_loop().call_later(stay_away_s, self._come_back)

    def _come_back(self) -> None:
        self.advertising = True

    def on_connect(self) -> None:
        pass

    def on_disconnect(self) -> None:
        pass

    def subscribe(self, char: str, kind: Optional[str], enabled: bool) -> None:
        if enabled:
            self.subscriptions[char] = kind
        else:
            self.subscriptions.pop(char, None)

    def notify(self, char: str, data: bytes, *, droppable: bool = False) -> None:
        """Send a notification/indication if the central enabled it."""
        if self.client is None or char not in self.subscriptions:
            return
        if droppable and self.drop_rate > 0 and self.rng.random() < self.drop_rate:
            self.dropped += 1
            return
        self.sent += 1
        self.client._deliver(char, data)

    # -- standard services ---------------------------------------------------------

    def standard_services(self, first_handle: int) -> list[FakeService]:
        h = first_handle
        dis = []
        for key in ("manufacturer", "model", "serial", "firmware"):
            dis.append(_char(DEVICE_INFO_UUIDS[key], h, ["read"], DEVICE_INFO_SERVICE_UUID))
            h += 2
        battery = [_char(BATTERY_LEVEL_UUID, h, ["read", "notify"], BATTERY_SERVICE_UUID)]
        return [FakeService(DEVICE_INFO_SERVICE_UUID, dis), FakeService(BATTERY_SERVICE_UUID, battery)]

    def read(self, char: str) -> bytes:
        if char == BATTERY_LEVEL_UUID:
            return bytes([self.battery_pct])
        for key, uuid in DEVICE_INFO_UUIDS.items():
            if char == uuid:
                return self.info.get(key, "").encode()
        raise BleakGATTProtocolError(GATT_READ_NOT_PERMITTED)

    # -- streaming -------------------------------------------------------------------

    def _start_stream(self) -> None:
        if self._stream_task is None or self._stream_task.done():
            self._stream_task = asyncio.get_running_loop().create_task(self._stream())

    def _stop_stream(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    async def _stream(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None and not self._stream_task.done()


class VirtualLittleAnne(VirtualPeripheral):
    """A Little Anne QCPR torso that speaks the real byte format."""

    def __init__(self, address: str, waveform: Waveform, *, name: str = "Little Anne QCPR",
                 tick_hz: float = lq.TICK_HZ, start_ticks: Optional[int] = None,
                 **kwargs) -> None:
        kwargs.setdefault("info", {"manufacturer": "Laerdal Medical", "model": "Little Anne QCPR",
                                   "serial": "VLA" + address.replace(":", "")[-6:],
                                   "firmware": "1.4.2.165"})
        super().__init__(address, name, **kwargs)
        self.waveform = waveform
        self.tick_hz = tick_hz  # the device's true tick rate (drift vs 2048 Hz tests calibration)
        self.ticks = self.rng.randrange(0, 0x10000) if start_ticks is None else start_ticks
        self.authenticated = False
        self.wiped = False
        self.forbidden_writes = 0
        self.stream_t = 0.0  # seconds of waveform played
        self.samples_generated = 0

    def gatt_table(self) -> list[FakeService]:
        services = self.standard_services(0x0003)
        if self.wiped:
            return services
        u = lq.vendor_uuid
        svc = u(0x0001)
        vendor = [
            _char(lq.COMMAND_CHAR, 0x0100, ["write"], svc),
            _char(lq.COMMAND_STATUS_CHAR, 0x0102, ["notify"], svc),
            _char(lq.CONFIG_CHAR, 0x0105, ["indicate", "write"], svc),
            _char(lq.REALTIME_CHAR, 0x0108, ["notify"], svc),
            _char(lq.SUMMARY_CHAR, 0x010B, ["notify"], svc),
            _char(lq.COUNT_CHAR, 0x010E, ["notify"], svc),
            _char(lq.STATS_CHAR, 0x0111, ["notify"], svc),
            _char(lq.SESSION_CHAR, 0x0114, ["notify"], svc),
            _char(lq.MODE_SWITCH_CHAR_NEVER_WRITE, 0x0117, ["write"], svc),
        ]
        return services + [FakeService(svc, vendor)]

    def on_disconnect(self) -> None:
        self.authenticated = False

    def factory_reset(self) -> None:
        self.wiped = False

    def write(self, char: str, data: bytes, response: bool) -> None:
        if char == lq.MODE_SWITCH_CHAR_NEVER_WRITE:
            self.forbidden_writes += 1
            self.wiped = True
            log.error("%s: 0x01E2 written: GATT table wiped, disconnecting", self.address)
            loop = asyncio.get_running_loop()
            loop.call_soon(self.drop_connection)
            return
        if char == lq.COMMAND_CHAR:
            if data == lq.AUTH_TOKEN:
                self.authenticated = True
                # The acknowledgement is a notification: delivered after the write response.
                asyncio.get_running_loop().call_soon(self.notify, lq.COMMAND_STATUS_CHAR, lq.AUTH_ACK)
            return
        if char == lq.CONFIG_CHAR:
            if self.subscriptions.get(lq.CONFIG_CHAR) != "indicate":
                raise BleakGATTProtocolError(GATT_CCCD_IMPROPERLY_CONFIGURED)
            if not self.authenticated:
                raise BleakGATTProtocolError(GATT_INSUFFICIENT_AUTHORIZATION)
            if len(data) != 3:
                raise BleakGATTProtocolError(GATT_INVALID_LENGTH)
            if data == lq.START_STREAM:
                self._start_stream()
            elif data == lq.STOP_STREAM:
                self._stop_stream()
            asyncio.get_running_loop().call_soon(self.notify, lq.CONFIG_CHAR, data)
            return
        raise BleakGATTProtocolError(GATT_WRITE_NOT_PERMITTED)

    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        period_s = lq.TICKS_PER_SAMPLE / self.tick_hz
        next_t = loop.time()
        while self.client is not None:
            # Emit every sample that is due (a BLE connection event carries several).
            now = loop.time()
            while next_t <= now:
                self.ticks = (self.ticks + lq.TICKS_PER_SAMPLE) % lq.COUNTER_MODULUS
                depth = round(self.waveform.depth_at(self.stream_t))
                self.stream_t += period_s
                self.samples_generated += 1
                self.notify(lq.REALTIME_CHAR, lq.encode_sample(self.ticks, depth), droppable=True)
                next_t += period_s
            await asyncio.sleep(max(0.0, next_t - loop.time()))


class VirtualOpenManikin(VirtualPeripheral):
    """A manikin implementing the open-manikin GATT profile v1 (100 Hz, ms clock)."""

    def __init__(self, address: str, waveform: Waveform, *, name: str = "OpenManikin",
                 rate_hz: float = 100.0, hand_position: Optional[int] = 0, **kwargs) -> None:
        kwargs.setdefault("info", {"manufacturer": "Example Manikins Ltd", "model": "OM-1",
                                   "serial": "VOM" + address.replace(":", "")[-6:], "firmware": "1.0.0"})
        super().__init__(address, name, **kwargs)
        self.waveform = waveform
        self.rate_hz = rate_hz
        self.hand_position = hand_position
        self.seq = self.rng.randrange(0, 0x10000)
        self.clock_ms = self.rng.randrange(0, 1 << 32)
        self.advertised_service_uuids = [om.SERVICE_UUID]
        self.stream_t = 0.0

    def gatt_table(self) -> list[FakeService]:
        svc = om.SERVICE_UUID
        chars = [
            _char(om.DATA_CHAR, 0x0100, ["notify"], svc),
            _char(om.CONTROL_CHAR, 0x0103, ["write"], svc),
            _char(om.PROFILE_INFO_CHAR, 0x0105, ["read"], svc),
        ]
        return self.standard_services(0x0003) + [FakeService(svc, chars)]

    def read(self, char: str) -> bytes:
        if char == om.PROFILE_INFO_CHAR:
            features = om.FLAG_VOLUME if self.waveform.volume_ml is not None else 0
            features |= om.FLAG_HAND if self.hand_position is not None else 0
            return bytes([om.PROFILE_VERSION, features])
        return super().read(char)

    def write(self, char: str, data: bytes, response: bool) -> None:
        if char != om.CONTROL_CHAR:
            raise BleakGATTProtocolError(GATT_WRITE_NOT_PERMITTED)
        if data == om.CMD_START:
            self._start_stream()
        elif data == om.CMD_STOP:
            self._stop_stream()
        else:
            raise BleakGATTProtocolError(0x13)  # value not allowed

    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        period_s = 1.0 / self.rate_hz
        next_t = loop.time()
        while self.client is not None:
            now = loop.time()
            while next_t <= now:
                self.seq = (self.seq + 1) % om.SEQ_MODULUS
                self.clock_ms = (self.clock_ms + round(period_s * 1000)) % om.COUNTER_MODULUS
                volume = None
                if self.waveform.volume_ml is not None:
                    volume = int(np.interp(self.stream_t % self.waveform.period_s,
                                           self.waveform.t_s, self.waveform.volume_ml))
                pkt = om.encode_packet(self.seq, self.clock_ms, self.waveform.depth_at(self.stream_t),
                                       volume_ml=volume, hand_position=self.hand_position)
                self.stream_t += period_s
                self.notify(om.DATA_CHAR, pkt, droppable=True)
                next_t += period_s
            await asyncio.sleep(max(0.0, next_t - loop.time()))
