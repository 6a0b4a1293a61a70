"""The journeys' server, browser and screenshots.

One server for the whole folder (module scope: start-up is slow), in the production topology: nginx in front
of two HTTP and two WebSocket processes and the background-task worker, started by ``bin/cluster`` (CI's
PostgreSQL run, ``LMS_JOURNEYS_CLUSTER=1``) or by ``lms.liveserver.LiveServer`` with the same options, on
the test run's database (PostgreSQL when ``DATABASE_URL`` names it, a fresh database made by
``LiveDatabase``) and Redis (``REDIS_URL``, else a private one).

Every step's screenshot goes to ``var/journeys/<journey>/<NN>-<step>.png`` under the project root, or
under ``LMS_JOURNEY_SHOTS`` when set; each test prints the folder at its end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lms.liveserver import (ROOT, LiveDatabase, LiveServer, established_connections, free_port, register_group,
                            unregister_group, wait_group)
from tests.browser.conftest import browser  # noqa: F401 (the same module-scoped Chromium)
from tests.browser.conftest import log_in  # noqa: F401 (the journeys import it from here)

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1280, "height": 900}


def shots_root() -> Path:
    root = Path(os.environ.get("LMS_JOURNEY_SHOTS") or ROOT / "var" / "journeys")
    return root if root.is_absolute() else ROOT / root


class Journey:
    """Numbered screenshots of one journey: ``shot(page, "step")`` saves ``<NN>-step.png`` (full page).

    The journey's folder is emptied of the PNGs of an earlier run at its first screenshot. A journey
    told in two tests keeps counting (``journeys`` below hands out one object per name)."""

    def __init__(self, name: str):
        self.name = name
        self.folder = shots_root() / name
        self.n = 0

    def shot(self, page, step: str) -> Path:
        if self.n == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob("*.png"):
                old.unlink(missing_ok=True)  # the other CI run may write the same folder at the same time
        self.n += 1
        path = self.folder / f"{self.n:02d}-{re.sub(r'[^a-z0-9-]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def journeys():
    made: dict[str, Journey] = {}

    def get(name: str) -> Journey:
        return made.setdefault(name, Journey(name))

    return get


class ClusterScript:
    """``bin/cluster`` itself as the journeys' server (``LMS_JOURNEYS_CLUSTER=1``, CI's PostgreSQL run): the
    production recipe's script (nginx → 2 HTTP + 2 WebSocket processes, db_worker and the loops) on a
    database prepared by ``LiveDatabase`` and the run's Redis. Offers what the journeys use of a LiveServer:
    ``url``, ``ws_url``, ``env``, ``var_dir``, ``asgi_connection_counts()`` (the WebSocket processes' ports
    are read from the line the script prints when it serves) and whether its db_worker runs."""

    def __init__(self, var_dir: Path, env: dict):
        if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")) or not env.get("REDIS_URL"):
            raise RuntimeError("LMS_JOURNEYS_CLUSTER needs DATABASE_URL (PostgreSQL) and REDIS_URL: bin/cluster "
                               "runs on both")
        self.var_dir = Path(var_dir)
        self.port = free_port()
        # The front serves static files collected for this run, not the tree's static_collected.
        self.env = {**env, "LMS_STATIC_ROOT": str(self.var_dir / "static")}
        self.log_path = self.var_dir / "cluster.out"
        self.proc: subprocess.Popen | None = None
        self.asgi_ports: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300) -> ClusterScript:
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(ROOT / "bin" / "cluster"), "127.0.0.1", str(self.port)], cwd=ROOT,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        register_group(self.proc.pid)  # stopped by a later run if this one is killed
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log_path.read_text()
            serving = re.search(r"for /ws/ \[([^\]]*)\]", text)
            if serving:
                self.asgi_ports = [int(p) for p in re.findall(r":(\d+)", serving.group(1))]
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"bin/cluster did not start serving:\n{self.log_path.read_text()[-3000:]}")

    def asgi_connection_counts(self) -> list[int]:
        return [established_connections(port) for port in self.asgi_ports]

    def has_db_worker(self) -> bool:
        """Whether a ``db_worker`` started by the script is running (a child of its Python process)."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (stat.parent / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and b"db_worker" in cmdline:
                return True
        return False

    def stop(self) -> None:
        """SIGTERM, as systemd would: the script stops every process it started."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc is not None:
            wait_group(self.proc.pid)
            unregister_group(self.proc.pid)


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory):
    """The demo on real server processes: nginx → 2 HTTP + 2 WebSocket processes + db_worker; started by
    ``bin/cluster`` when ``LMS_JOURNEYS_CLUSTER=1``, else by ``LiveServer`` with the same options."""
    var_dir = tmp_path_factory.mktemp("journeys")
    with LiveDatabase(var_dir) as db:
        db.prepare()
        if os.environ.get("LMS_JOURNEYS_CLUSTER") == "1":
            server = ClusterScript(var_dir, db.env()).start()
        else:
            server = LiveServer(var_dir, db.env(), http_processes=2, ws_processes=2, db_worker=True).start(
                timeout_s=90)
        try:
            yield server
        finally:
            server.stop()


def has_db_worker(server) -> bool:
    if isinstance(server, ClusterScript):
        return server.has_db_worker()
    proc = server.procs.get("db_worker")
    return proc is not None and proc.poll() is None


def server_shell(server, code: str) -> str:
    """Run ``code`` in ``manage.py shell`` against the server's database; the last line it printed."""
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return out.stdout.strip().splitlines()[-1]


class Watch:
    """What goes wrong on a page that the user might not see: script errors and failed requests."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}")
                if r.status >= 500 else None)


def open_page(browser, viewport=PHONE, **kwargs):
    context = browser.new_context(viewport=viewport, locale="zh-CN", **kwargs)
    page = context.new_page()
    return context, page, Watch(page)


def main_text(page) -> str:
    return page.locator("main").inner_text()
