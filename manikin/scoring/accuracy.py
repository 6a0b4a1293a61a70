"""Scorer accuracy per simulator profile: ``python -m manikin.scoring.accuracy [--quick] [PROFILE ...]``.

The same runs as ``tests/manikin/test_scoring_accuracy.py``: each profile as a clean trace at 50, 100
and 200 Hz (seeds 1-3) and as a noisy one (``NOISY``: 0.7 mm noise, jitter, lost samples in bursts)
at 50, 100 and 200 Hz x seeds 100-103, 2-minute sessions. Compressions are matched to the truth by
peak time (within 0.2 s); printed per profile: depth error (scored - true) worst and mean absolute on
the clean traces, mean absolute, 99th percentile and worst on the noisy ones, and recoil likewise.
"""

from __future__ import annotations

import numpy as np

from .core import score_trace

PROFILES = ("good", "shallow", "deep", "fast", "slow", "leaning", "pauses", "fatigue", "erratic",
            "ventilation", "hands_resting")


def _match(truth_tp, found_tp, tol=0.2):
    pairs, used = [], set()
    for j, tp in enumerate(found_tp):
        if truth_tp.shape[0] == 0:
            break
        i = int(np.argmin(np.abs(truth_tp - tp)))
        if abs(truth_tp[i] - tp) <= tol and i not in used:
            used.add(i)
            pairs.append((i, j))
    return pairs


def errors(profile: str, noisy: bool, quick: bool = False):
    """(depth errors, recoil errors, truth count, found count, matched) over the runs of one profile."""
    from manikin.simulator import CLEAN, NOISY, simulate
    if noisy:
        runs = [(100 + s, hz) for s in range(2 if quick else 4) for hz in (50.0, 100.0, 200.0)]
    else:
        runs = [(1, 50.0), (2, 100.0), (3, 200.0)]
    de, re = [], []
    n_truth = n_found = matched = 0
    for seed, hz in runs:
        tr = simulate(profile, duration_s=120.0, rate_hz=hz, seed=seed, **(NOISY if noisy else CLEAN))
        res = score_trace(tr.t_s, tr.depth_mm, tr.volume_ml)
        a, T = res.arrays, tr.truth
        pairs = _match(T.t_peak, a["t_peak"])
        ti = np.array([p[0] for p in pairs], dtype=int)
        fj = np.array([p[1] for p in pairs], dtype=int)
        de.append(a["depth_mm"][fj] - T.depth_mm[ti])
        re.append(a["recoil_mm"][fj] - T.recoil_mm[ti])
        n_truth += T.count
        n_found += res.count
        matched += len(pairs)
    return np.concatenate(de), np.concatenate(re), n_truth, n_found, matched


def run(out=print, quick: bool = False, profiles=PROFILES) -> dict:
    out("| profile | clean depth worst / MAE (mm) | noisy depth MAE / p99 / worst (mm) | "
        "clean recoil worst (mm) | noisy recoil MAE (mm) | noisy found / invented |")
    out("|---|---|---|---|---|---|")
    figures = {}
    for p in profiles:
        cd, cr, *_ = errors(p, False, quick)
        nd, nr, nt, nf, nm = errors(p, True, quick)
        f = {
            "clean_depth_worst": float(np.abs(cd).max()), "clean_depth_mae": float(np.abs(cd).mean()),
            "noisy_depth_mae": float(np.abs(nd).mean()),
            "noisy_depth_p99": float(np.percentile(np.abs(nd), 99)),
            "noisy_depth_worst": float(np.abs(nd).max()),
            "clean_recoil_worst": float(np.abs(cr).max()), "noisy_recoil_mae": float(np.abs(nr).mean()),
            "noisy_truth": nt, "noisy_matched": nm, "noisy_invented": nf - nm,
        }
        figures[p] = f
        out(f"| `{p}` | {f['clean_depth_worst']:.2f} / {f['clean_depth_mae']:.2f} | "
            f"{f['noisy_depth_mae']:.2f} / {f['noisy_depth_p99']:.2f} / {f['noisy_depth_worst']:.1f} | "
            f"{f['clean_recoil_worst']:.2f} | {f['noisy_recoil_mae']:.2f} | {nm}/{nt} / {nf - nm} |")
    return figures


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m manikin.scoring.accuracy")
    ap.add_argument("profiles", nargs="*", help=f"profiles (default: all: {', '.join(PROFILES)})")
    ap.add_argument("--quick", action="store_true", help="half the noisy seeds")
    args = ap.parse_args(argv)
    run(quick=args.quick, profiles=args.profiles or PROFILES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
