"""Benchmark load: B virtual bridges with M virtual Little Anne manikins each, in one process.

``python -m manikin.bench.bridges --server ws://… --tokens T1,T2 --manikins 6 --duration 30 --spool-dir D``
prints one JSON line: samples and frames each bridge handed to its spool, per device, and the spool
left over. Each bridge is the production Bridge with the fake radio, so decoding, batching, spooling
and upload are the real code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from manikin.bridge.app import Bridge, BridgeConfig
from manikin.bridge.spool import Spool
from manikin.virtual import make_fleet


async def run(server: str, tokens: list[str], manikins: int, duration_s: float, spool_dir: str,
              profile: str) -> dict:
    bridges, sent = [], []
    for i, token in enumerate(tokens):
        config = BridgeConfig(server=server, token=token, spool_path=os.path.join(spool_dir, f"spool-{i}.sqlite3"),
                              scan_timeout_s=0.1)
        bridge = Bridge(config, ble=make_fleet(manikins, profile, seed=100 * i))
        counts = {"samples": 0, "frames": 0}
        append = bridge.spool.append

        def capture(frame, counts=counts, append=append):
            counts["frames"] += 1
            counts["samples"] += len(frame.get("t") or [])
            return append(frame)

        bridge.spool.append = capture
        bridges.append(bridge)
        sent.append(counts)
    tasks = [asyncio.create_task(b.run()) for b in bridges]
    await asyncio.sleep(duration_s)
    for b in bridges:
        b.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return {
        "samples_sent": sum(c["samples"] for c in sent),
        "frames_sent": sum(c["frames"] for c in sent),
        "spooled_left": sum(Spool(b.config.spool_path).count() for b in bridges),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--manikins", type=int, default=6)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--spool-dir", required=True)
    p.add_argument("--profile", default="good")
    args = p.parse_args()
    result = asyncio.run(run(args.server, args.tokens.split(","), args.manikins, args.duration, args.spool_dir,
                             args.profile))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
