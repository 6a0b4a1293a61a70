"""Laerdal Little Anne QCPR sensor (BLE), from the public reverse-engineering notes.

See ``shared/reference/laerdal-qcpr-ble.md`` beside the project (copied facts, no code).

Real-time sample on 0x0027, 5 bytes::

    offset 0  u16 LE  device timestamp in ticks, wraps at 0xFFFF
    offset 2  u16     reserved, always 0 so far
    offset 4  u8      compression depth in whole millimetres

The tick is nominally 1/2048 s (32 ticks per sample at ~64 Hz; the counter
wraps every 32 s). The tick length is calibrated against the host clock (see
``manikin.protocols.base``). Samples arrive unacknowledged, so gaps happen:
a step of ``k * 32`` ticks means ``k - 1`` samples were lost.

Characteristic 0x01E2 (mode switch) wipes the device's GATT table and
disconnects. It is deliberately not in ``writable_chars``, so the bridge's
only write path (``ProtocolSpec.check_write``) refuses it.
"""

from __future__ import annotations

import logging
import struct

from .base import (
    Decoder,
    Expect,
    MalformedPacket,
    ProtocolSpec,
    Sample,
    Subscribe,
    TickClock,
    Write,
    compile_patterns,
)

PROTOCOL_ID = "laerdal-qcpr"
UUID_SUFFIX = "-d746-4092-84e7-dad34863fe4a"


def vendor_uuid(short: int) -> str:
    """Full 128-bit UUID of a Laerdal vendor characteristic from its short id."""
    return f"{short:08x}{UUID_SUFFIX}"


COMMAND_CHAR = vendor_uuid(0x01B1)  # write: authentication token
COMMAND_STATUS_CHAR = vendor_uuid(0x01B2)  # notify: 0xAA acknowledges the token
CONFIG_CHAR = vendor_uuid(0x0127)  # indicate + write: stream control
REALTIME_CHAR = vendor_uuid(0x0027)  # notify: 5-byte real-time samples
SUMMARY_CHAR = vendor_uuid(0x0028)  # notify: one 12-byte summary per compression
COUNT_CHAR = vendor_uuid(0x0030)  # notify: u16 LE compression count
STATS_CHAR = vendor_uuid(0x012A)  # notify: ~1 Hz statistics, 3 x u32 LE
SESSION_CHAR = vendor_uuid(0x01A1)  # notify: 4-byte session counter
MODE_SWITCH_CHAR_NEVER_WRITE = vendor_uuid(0x01E2)  # write wipes the GATT table: never

AUTH_TOKEN = bytes.fromhex("5c0eb9be03d260096d3e1f0c8026c81073cd2ea2")
AUTH_ACK = b"\xaa"
START_STREAM = bytes.fromhex("03ff00")
STOP_STREAM = bytes.fromhex("000000")

TICK_HZ = 2048
NOMINAL_TICK_S = 1.0 / TICK_HZ
TICKS_PER_SAMPLE = 32
COUNTER_MODULUS = 0x10000
SAMPLE_LEN = 5
MAX_DEPTH_MM = 100  # the chest of a Little Anne cannot travel further; larger values are garbage

_SAMPLE = struct.Struct("<HHB")


def parse_sample(payload: bytes) -> tuple[int, int, int]:
    """Split a 0x0027 payload into ``(ticks, reserved, depth_mm)``.

    Raises :class:`MalformedPacket` for a wrong length or impossible depth.
    """
    if len(payload) != SAMPLE_LEN:
        raise MalformedPacket(f"expected {SAMPLE_LEN} bytes, got {len(payload)}")
    ticks, reserved, depth = _SAMPLE.unpack(payload)
    if depth > MAX_DEPTH_MM:
        raise MalformedPacket(f"depth {depth} mm exceeds {MAX_DEPTH_MM} mm")
    return ticks, reserved, depth


def encode_sample(ticks: int, depth_mm: int, reserved: int = 0) -> bytes:
    """Build a 0x0027 payload (used by the virtual manikin and tests)."""
    return _SAMPLE.pack(ticks % COUNTER_MODULUS, reserved, max(0, min(255, int(depth_mm))))


class LaerdalQcprDecoder(Decoder):
    """Stateful decoder for one connection: unwraps ticks and calibrates the tick length."""

    protocol_id = PROTOCOL_ID

    def __init__(
        self,
        *,
        tick_s: float = NOMINAL_TICK_S,
        calibrate: bool = True,
        ticks_per_sample: int = TICKS_PER_SAMPLE,
        logger: logging.Logger | None = None,
        **clock_kwargs,
    ) -> None:
        super().__init__(logger)
        self.ticks_per_sample = ticks_per_sample
        self.clock = TickClock(
            modulus=COUNTER_MODULUS,
            nominal_tick_s=tick_s,
            calibrate=calibrate,
            stats=self.stats,
            logger=self.log,
            **clock_kwargs,
        )
        self._reserved_warned = False

    def _decode(self, payload: bytes, host_t: float) -> list:
        ticks, reserved, depth = parse_sample(payload)
        if reserved and not self._reserved_warned:
            # Always 0 in every capture so far; keep decoding but say so once.
            self.log.warning("reserved bytes are non-zero (0x%04x): unknown firmware?", reserved)
            self._reserved_warned = True
        before = self.clock.ticks
        started = self.clock.started
        unwrapped = self.clock.update(ticks, host_t)
        if unwrapped is None:
            return []
        if started:
            step = unwrapped - before
            missing = round(step / self.ticks_per_sample) - 1
            if missing > 0:
                self.stats.lost += missing
        return [Sample(self.clock.time_of(unwrapped), float(depth), None)]


LAERDAL_QCPR = ProtocolSpec(
    id=PROTOCOL_ID,
    title="Laerdal Little Anne QCPR",
    name_patterns=compile_patterns(r"QCPR", r"Laerdal", r"Little\s*Anne"),
    advertised_service_uuids=frozenset(),
    uuid_suffix=UUID_SUFFIX,
    sample_char=REALTIME_CHAR,
    startup=(
        # The 0xAA acknowledgement arrives as a notification: listen first.
        Subscribe(COMMAND_STATUS_CHAR, "notify", purpose="reply"),
        Write(COMMAND_CHAR, AUTH_TOKEN, response=True,
              expect=Expect(COMMAND_STATUS_CHAR, AUTH_ACK, timeout_s=5.0),
              description="authentication token"),
        # Indications on 0x0127 must be on BEFORE writing it (else GATT error 253).
        Subscribe(CONFIG_CHAR, "indicate", purpose="ignore"),
        Subscribe(REALTIME_CHAR, "notify", purpose="samples"),
        Write(CONFIG_CHAR, START_STREAM, response=True, description="start streaming"),
    ),
    stop=(Write(CONFIG_CHAR, STOP_STREAM, response=True, description="stop streaming"),),
    writable_chars=frozenset({COMMAND_CHAR, CONFIG_CHAR}),
    decoder_factory=LaerdalQcprDecoder,
    require_indication_before_write=frozenset({CONFIG_CHAR}),
)

assert MODE_SWITCH_CHAR_NEVER_WRITE not in LAERDAL_QCPR.writable_chars
