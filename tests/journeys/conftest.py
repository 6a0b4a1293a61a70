"""The journeys' server, browser and screenshots.

One server for the whole folder (module scope: start-up is slow), in the production topology when
``lms.liveserver.LiveServer`` offers it: nginx in front of two HTTP and two WebSocket processes and the
background-task worker, on the test run's database (PostgreSQL when ``DATABASE_URL`` names it, a fresh
database made by ``LiveDatabase``) and Redis (``REDIS_URL``, else a private one).

Every step's screenshot goes to ``var/journeys/<journey>/<NN>-<step>.png`` under the project root, or
under ``LMS_JOURNEY_SHOTS`` when set; each test prints the folder at its end.
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT, LiveDatabase, LiveServer, wait_group
from tests.browser.conftest import browser  # noqa: F401 (the same module-scoped Chromium)

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


def topology_options() -> dict:
    """The production topology's options, as far as this LiveServer accepts them."""
    accepted = inspect.signature(LiveServer.__init__).parameters
    wanted = {"http_processes": 2, "ws_processes": 2, "db_worker": True}
    return {k: v for k, v in wanted.items() if k in accepted}


@pytest.fixture(scope="module")
def journey_server(tmp_path_factory):
    """The demo on real server processes: nginx → 2 HTTP + 2 WebSocket processes + db_worker."""
    var_dir = tmp_path_factory.mktemp("journeys")
    with LiveDatabase(var_dir) as db:
        db.prepare()
        options = topology_options()
        server = LiveServer(var_dir, db.env(), **options).start(timeout_s=90)
        worker = None
        if not options.get("db_worker"):  # an older LiveServer: the background-task worker beside it
            worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--queue-name", "*"], cwd=ROOT,
                                      env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        server.journey_worker = worker
        try:
            yield server
        finally:
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                wait_group(worker.pid)
            server.stop()


def has_db_worker(server) -> bool:
    proc = server.procs.get("db_worker") or getattr(server, "journey_worker", None)
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


def log_in(page, server, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("load")
    if "/privacy/" in page.url:  # the first sign-in may ask for the privacy notice first
        for box in page.locator("form.privacy-consent input[type=checkbox]").all():
            box.check()
        page.locator("form.privacy-consent button.primary").click()
    page.wait_for_url("**/dashboard/")


def main_text(page) -> str:
    return page.locator("main").inner_text()
