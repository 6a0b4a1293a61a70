"""One HTTP request, in process: what Django's WSGI and ASGI handlers cost for the same view.

``python -m lms.bench.inprocess`` (figures in docs/performance.md). No server and no network: the
handlers are called directly with a minimal request, so the figures are the framework's own cost.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import tempfile
import time


def _environ(path: str) -> dict:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
            "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1"}


def _median_us(fn, n: int) -> float:
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


def run(out=print, n: int = 400) -> dict:
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    wsgi = WSGIHandler()
    asgi = ASGIHandler()

    def call_wsgi(path):
        body = wsgi(_environ(path), lambda status, headers: None)
        b"".join(body)
        body.close()

    loop = asyncio.new_event_loop()

    async def call_asgi_async(path):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [(b"host", b"127.0.0.1")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)

        async def send(message):
            pass

        await asgi(scope, receive, send)

    figures = {}
    for path in ("/healthz", "/login/"):
        call_wsgi(path)
        loop.run_until_complete(call_asgi_async(path))
        figures[f"wsgi{path}"] = round(_median_us(lambda: call_wsgi(path), n), 1)
        figures[f"asgi{path}"] = round(_median_us(lambda: loop.run_until_complete(call_asgi_async(path)), n // 4), 1)
    out("Django's handlers in process, µs per request (median of 5 runs):")
    for path in ("/healthz", "/login/"):
        out(f"  {path}: WSGI {figures[f'wsgi{path}']} µs, ASGI {figures[f'asgi{path}']} µs")
    return figures


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")
    os.environ.setdefault("LMS_VAR_DIR", tempfile.mkdtemp())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run()
    sys.exit(0)
