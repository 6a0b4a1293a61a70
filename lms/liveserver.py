"""A real server in its own process, for end-to-end tests and benchmarks: Daphne on its own database.

``server_env`` alone gives a server a fresh SQLite file in its folder. ``LiveDatabase`` gives a
server (or several that must share one) the database the test run itself uses: when
``DATABASE_URL`` names PostgreSQL (as in CI's second run), a fresh database created on that
PostgreSQL server and dropped afterwards; otherwise the SQLite file. The channel layer and cache
are Redis when ``REDIS_URL`` is set: every server inherits it from the environment.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("postgres://", "postgresql://", "pgsql://"))


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


class _Postgres:
    """Create and drop throw-away databases named ``<prefix>_<unix time>_<random hex>`` on a PostgreSQL server.

    The creation time in the name lets every later run drop what a crashed run left behind.
    """

    MAX_AGE_S = 24 * 3600

    def __init__(self, base_url: str, prefix: str):
        self.base_url = base_url
        self.prefix = prefix
        self.name = f"{prefix}_{int(time.time())}_{secrets.token_hex(4)}"
        self.url = _with_database(base_url, self.name)

    def _maintenance(self):
        import psycopg

        return psycopg.connect(_with_database(self.base_url, "postgres"), autocommit=True)

    def create(self) -> None:
        with self._maintenance() as conn:
            self._drop_stale(conn)
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with self._maintenance() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _drop_stale(self, conn) -> None:
        pattern = re.compile(rf"{re.escape(self.prefix)}_(\d{{10}})_[0-9a-f]+")
        cutoff = time.time() - self.MAX_AGE_S
        for (name,) in conn.execute("SELECT datname FROM pg_database").fetchall():
            m = pattern.fullmatch(name)
            if m and int(m.group(1)) < cutoff:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LiveDatabase:
    """The database of one live server, or of several that must share it.

    With ``DATABASE_URL`` naming PostgreSQL (default: the environment's), a fresh database
    ``lms_e2e_<time>_<hex>`` on that server; otherwise ``db.sqlite3`` in ``var_dir``. ``env()``
    is the servers' environment, ``prepare()`` migrates (and loads the demo), leaving the block
    drops a PostgreSQL database (and databases of crashed runs older than a day go when the next
    one is created)::

        with LiveDatabase(var_dir) as db:
            db.prepare()
            server = LiveServer(var_dir, db.env()).start()
    """

    PREFIX = "lms_e2e"

    def __init__(self, var_dir: Path, base_url: str | None = None, extra: dict | None = None):
        self.var_dir = Path(var_dir)
        base_url = os.environ.get("DATABASE_URL") if base_url is None else base_url
        self._pg = _Postgres(base_url, self.PREFIX) if is_postgres_url(base_url) else None
        self.extra = dict(extra or {})

    @property
    def is_postgres(self) -> bool:
        return self._pg is not None

    @property
    def url(self) -> str | None:
        """The PostgreSQL URL of this database (None on SQLite)."""
        return self._pg.url if self._pg else None

    @property
    def name(self) -> str | None:
        return self._pg.name if self._pg else None

    def env(self, extra: dict | None = None) -> dict:
        db = {"DATABASE_URL": self._pg.url} if self._pg else {}
        return server_env(self.var_dir, {**db, **self.extra, **(extra or {})})

    def prepare(self, demo: bool = True) -> LiveDatabase:
        prepare_database(self.var_dir, self.env(), demo=demo)
        return self

    def __enter__(self) -> LiveDatabase:
        if self._pg:
            self._pg.create()
        return self

    def __exit__(self, *exc) -> None:
        if self._pg:
            self._pg.drop()


class ScratchDatabase:
    """A throw-away PostgreSQL database on the server of ``DATABASE_URL``, for a benchmark or test run.

    ``with ScratchDatabase(os.environ.get("DATABASE_URL")) as url:`` gives a fresh database URL (or
    None when no PostgreSQL URL was given: the caller then uses a SQLite file).
    """

    PREFIX = "lms_scratch"

    def __init__(self, base_url: str | None):
        self.base_url = base_url if is_postgres_url(base_url) else None
        self._pg = _Postgres(self.base_url, self.PREFIX) if self.base_url else None
        self.name = self._pg.name if self._pg else None

    def __enter__(self) -> str | None:
        if not self._pg:
            return None
        self._pg.create()
        return self._pg.url

    def __exit__(self, *exc) -> None:
        if self._pg:
            self._pg.drop()
