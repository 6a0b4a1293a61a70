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
scheduled-publishing loop) in the foreground until Ctrl-C or until one of them exits; ``bin/serve``
calls it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
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


def nginx_conf(run_dir: Path, host: str, port: int, wsgi_port: int, asgi_port: int,
               static_root: Path | None = None, workers: int = 1, media_root: Path | None = None) -> str:
    """The front's configuration; the same text is the README's production example.

    ``media_root`` (default: ``media/`` beside ``run_dir``, as LiveServer lays out the var folder):
    course images are served from disk; documents (lesson videos, with HTTP Range for seeking) only
    after Wagtail's view allowed them (X-Accel-Redirect to an internal location, content.sendfile);
    nothing else there (ID photos) is reachable."""
    static_root = static_root or ROOT / "static_collected"
    media_root = media_root or run_dir.parent / "media"
    user = ""
    if os.geteuid() == 0:  # nginx started as root would switch its workers to "nobody"
        import pwd

        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};"
    temp = "\n".join(f"    {name}_temp_path {run_dir / ('nginx-' + name)};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # A proxied WebSocket holds two connections of a worker (the page's and the upstream one).
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    open_files = min(65536, hard if hard != resource.RLIM_INFINITY else 65536)
    connections = max(1024, open_files // 2)
    return f"""{user}
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
    upstream lms_wsgi {{ server 127.0.0.1:{wsgi_port}; keepalive 64; }}
    upstream lms_asgi {{ server 127.0.0.1:{asgi_port}; }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen {listen} reuseport;
        # WebSockets (bridges, consoles) to the ASGI server; long-lived, unbuffered.
        location /ws/ {{
            proxy_pass http://lms_asgi;
            proxy_http_version 1.1;
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


def main(argv: list[str] | None = None) -> int:
    import argparse

    from lms.liveserver import LiveServer, wait_group

    parser = argparse.ArgumentParser(description="Serve the product: nginx, WSGI, ASGI, Redis, db_worker.")
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8000)
    args = parser.parse_args(argv)
    var_dir = Path(os.environ.get("LMS_VAR_DIR") or ROOT / "var").resolve()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="lms.settings", PYTHONUNBUFFERED="1", LMS_VAR_DIR=str(var_dir))
    # The front serves static files from disk: bring the collection up to date with the sources.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    env.setdefault("LMS_STATIC_ROOT", str(Path(os.environ.get("LMS_STATIC_ROOT") or ROOT / "static_collected")))
    server = LiveServer(var_dir, env, port=args.port, host=args.host, wsgi_workers=None,
                        log_path=var_dir / "serve.log")
    server.start(timeout_s=60)
    worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--queue-name", "*"], cwd=ROOT, env=server.env,
                              start_new_session=True)
    # Pages scheduled by editors go live (or expire) on time: Wagtail's publish_scheduled every minute.
    scheduler = subprocess.Popen([sys.executable, "manage.py", "publish_scheduled_loop"], cwd=ROOT, env=server.env,
                                 start_new_session=True)
    # Theory-exam attempts nobody came back to are submitted at their deadline (exams.attempts.close_expired).
    closer = subprocess.Popen([sys.executable, "manage.py", "close_exam_attempts", "--loop"], cwd=ROOT, env=server.env,
                              start_new_session=True)
    # Certificates' expiry reminders (app, e-mail, SMS) every hour (certificates.lifecycle.send_expiry_reminders).
    reminders = subprocess.Popen([sys.executable, "manage.py", "send_expiry_reminders_loop"], cwd=ROOT, env=server.env,
                                 start_new_session=True)
    helpers = {"db_worker": worker, "publish_scheduled_loop": scheduler, "close_exam_attempts": closer,
               "send_expiry_reminders_loop": reminders}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # where a browser here reaches it
    print(f"Serving on http://{shown_host}:{args.port}/ (nginx → granian for HTTP, {server.asgi_server} for /ws/; "
          f"logs in {server.log_path}; Ctrl-C to stop)\n"
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
