"""StreamScorer: same result as the batch scorer whatever the chunking."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manikin.scoring import StreamScorer, TraceError, score_trace
from manikin.simulator import NOISY, simulate

_TRACES = {}


def trace(profile, hz, seed, noisy):
    key = (profile, hz, seed, noisy)
    if key not in _TRACES:
        _TRACES[key] = simulate(profile, duration_s=40.0, rate_hz=hz, seed=seed,
                                **(NOISY if noisy else {}))
    return _TRACES[key]


def feed_all(tr, sizes):
    s = StreamScorer()
    emitted = []
    i, k, n = 0, 0, tr.t_s.shape[0]
    while i < n:
        m = sizes[k % len(sizes)]
        k += 1
        v = None if tr.volume_ml is None else tr.volume_ml[i:i + m]
        up = s.feed(tr.t_s[i:i + m], tr.depth_mm[i:i + m], v)
        emitted += up.compressions
        i += m
    return s, emitted


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=st.sampled_from(["good", "leaning", "pauses", "erratic", "ventilation", "fast",
                                "hands_resting"]),
       hz=st.sampled_from([50.0, 73.0, 100.0, 200.0]),
       seed=st.integers(0, 3),
       noisy=st.booleans(),
       sizes=st.lists(st.integers(1, 97), min_size=1, max_size=12))
def test_stream_equals_batch_whatever_the_chunking(profile, hz, seed, noisy, sizes):
    tr = trace(profile, hz, seed, noisy)
    batch = score_trace(tr.t_s, tr.depth_mm, tr.volume_ml).to_dict()
    s, emitted = feed_all(tr, sizes)
    final = s.finish().to_dict()
    assert final == batch
    # what was emitted early is exactly what the batch scorer finds
    assert emitted == batch["compressions"][:len(emitted)]
    assert len(emitted) >= len(batch["compressions"]) - 2


def test_compressions_are_emitted_before_the_next_peak():
    tr = simulate("good", duration_s=30.0, rate_hz=100.0, seed=1, **NOISY)
    s = StreamScorer()
    emitted_at = []
    for i in range(tr.t_s.shape[0]):
        up = s.feed(tr.t_s[i:i + 1], tr.depth_mm[i:i + 1])
        emitted_at += [float(tr.t_s[i])] * len(up.compressions)
    res = s.finish()
    tp = res.arrays["t_peak"]
    assert len(emitted_at) >= res.count - 1
    for k, t_emit in enumerate(emitted_at[:-1]):
        assert t_emit < tp[k + 1], k


def test_running_summary():
    tr = simulate("shallow", duration_s=30.0, rate_hz=100.0, seed=2)
    s = StreamScorer()
    last = None
    for i in range(0, tr.t_s.shape[0], 25):
        up = s.feed(tr.t_s[i:i + 25], tr.depth_mm[i:i + 25])
        for key in ("count", "mean_depth_mm", "mean_rate_cpm", "pct_depth_ok", "pct_rate_ok",
                    "pct_recoil_ok", "ccf", "score", "last_depth_mm", "last_rate_cpm"):
            assert key in up.summary
        if up.compressions:
            assert up.summary["last_depth_mm"] == up.compressions[-1]["depth_mm"]
        last = up.summary
    assert last["count"] > 20
    assert 35 < last["mean_depth_mm"] < 47
    assert last["pct_depth_ok"] < 20
    res = s.finish()
    assert abs(res.summary["score"] - last["score"]) < 5


def test_stream_rejects_bad_chunks():
    s = StreamScorer()
    s.feed([0.0, 0.01], [1.0, 1.0])
    with pytest.raises(TraceError, match="backwards"):
        s.feed([0.005], [1.0])
    with pytest.raises(TraceError, match="volume"):
        s.feed([0.02], [1.0], [0.0])
    with pytest.raises(TraceError, match="NaN"):
        s.feed([0.03], [float("nan")])
    with pytest.raises(TraceError, match="empty"):
        StreamScorer().finish()


def test_empty_chunks_are_harmless():
    tr = simulate("good", duration_s=20.0, seed=3)
    s = StreamScorer()
    for i in range(0, tr.t_s.shape[0], 50):
        s.feed([], [])
        s.feed(tr.t_s[i:i + 50], tr.depth_mm[i:i + 50])
    assert s.finish().to_dict() == score_trace(tr.t_s, tr.depth_mm).to_dict()


def test_long_session_keeps_a_bounded_buffer():
    tr = simulate("good", duration_s=600.0, rate_hz=100.0, seed=4, **NOISY)
    s = StreamScorer()
    for i in range(0, tr.t_s.shape[0], 10):
        s.feed(tr.t_s[i:i + 10], tr.depth_mm[i:i + 10])
    assert s._cap <= 8192
    assert s.finish().to_dict() == score_trace(tr.t_s, tr.depth_mm).to_dict()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile=st.sampled_from(["good", "leaning", "hands_resting", "erratic"]),
       seed=st.integers(0, 3), noisy=st.booleans(), stop=st.floats(0.05, 1.0),
       chunk=st.integers(1, 40))
def test_stream_equals_batch_when_the_recording_stops_anywhere(profile, seed, noisy, stop, chunk):
    """Stopped at any sample (often in the middle of a compression): the same compressions are left
    out by both scorers."""
    tr = trace(profile, 100.0, seed, noisy)
    end = max(2, int(stop * tr.t_s.shape[0]))
    t, x = tr.t_s[:end], tr.depth_mm[:end]
    batch = score_trace(t, x).to_dict()
    s = StreamScorer()
    for a in range(0, end, chunk):
        s.feed(t[a:a + chunk], x[a:a + chunk])
    assert s.finish().to_dict() == batch
