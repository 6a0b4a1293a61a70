"""A small HTTP/1.1 load generator: N keep-alive connections, for a fixed time, latencies in JSON.

Runs in its own process (``python -m lms.bench.loadgen URL``) so that it does not share
an interpreter with the server it measures. ``--spec FILE`` gives each connection its own
requests instead (a signed-in person's cookie, several paths in turn, POST bodies): a JSON list
with one entry per connection, ``{"headers": {...}, "requests": [{"method": "GET", "path": "/x/"},
{"method": "POST", "path": "/y/", "body": "...", "headers": {...}}, ...]}``; connection i uses
entry ``i % len(spec)`` and cycles through its requests. ``--rate R`` paces each connection to at
most R requests a second (many slow clients instead of a few flat-out ones), starting each at a
random moment of its first period.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time
from urllib.parse import urlsplit


def _request_bytes(host: str, port: int, method: str, path: str, headers: dict, body: str = "") -> bytes:
    data = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method != "GET" or data:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _worker(host: str, port: int, requests: list[bytes], stop_at: float, latencies: list[float],
                  errors: list[str], rate: float | None = None):
    reader = writer = None
    i = 0
    if rate:
        await asyncio.sleep(random.random() / rate)
    while time.perf_counter() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            request = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if rate:
                await asyncio.sleep(max(0.0, t0 + 1 / rate - time.perf_counter()))
            if status != 200:
                errors.append(f"HTTP {status}")
            if b"connection: close" in head.lower():
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors.append(type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def load(url: str, concurrency: int, duration_s: float, spec: list[dict] | None = None,
               rate: float | None = None) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    if spec:
        per_connection = [[_request_bytes(host, port, r.get("method", "GET"), r["path"],
                                          {**entry.get("headers", {}), **r.get("headers", {})}, r.get("body", ""))
                           for r in entry["requests"]] for entry in spec]
    else:
        per_connection = [[_request_bytes(host, port, "GET", parts.path or "/", {})]]
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    stop_at = start + duration_s
    await asyncio.gather(*(_worker(host, port, per_connection[i % len(per_connection)], stop_at, latencies, errors,
                                   rate) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "errors": len(errors), "elapsed_s": elapsed, "latencies_s": latencies,
            "error_kinds": sorted(set(errors))[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--spec", help="JSON file: the requests of each connection (see the module's doc)")
    parser.add_argument("--rate", type=float, help="requests a second per connection, at most (default: no pause)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.concurrency + 256)), hard))
    spec = json.loads(open(args.spec).read()) if args.spec else None
    print(json.dumps(asyncio.run(load(args.url, args.concurrency, args.duration, spec, args.rate))))


if __name__ == "__main__":
    main()
