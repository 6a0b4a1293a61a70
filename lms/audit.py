"""Audit context: who did it from where, and the append-only record itself."""

from __future__ import annotations

import contextvars
from typing import Any

from django.conf import settings
from django.db import models

from .models import AuditLog

_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("lms_client_ip", default=None)


def set_client_ip(ip: str | None) -> contextvars.Token:
    return _client_ip.set(ip)


def reset_client_ip(token: contextvars.Token) -> None:
    _client_ip.reset(token)


def current_ip() -> str | None:
    """The client IP address of the request being handled (None outside a request)."""
    return _client_ip.get()


def client_ip_from_meta(meta: dict) -> str | None:
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") if settings.LMS_TRUST_X_FORWARDED_FOR else None
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return meta.get("REMOTE_ADDR") or None


def build(
    actor,
    action: str,
    obj: models.Model | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    ip: str | None = None,
) -> AuditLog:
    """One audit record, not yet saved (``record_all`` saves several in one statement). ``ip``: the
    client's address when the caller knows it better than the request context (a socket's batch)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:255]
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog(
        actor=actor if authenticated else None,
        actor_repr=(actor.get_username() if authenticated else "system")[:150],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:255],
        before=before,
        after=after,
        ip=ip if ip is not None else _client_ip.get(),
    )


def record(actor, action: str, obj: models.Model | None = None, **fields) -> AuditLog:
    """Append one audit record. Call it inside the transaction of the change it records."""
    entry = build(actor, action, obj, **fields)
    entry.save(force_insert=True)
    return entry


def record_all(entries: list[AuditLog]) -> None:
    """Append records made by ``build`` in one statement (inside the transaction of the changes)."""
    if entries:
        AuditLog.objects.bulk_create(entries)


class AuditContextMiddleware:
    """Puts the client's IP address where audit records find it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = set_client_ip(client_ip_from_meta(request.META))
        try:
            return self.get_response(request)
        finally:
            reset_client_ip(token)
