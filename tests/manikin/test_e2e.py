"""The whole pipeline against real Daphne processes: virtual manikin → real bridge → server → console.

Only the radio is fake (manikin.virtual at the bleak boundary); bytes, decoding, spool, uplink,
ingest, scoring and the channel layer are the production code. The servers run on the database of
the test run (``lms.liveserver.LiveDatabase``): a fresh PostgreSQL database when DATABASE_URL is set,
else a SQLite file; Redis when REDIS_URL is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import numpy as np
import pytest
import redis
import websockets

from lms.demo import DEMO_PASSWORD
from lms.liveserver import LiveDatabase, LiveServer
from manikin.bridge.app import Bridge, BridgeConfig
from manikin.bridge.spool import Spool
from manikin.bridge.uplink import Backoff
from manikin.scoring import score_trace
from manikin.virtual import fake_address, make_fleet

from manikin.tests_support import login_cookies, start_recording, stop_recording, wait_until

pytestmark = pytest.mark.slow
TOKEN_1 = "demo-station-1-token"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"


def redis_available() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    with LiveDatabase(tmp_path_factory.mktemp("e2e")) as db:
        db.prepare()
        yield db


@pytest.fixture(scope="module")
def demo_env(demo_db):
    return demo_db.var_dir, demo_db.env()


def make_bridge(server_url: str, spool_path, radio, token=TOKEN_1):
    config = BridgeConfig(server=server_url, token=token, spool_path=str(spool_path), scan_timeout_s=0.05)
    bridge = Bridge(config, ble=radio, session_backoff=Backoff(0.05, 0.2), uplink_backoff=Backoff(0.05, 0.3))
    sent: list[dict] = []
    append = bridge.spool.append

    def capture(frame):
        sent.append(json.loads(json.dumps(frame)))
        return append(frame)

    bridge.spool.append = capture
    return bridge, sent


def sent_samples(sent, device):
    frames = [f for f in sent if f["type"] == "samples" and f["device"] == device and f["t"]]
    return (np.concatenate([f["t"] for f in frames]), np.concatenate([f["depth_mm"] for f in frames]))


async def test_server_killed_and_restarted_mid_session_loses_nothing(demo_env, tmp_path):
    var_dir, env = demo_env
    server = LiveServer(var_dir, env).start()
    loop = asyncio.get_running_loop()
    try:
        address = fake_address(1)
        rec_id = await loop.run_in_executor(None, start_recording, env, "1号工位", address)
        bridge, sent = make_bridge(server.ws_url, tmp_path / "spool.sqlite3", make_fleet(1, "good", seed=11))
        task = asyncio.create_task(bridge.run())
        n_samples = lambda: sum(len(f.get("t") or []) for f in sent)  # noqa: E731
        await wait_until(lambda: n_samples() > 180, what="3 s of samples")
        await loop.run_in_executor(None, lambda: server.stop(kill=True))  # SIGKILL: no goodbye, frames in flight
        killed_at = n_samples()
        await wait_until(lambda: n_samples() > killed_at + 120, what="samples spooled while the server is down")
        assert bridge.spool.count() > 0
        await loop.run_in_executor(None, server.start)
        await asyncio.sleep(3)
        bridge.stop()
        await asyncio.wait_for(task, 30)
        assert Spool(bridge.config.spool_path).count() == 0  # everything acknowledged
    finally:
        if server.proc is None:
            server.start()
    data = await loop.run_in_executor(None, stop_recording, env, rec_id)
    server.stop()
    t, x = sent_samples(sent, address)
    assert data["sample_count"] == len(t)  # every sample stored, none twice
    assert len(data["seqs"]) == len(set(data["seqs"]))
    # One clock offset across the restart (the bridge's clock did not change): the server scored the
    # samples on its own clock, exactly as the uninterrupted trace shifted by that offset.
    assert len(data["offsets"]) == 1
    uninterrupted = score_trace(t + data["offsets"][0], x, standard=data["result"]["standard"]).to_dict()
    assert data["result"] == uninterrupted
    assert data["result"]["count"] > 5


@pytest.fixture
def shared_db(tmp_path):
    """One database (and one Redis) for two server processes."""
    with LiveDatabase(tmp_path / "shared", extra={"REDIS_URL": REDIS_URL}) as db:
        db.prepare()
        yield db


@pytest.mark.skipif(not redis_available(), reason="needs Redis on 127.0.0.1:6379")
async def test_two_server_processes_share_live_data_over_redis(shared_db, tmp_path):
    var_dir, env = shared_db.var_dir, shared_db.env()
    a, b = LiveServer(var_dir, env).start(), LiveServer(var_dir, env).start()
    try:
        cookie = login_cookies(b.url, "examiner", DEMO_PASSWORD)
        received: list[dict] = []
        async with websockets.connect(b.ws_url + "/ws/rooms/1/",
                                      additional_headers={"Cookie": cookie, "Origin": b.url}) as console:
            bridge, sent = make_bridge(a.ws_url, tmp_path / "spool.sqlite3", make_fleet(2, "good", seed=2))
            task = asyncio.create_task(bridge.run())

            async def listen():
                async for msg in console:
                    received.append(json.loads(msg))

            listener = asyncio.create_task(listen())
            await wait_until(lambda: {i["manikin"] for e in received if e["type"] == "live.frames"
                                      for i in e["items"]} >= {1, 2}, what="frames of both manikins on server B")
            bridge.stop()
            await asyncio.wait_for(task, 30)
            listener.cancel()
        items = [i for e in received if e["type"] == "live.frames" for i in e["items"]]
        assert sum(len(i["t"]) for i in items) > 0
        assert all(i["sent_at"] is not None and i["sent_at"] <= time.time() for i in items)
    finally:
        a.stop()
        b.stop()


@pytest.mark.skipif(not LiveDatabase(".").is_postgres, reason="DATABASE_URL does not name PostgreSQL")
async def test_the_server_stores_into_its_own_postgresql_database(demo_db, tmp_path):
    """With DATABASE_URL set, what a live server stores lands in the fresh e2e database on that PostgreSQL server."""
    import psycopg

    assert demo_db.name.startswith("lms_e2e_") and demo_db.name not in os.environ["DATABASE_URL"]
    server = LiveServer(demo_db.var_dir, demo_db.env()).start()
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, login_cookies, server.url, "examiner", DEMO_PASSWORD)
        bridge, sent = make_bridge(server.ws_url, tmp_path / "spool.sqlite3", make_fleet(1, "good", seed=5),
                                   token="demo-station-3-token")
        task = asyncio.create_task(bridge.run())
        await wait_until(lambda: sum(len(f.get("t") or []) for f in sent) > 60, what="1 s of samples")
        # The fleet keeps streaming, so the spool is rarely empty at the instant it is looked at:
        # wait for acknowledgements (frames gone from the spool), not for an empty spool.
        await wait_until(lambda: len(sent) - bridge.spool.count() >= 20, timeout_s=60,
                         what="frames acknowledged by the server")
        bridge.stop()
        await asyncio.wait_for(task, 30)
    finally:
        server.stop()
    with psycopg.connect(demo_db.url) as conn:
        frames = conn.execute("SELECT count(*) FROM manikin_frame WHERE bridge_id = %s",
                              [bridge.spool.bridge_id]).fetchone()[0]
        logins = conn.execute("SELECT count(*) FROM lms_auditlog a JOIN lms_user u ON u.id = a.actor_id "
                              "WHERE a.action = 'auth.login' AND u.username = 'examiner'").fetchone()[0]
    assert frames > 0 and logins >= 1
    assert not (demo_db.var_dir / "db.sqlite3").exists()  # nothing went to a SQLite file
