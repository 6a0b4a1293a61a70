"""Fault: the server's Redis (channel layer and cache) killed in the middle of a session and started again.

The server runs with a private redis-server on a Unix socket (what ``LiveServer`` starts when
``REDIS_URL`` is unset; never the system Redis, which CI's PostgreSQL run points REDIS_URL at). While
it is gone: a bridge's frames are still stored (the database first, the live view after), and pages
that use the cache (every page goes through the lesson-page cache; rate limits count in it) answer
instead of failing, and an examiner can start a recording. When it is back, the room console's live view
shows samples again."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from lms import serving
from lms.liveserver import ROOT, LiveServer
from manikin.virtual import fake_address, make_fleet

from .support import (BridgeThread, Console, cookie_header, log_in, post_form, report, shell_json, stored_frames,
                      wait)

pytestmark = pytest.mark.slow
DEVICE = fake_address(1)


def test_redis_gone_and_back_loses_no_frame_and_pages_degrade(demo_db, tmp_path):
    env = {k: v for k, v in demo_db.env().items() if k != "REDIS_URL"}  # a private redis-server, ours to kill
    ids = shell_json(env, f"""
import json
from content.models import LessonPage
from lms.models import User
from manikin.models import Manikin
print(json.dumps({{"lesson": LessonPage.objects.live().public().first().url,
                  "manikin": Manikin.objects.get(station__name="1号工位", address={DEVICE!r}).pk,
                  "trainee": User.objects.get(username="trainee").pk}}))
""")
    lesson = ids["lesson"]
    server = LiveServer(demo_db.var_dir, env).start()
    assert server.redis_socket is not None and "redis" in server.procs
    bridge = console = None
    try:
        base = server.url
        examiner = log_in(base, "examiner")
        anonymous = requests.Session()
        assert anonymous.get(base + lesson, timeout=10).status_code == 200  # now in the page cache
        console = Console(server, cookie_header(examiner)).start()
        bridge = BridgeThread(server.ws_url, "demo-station-1-token", tmp_path / "spool.sqlite3",
                              make_fleet(1, "good", seed=3)).start()
        wait(lambda: console.live_since(0), what="samples on the console")

        redis = server.procs["redis"]
        os.killpg(redis.pid, signal.SIGKILL)
        redis.wait(10)
        killed_at = time.time()
        seq = bridge.last_seq()
        # Frames are still stored (and acknowledged) while the channel layer is gone.
        wait(lambda: bridge.last_seq() > seq + 20 and bridge.acked_through(seq + 20), timeout_s=30,
             what="frames stored while Redis is down")
        # Pages answer: rendered instead of served from the cache, rate-limited lookups still answered.
        for url in (base + "/login/", base + lesson, base + "/verify/?number=20260000000"):
            resp = anonymous.get(url, timeout=20)
            assert resp.status_code == 200, (url, resp.status_code, resp.text[-500:])
        assert examiner.get(base + "/rooms/1/", timeout=20).status_code == 200
        # The examiner starts a recording: stored, though the consoles cannot be told at once.
        resp = post_form(examiner, f"{base}/manikins/{ids['manikin']}/start/", {"trainee": str(ids["trainee"])},
                         timeout_s=20)
        assert resp.status_code == 302, resp.text[-500:]
        recording = shell_json(env, f"""
import json
from manikin.models import Recording
print(json.dumps(Recording.objects.filter(manikin_id={ids['manikin']}, stopped_at=None).values_list("pk", flat=True)
                 .first()))
""")
        assert recording is not None

        log = open(server.log_path, "ab")
        server.procs["redis"] = subprocess.Popen(serving.redis_command(server.redis_socket), cwd=ROOT, stdout=log,
                                                 stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait(lambda: server.redis_socket.exists(), what="redis-server back")
        back_at = time.time()
        wait(lambda: console.live_since(back_at), timeout_s=60, what="the console's live view after Redis returned")
        live_at = time.time()
        report("Redis killed and restarted under a live session", live_at - killed_at,
               f"Redis away {back_at - killed_at:.2f} s; the console showed samples again {live_at - back_at:.2f} s "
               f"after it was back; {console.closes} console reconnects")
        assert anonymous.get(base + lesson, timeout=10).status_code == 200
        wait(lambda: bridge.acked_through(bridge.last_seq()), what="everything acknowledged")
        resp = post_form(examiner, f"{base}/recordings/{recording}/stop/")
        assert resp.status_code == 302
        bridge.stop()
        assert bridge.spool.count() == 0
        scored = shell_json(env, f"import json; from manikin.models import Recording; "
                                 f"r = Recording.objects.get(pk={recording}); "
                                 f"print(json.dumps([r.stopped_at is not None, r.sample_count]))")
        assert scored[0] and scored[1] > 0  # the samples since the start, stored through the outage
    finally:
        if console is not None:
            console.stop()
        if bridge is not None and bridge.thread.is_alive():
            bridge.stop()
        try:
            stored = stored_frames(env, bridge.spool.bridge_id) if bridge is not None else None
        finally:
            server.stop()
    assert stored["seqs"] == list(range(1, bridge.last_seq() + 1))  # every frame once, none missing
    assert stored["samples"][DEVICE] == bridge.samples(DEVICE) and stored["rejected"] == 0
