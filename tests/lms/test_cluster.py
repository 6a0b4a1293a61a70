"""Past one machine: the production recipe's topology (deploy/, bin/cluster) on this one.

nginx in front of two HTTP (granian WSGI) and two WebSocket (granian ASGI) processes, each on its
own port as it would be on its own machine, and the background-task worker, all on the test run's
PostgreSQL database and Redis (the processes share nothing else). Run once in CI: in the
PostgreSQL and Redis run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request

import pytest
import websockets

from lms.demo import DEMO_PASSWORD
from lms.liveserver import LiveDatabase, LiveServer
from manikin.bridge.app import Bridge, BridgeConfig
from manikin.bridge.uplink import Backoff
from manikin.tests_support import login_cookies, manage_shell, wait_until
from manikin.virtual import make_fleet

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (LiveDatabase(".").is_postgres and os.environ.get("REDIS_URL")),
                       reason="the cluster runs on PostgreSQL and Redis (DATABASE_URL, REDIS_URL)"),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with LiveDatabase(tmp_path_factory.mktemp("cluster")) as db:
        db.prepare()
        started = time.monotonic()
        server = LiveServer(db.var_dir, db.env(), http_processes=2, ws_processes=2, db_worker=True).start(60)
        print(f"\ncluster up in {time.monotonic() - started:.1f} s: wsgi {server.wsgi_ports}, asgi {server.asgi_ports}")
        try:
            yield server
        finally:
            server.stop()


def _get(url: str):
    return urllib.request.urlopen(url, timeout=10)


def test_the_topology_is_two_http_and_two_websocket_processes_and_a_worker(cluster):
    assert set(cluster.procs) == {"nginx", "wsgi", "wsgi-2", "asgi", "asgi-2", "db_worker"}  # Redis is shared
    assert len(set(cluster.wsgi_ports + cluster.asgi_ports + [cluster.port])) == 5
    for name, port in zip(cluster.wsgi_names, cluster.wsgi_ports):
        args = cluster.procs[name].args
        assert "lms.wsgi:application" in args and str(port) in args and args[args.index("--workers") + 1] == "1"
    for name, port in zip(cluster.asgi_names, cluster.asgi_ports):
        assert "lms.asgi:application" in cluster.procs[name].args and str(port) in cluster.procs[name].args
    assert cluster.procs["db_worker"].args[-3:] == ["db_worker", "--queue-name", "*"]
    conf = (cluster.run_dir / "nginx.conf").read_text()
    wsgi = conf[conf.index("upstream lms_wsgi"):conf.index("}", conf.index("upstream lms_wsgi"))]
    asgi = conf[conf.index("upstream lms_asgi"):conf.index("}", conf.index("upstream lms_asgi"))]
    assert [f"server 127.0.0.1:{p};" in wsgi for p in cluster.wsgi_ports] == [True, True] and "keepalive" in wsgi
    assert [f"server 127.0.0.1:{p};" in asgi for p in cluster.asgi_ports] == [True, True] and "least_conn;" in asgi
    assert "proxy_next_upstream error timeout" in conf


def test_pages_are_answered_through_nginx_by_both_http_processes(cluster):
    upstreams = []
    for _ in range(6):
        resp = _get(cluster.url + "/login/")
        assert resp.status == 200 and b"csrfmiddlewaretoken" in resp.read()
        upstreams.append(resp.headers["X-Upstream"])
    assert set(upstreams) == {f"127.0.0.1:{p}" for p in cluster.wsgi_ports}  # round-robin over both
    assert _get(cluster.url + "/static/manikin/live.js").status == 200  # static files from disk, not the app


async def test_a_bridge_on_one_websocket_process_feeds_a_console_on_the_other(cluster, tmp_path):
    """The console's socket and the bridge's socket pass through nginx's upgrade to different ASGI
    processes (least_conn); the live samples go from one to the other through the Redis channel layer."""
    loop = asyncio.get_running_loop()
    assert cluster.asgi_connection_counts() == [0, 0]
    cookie = await loop.run_in_executor(None, login_cookies, cluster.url, "examiner", DEMO_PASSWORD)
    received: list[dict] = []
    async with websockets.connect(cluster.ws_url + "/ws/rooms/1/", open_timeout=10,
                                  additional_headers={"Cookie": cookie, "Origin": cluster.url}) as console:
        assert console.response.status_code == 101  # the upgrade passed through nginx
        await wait_until(lambda: sum(cluster.asgi_connection_counts()) == 1, what="the console's socket")
        console_process = cluster.asgi_connection_counts().index(1)

        async def listen():
            async for msg in console:
                received.append(json.loads(msg))

        listener = asyncio.create_task(listen())
        config = BridgeConfig(server=cluster.ws_url, token="demo-station-1-token",
                              spool_path=str(tmp_path / "spool.sqlite3"), scan_timeout_s=0.05)
        bridge = Bridge(config, ble=make_fleet(2, "good", seed=3), session_backoff=Backoff(0.05, 0.2),
                        uplink_backoff=Backoff(0.05, 0.3))
        task = asyncio.create_task(bridge.run())
        try:
            await wait_until(lambda: cluster.asgi_connection_counts() == [1, 1], what="the bridge's socket")
            await wait_until(lambda: {i["manikin"] for e in received if e["type"] == "live.frames"
                                      for i in e["items"]} >= {1, 2}, timeout_s=60,
                             what="both manikins' samples on the console")
            # Still one socket on each: the bridge's process is not the console's.
            counts = cluster.asgi_connection_counts()
            assert counts == [1, 1], counts
        finally:
            bridge.stop()
            await asyncio.wait_for(task, 30)
            listener.cancel()
    print(f"console on asgi process {console_process + 1}, bridge on asgi process {2 - console_process}")
    items = [i for e in received if e["type"] == "live.frames" for i in e["items"]]
    assert sum(len(i["t"]) for i in items) > 0


def test_a_task_enqueued_is_run_by_the_db_worker(cluster):
    out = manage_shell(cluster.env, """
import time
from certificates.tasks import send_expiry_reminders_task
from django_tasks import default_task_backend
result = send_expiry_reminders_task.enqueue()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    result = default_task_backend.get_result(result.id)
    if result.is_finished:
        break
    time.sleep(0.2)
print(result.status.name, len(result.worker_ids))
""")
    # Nobody else runs tasks here: the db_worker process took it (one worker id) and it succeeded.
    assert out.strip().splitlines()[-1] == "SUCCESSFUL 1", out


def test_pages_are_still_served_when_one_http_process_is_killed(cluster):
    """SIGKILL the second HTTP process: nginx passes each request to the other (proxy_next_upstream)."""
    dead, alive = cluster.wsgi_ports[1], cluster.wsgi_ports[0]
    killed = time.monotonic()
    os.killpg(cluster.procs["wsgi-2"].pid, signal.SIGKILL)
    cluster.procs["wsgi-2"].wait(10)
    first_good_s = None
    upstreams = []
    for _ in range(8):
        resp = _get(cluster.url + "/login/")  # raises on a 502: no request may fail
        assert resp.status == 200 and b"csrfmiddlewaretoken" in resp.read()
        if first_good_s is None:
            first_good_s = time.monotonic() - killed
        upstreams.append(resp.headers["X-Upstream"])
    print(f"\nfirst good answer {first_good_s * 1000:.0f} ms after the SIGKILL; upstreams: {upstreams}")
    # Every answer came from the living process (a request may have tried the dead one first: "dead, alive").
    assert all(u.split(", ")[-1] == f"127.0.0.1:{alive}" for u in upstreams)
    assert f"127.0.0.1:{dead}" not in upstreams
    assert _get(cluster.url + "/healthz").read() == b"ok"
