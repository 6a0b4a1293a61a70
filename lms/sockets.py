"""What the WebSocket consumers of every app share: close codes, background tasks, per-loop hubs.

The consumers of ``manikin`` (bridges, consoles) and ``courses`` (the study socket) build on these.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model

from .access import session_group, user_group, valid_session_data
from .privacy import consent_required_for, has_current_consent
from .signin import session_expiry_reason

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


class PersonSocket(DirectDispatch, AsyncWebsocketConsumer):
    """A browser socket of a signed-in person (the study socket, the exam socket).

    Accepted only with a valid session (``lms.access.session_still_valid``) that has not timed out
    (``lms.signin.session_expiry_reason``, the HTTP rule) of a person who agreed to the current
    privacy notice; otherwise closed with 4401. Checked again whenever the person's access changes
    (``lms.access``: logout closes it at once; deactivation, roles, enrolments) and about every
    ``LMS_PERSON_SOCKET_RECHECK_S``. Subclasses add ``authorize()`` (in the database thread: may this
    person use this path; a close code refuses) and ``still_allowed()`` (the same on a re-check);
    ``self.language`` is the person's language for the messages they are sent.
    """

    recheck_name = "person-socket"

    async def connect(self):
        self.user = None
        user = self.scope.get("user")
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        if not (user and user.is_authenticated and self.session_key):
            await self.close(code=AUTH_CLOSE_CODE)
            return
        refusal = await database_sync_to_async(self._connect_checks)(user)
        if refusal is not None:
            await self.close(code=refusal)
            return
        self.user = user
        self.language = self._language()
        self.groups_joined = [user_group(user.pk), session_group(self.session_key), *self.extra_groups()]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.rechecker = spawn(self._recheck_periodically(), f"{self.recheck_name}-recheck-{user.pk}")

    async def disconnect(self, code):
        if self.user is not None:
            self.rechecker.cancel()
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)

    # -- for subclasses --------------------------------------------------------
    def authorize(self, user) -> int | None:
        """In the database thread, at connect: ``None`` to accept, else the close code."""
        return None

    def still_allowed(self, user) -> bool:
        """In the database thread, on a re-check: whether the socket may stay open."""
        return self.authorize(user) is None

    def extra_groups(self) -> list[str]:
        return []

    def forget_access(self) -> None:
        """Drop what was cached about the person's access (called before each re-check)."""

    # -- the person ----------------------------------------------------------------
    def _person_ok(self, user, session=None) -> bool:
        """``session``: the one the connection came with, just loaded and checked by Channels'
        authentication (at connect); else the session is read again (on a re-check)."""
        data = session if session is not None else valid_session_data(self.session_key, user)
        if data is None or session_expiry_reason(data) is not None:
            return False
        return not consent_required_for(user) or has_current_consent(user)

    def _connect_checks(self, user) -> int | None:
        return AUTH_CLOSE_CODE if not self._person_ok(user, self.scope["session"]) else self.authorize(user)

    def _language(self) -> str:
        cookie = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
        return cookie if cookie in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE

    async def _recheck_periodically(self):
        # Each socket at its own moments (0.5–1.5 × the interval): sockets opened together (a class
        # starting its exam) would otherwise all re-check at once and hold up the answers behind them.
        while True:
            await asyncio.sleep(settings.LMS_PERSON_SOCKET_RECHECK_S * random.uniform(0.5, 1.5))
            await self.access_changed({})

    def _recheck(self) -> int | None:
        fresh = get_user_model().objects.filter(pk=self.user.pk).first()
        if fresh is None or not self._person_ok(fresh):
            return AUTH_CLOSE_CODE
        if not self.still_allowed(fresh):
            return FORBIDDEN_CLOSE_CODE
        self.user = fresh
        return None

    async def access_changed(self, event):
        self.forget_access()
        code = await database_sync_to_async(self._recheck)()
        if code is not None:
            await self.close(code=code)

    async def access_revoked(self, event):
        await self.close(code=AUTH_CLOSE_CODE)


class GroupCommit(PerLoop):
    """Group commit for the sockets of this process: what they hand in while one ``commit`` runs goes
    into the next one together. Subclasses set ``commit`` (a plain function: a list of items in, one
    result or exception per item out, in order; it isolates an item that fails) and ``name``. Should
    ``commit`` itself raise (the database is down), every waiting socket gets that exception."""

    name = "group-commit"
    gather_s = 0.002

    @staticmethod
    def commit(items: list) -> list:
        raise NotImplementedError

    def __init__(self):
        self.queue: list[tuple[object, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, item):
        future = asyncio.get_running_loop().create_future()
        self.queue.append((item, future))
        if self.task is None or self.task.done():
            self.task = spawn(self._run(), self.name)
        return await future

    async def _run(self):
        while self.queue:
            await asyncio.sleep(self.gather_s)
            batch, self.queue = self.queue, []
            try:
                # The thread database_sync_to_async also uses, without its connection check per call.
                results = await sync_to_async(self.commit)([item for item, _f in batch])
            except Exception as exc:  # noqa: BLE001 (the database is down: every socket is told)
                log.error("%s: committing %d items failed: %s", self.name, len(batch), exc)
                results = [exc] * len(batch)
            for (_item, future), result in zip(batch, results):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


class RateLimit:
    """A token bucket: ``burst`` at once, ``per_s`` a second on average (one per connection)."""

    def __init__(self, burst: int, per_s: float):
        self.burst, self.per_s = float(burst), per_s
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
