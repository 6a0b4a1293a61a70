"""The exam socket (``/ws/exams/attempts/<id>/``): an exam page's answers over one connection.

The person is checked when the page connects (``lms.sockets.PersonSocket``: signed in, session not
timed out, privacy consent) and the attempt must be theirs; they are checked again whenever their
access changes and every ``LMS_PERSON_SOCKET_RECHECK_S`` (5 minutes). Each answer is then only its
write, and that is a group commit: the saves of every exam socket of this process that arrive while
one transaction runs go into the next one (``AnswerHub`` → ``exams.autosave.save_answers``).

Messages (JSON text):

- page → server ``{"type": "answer", "id": n, "position": p, "choice": [displayed positions],
  "seq": k}``; server → page, after the commit, ``{"type": "saved", "id": n, "position", "choice",
  "counts", "saved_at", "remaining_s"}`` (what ``POST .../answer/`` answers);
- page → server ``{"type": "leave", "id": n, "returned": bool}``; server → page ``{"type": "leave",
  "id": n, "leave_count", "leave_limit", "status", "remaining_s"}``;
- errors: ``{"type": "error", "id": n, "status": 400|403|409|429|503, "error": "…", "closed": bool}``
  (409 and ``closed``: the attempt takes no more answers; nothing was stored).

The clock and every rule are those of the HTTP endpoints (``exams.attempts``); ``exam.js`` falls back
to them when the socket cannot open.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from lms.sockets import FORBIDDEN_CLOSE_CODE, GroupCommit, PersonSocket, RateLimit, header

from . import attempts
from .autosave import Save, save_answers
from .models import Attempt

MAX_MESSAGE_CHARS = 2048
BURST = 30  # messages a page may send at once (answering quickly, a reconnect resending) …
REFILL_PER_S = 3.0  # … and on average
GROUP_COMMIT_GATHER_S = 0.002


class AnswerHub(GroupCommit):
    """Group commit of the answers of every exam socket of this process (one transaction a batch)."""

    name = "exam-answer-hub"
    gather_s = GROUP_COMMIT_GATHER_S
    commit = staticmethod(save_answers)


class ExamConsumer(PersonSocket):
    """``/ws/exams/attempts/<id>/``: answers and leaves of the trainee's own attempt."""

    recheck_name = "exam"

    def authorize(self, user) -> int | None:
        self.attempt_id = int(self.scope["url_route"]["kwargs"]["attempt_id"])
        if not Attempt.objects.filter(pk=self.attempt_id, user_id=user.pk).exists():
            return FORBIDDEN_CLOSE_CODE
        self.limit = RateLimit(BURST, REFILL_PER_S)
        forwarded = header(self.scope, b"x-forwarded-for")
        self.ip = (forwarded.split(",")[-1].strip() if forwarded else None) or (self.scope.get("client") or [None])[0]
        return None

    async def receive(self, text_data=None, bytes_data=None):
        now = timezone.now()  # the answer's time is when it arrived, whatever the batch waits
        with translation.override(self.language):
            reply = await self._handle(text_data, now)
            await self.send(json.dumps(reply, separators=(",", ":"), ensure_ascii=False))

    @staticmethod
    def _error(msg_id, status: int, message: str, closed: bool = False) -> dict:
        return {"type": "error", "id": msg_id, "status": status, "error": str(message), "closed": closed}

    async def _handle(self, text_data, now) -> dict:
        msg_id = None
        try:
            if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
                raise ValueError
            msg = json.loads(text_data)
            if not isinstance(msg, dict) or msg.get("type") not in ("answer", "leave"):
                raise ValueError
            msg_id = msg.get("id") if isinstance(msg.get("id"), int) and not isinstance(msg.get("id"), bool) else None
        except ValueError:
            return self._error(msg_id, 400, _("This message is not understood."))
        if not self.limit.take():
            return self._error(msg_id, 429, _("Too many messages at once: this one was not saved; it is sent again."))
        try:
            if msg["type"] == "leave":
                result = await database_sync_to_async(self._leave)(msg.get("returned"), now)
                return {"type": "leave", "id": msg_id, **result}
            result = await AnswerHub.current().submit(Save(self.user, self.attempt_id, msg.get("position"),
                                                           msg.get("choice"), msg.get("seq"), now, self.ip))
            return {"type": "saved", "id": msg_id, **result}
        except attempts.AttemptClosed as exc:
            return self._error(msg_id, 409, exc.messages[0], closed=True)
        except ValidationError as exc:
            return self._error(msg_id, 400, exc.messages[0])
        except PermissionDenied as exc:
            return self._error(msg_id, 403, str(exc))
        except Exception:  # noqa: BLE001 (logged by the hub; the page keeps the answer and sends it again)
            return self._error(msg_id, 503, _("The answer could not be saved; it will be sent again."))

    def _leave(self, returned, now) -> dict:
        attempt = Attempt.objects.select_related("blueprint").get(pk=self.attempt_id)
        return attempts.record_leave(self.user, attempt, returned=returned, now=now)
