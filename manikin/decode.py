"""Decode a capture of manikin notifications into a depth time series.

Usage::

    python -m manikin.decode --protocol laerdal-qcpr FILE > depth.csv

Each line of FILE is ``<host receive time in s> <payload hex>`` (blank lines
and lines starting with ``#`` are skipped; the hex may contain ``:`` or
spaces). Output is CSV ``t,depth_mm`` (plus ``volume_ml`` when the protocol
carried any) on the manikin's own clock: ticks unwrapped and anchored at the
first sample's host time, ready for ``python -m manikin.score``.

The file is read twice: the first pass calibrates the tick length over the
whole capture, the second decodes with that fixed tick length, so every
sample of a file shares one time base. Malformed lines are counted and
reported on stderr, never fatal. ``-`` reads standard input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Iterable, Iterator, Optional, TextIO

from manikin.protocols import PROTOCOLS, DecoderStats, Sample, get_protocol

log = logging.getLogger("manikin.decode")


def parse_capture_lines(lines: Iterable[str], stats: Optional[DecoderStats] = None) -> Iterator[tuple[float, bytes]]:
    """Yield ``(host_t, payload)`` from capture lines; bad lines count as malformed."""
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        try:
            host_t = float(parts[0])
            hex_text = parts[1].replace(":", "").replace(" ", "").replace("\t", "")
            payload = bytes.fromhex(hex_text)
        except (IndexError, ValueError):
            if stats is not None:
                stats.malformed += 1
            log.warning("line %d: not '<time> <hex>': %r", lineno, line[:80])
            continue
        yield host_t, payload


def decode_records(protocol_id: str, records: list[tuple[float, bytes]], *, calibrate: bool = True) -> tuple[list[Sample], DecoderStats]:
    """Decode ``(host_t, payload)`` records; returns samples and the decoder's stats.

    With ``calibrate`` the tick length is fitted over all records first.
    """
    spec = get_protocol(protocol_id)
    tick_s = None
    if calibrate:
        quiet = logging.getLogger("manikin.decode.calibration-pass")
        quiet.disabled = True  # the second pass reports malformed packets; don't log them twice
        probe = spec.new_decoder(logger=quiet)
        for host_t, payload in records:
            probe.feed(payload, host_t)
        tick_s = probe.tick_s
    decoder = spec.new_decoder(calibrate=False, **({} if tick_s is None else {"tick_s": tick_s}))
    samples: list[Sample] = []
    for host_t, payload in records:
        samples.extend(decoder.feed(payload, host_t))
    return samples, decoder.stats


def write_csv(samples: list[Sample], out: TextIO) -> None:
    with_volume = any(s.volume_ml is not None for s in samples)
    out.write("t,depth_mm,volume_ml\n" if with_volume else "t,depth_mm\n")
    for s in samples:
        depth = f"{s.depth_mm:g}"
        if with_volume:
            vol = "" if s.volume_ml is None else f"{s.volume_ml:g}"
            out.write(f"{s.t_s:.6f},{depth},{vol}\n")
        else:
            out.write(f"{s.t_s:.6f},{depth}\n")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m manikin.decode", description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS), help="protocol id")
    parser.add_argument("file", help="capture file, one '<host time s> <payload hex>' per line; '-' for stdin")
    parser.add_argument("--no-calibrate", action="store_true", help="use the nominal tick length")
    parser.add_argument("-o", "--output", help="write CSV here instead of stdout")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    line_stats = DecoderStats()
    try:
        if args.file == "-":
            records = list(parse_capture_lines(sys.stdin, line_stats))
        else:
            with open(args.file, encoding="utf-8", errors="replace") as fh:
                records = list(parse_capture_lines(fh, line_stats))
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    samples, stats = decode_records(args.protocol, records, calibrate=not args.no_calibrate)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            write_csv(samples, out)
    else:
        write_csv(samples, sys.stdout)
    print(
        f"decoded {stats.decoded} samples; lost {stats.lost}, malformed {stats.malformed + line_stats.malformed}, "
        f"duplicates {stats.duplicates}, wraps {stats.wraps}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
