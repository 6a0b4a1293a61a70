"""open-manikin: the project's published GATT profile for manikin makers.

The normative specification is ``docs/open-manikin-profile.md``; this module
is its reference implementation (decoder and encoder).

Data packet, version 1, all integers little-endian::

    0   u8   version (1)
    1   u8   flags: bit 0 volume present, bit 1 hand position present, others 0
    2   u16  sequence number, +1 per packet, wraps at 0xFFFF
    4   u32  timestamp, milliseconds of the device's monotonic clock, wraps
    8   u16  depth in 0.1 mm (0 = chest at rest), 0..1000
    10  u16  ventilation volume in ml            (only if flags bit 0)
    ..  u8   hand position code                  (only if flags bit 1)
    -2  u16  CRC-16/CCITT-FALSE of all preceding bytes
"""

from __future__ import annotations

import logging
import struct
from typing import Optional

from .base import (
    Decoder,
    MalformedPacket,
    ProtocolSpec,
    Sample,
    Subscribe,
    TickClock,
    Write,
    compile_patterns,
)

PROTOCOL_ID = "open-manikin"
PROFILE_VERSION = 1
UUID_SUFFIX = "-42f0-492e-98d2-444457779296"


def om_uuid(short: int) -> str:
    """Full UUID of an open-manikin attribute from its 16-bit short id."""
    return f"4f4d{short:04x}{UUID_SUFFIX}"


SERVICE_UUID = om_uuid(0x0001)
DATA_CHAR = om_uuid(0x0002)  # notify: data packets
CONTROL_CHAR = om_uuid(0x0003)  # write with response: 0x01 start, 0x00 stop
PROFILE_INFO_CHAR = om_uuid(0x0004)  # read: u8 profile version, u8 feature flags

CMD_START = b"\x01"
CMD_STOP = b"\x00"

FLAG_VOLUME = 0x01
FLAG_HAND = 0x02
KNOWN_FLAGS = FLAG_VOLUME | FLAG_HAND

HAND_POSITIONS = {
    0: "correct",
    1: "too_low",
    2: "too_high",
    3: "too_left",
    4: "too_right",
    0xFF: "not_detected",
}

MAX_DEPTH_DMM = 1000  # 100.0 mm
COUNTER_MODULUS = 1 << 32
NOMINAL_TICK_S = 0.001
SEQ_MODULUS = 1 << 16

_HEAD = struct.Struct("<BBHIH")


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0.

    Check value: ``crc16_ccitt_false(b"123456789") == 0x29B1``.
    """
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def encode_packet(
    seq: int,
    timestamp_ms: int,
    depth_mm: float,
    volume_ml: Optional[int] = None,
    hand_position: Optional[int] = None,
    version: int = PROFILE_VERSION,
) -> bytes:
    """Build one data packet (for vendors, the virtual manikin and tests)."""
    flags = (FLAG_VOLUME if volume_ml is not None else 0) | (FLAG_HAND if hand_position is not None else 0)
    depth_dmm = max(0, min(MAX_DEPTH_DMM, int(round(depth_mm * 10))))
    body = _HEAD.pack(version, flags, seq % SEQ_MODULUS, timestamp_ms % COUNTER_MODULUS, depth_dmm)
    if volume_ml is not None:
        body += struct.pack("<H", max(0, min(0xFFFF, int(volume_ml))))
    if hand_position is not None:
        body += struct.pack("<B", hand_position)
    return body + struct.pack("<H", crc16_ccitt_false(body))


def parse_packet(payload: bytes) -> dict:
    """Validate and split a data packet; raise :class:`MalformedPacket` if invalid."""
    if len(payload) < _HEAD.size + 2:
        raise MalformedPacket(f"too short: {len(payload)} bytes")
    version, flags = payload[0], payload[1]
    if version != PROFILE_VERSION:
        raise MalformedPacket(f"unsupported packet version {version}")
    if flags & ~KNOWN_FLAGS:
        raise MalformedPacket(f"unknown flags 0x{flags:02x}")
    expected = _HEAD.size + (2 if flags & FLAG_VOLUME else 0) + (1 if flags & FLAG_HAND else 0) + 2
    if len(payload) != expected:
        raise MalformedPacket(f"length {len(payload)} does not match flags (expected {expected})")
    (crc,) = struct.unpack_from("<H", payload, expected - 2)
    if crc != crc16_ccitt_false(payload[:-2]):
        raise MalformedPacket("CRC mismatch")
    _, _, seq, timestamp_ms, depth_dmm = _HEAD.unpack_from(payload)
    if depth_dmm > MAX_DEPTH_DMM:
        raise MalformedPacket(f"depth {depth_dmm / 10} mm out of range")
    offset = _HEAD.size
    volume = None
    hand = None
    if flags & FLAG_VOLUME:
        (volume,) = struct.unpack_from("<H", payload, offset)
        offset += 2
    if flags & FLAG_HAND:
        hand = payload[offset]
        if hand not in HAND_POSITIONS:
            raise MalformedPacket(f"unknown hand position code {hand}")
    return {"seq": seq, "timestamp_ms": timestamp_ms, "depth_mm": depth_dmm / 10.0,
            "volume_ml": volume, "hand_position": hand}


class OpenManikinDecoder(Decoder):
    """Per-connection decoder: sequence gaps give lost samples, the ms clock gives time."""

    protocol_id = PROTOCOL_ID

    def __init__(self, *, tick_s: float = NOMINAL_TICK_S, calibrate: bool = True,
                 logger: logging.Logger | None = None, **clock_kwargs) -> None:
        super().__init__(logger)
        self.clock = TickClock(modulus=COUNTER_MODULUS, nominal_tick_s=tick_s, calibrate=calibrate,
                               stats=self.stats, logger=self.log, **clock_kwargs)
        self._last_seq: Optional[int] = None
        self.last_hand_position: Optional[str] = None

    def _decode(self, payload: bytes, host_t: float) -> list:
        pkt = parse_packet(payload)
        seq = pkt["seq"]
        if self._last_seq is not None:
            gap = (seq - self._last_seq) % SEQ_MODULUS
            if gap == 0 or gap >= SEQ_MODULUS // 2:
                self.stats.duplicates += 1
                return []
        ticks = self.clock.update(pkt["timestamp_ms"], host_t)
        if ticks is None:
            return []
        if self._last_seq is not None and gap > 1:
            self.stats.lost += gap - 1
        self._last_seq = seq
        if pkt["hand_position"] is not None:
            self.last_hand_position = HAND_POSITIONS[pkt["hand_position"]]
        volume = None if pkt["volume_ml"] is None else float(pkt["volume_ml"])
        return [Sample(self.clock.time_of(ticks), pkt["depth_mm"], volume)]


OPEN_MANIKIN = ProtocolSpec(
    id=PROTOCOL_ID,
    title="open-manikin GATT profile v1",
    name_patterns=compile_patterns(r"^OpenManikin"),
    advertised_service_uuids=frozenset({SERVICE_UUID}),
    uuid_suffix=None,
    sample_char=DATA_CHAR,
    startup=(
        Subscribe(DATA_CHAR, "notify", purpose="samples"),
        Write(CONTROL_CHAR, CMD_START, response=True, description="start streaming"),
    ),
    stop=(Write(CONTROL_CHAR, CMD_STOP, response=True, description="stop streaming"),),
    writable_chars=frozenset({CONTROL_CHAR}),
    decoder_factory=OpenManikinDecoder,
)
