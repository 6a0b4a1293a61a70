"""Fault: the server (every process: nginx, WSGI, ASGI, Redis) SIGKILLed and started again in the middle
of a practical exam. 吴敏 is checked in on 4号工位; the examiner records her CPR on the station's manikin
(a virtual manikin through the real bridge, its spool on disk) and ticks the checklist. After the restart
the recording holds every sample the manikin produced exactly once (the bridge's spool resends what was
not acknowledged), and every tick, including those the tablet could not send while the server was down."""

from __future__ import annotations

import datetime
import io
import time
import uuid
import zoneinfo

import pytest
import requests
from PIL import Image

from lms.liveserver import LiveServer
from manikin.virtual import fake_address, make_fleet
from manikin.tests_support import stop_recording

from .support import BridgeThread, log_in, post_form, post_json, report, shell_json, stored_frames, wait

pytestmark = pytest.mark.slow
TOKEN_4 = "demo-station-4-token"
DEVICE = fake_address(1)

FIND = """
import json
from django.utils import timezone
from exams.practical_models import Booking
from lms.models import User
from manikin.models import Manikin
b = Booking.objects.get(candidate__username="exam_passed", session__date=timezone.localdate())
m = Manikin.objects.get(station__name="4号工位", address=%r)
print(json.dumps({"booking": b.pk, "candidate": b.candidate_id, "manikin": m.pk}))
"""


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (300, 400), (190, 160, 140)).save(buf, "JPEG")
    return buf.getvalue()


def tick(item: str) -> dict:
    now = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).isoformat()
    return {"id": str(uuid.uuid4()), "item": item, "done": True, "at": now}


def test_server_killed_during_a_practical_exam_keeps_every_sample_and_tick(demo_db, tmp_path):
    env = demo_db.env()
    ids = shell_json(env, FIND % DEVICE)
    server = LiveServer(demo_db.var_dir, env).start()
    bridge = None
    try:
        base = server.url
        booking_url = f"{base}/exams/practical/bookings/{ids['booking']}/"
        examiner = log_in(base, "examiner")
        assert examiner.get(booking_url, timeout=10).status_code == 200
        resp = post_form(examiner, booking_url + "check-in/", {"identity_confirmed": "1"},
                         files={"photo": ("face.jpg", photo(), "image/jpeg")})
        assert resp.status_code == 302
        state = examiner.get(booking_url + "state/", timeout=10).json()
        assert state["status"] == "checked_in"

        # The CPR item: the examiner starts it on the console (the start form), the bridge streams.
        resp = post_form(examiner, f"{base}/manikins/{ids['manikin']}/start/", {"trainee": str(ids["candidate"])})
        assert resp.status_code == 302
        state = examiner.get(booking_url + "state/", timeout=10).json()
        assert state["cpr"] and state["cpr"]["running"], state
        recording_id = state["cpr"]["recording"]
        bridge = BridgeThread(server.ws_url, TOKEN_4, tmp_path / "spool.sqlite3", make_fleet(2, "good", seed=7)).start()
        wait(lambda: bridge.samples(DEVICE) > 180, what="3 s of samples")
        wait(lambda: bridge.acked_through(5), what="the first frames acknowledged")

        before = [tick(k) for k in ("scene_safety", "responsiveness", "call_for_help")]
        out = post_json(examiner, booking_url + "checklist/", {"entries": before}).json()
        assert len(out["stored"]) == 3 and not out["rejected"]

        server.stop(kill=True)  # SIGKILL of every process of the server: no goodbye, frames in flight
        killed_at = time.monotonic()
        samples_at_kill = bridge.samples(DEVICE)
        # The tablet cannot send while the server is down: its ticks wait (practical.js keeps them).
        during = [tick(k) for k in ("breathing_check", "aed_clear")]
        with pytest.raises(requests.ConnectionError):
            post_json(examiner, booking_url + "checklist/", {"entries": during}, timeout_s=5)
        wait(lambda: bridge.samples(DEVICE) > samples_at_kill + 120, what="2 s of samples spooled while down")
        assert not bridge.acked_through(bridge.last_seq())

        server.start()
        up_at = time.monotonic()
        backlog_seq = bridge.last_seq()
        # The tablet sends its queue again, with an entry the server had already: stored once.
        out = post_json(examiner, booking_url + "checklist/", {"entries": during + before[:1]}).json()
        assert len(out["stored"]) == 2 and out["duplicates"] == [before[0]["id"]] and not out["rejected"]
        wait(lambda: bridge.acked_through(backlog_seq), what="the spooled backlog acknowledged")
        drained_at = time.monotonic()
        report("server SIGKILLed and restarted during a practical exam", drained_at - killed_at,
               f"server back after {up_at - killed_at:.2f} s, the bridge's spooled backlog of {backlog_seq} frames "
               f"acknowledged {drained_at - up_at:.2f} s later")
        # The recording goes on after the restart.
        at_up = bridge.samples(DEVICE)
        wait(lambda: bridge.samples(DEVICE) > at_up + 60, what="samples after the restart")
        wait(lambda: bridge.acked_through(bridge.last_seq()), what="everything acknowledged")
        bridge.stop()
        assert bridge.spool.count() == 0
    except BaseException:
        server.stop(kill=True)
        raise
    finally:
        if bridge is not None and bridge.thread.is_alive():
            bridge.stop()
    if server.proc is None:
        server.start()
    try:
        data = stop_recording(env, recording_id)  # the examiner stops it (manikin.api.stop_recording)
        stored = stored_frames(env, bridge.spool.bridge_id)
    finally:
        server.stop()
    produced = bridge.samples(DEVICE)
    assert stored["seqs"] == list(range(1, bridge.last_seq() + 1))  # every frame once, none missing
    assert stored["rejected"] == 0
    assert stored["samples"][DEVICE] == produced
    assert data["sample_count"] == produced  # the recording: every sample the manikin produced, once
    assert len(data["seqs"]) == len(set(data["seqs"]))
    assert data["result"]["count"] > 5
    ticks = shell_json(env, f"""
import json
from exams.models import ChecklistEntry
rows = ChecklistEntry.objects.filter(booking_id={ids['booking']})
print(json.dumps({{"ids": sorted(str(r.client_id) for r in rows), "items": sorted(r.item_key for r in rows)}}))
""")
    assert ticks["ids"] == sorted(e["id"] for e in before + during)  # each tick once, none lost
    assert ticks["items"] == sorted(["scene_safety", "responsiveness", "call_for_help", "breathing_check", "aed_clear"])
