"""Per-compression values, session aggregates, the score and the feedback.

Score (0-100, see docs/scoring.md): a weighted mean of component scores in
[0, 1]. Per compression, each of depth, rate and recoil gets a sub-score that
is 1 inside the standard's band and falls linearly to 0 at a distance set by
the standard (``depth_shallow_zero_mm``...), so a 49 mm compression costs
little and a 35 mm one a lot; the compression's quality is the product of its
three sub-scores (a compression is only good if it is good in every respect).
Components: mean compression quality, compression fraction, the longest
pause, the 30:2 cycle structure and, with a volume channel, ventilation. Components that do not apply (no cycles
expected, no volume channel) are left out and the weights renormalised.

The score is stored rounded down to 0.1 and ``passed`` is judged on that stored value, and only for a
complete attempt (``cycles_done >= cycles_expected`` when the standard sets it). Values are stored at the
precision they are shown (docs/scoring.md, "How numbers are shown"), and the per-compression verdicts
are judged at that precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from .standards import Standard

COMPRESSION_KEYS = ("t_start", "t_peak", "t_end", "depth_mm", "recoil_mm", "rate_cpm",
                    "depth_ok", "rate_ok", "recoil_ok")


def _band_score(v, lo, hi, zero_lo, zero_hi):
    """1 inside [lo, hi], linear to 0 at lo - zero_lo and hi + zero_hi."""
    below = np.clip(1.0 - (lo - v) / zero_lo, 0.0, 1.0)
    above = np.clip(1.0 - (v - hi) / zero_hi, 0.0, 1.0)
    return np.where(v < lo, below, np.where(v > hi, above, 1.0))


# -- numbers as shown (same arithmetic as lms/numbers.py, which the scorer does not import) --
def half_up(v, nd: int = 0):
    """Round half up at ``nd`` decimals: ``floor(v * 10**nd + 0.5) / 10**nd`` (numbers or arrays);
    how depth, recoil (one decimal) and rates (whole) are shown, and judged."""
    m = 10 ** nd
    if isinstance(v, np.ndarray):
        return np.floor(v * m + 0.5) / m
    return math.floor(v * m + 0.5) / m


def floor_to(v: float, nd: int = 0, scale: int = 1) -> float:
    """``v * scale`` rounded down at ``nd`` decimals, decimal-exact on the shortest
    representation of ``v`` (``lms.numbers.floor_to``): scores, percentages, CCF."""
    q = Decimal(1).scaleb(-nd)
    return float((Decimal(repr(float(v))) * scale).quantize(q, rounding=ROUND_FLOOR))


def derive(std: Standard, g: dict, rest, prev_tp) -> dict:
    """Depth, recoil, rate, flags and sub-scores; element-wise only, so one
    compression at a time gives the same numbers as all at once. The flags judge
    the values at the precision they are shown (depth and recoil half up to 0.1 mm,
    rate half up to a whole number per minute)."""
    depth = g["peak_level"] - rest
    recoil = np.maximum(g["valley_level"] - rest, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = 60.0 / (g["t_peak"] - prev_tp)
    # No rate without a previous peak (NaN), nor from an interval that is not positive (two peaks at one
    # instant: timestamps repeated by a device or a clock step), which would read as an infinite rate.
    has_rate = np.isfinite(rate) & (rate > 0)
    rate = np.where(has_rate, rate, np.nan)
    d1 = half_up(depth, 1)
    r1 = half_up(recoil, 1)
    q1 = half_up(np.where(has_rate, rate, 0.0), 0)
    c = {
        "t_start": g["t_start"], "t_peak": g["t_peak"], "t_end": g["t_end"],
        "depth_mm": depth, "recoil_mm": recoil, "rate_cpm": rate,
        "depth_ok": (d1 >= std.depth_min_mm) & (d1 <= std.depth_max_mm),
        "recoil_ok": r1 <= std.recoil_max_mm,
        "rate_ok": has_rate & (q1 >= std.rate_min_cpm) & (q1 <= std.rate_max_cpm),
        "has_rate": has_rate,
        "s_depth": _band_score(depth, std.depth_min_mm, std.depth_max_mm,
                               std.depth_shallow_zero_mm, std.depth_deep_zero_mm),
        "s_rate": np.where(has_rate, _band_score(np.where(has_rate, rate, 0.0), std.rate_min_cpm,
                                                 std.rate_max_cpm, std.rate_zero_cpm,
                                                 std.rate_zero_cpm), np.nan),
        "s_recoil": _band_score(recoil, -1.0, std.recoil_max_mm, 1.0, std.recoil_zero_mm),
    }
    c["q"] = c["s_depth"] * c["s_recoil"] * np.where(has_rate, c["s_rate"], 1.0)
    return c


def _r(v, nd):
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    out = round(v, nd)
    return 0.0 if out == 0 else out


def _h(v, nd):
    """``half_up`` for one stored value (None/NaN -> None, no -0.0)."""
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    out = half_up(v, nd)
    return 0.0 if out == 0 else out


def _f(v, nd, scale=1):
    """``floor_to`` for one stored value (None/NaN -> None)."""
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    out = floor_to(v, nd, scale)
    return 0.0 if out == 0 else out


def cycle_min_compressions(std: Standard) -> int:
    """Fewest compressions a run between pauses needs to count as a completed cycle:
    ``compressions_per_cycle - compressions_per_cycle_zero + 1`` (21 for 30:2 with zero
    at 10), i.e. a run whose cycle-structure score is above zero."""
    return max(1, std.compressions_per_cycle - std.compressions_per_cycle_zero + 1)


def cycles_done(std: Standard, cycle_counts) -> int:
    m = cycle_min_compressions(std)
    return sum(1 for n in cycle_counts if n >= m)


def compression_dicts(c: dict, start: int = 0, stop: int | None = None) -> list:
    stop = c["t_peak"].shape[0] if stop is None else stop
    cols = {
        "t_start": np.round(c["t_start"][start:stop], 3).tolist(),
        "t_peak": np.round(c["t_peak"][start:stop], 3).tolist(),
        "t_end": np.round(c["t_end"][start:stop], 3).tolist(),
        "depth_mm": half_up(c["depth_mm"][start:stop], 1).tolist(),
        "recoil_mm": half_up(c["recoil_mm"][start:stop], 1).tolist(),
        "rate_cpm": half_up(c["rate_cpm"][start:stop], 0).tolist(),
        "depth_ok": c["depth_ok"][start:stop].tolist(),
        "rate_ok": c["rate_ok"][start:stop].tolist(),
        "recoil_ok": c["recoil_ok"][start:stop].tolist(),
        "has_rate": c["has_rate"][start:stop].tolist(),
    }
    out = []
    for i in range(stop - start):
        hr = cols["has_rate"][i]
        out.append({
            "t_start": cols["t_start"][i], "t_peak": cols["t_peak"][i], "t_end": cols["t_end"][i],
            "depth_mm": cols["depth_mm"][i] + 0.0, "recoil_mm": cols["recoil_mm"][i] + 0.0,
            "rate_cpm": cols["rate_cpm"][i] if hr else None,
            "depth_ok": cols["depth_ok"][i], "rate_ok": cols["rate_ok"][i] if hr else None,
            "recoil_ok": cols["recoil_ok"][i],
        })
    return out


# -- score ---------------------------------------------------------------
def components(std: Standard, *, count, mean_q, ccf,
               pause_durations, cycle_counts, breaths=None, breath_counts=None):
    """Component scores in [0, 1] (None = not applicable)."""
    comp = {k: None for k in ("compressions", "ccf", "pauses", "cycles", "ventilation")}
    if count == 0:
        comp.update(compressions=0.0, ccf=0.0, pauses=0.0)
        if std.cycles_expected:
            comp["cycles"] = 0.0
        if breaths is not None:
            comp["ventilation"] = 0.0
        return comp
    comp["compressions"] = float(mean_q)
    comp["ccf"] = float(min(1.0, max(0.0, (ccf - std.ccf_min) / (std.ccf_target - std.ccf_min))))
    if pause_durations:
        ps = [min(1.0, max(0.0, 1.0 - (d - std.pause_max_s) / std.pause_zero_s)) for d in pause_durations]
        comp["pauses"] = float(min(ps))
    else:
        comp["pauses"] = 1.0
    if std.cycles_expected:
        n_exp = std.cycles_expected
        done = cycle_counts[:n_exp]
        q = [max(0.0, 1.0 - abs(n - std.compressions_per_cycle) / std.compressions_per_cycle_zero)
             for n in done]
        comp["cycles"] = float(sum(q) / n_exp)
    if breaths is not None:
        vols = breaths
        if not vols:
            comp["ventilation"] = 0.0
        else:
            vs = _band_score(np.asarray(vols), std.breath_volume_min_ml, std.breath_volume_max_ml,
                             std.breath_volume_zero_ml, std.breath_volume_zero_ml)
            counts = breath_counts or []
            n_c = len(counts) if not std.cycles_expected else max(len(counts), std.cycles_expected)
            cs = [max(0.0, 1.0 - abs(b - std.breaths_per_cycle) / std.breaths_per_cycle) for b in counts]
            cnt_score = sum(cs) / n_c if n_c else 0.0
            comp["ventilation"] = float(0.5 * vs.mean() + 0.5 * cnt_score)
    return comp


def total_score(std: Standard, comp: dict) -> float:
    num = den = 0.0
    for k, s in comp.items():
        w = std.weights.get(k, 0.0)
        if s is None or w <= 0:
            continue
        num += w * s
        den += w
    return 100.0 * num / den if den > 0 else 0.0


# -- feedback --------------------------------------------------------------
def _fmt(v, nd=0):
    return f"{v:.{nd}f}"


def _lim(v):
    """A limit from the standard (50, 0.8 * 100, 10.5) without a spurious decimal."""
    return f"{round(float(v), 6):g}"


def feedback(std: Standard, res: dict, comp: dict, c: dict | None) -> list:
    """The corrections that cost the most points, in Chinese (at most four); an incomplete
    attempt (fewer completed cycles than ``cycles_expected``) says so first."""
    items = _quality_feedback(std, res, comp, c)
    if not res["complete"]:
        items = [it for it in items if it["code"] != "cycles_incomplete"][:3]
        items.insert(0, {"code": "attempt_incomplete",
                         "message": f"未完成规定的 {res['cycles_expected']} 个循环"
                                    f"（完成 {res['cycles_done']} 个），本次不合格"})
    return items


def _quality_feedback(std: Standard, res: dict, comp: dict, c: dict | None) -> list:
    if res["count"] == 0:
        return [{"code": "no_compressions", "message": "未检测到有效按压，请确认按压位置和力度"}]
    wsum = sum(std.weights.get(k, 0.0) for k, s in comp.items() if s is not None) or 1.0

    def lost(k):
        s = comp.get(k)
        return 0.0 if s is None else 100.0 * std.weights.get(k, 0.0) * (1.0 - s) / wsum

    # the compressions component is shared between depth, rate and recoil in
    # proportion to their deficits
    lc = lost("compressions")
    s_rate1 = np.where(c["has_rate"], c["s_rate"], 1.0)
    deficits = {"depth": float(np.sum(1.0 - c["s_depth"])), "rate": float(np.sum(1.0 - s_rate1)),
                "recoil": float(np.sum(1.0 - c["s_recoil"]))}
    dsum = sum(deficits.values())
    share = {k: (lc * v / dsum if dsum > 0 else 0.0) for k, v in deficits.items()}

    def lost_aspect(k):
        return share[k]

    items = []
    depth = c["depth_mm"]
    dmin, dmax = _lim(std.depth_min_mm), _lim(std.depth_max_mm)
    n = depth.shape[0]
    if depth.shape[0]:
        shallow = float(np.sum(1.0 - c["s_depth"][depth < std.depth_min_mm]))
        deep = float(np.sum(1.0 - c["s_depth"][depth > std.depth_max_mm]))
        total = shallow + deep
        if total > 0:
            ld = lost_aspect("depth")
            if shallow >= deep:
                items.append((ld * shallow / total, "depth_shallow",
                              f"按压深度不足：平均 {_fmt(res['mean_depth_mm'], 1)} mm，"
                              f"{_fmt(_f(np.sum(~c['depth_ok']) / n, 0, 100))}% 的按压未达到 "
                              f"{dmin}–{dmax} mm，请垂直用力下压"))
            if deep > 0 and (shallow < deep or deep > 0.25 * total):
                items.append((ld * deep / total, "depth_deep",
                              f"按压过深：部分按压超过 {dmax} mm，目标 {dmin}–{dmax} mm"))
    rates = c["rate_cpm"][c["has_rate"]]
    if rates.shape[0]:
        slow = float(np.sum(1.0 - c["s_rate"][c["has_rate"]][rates < std.rate_min_cpm]))
        fast = float(np.sum(1.0 - c["s_rate"][c["has_rate"]][rates > std.rate_max_cpm]))
        lr = lost_aspect("rate")
        rtxt = (f"平均 {_fmt(res['mean_rate_cpm'])} 次/分，"
                f"目标 {_lim(std.rate_min_cpm)}–{_lim(std.rate_max_cpm)} 次/分")
        if slow + fast > 0:
            if fast >= slow:
                items.append((lr * fast / (slow + fast), "rate_fast", f"按压频率过快：{rtxt}"))
            else:
                items.append((lr * slow / (slow + fast), "rate_slow", f"按压频率过慢：{rtxt}"))
    if lost_aspect("recoil") > 0:
        items.append((lost_aspect("recoil"), "recoil_incomplete",
                      f"按压后胸廓未充分回弹：{_fmt(_f(np.sum(~c['recoil_ok']) / n, 0, 100))}% 的按压未完全放松，"
                      f"请避免倚靠胸壁"))
    if lost("pauses") > 0:
        items.append((lost("pauses"), "pause_too_long",
                      f"中断时间过长：最长中断 {_fmt(res['longest_pause_s'], 1)} 秒，"
                      f"每次中断应不超过 {_lim(std.pause_max_s)} 秒"))
    if lost("ccf") > 0:
        items.append((lost("ccf"), "ccf_low",
                      f"按压中断过多：按压时间占比 {_fmt(_f(res['ccf'], 0, 100))}%，"
                      f"应不低于 {_lim(100 * std.ccf_target)}%"))
    if comp.get("cycles") is not None and lost("cycles") > 0:
        items.append((lost("cycles"), "cycles_incomplete",
                      f"按压循环不规范：完成 {res['cycles_done']} 个循环，应为 {std.cycles_expected} 个循环、"
                      f"每个循环按压 {std.compressions_per_cycle} 次"))
    if comp.get("ventilation") is not None and lost("ventilation") > 0:
        b = res.get("breaths") or {}
        vols = b.get("volumes_ml") or []
        low = sum(1 for x in vols if x < std.breath_volume_min_ml)
        high = sum(1 for x in vols if x > std.breath_volume_max_ml)
        if not vols:
            msg, code = "未检测到人工呼吸：每个循环应给予 2 次人工呼吸", "breaths_missing"
        elif low >= high and low:
            msg, code = (f"人工呼吸潮气量不足：目标 {_lim(std.breath_volume_min_ml)}–"
                         f"{_lim(std.breath_volume_max_ml)} mL，见到胸廓起伏即可"), "breath_volume_low"
        elif high:
            msg, code = (f"人工呼吸潮气量过大：目标 {_lim(std.breath_volume_min_ml)}–"
                         f"{_lim(std.breath_volume_max_ml)} mL，避免过度通气"), "breath_volume_high"
        else:
            msg, code = f"人工呼吸次数不正确：每个循环应给予 {std.breaths_per_cycle} 次人工呼吸", "breath_count"
        items.append((lost("ventilation"), code, msg))
    items = [it for it in items if it[0] >= 1.0]
    items.sort(key=lambda it: -it[0])
    if not items:
        return [{"code": "good", "message": "按压质量良好，请继续保持"}]
    return [{"code": code, "message": msg, "points_lost": round(l, 1)} for l, code, msg in items[:4]]


# -- the session -------------------------------------------------------------
@dataclass
class SessionResult:
    """Result of one session. ``to_dict()`` is the JSON structure; ``arrays``
    holds the unrounded per-compression values as numpy arrays."""
    standard: Standard
    summary: dict
    arrays: dict = field(repr=False)

    def __getattr__(self, name):
        summary = self.__dict__.get("summary")
        if summary is not None and name in summary:
            return summary[name]
        raise AttributeError(name)

    @property
    def compressions(self) -> list:
        return compression_dicts(self.arrays)

    def to_dict(self) -> dict:
        d = dict(self.summary)
        d["compressions"] = self.compressions
        return d


def assemble(std: Standard, c: dict, breaths, t_first: float, t_last: float) -> SessionResult:
    """Session aggregates from per-compression arrays (shared by batch and stream)."""
    n = int(c["t_peak"].shape[0])
    ts, te = c["t_start"], c["t_end"]
    new_run = np.empty(n, dtype=bool)
    if n:
        new_run[0] = True
        new_run[1:] = (ts[1:] - te[:-1]) > std.pause_threshold_s
    firsts = np.flatnonzero(new_run)
    lasts = np.append(firsts[1:] - 1, n - 1) if n else firsts
    pauses = []
    for k in firsts[1:].tolist():
        pauses.append({"t_start": _r(te[k - 1], 3), "t_end": _r(ts[k], 3),
                       "duration_s": _r(ts[k] - te[k - 1], 2)})
    pause_raw = [float(ts[k] - te[k - 1]) for k in firsts[1:].tolist()]
    if n:
        span = float(te[-1] - ts[0])
        ccf = 1.0 - sum(pause_raw) / span if span > 0 else 1.0
    else:
        ccf = 0.0
    has_rate = c["has_rate"] if n else np.zeros(0, dtype=bool)
    rates = c["rate_cpm"][has_rate] if n else np.empty(0)
    cycles = []
    for r, (a, b) in enumerate(zip(firsts.tolist(), lasts.tolist())):
        rr = c["rate_cpm"][a:b + 1][has_rate[a:b + 1]]
        cycles.append({
            "index": r + 1, "t_start": _r(ts[a], 3), "t_end": _r(te[b], 3), "count": b - a + 1,
            "mean_depth_mm": _h(np.mean(c["depth_mm"][a:b + 1]), 1),
            "mean_rate_cpm": _h(np.mean(rr), 0) if rr.shape[0] else None,
            "rest_mm": _h(c["rest_mm"][a], 1),
        })
    breath_block = None
    breath_counts = None
    if breaths is not None:
        bt, bv = breaths
        breath_counts = [0] * len(cycles)
        if cycles:
            starts = ts[firsts]
            pos = np.searchsorted(starts, np.asarray(bt, dtype=np.float64), side="right") - 1
            for p in pos.tolist():
                if p >= 0:
                    breath_counts[p] += 1
        for cyc, nb in zip(cycles, breath_counts):
            cyc["breaths"] = nb
        breath_block = {
            "count": len(bv),
            "volumes_ml": [_r(x, 0) for x in bv],
            "times_s": [_r(x, 3) for x in bt],
            "mean_volume_ml": _r(np.mean(bv), 0) if bv else None,
            "pct_volume_ok": _r(100.0 * np.mean([std.breath_volume_min_ml <= round(x) <= std.breath_volume_max_ml
                                                  for x in bv]), 1) if bv else None,
            "per_cycle": breath_counts,
        }
    summary = {
        "standard": std.id,
        "standard_version": std.version,
        "count": n,
        "duration_s": _r(t_last - t_first, 3),
        "mean_depth_mm": _h(np.mean(c["depth_mm"]), 1) if n else None,
        "mean_recoil_mm": _h(np.mean(c["recoil_mm"]), 1) if n else None,
        "mean_rate_cpm": _h(np.mean(rates), 0) if rates.shape[0] else None,
        "pct_depth_ok": _f(100.0 * np.mean(c["depth_ok"]), 1) if n else 0.0,
        "pct_rate_ok": _f(100.0 * np.mean(c["rate_ok"][has_rate]), 1) if rates.shape[0] else 0.0,
        "pct_recoil_ok": _f(100.0 * np.mean(c["recoil_ok"]), 1) if n else 0.0,
        "pauses": pauses,
        "longest_pause_s": _h(max(pause_raw), 1) if pause_raw else 0.0,
        "ccf": _f(ccf, 3),
        "cycles": cycles,
        "breaths": breath_block,
    }
    done = cycles_done(std, [cy["count"] for cy in cycles])
    summary["cycles_expected"] = std.cycles_expected
    summary["cycles_done"] = done
    summary["complete"] = not std.cycles_expected or done >= std.cycles_expected
    comp = components(
        std, count=n,
        mean_q=np.mean(c["q"]) if n else 0.0,
        ccf=ccf, pause_durations=pause_raw, cycle_counts=[cy["count"] for cy in cycles],
        breaths=None if breaths is None else breaths[1], breath_counts=breath_counts)
    score = floor_to(total_score(std, comp), 1)
    summary["score"] = score
    summary["passed"] = bool(summary["complete"] and score >= std.pass_score)
    summary["components"] = {k: _r(v, 3) for k, v in comp.items()}
    summary["feedback"] = feedback(std, summary, comp, c if n else None)
    return SessionResult(standard=std, summary=summary, arrays=c)
