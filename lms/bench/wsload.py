"""A WebSocket load generator: many connections, each sending request messages at a bounded rate.

Runs in its own process (``python -m lms.bench.wsload URL --spec FILE``) so that it does not share
an interpreter with the server it measures. The spec is a JSON list, one entry per connection
(connection i uses entry ``i % len(spec)``): ``{"headers": {"Cookie": ..., "Origin": ...},
"messages": ["<json text>", ...]}``; a message may contain ``{seq}``, replaced by a counter.
Each connection sends one message, waits for its reply, and sends the next no sooner than
``1 / --rate`` seconds after the previous one (closed loop: a slow server lowers the rate, never
queues without bound). Prints JSON: replies, errors (replies of type ``error`` and failed
connections), latencies in seconds, elapsed time, connections that opened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time

import websockets


async def _connection(url: str, entry: dict, rate: float, start_at: float, stop_at: float, out: dict,
                      gate: asyncio.Semaphore):
    try:
        async with gate:
            ws = await websockets.connect(url, additional_headers=entry.get("headers", {}), max_size=2 ** 20,
                                          open_timeout=60, ping_interval=None, compression=None)
    except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError) as exc:
        out["errors"].append(f"connect: {type(exc).__name__}")
        return
    out["opened"] += 1
    messages = entry["messages"]
    i = 0
    # Start at a random moment of the first period: connections do not beat in step.
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()) + random.random() / rate)
    try:
        while time.perf_counter() < stop_at:
            sent_at = time.perf_counter()
            await ws.send(messages[i % len(messages)].replace("{seq}", str(i)))
            i += 1
            reply = await ws.recv()
            done = time.perf_counter()
            if done <= stop_at:
                out["latencies"].append(done - sent_at)
                if '"type":"error"' in reply:
                    out["errors"].append(json.loads(reply).get("status", "error"))
            await asyncio.sleep(max(0.0, sent_at + 1 / rate - time.perf_counter()))
    except websockets.exceptions.WebSocketException as exc:
        out["errors"].append(f"closed: {type(exc).__name__}")
    finally:
        await ws.close()


async def load(url: str, spec: list[dict], connections: int, rate: float, duration_s: float,
               ramp_s: float) -> dict:
    out = {"latencies": [], "errors": [], "opened": 0}
    gate = asyncio.Semaphore(64)  # connections being opened at once
    start_at = time.perf_counter() + ramp_s
    stop_at = start_at + duration_s
    await asyncio.gather(*(_connection(url, spec[i % len(spec)], rate, start_at, stop_at, out, gate)
                           for i in range(connections)))
    measured = [x for x in out["latencies"]]
    return {"replies": len(measured), "errors": len(out["errors"]), "error_kinds": sorted({str(e) for e in out["errors"]})[:5],
            "elapsed_s": duration_s, "latencies_s": measured, "opened": out["opened"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.9, help="messages per second per connection, at most")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to open the connections before measuring")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 256)), hard))
    spec = json.loads(open(args.spec).read())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(load(args.url, spec, args.connections, args.rate, args.duration, args.ramp))))


if __name__ == "__main__":
    main()
