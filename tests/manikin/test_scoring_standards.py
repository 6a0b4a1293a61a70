"""Standards as data, the score formula and the feedback."""

import json

import numpy as np
import pytest

from manikin.scoring import (DEFAULT_STANDARD_ID, SessionResult, Standard, StandardError,
                             TraceError, list_standards, load_standard, score_trace)
from manikin.scoring.results import derive
from manikin.scoring.standards import STANDARDS_DIR
from manikin.simulator import NOISY, simulate


def test_shipped_standards_load_and_round_trip():
    ids = list_standards()
    assert ids[0] == DEFAULT_STANDARD_ID == "crc-first-aider-2024"
    assert {"crc-first-aider-2024", "aha-2020", "erc-2021"} <= set(ids)
    for sid in ids:
        std = load_standard(sid)
        raw = json.loads((STANDARDS_DIR / f"{sid}.json").read_text(encoding="utf-8"))
        assert std.to_dict() == Standard.from_dict(raw).to_dict()
        assert Standard.from_dict(std.to_dict()) == std
        assert std.sources and std.name and std.name_en and std.version
        assert std.depth_min_mm == 50 and std.depth_max_mm == 60
        assert std.rate_min_cpm == 100 and std.rate_max_cpm == 120
        assert std.pause_threshold_s == 2.0
    crc = load_standard(DEFAULT_STANDARD_ID)
    assert crc.cycles_expected == 5 and crc.compressions_per_cycle == 30 and crc.breaths_per_cycle == 2
    assert any("\u4e00" <= ch <= "\u9fff" for ch in crc.name)


@pytest.mark.parametrize("change, msg", [
    ({"depth_min_mm": 70.0}, "smaller"),
    ({"rate_max_cpm": "fast"}, "number"),
    ({"bogus_key": 1}, "unknown"),
    ({"weights": {"compressions": -1}}, "weight"),
    ({"weights": {"depth": 1}}, "weight"),
    ({"pass_score": 120}, "pass_score"),
    ({"cycles_expected": 0}, "cycles_expected"),
])
def test_invalid_standards_are_rejected(change, msg):
    d = load_standard("aha-2020").to_dict()
    d.update(change)
    with pytest.raises(StandardError, match=msg):
        Standard.from_dict(d)
    d = load_standard("aha-2020").to_dict()
    del d["depth_min_mm"]
    with pytest.raises(StandardError, match="missing"):
        Standard.from_dict(d)


def test_unknown_standard_id():
    with pytest.raises(StandardError, match="unknown standard"):
        load_standard("does-not-exist")
    with pytest.raises(StandardError):
        load_standard("../standards")


def test_edited_standard_as_dict_changes_the_result():
    tr = simulate("shallow", duration_s=40.0, seed=1)
    d = load_standard().to_dict()
    d.update(id="lenient", depth_min_mm=35.0)
    strict = score_trace(tr.t_s, tr.depth_mm)
    lenient = score_trace(tr.t_s, tr.depth_mm, standard=d)
    assert lenient.summary["standard"] == "lenient"
    assert lenient.summary["pct_depth_ok"] > strict.summary["pct_depth_ok"]
    assert lenient.summary["score"] > strict.summary["score"]


def _one(depth):
    std = load_standard()
    g = {"peak_level": np.array([depth]), "valley_level": np.array([0.0]),
         "t_start": np.array([0.0]), "t_peak": np.array([0.25]), "t_end": np.array([0.5])}
    return derive(std, g, np.array([0.0]), np.array([np.nan]))


def test_score_is_not_binary():
    assert _one(55.0)["s_depth"][0] == 1.0
    s49, s35, s20 = _one(49.0)["s_depth"][0], _one(35.0)["s_depth"][0], _one(20.0)["s_depth"][0]
    assert 1.0 > s49 > s35 > s20 >= 0.0
    assert s49 > 0.9 and s35 < 0.5
    a = score_trace(*_session(49.0))
    b = score_trace(*_session(35.0))
    assert a.summary["pct_depth_ok"] == b.summary["pct_depth_ok"] == 0.0
    assert a.summary["score"] > b.summary["score"] + 10


def _session(depth):
    tr = simulate("good", duration_s=60.0, seed=2, depth_mm=depth, depth_sd_mm=0.0)
    return tr.t_s, tr.depth_mm


def test_good_cpr_passes_with_good_feedback():
    tr = simulate("good", duration_s=120.0, seed=1, **NOISY)
    res = score_trace(tr.t_s, tr.depth_mm)
    assert isinstance(res, SessionResult)
    assert res.summary["passed"] and res.summary["score"] >= 90
    assert [f["code"] for f in res.summary["feedback"]] == ["good"]
    assert len(res.summary["cycles"]) >= 5
    assert [cy["count"] for cy in res.summary["cycles"][:5]] == [30] * 5
    json.dumps(res.to_dict())


@pytest.mark.parametrize("profile, code", [
    ("shallow", "depth_shallow"), ("deep", "depth_deep"), ("fast", "rate_fast"),
    ("slow", "rate_slow"), ("leaning", "recoil_incomplete"), ("pauses", "pause_too_long"),
])
def test_feedback_names_the_main_correction(profile, code):
    tr = simulate(profile, duration_s=120.0, seed=3, **NOISY)
    res = score_trace(tr.t_s, tr.depth_mm)
    fb = res.summary["feedback"]
    assert 1 <= len(fb) <= 4
    # an attempt with fewer than 5 cycles says so first; the main correction follows
    codes = [f["code"] for f in fb if f["code"] != "attempt_incomplete"]
    assert code in codes[:2], codes
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in f["message"]) for f in fb)
    assert not res.summary["passed"] or profile in ("deep",)


def test_feedback_messages_in_chinese():
    tr = simulate("shallow", duration_s=60.0, seed=3)
    fb = score_trace(tr.t_s, tr.depth_mm).summary["feedback"]
    # 60 s holds 3 of the 5 cycles the CRC standard requires: that comes first
    assert fb[0]["message"].startswith("未完成规定的 5 个循环")
    assert fb[1]["message"].startswith("按压深度不足")
    fb = score_trace(tr.t_s, tr.depth_mm, standard="aha-2020").summary["feedback"]
    assert fb[0]["message"].startswith("按压深度不足")
    tr = simulate("leaning", duration_s=60.0, seed=3)
    fb = score_trace(tr.t_s, tr.depth_mm, standard="aha-2020").summary["feedback"]
    assert fb[0]["message"].startswith("按压后胸廓未充分回弹")
    tr = simulate("pauses", duration_s=120.0, seed=3)
    msgs = [f["message"] for f in score_trace(tr.t_s, tr.depth_mm).summary["feedback"]]
    assert any(m.startswith("中断时间过长") for m in msgs)


def test_ventilation_channel():
    tr = simulate("ventilation", duration_s=120.0, seed=2, **NOISY)
    res = score_trace(tr.t_s, tr.depth_mm, tr.volume_ml)
    b = res.summary["breaths"]
    assert b["count"] == len(tr.truth.breath_volumes_ml)
    assert np.allclose(b["volumes_ml"], tr.truth.breath_volumes_ml, atol=15)
    assert b["per_cycle"][:-1] == [2] * (len(b["per_cycle"]) - 1)
    weak = simulate("ventilation", duration_s=120.0, seed=2, breath_volume_ml=250.0)
    res2 = score_trace(weak.t_s, weak.depth_mm, weak.volume_ml)
    assert "breath_volume_low" in [f["code"] for f in res2.summary["feedback"]]
    assert res2.summary["score"] < res.summary["score"]


def test_no_compressions_is_a_valid_failing_result():
    t = np.arange(0, 10, 0.01)
    res = score_trace(t, np.ones_like(t) * 2)
    d = res.to_dict()
    assert d["count"] == 0 and d["score"] == 0 and not d["passed"]
    assert d["cycles_done"] == 0 and d["complete"] is False
    assert [f["code"] for f in d["feedback"]] == ["attempt_incomplete", "no_compressions"]
    d = score_trace(t, np.ones_like(t) * 2, standard="aha-2020").to_dict()
    assert d["complete"] is True and d["cycles_expected"] is None and not d["passed"]
    assert [f["code"] for f in d["feedback"]] == ["no_compressions"]
    json.dumps(d)


@pytest.mark.parametrize("args, msg", [
    (([], []), "empty"),
    (([0, 1, 2], [1, 2]), "length"),
    (([0, 1, 0.5], [1, 2, 3]), "backwards"),
    (([0, 1, 2], [1, float("nan"), 3]), "NaN"),
    (([0, 1, 2], ["a", "b", "c"]), "number"),
])
def test_trace_errors(args, msg):
    with pytest.raises(TraceError, match=msg):
        score_trace(*args)
    assert issubclass(TraceError, ValueError)


def test_accepts_lists_and_irregular_sampling():
    tr = simulate("good", duration_s=30.0, rate_hz=60.0, seed=5, jitter=0.3, loss=0.1)
    a = score_trace(tr.t_s.tolist(), tr.depth_mm.tolist()).to_dict()
    b = score_trace(tr.t_s, tr.depth_mm).to_dict()
    assert a == b and a["count"] > 30
