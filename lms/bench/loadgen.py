"""A small HTTP/1.1 load generator: N keep-alive connections, for a fixed time, latencies in JSON.

Runs in its own process (``python -m lms.bench.loadgen URL``) so that it does not share
an interpreter with the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


async def _worker(host: str, port: int, path: str, stop_at: float, latencies: list[float], errors: list[str]):
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    reader = writer = None
    while time.perf_counter() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
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


async def load(url: str, concurrency: int, duration_s: float) -> dict:
    parts = urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    stop_at = start + duration_s
    await asyncio.gather(*(_worker(parts.hostname, parts.port or 80, parts.path or "/", stop_at, latencies, errors)
                           for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "errors": len(errors), "elapsed_s": elapsed, "latencies_s": latencies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(load(args.url, args.concurrency, args.duration))))


if __name__ == "__main__":
    main()
