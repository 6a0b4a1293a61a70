"""Score a CPR trace from a CSV file.

    python -m manikin.score FILE.csv [--standard ID] [--stream-chunk N]

The CSV has a header with the columns ``t`` (s) and ``depth_mm`` (mm) in any
order, optionally ``volume_ml``. Prints the session result as JSON. With
``--stream-chunk N`` the samples go through ``StreamScorer`` N at a time; the
JSON is the same. Bad input exits with status 2 and a message on stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

from manikin.scoring import (DEFAULT_STANDARD_ID, StreamScorer, TraceError, list_standards,
                             load_standard, score_trace)
from manikin.scoring.standards import StandardError


def read_csv(path: str):
    """(t, depth, volume or None) lists from a CSV file; raises TraceError."""
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        header = None
        for row in reader:
            if row and any(cell.strip() for cell in row):
                header = [h.strip().lower() for h in row]
                break
        if header is None:
            raise TraceError(f"{path} is empty: expected a header 't,depth_mm' and samples")
        missing = [c for c in ("t", "depth_mm") if c not in header]
        if missing:
            raise TraceError(
                f"{path}: missing column(s) {', '.join(missing)} in header {','.join(header)!r}; "
                "expected 't,depth_mm' (optional 'volume_ml')")
        it, ix = header.index("t"), header.index("depth_mm")
        iv = header.index("volume_ml") if "volume_ml" in header else None
        t, x, v = [], [], ([] if iv is not None else None)
        for line, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            vals = []
            for name, i in (("t", it), ("depth_mm", ix)) + ((("volume_ml", iv),) if iv is not None else ()):
                if i >= len(row) or not row[i].strip():
                    raise TraceError(f"{path}, line {line}: missing value for {name}")
                try:
                    val = float(row[i])
                except ValueError:
                    raise TraceError(f"{path}, line {line}: {name} is not a number: {row[i]!r}") from None
                if not math.isfinite(val):
                    raise TraceError(f"{path}, line {line}: {name} is not finite: {row[i]!r}")
                vals.append(val)
            if t and vals[0] < t[-1]:
                raise TraceError(
                    f"{path}, line {line}: time goes backwards (t={vals[0]:g} s after t={t[-1]:g} s)")
            t.append(vals[0])
            x.append(vals[1])
            if v is not None:
                v.append(vals[2])
    if not t:
        raise TraceError(f"{path} has a header but no samples")
    return t, x, v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m manikin.score", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="CSV file with columns t,depth_mm[,volume_ml]")
    ap.add_argument("--standard", default=DEFAULT_STANDARD_ID,
                    help=f"standard id (default {DEFAULT_STANDARD_ID}; available: {', '.join(list_standards())})")
    ap.add_argument("--stream-chunk", type=int, default=None, metavar="N",
                    help="feed the samples through the streaming scorer N at a time")
    args = ap.parse_args(argv)
    try:
        std = load_standard(args.standard)
        if args.stream_chunk is not None and args.stream_chunk < 1:
            raise TraceError("--stream-chunk must be a positive integer")
        t, x, v = read_csv(args.file)
        if args.stream_chunk is None:
            res = score_trace(t, x, v, standard=std)
        else:
            n = args.stream_chunk
            s = StreamScorer(std)
            for a in range(0, len(t), n):
                s.feed(t[a:a + n], x[a:a + n], None if v is None else v[a:a + n])
            res = s.finish()
    except (TraceError, StandardError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(res.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
