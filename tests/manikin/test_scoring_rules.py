"""Scoring rules of issue 10: the zero level, a compression cut by the stop, incomplete attempts,
the stored score and verdicts at the precision they are shown (lms/numbers.py)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms import numbers
from manikin.scoring import StreamScorer, load_standard, score_trace
from manikin.scoring import results as results_mod
from manikin.scoring import stream as stream_mod
from manikin.scoring.results import compression_dicts, derive, floor_to, half_up
from manikin.simulator import NOISY, simulate


def stream(t, x, chunk=17, standard=None):
    s = StreamScorer(standard)
    for a in range(0, len(t), chunk):
        s.feed(t[a:a + chunk], x[a:a + chunk])
    return s


# -- zero level ---------------------------------------------------------------------------------
@pytest.mark.parametrize("noisy", [False, True])
def test_hands_resting_in_the_pauses_do_not_make_the_compressions_shallow(noisy):
    tr = simulate("hands_resting", duration_s=120.0, seed=11, **(NOISY if noisy else {}))
    T = tr.truth
    # the simulated hands do press the chest in every pause (2-4 mm) ...
    for p in T.pauses:
        mid = (tr.t_s > p["t_start"] + 1.0) & (tr.t_s < p["t_end"] - 0.3)
        assert np.mean(tr.depth_mm[mid]) - T.rest_mm > 1.5
    res = score_trace(tr.t_s, tr.depth_mm)
    # ... yet the zero level is the chest at rest, so depths are true (the pause level gave ~2 mm too shallow)
    assert abs(res.summary["mean_depth_mm"] - float(np.mean(T.depth_mm))) < 0.5
    for cyc in res.summary["cycles"]:
        assert abs(cyc["rest_mm"] - T.rest_mm) < 0.6
    assert stream(tr.t_s, tr.depth_mm).finish().to_dict() == res.to_dict()


def test_a_trainee_who_never_releases_still_shows_leaning():
    """Leaning on every compression, hands pressing at the leaning level in every pause: only the level
    before the first compression is the chest at rest, and it stays the reference."""
    tr = simulate("leaning", duration_s=120.0, seed=12, lean_mm=8.0, lean_sd_mm=0.5, lean_fraction=1.0,
                  pause_hands_mm=(8.0, 8.5), pause_drift_mm=0.0, lead_in_hands=False)
    res = score_trace(tr.t_s, tr.depth_mm)
    rec = res.arrays["recoil_mm"]
    assert np.mean(rec > 5.0) > 0.9
    assert res.summary["pct_recoil_ok"] < 10
    assert abs(res.summary["mean_depth_mm"] - float(np.mean(tr.truth.depth_mm))) < 0.5
    assert stream(tr.t_s, tr.depth_mm).finish().to_dict() == res.to_dict()


# -- a compression cut by the stop ---------------------------------------------------------------
def _cut_cases():
    tr = simulate("good", duration_s=40.0, rate_hz=100.0, seed=3)
    T, t, x = tr.truth, tr.t_s, tr.depth_mm
    k = 40                                    # a compression inside the second cycle
    assert T.cycle[k] == T.cycle[k + 1] == T.cycle[k - 1]
    tp, te = T.t_peak[k], T.t_end[k]
    rest = T.rest_mm
    after = (t > tp) & (t < te)
    cases = {
        # before the peak is confirmed (fallen less than 10 mm from the top)
        "at_peak": int(np.flatnonzero(t >= tp)[0]),
        # after the peak, half way down
        "half_released": int(np.flatnonzero(after & (x < rest + T.depth_mm[k] / 2))[0]),
        # nearly released (4 mm above rest) but the chest not yet seen at rest
        "nearly_released": int(np.flatnonzero(after & (x <= rest + 4.0))[0]),
    }
    return tr, k, cases


@pytest.mark.parametrize("case", ["at_peak", "half_released", "nearly_released"])
def test_a_compression_cut_by_the_stop_is_not_scored(case):
    tr, k, cases = _cut_cases()
    end = cases[case] + 1
    t, x = tr.t_s[:end], tr.depth_mm[:end]
    res = score_trace(t, x)
    assert res.count == k                      # compressions 0..k-1; the cut one is left out
    assert np.allclose(res.arrays["t_peak"], tr.truth.t_peak[:k], atol=0.05)
    assert res.summary["pct_recoil_ok"] == 100.0
    assert all(c["recoil_ok"] for c in res.to_dict()["compressions"])
    assert stream(t, x, chunk=7).finish().to_dict() == res.to_dict()


def test_a_last_compression_seen_released_is_scored():
    tr, k, _ = _cut_cases()
    t_end = tr.truth.t_end[k]
    # a recording stopped while the trainee holds the chest released after the last compression
    t = tr.t_s[tr.t_s <= t_end + 0.05]
    x = tr.depth_mm[:t.shape[0]]
    rest = np.full(30, x[-1])
    t = np.concatenate([t, t[-1] + 0.01 * np.arange(1, 31)])
    x = np.concatenate([x, rest])
    res = score_trace(t, x)
    assert res.count == k + 1
    assert res.to_dict()["compressions"][-1]["recoil_ok"]
    assert stream(t, x).finish().to_dict() == res.to_dict()


# -- incomplete attempts ------------------------------------------------------------------------
def test_three_of_five_cycles_is_incomplete_and_does_not_pass():
    tr = simulate("good", duration_s=68.0, seed=1, **NOISY)
    d = score_trace(tr.t_s, tr.depth_mm).to_dict()
    assert [cy["count"] for cy in d["cycles"]][:3] == [30, 30, 30]
    assert all(cy["count"] < 21 for cy in d["cycles"][3:])   # a 4th cycle begun, not completed
    assert d["cycles_expected"] == 5 and d["cycles_done"] == 3 and d["complete"] is False
    assert d["score"] >= 80.0                       # the score is still computed and shown
    assert d["passed"] is False
    assert d["feedback"][0] == {"code": "attempt_incomplete",
                                "message": "未完成规定的 5 个循环（完成 3 个），本次不合格"}
    assert len(d["feedback"]) <= 4
    # a standard without a fixed number of cycles has no such rule
    a = score_trace(tr.t_s, tr.depth_mm, standard="aha-2020").to_dict()
    assert a["cycles_expected"] is None and a["complete"] is True and a["passed"] is True


def test_five_of_five_cycles_can_pass():
    tr = simulate("good", duration_s=120.0, seed=1, **NOISY)
    d = score_trace(tr.t_s, tr.depth_mm).to_dict()
    assert d["cycles_done"] >= 5 and d["complete"] is True
    assert d["passed"] is True and d["feedback"][0]["code"] != "attempt_incomplete"


@pytest.mark.parametrize("per_cycle, done", [(21, 5), (20, 0)])
def test_a_completed_cycle_needs_21_of_30_compressions(per_cycle, done):
    std = load_standard()
    assert results_mod.cycle_min_compressions(std) == 21
    tr = simulate("good", duration_s=200.0, seed=2, compressions_per_cycle=per_cycle)
    d = score_trace(tr.t_s, tr.depth_mm).to_dict()
    full = [cy for cy in d["cycles"] if cy["count"] == per_cycle]
    assert len(full) >= 5
    assert d["cycles_done"] == (len(full) if done else 0)
    assert d["complete"] is (done > 0)


def test_the_running_summary_counts_cycles_and_elapsed_time():
    tr = simulate("good", duration_s=68.0, seed=1)
    s = StreamScorer()
    seen = []
    for a in range(0, tr.t_s.shape[0], 10):
        up = s.feed(tr.t_s[a:a + 10], tr.depth_mm[a:a + 10])
        sm = up.summary
        assert sm["cycles_expected"] == 5
        assert sm["duration_s"] == pytest.approx(float(tr.t_s[min(a + 9, tr.t_s.shape[0] - 1)] - tr.t_s[0]),
                                                 abs=1e-3)
        seen.append(sm["cycles_done"])
    assert seen == sorted(seen) and seen[-1] == 3 and {0, 1, 2, 3} <= set(seen)
    assert sm["complete"] is False
    fin = s.finish().to_dict()
    assert fin["cycles_done"] == sm["cycles_done"] and fin["score"] == sm["score"]


# -- the stored score ---------------------------------------------------------------------------
@pytest.mark.parametrize("raw, stored, passed", [(79.95, 79.9, False), (79.99999, 79.9, False),
                                                 (80.0, 80.0, True), (80.04, 80.0, True)])
def test_score_is_stored_rounded_down_and_judged_on_that(monkeypatch, raw, stored, passed):
    tr = simulate("good", duration_s=120.0, seed=1)
    monkeypatch.setattr(results_mod, "total_score", lambda std, comp: raw)
    monkeypatch.setattr(stream_mod, "total_score", lambda std, comp: raw)
    d = score_trace(tr.t_s, tr.depth_mm).to_dict()
    assert d["score"] == stored and d["passed"] is passed
    assert numbers.score(d["score"]) == numbers.score(raw) == f"{stored:.1f}"
    s = stream(tr.t_s, tr.depth_mm)
    assert s.summary["score"] == stored
    assert s.finish().to_dict() == d


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=100, allow_nan=False), st.sampled_from([0, 1, 3]))
def test_floor_and_half_up_are_those_of_lms_numbers(v, nd):
    assert floor_to(v, nd) == numbers.floor_to(v, nd)
    assert floor_to(v, 0, 100) == numbers.floor_to(v, 0, scale=100)
    assert half_up(v, nd) == numbers.half_up(v, nd)
    assert float(half_up(np.array([v]), nd)[0]) == numbers.half_up(v, nd)


# -- verdicts at the displayed precision ---------------------------------------------------------
def _one(depth=55.0, recoil=0.0, interval=None):
    std = load_standard()
    g = {"peak_level": np.array([depth]), "valley_level": np.array([recoil]),
         "t_start": np.array([0.0]), "t_peak": np.array([1.0]), "t_end": np.array([1.2])}
    prev = np.array([np.nan if interval is None else 1.0 - interval])
    c = derive(std, g, np.array([0.0]), prev)
    c["rest_mm"] = np.zeros(1)
    return c, compression_dicts(c)[0]


@pytest.mark.parametrize("depth, shown, ok", [
    # the float 49.95 is 49.950000000000003: shown "50.0" half up, so it is in the band
    (49.95, "50.0", True), (49.949, "49.9", False), (49.94999, "49.9", False),
    (60.04, "60.0", True), (60.05, "60.1", False)])
def test_depth_verdict_agrees_with_the_shown_depth(depth, shown, ok):
    c, d = _one(depth=depth)
    assert numbers.depth(depth) == numbers.depth(d["depth_mm"]) == shown
    assert d["depth_ok"] is ok


def test_rate_verdict_agrees_with_the_shown_rate():
    # 99.5/min: shown as 100 (half up), so it is in the 100-120 band; 99.49/min reads 99 and is not
    for rate, shown, ok in [(99.5, "100", True), (99.49, "99", False), (120.49, "120", True),
                            (120.5, "121", False)]:
        interval = 60.0 / rate
        r = 60.0 / interval
        c, d = _one(interval=interval)
        assert numbers.rate(r) == numbers.rate(d["rate_cpm"]) == shown, rate
        assert d["rate_ok"] is ok, rate


@settings(max_examples=300, deadline=None)
@given(depth=st.floats(30, 80), recoil=st.floats(0, 12), rate=st.floats(80, 140))
def test_every_verdict_matches_its_shown_value(depth, recoil, rate):
    std = load_standard()
    c, d = _one(depth=depth, recoil=recoil, interval=60.0 / rate)
    shown_depth = float(numbers.depth(d["depth_mm"]))
    assert numbers.depth(d["depth_mm"]) == numbers.depth(c["depth_mm"][0])
    assert d["depth_ok"] == (std.depth_min_mm <= shown_depth <= std.depth_max_mm)
    assert numbers.depth(d["recoil_mm"]) == numbers.depth(c["recoil_mm"][0])
    assert d["recoil_ok"] == (float(numbers.depth(d["recoil_mm"])) <= std.recoil_max_mm)
    assert numbers.rate(d["rate_cpm"]) == numbers.rate(c["rate_cpm"][0])
    assert d["rate_ok"] == (std.rate_min_cpm <= float(numbers.rate(d["rate_cpm"])) <= std.rate_max_cpm)


def test_summary_and_feedback_numbers_are_in_the_display_formats():
    tr = simulate("shallow", duration_s=120.0, seed=5, depth_mm=46.0, rate_cpm=96.0)
    res = score_trace(tr.t_s, tr.depth_mm, standard="aha-2020")
    d, a = res.to_dict(), res.arrays
    raw_depth = float(np.mean(a["depth_mm"]))
    raw_rate = float(np.mean(a["rate_cpm"][a["has_rate"]]))
    assert d["mean_depth_mm"] == numbers.half_up(raw_depth, 1)
    assert d["mean_rate_cpm"] == numbers.half_up(raw_rate, 0)
    assert numbers.percent(d["ccf"]).endswith("%") and 0 <= d["ccf"] <= 1
    assert d["pct_depth_ok"] == numbers.floor_to(100.0 * np.mean(a["depth_ok"]), 1)
    msgs = {f["code"]: f["message"] for f in d["feedback"]}
    assert f"平均 {numbers.depth(raw_depth)} mm" in msgs["depth_shallow"]
    bad = numbers.floor_to(100.0 * np.mean(~a["depth_ok"]), 0)
    assert f"{bad:.0f}% 的按压未达到 50–60 mm" in msgs["depth_shallow"]
    assert f"平均 {numbers.rate(raw_rate)} 次/分" in msgs["rate_slow"]


def test_ccf_and_pause_feedback_formats():
    tr = simulate("pauses", duration_s=120.0, seed=3, **NOISY)
    res = score_trace(tr.t_s, tr.depth_mm)
    d = res.to_dict()
    msgs = {f["code"]: f["message"] for f in d["feedback"]}
    assert f"按压时间占比 {numbers.percent(d['ccf'])}，应不低于 80%" in msgs["ccf_low"]
    longest = max(p["duration_s"] for p in d["pauses"])
    assert d["longest_pause_s"] == pytest.approx(longest, abs=0.051)
    assert f"最长中断 {d['longest_pause_s']:.1f} 秒" in msgs["pause_too_long"]
    a = res.arrays
    gaps = a["t_start"][1:] - a["t_end"][:-1]
    raw_ccf = 1.0 - float(gaps[gaps > 2.0].sum()) / float(a["t_end"][-1] - a["t_start"][0])
    assert d["ccf"] == numbers.floor_to(raw_ccf, 3)            # a 0..1 fraction, rounded down
    assert numbers.percent(d["ccf"]) == numbers.percent(raw_ccf) == f"{math.floor(raw_ccf * 100)}%"


def test_two_peaks_at_one_instant_give_no_rate_rather_than_an_infinite_one():
    """Repeated timestamps (a device repeating a time, a clock step) must not make a rate of ∞ per minute:
    that compression gets no rate, the others are judged as usual."""
    std = load_standard("crc-first-aider-2024")
    g = {"t_start": np.array([0.0, 0.4, 0.4]), "t_peak": np.array([0.2, 0.7, 0.7]),
         "t_end": np.array([0.4, 0.9, 0.9]), "peak_level": np.array([55.0, 55.0, 55.0]),
         "valley_level": np.array([0.0, 0.0, 0.0])}
    c = derive(std, g, np.zeros(3), np.array([np.nan, 0.2, 0.7]))
    assert c["has_rate"].tolist() == [False, True, False]
    assert c["rate_cpm"][1] == pytest.approx(120.0) and np.isnan(c["rate_cpm"][2])
    assert not c["rate_ok"][2] and np.isfinite(c["q"]).all()
