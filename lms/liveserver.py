"""A real server in its own processes, for end-to-end tests and benchmarks: the deployed topology on its own database.

``server_env`` alone gives a server a fresh SQLite file in its folder. ``LiveDatabase`` gives a
server (or several that must share one) the database the test run itself uses: when
``DATABASE_URL`` names PostgreSQL (as in CI's second run), a fresh database created on that
PostgreSQL server and dropped afterwards; otherwise the SQLite file. The channel layer and cache
are Redis when ``REDIS_URL`` is set: every server inherits it from the environment.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
    """The product as deployed (``lms.serving``) on free ports: nginx in front of WSGI servers and ASGI servers.

    ``url``/``ws_url``/``port`` are the front's. ``http_processes`` WSGI servers (granian, each with
    ``wsgi_workers`` workers) and ``ws_processes`` ASGI servers run as separate processes, each on
    its own port (``wsgi_ports``, ``asgi_ports``; ``wsgi_port``/``asgi_port`` are the first), as
    they would on separate machines; nginx's upstreams list them all. ``db_worker=True`` adds the
    background-task worker (``manage.py db_worker --queue-name '*'``).

    ``procs`` has every process by name: ``nginx``, ``wsgi``, ``wsgi-2``, …, ``asgi``, ``asgi-2``,
    …, ``db_worker``, ``redis``. ``proc`` is the first ASGI process, which holds every WebSocket when
    there is one (``stop(kill=True)`` SIGKILLs it like every other process of the server). Without
    ``REDIS_URL`` in ``env`` the server gets a private Redis on a Unix socket in ``var_dir``, which
    its processes share. start(), stop(), restart() keep the same ports and database.
    """

    def __init__(self, var_dir: Path, env: dict, port: int | None = None, host: str = "127.0.0.1",
                 asgi_server: str | None = None, wsgi_workers: int | None = 1, log_path: Path | None = None,
                 http_processes: int = 1, ws_processes: int = 1, db_worker: bool = False,
                 upstream_header: bool = True):
        from lms.serving import ASGI_SERVERS

        if http_processes < 1 or ws_processes < 1:
            raise ValueError("a server needs at least one HTTP process and one WebSocket process")
        self.var_dir = Path(var_dir)
        self.port = port or free_port()
        self.host = host
        self.wsgi_ports = [free_port() for _ in range(http_processes)]
        self.asgi_ports = [free_port() for _ in range(ws_processes)]
        self.asgi_server = asgi_server or env.get("LMS_ASGI_SERVER") or ASGI_SERVERS[0]
        if self.asgi_server not in ASGI_SERVERS:
            raise ValueError(f"LMS_ASGI_SERVER must be one of {ASGI_SERVERS}")
        self.wsgi_workers = wsgi_workers
        self.db_worker = db_worker
        self.upstream_header = upstream_header
        self.run_dir = self.var_dir / f"run-{self.port}"
        self.log_path = log_path or self.var_dir / f"server-{self.port}.log"
        self.env = dict(env)
        # The front overwrites X-Forwarded-For with the peer's address: the app may trust it.
        self.env.setdefault("LMS_TRUST_X_FORWARDED_FOR", "1")
        # The front serves collectstatic's output from disk: collected once per var_dir from the current
        # sources (unless LMS_STATIC_ROOT names a folder collected already, as bin/serve does).
        self.collect_static = not self.env.get("LMS_STATIC_ROOT")
        self.env.setdefault("LMS_STATIC_ROOT", str(self.var_dir / "static"))
        self.static_root = Path(self.env["LMS_STATIC_ROOT"])
        self.redis_socket = None
        if not self.env.get("REDIS_URL"):
            self.redis_socket = self.run_dir / "redis.sock"
            self.env["REDIS_URL"] = f"unix://{self.redis_socket}"
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def wsgi_port(self) -> int:
        return self.wsgi_ports[0]

    @property
    def asgi_port(self) -> int:
        return self.asgi_ports[0]

    @staticmethod
    def _name(kind: str, index: int) -> str:
        """``wsgi``, ``wsgi-2``, ``wsgi-3``, … (the first keeps the plain name)."""
        return kind if index == 0 else f"{kind}-{index + 1}"

    @property
    def wsgi_names(self) -> list[str]:
        return [self._name("wsgi", i) for i in range(len(self.wsgi_ports))]

    @property
    def asgi_names(self) -> list[str]:
        return [self._name("asgi", i) for i in range(len(self.asgi_ports))]

    @property
    def proc(self) -> subprocess.Popen | None:
        """The (first) ASGI process (the WebSockets); None when stopped."""
        return self.procs.get("asgi")

    @property
    def url(self) -> str:
        return f"http://{self._host_in_url}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host_in_url}:{self.port}"

    @property
    def _host_in_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"[{host}]" if ":" in host else host

    def asgi_connection_counts(self) -> list[int]:
        """Established TCP connections on each ASGI port (in ``asgi_ports`` order), from /proc/net/tcp{,6}:
        which ASGI process holds how many sockets (each proxied WebSocket is one connection from nginx)."""
        return [established_connections(port) for port in self.asgi_ports]

    def _spawn(self, name: str, argv: list[str], log) -> None:
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        register_group(self.procs[name].pid)

    def start(self, timeout_s: float = 30.0) -> LiveServer:
        from lms import serving

        reap_orphans()
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        serving.raise_open_files_limit()  # inherited by the servers: every WebSocket holds a descriptor
        if self.collect_static and not (self.static_root / ".collected").exists():
            subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT,
                           env=self.env, check=True)
            (self.static_root / ".collected").touch()
        conf = self.run_dir / "nginx.conf"
        conf.write_text(serving.nginx_conf(self.run_dir, self.host, self.port, self.wsgi_ports, self.asgi_ports,
                                           static_root=self.static_root, upstream_header=self.upstream_header))
        log = open(self.log_path, "ab")
        deadline = time.monotonic() + timeout_s
        try:
            if self.redis_socket:
                self.redis_socket.unlink(missing_ok=True)
                self._spawn("redis", serving.redis_command(self.redis_socket), log)
                self._wait(lambda: self.redis_socket.exists(), deadline, "redis-server")
            for name, port in zip(self.asgi_names, self.asgi_ports):
                self._spawn(name, serving.asgi_command(port, self.asgi_server), log)
            for name, port in zip(self.wsgi_names, self.wsgi_ports):
                self._spawn(name, serving.wsgi_command(port, self.wsgi_workers), log)
            if self.db_worker:
                self._spawn("db_worker", serving.db_worker_command(), log)
            self._spawn("nginx", serving.nginx_command(self.run_dir, conf), log)
            for port in self.asgi_ports:
                self._wait(lambda: _tcp_open(port), deadline, self.asgi_server)
            for port in self.wsgi_ports:  # each listening before the front sends to it (or it is left out)
                self._wait(lambda: _tcp_open(port), deadline, "granian")
            self._wait(lambda: _get(self.url + "/login/"), deadline, "the front (nginx → granian)")
        except BaseException:
            self.stop(kill=True)
            raise
        finally:
            log.close()
        return self

    def _wait(self, ready, deadline: float, what: str) -> None:
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} did not start in time: {self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self, kill: bool = False) -> None:
        # The ASGI processes first: the sockets they hold go before the front that carries them; Redis last.
        order = [*self.asgi_names, "nginx", *self.wsgi_names, "db_worker", "redis"]
        for name in sorted(self.procs, key=lambda n: order.index(n) if n in order else len(order)):
            p = self.procs[name]
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL if kill else signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in self.procs.items():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
            if kill:  # children that left the process group (none expected) go too
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            wait_group(p.pid)  # a server's workers may outlive its main process by a moment
            unregister_group(p.pid)
        self.procs = {}

    def restart(self, kill: bool = True) -> None:
        self.stop(kill=kill)
        self.start()


def established_connections(port: int) -> int:
    """TCP connections in state ESTABLISHED whose local port is ``port`` (IPv4 and IPv6), from /proc/net."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


# Process groups started here, each a file named by its id holding "<owner pid> <owner start> <leader start>":
# a run killed with SIGKILL cannot stop the servers it started in their own sessions, so
# the next LiveServer to start stops the groups whose owner is gone (``reap_orphans``).
GROUPS_DIR = Path(tempfile.gettempdir()) / f"lms-liveserver-{os.getuid()}"


def _start_time(pid: int) -> int | None:
    """A process's start time (clock ticks since boot, /proc/PID/stat field 22); None when there is none."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def register_group(pgid: int) -> None:
    """Note that this process owns process group ``pgid`` (started with ``start_new_session``)."""
    try:
        GROUPS_DIR.mkdir(mode=0o700, exist_ok=True)
        (GROUPS_DIR / str(pgid)).write_text(f"{os.getpid()} {_start_time(os.getpid())} {_start_time(pgid)}")
    except OSError:
        pass  # a read-only /tmp costs only the reaping


def unregister_group(pgid: int) -> None:
    (GROUPS_DIR / str(pgid)).unlink(missing_ok=True)


def reap_orphans() -> list[int]:
    """SIGKILL the process groups whose owner is no longer running; the groups stopped.

    A group is ours only while its leader runs with the start time noted, or has exited leaving members
    behind (its id cannot be given to a new process while the group exists); any other record is stale."""
    reaped = []
    for record in GROUPS_DIR.glob("[0-9]*") if GROUPS_DIR.is_dir() else ():
        try:
            owner, owner_start, leader_start = record.read_text().split()
            pgid = int(record.name)
            owner_alive = _start_time(int(owner)) == int(owner_start)
        except (OSError, ValueError):
            record.unlink(missing_ok=True)
            continue
        if owner_alive:
            continue
        leader_now = _start_time(pgid)
        if leader_now is None or str(leader_now) == leader_start:
            try:
                os.killpg(pgid, signal.SIGKILL)
                reaped.append(pgid)
            except (ProcessLookupError, PermissionError):
                pass
        record.unlink(missing_ok=True)
    return reaped


def wait_group(pgid: int, timeout_s: float = 10) -> bool:
    """Wait until no process is left in process group ``pgid``; SIGKILL what is left after ``timeout_s``.

    True when the group is gone (within a second ``timeout_s`` after the SIGKILL)."""
    killed = False
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return True
        if time.monotonic() > deadline:
            if killed:
                return False
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                return True
            killed, deadline = True, time.monotonic() + timeout_s
        time.sleep(0.05)


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _get(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except OSError:
        return False


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

    def create(self, template: str | None = None) -> None:
        with self._maintenance() as conn:
            self._drop_stale(conn)
            conn.execute(f'CREATE DATABASE "{self.name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def recreate(self, template: str) -> None:
        """Replace this (empty) database by a copy of ``template``."""
        self.drop()
        self.create(template)

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
        """Migrate (and load the demo). The first preparation of its kind in this process is kept as a
        template (a copy of the folder, and on PostgreSQL a template database); later ones copy it, which
        takes a second instead of a fresh migration and demo load. ``LMS_LIVE_TEMPLATES=0`` turns it off."""
        key, use_templates = (self.is_postgres, demo), os.environ.get("LMS_LIVE_TEMPLATES", "1") != "0"
        if use_templates and key in _TEMPLATES:
            _TEMPLATES[key].restore(self)
        else:
            prepare_database(self.var_dir, self.env(), demo=demo)
            if use_templates:
                _TEMPLATES[key] = _Template.snapshot(self)
        return self

    def __enter__(self) -> LiveDatabase:
        if self._pg:
            self._pg.create()
        return self

    def __exit__(self, *exc) -> None:
        if self._pg:
            self._pg.drop()


class _Template:
    """A prepared live database, kept to be copied: its folder (SQLite file, media) and its PostgreSQL copy."""

    def __init__(self, folder: Path, pg: _Postgres | None):
        self.folder, self.pg = folder, pg

    @classmethod
    def snapshot(cls, db: LiveDatabase) -> _Template:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="lms-live-template-"))
        shutil.copytree(db.var_dir, folder, dirs_exist_ok=True)
        pg = None
        if db._pg:
            pg = _Postgres(db._pg.base_url, LiveDatabase.PREFIX)
            pg.create(template=db._pg.name)
            atexit.register(pg.drop)
        atexit.register(shutil.rmtree, folder, True)
        return cls(folder, pg)

    def restore(self, db: LiveDatabase) -> None:
        db.var_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.folder, db.var_dir, dirs_exist_ok=True)
        if db._pg:
            db._pg.recreate(self.pg.name)


_TEMPLATES: dict[tuple[bool, bool], _Template] = {}


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
