"""HTTP yardstick: the production path (nginx → granian → Django) against the other servers, in one run.

Every server runs in its own process(es) from the same database, the load comes from another
process (``lms.bench.loadgen``) with N keep-alive connections for a fixed time, one server at a
time. Measured on ``/healthz`` (a trivial view) and ``/login/`` (a real page: template, session,
CSRF cookie):

- **production**: ``lms.liveserver.LiveServer``, i.e. ``lms.serving`` exactly as ``make demo``
  and the README deploy it: nginx in front, granian (WSGI, one worker per core) behind it;
- the candidate servers directly, one process each: granian (WSGI), gunicorn (WSGI, gthread),
  uvicorn (Django's ASGI handler), Daphne (Django's ASGI handler: how HTTP was served before);
- the ceiling: a Django-free WSGI app (``lms.bench.minimal_wsgi``) on granian.

Errors (non-200 answers, broken connections) are counted; server CPU is the whole process tree's
(nginx included for the production path), in % of one core.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from .figures import figure

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ("/healthz", "/login/")
TARGETS = {"/healthz": 10, "/login/": 4}  # the speed issue: production ≥ 10× and ≥ 4× Daphne's rate in the same run


def _tree_cpu_s(pids: list[int]) -> float:
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


def _load(url: str, concurrency: int, duration_s: float, pids: list[int], spec: list[dict] | None = None,
          rate: float | None = None) -> dict:
    """Load ``url`` from another process (``lms.bench.loadgen``); ``spec``: per-connection requests (see loadgen);
    ``rate``: at most that many requests a second per connection."""
    argv = [sys.executable, "-m", "lms.bench.loadgen", url, "--concurrency", str(concurrency),
            "--duration", str(duration_s)] + (["--rate", str(rate)] if rate else [])
    with tempfile.NamedTemporaryFile("w", suffix=".json") as spec_file:
        if spec:
            json.dump(spec, spec_file)
            spec_file.flush()
            argv += ["--spec", spec_file.name]
        cpu0, t0 = _tree_cpu_s(pids), time.perf_counter()
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    cpu_pct = 100 * (_tree_cpu_s(pids) - cpu0) / (time.perf_counter() - t0)
    data = json.loads(result.stdout)
    lat_ms = np.asarray(data["latencies_s"]) * 1000
    return {
        "rps": round(data["requests"] / data["elapsed_s"], 1),
        "requests": data["requests"],
        "errors": data["errors"],
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 2) if len(lat_ms) else None,
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 2) if len(lat_ms) else None,
        "server_cpu_pct": round(cpu_pct, 1),
        "error_kinds": data.get("error_kinds", []),
    }


def _ws_load(url: str, spec: list[dict], connections: int, rate: float, duration_s: float, pids: list[int]) -> dict:
    """WebSocket messages against ``url`` from another process (``lms.bench.wsload``), figures as ``_load``'s;
    measured once every connection is open."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as spec_file:
        json.dump(spec, spec_file)
        spec_file.flush()
        argv = [sys.executable, "-m", "lms.bench.wsload", url, "--spec", spec_file.name, "--connections",
                str(connections), "--rate", str(rate), "--duration", str(duration_s),
                "--pids", ",".join(str(p) for p in pids)]
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    lat_ms = np.asarray(data["latencies_s"]) * 1000
    return {
        "rps": round(data["replies"] / data["elapsed_s"], 1),
        "requests": data["replies"],
        "errors": data["errors"],
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 2) if len(lat_ms) else None,
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 2) if len(lat_ms) else None,
        "server_cpu_pct": round(data["server_cpu_pct"], 1),
        "error_kinds": data.get("error_kinds", []),
        "connections": data["opened"],
    }


class _Direct:
    """One server process on a free port, without the front."""

    def __init__(self, argv: list[str], port: int, env: dict, log: Path):
        self.argv, self.port, self.env, self.log = argv, port, env, log
        self.url = f"http://127.0.0.1:{port}"

    def start(self):
        from lms.liveserver import _get

        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited: {self.log.read_text()[-2000:]}")
            if _get(self.url + "/healthz"):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.argv} did not start")

    @property
    def pids(self):
        return [self.proc.pid]

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run(out=print, quick: bool = False, concurrency: int = 32) -> dict:
    from lms import serving
    from lms.liveserver import LiveServer, free_port, prepare_database, server_env

    duration_s = 2.0 if quick else 8.0
    bin_ = serving.VENV_BIN
    results: dict[str, dict] = {}
    out(f"HTTP: {concurrency} keep-alive connections from another process, {duration_s:.0f} s per figure, "
        f"one server at a time, {serving.cpu_count()} cores")
    out(f"  {'server':<44} {'view':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server CPU':>11}")

    def measure(name: str, server, views=VIEWS):
        try:
            for view in views:
                r = _load(server.url + view, concurrency, duration_s, server.pids)
                results[f"{name} {view}"] = r
                out(f"  {name:<44} {view:<9} {r['rps']:>8.0f} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>7} "
                    f"{r['server_cpu_pct']:>10.0f}%")
        finally:
            server.stop()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = server_env(tmp)
        prepare_database(tmp, env, demo=False)
        # The production path, as deployed (one granian worker per core), and with a single worker.
        prod = f"production: nginx → granian ×{serving.cpu_count()} (WSGI)"
        for name, workers in ((prod, None), ("nginx → granian ×1 (WSGI)", 1)):
            front = LiveServer(tmp, env, wsgi_workers=workers).start()

            class _Front:
                url = front.url
                pids = [p.pid for n, p in front.procs.items() if n != "redis"]
                stop = front.stop

            measure(name, _Front())
        # The candidates, one process each, on the same database.
        port = free_port
        for name, make in [
            ("granian ×1 (WSGI)", lambda p: serving.wsgi_command(p, workers=1)),
            ("gunicorn ×1 gthread 8 (WSGI)", lambda p: [str(bin_ / "gunicorn"), "-b", f"127.0.0.1:{p}", "-w", "1",
                                                       "-k", "gthread", "--threads", "8", "--keep-alive", "30",
                                                       "--log-level", "warning", "lms.wsgi:application"]),
            ("uvicorn ×1 (Django ASGI)", lambda p: serving.asgi_command(p, "uvicorn")),
            ("daphne ×1 (Django ASGI)", lambda p: serving.asgi_command(p, "daphne")),
        ]:
            p = port()
            measure(name, _Direct(make(p), p, env, tmp / "direct.log").start())
        p = port()
        measure("ceiling: Django-free WSGI app on granian ×1",
                _Direct(serving.wsgi_command(p, workers=1, app="lms.bench.minimal_wsgi:application"), p, env,
                        tmp / "direct.log").start(), views=("/healthz",))

    daphne = "daphne ×1 (Django ASGI)"
    figures = {"http_concurrency": concurrency, "http_duration_s": duration_s, "http_results": results}
    table = []
    for view, target in TARGETS.items():
        mine, theirs = results[f"{prod} {view}"], results[f"{daphne} {view}"]
        table.append(figure("http", f"{view}, production path", mine["rps"], "req/s", ratio_at_least=target,
                            yardstick=theirs["rps"], yardstick_name="Daphne",
                            note=f"p99 {mine['p99_ms']} ms; {concurrency} connections, {duration_s:.0f} s"))
    figures["http_errors"] = sum(r["errors"] for r in results.values())
    table.append(figure("http", "errors, every server and view", figures["http_errors"], "", at_most=0))
    figures["figures"] = table
    for view, target in TARGETS.items():
        ratio = results[f"{prod} {view}"]["rps"] / max(results[f"{daphne} {view}"]["rps"], 0.1)
        key = "healthz" if view == "/healthz" else "login"
        figures[f"http_{key}_vs_daphne"] = round(ratio, 1)
        out(f"  production ÷ Daphne on {view}: {ratio:.1f}× (target ≥ {target}×)")
    figures["http_rps"] = results[f"{prod} /healthz"]["rps"]
    return figures
