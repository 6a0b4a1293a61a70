"""The deployed topology (lms.serving): nginx in front, granian for HTTP, the ASGI server for /ws/ only.

The same processes serve ``make demo`` (bin/serve), the end-to-end tests and the benchmarks
(``lms.liveserver.LiveServer``); these tests check what the split must not lose.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
import websockets

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT, LiveDatabase, LiveServer, free_port, server_env, wait_group
from lms.serving import asgi_command, nginx_conf, wsgi_command
from manikin.tests_support import login_cookies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveDatabase(tmp_path_factory.mktemp("serving")) as db:
        db.prepare()
        srv = LiveServer(db.var_dir, db.env()).start()
        yield srv
        srv.stop()


def _get(url: str):
    return urllib.request.urlopen(url, timeout=10)


def test_http_goes_to_the_wsgi_server_and_sockets_to_the_asgi_server(server):
    assert set(server.procs) >= {"nginx", "wsgi", "asgi"}
    assert "granian" in " ".join(server.procs["wsgi"].args) and "lms.wsgi:application" in server.procs["wsgi"].args
    assert "lms.asgi:application" in server.procs["asgi"].args and server.proc is server.procs["asgi"]
    conf = (server.run_dir / "nginx.conf").read_text()
    assert f"server 127.0.0.1:{server.asgi_port};" in conf and f"server 127.0.0.1:{server.wsgi_port};" in conf
    resp = _get(server.url + "/login/")
    assert resp.status == 200 and b"csrfmiddlewaretoken" in resp.read()
    assert _get(server.url + "/healthz").read() == b"ok"


def test_static_files_come_from_disk_through_the_front(server):
    resp = _get(server.url + "/static/manikin/live.js")
    assert resp.status == 200
    assert resp.headers["Content-Type"] in ("application/javascript", "text/javascript")
    assert resp.read() == (ROOT / "manikin/static/manikin/live.js").read_bytes()  # collected from today's sources
    assert (server.static_root / "manikin/live.js").exists()


async def _socket(url: str, **headers):
    """Connect and report (status, first message or None); a refused handshake gives its HTTP status."""
    try:
        async with websockets.connect(url, additional_headers=headers, open_timeout=10) as ws:
            try:
                first = await asyncio.wait_for(ws.recv(), timeout=2)
            except asyncio.TimeoutError:
                first = None
            return 101, first
    except websockets.InvalidStatus as exc:
        return exc.response.status_code, None


async def test_a_browser_socket_signed_in_through_wsgi_connects_through_the_front(server):
    loop = asyncio.get_running_loop()
    cookie = await loop.run_in_executor(None, login_cookies, server.url, "examiner", DEMO_PASSWORD)
    status, _ = await _socket(server.ws_url + "/ws/rooms/1/", Cookie=cookie, Origin=server.url)
    assert status == 101
    # The session cookie from the WSGI sign-in is what authenticates it: without it, the consumer refuses.
    status, _ = await _socket(server.ws_url + "/ws/rooms/1/", Origin=server.url)
    assert status == 403
    # Another site's page cannot use the examiner's cookie (AllowedHostsOriginValidator behind the front).
    status, _ = await _socket(server.ws_url + "/ws/rooms/1/", Cookie=cookie, Origin="http://evil.example")
    assert status == 403


async def test_a_bridge_with_a_bad_token_is_answered_with_4401_through_the_front(server):
    async with websockets.connect(server.ws_url + "/ws/bridge/", open_timeout=10,
                                  additional_headers={"Authorization": "Bearer not-a-token"}) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), timeout=10)
    assert closed.value.rcvd.code == 4401


@pytest.mark.embedded_defaults
def test_stop_kill_ends_every_process_of_the_server(tmp_path):
    with LiveDatabase(tmp_path, base_url="") as db:
        db.prepare(demo=False)
        srv = LiveServer(tmp_path, db.env()).start()
        pids = [p.pid for p in srv.procs.values()]
        children = [c.pid for pid in pids for c in psutil.Process(pid).children(recursive=True)]
        srv.stop(kill=True)
        assert srv.proc is None
        assert not [pid for pid in pids + children if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        srv.start()  # the same ports again
        try:
            assert _get(srv.url + "/healthz").read() == b"ok"
        finally:
            srv.stop()


def test_the_asgi_server_is_configurable(monkeypatch):
    monkeypatch.delenv("LMS_ASGI_SERVER", raising=False)
    default = asgi_command(9000)
    assert default[0].endswith("granian") and "asginl" in default  # Channels' router serves no lifespan
    monkeypatch.setenv("LMS_ASGI_SERVER", "uvicorn")
    assert asgi_command(9000)[0].endswith("uvicorn")
    assert "websockets-sansio" in asgi_command(9000, "uvicorn-sansio")
    assert "daphne" in asgi_command(9000, "daphne")[0]
    with pytest.raises(ValueError):
        asgi_command(9000, "nope")
    conf = nginx_conf(ROOT / "var", "0.0.0.0", 8000, 8001, 8002)
    assert "location /ws/" in conf and "proxy_set_header Upgrade $http_upgrade" in conf
    assert "location /static/" in conf and "error_page 404 = @lms_wsgi" in conf


@pytest.mark.embedded_defaults
def test_bin_serve_is_the_one_command_of_the_demo(tmp_path):
    """``make demo`` ends in ``bin/serve HOST PORT``: one URL, pages and WebSockets."""
    with LiveDatabase(tmp_path, base_url="") as db:
        db.prepare()
        env = db.env()
    env.pop("REDIS_URL", None)  # as on a fresh machine: a private Redis
    port = free_port()
    proc = subprocess.Popen([str(ROOT / "bin/serve"), "127.0.0.1", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            try:
                resp = _get(url + "/login/")
                break
            except OSError:
                assert time.monotonic() < deadline, "bin/serve did not answer"
                time.sleep(0.2)
        assert resp.status == 200
        # The WebSocket upgrade on /ws/rooms/1/ is answered by the app: refused for an anonymous visitor,
        # accepted with a session.
        status, _ = asyncio.run(_socket(f"ws://127.0.0.1:{port}/ws/rooms/1/", Origin=url))
        assert status == 403
        cookie = login_cookies(url, "examiner", DEMO_PASSWORD)
        status, _ = asyncio.run(_socket(f"ws://127.0.0.1:{port}/ws/rooms/1/", Origin=url, Cookie=cookie))
        assert status == 101
    finally:
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)] \
            if proc.poll() is None else []
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # bin/serve stops everything it started
            proc.wait(30)
        time.sleep(0.5)
        left = [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left


def test_the_committed_nginx_example_is_what_the_generator_renders(capsys):
    """deploy/nginx.conf is ``python -m lms.serving nginx-conf`` with no options: one source for the front."""
    from lms.serving import EXAMPLE_NGINX, main

    assert main(["nginx-conf"]) == 0
    rendered = capsys.readouterr().out
    assert (ROOT / "deploy/nginx.conf").read_text() == rendered
    upstreams = rendered[rendered.index("upstream lms_wsgi"):rendered.index("map $http_upgrade")]
    assert [line.strip() for line in upstreams.splitlines() if line.strip().startswith("server ")] == \
        [f"server {s};" for s in EXAMPLE_NGINX["wsgi"] + EXAMPLE_NGINX["asgi"]]
    assert "least_conn;" in upstreams and "listen 0.0.0.0:443 ssl reuseport;" in rendered


def test_the_front_of_several_machines_is_a_valid_nginx_configuration(tmp_path):
    """What an operator renders (other machines' addresses, TLS) passes ``nginx -t``; bad arguments are refused."""
    import shutil

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=lms.test",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    conf = nginx_conf(run_dir, "127.0.0.1", free_port(), ["10.1.2.3:8001", 8003], ["10.1.2.4:8002"], user="",
                      open_files=4096, workers="auto", tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem")
    assert "server 10.1.2.3:8001;" in conf and "server 127.0.0.1:8003;" in conf and "server 10.1.2.4:8002;" in conf
    assert "ssl_certificate " in conf and "\nuser " not in conf
    (tmp_path / "nginx.conf").write_text(conf)
    from lms.serving import nginx_binary

    out = subprocess.run([nginx_binary(), "-t", "-p", str(run_dir), "-e", str(run_dir / "error.log"),
                          "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with pytest.raises(ValueError):
        nginx_conf(run_dir, "127.0.0.1", 8000, [], 8002)
    with pytest.raises(ValueError):
        nginx_conf(run_dir, "127.0.0.1", 8000, 8001, 8002, tls_cert=tmp_path / "cert.pem")


def test_the_systemd_units_run_what_lms_serving_runs():
    """deploy/systemd has a unit for each process of ``lms.serving``: servers, worker and every loop."""
    from lms.serving import LOOPS

    units = {p.name: p.read_text() for p in (ROOT / "deploy/systemd").glob("*.service")}
    exec_lines = [line for text in units.values() for line in text.splitlines() if line.startswith("ExecStart=")]
    assert "ExecStart=/srv/lms/.venv/bin/python -m lms.serving wsgi --host 0.0.0.0 --port %i" in exec_lines
    assert "ExecStart=/srv/lms/.venv/bin/python -m lms.serving asgi --host 0.0.0.0 --port %i" in exec_lines
    assert "ExecStart=/srv/lms/.venv/bin/python manage.py db_worker --queue-name *" in exec_lines
    for _, command in LOOPS:
        assert f"ExecStart=/srv/lms/.venv/bin/python manage.py {' '.join(command)}" in exec_lines
    assert all("EnvironmentFile=/etc/lms/lms.env" in text
               for name, text in units.items() if name != "lms-nginx.service")


def test_lms_serving_runs_one_wsgi_or_asgi_server_as_the_units_do(tmp_path):
    """``python -m lms.serving wsgi|asgi`` execs the same command line as the servers lms.serving starts."""
    port = free_port()
    for kind, path in (("wsgi", "/healthz"), ("asgi", None)):
        proc = subprocess.Popen([sys.executable, "-m", "lms.serving", kind, "--port", str(port)], cwd=ROOT,
                                env={**server_env(tmp_path), "LMS_WSGI_WORKERS": "1"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None
                assert time.monotonic() < deadline, f"{kind} did not listen"
                try:
                    if path:
                        assert _get(f"http://127.0.0.1:{port}{path}").read() == b"ok"
                    else:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            expected = wsgi_command(port, 1) if kind == "wsgi" else asgi_command(port)
            argv = psutil.Process(proc.pid).cmdline()  # the process became the server (exec, same pid)
            assert argv[-(len(expected) - 1):] == expected[1:]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
            wait_group(proc.pid)
