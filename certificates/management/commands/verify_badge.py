"""Verify an Open Badges 3.0 credential (VC-JWT) of this site (docs/open-badges.md).

    python manage.py verify_badge BADGE [--keys JWKS_FILE] [--db] [--online]

``BADGE`` is a file (the ``<number>.jwt`` download, or the ``?format=json`` download), ``-`` for standard
input, or the JWT itself. The public keys are this site's (from its database) or, offline, a JWKS file saved
from ``/certificates/keys.json`` (``--keys``). Prints the credential's key facts and ``signature OK``, or the
failure; exits with status 1 when the badge does not verify, is not yet valid or has expired, or when a
status check asked for says it is revoked or superseded (or cannot be made).

Revocation is not part of the signature: ``--db`` looks the number up in this site's database, ``--online``
asks the verification API the credential names (``credentialStatus.id``).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from certificates import badges

ONLINE_TIMEOUT_S = 10
JWT_RE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def read_badge(arg: str) -> str:
    """The JWT of a file, of standard input (``-``) or of the argument itself."""
    if arg == "-":
        text = sys.stdin.read()
    elif JWT_RE.fullmatch(arg.strip()):
        text = arg
    else:
        try:
            text = Path(arg).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {arg}: {exc}") from None
    text = text.strip()
    if text.startswith("{"):  # the ?format=json download: {"credential": …, "jwt": "…"}
        try:
            text = str(json.loads(text)["jwt"])
        except (ValueError, KeyError, TypeError):
            raise CommandError(f"{arg}: JSON without a \"jwt\" member") from None
    return text


def read_jwks(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"cannot read the JWKS {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise CommandError(f"{path} is not a JWKS (an object with \"keys\")")
    return data


def facts(cred: dict, kid: str | None) -> list[tuple[str, str]]:
    subject = cred.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {}
    issuer = cred.get("issuer") or {}
    if isinstance(issuer, str):
        issuer = {"id": issuer}
    identity = next((i for i in subject.get("identifier") or [] if isinstance(i, dict)), {})
    rows = [
        ("number", str(subject.get("licenseNumber", "—"))),
        ("title", str(cred.get("name", "—"))),
        ("description", str(cred.get("description", "—"))),  # holds the masked name (张**)
        ("holder", f"name hash {identity.get('identityHash', '—')} (salt {identity.get('salt', '—')})"),
        ("achievement", f"{achievement.get('name', '—')} <{achievement.get('id', '—')}>"),
        ("issuer", f"{issuer.get('name', '—')} <{issuer.get('id', '—')}>"),
        ("valid", f"{cred.get('validFrom', '—')} → {cred.get('validUntil', '—')}"),
        ("credential", str(cred.get("id", "—"))),
    ]
    if kid:
        rows.append(("key", kid))
    return rows


class Command(BaseCommand):
    help = "Verify an Open Badges 3.0 credential (VC-JWT, EdDSA) of this site, online or offline with --keys."

    def add_arguments(self, parser):
        parser.add_argument("badge", help="a .jwt file, '-' for standard input, or the JWT itself")
        parser.add_argument("--keys", metavar="JWKS_FILE",
                            help="verify offline against this JWKS (saved from /certificates/keys.json)")
        parser.add_argument("--db", action="store_true",
                            help="also check the certificate's status (revoked, superseded) in this site's database")
        parser.add_argument("--online", action="store_true",
                            help="also ask the verification API named by credentialStatus for the status")

    def handle(self, *args, badge, keys=None, db=False, online=False, **options):
        token = read_badge(badge)
        jwks = read_jwks(keys) if keys else None
        try:
            verified = badges.check_badge(token, jwks)
        except badges.BadgeError as exc:
            if exc.credential is not None:
                self._print_facts(exc.credential, exc.kid)
                if exc.code in ("expired", "not_yet_valid"):
                    self.stdout.write("signature OK")
            self.stderr.write(self.style.ERROR(f"NOT VALID ({exc.code}): {exc.message}"))
            raise SystemExit(1)
        self._print_facts(verified.credential, verified.kid)
        self.stdout.write(self.style.SUCCESS("signature OK"))
        problems = []
        if db:
            problems += self._status_db(verified.credential)
        if online:
            problems += self._status_online(verified.credential)
        if problems:
            for p in problems:
                self.stderr.write(self.style.ERROR(p))
            raise SystemExit(1)

    def _print_facts(self, cred: dict, kid: str | None) -> None:
        for label, value in facts(cred, kid):
            self.stdout.write(f"{label + ':':<13}{value}")

    def _status_db(self, cred: dict) -> list[str]:
        from certificates.models import Certificate

        status = cred.get("credentialStatus") or {}
        number = status.get("certificateNumber") or (cred.get("credentialSubject") or {}).get("licenseNumber")
        certificate = Certificate.objects.filter(number=number).first() if number else None
        if certificate is None:
            return [f"status: the number {number!r} is not in this site's database"]
        state = certificate.status()
        self.stdout.write(f"{'status:':<13}{state} (database, revision {certificate.revision})")
        problems = []
        if state == Certificate.Status.REVOKED:
            problems.append(f"status: revoked on {certificate.revoked_at:%Y-%m-%d}")
        revision = status.get("revision")
        if isinstance(revision, int) and revision != certificate.revision:
            problems.append(f"status: superseded (the badge is revision {revision}, the certificate is at "
                            f"revision {certificate.revision}: download the badge again)")
        return problems

    def _status_online(self, cred: dict) -> list[str]:
        status = cred.get("credentialStatus") or {}
        url = status.get("id") or ""
        if not url.startswith(("https://", "http://")):
            return ["status: the credential names no verification address"]
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=ONLINE_TIMEOUT_S) as resp:  # noqa: S310 (http(s) only)
                data = json.loads(resp.read(1_000_000).decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return [f"status: the issuer does not know this number ({url})"]
            return [f"status: could not be checked at {url}: HTTP {exc.code}"]
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return [f"status: could not be checked at {url}: {exc}"]
        state = data.get("status") if isinstance(data, dict) else None
        self.stdout.write(f"{'status:':<13}{state} (online, {url})")
        problems = []
        if state == "revoked":
            problems.append("status: revoked")
        elif state not in ("valid", "expired"):
            problems.append(f"status: unexpected answer from {url}")
        current = data.get("revision") if isinstance(data, dict) else None
        if isinstance(current, int) and isinstance(status.get("revision"), int) and current != status["revision"]:
            problems.append(f"status: superseded by revision {current}")
        return problems
