"""Streaming CPR scoring: feed chunks of any size as they arrive.

``StreamScorer`` runs the zig-zag detector sample by sample (a few comparisons
per sample in plain Python, cheaper than numpy on 5-30 samples) and, when a
compression is certain (the trough after it is confirmed, i.e. the next
compression has risen ``DETECT_MM``, and the parabola window around that
trough is complete), computes it with the very functions the batch scorer
uses, on a rolling buffer of recent samples. ``finish()`` assembles the
session from the emitted compressions with the batch code, so its result is
identical to ``score_trace`` on the same samples, whatever the chunking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import signal as sg
from .core import (DETECT_ML, DETECT_MM, INF, QUIET_ACCEPT_MM, QUIET_WINDOW_S, START_WINDOW_S, TraceError, as_trace,
                   foot_index, geometry, quiet_rest, release_seen, valley_index)
from .results import (SessionResult, _f, _h, _r, assemble, components, compression_dicts, cycles_done,
                      derive, floor_to, total_score)
from .standards import Standard, resolve_standard

_KEEP_S = 10.0          # always keep at least this much history
_C_KEYS = ("t_start", "t_peak", "t_end", "depth_mm", "recoil_mm", "rate_cpm", "depth_ok",
           "recoil_ok", "rate_ok", "has_rate", "s_depth", "s_rate", "s_recoil", "q", "rest_mm")


@dataclass
class StreamUpdate:
    """What one ``feed`` call produced: the newly certain compressions (dicts
    with the same keys as ``SessionResult.to_dict()['compressions']``) and the
    running summary (shared dict, do not mutate)."""
    compressions: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)


class StreamScorer:
    """Incremental scorer; ``finish()`` equals ``score_trace`` on all samples fed."""

    def __init__(self, standard=None):
        self.standard: Standard = resolve_standard(standard)
        self._cap = 4096
        self._t = np.empty(self._cap)
        self._x = np.empty(self._cap)
        self._v = None
        self._base = 0          # global index of buffer position 0
        self._len = 0           # samples in the buffer
        self._n = 0             # samples fed so far
        self._t_first = None
        self._t_last = None
        self._has_volume = None
        self._zz = sg.ZZ_INITIAL
        self._vzz = sg.ZZ_INITIAL
        self._last_trough = None
        self._open_peak = None
        self._pending: list = []
        self._v_trough = None
        self._breath_t: list = []
        self._breath_v: list = []
        # emitted compressions, one list per key
        self._c = {k: [] for k in _C_KEYS}
        self._last_t_end = None
        self._last_t_peak = None
        self._low = INF         # lowest quiet level seen (before the first compression, in pauses)
        self._valleys: list = []    # valley levels of the last signal.RELEASE_WINDOW compressions
        self._pauses: list = []
        self._cycle_counts: list = []
        self._breath_cycle: list = []
        self._sum = {"depth": 0.0, "q": 0.0, "rate": 0.0,
                     "n_rate": 0, "depth_ok": 0, "rate_ok": 0, "recoil_ok": 0}
        self._summary = self._make_summary()
        self._result = None

    # -- buffer ------------------------------------------------------------
    def _append(self, t, x, v):
        m = t.shape[0]
        if self._len + m > self._cap:
            self._compact(m)
        a, b = self._len, self._len + m
        self._t[a:b] = t
        self._x[a:b] = x
        if v is not None:
            self._v[a:b] = v
        self._len = b

    def _keep_from(self) -> int:
        """Global index of the oldest sample that may still be needed."""
        anchors = [p[1] for p in self._pending]
        if self._open_peak is not None:
            anchors.append(self._open_peak[1])
        if not anchors:
            if self._last_trough is None:
                return self._base          # lead-in: keep everything
            anchors.append(self._last_trough)
        if self._vzz[0] == 1 and self._vzz[2] >= 0:
            anchors.append(self._vzz[2])
        anchor = min(anchors)
        pos = anchor - self._base
        t_keep = min(self._t[pos] - QUIET_WINDOW_S - 1.0, self._t[self._len - 1] - _KEEP_S)
        j = int(np.searchsorted(self._t[:self._len], t_keep, side="left"))
        return self._base + max(0, min(j, pos - sg.FIT_MAX_SIDE - 2))

    def _compact(self, incoming: int):
        drop = self._keep_from() - self._base if self._len else 0
        keep = self._len - drop
        need = keep + incoming
        cap = self._cap
        while need > cap // 2 and need > cap - 1024:
            cap *= 2
        if cap != self._cap or drop:
            nt = np.empty(cap)
            nx = np.empty(cap)
            nt[:keep] = self._t[drop:self._len]
            nx[:keep] = self._x[drop:self._len]
            if self._v is not None:
                nv = np.empty(cap)
                nv[:keep] = self._v[drop:self._len]
                self._v = nv
            self._t, self._x, self._cap = nt, nx, cap
            self._base += drop
            self._len = keep

    # -- public API --------------------------------------------------------
    def feed(self, t_s, depth_mm, volume_ml=None) -> StreamUpdate:
        """Add samples; returns the compressions that became certain."""
        if self._result is not None:
            raise TraceError("this StreamScorer is finished; start a new one")
        t, x, v = as_trace(t_s, depth_mm, volume_ml, allow_empty=True)
        m = t.shape[0]
        if m == 0:
            return StreamUpdate([], self._summary)
        if self._has_volume is None:
            self._has_volume = v is not None
            if v is not None:
                self._v = np.empty(self._cap)
        elif self._has_volume != (v is not None):
            raise TraceError("volume_ml must be given for every chunk or for none")
        if self._t_last is not None and t[0] < self._t_last:
            raise TraceError(
                f"time goes backwards at sample {self._n}: t={t[0]:g} s after t={self._t_last:g} s")
        if self._t_first is None:
            self._t_first = float(t[0])
        self._t_last = float(t[-1])
        self._append(t, x, v)
        start = self._n
        self._n += m
        piv: list = []
        self._zz = sg.zigzag_feed(self._zz, x.tolist(), start, DETECT_MM, piv)
        changed = False
        if v is not None:
            vp: list = []
            self._vzz = sg.zigzag_feed(self._vzz, v.tolist(), start, DETECT_ML, vp)
            if vp:
                changed |= self._breaths(vp)
        for kind, idx, *_ in piv:
            self._pivot(kind, idx)
        out = []
        if self._pending:
            out = self._flush(final=False)
        if out or changed:
            self._summary = self._make_summary()
        else:
            self._summary = dict(self._summary)
        self._summary["duration_s"] = _r(self._t_last - self._t_first, 3)
        return StreamUpdate(out, self._summary)

    def finish(self) -> SessionResult:
        """Close the session and return the result (same as ``score_trace``)."""
        if self._result is not None:
            return self._result
        if self._n == 0:
            raise TraceError("empty trace: no samples")
        if self._open_peak is not None and self._zz[0] == 0:
            p, tb = self._open_peak
            ta = self._zz[2]
            base = self._base
            if release_seen(self._t[:self._len], self._x[:self._len], p - base, ta - base,
                            self._len - 1):
                self._pending.append((p, tb, ta))
            # else: the recording stopped before its release was observed: not a compression
            self._open_peak = None
        self._flush(final=True)
        c = {}
        for k in _C_KEYS:
            if k in ("depth_ok", "recoil_ok", "rate_ok", "has_rate"):
                c[k] = np.array(self._c[k], dtype=bool)
            else:
                c[k] = np.array(self._c[k], dtype=np.float64)
        breaths = (self._breath_t, self._breath_v) if self._has_volume else None
        self._result = assemble(self.standard, c, breaths, self._t_first, self._t_last)
        return self._result

    @property
    def summary(self) -> dict:
        return self._summary

    # -- internals ---------------------------------------------------------
    def _breaths(self, vp) -> bool:
        got = False
        for kind, idx, _, val in vp:
            if kind == 0:
                self._v_trough = val
            elif self._v_trough is not None:
                self._breath_t.append(float(self._t[idx - self._base]))
                self._breath_v.append(float(val - self._v_trough))
                self._breath_cycle.append(max(0, len(self._cycle_counts) - 1))
                got = True
        return got

    def _pivot(self, kind, idx):
        if kind == 0:
            if self._open_peak is not None:
                p, tb = self._open_peak
                self._pending.append((p, tb, idx))
                self._open_peak = None
            self._last_trough = idx
        elif self._last_trough is not None:
            self._open_peak = (idx, self._last_trough)

    def _flush(self, final: bool) -> list:
        out = []
        base = self._base
        t, x = self._t, self._x
        hi = self._len - 1
        t_last = t[hi]
        while self._pending:
            p, tb, ta = self._pending[0]
            u = valley_index(t[:self._len], x, p - base, ta - base, hi)
            if not final and not (u + sg.FIT_MAX_SIDE <= hi
                                  or t_last > t[u] + sg.FIT_READY_S):
                break
            self._pending.pop(0)
            pb, tbb = p - base, tb - base
            if t[pb] - t[tbb] > START_WINDOW_S:
                tbb = foot_index(t[:self._len], x, tbb, pb)
            out.append(self._emit(pb, tbb, u, hi))
        return out

    def _emit(self, p, tb, u, hi) -> dict:
        std = self.standard
        t = self._t[:self._len]
        x = self._x[:self._len]
        g = geometry(t, x, np.array([p]), np.array([tb]), np.array([u]), 0, hi)
        ts = float(g["t_start"][0])
        te = float(g["t_end"][0])
        new_run = self._last_t_end is None or (ts - self._last_t_end) > std.pause_threshold_s
        if new_run:
            r = quiet_rest(t, x, ts, self._last_t_end)
            if r is not None and r < self._low:
                self._low = r
            if self._last_t_end is not None:
                self._pauses.append(ts - self._last_t_end)
            self._cycle_counts.append(0)
            prev_tp = math.nan
        else:
            prev_tp = self._last_t_peak
        vs = self._valleys
        vs.append(float(g["valley_level"][0]))
        if len(vs) > sg.RELEASE_WINDOW:
            del vs[0]
        r = sg.release_level(vs)
        zero = self._low if self._low <= r + QUIET_ACCEPT_MM else r
        c = derive(std, g, np.array([zero]), np.array([prev_tp]))
        c["rest_mm"] = np.array([zero])
        for k in _C_KEYS:
            self._c[k].append(c[k][0].item())
        if self._t_start0 is None:
            self._t_start0 = ts
        self._last_t_end = te
        self._last_t_peak = float(g["t_peak"][0])
        self._cycle_counts[-1] += 1
        s = self._sum
        s["depth"] += self._c["depth_mm"][-1]
        s["q"] += self._c["q"][-1]
        s["depth_ok"] += self._c["depth_ok"][-1]
        s["recoil_ok"] += self._c["recoil_ok"][-1]
        if self._c["has_rate"][-1]:
            s["n_rate"] += 1
            s["rate"] += self._c["rate_cpm"][-1]
            s["rate_ok"] += self._c["rate_ok"][-1]
        return compression_dicts(c)[0]

    _t_start0 = None

    def _make_summary(self) -> dict:
        n = len(self._c["t_peak"])
        s = self._sum
        nr = s["n_rate"]
        if n:
            span = self._last_t_end - self._t_start0
            ccf = 1.0 - sum(self._pauses) / span if span > 0 else 1.0
        else:
            ccf = 0.0
        breaths = None
        counts = None
        if self._has_volume:
            breaths = self._breath_v
            counts = [0] * len(self._cycle_counts)
            for cy in self._breath_cycle:
                if cy < len(counts):
                    counts[cy] += 1
        comp = components(self.standard, count=n,
                          mean_q=s["q"] / n if n else 0.0,
                          ccf=ccf, pause_durations=self._pauses,
                          cycle_counts=self._cycle_counts, breaths=breaths, breath_counts=counts)
        last_rate = self._c["rate_cpm"][-1] if n else None
        std = self.standard
        done = cycles_done(std, self._cycle_counts)
        return {
            "count": n,
            "duration_s": _r(self._t_last - self._t_first, 3) if self._t_first is not None else 0.0,
            "mean_depth_mm": _h(s["depth"] / n, 1) if n else None,
            "mean_rate_cpm": _h(s["rate"] / nr, 0) if nr else None,
            "pct_depth_ok": _f(100.0 * s["depth_ok"] / n, 1) if n else 0.0,
            "pct_rate_ok": _f(100.0 * s["rate_ok"] / nr, 1) if nr else 0.0,
            "pct_recoil_ok": _f(100.0 * s["recoil_ok"] / n, 1) if n else 0.0,
            "ccf": _f(ccf, 3),
            "pauses": len(self._pauses),
            "longest_pause_s": _h(max(self._pauses), 1) if self._pauses else 0.0,
            "cycles": len(self._cycle_counts),
            "cycles_done": done,
            "cycles_expected": std.cycles_expected,
            "complete": not std.cycles_expected or done >= std.cycles_expected,
            "breaths": len(self._breath_v) if self._has_volume else None,
            "score": floor_to(total_score(std, comp), 1),
            "last_depth_mm": _h(self._c["depth_mm"][-1], 1) if n else None,
            "last_rate_cpm": _h(last_rate, 0) if n and last_rate is not None else None,
        }
