"""Shared building blocks for manikin protocol decoders.

A protocol is described by a :class:`ProtocolSpec`: how to recognise the
device in an advertisement, which characteristics exist, the ordered start-up
and stop steps, which characteristics may ever be written, and how to make a
:class:`Decoder` for one connection.

Decoders are pure: bytes and the host receive time go in, samples come out.
They never do I/O. The transport (connect, retry, back-off) lives in
``manikin.bridge``.

Time base
---------
Every decoded sample carries ``t_s``: seconds on the *manikin's own clock*,
unwrapped and anchored so that the first sample of a connection gets the host
receive time of that first packet (epoch seconds). The manikin clock is
steadier than BLE receive times (notifications are delivered in bursts per
connection event), so intervals between samples come from the device ticks,
while the host clock only fixes the origin and calibrates the tick length.

Tick-length calibration (:class:`TickClock`)
--------------------------------------------
The device counts in ticks of a nominal length (``nominal_tick_s``). Once at
least ``min_fit_samples`` samples spanning ``min_fit_span_s`` seconds have
arrived, the tick length is estimated as the least-squares slope of host
receive time against unwrapped ticks (an online, numerically stable
Welford-style fit over the whole connection). The estimate is only accepted
when it lies within ``[nominal / max_ratio, nominal * max_ratio]``; otherwise
the nominal value is kept and ``stats.calibration_rejected`` is increased.
The fit is refreshed every ``refit_every`` samples. When the tick length
changes, the clock is re-anchored at the last emitted sample, so ``t_s`` stays
continuous and strictly increasing.

Counter unwrapping
------------------
Counters wrap (16 bits for the Little Anne). The step between two packets is
taken modulo the wrap. If the host clock says that more than half a wrap
period passed (a long gap without packets), the number of whole wraps is
chosen so that the device interval best matches the host interval. A step of
zero or a step "backwards" (more than half a wrap forward with little host
time elapsed) is a duplicate or out-of-order packet: it is counted and
dropped.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional, Union

log = logging.getLogger("manikin.protocols")

# Standard SIG characteristics (Battery service, Device Information service).
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_UUIDS = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "firmware": "00002a26-0000-1000-8000-00805f9b34fb",
}
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"


def sig_uuid(short: int) -> str:
    """Expand a 16-bit Bluetooth SIG UUID to its 128-bit string form."""
    return f"{short:08x}-0000-1000-8000-00805f9b34fb"


class Sample(NamedTuple):
    """One decoded sample.

    t_s: epoch seconds on the manikin clock (see module docstring).
    depth_mm: compression depth in millimetres (0 = chest at rest).
    volume_ml: ventilation volume in millilitres, ``None`` when not provided.
    """

    t_s: float
    depth_mm: float
    volume_ml: Optional[float] = None


class MalformedPacket(ValueError):
    """A payload that cannot be decoded (wrong length, bad CRC, ...)."""


class ForbiddenWriteError(RuntimeError):
    """Raised when code tries to write a characteristic the protocol forbids."""


@dataclass
class DecoderStats:
    """Counters kept by a decoder for one connection."""

    received: int = 0  # payloads handed to the decoder
    decoded: int = 0  # samples produced
    malformed: int = 0  # payloads rejected as undecodable
    lost: int = 0  # samples detected as missing (gaps in counters)
    duplicates: int = 0  # repeated or out-of-order packets dropped
    wraps: int = 0  # counter wraparounds seen
    calibrations: int = 0  # accepted tick-length fits
    calibration_rejected: int = 0  # fits outside the sanity bounds

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# --------------------------------------------------------------------------
# Start-up steps
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribe:
    """Enable notifications or indications on a characteristic.

    ``purpose`` tells the bridge where to route the payloads: ``"samples"``
    goes to the decoder, ``"reply"`` feeds :class:`Write` expectations,
    ``"battery"`` updates the battery level, ``"ignore"`` discards them.
    """

    char: str
    kind: str = "notify"  # "notify" or "indicate"
    purpose: str = "ignore"

    def __post_init__(self) -> None:
        if self.kind not in ("notify", "indicate"):
            raise ValueError(f"unknown subscription kind {self.kind!r}")
        if self.purpose not in ("samples", "reply", "battery", "ignore"):
            raise ValueError(f"unknown subscription purpose {self.purpose!r}")


@dataclass(frozen=True)
class Expect:
    """A notification value that must arrive on ``char`` within ``timeout_s``."""

    char: str
    value: bytes
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Write:
    """Write ``data`` to ``char`` (with response by default)."""

    char: str
    data: bytes
    response: bool = True
    expect: Optional[Expect] = None
    description: str = ""


Step = Union[Subscribe, Write]


def validate_steps(steps: tuple, writable: frozenset, *, require_indication_before_write: frozenset = frozenset()) -> None:
    """Check the ordering rules of a step list; raise ``ValueError`` if broken.

    - every write targets a characteristic in ``writable``;
    - every characteristic in ``require_indication_before_write`` is
      subscribed before it is written;
    - every ``Expect`` listens on a characteristic subscribed before the write.
    """
    subscribed: set[str] = set()
    for step in steps:
        if isinstance(step, Subscribe):
            subscribed.add(step.char)
        elif isinstance(step, Write):
            if step.char not in writable:
                raise ValueError(f"write to non-writable characteristic {step.char}")
            if step.char in require_indication_before_write and step.char not in subscribed:
                raise ValueError(f"{step.char} is written before its indications are enabled")
            if step.expect is not None and step.expect.char not in subscribed:
                raise ValueError(f"reply expected on {step.expect.char} before subscribing to it")
        else:
            raise TypeError(f"unknown step {step!r}")


# --------------------------------------------------------------------------
# Protocol description
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolSpec:
    """Everything the bridge needs to know about one manikin protocol."""

    id: str
    title: str
    name_patterns: tuple  # compiled regular expressions matched against the advertised name
    advertised_service_uuids: frozenset  # any of these in an advertisement identifies the device
    uuid_suffix: Optional[str]  # vendor UUID base ("-d746-...") shared by all vendor characteristics
    sample_char: str
    startup: tuple
    stop: tuple
    writable_chars: frozenset
    decoder_factory: Callable[..., "Decoder"]
    battery_char: str = BATTERY_LEVEL_UUID
    info_chars: dict = field(default_factory=lambda: dict(DEVICE_INFO_UUIDS))
    require_indication_before_write: frozenset = frozenset()

    def __post_init__(self) -> None:
        validate_steps(self.startup, self.writable_chars,
                       require_indication_before_write=self.require_indication_before_write)
        validate_steps(self.stop, self.writable_chars,
                       require_indication_before_write=frozenset())

    def matches(self, name: Optional[str], service_uuids) -> bool:
        """True when an advertisement (local name, service UUIDs) looks like this protocol."""
        uuids = {str(u).lower() for u in (service_uuids or ())}
        if uuids & self.advertised_service_uuids:
            return True
        if self.uuid_suffix and any(u.endswith(self.uuid_suffix) for u in uuids):
            return True
        if name:
            return any(p.search(name) for p in self.name_patterns)
        return False

    def check_write(self, char: str) -> None:
        """Raise :class:`ForbiddenWriteError` unless ``char`` may be written."""
        if str(char).lower() not in self.writable_chars:
            raise ForbiddenWriteError(
                f"protocol {self.id} never writes characteristic {char}")

    def new_decoder(self, **kwargs) -> "Decoder":
        return self.decoder_factory(**kwargs)

    @staticmethod
    def parse_battery(payload: bytes) -> Optional[int]:
        """Battery Level (0x2A19): one unsigned byte, percent 0..100."""
        if len(payload) < 1 or payload[0] > 100:
            return None
        return int(payload[0])

    @staticmethod
    def parse_info_string(payload: bytes) -> str:
        """Device Information strings: UTF-8, possibly NUL-padded."""
        return bytes(payload).split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()


def compile_patterns(*patterns: str) -> tuple:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


# --------------------------------------------------------------------------
# Clock: unwrapping and tick-length calibration
# --------------------------------------------------------------------------


class TickClock:
    """Unwraps a device counter and maps it to epoch seconds.

    See the module docstring for the method. ``update`` returns the unwrapped
    tick count for a raw counter value, or ``None`` if the packet must be
    dropped (duplicate / out of order).
    """

    def __init__(
        self,
        *,
        modulus: int,
        nominal_tick_s: float,
        calibrate: bool = True,
        min_fit_samples: int = 128,
        min_fit_span_s: float = 4.0,
        refit_every: int = 64,
        max_ratio: float = 1.25,
        stats: Optional[DecoderStats] = None,
        logger: logging.Logger = log,
    ) -> None:
        self.modulus = modulus
        self.nominal_tick_s = nominal_tick_s
        self.tick_s = nominal_tick_s
        self.calibrate = calibrate
        self.min_fit_samples = min_fit_samples
        self.min_fit_span_s = min_fit_span_s
        self.refit_every = refit_every
        self.max_ratio = max_ratio
        self.stats = stats if stats is not None else DecoderStats()
        self.log = logger
        self._last_raw: Optional[int] = None
        self._last_host: Optional[float] = None
        self.ticks = 0  # unwrapped ticks since the first packet
        # Anchor: t_s = anchor_t + (ticks - anchor_ticks) * tick_s
        self._anchor_ticks = 0
        self._anchor_t = 0.0
        # Online least-squares of host time (y) on unwrapped ticks (x).
        self._n = 0
        self._mean_x = 0.0
        self._mean_y = 0.0
        self._sxx = 0.0
        self._sxy = 0.0
        self._y0 = 0.0  # host time origin, keeps y small

    @property
    def started(self) -> bool:
        return self._last_raw is not None

    def update(self, raw: int, host_t: float) -> Optional[int]:
        raw %= self.modulus
        if self._last_raw is None:
            self._last_raw = raw
            self._last_host = host_t
            self._anchor_t = host_t
            self._y0 = host_t
            self._fit_add(0, host_t)
            return 0
        delta = (raw - self._last_raw) % self.modulus
        half = self.modulus // 2
        host_dt = max(0.0, host_t - self._last_host)
        host_ticks = host_dt / self.tick_s
        if host_ticks < half:
            if delta == 0 or delta >= half:
                self.stats.duplicates += 1
                return None
            step = delta
        else:
            # Long silence: pick the number of wraps that best matches the host clock.
            wraps = max(0, round((host_ticks - delta) / self.modulus))
            step = delta + wraps * self.modulus
            if step == 0:
                self.stats.duplicates += 1
                return None
        self.stats.wraps += (self._last_raw + step) // self.modulus
        self._last_raw = raw
        self._last_host = host_t
        self.ticks += step
        self._fit_add(self.ticks, host_t)
        return self.ticks

    def time_of(self, ticks: int) -> float:
        return self._anchor_t + (ticks - self._anchor_ticks) * self.tick_s

    # -- calibration ---------------------------------------------------------

    def _fit_add(self, x: float, host_t: float) -> None:
        y = host_t - self._y0
        self._n += 1
        dx = x - self._mean_x
        self._mean_x += dx / self._n
        self._mean_y += (y - self._mean_y) / self._n
        # Welford co-moment updates (use the new mean for the second factor).
        self._sxx += dx * (x - self._mean_x)
        self._sxy += dx * (y - self._mean_y)
        if self.calibrate and self._n >= self.min_fit_samples and self._n % self.refit_every == 0:
            self._refit()

    def _refit(self) -> None:
        if self._sxx <= 0:
            return
        span_s = self.ticks * self.nominal_tick_s
        if span_s < self.min_fit_span_s:
            return
        slope = self._sxy / self._sxx
        lo = self.nominal_tick_s / self.max_ratio
        hi = self.nominal_tick_s * self.max_ratio
        if not (math.isfinite(slope) and lo <= slope <= hi):
            self.stats.calibration_rejected += 1
            self.log.warning(
                "tick-length fit %.3g s outside [%.3g, %.3g]; keeping %.3g s",
                slope, lo, hi, self.tick_s)
            return
        # Re-anchor at the current position so t_s stays continuous.
        self._anchor_t = self.time_of(self.ticks)
        self._anchor_ticks = self.ticks
        if slope != self.tick_s:
            self.log.debug("tick length calibrated: %.6e s (nominal %.6e s)", slope, self.nominal_tick_s)
        self.tick_s = slope
        self.stats.calibrations += 1


class Decoder:
    """Base class of per-connection decoders.

    Subclasses implement :meth:`_decode`, which may raise
    :class:`MalformedPacket`. :meth:`feed` never raises for bad input: it
    counts and logs the payload and returns an empty list.
    """

    protocol_id = "base"

    def __init__(self, logger: Optional[logging.Logger] = None) -> None:
        self.stats = DecoderStats()
        self.log = logger or logging.getLogger(f"manikin.protocols.{self.protocol_id}")
        self._malformed_logged = 0

    def feed(self, payload: bytes, host_t: float) -> list:
        """Decode one notification payload received at ``host_t`` (epoch s)."""
        self.stats.received += 1
        try:
            samples = self._decode(bytes(payload), float(host_t))
        except MalformedPacket as exc:
            self.stats.malformed += 1
            # Log the first few in full, then only every 100th, to keep logs readable.
            if self._malformed_logged < 10 or self.stats.malformed % 100 == 0:
                self.log.warning("malformed packet %s (%s); %d so far",
                                 bytes(payload)[:32].hex(), exc, self.stats.malformed)
                self._malformed_logged += 1
            return []
        self.stats.decoded += len(samples)
        return samples

    def _decode(self, payload: bytes, host_t: float) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def tick_s(self) -> float:
        return self.clock.tick_s  # type: ignore[attr-defined]
