"""Public functions of the certificates app (what other apps and the views call).

Each state-changing operation is one function (validation, permission, transaction, audit). Errors are
``ValidationError`` (a message in the user's language; nothing stored) or ``PermissionDenied``.

- Numbers (``certificates/numbering.py``): ``next_number`` (unique under concurrency).
- Eligibility and issue (``certificates/issuing.py``, rules in its docstring): ``rule_for``, ``eligibility``,
  ``issue``, ``grant_exception``, ``start_class_issue``, ``run_issue_job``, ``auto_issue``, ``expiry_for``.
- Lifecycle (``certificates/lifecycle.py``, rules in its docstring): ``revoke``, ``correct_name``,
  ``renewal_check``, ``renew``, ``send_expiry_reminders``, ``mark_reminder_read``, ``visible_certificates``,
  ``current_certificates``.
- Keys and the QR payload (``certificates/signing.py``): ``active_payload_key``, ``rotate_payload_key``,
  ``public_jwks``, ``payload_for``, ``sign_payload``, ``verify_payload``, ``keys_from_jwks``, ``site_keys``.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .models import NumberSequence
from .numbering import NumberFormat

DEFAULT_FORMAT = "{region:6}{year:4}{serial:8}{check}"


class NumbersExhausted(Exception):
    """A (region, year) sequence has used every serial its format holds."""


def _sequence_for_update(spec: str, region_code: str, year: int) -> NumberSequence:
    for _attempt in range(3):
        row = NumberSequence.objects.select_for_update().filter(spec=spec, region_code=region_code,
                                                                 year=year).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():  # a savepoint: a parallel issuer may create the row first
                NumberSequence.objects.create(spec=spec, region_code=region_code, year=year)
        except IntegrityError:
            continue
    return NumberSequence.objects.select_for_update().get(spec=spec, region_code=region_code, year=year)


def next_number(region_code: str, year: int, spec: str = DEFAULT_FORMAT) -> str:
    """The next certificate number of ``region_code`` in ``year``: the sequence's row is locked for the
    length of the caller's transaction (PostgreSQL: parallel issuers wait their turn), so every number is
    given once. Call it inside the transaction that stores the certificate."""
    fmt = NumberFormat.parse(spec)
    with transaction.atomic():
        row = _sequence_for_update(spec, region_code, year)
        if row.next_value >= fmt.capacity():
            raise NumbersExhausted(_("The certificate numbers of %(region)s in %(year)s are used up.")
                                   % {"region": region_code, "year": year})
        value = row.next_value
        NumberSequence.objects.filter(pk=row.pk).update(next_value=value + 1)
    return fmt.make(region=region_code, year=year, sequence=value, key=bytes.fromhex(row.key))


from .issuing import (  # noqa: E402,F401
    auto_issue, eligibility, expiry_for, grant_exception, issue, rule_for, run_issue_job, start_class_issue,
)
from .signing import (  # noqa: E402,F401
    PayloadError, active_payload_key, keys_from_jwks, parse_payload, payload_for, public_jwks, rotate_payload_key,
    sign_payload, site_keys, verify_payload,
)
from .lifecycle import (  # noqa: E402,F401
    correct_name, current_certificates, mark_reminder_read, renew, renewal_check, revoke, send_expiry_reminders,
    visible_certificates,
)
