"""python -m manikin.decode: capture file in, CSV t,depth_mm out."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from manikin import decode
from manikin.protocols import laerdal_qcpr as lq
from manikin.protocols import open_manikin as om

T0 = 1_700_000_000.25
REPO = Path(__file__).resolve().parents[2]


def capture_lines(n=10, start_ticks=0xFF80, skip=()):
    lines = ["# host_t payload"]
    ticks = start_ticks
    for i in range(n):
        if i not in skip:
            lines.append(f"{T0 + i * 32 / 2048:.6f} {lq.encode_sample(ticks, 10 + i).hex()}")
        ticks = (ticks + 32) % 0x10000
    return lines


def run_main(tmp_path, lines, *args, capsys):
    f = tmp_path / "cap.txt"
    f.write_text("\n".join(lines) + "\n")
    rc = decode.main(["--protocol", "laerdal-qcpr", str(f), *args])
    out, err = capsys.readouterr()
    return rc, list(csv.reader(io.StringIO(out))), err


def test_csv_on_manikin_clock_unwrapped_and_anchored(tmp_path, capsys):
    rc, rows, err = run_main(tmp_path, capture_lines(10), capsys=capsys)
    assert rc == 0
    assert rows[0] == ["t", "depth_mm"]
    ts = [float(r[0]) for r in rows[1:]]
    assert ts[0] == pytest.approx(T0, abs=1e-6)
    assert [round((b - a) * 2048, 3) for a, b in zip(ts, ts[1:])] == [32.0] * 9  # across the wrap
    assert [r[1] for r in rows[1:]] == [str(10 + i) for i in range(10)]
    assert "decoded 10 samples" in err


def test_lost_samples_leave_a_time_gap_and_garbage_lines_are_skipped(tmp_path, capsys):
    lines = capture_lines(8, skip=(3, 4))
    lines.insert(3, "not a line")
    lines.insert(5, f"{T0 + 0.05:.6f} zz-not-hex")
    lines.insert(6, f"{T0 + 0.06:.6f} 0102")
    rc, rows, err = run_main(tmp_path, lines, capsys=capsys)
    assert rc == 0
    ts = [float(r[0]) for r in rows[1:]]
    assert len(ts) == 6
    assert round((ts[3] - ts[2]) * 2048) == 96
    assert "lost 2, malformed 3" in err


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    rc = decode.main(["--protocol", "laerdal-qcpr", str(tmp_path / "nope.txt")])
    assert rc == 2
    assert "cannot read" in capsys.readouterr().err


def test_open_manikin_capture_has_volume_column():
    records = [(T0 + 0.01 * i, om.encode_packet(i, 5000 + 10 * i, 40.5, volume_ml=100 + i)) for i in range(5)]
    samples, stats = decode.decode_records("open-manikin", records)
    buf = io.StringIO()
    decode.write_csv(samples, buf)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "t,depth_mm,volume_ml"
    assert lines[1].endswith(",40.5,100")
    assert stats.decoded == 5


def test_module_runs_from_the_command_line(tmp_path):
    f = tmp_path / "cap.txt"
    f.write_text("\n".join(capture_lines(4)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "manikin.decode", "--protocol", "laerdal-qcpr", str(f)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "t,depth_mm" and len(proc.stdout.splitlines()) == 5
