"""The exam-site bridge: scanner, device sessions and uplink wired together."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from manikin.protocols import PROTOCOLS, UnknownProtocolError, get_protocol, match_advertisement

from .errors import BluetoothUnavailable, explain_ble_error
from .session import DeviceSession
from .spool import DEFAULT_SPOOL_PATH, Spool
from .uplink import Backoff, Uplink

log = logging.getLogger("manikin.bridge")


@dataclass
class BridgeConfig:
    server: str = "ws://127.0.0.1:8000"
    token: Optional[str] = None
    spool_path: str = DEFAULT_SPOOL_PATH
    devices: list[str] = field(default_factory=list)  # override of the server's assignment
    connect_all: bool = False  # connect every supported manikin seen (implied by --fake)
    scan_timeout_s: float = 5.0
    rescan_interval_s: float = 10.0
    batch_interval_s: float = 0.05
    batch_max: int = 10
    max_in_flight: int = 256
    upload: bool = True  # False: no server, frames go to a LocalSink


@dataclass
class SeenDevice:
    address: str
    name: Optional[str]
    rssi_dbm: Optional[int]
    protocol: Optional[str]
    device: Any
    seen_at: float


class DeviceDirectory:
    """Shared scanner: one scan at a time, results shared by every waiting session."""

    def __init__(self, ble: Any, scan_timeout_s: float = 5.0) -> None:
        self.ble = ble
        self.scan_timeout_s = scan_timeout_s
        self.seen: dict[str, SeenDevice] = {}
        self._lock = asyncio.Lock()
        self._last_scan_started = 0.0

    async def scan(self, timeout_s: Optional[float] = None) -> dict[str, SeenDevice]:
        requested = time.monotonic()
        async with self._lock:
            if self._last_scan_started >= requested:
                return self.seen  # someone scanned for us while we waited
            self._last_scan_started = time.monotonic()
            found = await self.ble.BleakScanner.discover(
                timeout=self.scan_timeout_s if timeout_s is None else timeout_s, return_adv=True)
        now = time.time()
        for address, (device, adv) in found.items():
            name = adv.local_name or device.name
            self.seen[address.upper()] = SeenDevice(
                address=address.upper(), name=name, rssi_dbm=adv.rssi,
                protocol=match_advertisement(name, adv.service_uuids), device=device, seen_at=now)
        return self.seen

    async def find(self, address: str) -> tuple[Any, Optional[int]]:
        await self.scan()
        entry = self.seen.get(address.upper())
        if entry is None:
            return None, None
        # Forget it so the next attempt needs a fresh sighting (a stale entry
        # would make us connect to a device that is out of range).
        del self.seen[address.upper()]
        return entry.device, entry.rssi_dbm

    def supported(self) -> list[SeenDevice]:
        return sorted((d for d in self.seen.values() if d.protocol), key=lambda d: d.address)


class LocalSink:
    """Stand-in for the uplink when no server is used: counts and logs what would be sent."""

    def __init__(self, out=None, interval_s: float = 1.0) -> None:
        self.out = out or sys.stdout
        self.interval_s = interval_s
        self.seq = 0
        self.frames: list[dict] = []
        self.totals: dict[str, dict] = {}
        self._last_print = time.monotonic()
        self.keep_frames = False

    def submit(self, frame: dict) -> int:
        self.seq += 1
        if self.keep_frames:
            self.frames.append(dict(frame, seq=self.seq))
        dev = self.totals.setdefault(frame["device"], {"samples": 0, "lost": 0, "malformed": 0,
                                                        "max_depth_mm": 0.0, "state": "?"})
        if frame["type"] == "samples":
            dev["samples"] += len(frame["t"])
            dev["lost"] += frame["lost"]
            dev["malformed"] += frame["malformed"]
            if frame["depth_mm"]:
                dev["max_depth_mm"] = max(dev["max_depth_mm"], max(frame["depth_mm"]))
        else:
            dev["state"] = frame["state"]
        if time.monotonic() - self._last_print >= self.interval_s:
            self._last_print = time.monotonic()
            self.print_summary()
        return self.seq

    def print_summary(self) -> None:
        for address, d in sorted(self.totals.items()):
            print(f"{address} {d['state']:<12} samples={d['samples']:<6} lost={d['lost']:<4} "
                  f"malformed={d['malformed']:<3} max_depth={d['max_depth_mm']:.0f} mm", file=self.out)
        self.out.flush()


class Bridge:
    """Runs device sessions for the assigned manikins and uploads what they produce."""

    def __init__(self, config: BridgeConfig, *, ble: Any = None, sink: Any = None,
                 session_backoff: Optional[Backoff] = None, uplink_backoff: Optional[Backoff] = None) -> None:
        if ble is None:
            import bleak as ble  # the real radio
        self.config = config
        self.ble = ble
        self.directory = DeviceDirectory(ble, config.scan_timeout_s)
        self.spool: Optional[Spool] = None
        self.uplink: Optional[Uplink] = None
        if sink is not None:
            self.sink = sink
        elif config.upload:
            self.spool = Spool(config.spool_path)
            self.uplink = Uplink(config.server, config.token, self.spool, max_in_flight=config.max_in_flight,
                                 on_welcome=self._on_welcome, backoff=uplink_backoff)
            self.sink = self.uplink
        else:
            self.sink = LocalSink()
        self._session_backoff = session_backoff
        self.sessions: dict[str, tuple[DeviceSession, asyncio.Task]] = {}
        self.assignment: list[dict] = self._load_assignment()
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()

    # -- assignment ------------------------------------------------------------------------------

    def _load_assignment(self) -> list[dict]:
        if self.spool is None:
            return []
        raw = self.spool.get_meta("assignment")
        try:
            return json.loads(raw) if raw else []
        except ValueError:
            return []

    def _on_welcome(self, welcome: dict) -> None:
        manikins = welcome.get("manikins") or []
        valid = []
        for m in manikins:
            address = str(m.get("address", "")).upper()
            protocol = m.get("protocol")
            if not address or protocol not in PROTOCOLS:
                log.warning("server assigned an unusable manikin %r (unknown protocol?)", m)
                continue
            valid.append({"address": address, "label": m.get("label"), "protocol": protocol})
        self.assignment = valid
        if self.spool is not None:
            self.spool.set_meta("assignment", json.dumps(valid))
        if valid:
            log.info("server assigned %d manikin(s): %s", len(valid),
                     ", ".join(f"{m['label'] or '?'}={m['address']}" for m in valid))
        self._changed.set()

    def desired(self) -> dict[str, tuple[str, Optional[str]]]:
        """address -> (protocol id, label) the bridge should be connected to now."""
        if self.config.devices:
            wanted = {}
            for address in self.config.devices:
                seen = self.directory.seen.get(address.upper())
                known = next((m for m in self.assignment if m["address"] == address.upper()), None)
                protocol = (known or {}).get("protocol") or (seen.protocol if seen else None)
                if protocol:
                    wanted[address.upper()] = (protocol, (known or {}).get("label"))
            return wanted
        if self.assignment:
            return {m["address"]: (m["protocol"], m.get("label")) for m in self.assignment}
        if self.config.connect_all:
            return {d.address: (d.protocol, None) for d in self.directory.supported()}
        return {}

    def _needs_scan(self) -> bool:
        if self.config.devices:
            return any(a.upper() not in self.sessions for a in self.config.devices)
        return not self.assignment and self.config.connect_all

    # -- run ------------------------------------------------------------------------------------

    async def check_bluetooth(self) -> list[SeenDevice]:
        """First scan; raises :class:`BluetoothUnavailable` with a clear message if BLE is unusable."""
        try:
            await self.directory.scan()
        except Exception as exc:  # noqa: BLE001 - translated below or re-raised
            message = explain_ble_error(exc)
            if message is None:
                raise
            raise BluetoothUnavailable(message) from exc
        return self.directory.supported()

    async def run(self) -> None:
        seen = await self.check_bluetooth()
        for d in seen:
            log.info("seen %s %s (%s, %s dBm)", d.address, d.name, d.protocol, d.rssi_dbm)
        uplink_task = asyncio.create_task(self.uplink.run()) if self.uplink else None
        if not self.desired() and not self.config.connect_all and not self.config.devices:
            log.info("waiting for the server to assign manikins to this station")
        try:
            while not self._stop.is_set():
                if self._needs_scan():
                    try:
                        await self.directory.scan()
                    except Exception as exc:  # noqa: BLE001
                        log.error("scan failed: %s", explain_ble_error(exc) or exc)
                self._reconcile()
                self._changed.clear()
                waiters = {asyncio.ensure_future(self._changed.wait()), asyncio.ensure_future(self._stop.wait())}
                _, pending = await asyncio.wait(waiters, timeout=self.config.rescan_interval_s,
                                                return_when=asyncio.FIRST_COMPLETED)
                for w in pending:
                    w.cancel()
        finally:
            await self._stop_sessions(list(self.sessions))
            if self.uplink is not None:
                if uplink_task is not None and self.uplink.connected.is_set():
                    await self.uplink.drain(2.0)
                await self.uplink.stop()
                if uplink_task is not None:
                    uplink_task.cancel()
                    await asyncio.gather(uplink_task, return_exceptions=True)
            if self.spool is not None:
                left = self.spool.count()
                if left:
                    log.info("%d frame(s) stay spooled in %s and will be sent next time", left, self.spool.path)
                self.spool.close()

    def stop(self) -> None:
        self._stop.set()

    def _reconcile(self) -> None:
        desired = self.desired()
        for address in [a for a in self.sessions if a not in desired]:
            log.info("%s is no longer assigned: disconnecting", address)
            asyncio.ensure_future(self._stop_sessions([address]))
        for address, (protocol, label) in desired.items():
            if address in self.sessions:
                continue
            try:
                spec = get_protocol(protocol)
            except UnknownProtocolError as exc:
                log.warning("%s: %s", address, exc)
                continue
            session = DeviceSession(
                address, spec, self.ble, self.sink, self.directory, label=label,
                batch_interval_s=self.config.batch_interval_s, batch_max=self.config.batch_max,
                backoff=Backoff(self._session_backoff.base_s, self._session_backoff.cap_s)
                if self._session_backoff else None)
            task = asyncio.create_task(session.run(), name=f"session {address}")
            self.sessions[address] = (session, task)
            log.info("managing %s (%s%s)", address, spec.id, f", {label}" if label else "")

    async def _stop_sessions(self, addresses: list[str]) -> None:
        entries = [self.sessions.pop(a) for a in addresses if a in self.sessions]
        for session, _ in entries:
            session.stop()
        for session, task in entries:
            try:
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            except asyncio.TimeoutError:
                task.cancel()
            except Exception:  # noqa: BLE001
                log.exception("session %s ended with an error", session.address)


async def scan_and_print(ble: Any, timeout_s: float, out=None) -> int:
    """``--scan``: list the supported manikins in range. Returns the exit status."""
    out = out or sys.stdout
    directory = DeviceDirectory(ble, timeout_s)
    try:
        await directory.scan()
    except Exception as exc:  # noqa: BLE001
        message = explain_ble_error(exc)
        if message is None:
            raise
        raise BluetoothUnavailable(message) from exc
    supported = directory.supported()
    others = len(directory.seen) - len(supported)
    if not supported:
        print(f"No supported manikins seen in {timeout_s:g} s ({others} other BLE device(s)).", file=out)
        return 0
    print(f"{'address':<20} {'rssi':>5}  {'protocol':<14} name", file=out)
    for d in supported:
        rssi = "?" if d.rssi_dbm is None else str(d.rssi_dbm)
        print(f"{d.address:<20} {rssi:>5}  {d.protocol:<14} {d.name or ''}", file=out)
    print(f"{len(supported)} supported manikin(s), {others} other BLE device(s).", file=out)
    return 0
