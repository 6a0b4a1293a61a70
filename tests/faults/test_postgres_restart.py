"""Fault: PostgreSQL restarted under load. A private PostgreSQL 15 cluster (never the system one: CI and
other runs use it) is made in a temporary folder, a live server runs on it, pages are requested and a
bridge streams; PostgreSQL is restarted in the middle (``pg_ctl stop -m fast``, then ``start`` once pages
have been asked for while it was down). The server serves again without being restarted itself
(``CONN_HEALTH_CHECKS``: a request's dead connection is replaced; the ingest drops a broken connection,
a bridge connecting meanwhile is told to try again, and the bridge resends), requests during the outage
get an answer (the error page) instead of hanging, and every frame the bridge sent is stored once."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from lms.liveserver import LiveDatabase, LiveServer, free_port
from manikin.tests_support import manage_shell
from manikin.virtual import fake_address, make_fleet

from .support import BridgeThread, log_in, report, stored_frames, wait

pytestmark = pytest.mark.slow
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEVICE = fake_address(1)
TOKEN = "faults-station-token"


def as_postgres(*args, **kwargs):
    return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True, capture_output=True,
                          text=True, timeout=120, **kwargs)


class PrivatePostgres:
    """A PostgreSQL 15 cluster of its own on a free port (trust authentication, 127.0.0.1 only)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="lms-faults-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args):
        return as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "postgres.log", "-w",
                           "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", *args)

    def start(self) -> PrivatePostgres:
        as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.pg_ctl("start")
        return self

    def stop(self):
        try:
            self.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def private_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15's initdb is not installed ({PG_BIN / 'initdb'})")
    pg = PrivatePostgres().start()
    try:
        yield pg
    finally:
        pg.stop()


STATION = f"""
from lms import api as lms_api
from lms.models import Organisation, Region
from manikin import api
lms_api.import_regions(None, [lms_api.RegionRow(province="浙江省", code="330000", year=2020, population=64567588)])
org = lms_api.create_organisation(None, name="考点", kind=Organisation.Kind.EXAM_SITE,
                                  region=Region.get_root_nodes().get(name="浙江省"))
room = api.create_room(None, organisation=org, name="考场")
station, _token = api.create_station(None, room=room, name="1号工位", token={TOKEN!r})
api.assign_manikin(None, station=station, address={DEVICE!r}, label="1-1")
lms_api.create_person(None, username="faults", real_name="测试", region=Region.get_root_nodes().get(name="浙江省"),
                      password="pw-Faults-123", roles=())
"""


class Load(threading.Thread):
    """Page requests in a loop (bounded in count and time): each one's start, duration and status."""

    def __init__(self, session: requests.Session, url: str, max_s: float = 120, max_requests: int = 5000):
        super().__init__(name="page-load", daemon=True)
        self.session, self.url, self.max_s, self.max_requests = session, url, max_s, max_requests
        self.results: list[tuple[float, float, int | str, str]] = []
        self.stopping = threading.Event()

    def run(self):
        s = self.session
        end = time.monotonic() + self.max_s
        while not self.stopping.is_set() and time.monotonic() < end and len(self.results) < self.max_requests:
            t0 = time.monotonic()
            try:
                resp = s.get(self.url, timeout=30, allow_redirects=False)
                status, body = resp.status_code, resp.text
            except requests.Timeout:
                status, body = "timeout", ""
            except requests.ConnectionError as exc:
                status, body = "connection error", str(exc)
            self.results.append((t0, time.monotonic() - t0, status, body))
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join(30)


def test_postgres_restart_under_load_loses_nothing(private_postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_LIVE_TEMPLATES", "0")  # the run's templates live on another PostgreSQL server
    with LiveDatabase(tmp_path / "live", base_url=private_postgres.url,
                      extra={"LMS_VERIFY_RATE_LIMITS": "0"}) as db:
        db.prepare(demo=False)
        env = db.env()
        manage_shell(env, STATION)
        server = LiveServer(db.var_dir, env).start()
        bridge = load = None
        try:
            person = log_in(server.url, "faults", "pw-Faults-123")
            page = server.url + "/dashboard/"  # a signed-in page: its session is read from the database
            assert person.get(page, timeout=10, allow_redirects=False).status_code in (200, 302)
            bridge = BridgeThread(server.ws_url, TOKEN, tmp_path / "spool.sqlite3",
                                  make_fleet(1, "good", seed=9)).start()
            wait(lambda: bridge.last_seq() > 30 and bridge.acked_through(20), what="frames acknowledged")
            load = Load(person, page)
            load.start()
            wait(lambda: len(load.results) > 10, what="pages under load")

            # The restart (pg_ctl restart -m fast, in its two halves): pages asked for while PostgreSQL is down
            # get an answer, the error page, before it is started again.
            restart_at = time.monotonic()
            private_postgres.pg_ctl("stop", "-m", "fast")
            stopped_at = time.monotonic()
            wait(lambda: sum(1 for t0, d, _s, _b in load.results if t0 > stopped_at) >= 3, timeout_s=30,
                 what="pages answered while PostgreSQL is down")
            starting_at = time.monotonic()
            during = [(d, status, body) for t0, d, status, body in load.results
                      if stopped_at < t0 and t0 + d < starting_at]
            private_postgres.pg_ctl("start")
            pg_back_at = time.monotonic()
            seq = bridge.last_seq()
            wait(lambda: any(t0 > pg_back_at and status in (200, 302) for t0, _d, status, _b in load.results),
                 what="pages served again")
            pages_at = time.monotonic()
            wait(lambda: bridge.acked_through(seq), timeout_s=60, what="frames sent during the restart stored")
            frames_at = time.monotonic()
            report("PostgreSQL restarted under load", max(pages_at, frames_at) - restart_at,
                   f"PostgreSQL down {pg_back_at - restart_at:.2f} s, {len(during)} pages answered meanwhile; "
                   f"pages served again {pages_at - pg_back_at:.2f} s and the bridge's backlog stored "
                   f"{frames_at - pg_back_at:.2f} s after")
            load.stop()
            wait(lambda: bridge.acked_through(bridge.last_seq()), what="everything acknowledged")
            bridge.stop()
        finally:
            if load is not None:
                load.stop()
            if bridge is not None and bridge.thread.is_alive():
                bridge.stop()
            server_procs_alive = {name: p.poll() is None for name, p in server.procs.items()}
            try:
                stored = stored_frames(env, bridge.spool.bridge_id) if bridge is not None else None
            finally:
                server.stop()
    assert all(server_procs_alive.values()), server_procs_alive  # served again without a restart of the server
    statuses = [status for _t0, _d, status, _b in load.results]
    assert "timeout" not in statuses  # nothing hung
    for _t0, _d, status, body in load.results:
        assert status in (200, 302) or (status == 500 and 'data-error="500"' in body), (status, body[-300:])
    print("pages while PostgreSQL was down (status, duration s):", [(s, round(d, 2)) for d, s, _b in during])
    assert during and all(status == 500 for _d, status, _b in during), [s for _d, s, _b in during]
    print(f"pages during the test: {len(statuses)}, of which not 200: "
          f"{sorted({s: statuses.count(s) for s in set(statuses) if s not in (200, 302)}.items())}")
    assert stored["seqs"] == list(range(1, bridge.last_seq() + 1))  # every frame once, none missing
    assert stored["samples"][DEVICE] == bridge.samples(DEVICE) and stored["rejected"] == 0
