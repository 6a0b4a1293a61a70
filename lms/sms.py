"""Text messages (SMS), with pluggable backends in the manner of Django's e-mail backends.

``settings.LMS_SMS_BACKEND`` names the backend class:

- ``lms.sms.LogFileBackend`` (default): writes each message to the log (logger ``lms.sms``) and
  appends it to ``settings.LMS_SMS_OUTBOX`` (``var/sms-outbox.log``). For development and for
  sites without an SMS gateway. The recipient's number appears masked, never in clear.
- ``lms.sms.LocmemBackend``: keeps messages in ``lms.sms.outbox`` (tests).
- ``lms.sms.NullBackend``: drops every message.

A gateway (Aliyun, Tencent Cloud, a carrier's SMPP link) is a subclass of :class:`BaseSmsBackend`
that implements ``send_messages``; the rest of the product calls :func:`send_sms` only.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from . import protection

log = logging.getLogger("lms.sms")

# Messages sent through LocmemBackend (tests empty it).
outbox: list[SmsMessage] = []


@dataclass
class SmsMessage:
    to: str  # a normalised mainland mobile number
    body: str

    @property
    def to_masked(self) -> str:
        return protection.mask_phone(self.to)


class BaseSmsBackend:
    """Subclasses implement :meth:`send_messages`; ``fail_silently`` as in Django's e-mail backends."""

    def __init__(self, fail_silently: bool = False, **kwargs):
        self.fail_silently = fail_silently

    def send_messages(self, messages: list[SmsMessage]) -> int:
        """Send the messages; return how many were sent."""
        raise NotImplementedError("subclasses of BaseSmsBackend must implement send_messages()")


class LogFileBackend(BaseSmsBackend):
    """Writes messages to the log and appends them to a file (mode 0600) instead of sending them."""

    _lock = threading.Lock()

    def __init__(self, fail_silently: bool = False, path: str | os.PathLike | None = None, **kwargs):
        super().__init__(fail_silently=fail_silently)
        self.path = Path(path or settings.LMS_SMS_OUTBOX)

    def send_messages(self, messages: list[SmsMessage]) -> int:
        sent = 0
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    for message in messages:
                        line = f"{timezone.now().isoformat(timespec='seconds')} to={message.to_masked} {message.body}"
                        f.write(line.replace("\n", " ") + "\n")
                        log.info("SMS to %s: %s", message.to_masked, message.body)
                        sent += 1
        except OSError:
            if not self.fail_silently:
                raise
            log.exception("could not write the SMS outbox %s", self.path)
        return sent


class LocmemBackend(BaseSmsBackend):
    def send_messages(self, messages: list[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


class NullBackend(BaseSmsBackend):
    def send_messages(self, messages: list[SmsMessage]) -> int:
        return len(messages)


def get_connection(backend: str | None = None, fail_silently: bool = False, **kwargs) -> BaseSmsBackend:
    return import_string(backend or settings.LMS_SMS_BACKEND)(fail_silently=fail_silently, **kwargs)


def send_sms(to: str, body: str, *, fail_silently: bool = False) -> int:
    """Send one text message to a mainland mobile number; returns 1 when sent."""
    return get_connection(fail_silently=fail_silently).send_messages([SmsMessage(to=to, body=body)])
