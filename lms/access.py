"""Access that changes while a WebSocket is open.

A browser socket is authorised when it opens; these groups tell it when that authorisation may no
longer hold, so that it checks again (and closes) at once instead of streaming to someone who
logged out, was deactivated or lost the role:

- ``lms.session.<digest>``: ``access.revoked`` when that session logs out;
- ``lms.user.<id>``: ``access.changed`` when the person or their roles change.

:func:`session_still_valid` is the check a socket repeats: the session still exists, is not expired,
belongs to the person and carries their current password hash (a password change ends it).
"""

from __future__ import annotations

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model, user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.crypto import constant_time_compare

from .models import RoleAssignment

log = logging.getLogger("lms.access")


def user_group(user_id: int) -> str:
    return f"lms.user.{user_id}"


def session_group(session_key: str) -> str:
    # A digest: group names travel through Redis, session keys must not.
    return "lms.session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def _send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:  # the channel layer is down: sockets still re-check on their timer
        log.warning("could not tell %s that access changed", group, exc_info=True)


def notify_access_changed(user_id: int) -> None:
    """Open sockets of ``user_id`` check their authorisation again, after the current transaction."""
    transaction.on_commit(lambda: _send(user_group(user_id), {"type": "access.changed"}))


def valid_session_data(session_key: str | None, user) -> dict | None:
    """The data of the session ``session_key`` if it is still ``user``'s (not logged out or expired,
    the person still active, the password unchanged since), else ``None``."""
    from importlib import import_module

    from django.conf import settings

    if not session_key or user is None:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    data = store.load()  # {} when the session is gone or expired
    if data.get(SESSION_KEY) != str(user.pk):
        return None
    fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    if fresh is None or not constant_time_compare(data.get(HASH_SESSION_KEY, ""), fresh.get_session_auth_hash()):
        return None
    return data


def session_still_valid(session_key: str | None, user) -> bool:
    return valid_session_data(session_key, user) is not None


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        _send(session_group(key), {"type": "access.revoked"})


@receiver(post_save, sender="lms.User")
def _user_saved(sender, instance, update_fields=None, **kwargs):
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # signing in changes nothing a socket depends on
    notify_access_changed(instance.pk)


@receiver(post_save, sender=RoleAssignment)
@receiver(post_delete, sender=RoleAssignment)
def _roles_changed(sender, instance, **kwargs):
    notify_access_changed(instance.user_id)
