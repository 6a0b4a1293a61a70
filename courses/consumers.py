"""The study socket (``/ws/study/``): a lesson page's heartbeats over one connection, authenticated
once.

A lesson page sends a heartbeat every 15 s while it is visible. Over HTTP each one is a request that
passes sessions, authentication, CSRF, the privacy-consent and time-out checks and the lesson access
check before its two-row write. Over this socket the person is checked when the page connects
(signed in, current privacy consent, session not timed out) and again whenever their access changes
(logout, deactivation, a role or enrolment changed: ``lms.access``) and every
``LMS_PERSON_SOCKET_RECHECK_S`` (5 minutes); the access to each lesson is checked on its first beat
and kept for the connection until then. What is left per beat is its write, and that is a group
commit: the beats of every connection of this process that arrive while one transaction runs go into
the next one (``BeatHub``, ``courses.api.record_heartbeats``).

Messages (JSON text):

- page → server ``{"type": "beat", "id": n, "lesson": id, "visible": bool, "start": bool}``
  (``start``: the page just opened or became visible; ``id``: the page's counter, echoed back);
- server → page ``{"type": "beat", "id": n, "credited_s": s, "lesson_seconds": s, "complete": bool}``
  after the commit, or ``{"type": "error", "id": n, "status": 400|403|404|429|503, "error": "…"}``
  (nothing credited; the message is in the person's language).

The rules of crediting are those of HTTP heartbeats (``courses.api``): the server's clock, one
clock per person across tabs and transports. ``study.js`` uses the socket when it opens and falls
back to ``POST /study/heartbeat/`` when it cannot.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from lms.sockets import GroupCommit, PersonSocket, RateLimit

from . import api

MAX_MESSAGE_CHARS = 1024
BEAT_BURST = 10  # beats a page may send at once (opening, tab switches) …
BEAT_REFILL_PER_S = 1.0  # … and on average; an honest page sends one every 15 s
GROUP_COMMIT_GATHER_S = 0.002


class BeatHub(GroupCommit):
    """Group commit of the heartbeats of every study socket of this process (one transaction a batch).

    ``courses.api.record_heartbeats`` retries a failing batch beat by beat, so one beat's failure
    costs the others nothing; a database outage fails the whole batch, and each page is told (503)."""

    name = "study-beat-hub"
    gather_s = GROUP_COMMIT_GATHER_S
    commit = staticmethod(api.record_heartbeats)


class StudyConsumer(PersonSocket):
    """``/ws/study/``: heartbeats of the signed-in person's lesson pages (see the module docstring).

    Who may connect and when the socket closes: ``lms.sockets.PersonSocket``."""

    recheck_name = "study"

    def authorize(self, user) -> int | None:
        self.lessons: dict[int, api.StudyLesson] = {}
        self.limit = RateLimit(BEAT_BURST, BEAT_REFILL_PER_S)
        return None

    def still_allowed(self, user) -> bool:
        return True  # each lesson is checked again on its next beat

    def forget_access(self) -> None:
        self.lessons = {}  # enrolments may have changed: every lesson is checked again on its next beat

    # -- heartbeats ----------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        now = timezone.now()  # the beat's time is when it arrived, whatever the batch waits
        with translation.override(self.language):
            reply = await self._beat(text_data, now)
            await self.send(json.dumps(reply, separators=(",", ":"), ensure_ascii=False))

    def _error(self, msg_id, status: int, message: str) -> dict:
        return {"type": "error", "id": msg_id, "status": status, "error": str(message)}

    async def _beat(self, text_data, now) -> dict:
        msg_id = None
        try:
            if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
                raise ValueError
            msg = json.loads(text_data)
            if not isinstance(msg, dict) or msg.get("type") != "beat":
                raise ValueError
            msg_id = msg.get("id") if isinstance(msg.get("id"), int) else None
            visible, start = msg.get("visible"), msg.get("start", False)
            if not isinstance(visible, bool) or not isinstance(start, bool):
                raise ValueError
        except ValueError:
            return self._error(msg_id, 400, _("This is not a heartbeat."))
        if not self.limit.take():
            return self._error(msg_id, 429, _("Too many heartbeats: nothing was credited for this one."))
        try:
            lesson = await self._lesson(msg.get("lesson"))
        except api.LessonNotFound as exc:
            return self._error(msg_id, 404, str(exc))
        except PermissionDenied as exc:
            return self._error(msg_id, 403, str(exc) or _("You may not study this lesson."))
        except ValidationError as exc:
            return self._error(msg_id, 400, exc.messages[0])
        try:
            result = await BeatHub.current().submit(api.Beat(self.user, lesson, visible, start, now))
        except Exception:  # noqa: BLE001 (logged by the hub; the page keeps its time and may retry)
            return self._error(msg_id, 503, _("The heartbeat could not be recorded; it will be sent again."))
        return {"type": "beat", "id": msg_id, **result}

    async def _lesson(self, lesson_id) -> api.StudyLesson:
        key = lesson_id if isinstance(lesson_id, int) and not isinstance(lesson_id, bool) else None
        if key is not None and key in self.lessons:
            return self.lessons[key]
        lesson = await database_sync_to_async(api.heartbeat_lesson)(self.user, lesson_id)
        if key is not None:
            if len(self.lessons) > 50:  # one page studies one lesson; bound what a client can make us keep
                self.lessons.clear()
            self.lessons[key] = lesson
        return lesson
