"""Protected storage of personal data (PIPL): ID-card and phone numbers.

Values are encrypted with AES-256-GCM under ``settings.FIELD_ENCRYPTION_KEY``
and stored with a keyed HMAC-SHA256 digest (a "blind index") so that a record
can be found by the exact value without decrypting every row. Only masked forms
are shown in pages and lists; the clear value is read through
:func:`reveal`, which callers must audit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_VERSION = b"\x01"


@lru_cache(maxsize=4)
def _keys(master: str) -> tuple[bytes, bytes]:
    raw = base64.urlsafe_b64decode(master.encode())
    if len(raw) != 32:
        raise ValueError("FIELD_ENCRYPTION_KEY must be 32 bytes, base64-encoded")
    # Two independent sub-keys: one to encrypt, one for the search digest.
    enc = hmac.new(raw, b"lms/encrypt/v1", hashlib.sha256).digest()
    idx = hmac.new(raw, b"lms/blind-index/v1", hashlib.sha256).digest()
    return enc, idx


def encrypt(value: str, purpose: str) -> str:
    """Encrypt ``value``; ``purpose`` (e.g. "id_card") is bound as associated data."""
    enc_key, _ = _keys(settings.FIELD_ENCRYPTION_KEY)
    nonce = os.urandom(12)
    blob = AESGCM(enc_key).encrypt(nonce, value.encode(), purpose.encode())
    return base64.b64encode(_VERSION + nonce + blob).decode()


def decrypt(token: str, purpose: str) -> str:
    enc_key, _ = _keys(settings.FIELD_ENCRYPTION_KEY)
    raw = base64.b64decode(token)
    if raw[:1] != _VERSION:
        raise ValueError("unknown protected-value version")
    return AESGCM(enc_key).decrypt(raw[1:13], raw[13:], purpose.encode()).decode()


def digest(value: str, purpose: str) -> str:
    """Keyed digest of a normalised value, for exact-match search."""
    _, idx_key = _keys(settings.FIELD_ENCRYPTION_KEY)
    return hmac.new(idx_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


# --- ID-card numbers (GB 11643-1999, 18 characters, ISO 7064 MOD 11-2 check) ---

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def id_card_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def normalize_id_card(value: str) -> str:
    """Return the canonical form or raise ValidationError with a user-facing message."""
    cleaned = re.sub(r"\s+", "", value or "").upper()
    if not _ID_RE.match(cleaned):
        raise ValidationError(_("An ID-card number has 18 characters: 17 digits and a digit or X."), code="id_card_format")
    if id_card_check_char(cleaned[:17]) != cleaned[17]:
        raise ValidationError(_("This ID-card number's check digit is wrong; please check it."), code="id_card_checksum")
    return cleaned


def mask_id_card(value: str) -> str:
    return f"{value[:3]}{'*' * 11}{value[-4:]}" if value else ""


# --- Mainland mobile numbers ---

_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(value: str) -> str:
    cleaned = re.sub(r"[\s\-]", "", value or "")
    if cleaned.startswith("+86"):
        cleaned = cleaned[3:]
    if not _PHONE_RE.match(cleaned):
        raise ValidationError(_("A mobile number has 11 digits and starts with 1."), code="phone_format")
    return cleaned


def mask_phone(value: str) -> str:
    return f"{value[:3]}****{value[-4:]}" if value else ""
