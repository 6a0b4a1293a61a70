"""The trace simulator and its ground truth."""

import numpy as np
import pytest

from manikin.simulator import CLEAN, NOISY, PROFILES, SimTrace, simulate, simulate_chunks


def test_required_profiles_exist():
    assert {"good", "shallow", "fast", "leaning", "pauses"} <= set(PROFILES)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_simulates(profile):
    tr = simulate(profile, duration_s=60.0, rate_hz=100.0, seed=1)
    assert isinstance(tr, SimTrace)
    assert tr.t_s.shape == tr.depth_mm.shape
    assert np.all(np.diff(tr.t_s) > 0)
    T = tr.truth
    assert T.count > 30
    assert np.all(T.t_start < T.t_peak) and np.all(T.t_peak < T.t_end)
    assert np.all(T.t_end[:-1] <= T.t_start[1:] + 1e-9)
    assert 0 < T.ccf <= 1
    assert (tr.volume_ml is not None) == PROFILES[profile].ventilation


def test_deterministic_and_seeded():
    a = simulate("erratic", seed=3, **NOISY)
    b = simulate("erratic", seed=3, **NOISY)
    c = simulate("erratic", seed=4, **NOISY)
    assert np.array_equal(a.depth_mm, b.depth_mm) and np.array_equal(a.t_s, b.t_s)
    assert not np.array_equal(a.t_s, c.t_s)
    simulate("good", seed=None, duration_s=5.0)


def test_sensor_effects():
    clean = simulate("good", duration_s=30.0, rate_hz=100.0, seed=2, **CLEAN)
    noisy = simulate("good", duration_s=30.0, rate_hz=100.0, seed=2, **NOISY)
    q = simulate("good", duration_s=30.0, rate_hz=50.0, seed=2)
    assert np.allclose(np.diff(clean.t_s), 0.01)
    assert noisy.t_s.shape[0] < clean.t_s.shape[0]          # lost samples
    assert np.std(np.diff(noisy.t_s)) > 0                     # jitter
    assert np.array_equal(q.depth_mm, np.round(q.depth_mm))  # 1 mm quantisation
    assert q.t_s.shape[0] == pytest.approx(30 * 50, abs=2)
    # resting offset before the first compression
    lead = q.depth_mm[q.t_s < q.truth.t_start[0] - 0.1]
    assert abs(lead.mean() - q.truth.rest_mm) < 0.6


def test_truth_pauses_and_cycles():
    tr = simulate("pauses", duration_s=120.0, seed=1)
    T = tr.truth
    assert len(T.pauses) >= 3
    assert max(p["duration_s"] for p in T.pauses) > 10
    total = sum(p["duration_s"] for p in T.pauses)
    assert T.ccf == pytest.approx(1 - total / (T.t_end[-1] - T.t_start[0]))
    assert np.isnan(T.rate_cpm[0])
    assert len(T.compressions()) == T.count


def test_overrides_and_errors():
    tr = simulate("good", duration_s=30.0, seed=1, rate_cpm=140.0, depth_mm=40.0, depth_sd_mm=0.0)
    assert abs(tr.truth.mean_rate_cpm - 140) < 3
    assert np.allclose(tr.truth.depth_mm, 40.0, atol=0.1 + 40 * 0.0)
    with pytest.raises(ValueError, match="unknown profile"):
        simulate("nope")
    with pytest.raises(ValueError, match="unknown simulator parameters"):
        simulate("good", bogus=1)


def test_long_traces_and_chunks():
    tr = simulate("good", duration_s=900.0, rate_hz=100.0, seed=1, **NOISY)
    assert tr.t_s[-1] > 899 and tr.truth.count > 1000
    chunks = list(simulate_chunks("good", duration_s=30.0, seed=1, chunk=25))
    assert all(len(c[0]) <= 25 for c in chunks)
    whole = simulate("good", duration_s=30.0, seed=1)
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), whole.depth_mm)


def test_csv_export():
    tr = simulate("ventilation", duration_s=10.0, seed=1)
    lines = tr.to_csv().splitlines()
    assert lines[0] == "t,depth_mm,volume_ml"
    assert len(lines) == tr.t_s.shape[0] + 1


def test_hands_resting_profile():
    tr = simulate("hands_resting", duration_s=90.0, rate_hz=100.0, seed=2, **CLEAN)
    T, t, x = tr.truth, tr.t_s, tr.depth_mm
    assert len(T.pauses) >= 3
    for p in T.pauses:                       # the hands press the chest 2-4 mm (+/- 1 mm drift)
        mid = (t > p["t_start"] + 0.7) & (t < p["t_end"] - 0.1)
        level = x[mid] - T.rest_mm
        assert 1.0 <= level.min() and level.max() <= 5.0
    lead = x[(t > 0.5) & (t < T.t_start[0] - 0.05)] - T.rest_mm
    assert lead.min() > 1.0                  # also before the first compression
    # between compressions the chest is fully released: the truth (and depth) is from the true rest
    assert np.all(T.recoil_mm == 0.0)
    off = simulate("hands_resting", duration_s=30.0, seed=2, lead_in_hands=False, **CLEAN)
    assert np.allclose(off.depth_mm[off.t_s < off.truth.t_start[0] - 0.05], off.truth.rest_mm)
