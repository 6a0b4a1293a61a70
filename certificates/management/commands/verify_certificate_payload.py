"""Verify a certificate's QR payload (or the whole scanned URL).

    python manage.py verify_certificate_payload <payload-or-url> --keys keys.json   # offline
    python manage.py verify_certificate_payload <payload-or-url> --keys -           # the JWKS on stdin
    python manage.py verify_certificate_payload <payload-or-url>                    # the site's keys and status

With ``--keys`` (a JWKS as published at ``/certificates/keys.json``, saved to a file) the check is offline:
the Ed25519 signature against the published public keys, without the database or a network. Without it,
the site's own keys are used and the certificate's online status (valid, expired, revoked) is printed too,
and whether the signed fields are those on record.

Prints the signed fields and ``signature OK (key <kid>)``. Exit status: 0 verified (and, online, valid);
1 the payload is damaged, altered, forged or signed by an unknown key (or, online, its fields differ from the
record); 2 verified, but the certificate is expired or revoked (online only).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from certificates import signing, verification


class Command(BaseCommand):
    help = "Verify a certificate QR payload: offline with a JWKS file (--keys), or against the site's keys and status."
    requires_system_checks: list = []  # offline use touches nothing but the keys file

    def add_arguments(self, parser):
        parser.add_argument("payload", help="the payload text, or the whole URL the QR code holds")
        parser.add_argument("--keys", help="a JWKS file of the site's public keys (- for stdin): offline check")

    def handle(self, *args, payload: str, keys: str | None = None, **options):
        if keys:
            self._offline(payload, keys)
        else:
            self._online(payload)

    def _print_payload(self, p: dict) -> None:
        rows = [("number", p["number"]), ("revision", p["revision"]), ("holder", p["name_masked"]),
                ("ID card", p["id_card_masked"] or "—"), ("programme", p["programme_code"]),
                ("issued on", p["issued_on"]), ("expires on", p["expires_on"]), ("key", p["kid"])]
        for name, value in rows:
            self.stdout.write(f"  {name:<11} {value}")

    def _fail(self, message: str, code: int = 1):
        self.stdout.write(self.style.ERROR(message))
        raise SystemExit(code)

    def _offline(self, text: str, keys_path: str) -> None:
        try:
            raw = sys.stdin.read() if keys_path == "-" else open(keys_path, encoding="utf-8").read()
            jwks = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read the keys file {keys_path}: {exc}") from exc
        public = signing.keys_from_jwks(jwks if isinstance(jwks, dict) else {})
        if not public:
            raise CommandError(f"{keys_path} holds no Ed25519 key (a JWKS: {{\"keys\": [...]}})")
        try:
            payload = signing.verify_payload(text, public)
        except signing.PayloadError as exc:
            self._fail(f"FAILED ({exc.code}): {verification.payload_problem_message(exc.code)}")
        self._print_payload(payload.as_dict())
        self.stdout.write(self.style.SUCCESS(f"signature OK (key {payload.kid})"))
        self.stdout.write(_("Offline check: whether the certificate was revoked since is known online only."))

    def _online(self, text: str) -> None:
        scan = verification.verify_scan(text)
        if not scan.signature_ok:
            self._fail(f"FAILED ({scan.problem}): {scan.message}")
        self._print_payload(scan.payload)
        self.stdout.write(self.style.SUCCESS(f"signature OK (key {scan.kid})"))
        result = scan.verification
        if scan.problem:
            detail = f" ({', '.join(scan.mismatched)})" if scan.mismatched else ""
            self._fail(f"FAILED ({scan.problem}{detail}): {scan.message}")
        if scan.outdated:
            self.stdout.write(self.style.WARNING(scan.message))
        self.stdout.write(f"status: {result.status} · {result.summary()}")
        if result.status == result.status.__class__("revoked") and result.revoked_reason:
            self.stdout.write(f"  reason: {result.revoked_reason}")
        if not result.valid:
            raise SystemExit(2)
