"""Rotate a signing key: retire the active one and make a new one (audited).

    python manage.py rotate_signing_key [--purpose payload|document]

``payload`` (the default): the Ed25519 key of the QR payloads and the Open Badges credentials
(``certificates.signing.rotate_payload_key``). ``document``: the PDF signing key, where the PDF area provides
``rotate_document_key``. A retired key signs nothing new and still verifies what it signed (the public keys
at ``/certificates/keys.json`` keep it). Prints the retired and the new key id.
"""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandError

from certificates import signing
from certificates.models import SigningKey

# Where the PDF area keeps ``rotate_document_key`` (the first that has it).
DOCUMENT_KEY_MODULES = ("certificates.pdf", "certificates.document_keys")


def document_rotation():
    for name in DOCUMENT_KEY_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        rotate = getattr(module, "rotate_document_key", None)
        if callable(rotate):
            return rotate
    return None


class Command(BaseCommand):
    help = "Retire the active signing key and make a new one (payload: QR payloads and badges; document: PDFs)."

    def add_arguments(self, parser):
        parser.add_argument("--purpose", choices=[p.value for p in SigningKey.Purpose], default="payload",
                            help="which key: payload (default) or document")

    def handle(self, *args, purpose="payload", **options):
        if purpose == SigningKey.Purpose.PAYLOAD:
            rotate = signing.rotate_payload_key
        else:
            rotate = document_rotation()
            if rotate is None:
                raise CommandError("the document (PDF) key cannot be rotated here: no rotate_document_key")
        old = list(SigningKey.objects.filter(purpose=purpose, retired_at__isnull=True).values_list("kid", flat=True))
        new = rotate(None)
        self.stdout.write(f"retired: {', '.join(old) if old else '(none: this is the first key)'}")
        self.stdout.write(self.style.SUCCESS(f"active:  {new.kid}"))
