"""How the product is served: nginx in front, a WSGI server for HTTP, an ASGI server for /ws/ only.

One topology for production, ``make demo``, the end-to-end tests and the benchmarks:

- **nginx** on the public port: ``/ws/`` to the ASGI process(es), ``/static/`` from
  ``static_collected/`` on disk (falling back to the app when collectstatic has not run),
  everything else to the WSGI server;
- **WSGI** (HTTP): granian serving ``lms.wsgi:application``;
- **ASGI** (WebSockets): granian (``--interface asginl``; or ``LMS_ASGI_SERVER`` = uvicorn, uvicorn-sansio,
  daphne) serving ``lms.asgi:application``;
- **Redis**: the channel layer and cache every process shares (a view in the WSGI process tells
  the sockets of the ASGI process that a recording started). With ``REDIS_URL`` unset, a private
  ``redis-server`` on a Unix socket in the var folder, without persistence.

``python -m lms.serving [HOST] [PORT]`` runs all of them (and the background-task worker and the
scheduled loops, ``LOOPS``) in the foreground until Ctrl-C or until one of them exits; ``bin/serve``
calls it. ``--http-processes N --ws-processes M`` runs N WSGI and M ASGI servers as separate processes
on their own ports behind the one nginx, as on separate machines; ``--prepare`` creates, migrates
and fills an empty database first (``bin/cluster``: 2 + 2 on PostgreSQL and Redis).

The recipe for several machines is ``deploy/`` (deploy/README.md): ``python -m lms.serving nginx-conf
--wsgi HOST:PORT … --asgi HOST:PORT …`` prints the front's configuration (without options, the
committed example ``deploy/nginx.conf``), and ``python -m lms.serving wsgi|asgi --host H --port P``
becomes one server, as its systemd unit runs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
ASGI_SERVERS = ("granian", "uvicorn", "uvicorn-sansio", "daphne")


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def wsgi_command(port: int, workers: int | None = None, app: str = "lms.wsgi:application",
                 host: str = "127.0.0.1") -> list[str]:
    """granian, WSGI interface: one worker per core by default (``LMS_WSGI_WORKERS``)."""
    workers = workers or int(os.environ.get("LMS_WSGI_WORKERS") or cpu_count())
    return [str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", "1", "--no-ws", "--log-level", "warning",
            "--respawn-failed-workers", app]


def asgi_command(port: int, server: str | None = None, app: str = "lms.asgi:application",
                 host: str = "127.0.0.1") -> list[str]:
    """The WebSocket server: granian by default (its WebSocket protocol is Rust: 989 study beats/s against
    uvicorn's 730 in ``bench study``); ``LMS_ASGI_SERVER`` = ``uvicorn``, ``uvicorn-sansio`` or ``daphne``."""
    server = server or os.environ.get("LMS_ASGI_SERVER") or "granian"
    if server == "uvicorn":
        return [str(VENV_BIN / "uvicorn"), "--host", host, "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--ws", "websockets", "--lifespan", "off", "--no-access-log",
                "--no-proxy-headers", "--log-level", "warning", app]
    if server == "uvicorn-sansio":  # uvicorn with the websockets library's Sans-I/O protocol
        return [str(VENV_BIN / "uvicorn"), "--host", host, "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--ws", "websockets-sansio", "--lifespan", "off", "--no-access-log",
                "--no-proxy-headers", "--log-level", "warning", app]
    if server == "granian":  # WebSocket framing in Rust; one worker, its event loop in one thread
        return [str(VENV_BIN / "granian"), "--interface", "asginl", "--host", host, "--port", str(port),
                "--workers", "1", "--loop", "uvloop", "--runtime-mode", "st", "--no-access-log",
                "--log-level", "warning", app]
    if server == "daphne":
        return [str(VENV_BIN / "daphne"), "-b", host, "-p", str(port), "-v", "1", app]
    raise ValueError(f"unknown ASGI server {server!r} (one of {', '.join(ASGI_SERVERS)})")


def db_worker_command() -> list[str]:
    """The background-task worker (django-tasks' database backend), every queue."""
    return [sys.executable, "manage.py", "db_worker", "--queue-name", "*"]


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to the hard limit (the servers it starts inherit
    it): each open lesson page or console holds a WebSocket, two descriptors in nginx and one in the
    ASGI server, and the usual soft limit of 1,024 would cap a study site at a few hundred pages."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def redis_command(socket_path: Path) -> list[str]:
    return [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", "0", "--unixsocket", str(socket_path),
            "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--loglevel", "warning"]


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def upstream_servers(ports: int | str | Sequence[int | str]) -> list[str]:
    """``host:port`` of each upstream server: a bare port is one on this machine (127.0.0.1)."""
    items = [ports] if isinstance(ports, (int, str)) else list(ports)
    if not items:
        raise ValueError("an upstream needs at least one server")
    return [f"127.0.0.1:{p}" if isinstance(p, int) or str(p).isdigit() else str(p) for p in items]


def nginx_conf(run_dir: Path, host: str, port: int, wsgi_port: int | Sequence[int | str],
               asgi_port: int | Sequence[int | str], static_root: Path | None = None, workers: int | str = 1,
               media_root: Path | None = None, user: str | None = None, open_files: int | None = None,
               upstream_header: bool = False, tls_cert: Path | str | None = None,
               tls_key: Path | str | None = None) -> str:
    """The front's configuration; ``deploy/nginx.conf`` is this text rendered for the production example.

    ``wsgi_port``/``asgi_port``: one port, or a list of ports (this machine) or ``host:port`` (other
    machines). HTTP goes round-robin over the WSGI servers on kept-alive connections, and a request
    that finds one dead (connection refused or timed out, a 502/503) is passed to the next
    (``proxy_next_upstream``; nginx then leaves the dead one out for 10 s); a WebSocket goes to the
    ASGI server holding the fewest connections (``least_conn``: sockets are long-lived).

    ``media_root`` (default: ``media/`` beside ``run_dir``, as LiveServer lays out the var folder):
    course images are served from disk; documents (lesson videos, with HTTP Range for seeking) only
    after Wagtail's view allowed them (X-Accel-Redirect to an internal location, content.sendfile);
    nothing else there (ID photos) is reachable.

    ``user`` (default: the current user when started as root, else none) and ``open_files`` (default:
    the hard limit of open files, at most 65,536) make the text independent of the machine it is
    rendered on; ``upstream_header`` adds ``X-Upstream`` (the WSGI server that answered) to each
    proxied answer, for tests. ``tls_cert``/``tls_key`` (both or neither) make nginx terminate TLS on
    the port (X-Forwarded-Proto then says https: set DJANGO_HTTPS=1 and DJANGO_TRUST_X_FORWARDED_PROTO=1)."""
    if bool(tls_cert) != bool(tls_key):
        raise ValueError("tls_cert and tls_key go together")
    static_root = static_root or ROOT / "static_collected"
    media_root = media_root or run_dir.parent / "media"
    if user is None and os.geteuid() == 0:  # nginx started as root would switch its workers to "nobody"
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
    user_line = f"user {user};" if user else ""
    temp = "\n".join(f"    {name}_temp_path {run_dir / ('nginx-' + name)};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # A proxied WebSocket holds two connections of a worker (the page's and the upstream one).
    if open_files is None:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        open_files = min(65536, hard if hard != resource.RLIM_INFINITY else 65536)
    connections = max(1024, open_files // 2)
    wsgi_servers = "".join(f"\n        server {s};" for s in upstream_servers(wsgi_port))
    asgi_servers = "".join(f"\n        server {s};" for s in upstream_servers(asgi_port))
    tls = (f"""
        ssl_certificate {tls_cert};
        ssl_certificate_key {tls_key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:lms_tls:10m;""" if tls_cert else "")
    upstream_header_line = "\n            add_header X-Upstream $upstream_addr always;" if upstream_header else ""
    return f"""{user_line}
worker_processes {workers};
pid {run_dir / 'nginx.pid'};
error_log {run_dir / 'nginx-error.log'} warn;
worker_rlimit_nofile {open_files};
events {{ worker_connections {connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nodelay on;
    server_tokens off;
    client_max_body_size 50m;
{temp}
    # The HTTP servers (stateless: add a machine's "server host:port;" line to scale out).
    upstream lms_wsgi {{{wsgi_servers}
        keepalive 64;
    }}
    # The WebSocket servers: a new socket goes to the one holding the fewest.
    upstream lms_asgi {{
        least_conn;{asgi_servers}
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen {listen}{" ssl" if tls_cert else ""} reuseport;{tls}
        # WebSockets (bridges, consoles) to the ASGI server; long-lived, unbuffered.
        location /ws/ {{
            proxy_pass http://lms_asgi;
            proxy_http_version 1.1;
            proxy_connect_timeout 5s;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
        # collectstatic's output from disk (WhiteNoise's .gz beside each file); the app when missing.
        location /static/ {{
            alias {static_root}/;
            gzip_static on;
            expires 1h;
            error_page 404 = @lms_wsgi;
        }}
        # Course illustrations (Wagtail images and renditions, public) from disk; an SVG runs no script.
        location /media/images/ {{
            alias {media_root}/images/;
            expires 1h;
            add_header Content-Security-Policy "default-src 'none'; style-src 'unsafe-inline'";
        }}
        location /media/original_images/ {{
            alias {media_root}/original_images/;
            expires 1h;
            add_header Content-Security-Policy "default-src 'none'; style-src 'unsafe-inline'";
        }}
        # Documents after Wagtail's permission check (X-Accel-Redirect); nginx answers Range requests.
        location /_documents/ {{
            internal;
            alias {media_root}/documents/;
            add_header Content-Security-Policy "default-src 'none'";
        }}
        location / {{ try_files /nonexistent @lms_wsgi; }}
        location @lms_wsgi {{
            proxy_pass http://lms_wsgi;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # A dead or silent HTTP server is skipped (a POST only when it was never sent to it).
            proxy_connect_timeout 5s;
            proxy_next_upstream error timeout http_502 http_503;{upstream_header_line}
            proxy_set_header X-Sendfile-Type X-Accel-Redirect;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_command(run_dir: Path, conf_path: Path) -> list[str]:
    return [nginx_binary(), "-p", str(run_dir), "-e", str(run_dir / "nginx-error.log"), "-c", str(conf_path),
            "-g", "daemon off;"]


# The production example of deploy/: a front machine, two HTTP and two WebSocket machines (deploy/README.md).
# ``python -m lms.serving nginx-conf`` with no options renders deploy/nginx.conf from these.
EXAMPLE_NGINX = {
    "listen": "0.0.0.0:443",
    "wsgi": ["10.0.0.11:8001", "10.0.0.12:8001"],
    "asgi": ["10.0.0.21:8002", "10.0.0.22:8002"],
    "run_dir": "/var/lib/lms/nginx",
    "static_root": "/srv/lms/static_collected",
    "media_root": "/srv/lms/var/media",
    "user": "lms",
    "open_files": 65536,
    "workers": "auto",
    "tls_cert": "/etc/lms/tls/fullchain.pem",
    "tls_key": "/etc/lms/tls/privkey.pem",
}


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def nginx_conf_main(argv: list[str]) -> int:
    """``python -m lms.serving nginx-conf [options]``: print the front's configuration for the machines
    given (every option defaults to the example, which is deploy/nginx.conf)."""
    import argparse

    ex = EXAMPLE_NGINX
    parser = argparse.ArgumentParser(prog="python -m lms.serving nginx-conf",
                                     description="Print nginx's configuration for the front of a cluster.")
    parser.add_argument("--listen", default=ex["listen"], help="HOST:PORT nginx listens on")
    parser.add_argument("--wsgi", action="append", help="an HTTP server, HOST:PORT (repeat for each)")
    parser.add_argument("--asgi", action="append", help="a WebSocket server, HOST:PORT (repeat for each)")
    parser.add_argument("--run-dir", default=ex["run_dir"], help="nginx's pid, error log and temporary files")
    parser.add_argument("--static-root", default=ex["static_root"], help="collectstatic's output")
    parser.add_argument("--media-root", default=ex["media_root"], help="the shared media folder (LMS_VAR_DIR/media)")
    parser.add_argument("--user", default=ex["user"], help="the user of nginx's workers ('' for none)")
    parser.add_argument("--open-files", type=int, default=ex["open_files"])
    parser.add_argument("--workers", default=ex["workers"], help="nginx worker processes (auto: one per core)")
    parser.add_argument("--tls-cert", default=ex["tls_cert"], help="certificate chain ('' for plain HTTP)")
    parser.add_argument("--tls-key", default=ex["tls_key"])
    args = parser.parse_args(argv)
    host, port = _split_listen(args.listen)
    sys.stdout.write(nginx_conf(Path(args.run_dir), host, port, args.wsgi or ex["wsgi"], args.asgi or ex["asgi"],
                                static_root=Path(args.static_root), media_root=Path(args.media_root),
                                workers=args.workers, user=args.user, open_files=args.open_files,
                                tls_cert=args.tls_cert or None, tls_key=args.tls_key or None))
    return 0


def process_main(kind: str, argv: list[str]) -> int:
    """``python -m lms.serving wsgi|asgi --host H --port P``: become one HTTP or WebSocket server (what a
    systemd unit of deploy/ runs; the command line is ``wsgi_command``/``asgi_command``)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m lms.serving {kind}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    if kind == "wsgi":
        parser.add_argument("--workers", type=int, default=None, help="default: LMS_WSGI_WORKERS or one per core")
    args = parser.parse_args(argv)
    raise_open_files_limit()
    argv = (wsgi_command(args.port, args.workers, host=args.host) if kind == "wsgi"
            else asgi_command(args.port, host=args.host))
    os.chdir(ROOT)
    os.execv(argv[0], argv)
    return 1  # not reached


def prepare_database(env: dict, demo: bool = True) -> None:
    """For ``--prepare`` (bin/cluster): create the PostgreSQL database of ``DATABASE_URL`` if it is missing,
    migrate, and load the demo when nobody can sign in yet."""
    from urllib.parse import urlsplit, urlunsplit

    url = env.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
                print(f"created database {name}", flush=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    if demo:
        empty = subprocess.run([*manage, "shell", "-c", "from lms.models import User; print(User.objects.exists())"],
                               cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()
        if empty.endswith("False"):
            print("loading the demo (an empty database)", flush=True)
            subprocess.run([*manage, "load_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


# The loops every site runs once (on one machine), beside the servers: (name, manage.py arguments).
LOOPS = (
    # Pages scheduled by editors go live (or expire) on time: Wagtail's publish_scheduled every minute.
    ("publish_scheduled_loop", ["publish_scheduled_loop"]),
    # Theory-exam attempts nobody came back to are submitted at their deadline (exams.attempts.close_expired).
    ("close_exam_attempts", ["close_exam_attempts", "--loop"]),
    # Certificates' expiry reminders (app, e-mail, SMS) every hour (certificates.lifecycle.send_expiry_reminders).
    ("send_expiry_reminders_loop", ["send_expiry_reminders_loop"]),
)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from lms.liveserver import LiveServer, wait_group

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "nginx-conf":
        return nginx_conf_main(argv[1:])
    if argv and argv[0] in ("wsgi", "asgi"):
        return process_main(argv[0], argv[1:])
    parser = argparse.ArgumentParser(
        description="Serve the product: nginx, WSGI, ASGI, Redis, db_worker and the loops, until Ctrl-C. "
                    "Also: 'nginx-conf' (print the front's configuration), 'wsgi'/'asgi' (run one server).")
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--http-processes", type=int, default=1, help="separate WSGI server processes (default 1)")
    parser.add_argument("--ws-processes", type=int, default=1, help="separate ASGI server processes (default 1)")
    parser.add_argument("--wsgi-workers", type=int, default=None,
                        help="workers of each WSGI process (default: LMS_WSGI_WORKERS, or the cores shared out)")
    parser.add_argument("--prepare", action="store_true",
                        help="create the PostgreSQL database if missing, migrate, load the demo if empty")
    args = parser.parse_args(argv)
    if args.http_processes < 1 or args.ws_processes < 1:
        parser.error("--http-processes and --ws-processes must be at least 1")
    # SIGTERM (systemd, a test) stops everything like Ctrl-C, also while the servers start.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even when started with SIGINT ignored
    var_dir = Path(os.environ.get("LMS_VAR_DIR") or ROOT / "var").resolve()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="lms.settings", PYTHONUNBUFFERED="1", LMS_VAR_DIR=str(var_dir))
    if args.prepare:
        prepare_database(env)
    # The front serves static files from disk: bring the collection up to date with the sources.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    env.setdefault("LMS_STATIC_ROOT", str(Path(os.environ.get("LMS_STATIC_ROOT") or ROOT / "static_collected")))
    workers = args.wsgi_workers or (None if args.http_processes == 1 or os.environ.get("LMS_WSGI_WORKERS")
                                    else max(1, cpu_count() // args.http_processes))
    server = LiveServer(var_dir, env, port=args.port, host=args.host, wsgi_workers=workers,
                        log_path=var_dir / "serve.log", http_processes=args.http_processes,
                        ws_processes=args.ws_processes, db_worker=True, upstream_header=False)
    server.start(timeout_s=60)
    helpers = {name: subprocess.Popen([sys.executable, "manage.py", *command], cwd=ROOT, env=server.env,
                                      start_new_session=True) for name, command in LOOPS}
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # where a browser here reaches it
    http = ", ".join(f"{name} :{port}" for name, port in zip(server.wsgi_names, server.wsgi_ports))
    ws = ", ".join(f"{name} :{port}" for name, port in zip(server.asgi_names, server.asgi_ports))
    print(f"Serving on http://{shown_host}:{args.port}/ (nginx → granian for HTTP [{http}], {server.asgi_server} "
          f"for /ws/ [{ws}]; db_worker and {len(LOOPS)} loops; logs in {server.log_path}; Ctrl-C to stop)\n"
          f"Virtual manikins: .venv/bin/python -m manikin.simulate --count 2 --token demo-station-1-token "
          f"--server ws://{shown_host}:{args.port}", flush=True)
    try:
        while not stopping:
            dead = [name for name, p in (*server.procs.items(), *helpers.items()) if p.poll() is not None]
            if dead:
                print(f"stopped: {', '.join(dead)} exited (see {server.log_path})", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for helper in helpers.values():
            if helper.poll() is None:
                os.killpg(helper.pid, signal.SIGTERM)
        server.stop()
        for helper in helpers.values():
            try:
                helper.wait(10)
            except subprocess.TimeoutExpired:
                pass
            wait_group(helper.pid)  # nothing this command started outlives it
    return 0


if __name__ == "__main__":
    sys.exit(main())
