"""Sign-in protection around Django's auth: the django-axes glue and session time limits.

- :class:`ThrottledSignInBackend` is django-axes' backend, first in ``AUTHENTICATION_BACKENDS``:
  every ``authenticate(request, ...)`` of a web request (the site's ``/login/``, Wagtail's
  ``/admin/login/``) is counted and refused while locked. Calls without a request (the test client's
  ``login()``, a management command) are not web sign-ins and pass through to ``ModelBackend``.
- :func:`client_ip` gives axes the client address by the audit log's rule (``X-Forwarded-For``
  only with ``LMS_TRUST_X_FORWARDED_FOR``), so a client cannot dodge a lock with a forged header.
- :func:`lockout_response` is the page axes shows instead of the sign-in form while a login name is
  locked, on ``/login/`` and on Wagtail's ``/admin/login/`` alike (HTTP 429).
- :class:`SessionTimeoutMiddleware` signs a person out after ``LMS_SESSION_IDLE_S`` seconds without
  a page request, and ``SESSION_COOKIE_AGE`` seconds after signing in whatever the activity.
"""

from __future__ import annotations

import math
import time

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import render
from django.utils.translation import gettext as _

from . import audit

SIGNED_IN_AT = "lms_signed_in_at"
SEEN_AT = "lms_seen_at"
# A page request refreshes the idle clock at most this often (each refresh writes the session).
SEEN_RESOLUTION_S = 60


class ThrottledSignInBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str | None:
    return audit.client_ip_from_meta(request.META)


def lockout_minutes() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_response(request, original_response=None, credentials=None):
    return render(request, "lms/locked_out.html", {"minutes": lockout_minutes()},
                  status=settings.AXES_HTTP_RESPONSE_CODE)


def mark_signed_in(session) -> None:
    now = int(time.time())
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now


def session_expiry_reason(session, now: int | None = None) -> str | None:
    """``"max_age"`` or ``"idle"`` when the session (its data, a mapping) has timed out, else ``None``.

    The rule of :class:`SessionTimeoutMiddleware`; WebSocket consumers apply it too (``courses.consumers``)."""
    now = int(time.time()) if now is None else now
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
        return "max_age"
    idle_limit = settings.LMS_SESSION_IDLE_S
    if idle_limit and seen_at is not None and now - seen_at > idle_limit:
        return "idle"
    return None


class SessionTimeoutMiddleware:
    """Ends a session that has been idle too long or has reached its maximum age.

    The person is signed out (audited as ``auth.session_timeout``, then ``auth.logout``) and the
    request continues anonymously, so a protected page sends them to the login page with a note.
    Open WebSockets are unaffected until the page is left or reloaded.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request, user)
        return self.get_response(request)

    def _check(self, request, user) -> None:
        session = request.session
        now = int(time.time())
        seen_at = session.get(SEEN_AT)
        idle_limit = settings.LMS_SESSION_IDLE_S
        if session.get(SIGNED_IN_AT) is None:
            session[SIGNED_IN_AT] = now  # a session from before this middleware
        reason = session_expiry_reason(session, now)
        if reason is None:
            if seen_at is None or now - seen_at >= SEEN_RESOLUTION_S:
                session[SEEN_AT] = now
            return
        audit.record(user, "auth.session_timeout", user, after={"reason": reason})
        logout(request)
        if reason == "idle":
            messages.info(request, _("You were signed out after %(minutes)s minutes without activity. "
                                     "Please log in again.") % {"minutes": max(1, idle_limit // 60)})
        else:
            messages.info(request, _("Your sign-in has expired. Please log in again."))
