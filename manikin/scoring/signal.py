"""Signal primitives shared by the batch and the streaming scorer.

Everything here is deterministic and element-wise per compression, so the
streaming scorer can call the same functions on one compression at a time and
get bit-identical numbers to the batch scorer.

Detection is a hysteresis ("zig-zag") detector: a peak is confirmed when the
signal has fallen more than ``d`` below the running maximum, a trough when it
has risen more than ``d`` above the running minimum. It needs no resting level
(so leaning and offsets do not matter), no fixed sample rate and no look-ahead
beyond the next ``d`` millimetres. The batch path runs the same state machine,
but only over the first sample of each plateau that is a local extremum (plus
the end points), after removing pairs of small wiggles that provably cannot
change the result; both reductions are exact (see ``zigzag_candidates``).
"""

from __future__ import annotations

import numpy as np

INF = float("inf")

# -- zig-zag state machine ------------------------------------------------
# state = (mode, extreme_value, extreme_index); mode 0 = seeking a trough
# (tracking the running minimum), 1 = seeking a peak (running maximum).
ZZ_INITIAL = (0, INF, -1)


def zigzag_feed(state, values, start_index, d, out):
    """Run the state machine over consecutive samples.

    ``values`` is a list of floats whose first element has global index
    ``start_index``. Confirmed pivots are appended to ``out`` as
    ``(kind, index, confirm_index, value)`` with kind 0 = trough, 1 = peak.
    Returns the new state.
    """
    return zigzag_sparse(state, values, range(start_index, start_index + len(values)), d, out)


def zigzag_sparse(state, values, indices, d, out):
    """The state machine over samples with the given global ``indices`` (consecutive or not)."""
    mode, ev, ei = state
    for v, i in zip(values, indices):
        if mode:
            if v > ev:
                ev = v
                ei = i
            elif v < ev - d:
                out.append((1, ei, i, ev))
                mode = 0
                ev = v
                ei = i
        else:
            if v < ev:
                ev = v
                ei = i
            elif v > ev + d:
                out.append((0, ei, i, ev))
                mode = 1
                ev = v
                ei = i
    return (mode, ev, ei)


def zigzag_candidates(x: np.ndarray, d: float, passes: int = 6) -> np.ndarray:
    """Indices of the samples the zig-zag machine has to see.

    1. Only the first sample of each run of equal values matters (updates are
       strict), and inside a monotone stretch only its end points can become
       pivots or change the state in a way later samples would not, so the
       first index of every local-extremum plateau plus both ends suffices.
    2. In the alternating extremum sequence e, a (max, min) pair (e[i],
       e[i+1]) with e[i-1] <= e[i+1], e[i] < e[i+2] and e[i] - e[i+1] <= d
       (a small wiggle nested inside a bigger rise) leaves every pivot and the
       state after e[i+2] unchanged whatever the state before it; likewise a
       (min, max) pair with e[i-1] >= e[i+1], e[i] > e[i+2], e[i+1] - e[i] <= d.
       Pairs of one kind are disjoint and the conditions are transitive, so
       all of them can be removed at once; a few passes remove most noise.
    """
    n = x.shape[0]
    if n <= 2:
        return np.arange(n)
    change = np.flatnonzero(x[1:] != x[:-1]) + 1
    starts = np.empty(change.shape[0] + 1, dtype=np.intp)
    starts[0] = 0
    starts[1:] = change
    if starts.shape[0] <= 2:
        return starts
    rv = x[starts]
    up = rv[1:] > rv[:-1]
    ext = np.flatnonzero(up[1:] != up[:-1]) + 1
    keep = np.empty(ext.shape[0] + 2, dtype=np.intp)
    keep[0] = 0
    keep[1:-1] = ext
    keep[-1] = starts.shape[0] - 1
    idx = starts[keep]
    for _ in range(passes):
        m = idx.shape[0]
        if m < 6:
            break
        e = x[idx]
        removed = False
        for first_is_max in (True, False):
            m = idx.shape[0]
            if m < 6:
                break
            e = x[idx]
            # candidate pair starts i in [2, m-3] (never touch the end points)
            i = np.arange(2, m - 2)
            is_max = e[i] > e[i - 1]
            sel = i[is_max == first_is_max]
            if sel.shape[0] == 0:
                continue
            a, b, p, q = e[sel], e[sel + 1], e[sel - 1], e[sel + 2]
            if first_is_max:
                ok = (p <= b) & (a < q) & (a - b <= d)
            else:
                ok = (p >= b) & (a > q) & (b - a <= d)
            rm = sel[ok]
            if rm.shape[0] == 0:
                continue
            mask = np.ones(m, dtype=bool)
            mask[rm] = False
            mask[rm + 1] = False
            idx = idx[mask]
            removed = True
        if not removed:
            break
    return idx


def zigzag_batch(x: np.ndarray, d: float):
    """Pivots and final state of the zig-zag machine over the whole array."""
    cand = zigzag_candidates(x, d)
    out: list = []
    state = zigzag_sparse(ZZ_INITIAL, x[cand].tolist(), cand.tolist(), d, out)
    return out, state


# -- local level / time of an extremum ------------------------------------
FIT_HALF_WIDTH_S = 0.04         # peaks: sharp, keep the window short
TROUGH_HALF_WIDTH_S = 0.07      # troughs: flat (dwell), average more samples
TROUGH_BAND_MM = 3.0            # troughs: only samples this close to the lowest one
FIT_MAX_SIDE = 14               # at most this many samples on each side
FIT_READY_S = max(FIT_HALF_WIDTH_S, TROUGH_HALF_WIDTH_S)
_OFFS = np.arange(-FIT_MAX_SIDE, FIT_MAX_SIDE + 1)


def fit_extremum(t: np.ndarray, x: np.ndarray, centers: np.ndarray, lo: int, hi: int, sign: float):
    """Level and time of peaks (sign=+1) or troughs (sign=-1).

    A weighted least-squares parabola over the samples within
    ``FIT_HALF_WIDTH_S`` (peaks) or ``TROUGH_HALF_WIDTH_S`` (troughs) of each centre sample (at most ``FIT_MAX_SIDE`` on each
    side, indices restricted to [lo, hi]); the vertex is used when the parabola
    bends the right way, clipped to half the window, else the fitted value at
    the centre. This removes most of the noise and quantisation and corrects
    for a sample that misses the true extremum. Returns (level, time) arrays.
    """
    c = np.asarray(centers, dtype=np.intp)
    if c.shape[0] == 0:
        return np.empty(0), np.empty(0)
    w = FIT_HALF_WIDTH_S if sign > 0 else TROUGH_HALF_WIDTH_S
    idx = c[:, None] + _OFFS[None, :]
    valid = (idx >= lo) & (idx <= hi)
    np.clip(idx, lo, hi, out=idx)
    tc = t[c]
    u = (t[idx] - tc[:, None]) * (1.0 / w)
    valid &= np.abs(u) <= 1.0
    y = x[idx] - x[c][:, None]
    if sign < 0:
        # a trough is often a flat dwell between steep walls: fit the bottom only
        valid &= y <= TROUGH_BAND_MM
    wt = valid.astype(np.float64)
    wu = wt * u
    wu2 = wu * u
    s0 = wt.sum(axis=1)
    s1 = wu.sum(axis=1)
    s2 = wu2.sum(axis=1)
    s3 = (wu2 * u).sum(axis=1)
    s4 = (wu2 * u * u).sum(axis=1)
    y0 = (wt * y).sum(axis=1)
    y1 = (wu * y).sum(axis=1)
    y2 = (wu2 * y).sum(axis=1)
    # Cramer's rule for [[s0 s1 s2][s1 s2 s3][s2 s3 s4]] @ [a b c] = [y0 y1 y2]
    m00 = s2 * s4 - s3 * s3
    m01 = s1 * s4 - s3 * s2
    m02 = s1 * s3 - s2 * s2
    det = s0 * m00 - s1 * m01 + s2 * m02
    good = np.abs(det) > 1e-9 * np.maximum(s0, 1.0) ** 3
    dsafe = np.where(good, det, 1.0)
    a = (y0 * m00 - s1 * (y1 * s4 - s3 * y2) + s2 * (y1 * s3 - s2 * y2)) / dsafe
    b = (s0 * (y1 * s4 - s3 * y2) - y0 * m01 + s2 * (s1 * y2 - y1 * s2)) / dsafe
    cc = (s0 * (s2 * y2 - y1 * s3) - s1 * (s1 * y2 - y1 * s2) + y0 * m02) / dsafe
    bends = good & (cc * sign < 0)
    uv = np.where(bends, -b / np.where(bends, 2.0 * cc, 1.0), 0.0)
    np.clip(uv, -0.5, 0.5, out=uv)
    val = np.where(good, a + (b + cc * uv) * uv, 0.0)
    level = x[c] + val
    tv = tc + np.where(good, uv, 0.0) * w
    return level, tv


# -- threshold crossings inside segments ----------------------------------
def _segment_index(starts: np.ndarray, ends: np.ndarray):
    lens = ends - starts + 1
    offs = np.cumsum(lens) - lens
    total = int(lens.sum())
    idx = np.arange(total) - np.repeat(offs - starts, lens)
    return idx, lens, offs


def last_below(x, starts, ends, thr):
    """Last index j in [start, end] with x[j] <= thr (start when none)."""
    if starts.shape[0] == 1:
        s, e = int(starts[0]), int(ends[0])
        hits = np.flatnonzero(x[s:e + 1] <= thr[0])
        return np.array([s + int(hits[-1]) if hits.shape[0] else s], dtype=np.intp)
    idx, lens, offs = _segment_index(starts, ends)
    tr = np.flatnonzero(x[idx] <= np.repeat(thr, lens))
    pos = np.searchsorted(tr, offs + lens) - 1
    posc = np.clip(pos, 0, max(tr.shape[0] - 1, 0))
    if tr.shape[0] == 0:
        return starts.copy()
    ok = (pos >= 0) & (tr[posc] >= offs)
    return np.where(ok, idx[tr[posc]], starts)


def first_below(x, starts, ends, thr):
    """First index j in [start, end] with x[j] <= thr (end when none)."""
    if starts.shape[0] == 1:
        s, e = int(starts[0]), int(ends[0])
        hits = np.flatnonzero(x[s:e + 1] <= thr[0])
        return np.array([s + int(hits[0]) if hits.shape[0] else e], dtype=np.intp)
    idx, lens, offs = _segment_index(starts, ends)
    tr = np.flatnonzero(x[idx] <= np.repeat(thr, lens))
    if tr.shape[0] == 0:
        return ends.copy()
    pos = np.searchsorted(tr, offs)
    posc = np.clip(pos, 0, tr.shape[0] - 1)
    ok = (pos < tr.shape[0]) & (tr[posc] < offs + lens)
    return np.where(ok, idx[tr[posc]], ends)


def crossing_time(t, x, j0, j1, thr):
    """Time where the straight line between samples j0 and j1 crosses thr."""
    x0 = x[j0]
    x1 = x[j1]
    t0 = t[j0]
    dx = x1 - x0
    safe = np.where(dx != 0, dx, 1.0)
    f = np.where(dx != 0, (thr - x0) / safe, 0.0)
    np.clip(f, 0.0, 1.0, out=f)
    return t0 + f * (t[j1] - t0)


# -- resting level ----------------------------------------------------------
QUIET_CLIP_MM = 3.0
MIN_QUIET_SAMPLES = 5


def quiet_level(values: np.ndarray):
    """Robust mean of a quiet stretch: mean of the samples within
    ``QUIET_CLIP_MM`` of the median (the mean, not the median, so that a
    quantised but noisy signal still gives sub-millimetre resolution)."""
    if values.shape[0] < MIN_QUIET_SAMPLES:
        return None
    med = float(np.median(values))
    sel = values[np.abs(values - med) <= QUIET_CLIP_MM]
    return float(sel.mean())


# -- zero level from full releases ---------------------------------------------
RELEASE_WINDOW = 30       # the valleys of the last this many compressions (about one 30:2 cycle)
RELEASE_ANCHOR = 2        # the cluster is anchored on the third-lowest valley (two odd fits do not move it)
RELEASE_BAND_MM = 1.5     # valleys this close to the anchor are "full releases"
_RELEASE_OFFS = np.arange(RELEASE_WINDOW)


def release_levels(valleys: np.ndarray) -> np.ndarray:
    """Per compression k, the level of the full releases among the valleys of
    compressions max(0, k - RELEASE_WINDOW + 1) .. k (its own included, none after it):
    the median of the valleys within ``RELEASE_BAND_MM`` of the third-lowest one
    (the lowest with fewer valleys).

    Causal and element-exact (sorting, counting, picking elements, one addition), so
    the streaming scorer gets bit-identical values with ``release_level`` on its window.
    """
    n = valleys.shape[0]
    if n == 0:
        return np.empty(0)
    w = min(RELEASE_WINDOW, n)
    padded = np.empty(n + w - 1)
    padded[:w - 1] = INF
    padded[w - 1:] = valleys
    rows = np.arange(n)
    win = padded[rows[:, None] + _RELEASE_OFFS[None, :w]]
    win.sort(axis=1)
    a = win[rows, np.minimum(RELEASE_ANCHOR, rows)]
    i0 = np.count_nonzero(win < (a - RELEASE_BAND_MM)[:, None], axis=1)
    i1 = np.count_nonzero(win <= (a + RELEASE_BAND_MM)[:, None], axis=1) - 1
    return (win[rows, (i0 + i1) // 2] + win[rows, (i0 + i1 + 1) // 2]) * 0.5


def release_level(window) -> float:
    """``release_levels`` for one compression: ``window`` = the valleys of the last
    (at most ``RELEASE_WINDOW``) compressions, its own last (plain Python, for streaming)."""
    s = sorted(window)
    a = s[min(RELEASE_ANCHOR, len(s) - 1)]
    lo, hi = a - RELEASE_BAND_MM, a + RELEASE_BAND_MM
    i0 = 0
    while s[i0] < lo:
        i0 += 1
    i1 = len(s) - 1
    while s[i1] > hi:
        i1 -= 1
    return (s[(i0 + i1) // 2] + s[(i0 + i1 + 1) // 2]) * 0.5
