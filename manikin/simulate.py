"""``python -m manikin.simulate``: virtual manikins through the real bridge.

Makes N virtual Little Anne manikins (or open-manikin ones) that emit the
real byte format through a fake bleak client; everything above the radio
(decoders, sessions, batching, spool, uplink) is the real bridge code::

    python -m manikin.simulate --count 4 --profile leaning \\
        --server ws://127.0.0.1:8000 --token STATION_TOKEN

Without a token (``--token`` or ``MANIKIN_STATION_TOKEN``) nothing is sent:
a per-manikin summary is printed once a second instead. The depth comes from
``manikin.simulator.simulate(profile, ...)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from manikin.bridge.__main__ import PROFILES
from manikin.bridge.__main__ import main as bridge_main


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m manikin.simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1, help="number of virtual manikins (default 1)")
    p.add_argument("--profile", choices=PROFILES, default="good", help="depth profile (default good)")
    p.add_argument("--protocol", choices=("laerdal-qcpr", "open-manikin"), default="laerdal-qcpr")
    p.add_argument("--server", default=None, help="server base URL, e.g. ws://127.0.0.1:8000")
    p.add_argument("--token", default=None, help="station token (default: env MANIKIN_STATION_TOKEN)")
    p.add_argument("--spool", default=None, help="spool database (default: the bridge's)")
    p.add_argument("--drop-rate", type=float, default=0.0, help="fraction of notifications to drop")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.count < 1:
        p.error("--count must be at least 1")
    token = args.token or os.environ.get("MANIKIN_STATION_TOKEN")
    bridge_args = ["--fake", str(args.count), "--profile", args.profile, "--fake-protocol", args.protocol,
                   "--drop-rate", str(args.drop_rate)]
    if token:
        bridge_args += ["--token", token]
        if args.server:
            bridge_args += ["--server", args.server]
        if args.spool:
            bridge_args += ["--spool", args.spool]
    else:
        print("no --token given: not sending to a server, printing a summary instead", file=sys.stderr)
        bridge_args += ["--no-upload"]
    if args.duration:
        bridge_args += ["--duration", str(args.duration)]
    if args.verbose:
        bridge_args += ["-v"]
    return bridge_main(bridge_args, prog="python -m manikin.simulate")


if __name__ == "__main__":
    sys.exit(main())
