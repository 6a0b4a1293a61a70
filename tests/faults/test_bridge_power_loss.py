"""Fault: the bridge's laptop loses power in the middle of a session. The bridge process
(``python -m manikin.simulate``: the real bridge, virtual manikins at the Bluetooth boundary) streams to
the server; the server becomes unreachable, so frames pile up in the spool on disk; the bridge is
SIGKILLed (no shutdown, nothing flushed). Started again with the same spool folder, it delivers every
spooled frame exactly once: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from lms.liveserver import ROOT, LiveServer

from .support import report, stored_frames, wait

pytestmark = pytest.mark.slow
TOKEN = "demo-station-2-token"


def spool_state(path) -> dict:
    """Read the spool file as it is on disk (another process's, or a dead one's)."""
    if not os.path.exists(path):
        return {"bridge_id": None, "next_seq": 1, "frames": {}}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        frames = {seq: json.loads(body) for seq, body in db.execute("SELECT seq, body FROM frames ORDER BY seq")}
    except sqlite3.OperationalError:  # the bridge is still creating it
        return {"bridge_id": None, "next_seq": 1, "frames": {}}
    finally:
        db.close()
    return {"bridge_id": meta.get("bridge_id"), "next_seq": int(meta.get("next_seq", 1)), "frames": frames}


def bridge(server, spool, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "manikin.simulate", "--count", "1", "--profile", "good",
                             "--token", TOKEN, "--server", server.ws_url, "--spool", str(spool)],
                            cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_bridge_power_loss_delivers_the_spool_exactly_once(demo_db, tmp_path):
    env = demo_db.env()
    server = LiveServer(demo_db.var_dir, env).start()
    spool = tmp_path / "bridge" / "spool.sqlite3"
    log = open(tmp_path / "bridge.log", "ab")
    proc = bridge(server, spool, log)
    try:
        # Streaming and acknowledged: the spool's counter moves on while the spool stays short.
        wait(lambda: spool_state(spool)["next_seq"] > 40, what="the bridge streaming")
        wait(lambda: len(spool_state(spool)["frames"]) < spool_state(spool)["next_seq"] - 30,
             what="frames acknowledged")
        server.stop(kill=True)  # the server unreachable: what the manikin sends now stays in the spool
        wait(lambda: len(spool_state(spool)["frames"]) >= 60, what="frames spooled, not sent")
        os.killpg(proc.pid, signal.SIGKILL)  # the laptop's power goes
        proc.wait(10)
        lost_power = spool_state(spool)
        assert len(lost_power["frames"]) >= 60

        server.start()
        restarted_at = time.monotonic()
        proc = bridge(server, spool, log)  # power back: the same spool folder
        backlog = max(lost_power["frames"])
        wait(lambda: not any(seq <= backlog for seq in spool_state(spool)["frames"]), timeout_s=60,
             what="the spooled frames delivered")
        delivered_at = time.monotonic()
        report("bridge laptop lost power with a spooled backlog", delivered_at - restarted_at,
               f"{len(lost_power['frames'])} frames spooled at the power cut, delivered after the bridge restarted")
        wait(lambda: spool_state(spool)["next_seq"] > backlog + 20, what="new frames after the restart")
        proc.send_signal(signal.SIGTERM)  # a normal stop: what is sent is acknowledged
        assert proc.wait(30) == 0
        after = spool_state(spool)
        stored = stored_frames(env, lost_power["bridge_id"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        server.stop()
    assert after["bridge_id"] == lost_power["bridge_id"]
    # Every seq the bridge ever handed out is stored once, or (the last few, if any) still in the spool.
    assert stored["seqs"] == sorted(set(stored["seqs"]))
    assert sorted(stored["seqs"] + list(after["frames"])) == list(range(1, after["next_seq"]))
    assert set(lost_power["frames"]) <= set(stored["seqs"])
    assert stored["rejected"] == 0
    spooled_samples = sum(len(f.get("t") or []) for f in lost_power["frames"].values())
    assert spooled_samples > 0
    per_seq = stored_samples_of(env, lost_power["bridge_id"], list(lost_power["frames"]))
    assert per_seq == {str(s): len(f.get("t") or []) for s, f in lost_power["frames"].items()}


def stored_samples_of(env: dict, bridge_id: str, seqs: list[int]) -> dict:
    from .support import shell_json

    return shell_json(env, f"""
import json
from manikin.models import Frame
print(json.dumps({{str(s): n for s, n in Frame.objects.filter(bridge_id={bridge_id!r}, seq__in={seqs!r})
                  .values_list("seq", "n_samples")}}))
""")
