"""The pure frame decoder: whatever a bridge sends, it returns a storable frame or a kept rejection."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manikin import frames as F

T0 = 1_763_900_000.0
GOOD = {"type": "samples", "seq": 7, "device": "f0:0d:00:00:00:01", "protocol": "laerdal-qcpr", "sent_at": T0,
        "t": [T0, T0 + 0.016], "depth_mm": [10.0, 52.5], "volume_ml": None, "lost": 2, "malformed": 1}


def test_a_good_frame_decodes_with_its_values():
    f = F.decode(json.dumps(GOOD))
    assert isinstance(f, F.Samples)
    assert (f.seq, f.device, f.lost, f.malformed, f.sent_at) == (7, "F0:0D:00:00:00:01", 2, 1, T0)
    assert f.t.tolist() == GOOD["t"] and f.depth_mm.tolist() == GOOD["depth_mm"] and f.volume_ml is None
    assert f.raw == json.dumps(GOOD).encode()


# Each of these once failed a whole group commit (or could not be stored) and closed other bridges.
POISON = [
    ({**GOOD, "seq": 2**63}, "bad_seq", None),
    ({**GOOD, "seq": 10**400}, "bad_json", None),  # more digits than Python parses: not valid JSON for us
    ({**GOOD, "seq": "12"}, "bad_seq", None),
    ({**GOOD, "seq": 1.5}, "bad_seq", None),
    ({**GOOD, "lost": 1e20}, "out_of_range", 7),
    ({**GOOD, "lost": 3e9}, "out_of_range", 7),
    ({**GOOD, "lost": -1}, "out_of_range", 7),
    ({**GOOD, "sent_at": int("9" * 400)}, "out_of_range", 7),
    ({**GOOD, "depth_mm": [10.0, 1e300]}, "out_of_range", 7),
    ({**GOOD, "t": [T0, 1e300]}, "out_of_range", 7),
    ({**GOOD, "t": [0.0, 0.016]}, "out_of_range", 7),  # not the bridge's epoch clock
    ({**GOOD, "volume_ml": [1e9, 1.0]}, "out_of_range", 7),
    ({**GOOD, "device": "F0\x00"}, "bad_frame", 7),
    ({**GOOD, "device": "x" * 65}, "bad_frame", 7),
    ({**GOOD, "protocol": "a\x00"}, "bad_frame", 7),
    ({**GOOD, "depth_mm": [[1.0], 2.0]}, "bad_frame", 7),
    ({**GOOD, "depth_mm": [True, 2.0]}, "bad_frame", 7),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming", "message": "a\x00b"}, "bad_frame", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming", "info": {"serial": "\x00"}}, "bad_frame", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming", "info": {"k": "v" * 5000}}, "bad_frame", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming",
      "info": {f"k{i}": "v" * 100 for i in range(40)}}, "bad_frame", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming", "info": {"a": {"b": 1}}}, "bad_frame", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming", "message": "m" * 300}, "bad_frame", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "streaming", "battery_pct": 1e20}, "out_of_range", 8),
    ({"type": "status", "seq": 8, "device": "A", "state": "dancing"}, "bad_frame", 8),
    ({"type": "hello", "bridge_id": "b\x00"}, "bad_frame", None),
    ({"type": "weird", "seq": 9}, "bad_type", 9),
]


@pytest.mark.parametrize("frame,code,seq", POISON, ids=lambda v: str(v)[:40] if isinstance(v, dict) else str(v))
def test_poison_values_are_rejected_with_a_reason_and_kept_verbatim(frame, code, seq):
    raw = json.dumps(frame) if "10000" not in str(frame.get("seq")) else json.dumps(frame).replace(
        str(frame["seq"]), "1" + "0" * 5000)
    out = F.decode(raw)
    assert isinstance(out, F.Rejected), out
    assert out.code == code and out.message
    assert out.seq == seq
    assert out.raw == raw.encode()


@pytest.mark.parametrize("raw", [
    "not json", "", "[1, 2]", "null", '"text"', "{", "[" * 100_000, '{"a":' * 50_000,
    '{"type": "samples", "seq": 1, "lost": Infinity}', '{"type": "samples", "seq": 1, "lost": NaN}',
    b"\xff\xfe\x00", '{"type": "samples", "device": "\\ud800"}',
])
def test_what_is_not_a_frame_is_rejected_not_raised(raw):
    out = F.decode(raw)
    assert isinstance(out, F.Rejected) and out.seq is None
    assert out.raw == (raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))


def test_an_oversized_message_is_rejected_before_parsing():
    raw = json.dumps({**GOOD, "padding": "x" * F.MAX_FRAME_BYTES})
    out = F.decode(raw)
    assert isinstance(out, F.Rejected) and out.code == "too_large" and len(out.raw) == len(raw)


def test_null_volume_items_are_kept_as_missing():
    f = F.decode(json.dumps({**GOOD, "volume_ml": [None, 480.0]}))
    assert isinstance(f, F.Samples) and math.isnan(f.volume_ml[0]) and f.volume_ml[1] == 480.0


def _storable(f) -> None:
    """Every value of a decoded frame fits its column: bigint, integer, real, text without NUL."""
    assert 1 <= f.seq <= 2**63 - 1
    assert "\x00" not in f.device and 0 < len(f.device) <= 64
    assert f.sent_at is None or F.EPOCH_MIN_S <= f.sent_at <= F.EPOCH_MAX_S
    if isinstance(f, F.Samples):
        assert 0 <= f.lost < 2**31 and 0 <= f.malformed < 2**31
        assert np.all(np.isfinite(f.t)) and np.all(np.isfinite(f.depth_mm.astype("<f4")))
        if f.volume_ml is not None:
            v = f.volume_ml[~np.isnan(f.volume_ml)]
            assert np.all(np.isfinite(v.astype("<f4")))
    else:
        json.dumps(f.as_dict(), allow_nan=False)
        assert "\x00" not in json.dumps(f.as_dict(), ensure_ascii=False)


numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([T0, T0 + 1, 0, 1, 50.0, 2**63, 2**31, 3e9, 1e300]))
texts = st.one_of(st.text(max_size=80), st.sampled_from(["F0:0D", "a\x00b", "", "x" * 70]))
leaf = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                    st.dictionaries(texts, inner, max_size=6)), max_leaves=20)
frame_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["samples", "status", "hello", "x", None])},
    optional={"seq": st.one_of(numbers, texts), "device": texts, "sent_at": values, "t": values,
              "depth_mm": values, "volume_ml": values, "lost": values, "malformed": values, "state": values,
              "battery_pct": values, "rssi_dbm": values, "info": values, "message": values,
              "bridge_id": texts, "clock": values, "protocol": values})


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(frame_like)
def test_fuzz_any_frame_shaped_object_decodes_or_is_rejected(obj):
    raw = json.dumps(obj)
    out = F.decode(raw)
    assert out.raw == raw.encode("utf-8", "surrogatepass")
    if isinstance(out, F.Rejected):
        assert out.code and out.message
        assert out.seq is None or 1 <= out.seq <= 2**63 - 1
    elif not isinstance(out, F.Hello):
        _storable(out)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_never_raise(raw):
    out = F.decode(raw)
    assert out.raw == raw


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=F.EPOCH_MIN_S, max_value=F.EPOCH_MAX_S), min_size=1, max_size=50),
       st.floats(min_value=F.DEPTH_RANGE_MM[0], max_value=F.DEPTH_RANGE_MM[1]))
def test_fuzz_in_range_samples_are_accepted(ts, depth):
    ts = sorted(ts)
    out = F.decode(json.dumps({**GOOD, "t": ts, "depth_mm": [depth] * len(ts)}))
    assert isinstance(out, F.Samples) and out.t.tolist() == ts
    _storable(out)
