"""A WebSocket load generator: many connections, each sending request messages at a bounded rate.

Runs in its own process (``python -m lms.bench.wsload URL --spec FILE``) so that it does not share
an interpreter with the server it measures. The spec is a JSON list, one entry per connection
(connection i uses entry ``i % len(spec)``): ``{"headers": {"Cookie": ..., "Origin": ...},
"path": "/ws/...", "messages": ["<json text>", ...]}`` (``path``, optional, is added to the URL);
a message may contain ``{seq}``, replaced by a counter.
Every connection is opened first (``--open-timeout`` at most); the measured period starts when
all are open, so the cost of opening them (each is a signed-in person checked by the server) is
not in the figures. Then each connection sends one message, waits for its reply, and sends the
next no sooner than ``1 / --rate`` seconds after the previous one (closed loop: a slow server
lowers the rate, never queues without bound), starting at a random moment of its first period.
Prints JSON: replies, errors (replies of type ``error`` and failed connections), latencies in
seconds, the measured period, connections that opened, and the CPU the processes ``--pids`` (and
their children) used in the period, in % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time

import websockets


async def _connection(url: str, entry: dict, rate: float, go: asyncio.Event, window: dict, out: dict,
                      gate: asyncio.Semaphore, opened: asyncio.Queue):
    try:
        async with gate:
            ws = await websockets.connect(url + entry.get("path", ""), additional_headers=entry.get("headers", {}),
                                          max_size=2 ** 20, open_timeout=60, ping_interval=None, compression=None)
    except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError) as exc:
        out["errors"].append(f"connect: {type(exc).__name__}")
        opened.put_nowait(False)
        return
    opened.put_nowait(True)
    messages = entry["messages"]
    i = 0
    try:
        await go.wait()
        await asyncio.sleep(random.random() / rate)
        while time.perf_counter() < window["stop"]:
            sent_at = time.perf_counter()
            await ws.send(messages[i % len(messages)].replace("{seq}", str(i)))
            i += 1
            reply = await ws.recv()
            done = time.perf_counter()
            if done <= window["stop"]:
                out["latencies"].append(done - sent_at)
                if '"type":"error"' in reply:
                    out["errors"].append(json.loads(reply).get("status", "error"))
            await asyncio.sleep(max(0.0, sent_at + 1 / rate - time.perf_counter()))
    except websockets.exceptions.WebSocketException as exc:
        out["errors"].append(f"closed: {type(exc).__name__}")
    finally:
        await ws.close()


def _cpu_s(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def load(url: str, spec: list[dict], connections: int, rate: float, duration_s: float,
               open_timeout_s: float, pids: list[int]) -> dict:
    out = {"latencies": [], "errors": []}
    gate = asyncio.Semaphore(64)  # connections being opened at once
    go, window, opened = asyncio.Event(), {"stop": float("inf")}, asyncio.Queue()
    tasks = [asyncio.ensure_future(_connection(url, spec[i % len(spec)], rate, go, window, out, gate, opened))
             for i in range(connections)]
    n_open = 0
    try:
        async with asyncio.timeout(open_timeout_s):
            for _ in range(connections):
                n_open += await opened.get()
    except TimeoutError:
        out["errors"].append("connect: not all opened in time")
    cpu0, start = _cpu_s(pids), time.perf_counter()
    window["stop"] = start + duration_s
    go.set()
    await asyncio.gather(*tasks)
    cpu = _cpu_s(pids) - cpu0
    return {"replies": len(out["latencies"]), "errors": len(out["errors"]),
            "error_kinds": sorted({str(e) for e in out["errors"]})[:5], "elapsed_s": duration_s,
            "latencies_s": out["latencies"], "opened": n_open, "server_cpu_pct": 100 * cpu / duration_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.9, help="messages per second per connection, at most")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--open-timeout", type=float, default=120.0, help="seconds to open every connection")
    parser.add_argument("--pids", default="", help="server process ids whose CPU is measured (comma-separated)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 256)), hard))
    spec = json.loads(open(args.spec).read())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    pids = [int(p) for p in args.pids.split(",") if p]
    print(json.dumps(asyncio.run(load(args.url, spec, args.connections, args.rate, args.duration, args.open_timeout,
                                      pids))))


if __name__ == "__main__":
    main()
