"""A real server in its own process, for end-to-end tests and benchmarks: Daphne on its own database.

The database is a fresh SQLite file in a temporary folder, unless a test asks for
PostgreSQL; the channel layer is Redis when REDIS_URL is set (as in CI's second run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(var_dir: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({"LMS_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "lms.settings", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def prepare_database(var_dir: Path, env: dict, demo: bool = True) -> None:
    run = lambda *args: subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,  # noqa: E731
                                       stdout=subprocess.DEVNULL)
    run("migrate", "--noinput", "-v", "0")
    if demo:
        run("load_demo")


class LiveServer:
    """Daphne serving lms.asgi on a free port; start(), stop(), restart() keep the same port and database."""

    def __init__(self, var_dir: Path, env: dict, port: int | None = None):
        self.var_dir = var_dir
        self.env = env
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = var_dir / f"daphne-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> LiveServer:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "lms.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/login/", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start in time")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def restart(self, kill: bool = True) -> None:
        self.stop(kill=kill)
        self.start()


class ScratchDatabase:
    """A throw-away PostgreSQL database on the server of ``DATABASE_URL``, for a benchmark or test run.

    ``with ScratchDatabase(os.environ.get("DATABASE_URL")) as url:`` gives a fresh database URL (or
    None when no PostgreSQL URL was given: the caller then uses a SQLite file).
    """

    def __init__(self, base_url: str | None):
        self.base_url = base_url if base_url and base_url.startswith(("postgres://", "postgresql://")) else None
        self.name = f"lms_scratch_{os.getpid()}_{int(time.time())}"

    def _admin(self):
        import psycopg
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.base_url)
        return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)

    def __enter__(self) -> str | None:
        if not self.base_url:
            return None
        from urllib.parse import urlsplit, urlunsplit

        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return urlunsplit(urlsplit(self.base_url)._replace(path=f"/{self.name}"))

    def __exit__(self, *exc) -> None:
        if self.base_url:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
