"""Open Badges 3.0: every certificate as a signed ``OpenBadgeCredential`` (docs/open-badges.md).

**The credential** (``credential``) is an Open Badges 3.0 ``OpenBadgeCredential`` in the W3C Verifiable
Credentials Data Model 2.0 form OB 3.0 uses: the issuer ``Profile`` (the site's profile,
``/certificates/issuer.json``, named after the Red Cross and the issuing organisation as printed), the
achievement (the programme, ``/certificates/achievements/<code>``), the validity (``validFrom``: the day of
issue, 00:00 Asia/Shanghai; ``validUntil``: the last day of validity, 23:59:59 Asia/Shanghai), the number as
``credentialSubject.licenseNumber`` and a ``credentialStatus`` naming the public verification API of the
number. Personal data is minimised: the holder appears only as a salted SHA-256 hash of their name (an OB 3.0
``IdentityObject``, which an employer who knows the name can check) and as the masked name (张**) in the
description; the ID-card number, full name, phone and anything else about the person are never in it.

**The proof** is the OB 3.0 "JSON Web Token Proof Format" (VC-JWT): a compact JWS signed with EdDSA (Ed25519)
by the active payload key (``certificates.signing``), header ``{"alg": "EdDSA", "kid":
"<site>/certificates/keys.json#<kid>", "typ": "JWT"}``. The payload is the credential's own members with the
registered claims ``iss`` (``issuer.id``), ``sub`` (``credentialSubject.id``), ``jti`` (``id``), ``nbf``
(``validFrom``), ``exp`` (``validUntil``) and ``iat`` (when it was signed) added, as OB 3.0 (VC DM 2.0)
specifies, and the same credential again in a ``vc`` claim, as the earlier OB 3.0 (VC DM 1.1 JWT) encoding
has it, so verifiers of either generation read it. ``verify_badge`` accepts either and, when both are there,
requires them to be identical.

**Verification** (``verify_badge``): the key is found by the fragment of ``kid`` in a JWKS (the site's keys,
or a JWKS file for an offline check); retired keys still verify what they signed. Revocation is not part of
the signature: ``credentialStatus`` names where to ask (``manage.py verify_badge --db`` or ``--online``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.crypto import salted_hmac

from . import signing

TZ = ZoneInfo("Asia/Shanghai")

CONTEXTS = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
CREDENTIAL_SCHEMA = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "type": "1EdTechJsonSchemaValidator2019",
}
# The credentialStatus type of this site: GET ``id`` (the public verification API of the number) answers JSON
# with ``status`` "valid", "expired" or "revoked" and the current ``revision`` (docs/open-badges.md).
STATUS_TYPE = "RedCrossCertificateStatus"
# The certificate's verification API (certificates/urls_verify.py, ``certificates:api_certificate``).
STATUS_PATH = "/api/v1/certificates/{number}/"

# The credential is a document in Chinese, like the printed certificate: its words do not follow the
# language of whoever downloads it (the signed content would change with it).
RED_CROSS = "中国红十字会"
CRITERIA = "通过线上理论考试和线下实操考试（含智能模拟人心肺复苏考核）"
JWT_TYPES = ("JWT", "vc+jwt", "vc+ld+jwt")  # accepted ``typ`` values (we write "JWT", as OB 3.0 says)
ALGORITHM = "EdDSA"
LEEWAY_S = 60  # clock difference tolerated for ``nbf``


class BadgeError(ValueError):
    """A badge that does not verify. ``code``: ``format`` (not a VC-JWT we can read), ``unknown_key`` (its key
    is not in the JWKS), ``signature`` (altered or forged), ``claims_mismatch`` (the JWT claims contradict the
    credential), ``not_yet_valid`` or ``expired``. For the last two (and ``claims_mismatch``) the signature
    did check out and ``credential`` is the credential."""

    def __init__(self, code: str, message: str, credential: dict | None = None, kid: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.credential = credential
        self.kid = kid


# ------------------------------------------------------------------ addresses

def base_url() -> str:
    return settings.LMS_BASE_URL.rstrip("/")


def issuer_id() -> str:
    return base_url() + reverse("certificates:issuer_profile")


def keys_url() -> str:
    return base_url() + reverse("certificates:jwks")


def key_url(kid: str) -> str:
    """The ``kid`` header of a badge: the JWKS address with the key's id as fragment."""
    return f"{keys_url()}#{kid}"


def achievement_id(code: str) -> str:
    return base_url() + reverse("certificates:achievement", kwargs={"code": code})


def status_url(number: str) -> str:
    try:
        return base_url() + reverse("certificates:api_certificate", kwargs={"number": number})
    except NoReverseMatch:
        return base_url() + STATUS_PATH.format(number=number)


def credential_id(certificate) -> str:
    """``urn:uuid:`` derived from the site, the number and the revision: the same for every export of a
    revision, new for a corrected one."""
    name = f"{base_url()}/certificates/badges/{certificate.number}/{certificate.revision}"
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def subject_id(certificate) -> str:
    """A pseudonymous id of the holder as holder of this certificate (``sub``): it names no one and links
    nothing beyond the number, which the credential carries anyway."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url()}/certificates/holders/{certificate.number}"))


# ------------------------------------------------------------------ the credential

def _start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0, 0, 0), tzinfo=TZ)


def _end_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=TZ)


def _iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def issuer_name(certificate=None) -> str:
    """The Red Cross name, then the issuing organisation as printed on the certificate (when it does not
    already say it): 中国红十字会 · 杭州市西湖区红十字会."""
    name = getattr(settings, "LMS_BADGE_ISSUER_NAME", RED_CROSS)
    printed = (getattr(certificate, "issuer_name", "") or "").strip()
    if printed and printed != name:
        return f"{name} · {printed}"
    return name


def issuer(certificate=None) -> dict:
    return {"id": issuer_id(), "type": ["Profile"], "name": issuer_name(certificate), "url": base_url() + "/"}


def achievement(code: str, name: str, description: str = "") -> dict:
    """The OB 3.0 ``Achievement`` of a programme (the same in every credential of it and at its address)."""
    return {
        "id": achievement_id(code),
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": name,
        "description": description or f"{name}：{CRITERIA}，取得{RED_CROSS}应急救护培训合格证书。",
        "criteria": {"narrative": CRITERIA},
        "humanCode": code,
    }


def programme_achievement(programme) -> dict:
    return achievement(programme.code, programme.name, (programme.description or "").strip())


def identity_salt(certificate) -> str:
    """The salt of the holder's name hash: fixed per number and revision (the export is reproducible), not
    guessable without the site's secret, and published in the credential as OB 3.0 requires."""
    return salted_hmac("certificates.badges.identity", f"{certificate.number}|{certificate.revision}",
                       algorithm="sha256").hexdigest()[:32]


def identity_hash(name: str, salt: str) -> str:
    """OB 3.0 ``IdentityHash``: ``sha256$`` and the hex SHA-256 of the identity (the name, as printed,
    without surrounding spaces) followed by the salt, both UTF-8."""
    return "sha256$" + hashlib.sha256(((name or "").strip() + salt).encode()).hexdigest()


def credential(certificate) -> dict:
    """The ``OpenBadgeCredential`` of a certificate (its current revision), without proof."""
    salt = identity_salt(certificate)
    valid_from = _start_of_day(certificate.issued_on)
    masked = signing.mask_name(certificate.holder_name)
    hours = f"{certificate.class_hours.normalize():f}" if certificate.class_hours else ""
    description = f"{certificate.title} · 证书编号 {certificate.number} · 持证人 {masked}"
    if hours:
        description += f" · {hours} 学时"
    return {
        "@context": list(CONTEXTS),
        "id": credential_id(certificate),
        "type": list(CREDENTIAL_TYPES),
        "issuer": issuer(certificate),
        "validFrom": _iso(valid_from),
        "validUntil": _iso(_end_of_day(certificate.expires_on)),
        "awardedDate": _iso(valid_from),
        "name": certificate.title,
        "description": description,
        "credentialSubject": {
            "id": subject_id(certificate),
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": True,
                "identityHash": identity_hash(certificate.holder_name, salt),
                "salt": salt,
            }],
            "licenseNumber": certificate.number,
            "achievement": achievement(certificate.programme.code, certificate.programme_name),
        },
        "credentialStatus": {
            "id": status_url(certificate.number),
            "type": STATUS_TYPE,
            "certificateNumber": certificate.number,
            "revision": certificate.revision,
        },
        "credentialSchema": [dict(CREDENTIAL_SCHEMA)],
    }


# ------------------------------------------------------------------ the proof (VC-JWT)

def _b64json(data: dict) -> str:
    return signing.b64u(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _epoch(iso: str) -> int:
    return int(datetime.datetime.fromisoformat(iso).timestamp())


def claims_for(cred: dict, *, now: float | None = None) -> dict:
    """The JWT payload of a credential: its members, the registered claims and the ``vc`` claim."""
    claims = dict(cred)
    claims.update({
        "iss": cred["issuer"]["id"],
        "sub": cred["credentialSubject"]["id"],
        "jti": cred["id"],
        "nbf": _epoch(cred["validFrom"]),
        "exp": _epoch(cred["validUntil"]),
        "iat": int(now if now is not None else time.time()),
        "vc": cred,
    })
    return claims


def sign_claims(claims: dict, key) -> str:
    """A compact JWS (EdDSA) of ``claims`` by payload key ``key`` (a ``SigningKey``)."""
    from jwcrypto import jwk, jws

    header = {"alg": ALGORITHM, "kid": key_url(key.kid), "typ": "JWT"}
    token = jws.JWS(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    token.add_signature(jwk.JWK.from_pyca(signing.private_key(key)), None,
                        json.dumps(header, separators=(",", ":")))
    return token.serialize(compact=True)


def export_badge(certificate, *, key=None, now: float | None = None) -> str:
    """The certificate as a signed OB 3.0 credential (VC-JWT), signed by the active payload key."""
    key = key or signing.active_payload_key()
    return sign_claims(claims_for(credential(certificate), now=now), key)


# ------------------------------------------------------------------ verification

@dataclass(frozen=True)
class VerifiedBadge:
    credential: dict
    kid: str  # the key's id (the fragment of the header's ``kid``)
    header: dict
    claims: dict


def _kid_of(header_kid: str) -> str:
    return header_kid.rsplit("#", 1)[1] if "#" in header_kid else header_kid


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def parse(token: str) -> tuple[dict, dict, str]:
    """(header, claims, token) of a compact JWS, unverified, or BadgeError("format")."""
    token = "".join((token or "").split())
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(signing.b64u_decode(head_b64))
        claims = json.loads(signing.b64u_decode(body_b64))
        signing.b64u_decode(sig_b64)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BadgeError("format", "not a compact JWS (VC-JWT)") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise BadgeError("format", "not a compact JWS (VC-JWT)")
    if header.get("alg") != ALGORITHM:
        raise BadgeError("format", f"unsupported algorithm {header.get('alg')!r} (EdDSA expected)")
    if "typ" in header and header["typ"] not in JWT_TYPES:
        raise BadgeError("format", f"unexpected token type {header['typ']!r}")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise BadgeError("format", "the header names no key (kid)")
    if "crit" in header:
        raise BadgeError("format", "unsupported critical header parameters")
    return header, claims, token


def _credential_of(claims: dict) -> dict:
    embedded = claims.get("vc")
    top = {k: v for k, v in claims.items() if k not in ("iss", "sub", "jti", "nbf", "exp", "iat", "vc")}
    has_top = "@context" in top or "type" in top
    if embedded is not None and not isinstance(embedded, dict):
        raise BadgeError("format", "the vc claim is not a credential")
    if embedded is not None and has_top and embedded != top:
        raise BadgeError("claims_mismatch", "the vc claim and the credential differ", credential=embedded)
    cred = embedded if embedded is not None else top
    types = cred.get("type") or []
    if (not isinstance(types, list) or "VerifiableCredential" not in types
            or not ({"OpenBadgeCredential", "AchievementCredential"} & set(types))):
        raise BadgeError("format", "not an OpenBadgeCredential")
    return cred


def _check_claims(claims: dict, cred: dict, header_kid: str, kid: str) -> None:
    def mismatch(what: str):
        raise BadgeError("claims_mismatch", what, credential=cred, kid=kid)

    issuer_obj = cred.get("issuer")
    iss = issuer_obj.get("id") if isinstance(issuer_obj, dict) else issuer_obj
    if not iss or claims.get("iss") != iss:
        mismatch("iss does not match the credential's issuer.id")
    if not cred.get("id") or claims.get("jti") != cred.get("id"):
        mismatch("jti does not match the credential's id")
    subject = cred.get("credentialSubject")
    subject_ = subject.get("id") if isinstance(subject, dict) else None
    if subject_ is not None and claims.get("sub") != subject_:
        mismatch("sub does not match credentialSubject.id")
    try:
        if "nbf" not in claims or claims["nbf"] != _epoch(cred["validFrom"]):
            mismatch("nbf does not match validFrom")
        if ("validUntil" in cred or "exp" in claims) and claims.get("exp") != _epoch(cred["validUntil"]):
            mismatch("exp does not match validUntil")
    except (KeyError, TypeError, ValueError):
        mismatch("validFrom / validUntil are not dates")
    if header_kid.startswith(("http://", "https://")) and _origin(header_kid) != _origin(iss):
        mismatch("the signing key is not published by the issuer")


def check_badge(token: str, jwks: dict | None = None, *, now: float | None = None) -> VerifiedBadge:
    """Verify a VC-JWT against ``jwks`` (None: this site's keys, active and retired): the ``VerifiedBadge``,
    or BadgeError. The order: format, key, signature, claims, then time (not yet valid / expired)."""
    from jwcrypto import jwk, jws
    from jwcrypto.common import JWException

    header, claims, token = parse(token)
    kid = _kid_of(header["kid"])
    keys = signing.keys_from_jwks(jwks) if jwks is not None else signing.site_keys()
    public = keys.get(kid)
    if public is None:
        raise BadgeError("unknown_key", f"unknown signing key {kid!r}", kid=kid)
    try:
        obj = jws.JWS()
        obj.deserialize(token)
        obj.verify(jwk.JWK.from_pyca(public), alg=ALGORITHM)
    except JWException:
        raise BadgeError("signature", "the signature does not match: altered or forged", kid=kid) from None
    cred = _credential_of(claims)
    _check_claims(claims, cred, header["kid"], kid)
    now = time.time() if now is None else now
    if now + LEEWAY_S < claims["nbf"]:
        raise BadgeError("not_yet_valid", f"not valid before {cred.get('validFrom')}", credential=cred, kid=kid)
    if "exp" in claims and now > claims["exp"]:
        raise BadgeError("expired", f"expired at {cred.get('validUntil')}", credential=cred, kid=kid)
    return VerifiedBadge(credential=cred, kid=kid, header=header, claims=claims)


def verify_badge(token: str, jwks: dict | None = None, *, now: float | None = None) -> dict:
    """The credential of a VC-JWT that verifies (signature, claims, validity period), or BadgeError."""
    return check_badge(token, jwks, now=now).credential


# ------------------------------------------------------------------ the issuer's profile

def issuer_profile() -> dict:
    """The site's OB 3.0 ``Profile`` (served at ``/certificates/issuer.json``), with its public keys as
    verification methods (each ``id`` is the ``kid`` a badge names) and the JWKS's address."""
    jwks = signing.public_jwks()
    methods = []
    for entry in jwks["keys"]:
        public = {k: entry[k] for k in ("kty", "crv", "x", "kid", "alg", "use") if k in entry}
        method = {"id": key_url(entry["kid"]), "type": "JsonWebKey", "controller": issuer_id(),
                  "publicKeyJwk": public}
        if entry.get("retired_at"):
            method["retired"] = entry["retired_at"]
        methods.append(method)
    return {
        "@context": list(CONTEXTS),
        "id": issuer_id(),
        "type": ["Profile"],
        "name": getattr(settings, "LMS_BADGE_ISSUER_NAME", RED_CROSS),
        "url": base_url() + "/",
        "description": "中国红十字会应急救护培训与救护员证书。证书以 Open Badges 3.0 凭证（VC-JWT，EdDSA/Ed25519）导出，"
                       "公钥见 jwks_uri。",
        "jwks_uri": keys_url(),
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }
