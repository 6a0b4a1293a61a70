"""Signing keys and the offline-verifiable QR payload.

**Keys** (``SigningKey``): Ed25519 keys with ids sign the QR payloads and the Open Badges credentials.
One key is active; ``rotate_payload_key`` retires it and makes a new one. A retired key signs nothing
new and still verifies what it signed, so old certificates stay verifiable; every public key is
published as a JWKS (``public_jwks``, served at ``/certificates/keys.json``). Private keys are stored
encrypted (``lms.protection``, under ``FIELD_ENCRYPTION_KEY``).

**The payload** travels in the QR code as part of the verification URL
(``https://<site>/v/<payload>``) and can be checked without a network by anyone holding the published
public keys (``manage.py verify_certificate_payload``, or any Ed25519 library). It is

    base64url(body) "." base64url(signature)

where ``body`` is UTF-8 text of fields separated by ``|``:

    ``CV1|<kid>|<number>|<revision>|<masked name>|<masked ID>|<programme code>|<issued YYYYMMDD>|<expires YYYYMMDD>``

and ``signature`` the 64-byte Ed25519 signature of ``body`` by key ``kid``. Personal data is minimised:
the name is masked to its first character (张**) and the ID-card number is the masked form printed on the
card. A changed byte anywhere (body or signature) fails the check. What a payload cannot say offline is
whether the certificate was revoked after it was printed: the online check says that (the page and API).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import transaction
from django.utils import timezone

from lms import protection

PAYLOAD_VERSION = "CV1"
_PURPOSE = "certificate-signing-key"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------ keys

def _new_kid(prefix: str) -> str:
    return f"{prefix}{timezone.now():%Y%m%d}-{secrets.token_hex(3)}"


def _create_payload_key():
    from .models import SigningKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey.objects.create(kid=_new_kid("ed"), purpose=SigningKey.Purpose.PAYLOAD, algorithm="Ed25519",
                                     public_key=b64u(raw_public),
                                     private_key_protected=protection.encrypt(pem, _PURPOSE))


def active_payload_key():
    """The key that signs new payloads and credentials (made on first use)."""
    from .models import SigningKey

    key = SigningKey.objects.filter(purpose=SigningKey.Purpose.PAYLOAD, retired_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        # One creator at a time (PostgreSQL: the lock below; SQLite: writes are serialised anyway).
        list(SigningKey.objects.select_for_update().filter(purpose=SigningKey.Purpose.PAYLOAD))
        key = SigningKey.objects.filter(purpose=SigningKey.Purpose.PAYLOAD, retired_at__isnull=True).first()
        return key or _create_payload_key()


def rotate_payload_key(actor=None):
    """Retire the active payload key and make a new one (audited). Returns the new key."""
    from lms import api as lms_api

    from .models import SigningKey

    with transaction.atomic():
        old = list(SigningKey.objects.select_for_update().filter(purpose=SigningKey.Purpose.PAYLOAD,
                                                                 retired_at__isnull=True))
        SigningKey.objects.filter(pk__in=[k.pk for k in old]).update(retired_at=timezone.now())
        new = _create_payload_key()
        lms_api.record_audit(actor, "certificates.key.rotate", new,
                             after={"kid": new.kid, "retired": [k.kid for k in old]})
    return new


def private_key(key) -> Ed25519PrivateKey:
    pem = protection.decrypt(key.private_key_protected, _PURPOSE).encode()
    return serialization.load_pem_private_key(pem, password=None)


def public_key(key) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64u_decode(key.public_key))


def jwk(key) -> dict:
    """The public key as a JWK (RFC 8037, OKP/Ed25519)."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": key.public_key, "kid": key.kid, "alg": "EdDSA", "use": "sig"}
    if key.retired_at:
        jwk["retired_at"] = key.retired_at.isoformat()
    return jwk


def public_jwks() -> dict:
    """Every payload key ever used (active and retired), as a JWKS: what an offline verifier needs."""
    from .models import SigningKey

    return {"keys": [jwk(k) for k in SigningKey.objects.filter(purpose=SigningKey.Purpose.PAYLOAD)
                     .order_by("created_at", "pk")]}


def keys_from_jwks(jwks: dict) -> dict[str, Ed25519PublicKey]:
    """kid -> public key, from a JWKS (as published, or a file saved from it for offline use)."""
    out = {}
    for entry in jwks.get("keys", []):
        if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519" and entry.get("kid"):
            try:
                out[entry["kid"]] = Ed25519PublicKey.from_public_bytes(b64u_decode(entry["x"]))
            except (ValueError, binascii.Error, TypeError):
                continue
    return out


# ------------------------------------------------------------------ the QR payload

def mask_name(name: str) -> str:
    """The first character and one * per further character (张** for 张三丰)."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 0)


@dataclass(frozen=True)
class Payload:
    kid: str
    number: str
    revision: int
    name_masked: str
    id_card_masked: str
    programme_code: str
    issued_on: datetime.date
    expires_on: datetime.date

    def body(self) -> str:
        fields = [PAYLOAD_VERSION, self.kid, self.number, str(self.revision), self.name_masked,
                  self.id_card_masked, self.programme_code, f"{self.issued_on:%Y%m%d}", f"{self.expires_on:%Y%m%d}"]
        if any("|" in f for f in fields):
            raise ValueError("a payload field may not contain '|'")
        return "|".join(fields)

    def as_dict(self) -> dict:
        return {"kid": self.kid, "number": self.number, "revision": self.revision, "name_masked": self.name_masked,
                "id_card_masked": self.id_card_masked, "programme_code": self.programme_code,
                "issued_on": self.issued_on.isoformat(), "expires_on": self.expires_on.isoformat()}


class PayloadError(ValueError):
    """A payload that does not verify. ``code``: ``format`` (not a payload), ``version``, ``unknown_key``
    or ``signature`` (altered or forged)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def payload_for(certificate, key=None) -> Payload:
    key = key or active_payload_key()
    return Payload(kid=key.kid, number=certificate.number, revision=certificate.revision,
                   name_masked=mask_name(certificate.holder_name), id_card_masked=certificate.id_card_masked,
                   programme_code=certificate.programme.code, issued_on=certificate.issued_on,
                   expires_on=certificate.expires_on)


def sign_payload(payload: Payload, key=None) -> str:
    """The signed payload text (what goes into the QR code's URL)."""
    from .models import SigningKey

    key = key or SigningKey.objects.get(kid=payload.kid)
    if key.kid != payload.kid:
        raise ValueError("the payload names another key")
    body = payload.body().encode()
    return b64u(body) + "." + b64u(private_key(key).sign(body))


def parse_payload(text: str) -> tuple[Payload, bytes, bytes]:
    """(payload, body, signature) of a payload text, or PayloadError("format"/"version")."""
    text = (text or "").strip()
    if "/v/" in text:  # a whole scanned URL
        text = text.rsplit("/v/", 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
    try:
        body_b64, sig_b64 = text.split(".")
        body, sig = b64u_decode(body_b64), b64u_decode(sig_b64)
        fields = body.decode().split("|")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise PayloadError("format", "not a certificate payload") from None
    if not fields or fields[0] != PAYLOAD_VERSION:
        raise PayloadError("version", "unknown payload version")
    if len(fields) != 9 or len(sig) != 64:
        raise PayloadError("format", "not a certificate payload")
    try:
        payload = Payload(kid=fields[1], number=fields[2], revision=int(fields[3]), name_masked=fields[4],
                          id_card_masked=fields[5], programme_code=fields[6],
                          issued_on=datetime.datetime.strptime(fields[7], "%Y%m%d").date(),
                          expires_on=datetime.datetime.strptime(fields[8], "%Y%m%d").date())
    except ValueError:
        raise PayloadError("format", "not a certificate payload") from None
    return payload, body, sig


def verify_payload(text: str, keys: dict[str, Ed25519PublicKey]) -> Payload:
    """Check a payload against public keys (kid -> key), offline: the Payload, or PayloadError."""
    payload, body, sig = parse_payload(text)
    key = keys.get(payload.kid)
    if key is None:
        raise PayloadError("unknown_key", f"unknown signing key {payload.kid!r}")
    try:
        key.verify(sig, body)
    except InvalidSignature:
        raise PayloadError("signature", "the signature does not match: altered or forged") from None
    return payload


def site_keys() -> dict[str, Ed25519PublicKey]:
    """kid -> public key of every payload key this site has (for the online check)."""
    from .models import SigningKey

    return {k.kid: public_key(k) for k in SigningKey.objects.filter(purpose=SigningKey.Purpose.PAYLOAD)}


def dumps_jwks() -> str:
    return json.dumps(public_jwks(), ensure_ascii=False, indent=1)
