"""``python -m manikin.score``: JSON out, clear errors on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from manikin.simulator import NOISY, simulate

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run([sys.executable, "-m", "manikin.score", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "good.csv"
    p.write_text(simulate("ventilation", duration_s=50.0, seed=3, **NOISY).to_csv())
    return p


def test_good_file_prints_the_session_json(good_csv):
    r = run(good_csv)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("count", "mean_depth_mm", "mean_rate_cpm", "pct_depth_ok", "pct_rate_ok",
                "pct_recoil_ok", "pauses", "longest_pause_s", "ccf", "cycles", "breaths", "score",
                "passed", "standard", "feedback", "compressions"):
        assert key in d
    assert d["standard"] == "crc-first-aider-2024"
    assert d["count"] > 50 and d["breaths"]["count"] >= 2
    c = d["compressions"][1]
    assert set(c) == {"t_start", "t_peak", "t_end", "depth_mm", "recoil_mm", "rate_cpm",
                      "depth_ok", "rate_ok", "recoil_ok"}


@pytest.mark.parametrize("chunk", [1, 10, 333])
def test_stream_chunk_gives_identical_json(good_csv, chunk):
    a = run(good_csv)
    b = run(good_csv, "--stream-chunk", chunk)
    assert b.returncode == 0, b.stderr
    assert a.stdout == b.stdout


def test_other_standard(good_csv):
    r = run(good_csv, "--standard", "aha-2020")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["standard"] == "aha-2020"


def test_depth_only_file_with_reordered_columns(tmp_path):
    tr = simulate("good", duration_s=20.0, seed=1)
    p = tmp_path / "x.csv"
    p.write_text("depth_mm,t\n" + "".join(f"{x:g},{t:.4f}\n" for t, x in zip(tr.t_s, tr.depth_mm)))
    r = run(p)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["breaths"] is None


BAD = {
    "missing_column": ("t,volume_ml\n0,1\n", "missing column"),
    "not_a_number": ("t,depth_mm\n0,1\n0.01,abc\n", "not a number"),
    "missing_value": ("t,depth_mm\n0,1\n0.01,\n", "missing value"),
    "backwards": ("t,depth_mm\n0,1\n0.02,1\n0.01,1\n", "backwards"),
    "empty": ("", "empty"),
    "header_only": ("t,depth_mm\n", "no samples"),
    "infinite": ("t,depth_mm\n0,inf\n", "not finite"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_non_zero_with_a_message(tmp_path, case):
    text, msg = BAD[case]
    p = tmp_path / f"{case}.csv"
    p.write_text(text)
    for extra in ((), ("--stream-chunk", "5")):
        r = run(p, *extra)
        assert r.returncode != 0
        assert r.stdout == ""
        assert msg in r.stderr.lower(), r.stderr
        assert "Traceback" not in r.stderr


def test_missing_file_and_unknown_standard(tmp_path, good_csv):
    r = run(tmp_path / "nope.csv")
    assert r.returncode != 0 and "cannot read" in r.stderr
    r = run(good_csv, "--standard", "nope")
    assert r.returncode != 0 and "unknown standard" in r.stderr
    r = run(good_csv, "--stream-chunk", "0")
    assert r.returncode != 0 and "positive" in r.stderr
