"""Batch CPR scoring: depth trace in, ``SessionResult`` out.

Pipeline (all vectorised numpy except a Python loop over the few samples the
zig-zag detector has to see, see ``signal.zigzag_candidates``):

1. validate the trace (``TraceError``);
2. zig-zag hysteresis pivots (``DETECT_MM``): every confirmed peak with a
   trough before it is a compression; the trough after it (or the running
   minimum at the end of the data) closes it;
3. geometry per compression: parabola-fitted peak level and time, the valley
   (lowest point up to the next peak, at most ``RECOIL_WINDOW_S`` after the
   peak), start/end times where the signal crosses ``EDGE_MM`` above the
   trough before / the valley after;
4. cycles: a gap longer than ``pause_threshold_s`` between one compression's
   end and the next one's start is a pause;
5. zero level per compression (``zero_levels``): the level of the full
   releases among the valleys of the last ``signal.RELEASE_WINDOW``
   compressions (its own included); the lowest quiet level seen so far
   (before the first compression, in the pauses) replaces it when it is not
   more than ``QUIET_ACCEPT_MM`` above it (more precise, and lower when a
   trainee leans on every compression, which then still shows as recoil);
6. depth, recoil, rate, flags and sub-scores per compression; session
   aggregates, score and feedback (``results``).

A compression whose release was not observed before the recording ended (the
recording stopped on the way down or up) is left out (``release_seen``).

Every step only looks at bounded windows around each compression, which is
what lets ``StreamScorer`` emit the same compressions incrementally.
"""

from __future__ import annotations

import math

import numpy as np

from . import signal as sg
from .results import SessionResult, assemble, derive
from .standards import Standard, resolve_standard

INF = float("inf")

DETECT_MM = 10.0          # zig-zag hysteresis on depth
DETECT_ML = 100.0         # zig-zag hysteresis on lung volume (breaths)
EDGE_MM = 2.5             # start/end: crossing this far above the trough/valley
RECOIL_WINDOW_S = 1.0     # recoil is looked for at most this long after a peak
START_WINDOW_S = 1.0      # the foot of a compression is looked for at most this long before its peak
RELEASE_HOLD_S = 0.2      # the last compression counts when the chest has stayed released this long
RELEASE_HOLD_MM = 2.0     # ... i.e. within this much of its lowest level after the peak
QUIET_ACCEPT_MM = 1.0     # a quiet level at most this far above the full releases is the zero level
QUIET_WINDOW_S = 5.0      # resting level: quiet samples in this window before a cycle
QUIET_AFTER_S = 0.3       # ... skipping this long after the previous compression
QUIET_BEFORE_S = 0.2      # ... and this long before the cycle's first compression


class TraceError(ValueError):
    """The input trace is unusable (empty, non-numeric, time going backwards...)."""


def as_trace(t_s, depth_mm, volume_ml=None, *, allow_empty=False):
    """Validate and convert one trace (or one chunk) to float64 arrays."""
    try:
        t = np.asarray(t_s, dtype=np.float64)
        x = np.asarray(depth_mm, dtype=np.float64)
        v = None if volume_ml is None else np.asarray(volume_ml, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"trace values must be numbers ({exc})") from None
    if t.ndim != 1 or x.ndim != 1 or (v is not None and v.ndim != 1):
        raise TraceError("t_s, depth_mm and volume_ml must be one-dimensional")
    if t.shape[0] != x.shape[0] or (v is not None and v.shape[0] != t.shape[0]):
        raise TraceError(
            f"length mismatch: {t.shape[0]} timestamps, {x.shape[0]} depth samples"
            + ("" if v is None else f", {v.shape[0]} volume samples"))
    if t.shape[0] == 0 and not allow_empty:
        raise TraceError("empty trace: no samples")
    if not (np.isfinite(t).all() and np.isfinite(x).all() and (v is None or np.isfinite(v).all())):
        raise TraceError("trace contains NaN or infinite values")
    if t.shape[0] > 1:
        dt = t[1:] - t[:-1]
        if (dt < 0).any():
            k = int(np.flatnonzero(dt < 0)[0])
            raise TraceError(
                f"time goes backwards at sample {k + 1}: t={t[k + 1]:g} s after t={t[k]:g} s")
    return t, x, v


def valley_index(t, x, p: int, ta: int, hi: int) -> int:
    """Lowest sample after peak ``p``: the trough ``ta`` if it lies within
    ``RECOIL_WINDOW_S`` of the peak, else the lowest sample in that window."""
    if t[ta] - t[p] <= RECOIL_WINDOW_S:
        return ta
    j = int(np.searchsorted(t, t[p] + RECOIL_WINDOW_S, side="right")) - 1
    j = min(max(j, p), hi)
    return p + int(np.argmin(x[p:j + 1]))


def foot_index(t, x, tb: int, p: int) -> int:
    """Lowest sample before peak ``p``: the trough ``tb`` if it lies within
    ``START_WINDOW_S`` of the peak, else the lowest sample in that window (after a
    pause, the level the push starts from, not the lowest level of the whole pause:
    hands resting on the chest during the pause press it a few millimetres)."""
    if t[p] - t[tb] <= START_WINDOW_S:
        return tb
    j = int(np.searchsorted(t, t[p] - START_WINDOW_S, side="left"))
    j = min(max(j, tb), p)
    return j + int(np.argmin(x[j:p + 1]))


def release_seen(t, x, p: int, ta: int, hi: int) -> bool:
    """For the last compression, whose trough was not confirmed by a next one: was
    its release observed? Yes when the signal came within ``RELEASE_HOLD_MM`` of its
    lowest level after the peak (``ta``) at least ``RELEASE_HOLD_S`` before the
    end of the recording (the chest stopped rising); no when the recording stopped
    during the release."""
    lim = x[ta] + RELEASE_HOLD_MM
    seg = x[p:hi + 1]
    j = p + int(np.argmax(seg <= lim))
    return bool(t[hi] - t[j] >= RELEASE_HOLD_S)


def zero_levels(valley_level, ref):
    """Zero level per compression from ``R``, the full-release level of the recent
    valleys (``signal.release_levels``), and ``ref``, the lowest quiet level seen up
    to that compression (inf when none): ``ref`` when ``ref <= R + QUIET_ACCEPT_MM``
    (the chest at rest measured more precisely than by the valley fits, or lower
    than every recent valley: a trainee who never releases fully), else ``R``
    (the quiet level is above the full releases: hands resting on the chest)."""
    r = sg.release_levels(valley_level)
    return np.where(ref <= r + QUIET_ACCEPT_MM, ref, r)


def geometry(t, x, P, Tb, U, lo, hi):
    """Per-compression timing and levels (arrays over compressions)."""
    pk_lvl, pk_t = sg.fit_extremum(t, x, P, lo, hi, 1.0)
    va_lvl, _ = sg.fit_extremum(t, x, U, lo, hi, -1.0)
    tb_lvl, _ = sg.fit_extremum(t, x, Tb, lo, hi, -1.0)
    l_start = np.maximum(tb_lvl, x[Tb]) + EDGE_MM
    js = sg.last_below(x, Tb, P, l_start)
    js1 = np.minimum(js + 1, P)
    t_start = sg.crossing_time(t, x, js, js1, l_start)
    l_end = np.maximum(va_lvl, x[U]) + EDGE_MM
    je = sg.first_below(x, P, U, l_end)
    je0 = np.maximum(je - 1, P)
    t_end = sg.crossing_time(t, x, je0, je, l_end)
    t_end = np.maximum(t_end, pk_t)
    t_start = np.minimum(t_start, pk_t)
    return {"t_start": t_start, "t_peak": pk_t, "t_end": t_end,
            "peak_level": pk_lvl, "valley_level": va_lvl}


def quiet_rest(t, x, t_start_first: float, t_end_prev):
    """Resting level before a cycle, or None when there are too few quiet samples or they are not quiet."""
    t_lo = t_start_first - QUIET_WINDOW_S
    if t_end_prev is not None:
        t_lo = max(t_lo, t_end_prev + QUIET_AFTER_S)
    t_hi = t_start_first - QUIET_BEFORE_S
    if t_hi <= t_lo:
        return None
    a = int(np.searchsorted(t, t_lo, side="left"))
    b = int(np.searchsorted(t, t_hi, side="right"))
    if b - a < sg.MIN_QUIET_SAMPLES:
        return None
    seg = x[a:b]
    if float(seg.max() - seg.min()) > DETECT_MM:
        # The chest moved by a whole compression in the window: not a quiet period (a recording that
        # starts in the middle of compressions, say). Keep the previous level rather than read a
        # compression's flank as the chest at rest.
        return None
    return sg.quiet_level(seg)


def compression_pivots(pivots, final_state):
    """(peaks, troughs before, troughs after, last_open) from the zig-zag pivots;
    ``last_open``: the last compression's trough is only the running minimum at the
    end of the data (not confirmed by a next compression)."""
    P, Tb, Ta = [], [], []
    last_trough = None
    open_peak = None
    for kind, idx, _, val in pivots:
        if kind == 0:
            if open_peak is not None:
                P.append(open_peak[0])
                Tb.append(open_peak[1])
                Ta.append(idx)
                open_peak = None
            last_trough = idx
        elif last_trough is not None:
            open_peak = (idx, last_trough)
    last_open = open_peak is not None and final_state[0] == 0
    if last_open:
        P.append(open_peak[0])
        Tb.append(open_peak[1])
        Ta.append(final_state[2])
    return (np.asarray(P, dtype=np.intp), np.asarray(Tb, dtype=np.intp),
            np.asarray(Ta, dtype=np.intp), last_open)


def breaths_from_pivots(t, v, pivots):
    """(times, volumes) of breaths: volume peaks above the trough before them."""
    bt, bv = [], []
    last_trough = None
    for kind, idx, _, val in pivots:
        if kind == 0:
            last_trough = val
        elif last_trough is not None:
            bt.append(float(t[idx]))
            bv.append(float(val - last_trough))
    return bt, bv


def new_run_flags(t_start, t_end, threshold):
    flags = np.empty(t_start.shape[0], dtype=bool)
    if flags.shape[0]:
        flags[0] = True
        flags[1:] = (t_start[1:] - t_end[:-1]) > threshold
    return flags


def score_trace(t_s, depth_mm, volume_ml=None, standard=None) -> SessionResult:
    """Score one CPR session.

    ``t_s``: timestamps (s), non-decreasing, any spacing; ``depth_mm``: chest
    displacement (mm, positive = compressed, any resting offset);
    ``volume_ml``: optional lung volume (mL). ``standard``: a ``Standard``,
    a standard id, a dict or None for the default standard.
    """
    std: Standard = resolve_standard(standard)
    t, x, v = as_trace(t_s, depth_mm, volume_ml)
    n = t.shape[0]
    pivots, state = sg.zigzag_batch(x, DETECT_MM)
    P, Tb, Ta, last_open = compression_pivots(pivots, state)
    hi = n - 1
    if last_open and not release_seen(t, x, int(P[-1]), int(Ta[-1]), hi):
        # the recording stopped before this compression's release was observed
        P, Tb, Ta = P[:-1], Tb[:-1], Ta[:-1]
    U = Ta.copy()
    if U.shape[0]:
        far = np.flatnonzero(t[Ta] - t[P] > RECOIL_WINDOW_S)
        for k in far.tolist():
            U[k] = valley_index(t, x, int(P[k]), int(Ta[k]), hi)
        Tb = Tb.copy()
        far = np.flatnonzero(t[P] - t[Tb] > START_WINDOW_S)
        for k in far.tolist():
            Tb[k] = foot_index(t, x, int(Tb[k]), int(P[k]))
    g = geometry(t, x, P, Tb, U, 0, hi)
    new_run = new_run_flags(g["t_start"], g["t_end"], std.pause_threshold_s)
    ref = np.empty(P.shape[0])
    low = INF
    for k in np.flatnonzero(new_run).tolist():
        r = quiet_rest(t, x, float(g["t_start"][k]), float(g["t_end"][k - 1]) if k else None)
        if r is not None and r < low:
            low = r
        ref[k] = low
    run = np.cumsum(new_run) - 1
    first = np.flatnonzero(new_run)
    if ref.shape[0]:
        ref = ref[first][run]
    rest = zero_levels(g["valley_level"], ref)
    prev_tp = np.empty(P.shape[0])
    if prev_tp.shape[0]:
        prev_tp[0] = math.nan
        prev_tp[1:] = g["t_peak"][:-1]
        prev_tp[new_run] = math.nan
    c = derive(std, g, rest, prev_tp)
    c["rest_mm"] = rest
    breaths = None
    if v is not None:
        vp, _ = sg.zigzag_batch(v, DETECT_ML)
        breaths = breaths_from_pivots(t, v, vp)
    return assemble(std, c, breaths, float(t[0]), float(t[-1]))
