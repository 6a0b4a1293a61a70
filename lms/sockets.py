"""What the WebSocket consumers of every app share: close codes, background tasks, per-loop hubs.

The consumers of ``manikin`` (bridges, consoles) and ``courses`` (the study socket) build on these.
"""

from __future__ import annotations

import asyncio
import logging

from channels.consumer import get_handler_name

log = logging.getLogger("lms.sockets")

AUTH_CLOSE_CODE = 4401
FORBIDDEN_CLOSE_CODE = 4403
PROTOCOL_ERROR_CODE = 4400
TIMEOUT_CLOSE_CODE = 4408
BRIDGE_TAKEN_CLOSE_CODE = 4409
TRY_AGAIN_CLOSE_CODE = 1013  # the database is unreachable: nothing was acknowledged, resend later


def spawn(coro, name: str) -> asyncio.Task:
    """Run ``coro`` in the background; an exception in it is logged, never lost unseen."""
    task = asyncio.ensure_future(coro)
    task.set_name(name)
    task.add_done_callback(_report_failure)
    return task


def _report_failure(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task %s failed", task.get_name(), exc_info=exc, extra={"background_task": True})


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class PerLoop:
    """One instance per event loop (a server process has one; tests make several)."""

    _by_loop: dict = {}

    @classmethod
    def current(cls):
        loop = asyncio.get_running_loop()
        key = (cls, loop)
        if key not in PerLoop._by_loop:
            PerLoop._by_loop[key] = cls()
        return PerLoop._by_loop[key]


class DirectDispatch:
    """Dispatch each message straight to its handler.

    Channels checks the database connections before every message (``aclose_old_connections``, a hop
    to the database thread): at thousands of frames a second that was a tenth of the server's event
    loop. These consumers reach the database only through ``database_sync_to_async`` (which makes the
    same check) or the ingest's group commit (which reconnects after an outage), so it is not needed.
    """

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
