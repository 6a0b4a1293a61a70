"""Realistic CPR depth traces with ground truth.

A session is: a quiet lead-in, then cycles of ``compressions_per_cycle``
compressions separated by pauses for breaths (and, optionally, long
interruptions), then a quiet tail. Each compression is a raised-cosine push
from the previous recoil level to its peak depth and a raised-cosine release to
its own recoil level (leaning leaves it above rest), followed by a short dwell.
The last compression of a cycle is released fully; during the pause for breaths
the hands come off (the chest at rest), or with ``pause_hands_mm`` stay on the
chest pressing it a few millimetres and drifting (``pause_drift_mm``), also
during the lead-in; the next compression then starts from that level.
Rate, depth and leaning vary from compression to compression, depth fades with
fatigue. The trace is then sampled like a BLE manikin would: nominal rate
``rate_hz`` with clock jitter, lost samples (isolated and in bursts), sensor
noise, a resting offset and 1 mm quantisation.

Ground truth (``SimTrace.truth``) uses the scorer's definitions: depth and
recoil above the true rest level, start/end where the clean waveform leaves /
reaches its resting or leaning level, pauses = gaps longer than
``pause_threshold_s`` between one compression's end and the next one's start,
CCF = 1 - total pause / (last end - first start), mean rate = mean of
60 / peak-to-peak interval inside cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np


@dataclass(frozen=True)
class SimParams:
    rate_cpm: float = 110.0          # mean compression rate
    rate_sd_cpm: float = 3.0         # compression-to-compression variation
    depth_mm: float = 55.0           # mean peak depth above rest
    depth_sd_mm: float = 2.0
    fatigue: float = 0.0             # fraction of depth lost by the end of the session
    lean_mm: float = 0.0             # mean residual displacement between compressions
    lean_sd_mm: float = 0.0
    lean_fraction: float = 1.0       # share of compressions with leaning
    push_fraction: float = 0.42      # share of the period spent pushing down
    release_fraction: float = 0.42   # share of the period spent releasing
    compressions_per_cycle: int = 30
    breath_pause_s: tuple = (3.5, 5.5)   # uniform range of the pause for breaths
    interruptions: int = 0           # long interruptions (besides breath pauses)
    interruption_s: tuple = (11.0, 16.0)
    hesitations: int = 0             # short stops within a cycle (below/above pause threshold)
    hesitation_s: tuple = (0.8, 1.6)
    lead_in_s: tuple = (1.5, 3.0)
    tail_s: tuple = (1.0, 2.0)
    ventilation: bool = False        # produce a lung-volume channel
    breaths_per_cycle: int = 2
    breath_volume_ml: float = 550.0
    breath_volume_sd_ml: float = 40.0
    offset_mm: float | None = None   # resting level of the sensor (None: random in 0.5-3 mm)
    noise_mm: float = 0.0            # Gaussian sensor noise (sd)
    quantize_mm: float = 1.0         # 0 = no quantisation
    jitter: float = 0.0              # timing jitter as a fraction of the sample period (sd)
    loss: float = 0.0                # probability of losing each sample
    burst_loss: float = 0.0          # probability that a lost sample starts a burst (2-4 samples)
    pause_threshold_s: float = 2.0
    pause_hands_mm: tuple = (0.0, 0.0)   # uniform range of the hands' pressure during pauses and the lead-in
    pause_drift_mm: float = 0.0      # the hands' level drifts by up to +/- this much over a pause
    lead_in_hands: bool = True       # with pause_hands_mm: the hands also rest on the chest in the lead-in


PROFILES: dict[str, SimParams] = {
    "good": SimParams(),
    "shallow": SimParams(depth_mm=41.0, depth_sd_mm=3.0),
    "deep": SimParams(depth_mm=67.0, depth_sd_mm=3.0),
    "fast": SimParams(rate_cpm=138.0, rate_sd_cpm=4.0, depth_mm=52.0),
    "slow": SimParams(rate_cpm=88.0, rate_sd_cpm=3.0),
    "leaning": SimParams(lean_mm=9.0, lean_sd_mm=2.0, lean_fraction=0.9),
    "pauses": SimParams(breath_pause_s=(7.0, 11.0), interruptions=2, interruption_s=(12.0, 18.0)),
    "fatigue": SimParams(depth_mm=57.0, fatigue=0.3, rate_sd_cpm=5.0),
    "erratic": SimParams(rate_cpm=115.0, rate_sd_cpm=14.0, depth_mm=50.0, depth_sd_mm=10.0,
                         lean_mm=3.0, lean_sd_mm=3.0, lean_fraction=0.5, hesitations=3),
    "ventilation": SimParams(ventilation=True),
    "hands_resting": SimParams(pause_hands_mm=(2.0, 4.0), pause_drift_mm=1.0),
    # sensor conditions, combinable with any profile through overrides
    "noisy": SimParams(noise_mm=0.7, jitter=0.15, loss=0.03, burst_loss=0.3),
}

#: overrides that turn any profile into a realistic imperfect recording
NOISY = {"noise_mm": 0.7, "jitter": 0.15, "loss": 0.03, "burst_loss": 0.3}
#: overrides for an ideal recording (no noise, no loss, no quantisation)
CLEAN = {"noise_mm": 0.0, "jitter": 0.0, "loss": 0.0, "quantize_mm": 0.0}


@dataclass
class SimTruth:
    t_start: np.ndarray
    t_peak: np.ndarray
    t_end: np.ndarray
    depth_mm: np.ndarray
    recoil_mm: np.ndarray
    rate_cpm: np.ndarray          # nan for the first compression of a cycle
    cycle: np.ndarray             # cycle index of each compression
    pauses: list                  # dicts t_start, t_end, duration_s
    ccf: float
    mean_rate_cpm: float
    rest_mm: float
    breath_times_s: list = field(default_factory=list)
    breath_volumes_ml: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.t_peak.shape[0])

    def compressions(self) -> list:
        return [{"t_start": float(a), "t_peak": float(b), "t_end": float(c), "depth_mm": float(d),
                 "recoil_mm": float(e), "rate_cpm": None if np.isnan(r) else float(r)}
                for a, b, c, d, e, r in zip(self.t_start, self.t_peak, self.t_end,
                                            self.depth_mm, self.recoil_mm, self.rate_cpm)]


@dataclass
class SimTrace:
    t_s: np.ndarray
    depth_mm: np.ndarray
    volume_ml: np.ndarray | None
    truth: SimTruth
    params: SimParams
    rate_hz: float

    def to_csv(self) -> str:
        cols = ["t", "depth_mm"] + (["volume_ml"] if self.volume_ml is not None else [])
        lines = [",".join(cols)]
        if self.volume_ml is None:
            lines += [f"{a:.4f},{b:g}" for a, b in zip(self.t_s.tolist(), self.depth_mm.tolist())]
        else:
            lines += [f"{a:.4f},{b:g},{c:.1f}" for a, b, c in
                      zip(self.t_s.tolist(), self.depth_mm.tolist(), self.volume_ml.tolist())]
        return "\n".join(lines) + "\n"


def _params(profile, overrides) -> SimParams:
    if isinstance(profile, SimParams):
        base = profile
    else:
        try:
            base = PROFILES[profile]
        except KeyError:
            raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}") from None
    names = {f.name for f in fields(SimParams)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise ValueError(f"unknown simulator parameters: {', '.join(bad)}")
    return replace(base, **overrides)


def _schedule(p: SimParams, duration_s: float, rng: np.random.Generator):
    """Compression events (start, push, release, depth, recoil, cycle) and breaths."""
    t = rng.uniform(*p.lead_in_s)
    end_limit = duration_s - rng.uniform(*p.tail_s)
    hands_on = p.pause_hands_mm[1] > 0

    def hands():
        if not hands_on:
            return (0.0, 0.0)
        return (float(rng.uniform(*p.pause_hands_mm)),
                float(rng.uniform(-p.pause_drift_mm, p.pause_drift_mm)) if p.pause_drift_mm > 0 else 0.0)

    lead_hands = hands() if p.lead_in_hands else (0.0, 0.0)
    starts, pushes, releases, depths, recoils, cycles = [], [], [], [], [], []
    pause_hands = []   # per compression: (level, drift) of the hands during the pause after it
    breath_events = []   # (t_start, volume)
    cycle = 0
    n_in_cycle = 0
    # choose where long interruptions and hesitations happen (after which compression index)
    est_total = int(max(1, (end_limit - t) * p.rate_cpm / 60.0 * 0.8))
    interrupt_at = set(rng.choice(np.arange(10, max(11, est_total - 10)), size=p.interruptions,
                                  replace=False).tolist()) if p.interruptions else set()
    hesitate_at = set(rng.choice(np.arange(5, max(6, est_total - 5)), size=p.hesitations,
                                 replace=False).tolist()) if p.hesitations else set()
    k = 0
    while True:
        rate = max(40.0, p.rate_cpm + p.rate_sd_cpm * rng.standard_normal())
        period = 60.0 / rate
        tp = period * np.clip(p.push_fraction + 0.03 * rng.standard_normal(), 0.25, 0.6)
        tr = period * np.clip(p.release_fraction + 0.03 * rng.standard_normal(), 0.25, 0.6)
        if t + tp + tr > end_limit:
            break
        frac = (t / duration_s) if duration_s > 0 else 0.0
        depth = p.depth_mm * (1.0 - p.fatigue * frac) + p.depth_sd_mm * rng.standard_normal()
        depth = float(np.clip(depth, 15.0, 90.0))
        last_of_cycle = n_in_cycle == p.compressions_per_cycle - 1
        if p.lean_mm > 0 and rng.random() < p.lean_fraction and not last_of_cycle:
            lean = float(np.clip(p.lean_mm + p.lean_sd_mm * rng.standard_normal(), 0.0, depth - 15.0))
        else:
            lean = 0.0
        starts.append(t)
        pushes.append(tp)
        releases.append(tr)
        depths.append(depth)
        recoils.append(lean)
        cycles.append(cycle)
        pause_hands.append((0.0, 0.0))
        n_in_cycle += 1
        t_end = t + tp + tr
        dwell = max(0.0, period - tp - tr)
        if last_of_cycle:
            pause = rng.uniform(*p.breath_pause_s)
            if p.ventilation:
                bt = t_end + 0.6 + 0.2 * rng.random()
                for _ in range(p.breaths_per_cycle):
                    vol = max(50.0, p.breath_volume_ml + p.breath_volume_sd_ml * rng.standard_normal())
                    breath_events.append((bt, vol))
                    bt += 1.0 + 1.2 + 0.2 * rng.random()
                pause = max(pause, bt - t_end + 0.3)
            pause_hands[-1] = hands()
            t = t_end + pause
            cycle += 1
            n_in_cycle = 0
        elif k in interrupt_at:
            t = t_end + rng.uniform(*p.interruption_s)
            cycle += 1
            n_in_cycle = 0
            recoils[-1] = 0.0      # hands come off
        elif k in hesitate_at:
            t = t_end + rng.uniform(*p.hesitation_s)
            recoils[-1] = 0.0
        else:
            t = t_end + dwell
        k += 1
    if recoils:
        recoils[-1] = 0.0          # the session ends: hands off
        pause_hands[-1] = (0.0, 0.0)
    return (np.array(starts), np.array(pushes), np.array(releases), np.array(depths),
            np.array(recoils), np.array(cycles, dtype=int), breath_events,
            np.array(pause_hands, dtype=float).reshape(-1, 2), lead_hands)


def _waveform(ts, starts, pushes, releases, depths, recoils, hands=None, lead_hands=(0.0, 0.0)):
    """Clean displacement above rest at times ``ts`` (vectorised). ``hands``: per
    compression (level, drift) of the hands resting on the chest in the pause after it."""
    y = np.zeros_like(ts)
    if starts.shape[0] == 0:
        return y
    if hands is None:
        hands = np.zeros((starts.shape[0], 2))
    h_lvl, h_drift = hands[:, 0], hands[:, 1]
    prev_level = np.empty_like(recoils)
    prev_level[0] = 0.0
    prev_level[1:] = recoils[:-1]
    # after a long gap the chest has gone back to rest (or to where the resting hands
    # hold it): a compression starts from its predecessor's recoil only if it follows it directly
    gap = np.empty_like(starts)
    gap[0] = np.inf
    gap[1:] = starts[1:] - (starts[:-1] + pushes[:-1] + releases[:-1])
    after_hands = np.empty_like(starts)
    after_hands[0] = lead_hands[0] + lead_hands[1]
    after_hands[1:] = h_lvl[:-1] + h_drift[:-1]
    prev_level = np.where(gap > 0.5, after_hands, prev_level)
    k = np.searchsorted(starts, ts, side="right") - 1
    before = k < 0
    kc = np.clip(k, 0, None)
    tau = ts - starts[kc]
    tp, tr = pushes[kc], releases[kc]
    a, d, r = prev_level[kc], depths[kc], recoils[kc]
    push = tau < tp
    rel = (tau >= tp) & (tau < tp + tr)
    y_push = a + (d - a) * 0.5 * (1.0 - np.cos(np.pi * np.clip(tau / tp, 0, 1)))
    y_rel = r + (d - r) * 0.5 * (1.0 + np.cos(np.pi * np.clip((tau - tp) / tr, 0, 1)))
    # after the release: hold the recoil level; if the next compression is far
    # (pause), relax to rest over 0.3 s
    nxt = np.append(starts[1:], np.inf)[kc]
    pause_len = nxt - (starts[kc] + tp + tr)
    far = pause_len > 0.5
    hold = tau - tp - tr
    # resting hands settle 0.2-0.6 s after the release, then drift linearly over the pause
    with np.errstate(invalid="ignore"):
        frac = np.where(np.isfinite(pause_len), np.clip(hold / np.where(far, pause_len, 1.0), 0, 1), 0.0)
    h = (h_lvl[kc] + h_drift[kc] * frac) * np.clip((hold - 0.2) / 0.4, 0.0, 1.0)
    y_after = np.where(far, r * np.clip(1.0 - hold / 0.3, 0.0, 1.0) + h, r)
    y = np.where(push, y_push, np.where(rel, y_rel, y_after))
    if lead_hands[0] > 0:
        lead = (lead_hands[0] + lead_hands[1] * np.clip(ts / starts[0], 0.0, 1.0)) * np.clip(ts / 0.4, 0, 1)
        y[before] = lead[before]
    else:
        y[before] = 0.0
    return y


def _volume(ts, breath_events):
    v = np.zeros_like(ts)
    for bt, vol in breath_events:
        ins = (ts >= bt) & (ts < bt + 1.0)
        v[ins] = np.maximum(v[ins], vol * 0.5 * (1 - np.cos(np.pi * (ts[ins] - bt) / 1.0)))
        exh = (ts >= bt + 1.0) & (ts < bt + 2.2)
        v[exh] = np.maximum(v[exh], vol * 0.5 * (1 + np.cos(np.pi * (ts[exh] - bt - 1.0) / 1.2)))
    return v


def _sample_times(duration_s, rate_hz, p: SimParams, rng):
    dt = 1.0 / rate_hz
    n = int(duration_s * rate_hz) + 1
    ts = np.arange(n) * dt
    if p.jitter > 0:
        ts = ts + np.clip(p.jitter * dt * rng.standard_normal(n), -0.45 * dt, 0.45 * dt)
        ts[0] = max(ts[0], 0.0)
    if p.loss > 0:
        lost = rng.random(n) < p.loss
        if p.burst_loss > 0:
            burst = np.flatnonzero(lost & (rng.random(n) < p.burst_loss))
            for extra in (1, 2, 3):
                sel = burst[rng.random(burst.shape[0]) < 0.7] + extra
                lost[sel[sel < n]] = True
        lost[0] = False
        ts = ts[~lost]
    return ts


def simulate(profile="good", duration_s: float = 120.0, rate_hz: float = 100.0, seed: int | None = 0,
             **overrides) -> SimTrace:
    """Simulate one session. ``profile``: a name from ``PROFILES`` or a
    ``SimParams``; ``overrides``: any ``SimParams`` field (e.g. ``**NOISY``)."""
    p = _params(profile, overrides)
    rng = np.random.default_rng(seed)
    (starts, pushes, releases, depths, recoils, cycles, breath_events, hands,
     lead_hands) = _schedule(p, duration_s, rng)
    ts = _sample_times(duration_s, rate_hz, p, rng)
    clean = _waveform(ts, starts, pushes, releases, depths, recoils, hands, lead_hands)
    offset = float(rng.uniform(0.5, 3.0)) if p.offset_mm is None else float(p.offset_mm)
    x = clean + offset
    if p.noise_mm > 0:
        x = x + p.noise_mm * rng.standard_normal(x.shape[0])
    if p.quantize_mm > 0:
        x = np.round(x / p.quantize_mm) * p.quantize_mm
    vol = None
    if p.ventilation:
        vol = _volume(ts, breath_events) + (2.0 * rng.standard_normal(ts.shape[0]) if p.noise_mm > 0 else 0.0)
    truth = _truth(p, starts, pushes, releases, depths, recoils, breath_events, offset)
    return SimTrace(t_s=ts, depth_mm=x, volume_ml=vol, truth=truth, params=p, rate_hz=rate_hz)


def _truth(p, starts, pushes, releases, depths, recoils, breath_events, offset) -> SimTruth:
    t_start = starts
    t_peak = starts + pushes
    t_end = starts + pushes + releases
    n = t_start.shape[0]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (t_start[1:] - t_end[:-1]) > p.pause_threshold_s
    cyc = np.cumsum(new) - 1
    rate = np.full(n, np.nan)
    if n > 1:
        rate[1:] = 60.0 / np.diff(t_peak)
        rate[new] = np.nan
    pauses = [{"t_start": float(t_end[k - 1]), "t_end": float(t_start[k]),
               "duration_s": float(t_start[k] - t_end[k - 1])} for k in np.flatnonzero(new)[1:]]
    span = float(t_end[-1] - t_start[0]) if n else 0.0
    ccf = 1.0 - sum(q["duration_s"] for q in pauses) / span if span > 0 else 0.0
    valid = ~np.isnan(rate)
    mean_rate = float(np.mean(rate[valid])) if valid.any() else float("nan")
    # recoil truth: level after the release; a leaning level is also what the
    # chest shows until the next compression
    return SimTruth(t_start=t_start, t_peak=t_peak, t_end=t_end, depth_mm=depths.copy(),
                    recoil_mm=recoils.copy(), rate_cpm=rate, cycle=cyc, pauses=pauses, ccf=ccf,
                    mean_rate_cpm=mean_rate, rest_mm=offset,
                    breath_times_s=[bt + 1.0 for bt, _ in breath_events],
                    breath_volumes_ml=[v for _, v in breath_events])


def simulate_chunks(profile="good", duration_s: float = 600.0, rate_hz: float = 100.0, seed: int = 0,
                    chunk: int = 10, **overrides):
    """Yield ``(t_s, depth_mm, volume_ml)`` chunks of ``chunk`` samples of one
    simulated session (for virtual manikins and streaming tests)."""
    tr = simulate(profile, duration_s=duration_s, rate_hz=rate_hz, seed=seed, **overrides)
    for a in range(0, tr.t_s.shape[0], chunk):
        yield (tr.t_s[a:a + chunk], tr.depth_mm[a:a + chunk],
               None if tr.volume_ml is None else tr.volume_ml[a:a + chunk])
