"""One manikin connection: find, connect, start-up, stream, reconnect with back-off.

Transport only: bytes go to the protocol's pure decoder, decoded samples are
batched into ``samples`` frames and handed to a sink (the uplink, which spools
them before sending).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Optional

from bleak.exc import BleakError

from manikin.protocols import ProtocolSpec
from manikin.protocols.base import ForbiddenWriteError, Subscribe, Write

from .errors import explain_ble_error
from .uplink import Backoff

log = logging.getLogger("manikin.bridge")


class StartupError(Exception):
    """The device did not complete the protocol's start-up sequence."""


async def gatt_write(client, spec: ProtocolSpec, char: str, data: bytes, response: bool = True) -> None:
    """The bridge's only GATT write path: refuses anything the protocol does not allow."""
    spec.check_write(char)
    await client.write_gatt_char(char, data, response=response)


async def run_steps(client, spec: ProtocolSpec, steps: tuple, handlers: dict[str, Callable[[bytes], None]],
                    replies: Optional[dict[str, asyncio.Queue]] = None) -> None:
    """Execute subscribe/write steps in order.

    ``handlers`` maps a subscription purpose (``samples``, ``battery``) to a
    callable taking the payload; ``reply`` subscriptions feed ``replies``
    queues that :class:`~manikin.protocols.base.Expect` waits on.
    """
    replies = replies if replies is not None else {}
    for step in steps:
        if isinstance(step, Subscribe):
            if step.purpose == "reply":
                queue = replies.setdefault(step.char, asyncio.Queue())
                callback = _queue_callback(queue)
            elif step.purpose in handlers:
                callback = _payload_callback(handlers[step.purpose])
            else:
                callback = _ignore
            await client.start_notify(step.char, callback)
        elif isinstance(step, Write):
            queue = replies.get(step.expect.char) if step.expect else None
            if queue is not None:
                while not queue.empty():  # stale replies must not satisfy this write
                    queue.get_nowait()
            await gatt_write(client, spec, step.char, step.data, step.response)
            if step.expect is not None:
                await _await_reply(queue, step)
        else:  # pragma: no cover - validated by ProtocolSpec
            raise TypeError(step)


async def _await_reply(queue: Optional[asyncio.Queue], step: Write) -> None:
    expect = step.expect
    if queue is None:
        raise StartupError(f"no subscription for the reply on {expect.char}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + expect.timeout_s
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise StartupError(f"{step.description or step.char}: no {expect.value.hex()} reply within "
                               f"{expect.timeout_s:g} s")
        try:
            value = await asyncio.wait_for(queue.get(), remaining)
        except asyncio.TimeoutError:
            continue
        if bytes(value) == expect.value:
            return
        log.debug("ignoring reply %s while waiting for %s", bytes(value).hex(), expect.value.hex())


def _queue_callback(queue: asyncio.Queue):
    def callback(_char, data: bytearray) -> None:
        queue.put_nowait(bytes(data))
    return callback


def _payload_callback(handler: Callable[[bytes], None]):
    def callback(_char, data: bytearray) -> None:
        handler(bytes(data))
    return callback


def _ignore(_char, _data) -> None:
    return None


class DeviceSession:
    """Keeps one manikin connected and streaming until :meth:`stop`."""

    def __init__(
        self,
        address: str,
        spec: ProtocolSpec,
        ble: Any,
        sink: Any,
        directory: Any,
        *,
        label: Optional[str] = None,
        batch_interval_s: float = 0.05,
        batch_max: int = 10,
        backoff: Optional[Backoff] = None,
        battery_interval_s: float = 60.0,
        connect_timeout_s: float = 20.0,
        stable_after_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address.upper()
        self.spec = spec
        self.ble = ble
        self.sink = sink
        self.directory = directory
        self.label = label
        self.batch_interval_s = batch_interval_s
        self.batch_max = batch_max
        self.backoff = backoff or Backoff(1.0, 30.0)
        self.battery_interval_s = battery_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.stable_after_s = stable_after_s
        self.clock = clock
        self.state = "disconnected"
        self.decoder = None
        self.battery_pct: Optional[int] = None
        self.rssi_dbm: Optional[int] = None
        self.info: Optional[dict] = None
        self.connections = 0
        self.samples_sent = 0
        self._stop = asyncio.Event()
        self._batch: list = []
        self._reported = {"lost": 0, "malformed": 0}
        self._client = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await self._connect_and_stream()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a session must survive anything a device does
                message = explain_ble_error(exc)
                if message is not None:
                    # Adapter unplugged, BlueZ restarted...: say so, keep retrying.
                    log.error("%s: %s", self.address, message)
                else:
                    message = f"{type(exc).__name__}: {exc}"
                    log.warning("%s: %s", self.address, message)
                self._status("error", message=message)
            if self._stop.is_set():
                break
            if time.monotonic() - started >= self.stable_after_s:
                self.backoff.reset()
            delay = self.backoff.next()
            log.info("%s: reconnecting in %.1f s", self.address, delay)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()

    # -- one connection ------------------------------------------------------------------------

    async def _connect_and_stream(self) -> None:
        self._status("scanning")
        device, self.rssi_dbm = await self.directory.find(self.address)
        if device is None:
            self._status("disconnected", message="not in range or not advertising")
            return
        self._status("connecting")
        loop = asyncio.get_running_loop()
        dropped = asyncio.Event()

        def on_disconnect(_client) -> None:
            # bleak may call this from another thread on some platforms.
            loop.call_soon_threadsafe(dropped.set)

        client = self.ble.BleakClient(device, disconnected_callback=on_disconnect)
        self._client = client
        await asyncio.wait_for(client.connect(), self.connect_timeout_s)
        self.connections += 1
        flusher: Optional[asyncio.Task] = None
        try:
            self.battery_pct = await self._read_battery(client)
            self.info = await self._read_info(client)
            self._status("connected")
            self.decoder = self.spec.new_decoder()
            self._reported = {"lost": 0, "malformed": 0}
            self._batch = []
            await run_steps(client, self.spec, self.spec.startup,
                            {"samples": self._on_payload, "battery": self._on_battery})
            self._status("streaming")
            log.info("%s (%s): streaming", self.address, self.label or self.spec.id)
            flusher = asyncio.create_task(self._flush_loop())
            await self._wait_until_dropped_or_stopped(client, dropped)
        finally:
            if flusher is not None:
                flusher.cancel()
                await asyncio.gather(flusher, return_exceptions=True)
            if client.is_connected and self._stop.is_set():
                try:
                    await run_steps(client, self.spec, self.spec.stop, {})
                except (BleakError, ForbiddenWriteError, OSError, asyncio.TimeoutError) as exc:
                    log.debug("%s: stop sequence failed: %s", self.address, exc)
            self._flush()
            if client.is_connected:
                try:
                    await client.disconnect()
                except (BleakError, OSError, asyncio.TimeoutError) as exc:
                    log.debug("%s: disconnect failed: %s", self.address, exc)
            self._client = None
            message = None if self._stop.is_set() else "connection lost"
            self._status("disconnected", message=message)

    async def _wait_until_dropped_or_stopped(self, client, dropped: asyncio.Event) -> None:
        next_battery = time.monotonic() + self.battery_interval_s
        while not dropped.is_set() and not self._stop.is_set() and client.is_connected:
            waiters = {asyncio.ensure_future(dropped.wait()), asyncio.ensure_future(self._stop.wait())}
            timeout = max(0.0, next_battery - time.monotonic())
            done, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
            if not done:
                battery = await self._read_battery(client)
                next_battery = time.monotonic() + self.battery_interval_s
                if battery != self.battery_pct:
                    self.battery_pct = battery
                    self._status("streaming")

    async def _read_battery(self, client) -> Optional[int]:
        try:
            return self.spec.parse_battery(await client.read_gatt_char(self.spec.battery_char))
        except (BleakError, OSError, asyncio.TimeoutError) as exc:
            log.debug("%s: battery not readable: %s", self.address, exc)
            return self.battery_pct

    async def _read_info(self, client) -> Optional[dict]:
        info = {}
        for key, uuid in self.spec.info_chars.items():
            try:
                info[key] = self.spec.parse_info_string(await client.read_gatt_char(uuid))
            except (BleakError, OSError, asyncio.TimeoutError) as exc:
                log.debug("%s: %s not readable: %s", self.address, key, exc)
                info[key] = None
        return info if any(info.values()) else None

    # -- samples ---------------------------------------------------------------------------------

    def _on_payload(self, payload: bytes) -> None:
        decoder = self.decoder
        if decoder is None:
            return
        try:
            samples = decoder.feed(payload, self.clock())
        except Exception:  # noqa: BLE001 - decoders must not raise; if one does, count it
            decoder.stats.malformed += 1
            log.exception("%s: decoder failed on %s", self.address, payload.hex())
            return
        if samples:
            self._batch.extend(samples)
            if len(self._batch) >= self.batch_max:
                self._flush()

    def _on_battery(self, payload: bytes) -> None:
        battery = self.spec.parse_battery(payload)
        if battery is not None and battery != self.battery_pct:
            self.battery_pct = battery
            self._status(self.state)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.batch_interval_s)
            self._flush()

    def _flush(self) -> None:
        decoder = self.decoder
        if decoder is None:
            return
        lost = decoder.stats.lost - self._reported["lost"]
        malformed = decoder.stats.malformed - self._reported["malformed"]
        if not self._batch and not lost and not malformed:
            return
        batch, self._batch = self._batch, []
        volumes = [s.volume_ml for s in batch]
        frame = {
            "type": "samples",
            "device": self.address,
            "protocol": self.spec.id,
            "t": [round(s.t_s, 6) for s in batch],
            "depth_mm": [s.depth_mm for s in batch],
            "volume_ml": volumes if any(v is not None for v in volumes) else None,
            "lost": lost,
            "malformed": malformed,
        }
        self._reported = {"lost": decoder.stats.lost, "malformed": decoder.stats.malformed}
        self.samples_sent += len(batch)
        self.sink.submit(frame)

    # -- status -----------------------------------------------------------------------------------

    def _status(self, state: str, message: Optional[str] = None) -> None:
        self.state = state
        self.sink.submit({
            "type": "status",
            "device": self.address,
            "state": state,
            "battery_pct": self.battery_pct,
            "rssi_dbm": self.rssi_dbm,
            "info": self.info,
            "message": message,
        })
