"""Live-stream benchmark: N virtual manikins at ~60 Hz through the real server to a console.

Processes: the product's serving topology (``lms.liveserver.LiveServer``: nginx, one ASGI process
for ``/ws/``, granian for pages; SQLite and a private Redis unless ``DATABASE_URL``/``REDIS_URL`` say
otherwise), one process of virtual bridges
(``manikin.bench.bridges``), and this process as the room console over WebSocket.
Prints end-to-end latency (bridge send → console receive) p50/p99, samples stored
against samples sent, and CPU use of each process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from lms.bench.figures import figure
from lms.liveserver import ROOT, LiveServer, ScratchDatabase, prepare_database, server_env

# The target (the speed issue's): 150 recording manikins at p99 < 100 ms, nothing lost.
TARGET_MANIKINS = 150
TARGET_P99_MS = 100.0

SETUP = """
from lms.models import Organisation
from manikin import api
from manikin.virtual import fake_address
org = Organisation.objects.get(name="西湖区应急救护考点（演示）")
room = api.create_room(None, organisation=org, name="压测考场")
for s in range({stations}):
    station, _ = api.create_station(None, room=room, name=f"压测{{s + 1:02d}}", token=f"bench-station-{{s + 1:02d}}-token")
    for i in range(1, {per_station} + 1):
        api.assign_manikin(None, station=station, address=fake_address(i), label=f"{{s + 1}}-{{i}}")
if {record}:
    from lms.models import User
    admin = User.objects.get(username="admin")
    for m in api.Manikin.objects.filter(station__room=room):
        api.start_recording(admin, m)
print(room.pk)
"""

COUNT = """
import json
from django.db.models import Sum
from manikin.models import Frame, RejectedFrame
print(json.dumps({{"samples_stored": Frame.objects.filter(station__room_id={room}).aggregate(s=Sum("n_samples"))["s"] or 0,
                   "frames_stored": Frame.objects.filter(station__room_id={room}).count(),
                   "rejected": RejectedFrame.objects.count()}}))
"""


async def _console(url: str, cookie: str, origin: str, stop_at: float, latencies: list, counts: dict):
    import websockets

    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin},
                                  max_size=None) as ws:
        while time.time() < stop_at:
            try:
                msg = await asyncio.wait_for(ws.recv(), timeout=max(0.1, stop_at - time.time()))
            except asyncio.TimeoutError:
                break
            now = time.time()
            event = json.loads(msg)
            if event.get("type") != "live.frames":
                continue
            counts["events"] += 1
            counts["layer_s"].append(now - event["published_at"])
            for item in event["items"]:
                if "t" in item:  # samples (scores of running recordings follow in items without them)
                    counts["samples"] += len(item["t"])
                    latencies.append(now - item["sent_at"])


def run(out=print, quick: bool = False, manikins: int = TARGET_MANIKINS, per_station: int = 6, duration_s: float | None = None,
        warmup_s: float = 5.0, record: bool = True) -> dict:
    """``record``: every manikin has a running recording, so the streaming scorer runs on every sample. By default
    ``TARGET_MANIKINS``, the scale of the target; ``quick``: at most 12."""
    from manikin.tests_support import login_cookies, manage_shell

    duration_s = duration_s or (8.0 if quick else 30.0)
    if quick:
        manikins = min(manikins, 12)
    stations = max(1, manikins // per_station)
    manikins = stations * per_station
    with tempfile.TemporaryDirectory() as tmp, ScratchDatabase(os.environ.get("DATABASE_URL")) as db_url:
        tmp = Path(tmp)
        env = server_env(tmp, {"DATABASE_URL": db_url} if db_url else None)
        prepare_database(tmp, env)
        room = int(manage_shell(env, SETUP.format(stations=stations, per_station=per_station, record=record)).split()[-1])
        server = LiveServer(tmp, env).start()
        try:
            cookie = login_cookies(server.url, "admin", "Demo@2026")
            tokens = ",".join(f"bench-station-{s + 1:02d}-token" for s in range(stations))
            bridges = subprocess.Popen(
                [sys.executable, "-m", "manikin.bench.bridges", "--server", server.ws_url, "--tokens", tokens,
                 "--manikins", str(per_station), "--duration", str(duration_s + warmup_s), "--spool-dir", str(tmp)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            # The ASGI server's whole process tree: granian serves from a worker process of its own.
            procs = {"server": _Tree(server.proc.pid), "bridges": _Tree(bridges.pid)}
            server_name = server.asgi_server
            time.sleep(warmup_s)
            for p in procs.values():
                p.cpu_percent(None)
            psutil.cpu_percent(None)
            latencies: list[float] = []
            counts = {"events": 0, "samples": 0, "layer_s": []}
            t0 = time.time()
            asyncio.run(_console(f"{server.ws_url}/ws/rooms/{room}/", cookie, server.url, t0 + duration_s,
                                 latencies, counts))
            elapsed = time.time() - t0
            cpu = {name: round(p.cpu_percent(None), 1) for name, p in procs.items()}
            cpu["machine_total"] = round(psutil.cpu_percent(None) * psutil.cpu_count(), 1)
            sent = json.loads(bridges.communicate(timeout=120)[0].strip().splitlines()[-1])
            time.sleep(1.0)  # let the last acks' transactions settle
            stored = json.loads(manage_shell(env, COUNT.format(room=room)).strip().splitlines()[-1])
        finally:
            server.stop()
    lat_ms = np.asarray(latencies) * 1000
    figures = {
        "stream_manikins": manikins,
        "stream_stations": stations,
        "stream_duration_s": duration_s,
        "stream_samples_sent": sent["samples_sent"],
        "stream_samples_stored": stored["samples_stored"],
        "stream_frames_sent": sent["frames_sent"],
        "stream_frames_stored": stored["frames_stored"],
        "stream_spooled_left": sent["spooled_left"],
        "stream_console_events_per_s": round(counts["events"] / elapsed, 1),
        "stream_console_samples_per_s": round(counts["samples"] / elapsed, 1),
        "stream_latency_p50_ms": round(float(np.percentile(lat_ms, 50)), 1) if len(lat_ms) else None,
        "stream_latency_p99_ms": round(float(np.percentile(lat_ms, 99)), 1) if len(lat_ms) else None,
        "stream_latency_max_ms": round(float(lat_ms.max()), 1) if len(lat_ms) else None,
        "stream_cpu_pct": cpu,
        # the part of the latency after the server published: channel layer, console consumer, socket
        "stream_publish_to_console_p50_ms": round(float(np.percentile(counts["layer_s"], 50)) * 1000, 1)
        if counts["layer_s"] else None,
        "stream_publish_to_console_p99_ms": round(float(np.percentile(counts["layer_s"], 99)) * 1000, 1)
        if counts["layer_s"] else None,
    }
    # Server CPU per sample: its share of a core over the measured window, over the samples per second.
    rate = figures["stream_samples_sent"] / (duration_s + warmup_s)
    figures["stream_server_us_per_sample"] = round(cpu["server"] / 100 / rate * 1e6, 1) if rate else None
    lost = figures["stream_samples_sent"] - figures["stream_samples_stored"]
    out(f"Live stream: {manikins} virtual manikins (~60 Hz) on {stations} stations, "
        f"{'every one recording and scored live, ' if record else ''}{duration_s:.0f} s measured "
        f"after {warmup_s:.0f} s warm-up, one {server_name} process behind nginx "
        f"({'PostgreSQL' if 'postgres' in env.get('DATABASE_URL', '') else 'SQLite'}, "
        f"{'Redis' if env.get('REDIS_URL') else 'private Redis'} channel layer), one console")
    out(f"  latency bridge send → console receive: p50 {figures['stream_latency_p50_ms']} ms, "
        f"p99 {figures['stream_latency_p99_ms']} ms, max {figures['stream_latency_max_ms']} ms; of which publish → console "
        f"p50 {figures['stream_publish_to_console_p50_ms']} ms, p99 {figures['stream_publish_to_console_p99_ms']} ms")
    out(f"  samples sent {figures['stream_samples_sent']:,}, stored {figures['stream_samples_stored']:,} "
        f"({'nothing lost' if lost == 0 else f'{lost:,} missing'}); frames sent {figures['stream_frames_sent']:,}, "
        f"stored {figures['stream_frames_stored']:,}; left in spools {figures['stream_spooled_left']}")
    out(f"  console: {figures['stream_console_events_per_s']} events/s, {figures['stream_console_samples_per_s']:.0f} "
        f"samples/s; CPU % of one core: server {cpu['server']}, bridges {cpu['bridges']}, "
        f"machine total {cpu['machine_total']} (of {psutil.cpu_count() * 100}); server CPU per sample "
        f"{figures['stream_server_us_per_sample']} µs")
    scale = f"{manikins} manikins" + ("" if manikins >= TARGET_MANIKINS else f", the target is at {TARGET_MANIKINS}")
    figures["figures"] = [
        figure("stream", "latency p99, bridge send → console", figures["stream_latency_p99_ms"], "ms",
               below=TARGET_P99_MS, note=f"{scale}; one {server_name} process"),
        figure("stream", "samples sent but not stored", lost, "samples", at_most=0,
               note=f"{figures['stream_samples_sent']:,} sent"),
        figure("stream", "server CPU per sample", figures["stream_server_us_per_sample"], "µs",
               note=f"server {cpu['server']} % of one core"),
    ]
    return figures


class _Tree:
    """``cpu_percent`` of a process and its children together (psutil's, for one process, since the last call)."""

    def __init__(self, pid: int):
        self.pid = pid
        self._last = None

    def cpu_percent(self, interval=None) -> float:
        import time

        from lms.bench.http import _tree_cpu_s

        now, cpu = time.monotonic(), _tree_cpu_s([self.pid])
        last, self._last = self._last, (now, cpu)
        return 0.0 if last is None else 100 * (cpu - last[1]) / max(now - last[0], 1e-9)
