"""Decoders from hand-built bytes: no radio, no Django."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manikin.protocols import (
    PROTOCOLS,
    ForbiddenWriteError,
    UnknownProtocolError,
    get_protocol,
    match_advertisement,
)
from manikin.protocols import laerdal_qcpr as lq
from manikin.protocols import open_manikin as om
from manikin.protocols.base import Subscribe, Write, validate_steps

T0 = 1_700_000_000.0
STEP_S = 32 / 2048


def feed_ticks(decoder, ticks_list, depth=40, step_s=STEP_S, t0=T0):
    out = []
    for i, ticks in enumerate(ticks_list):
        out += decoder.feed(lq.encode_sample(ticks, depth), t0 + i * step_s)
    return out


# -- registry and discovery -------------------------------------------------------------


def test_registry_has_both_protocols():
    assert set(PROTOCOLS) == {"laerdal-qcpr", "open-manikin"}
    assert get_protocol("laerdal-qcpr") is lq.LAERDAL_QCPR
    with pytest.raises(UnknownProtocolError, match="known: laerdal-qcpr, open-manikin"):
        get_protocol("resusci-anne")


@pytest.mark.parametrize("name", ["Little Anne QCPR", "Laerdal QCPR", "my qcpr 7", "LAERDAL", "Little Anne"])
def test_laerdal_found_by_name(name):
    assert match_advertisement(name, []) == "laerdal-qcpr"


def test_laerdal_found_by_uuid_base_without_name():
    assert match_advertisement(None, ["00000001-D746-4092-84E7-DAD34863FE4A"]) == "laerdal-qcpr"


def test_open_manikin_found_by_service_uuid():
    assert match_advertisement("Acme CPR", [om.SERVICE_UUID]) == "open-manikin"
    assert match_advertisement("OpenManikin 3", []) == "open-manikin"


@pytest.mark.parametrize("name,uuids", [("Mi Band", []), (None, []), ("Anne", ["0000180f-0000-1000-8000-00805f9b34fb"])])
def test_other_devices_are_not_matched(name, uuids):
    assert match_advertisement(name, uuids) is None


# -- start-up sequence --------------------------------------------------------------------


def test_laerdal_startup_order():
    steps = lq.LAERDAL_QCPR.startup
    kinds = [(type(s).__name__, s.char) for s in steps]
    assert kinds == [
        ("Subscribe", lq.COMMAND_STATUS_CHAR),
        ("Write", lq.COMMAND_CHAR),
        ("Subscribe", lq.CONFIG_CHAR),
        ("Subscribe", lq.REALTIME_CHAR),
        ("Write", lq.CONFIG_CHAR),
    ]
    token, indicate, start = steps[1], steps[2], steps[4]
    assert token.data == bytes.fromhex("5c0eb9be03d260096d3e1f0c8026c81073cd2ea2")
    assert token.response and token.expect.value == b"\xaa" and token.expect.char == lq.COMMAND_STATUS_CHAR
    assert indicate.kind == "indicate"
    assert start.data == b"\x03\xff\x00" and start.response
    assert lq.LAERDAL_QCPR.stop == (Write(lq.CONFIG_CHAR, b"\x00\x00\x00", True, description="stop streaming"),)
    assert lq.LAERDAL_QCPR.sample_char == "00000027-d746-4092-84e7-dad34863fe4a"


def test_writing_config_before_indications_is_rejected_by_the_validator():
    bad = (Subscribe(lq.REALTIME_CHAR, "notify", "samples"), Write(lq.CONFIG_CHAR, lq.START_STREAM))
    with pytest.raises(ValueError, match="before its indications"):
        validate_steps(bad, lq.LAERDAL_QCPR.writable_chars,
                       require_indication_before_write=frozenset({lq.CONFIG_CHAR}))


def test_mode_switch_characteristic_can_never_be_written():
    with pytest.raises(ForbiddenWriteError):
        lq.LAERDAL_QCPR.check_write(lq.MODE_SWITCH_CHAR_NEVER_WRITE)
    with pytest.raises(ValueError, match="non-writable"):
        validate_steps((Write(lq.MODE_SWITCH_CHAR_NEVER_WRITE, b"\x01"),), lq.LAERDAL_QCPR.writable_chars)
    lq.LAERDAL_QCPR.check_write(lq.CONFIG_CHAR)  # allowed


def test_battery_and_device_info_parsing():
    spec = lq.LAERDAL_QCPR
    assert spec.battery_char == "00002a19-0000-1000-8000-00805f9b34fb"
    assert spec.parse_battery(b"\x57") == 87
    assert spec.parse_battery(b"") is None and spec.parse_battery(b"\xc8") is None
    assert set(spec.info_chars) == {"manufacturer", "model", "serial", "firmware"}
    assert spec.info_chars["manufacturer"].startswith("00002a29")
    assert spec.info_chars["model"].startswith("00002a24")
    assert spec.info_chars["serial"].startswith("00002a25")
    assert spec.info_chars["firmware"].startswith("00002a26")
    assert spec.parse_info_string(b"1.4.2.165\x00\x00") == "1.4.2.165"


# -- Little Anne real-time samples -----------------------------------------------------------


def test_sample_layout():
    assert lq.parse_sample(bytes([0x34, 0x12, 0, 0, 47])) == (0x1234, 0, 47)
    assert lq.encode_sample(0x1234, 47) == bytes([0x34, 0x12, 0, 0, 47])


def test_first_sample_is_anchored_at_host_time_and_spacing_follows_ticks():
    d = lq.LAERDAL_QCPR.new_decoder()
    # Host times jitter (BLE connection events); device ticks do not.
    samples = []
    for i, host in enumerate([T0, T0 + 0.040, T0 + 0.041, T0 + 0.042]):
        samples += d.feed(lq.encode_sample(1000 + 32 * i, 10 + i), host)
    assert samples[0].t_s == T0
    assert [round(s.t_s - T0, 9) for s in samples] == [round(i * STEP_S, 9) for i in range(4)]
    assert [s.depth_mm for s in samples] == [10, 11, 12, 13]
    assert all(s.volume_ml is None for s in samples)


def test_tick_wraparound_is_unwrapped():
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    ticks = [(0xFFC0 + 32 * i) % 0x10000 for i in range(6)]  # FFC0 FFE0 0000 0020 ...
    samples = feed_ticks(d, ticks)
    assert len(samples) == 6
    diffs = [round((b.t_s - a.t_s) * 2048) for a, b in zip(samples, samples[1:])]
    assert diffs == [32] * 5
    assert d.stats.wraps == 1 and d.stats.lost == 0


def test_lost_samples_are_counted_from_tick_gaps():
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    samples = feed_ticks(d, [0, 32, 64, 64 + 32 * 4, 64 + 32 * 5])
    assert d.stats.lost == 3
    assert round((samples[3].t_s - samples[2].t_s) * 2048) == 128


def test_lost_samples_across_a_wrap():
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    feed_ticks(d, [0xFFE0, (0xFFE0 + 32 * 3) % 0x10000])
    assert d.stats.lost == 2 and d.stats.wraps == 1


def test_long_silence_uses_host_clock_to_count_whole_wraps():
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    d.feed(lq.encode_sample(100, 5), T0)
    # 70 s later (more than two 32 s wraps) the counter reads 100 + 64.
    s = d.feed(lq.encode_sample(164, 5), T0 + 64 / 2048 + 2 * 32.0)
    assert len(s) == 1
    assert s[0].t_s - T0 == pytest.approx(64 / 2048 + 2 * 32.0, abs=1e-6)
    assert d.stats.wraps == 2


def test_duplicates_and_out_of_order_packets_are_dropped():
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    out = feed_ticks(d, [1000, 1032, 1032, 1000, 1064])
    assert len(out) == 3
    assert d.stats.duplicates == 2
    assert [round((s.t_s - T0) * 2048) for s in out] == [0, 32, 64]


@pytest.mark.parametrize("payload", [b"", b"\x01", bytes(4), bytes(6), bytes(20), bytes([0, 0, 0, 0, 200])])
def test_garbage_is_counted_logged_and_never_raises(payload, caplog):
    d = lq.LAERDAL_QCPR.new_decoder()
    with caplog.at_level(logging.WARNING, logger="manikin.protocols.laerdal-qcpr"):
        assert d.feed(payload, T0) == []
    assert d.stats.malformed == 1 and d.stats.decoded == 0
    assert "malformed packet" in caplog.text


def test_garbage_between_good_samples_does_not_disturb_them():
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    out = []
    out += d.feed(lq.encode_sample(0, 10), T0)
    out += d.feed(b"\xde\xad\xbe\xef", T0 + 0.01)
    out += d.feed(lq.encode_sample(32, 11), T0 + 0.02)
    assert [s.depth_mm for s in out] == [10, 11]
    assert d.stats.malformed == 1 and d.stats.lost == 0


def test_tick_length_is_calibrated_against_the_host_clock():
    true_tick = 1 / 2048 * 1.002  # the device crystal runs 0.2 % slow
    d = lq.LAERDAL_QCPR.new_decoder()
    ticks = 40000
    out = []
    for i in range(1500):  # ~23 s, wraps once
        jitter = ((i * 7919) % 13) * 0.001  # deterministic 0..12 ms delivery delay
        out += d.feed(lq.encode_sample(ticks, 30), T0 + i * 32 * true_tick + jitter)
        ticks = (ticks + 32) % 0x10000
    assert d.stats.calibrations > 0
    assert d.tick_s == pytest.approx(true_tick, rel=2e-4)
    assert all(b.t_s > a.t_s for a, b in zip(out, out[1:]))  # re-anchoring keeps time monotonic


def test_calibration_outside_sanity_bounds_keeps_nominal(caplog):
    d = lq.LAERDAL_QCPR.new_decoder()
    with caplog.at_level(logging.WARNING):
        for i in range(600):  # host says each 32-tick step takes 5 x longer than nominal
            d.feed(lq.encode_sample(32 * i, 30), T0 + i * STEP_S * 5)
    assert d.stats.calibration_rejected > 0
    assert d.tick_s == lq.NOMINAL_TICK_S


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 0xFFFF), st.lists(st.integers(1, 40), min_size=1, max_size=300))
def test_unwrapped_time_matches_cumulative_ticks(start, gaps):
    """For any start value and any gaps (in samples), time advances by exactly the ticks."""
    d = lq.LAERDAL_QCPR.new_decoder(calibrate=False)
    ticks, host, out = start, T0, []
    out += d.feed(lq.encode_sample(ticks, 1), host)
    total = 0
    for g in gaps:
        ticks = (ticks + 32 * g) % 0x10000
        host += 32 * g / 2048
        total += 32 * g
        out += d.feed(lq.encode_sample(ticks, 1), host)
    assert len(out) == len(gaps) + 1
    assert (out[-1].t_s - T0) * 2048 == pytest.approx(total, abs=1e-3)
    assert d.stats.lost == sum(g - 1 for g in gaps)


# -- open-manikin ----------------------------------------------------------------------------


def test_crc_check_value():
    assert om.crc16_ccitt_false(b"123456789") == 0x29B1


def test_open_manikin_packet_roundtrip_with_optional_fields():
    pkt = om.encode_packet(7, 123456, 52.3, volume_ml=480, hand_position=2)
    assert len(pkt) == 15 and pkt[0] == 1 and pkt[1] == 0x03
    parsed = om.parse_packet(pkt)
    assert parsed == {"seq": 7, "timestamp_ms": 123456, "depth_mm": 52.3, "volume_ml": 480, "hand_position": 2}
    minimal = om.encode_packet(8, 123466, 0)
    assert len(minimal) == 12 and om.parse_packet(minimal)["volume_ml"] is None


def test_open_manikin_hand_built_bytes():
    body = bytes([1, 0, 0x02, 0x00, 0xE8, 0x03, 0, 0, 0x0D, 0x02])  # seq 2, t 1000 ms, 52.5 mm
    pkt = body + om.crc16_ccitt_false(body).to_bytes(2, "little")
    d = om.OPEN_MANIKIN.new_decoder()
    (s,) = d.feed(pkt, T0)
    assert s == (T0, 52.5, None)


def test_open_manikin_decoder_times_volume_and_lost():
    d = om.OPEN_MANIKIN.new_decoder(calibrate=False)
    out = []
    for i, seq in enumerate([0xFFFE, 0xFFFF, 0, 3]):  # seq wraps, then 2 packets lost
        ts = 4_294_967_000 + 10 * (i if seq != 3 else 5)  # ms clock wraps too
        out += d.feed(om.encode_packet(seq, ts, 40.0 + i, volume_ml=300 + i, hand_position=0), T0 + 0.01 * i)
    assert [round((s.t_s - T0) * 1000) for s in out] == [0, 10, 20, 50]
    assert [s.volume_ml for s in out] == [300, 301, 302, 303]
    assert d.stats.lost == 2 and d.last_hand_position == "correct"


@pytest.mark.parametrize("mutate", [
    lambda p: p[:-1] + bytes([p[-1] ^ 0xFF]),  # CRC
    lambda p: bytes([2]) + p[1:],  # version
    lambda p: p[:5],  # truncated
    lambda p: p + b"\x00",  # trailing byte
    lambda p: bytes([1, 0x80]) + p[2:],  # unknown flag
])
def test_open_manikin_malformed_packets(mutate):
    d = om.OPEN_MANIKIN.new_decoder()
    assert d.feed(mutate(om.encode_packet(1, 1000, 30.0)), T0) == []
    assert d.stats.malformed == 1


def test_open_manikin_duplicate_seq_is_dropped():
    d = om.OPEN_MANIKIN.new_decoder()
    pkt = om.encode_packet(5, 1000, 30.0)
    assert len(d.feed(pkt, T0)) == 1
    assert d.feed(pkt, T0 + 0.01) == []
    assert d.stats.duplicates == 1


def test_open_manikin_startup_and_writes():
    spec = om.OPEN_MANIKIN
    assert [type(s).__name__ for s in spec.startup] == ["Subscribe", "Write"]
    assert spec.startup[1].data == b"\x01" and spec.stop[0].data == b"\x00"
    with pytest.raises(ForbiddenWriteError):
        spec.check_write(om.DATA_CHAR)
