"""The yardstick: requests per second and latency of a trivial view through Daphne.

The server runs in its own process exactly as in production (``daphne lms.asgi:application``),
the load comes from another process with N keep-alive connections.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[2]


def run(out=print, quick: bool = False, concurrency: int = 32) -> dict:
    from lms.liveserver import LiveServer, prepare_database, server_env

    duration_s = 3.0 if quick else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(Path(tmp))
        prepare_database(Path(tmp), env, demo=False)
        server = LiveServer(Path(tmp), env).start()
        try:
            proc = psutil.Process(server.proc.pid)
            proc.cpu_percent(None)
            t0 = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "lms.bench.loadgen", server.url + "/healthz",
                 "--concurrency", str(concurrency), "--duration", str(duration_s)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            )
            wall_s = time.perf_counter() - t0
            server_cpu_pct = proc.cpu_percent(None)
        finally:
            server.stop()
    data = json.loads(result.stdout)
    lat_ms = np.asarray(data["latencies_s"]) * 1000
    figures = {
        "http_requests": data["requests"],
        "http_errors": data["errors"],
        "http_rps": round(data["requests"] / data["elapsed_s"], 1),
        "http_p50_ms": round(float(np.percentile(lat_ms, 50)), 2) if len(lat_ms) else None,
        "http_p99_ms": round(float(np.percentile(lat_ms, 99)), 2) if len(lat_ms) else None,
        "http_concurrency": concurrency,
        "http_server_cpu_pct": round(server_cpu_pct, 1),
        "http_wall_s": round(wall_s, 1),
    }
    out(f"HTTP yardstick: GET /healthz through Daphne, {concurrency} keep-alive connections from another process, "
        f"{duration_s:.0f} s")
    out(f"  {figures['http_rps']:.0f} requests/s, p50 {figures['http_p50_ms']} ms, p99 {figures['http_p99_ms']} ms, "
        f"{figures['http_errors']} errors, server CPU {figures['http_server_cpu_pct']}% of one core")
    return figures
