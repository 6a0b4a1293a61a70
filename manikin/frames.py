"""Parsing and validating what a bridge sends: pure functions, no Django, no I/O.

Every WebSocket message from a bridge goes through :func:`decode` exactly once. It never raises:
it returns either a valid frame (:class:`Hello`, :class:`Samples`, :class:`Status`) whose every
value fits its physical range and the column that stores it, or a :class:`Rejected` that keeps the
message verbatim with a reason code and an English explanation. The consumer stores both through
``manikin.api.store_frames``; nothing a bridge sends is dropped unseen.

Limits are physical (a compression depth of a kilometre is not a measurement), of storage
(PostgreSQL ``bigint`` / ``integer`` / ``real``, no NUL in text) and of fairness (one bridge cannot
make the server copy megabytes to every console).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

MAX_FRAME_BYTES = 256 * 1024  # a full frame of 2,000 samples is about 60 KB of JSON
MAX_SAMPLES_PER_FRAME = 2000
MAX_SEQ = 2**63 - 1  # bigint
MAX_COUNTER = 2**31 - 1  # integer: lost / malformed per frame
EPOCH_MIN_S = 946_684_800.0  # 2000-01-01: ``t`` and ``sent_at`` are epoch seconds of the bridge's clock
EPOCH_MAX_S = 4_102_444_800.0  # 2100-01-01
DEPTH_RANGE_MM = (-50.0, 200.0)  # an adult manikin's chest travels 0-80 mm; sensors overshoot a little
VOLUME_RANGE_ML = (0.0, 5000.0)  # a breath is 500-600 mL; adult lungs hold at most about 6 L
BATTERY_RANGE_PCT = (0, 100)
RSSI_RANGE_DBM = (-130, 20)
MAX_DEVICE_CHARS = 64
MAX_BRIDGE_ID_CHARS = 64
MAX_SHORT_TEXT_CHARS = 64  # software, protocol
MAX_MESSAGE_CHARS = 255
MAX_INFO_BYTES = 2048  # manufacturer, model, serial, firmware: a few short strings
MAX_INFO_KEYS = 16
MAX_INFO_VALUE_CHARS = 128

# C0 and C1 control characters (NUL included: PostgreSQL text cannot hold it) and lone surrogates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NUMBER_TYPES = frozenset({int, float})  # not bool: ``type(True)`` is bool
STATUS_STATES = frozenset({"scanning", "connecting", "connected", "streaming", "disconnected", "error"})


@dataclass(frozen=True)
class Rejected:
    """A message that cannot be stored as a frame; kept verbatim with the reason."""

    code: str  # bad_json, too_large, bad_frame, bad_seq, ...
    message: str  # English, for the bridge's log and the admin
    raw: bytes
    seq: int | None = None  # a valid seq, when the message had one: the frame is then acknowledged
    kind: str | None = None


@dataclass
class Hello:
    bridge_id: str
    software: str
    version: int | None
    clock: float | None  # the bridge's epoch seconds when it sent hello: gives the clock offset
    raw: bytes = field(default=b"", repr=False)
    kind: str = field(default="hello", init=False)


@dataclass
class Samples:
    seq: int
    device: str
    sent_at: float | None
    t: np.ndarray  # float64 epoch seconds on the bridge's clock, non-decreasing
    depth_mm: np.ndarray  # float32-safe
    volume_ml: np.ndarray | None  # float32-safe; NaN where a sample has no volume
    protocol: str = ""
    lost: int = 0
    malformed: int = 0
    raw: bytes = field(default=b"", repr=False)  # the message as received, should storing it fail
    kind: str = field(default="samples", init=False)


@dataclass
class Status:
    seq: int
    device: str
    sent_at: float | None
    state: str
    battery_pct: int | None
    rssi_dbm: int | None
    info: dict | None
    message: str
    raw: bytes = field(default=b"", repr=False)
    kind: str = field(default="status", init=False)

    def as_dict(self) -> dict:
        return {"state": self.state, "battery_pct": self.battery_pct, "rssi_dbm": self.rssi_dbm,
                "info": self.info, "message": self.message}


Decoded = Hello | Samples | Status | Rejected


class _Invalid(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _no_constants(name: str):
    raise _Invalid("bad_json", f"{name} is not a JSON number")


def decode(raw: str | bytes) -> Decoded:
    """Decode one WebSocket message of a bridge. Never raises (short of running out of memory)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw or b"")
    if len(data) > MAX_FRAME_BYTES:
        return Rejected("too_large", f"a frame has at most {MAX_FRAME_BYTES} bytes, this one {len(data)}", data)
    try:
        text = data.decode("utf-8")
        obj = json.loads(text, parse_constant=_no_constants)
    except _Invalid as exc:
        return Rejected(exc.code, str(exc), data)
    except RecursionError:
        return Rejected("bad_json", "the JSON is nested too deeply", data)
    except (ValueError, UnicodeError) as exc:  # includes JSONDecodeError and ints over 4,300 digits
        return Rejected("bad_json", f"not valid JSON: {exc}"[:200], data)
    if not isinstance(obj, dict):
        return Rejected("bad_frame", "a frame is a JSON object", data)
    kind = obj.get("type")
    seq = _seq_or_none(obj.get("seq"))
    try:
        parse = _PARSERS.get(kind) if isinstance(kind, str) else None
        if parse is None:
            raise _Invalid("bad_type", "type must be hello, samples or status")
        frame = parse(obj)
        frame.raw = data
        return frame
    except _Invalid as exc:
        return Rejected(exc.code, str(exc), data, seq=seq, kind=kind if isinstance(kind, str) else None)
    except (TypeError, ValueError, OverflowError, RecursionError, MemoryError) as exc:  # belt and braces
        return Rejected("bad_frame", f"{type(exc).__name__}: {exc}"[:200], data, seq=seq,
                        kind=kind if isinstance(kind, str) else None)


# ---------------------------------------------------------------- fields


def storable_seq(value) -> int | None:
    """``value`` if it is a seq a ``bigint`` column holds, else None."""
    return _seq_or_none(value)


def _seq_or_none(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SEQ:
        return value
    return None


def _seq(obj: dict) -> int:
    value = obj.get("seq")
    if _seq_or_none(value) is None:
        raise _Invalid("bad_seq", f"seq must be an integer from 1 to {MAX_SEQ}")
    return value


def _text(value, name: str, max_chars: int, *, required: bool = False, upper: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _Invalid("bad_frame", f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise _Invalid("bad_frame", f"{name} must not be empty")
    if len(value) > max_chars:
        raise _Invalid("bad_frame", f"{name} has at most {max_chars} characters")
    if _CONTROL.search(value):
        raise _Invalid("bad_frame", f"{name} holds a control character")
    return value.upper() if upper else value


def _number(value, name: str, lo: float, hi: float, *, integer: bool = False, optional: bool = True):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid("bad_frame", f"{name} must be a number")
    if isinstance(value, int):
        if not lo <= value <= hi:
            raise _Invalid("out_of_range", f"{name} must be between {lo:g} and {hi:g}")
        return int(value) if integer else float(value)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise _Invalid("out_of_range", f"{name} must be between {lo:g} and {hi:g}")
    if integer:
        if value != int(value):
            raise _Invalid("bad_frame", f"{name} must be a whole number")
        return int(value)
    return value


def _rounded(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _array(values, name: str, lo: float, hi: float, *, n: int | None = None, nullable: bool = False) -> np.ndarray:
    if not isinstance(values, list):
        raise _Invalid("bad_frame", f"{name} must be a list of numbers")
    if n is not None and len(values) != n:
        raise _Invalid("bad_frame", f"{name} must have {n} items like t")
    if not values:
        return np.empty(0)
    kinds = set(map(type, values))  # plain numbers only: no nested lists, strings or booleans
    has_null = nullable and type(None) in kinds
    if not (kinds - {type(None)} if has_null else kinds) <= _NUMBER_TYPES:
        raise _Invalid("bad_frame", f"{name} must be a list of numbers")
    try:
        arr = np.array([math.nan if v is None else v for v in values] if has_null else values, dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        raise _Invalid("out_of_range", f"{name} must hold values between {lo:g} and {hi:g}") from None
    known = arr[~np.isnan(arr)] if has_null else arr
    # NaN and infinities fail these comparisons too.
    if len(known) and not (lo <= known.min() and known.max() <= hi):
        raise _Invalid("out_of_range", f"{name} must hold values between {lo:g} and {hi:g}")
    return arr


def _info(value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_INFO_KEYS:
        raise _Invalid("bad_frame", f"info must be an object of at most {MAX_INFO_KEYS} fields")
    out = {}
    for key, item in value.items():
        key = _text(key, "an info field name", 32, required=True)
        if isinstance(item, str):
            item = _text(item, f"info.{key}", MAX_INFO_VALUE_CHARS)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            item = _number(item, f"info.{key}", -1e9, 1e9)
        elif not (item is None or isinstance(item, bool)):
            raise _Invalid("bad_frame", f"info.{key} must be text, a number, true/false or null")
        out[key] = item
    if len(json.dumps(out, ensure_ascii=False).encode()) > MAX_INFO_BYTES:
        raise _Invalid("too_large", f"info has at most {MAX_INFO_BYTES} bytes")
    return out


# ---------------------------------------------------------------- frames


def _hello(obj: dict) -> Hello:
    version = obj.get("version")
    return Hello(
        bridge_id=_text(obj.get("bridge_id"), "bridge_id", MAX_BRIDGE_ID_CHARS, required=True),
        software=_text(obj.get("software"), "software", MAX_SHORT_TEXT_CHARS),
        version=_number(version, "version", 1, 1000, integer=True),
        clock=_number(obj.get("clock"), "clock", EPOCH_MIN_S, EPOCH_MAX_S),
    )


def _common(obj: dict) -> tuple[int, str, float | None]:
    seq = _seq(obj)
    device = _text(obj.get("device"), "device", MAX_DEVICE_CHARS, required=True, upper=True)
    sent_at = _number(obj.get("sent_at"), "sent_at", EPOCH_MIN_S, EPOCH_MAX_S)
    return seq, device, sent_at


def _samples(obj: dict) -> Samples:
    seq, device, sent_at = _common(obj)
    raw_t = obj.get("t")
    if isinstance(raw_t, list) and len(raw_t) > MAX_SAMPLES_PER_FRAME:
        raise _Invalid("too_large", f"at most {MAX_SAMPLES_PER_FRAME} samples per frame")
    t = _array(raw_t, "t", EPOCH_MIN_S, EPOCH_MAX_S)
    if len(t) > 1 and np.any(np.diff(t) < 0):
        raise _Invalid("bad_frame", "t goes backwards inside the frame")
    depth = _array(obj.get("depth_mm"), "depth_mm", *DEPTH_RANGE_MM, n=len(t))
    volume = obj.get("volume_ml")
    volume = None if volume is None else _array(volume, "volume_ml", *VOLUME_RANGE_ML, n=len(t), nullable=True)
    return Samples(
        seq=seq, device=device, sent_at=sent_at, t=t, depth_mm=depth, volume_ml=volume,
        protocol=_text(obj.get("protocol"), "protocol", MAX_SHORT_TEXT_CHARS),
        lost=_number(obj.get("lost"), "lost", 0, MAX_COUNTER, integer=True) or 0,
        malformed=_number(obj.get("malformed"), "malformed", 0, MAX_COUNTER, integer=True) or 0,
    )


def _status(obj: dict) -> Status:
    seq, device, sent_at = _common(obj)
    state = obj.get("state")
    if state not in STATUS_STATES:
        raise _Invalid("bad_frame", f"state must be one of {sorted(STATUS_STATES)}")
    return Status(
        seq=seq, device=device, sent_at=sent_at, state=state,
        battery_pct=_rounded(_number(obj.get("battery_pct"), "battery_pct", *BATTERY_RANGE_PCT)),
        rssi_dbm=_rounded(_number(obj.get("rssi_dbm"), "rssi_dbm", *RSSI_RANGE_DBM)),
        info=_info(obj.get("info")),
        message=_text(obj.get("message"), "message", MAX_MESSAGE_CHARS),
    )


_PARSERS = {"hello": _hello, "samples": _samples, "status": _status}
