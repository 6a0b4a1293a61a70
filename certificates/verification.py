"""Public verification of certificates: by number, by the signed QR payload, and in bulk.

Used by the public pages (``certificates/views_verify.py``), the JSON API for employers and
``manage.py verify_certificate_payload``. The decisions behind it (why numbers cannot be walked, what is
shown, the rate limits) are in ``docs/verification.md``.

- ``verify_number(text)``: the typed number normalised (spaces, dashes, full-width digits) and checked
  against the number formats in use: a malformed number says what is wrong (its length, a character that is
  not a digit, or the check digit: a digit mistyped or two neighbours swapped); a well-formed number that is
  not on record is "not found", the same answer whatever the reason; a found one has its status (valid,
  expired, revoked with the date and reason) and every printed field, personal data minimised (the name
  masked to its first character, the ID-card number in the masked form printed on the card), with its
  renewal links and the history of its revisions (numbers, dates and reasons, never an earlier name).
  One query for a found number (the hot path of the API), a second only for a number with earlier revisions.
- ``verify_scan(payload)``: the Ed25519 signature of a QR payload against the site's public keys (kept per
  process, reloaded when a payload names a key not yet seen, e.g. after a rotation), then the online status
  of its number; a payload whose signed fields differ from the record is treated as forged, one of an
  earlier revision says the card was re-issued and shows the current fields.
- ``verify_many(lines)``: a list (pasted, or read from an upload by ``read_upload``) checked with one query:
  blank lines ignored, duplicates left out, the order kept, at most ``settings.LMS_VERIFY_BULK_MAX_NUMBERS``;
  ``bulk_xlsx(rows)`` the answer as an Excel workbook.
"""

from __future__ import annotations

import datetime
import io
import re
import threading
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lms.cells import NumberCell, cell_text

from . import signing
from .models import Certificate, CertificateRevision, CertificateRule
from .numbering import NumberFormat, diagnose
from .numbering import normalise as _strip_separators

DEFAULT_FORMAT = "{region:6}{year:4}{serial:8}{check}"
MAX_INPUT_CHARS = 64  # a typed number longer than this is not looked at further
MAX_PAYLOAD_CHARS = 1000

# Problem codes (``VerificationResult.problem``).
EMPTY, DIGITS, LENGTH, CHECK, NOT_FOUND, LIMITED = "empty", "digits", "length", "check", "not_found", "limited"
MALFORMED = (EMPTY, DIGITS, LENGTH, CHECK)

VALID, EXPIRED, REVOKED = Certificate.Status.VALID.value, Certificate.Status.EXPIRED.value, \
    Certificate.Status.REVOKED.value


# ------------------------------------------------------------------ the number formats in use

_FORMATS_TTL_S = 60.0
_formats_cache: dict = {"at": -1e9, "formats": ()}


def formats_in_use() -> tuple[NumberFormat, ...]:
    """The number formats of the certificate rules plus the default, read at most once a minute per process."""
    now = time.monotonic()
    if now - _formats_cache["at"] > _FORMATS_TTL_S:
        specs = {DEFAULT_FORMAT, *CertificateRule.objects.values_list("number_format", flat=True).distinct()}
        formats = []
        for spec in sorted(specs):
            try:
                formats.append(NumberFormat.parse(spec))
            except ValueError:  # a rule saved with a broken format issues nothing under it
                continue
        _formats_cache.update(at=now, formats=tuple(formats))
    return _formats_cache["formats"]


def clear_caches() -> None:
    """Forget the formats and keys this process keeps (tests; a server picks changes up by itself)."""
    _formats_cache.update(at=-1e9, formats=())
    with _keys_lock:
        _keys_cache.update(at=-1e9, keys={})


def normalise(text: str) -> str:
    """A typed number as looked up: full-width digits and spaces made plain (a Chinese keyboard), spaces and
    dashes removed."""
    text = unicodedata.normalize("NFKC", text or "")[:MAX_INPUT_CHARS * 2]
    return _strip_separators(text.replace("—", "-").replace("－", "-")).strip()


_DIGITS = re.compile(r"[0-9]+")


def _lengths_text(lengths: list[int]) -> str:
    return _(" or ").join(str(n) for n in lengths)


def _malformed(cleaned: str) -> tuple[str, str] | None:
    """(problem, message) for a number that cannot be one, else None."""
    if not cleaned:
        return EMPTY, _("Type the certificate number.")
    formats = formats_in_use()
    lengths = sorted({f.length for f in formats})
    if not _DIGITS.fullmatch(cleaned):
        bad = "".join(dict.fromkeys(ch for ch in cleaned if ch not in "0123456789"))[:5]
        return DIGITS, _("A certificate number has digits only; this one has “%(chars)s” in it. Please type "
                         "the digits as printed on the certificate.") % {"chars": bad}
    if len(cleaned) not in lengths:
        return LENGTH, ngettext(
            "A certificate number has %(expected)s digits; %(typed)s digit was typed. Please compare it with "
            "the certificate: a digit may be missing or typed twice.",
            "A certificate number has %(expected)s digits; %(typed)s digits were typed. Please compare it with "
            "the certificate: a digit may be missing or typed twice.",
            len(cleaned)) % {"expected": _lengths_text(lengths), "typed": len(cleaned)}
    if not any(diagnose(cleaned, f) is None for f in formats if f.length == len(cleaned)):
        return CHECK, _("This number cannot be right: a digit is mistyped or two neighbouring digits are "
                        "swapped. Please compare it with the certificate.")
    return None


def not_found_message() -> str:
    return _("No certificate with this number is on record. Please compare the number with the certificate; "
             "if they match, the certificate was not issued through this system: ask the holder or the issuing "
             "organisation.")


# ------------------------------------------------------------------ results

@dataclass
class VerificationResult:
    """What a verification says about one typed number."""

    input: str
    number: str = ""  # normalised
    problem: str | None = None  # EMPTY, DIGITS, LENGTH, CHECK, NOT_FOUND, LIMITED; None when found
    message: str = ""
    status: str | None = None  # VALID, EXPIRED, REVOKED (found numbers)
    fields: dict = field(default_factory=dict)  # the printed fields, minimised (see ``as_json``)
    programme_code: str = ""
    revoked_on: datetime.date | None = None
    revoked_reason: str = ""
    renewed_by: str = ""  # the number of the certificate that renews this one
    renews: str = ""  # the number of the older certificate this one renews
    history: list[dict] = field(default_factory=list)  # earlier revisions: revision, replaced_on, reason
    checked_at: datetime.datetime | None = None
    _holder_name: str = field(default="", repr=False)  # for the scan's comparison only; never shown

    @property
    def found(self) -> bool:
        return self.status is not None

    @property
    def valid(self) -> bool:
        return self.status == VALID

    @property
    def malformed(self) -> bool:
        return self.problem in MALFORMED

    @property
    def status_label(self) -> str:
        if self.status is None:
            return {NOT_FOUND: _("Not found"), LIMITED: _("Not checked")}.get(self.problem, _("Not a valid number"))
        return str(Certificate.Status(self.status).label)

    @property
    def css(self) -> str:
        """The badge's class: valid, expired, revoked, notfound or malformed."""
        if self.status:
            return self.status
        return {NOT_FOUND: "notfound", LIMITED: "limited"}.get(self.problem, "malformed")

    def summary(self) -> str:
        """One sentence on the status, in the user's language."""
        if self.problem:
            return self.message
        f = self.fields
        if self.status == VALID:
            text = _("This certificate is valid until %(date)s.") % {"date": f["expires_on"].isoformat()}
        elif self.status == EXPIRED:
            text = _("This certificate expired on %(date)s.") % {"date": f["expires_on"].isoformat()}
        else:
            text = _("This certificate was revoked on %(date)s.") % {"date": self.revoked_on.isoformat()}
        if self.renewed_by:
            text += " " + _("It has been renewed by certificate %(number)s.") % {"number": self.renewed_by}
        return text

    def printed_fields(self) -> list[tuple[str, str, bool]]:
        """(label, value, wide) of every printed field, in the order of the card, for the pages (``wide``: a
        long value that takes a whole row on a phone)."""
        f = self.fields
        if not f:
            return []
        hours = f["class_hours"]
        return [
            (_("Certificate"), f["title"], False),
            (_("Revision"), str(f["revision"]), False),
            (_("Certificate number"), self.number, True),
            (_("Holder"), f["holder_name"], False),
            (_("Class hours"), f"{hours:g}" if isinstance(hours, float) else str(hours), False),
            (_("ID-card number"), f["id_card_masked"] or "—", True),
            (_("Programme"), f["programme"], True),
            (_("Issued on"), f["issued_on"].isoformat(), False),
            (_("Valid until"), f["expires_on"].isoformat(), False),
            (_("Issuing organisation"), f["issuer"], True),
            (_("Instructors"), f["instructors"] or "—", False),
            (_("Examiner"), f["examiner"] or "—", False),
        ]

    def as_json(self) -> dict:
        """The API's answer for this number (dates as ISO strings)."""
        data: dict = {"input": self.input, "number": self.number, "found": self.found, "valid": self.valid,
                      "status": self.status}
        if self.problem:
            data.update(problem=self.problem, message=self.message)
            return data
        f = self.fields
        data.update({
            "title": f["title"], "holder_name": f["holder_name"], "id_card_masked": f["id_card_masked"],
            "programme": f["programme"], "class_hours": f["class_hours"],
            "issued_on": f["issued_on"].isoformat(), "expires_on": f["expires_on"].isoformat(),
            "issuer": f["issuer"], "instructors": f["instructors"], "examiner": f["examiner"],
            "revision": f["revision"],
            "revoked_on": self.revoked_on.isoformat() if self.revoked_on else None,
            "revoked_reason": self.revoked_reason or None,
            "renewed_by": self.renewed_by or None, "renews": self.renews or None,
            "history": [{"revision": h["revision"], "replaced_on": h["replaced_on"].isoformat(), "reason": h["reason"]}
                        for h in self.history],
            "message": self.summary(),
        })
        return data


# The columns a verification reads: the printed fields, the status and the renewal links, in one query.
_VALUES = ("id", "number", "title", "holder_name", "id_card_masked", "programme_name", "class_hours", "issuer_name",
           "instructor_names", "examiner_name", "issued_on", "expires_on", "revision", "revoked_at", "revoked_reason",
           "programme__code", "renews__number", "renewed_by__number")


def _values_query(numbers):
    qs = Certificate.objects.order_by().values(*_VALUES)
    return qs.filter(number=numbers) if isinstance(numbers, str) else qs.filter(number__in=numbers)


def _row_from_instance(cert: Certificate) -> dict:
    """The same dict as the values() query, from a certificate loaded by the ORM with select_related."""
    try:
        renewed_by = cert.renewed_by.number
    except Certificate.DoesNotExist:
        renewed_by = None
    return {"id": cert.pk, "number": cert.number, "title": cert.title, "holder_name": cert.holder_name,
            "id_card_masked": cert.id_card_masked, "programme_name": cert.programme_name,
            "class_hours": cert.class_hours, "issuer_name": cert.issuer_name,
            "instructor_names": cert.instructor_names, "examiner_name": cert.examiner_name,
            "issued_on": cert.issued_on, "expires_on": cert.expires_on, "revision": cert.revision,
            "revoked_at": cert.revoked_at, "revoked_reason": cert.revoked_reason,
            "programme__code": cert.programme.code, "renews__number": cert.renews.number if cert.renews_id else None,
            "renewed_by__number": renewed_by}


_PREPARED = "lms_verify_number_v1"
_compiled: dict[str, str] = {}


def _compiled_sql() -> str:
    """The values() query of one number compiled once per process (its one parameter a ``%s``)."""
    if "sql" not in _compiled:
        sql, params = _values_query("0")[:1].query.sql_with_params()
        if list(params) != ["0"] or sql.count("%s") != 1 or "%%" in sql:
            raise RuntimeError("the verification query did not compile to one parameter")
        _compiled["sql"] = sql
    return _compiled["sql"]


def _prepare(cursor, raw) -> bool:
    """PREPARE the lookup on this connection (once); False when it cannot be."""
    statement = f"PREPARE {_PREPARED}(text) AS {_compiled_sql().replace('%s', '$1')}"
    for attempt in range(2):
        try:
            cursor.execute(statement)
            raw._lms_verify_prepared = True
            return True
        except DatabaseError:
            if attempt == 0:
                _deallocate(cursor)  # left from an earlier life of the statement: replace it
    return False


def _deallocate(cursor) -> None:
    try:
        cursor.execute(f"DEALLOCATE {_PREPARED}")
    except DatabaseError:
        pass


def _fetch_raw(conn, number: str, prepared: bool) -> dict | None:
    """The values() query's row as a dict, sent as SQL (PostgreSQL): planned every time, or, ``prepared``, as a
    statement prepared once per database connection (planning the joins costs more than running them).

    Outside a transaction the lookup is its own connection health check: Django's (``CONN_HEALTH_CHECKS``) would
    send a ``SELECT 1`` first, a second round trip on every request; instead, a lookup that finds the kept
    connection dead closes it and runs once more on a new one (a read: safe to repeat)."""
    if conn.in_atomic_block or not getattr(conn, "health_check_enabled", False) or conn.health_check_done \
            or conn.connection is None:
        return _lookup(conn, number, prepared)
    conn.health_check_done = True
    try:
        return _lookup(conn, number, prepared)
    except (InterfaceError, OperationalError):
        conn.close()
        return _lookup(conn, number, prepared)


def _lookup(conn, number: str, prepared: bool) -> dict | None:
    with conn.cursor() as cursor:
        raw = conn.connection
        row = None
        done = False
        # Prepared outside a transaction only: a failed EXECUTE must not break a caller's transaction.
        if prepared and not conn.in_atomic_block and (getattr(raw, "_lms_verify_prepared", False)
                                                      or _prepare(cursor, raw)):
            try:
                cursor.execute(f"EXECUTE {_PREPARED}(%s)", [number])
                row, done = cursor.fetchone(), True
            except (InterfaceError, OperationalError):
                raise  # the connection is gone: see _fetch_raw
            except DatabaseError:  # dropped (DISCARD ALL by a pooler) or stale (a migration): prepared again next time
                raw._lms_verify_prepared = False
                _deallocate(cursor)
        if not done:
            cursor.execute(_compiled_sql(), [number])
            row = cursor.fetchone()
    return dict(zip(_VALUES, row)) if row is not None else None


def _fetch_one(number: str) -> dict | None:
    """The record of ``number`` (``settings.LMS_VERIFY_LOOKUP``): ``prepared`` (the default), the compiled
    values() query as a statement prepared once per connection on PostgreSQL; ``sql``, the same SQL planned
    every time; ``values``, the ORM's values() queryset; ``orm``, the ORM's model instances with
    select_related. Each is one query; on SQLite the first two are ``values``. The benchmark compares them."""
    mode = getattr(settings, "LMS_VERIFY_LOOKUP", "prepared")
    if mode == "orm":
        cert = (Certificate.objects.select_related("programme", "renews", "renewed_by").order_by()
                .filter(number=number).first())
        return _row_from_instance(cert) if cert is not None else None
    conn = connections[Certificate.objects.db]
    if mode in ("prepared", "sql") and conn.vendor == "postgresql":
        return _fetch_raw(conn, number, prepared=mode == "prepared")
    for row in _values_query(number)[:1]:
        return row
    return None


def _history(certificate_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for rev in (CertificateRevision.objects.filter(certificate_id__in=certificate_ids)
                .order_by("certificate_id", "revision").values("certificate_id", "revision", "reason", "replaced_at")):
        out.setdefault(rev["certificate_id"], []).append(
            {"revision": rev["revision"], "replaced_on": timezone.localdate(rev["replaced_at"]),
             "reason": rev["reason"]})
    return out


def _result_from_row(text: str, row: dict, today: datetime.date, history: list[dict] | None = None,
                     checked_at=None) -> VerificationResult:
    revoked_at = row["revoked_at"]
    if revoked_at is not None:
        status = REVOKED
    elif row["expires_on"] < today:
        status = EXPIRED
    else:
        status = VALID
    hours = row["class_hours"]
    hours = float(hours) if hours is not None else 0.0
    fields = {"title": row["title"], "holder_name": signing.mask_name(row["holder_name"]),
              "id_card_masked": row["id_card_masked"], "programme": row["programme_name"], "class_hours": hours,
              "issued_on": row["issued_on"], "expires_on": row["expires_on"], "issuer": row["issuer_name"],
              "instructors": row["instructor_names"], "examiner": row["examiner_name"], "revision": row["revision"]}
    return VerificationResult(
        input=text, number=row["number"], status=status, fields=fields, programme_code=row["programme__code"] or "",
        revoked_on=timezone.localdate(revoked_at) if revoked_at is not None else None,
        revoked_reason=row["revoked_reason"] if revoked_at is not None else "",
        renewed_by=row["renewed_by__number"] or "", renews=row["renews__number"] or "", history=history or [],
        checked_at=checked_at or timezone.now(), _holder_name=row["holder_name"])


def verify_number(text: str, today: datetime.date | None = None) -> VerificationResult:
    """Verify one typed number (see the module docstring)."""
    text = (text or "")[:MAX_INPUT_CHARS * 2]
    cleaned = normalise(text)
    bad = _malformed(cleaned[:MAX_INPUT_CHARS + 1])
    if bad is not None:
        return VerificationResult(input=text.strip(), number=cleaned[:MAX_INPUT_CHARS], problem=bad[0], message=bad[1],
                                  checked_at=timezone.now())
    row = _fetch_one(cleaned)
    if row is None:
        return VerificationResult(input=text.strip(), number=cleaned, problem=NOT_FOUND, message=not_found_message(),
                                  checked_at=timezone.now())
    history = _history([row["id"]]).get(row["id"], []) if row["revision"] > 1 else []
    return _result_from_row(text.strip(), row, today or timezone.localdate(), history)


# ------------------------------------------------------------------ the signed QR payload

KEYS_TTL_S = 300.0
_keys_lock = threading.Lock()
_keys_cache: dict = {"at": -1e9, "keys": {}}


def cached_site_keys(refresh: bool = False) -> dict:
    """kid -> public key of every payload key of the site, read from the database at most every
    ``KEYS_TTL_S`` per process (or at once with ``refresh``: a payload naming a key not seen yet)."""
    now = time.monotonic()
    with _keys_lock:
        if refresh or now - _keys_cache["at"] > KEYS_TTL_S:
            _keys_cache.update(at=now, keys=signing.site_keys())
        return _keys_cache["keys"]


def verify_payload_with(text: str, keys: dict | None = None) -> signing.Payload:
    """``signing.verify_payload`` against ``keys`` (default: the site's, cached; reloaded once when the
    payload names a key the cache does not hold)."""
    if keys is not None:
        return signing.verify_payload(text, keys)
    try:
        return signing.verify_payload(text, cached_site_keys())
    except signing.PayloadError as exc:
        if exc.code != "unknown_key":
            raise
        return signing.verify_payload(text, cached_site_keys(refresh=True))


# Scan problem codes.
SCAN_FORMAT, SCAN_UNKNOWN_KEY, SCAN_TAMPERED, SCAN_MISMATCH, SCAN_NOT_ON_RECORD = (
    "format", "unknown_key", "tampered", "mismatch", "not_on_record")


def payload_problem_message(code: str) -> str:
    return {
        "format": _("This is not a certificate code: the link or text is incomplete or damaged. Scan the QR code "
                    "again, or type the certificate number."),
        "version": _("This certificate code is of a kind this site does not know. Type the certificate number "
                     "instead."),
        "unknown_key": _("This code was signed with a key this site never used: it was not issued here. Treat the "
                         "certificate as not genuine, or type its number to check it."),
        "signature": _("The signature does not match: the code was altered or forged. Treat the certificate as "
                       "not genuine, or type its number to check it."),
    }.get(code, _("This certificate code could not be checked."))


@dataclass
class ScanResult:
    """What a scanned (or pasted) QR payload says."""

    signature_ok: bool
    kid: str = ""
    problem: str | None = None  # format, unknown_key, tampered, mismatch, not_on_record; None when it checks out
    message: str = ""
    payload: dict = field(default_factory=dict)  # the signed fields, as signed
    outdated: bool = False  # the card shown is an earlier revision: the current fields are shown
    current_revision: int | None = None
    mismatched: list[str] = field(default_factory=list)  # which signed fields differ from the record
    verification: VerificationResult | None = None  # the online status of the number

    @property
    def valid(self) -> bool:
        return (self.signature_ok and self.problem is None and self.verification is not None
                and self.verification.valid)

    @property
    def css(self) -> str:
        if self.problem in (SCAN_FORMAT, "version"):
            return "malformed"
        if self.problem:
            return "forged"
        return self.verification.css if self.verification else "malformed"

    def as_json(self) -> dict:
        data = {"signature": "verified" if self.signature_ok else "invalid", "kid": self.kid or None,
                "valid": self.valid, "problem": self.problem, "message": self.message,
                "payload": self.payload or None, "outdated": self.outdated,
                "current_revision": self.current_revision, "mismatched": self.mismatched or None}
        if self.verification is not None and self.problem is None:
            data["certificate"] = self.verification.as_json()
        return data


def _signed_fields_differ(payload: signing.Payload, result: VerificationResult, revision_row: dict | None) -> list[str]:
    """The signed fields that differ from the record (of the payload's revision)."""
    differ = []
    if revision_row is not None:  # an earlier revision: its name and ID as they were printed then
        name, id_masked = revision_row["holder_name"], revision_row["id_card_masked"]
        fields = revision_row.get("fields") or {}
        issued = fields.get("issued_on") or result.fields["issued_on"].isoformat()
        expires = fields.get("expires_on") or result.fields["expires_on"].isoformat()
    else:
        name, id_masked = result._holder_name, result.fields["id_card_masked"]
        issued, expires = result.fields["issued_on"].isoformat(), result.fields["expires_on"].isoformat()
    if payload.name_masked != signing.mask_name(name):
        differ.append("name_masked")
    if payload.id_card_masked != id_masked:
        differ.append("id_card_masked")
    if payload.programme_code != result.programme_code:
        differ.append("programme_code")
    if payload.issued_on.isoformat() != str(issued)[:10]:
        differ.append("issued_on")
    if payload.expires_on.isoformat() != str(expires)[:10]:
        differ.append("expires_on")
    return differ


def verify_scan(payload_text: str, today: datetime.date | None = None, keys: dict | None = None) -> ScanResult:
    """Check a QR payload (or the whole scanned URL): its signature with the site's keys (or ``keys``), then
    the number's online status and whether the signed fields are those on record."""
    text = (payload_text or "").strip()
    if len(text) > MAX_PAYLOAD_CHARS:
        return ScanResult(False, problem=SCAN_FORMAT, message=payload_problem_message("format"))
    try:
        payload = verify_payload_with(text, keys)
    except signing.PayloadError as exc:
        code = {"signature": SCAN_TAMPERED}.get(exc.code, exc.code if exc.code in ("unknown_key", "version")
                                                 else SCAN_FORMAT)
        kid = ""
        if exc.code in ("unknown_key", "signature"):
            try:
                kid = signing.parse_payload(text)[0].kid
            except signing.PayloadError:
                pass
        return ScanResult(False, kid=kid, problem=code, message=payload_problem_message(exc.code))
    result = ScanResult(True, kid=payload.kid, payload=payload.as_dict())
    verification = verify_number(payload.number, today)
    result.verification = verification
    if not verification.found:
        result.problem, result.message = SCAN_NOT_ON_RECORD, _(
            "The signature is genuine, but no certificate with this number is on record. Please ask the issuing "
            "organisation.")
        return result
    current = verification.fields["revision"]
    result.current_revision = current
    revision_row = None
    if payload.revision < current:
        revision_row = (CertificateRevision.objects.filter(certificate__number=verification.number,
                                                           revision=payload.revision)
                        .values("holder_name", "id_card_masked", "fields").first())
        if revision_row is None:
            result.mismatched = ["revision"]
    elif payload.revision > current:
        result.mismatched = ["revision"]
    if not result.mismatched:
        result.mismatched = _signed_fields_differ(payload, verification, revision_row)
    if result.mismatched:
        result.problem, result.message = SCAN_MISMATCH, _(
            "The signature is genuine, but what the code says does not match the certificate on record: the card "
            "may be forged. Compare it with the fields below, or ask the issuing organisation.")
        return result
    if payload.revision < current:
        result.outdated = True
        result.message = _("The card shown was re-issued: it is revision %(shown)s, the current revision is "
                           "%(current)s. The current fields are shown below.") % {"shown": payload.revision,
                                                                                  "current": current}
    else:
        result.message = _("The signature was verified with key %(kid)s.") % {"kid": payload.kid}
    return result


# ------------------------------------------------------------------ bulk

class BulkRows(list):
    """The rows of a bulk verification (``VerificationResult`` each, in the order given) with counts of what
    was left out."""

    duplicates: int = 0
    blank: int = 0
    misses: int = 0  # numbers not found (they count against the not-found limit)
    limited: int = 0  # numbers not checked: the not-found limit was reached

    def counts(self) -> dict:
        out = {"valid": 0, "expired": 0, "revoked": 0, "not_found": 0, "malformed": 0, "limited": self.limited}
        for r in self:
            if r.status:
                out[r.status] += 1
            elif r.problem == NOT_FOUND:
                out["not_found"] += 1
            elif r.problem in MALFORMED:
                out["malformed"] += 1
        return out


def max_bulk_numbers() -> int:
    return int(getattr(settings, "LMS_VERIFY_BULK_MAX_NUMBERS", 500))


_SPLIT = re.compile(r"[\r\n,;，；、]+")


def split_lines(text: str) -> list[str]:
    """A pasted list as entries: one number per line (commas and semicolons separate too; spaces inside a
    number are kept, since numbers are often typed in groups)."""
    return _SPLIT.split(text or "")


def verify_many(lines, today: datetime.date | None = None, miss_budget: int | None = None) -> BulkRows:
    """Verify a list of typed numbers with one query (see the module docstring). ``miss_budget``: how many
    not-found answers may still be given; once it is used up, the further well-formed numbers are answered
    "not checked" (problem ``limited``), so a list of guesses learns nothing past it. ``ValidationError``
    when the list holds more than ``max_bulk_numbers()`` numbers."""
    today = today or timezone.localdate()
    now = timezone.now()
    rows = BulkRows()
    seen: set[str] = set()
    entries: list[tuple[str, str]] = []
    numeric: set[str] = set()
    for line in lines:
        text = str(line or "").strip()
        cleaned = normalise(text)
        if not cleaned:
            rows.blank += 1
            continue
        if cleaned in seen:
            rows.duplicates += 1
            continue
        seen.add(cleaned)
        if isinstance(line, NumberCell) and len(cleaned) > 15:
            numeric.add(cleaned)
        entries.append((text[:MAX_INPUT_CHARS * 2], cleaned))
    limit = max_bulk_numbers()
    if len(entries) > limit:
        raise ValidationError(ngettext(
            "At most %(limit)s numbers can be checked at a time; the list has %(count)s. Please split it.",
            "At most %(limit)s numbers can be checked at a time; the list has %(count)s. Please split it.",
            limit) % {"limit": limit, "count": len(entries)})
    well_formed = [c for _t, c in entries if _malformed(c[:MAX_INPUT_CHARS + 1]) is None]
    found = {row["number"]: row for row in _values_query(well_formed)} if well_formed else {}
    history = _history([r["id"] for r in found.values() if r["revision"] > 1]) if found else {}
    budget = miss_budget
    for text, cleaned in entries:
        bad = _malformed(cleaned[:MAX_INPUT_CHARS + 1])
        if bad is not None:
            message = bad[1] + (" " + numeric_cell_hint() if cleaned in numeric else "")
            rows.append(VerificationResult(input=text, number=cleaned[:MAX_INPUT_CHARS], problem=bad[0],
                                           message=message, checked_at=now))
            continue
        if budget is not None and budget <= 0:
            rows.limited += 1
            rows.append(VerificationResult(input=text, number=cleaned, problem=LIMITED, checked_at=now, message=_(
                "Not checked: too many numbers from your address were not found. Please try again later.")))
            continue
        row = found.get(cleaned)
        if row is None:
            rows.misses += 1
            if budget is not None:
                budget -= 1
            message = not_found_message() + (" " + numeric_cell_hint() if cleaned in numeric else "")
            rows.append(VerificationResult(input=text, number=cleaned, problem=NOT_FOUND, message=message,
                                           checked_at=now))
        else:
            rows.append(_result_from_row(text, row, today, history.get(row["id"], []), checked_at=now))
    return rows


def max_upload_bytes() -> int:
    return int(getattr(settings, "LMS_VERIFY_BULK_MAX_BYTES", 1024 * 1024))


_XLSX_MAX_UNCOMPRESSED = 20 * 1024 * 1024  # a 1 MB workbook that unpacks to more than this is refused
_HEADER_NAMES = {"证书编号", "证书号", "编号", "证号", "certificate number", "certificate no", "certificate no.",
                 "number", "no", "no."}




def numeric_cell_hint() -> str:
    return _("This cell of the workbook holds a number, not text: Excel keeps only 15 digits of a number, so the "
             "last digits are lost. Format the column as text, type the numbers again, and upload the file again.")


def _column_of(rows: list[list[str]]) -> list[str]:
    """One entry per row: the column headed 证书编号 (or similar) if there is one, else each row's first
    non-empty cell; a first row without a digit is taken for a header."""
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    for i, name in enumerate(header):
        if name in _HEADER_NAMES:
            return [r[i] if i < len(r) else "" for r in rows[1:]]
    if not any(ch.isdigit() for c in rows[0] for ch in c):
        rows = rows[1:]
    return [next((c for c in r if c.strip()), "") for r in rows]


def _read_xlsx(data: bytes, max_rows: int) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(i.file_size for i in zf.infolist()) > _XLSX_MAX_UNCOMPRESSED:  # a zip bomb
                raise ValidationError(_("This workbook is too large once unpacked. Please upload a smaller file."))
    except zipfile.BadZipFile as exc:
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged or non-XLSX zips
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    try:
        out = []
        for values in wb.worksheets[0].iter_rows(max_col=10, values_only=True):
            out.append([cell_text(v) for v in values])
            if len(out) > max_rows:
                break
        return out
    except Exception as exc:
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    finally:
        wb.close()


def _read_text(data: bytes, max_rows: int) -> list[list[str]]:
    import csv

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # what Excel in China saves as CSV
        except UnicodeDecodeError:
            text = None
    if text is None or "\x00" in text:
        raise ValidationError(_("This file is not a text file. Upload a list as .txt, .csv or .xlsx."))
    lines = text.splitlines()[:max_rows + 1]
    sample = "\n".join(lines[:20])
    delimiter = "\t" if "\t" in sample else ","
    try:
        return [[c.strip() for c in r] for r in csv.reader(lines, delimiter=delimiter)]
    except csv.Error as exc:
        raise ValidationError(_("This file could not be read as CSV.")) from exc


UPLOAD_TYPES = (".txt", ".csv", ".xlsx")


def read_upload(name: str, data: bytes) -> list[str]:
    """The numbers of an uploaded list (.txt: one a line; .csv: the 证书编号 column or the first one; .xlsx: the
    same on the first sheet). ``ValidationError`` with a clear message for a file of another type, too large,
    or damaged."""
    name = (name or "").lower()
    ext = name[name.rfind("."):] if "." in name else ""
    if ext not in UPLOAD_TYPES:
        raise ValidationError(_("Upload a list as a text file (.txt), a CSV file (.csv) or an Excel workbook (.xlsx)."))
    if not data:
        raise ValidationError(_("The file is empty."))
    limit = max_upload_bytes()
    if len(data) > limit:
        raise ValidationError(_("The file is larger than %(kb)s KB. Please split the list.") % {"kb": limit // 1024})
    max_rows = max_bulk_numbers() * 2 + 10  # enough to say "too many" without reading a huge sheet
    if ext == ".xlsx":
        if not data.startswith(b"PK\x03\x04"):
            raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx)."))
        rows = _read_xlsx(data, max_rows)
    else:
        if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
            raise ValidationError(_("This file is not a text file. Upload a list as .txt, .csv or .xlsx."))
        rows = _read_text(data, max_rows)
    return _column_of(rows)


def bulk_columns() -> list[tuple[str, int]]:
    """The XLSX's columns: (header in the user's language, width)."""
    return [(_("Typed"), 24), (_("Certificate number"), 22), (_("Status"), 10), (_("Message"), 48),
            (_("Certificate"), 12), (_("Holder"), 10), (_("ID-card number"), 20), (_("Programme"), 20),
            (_("Class hours"), 8), (_("Issued on"), 12), (_("Valid until"), 12), (_("Issuing organisation"), 24),
            (_("Revoked on"), 12), (_("Reason for revocation"), 30), (_("Renewed by"), 22)]


def _text_cell(ws, row: int, col: int, value) -> None:
    """A cell that stays text: numbers keep every digit, and nothing typed becomes a formula."""
    cell = ws.cell(row=row, column=col)
    cell.value = "" if value is None else str(value)
    cell.data_type = "s"
    cell.number_format = "@"


def bulk_xlsx(rows, checked_at: datetime.datetime | None = None) -> bytes:
    """The rows of ``verify_many`` as an XLSX workbook: a header row in the user's language (frozen), one row
    per number with its status and every printed field, column widths set."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    fills = {VALID: "D1FADF", EXPIRED: "FEF0C7", REVOKED: "FEE4E2"}
    wb = Workbook()
    ws = wb.active
    ws.title = _("Verification")[:31]
    columns = bulk_columns()
    for col, (header, width) in enumerate(columns, start=1):
        _text_cell(ws, 1, col, header)
        ws.cell(row=1, column=col).font = Font(bold=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    for r, result in enumerate(rows, start=2):
        f = result.fields
        values = [result.input, result.number, result.status_label, result.summary() if result.found else result.message,
                  f.get("title", ""), f.get("holder_name", ""), f.get("id_card_masked", ""), f.get("programme", ""),
                  (f"{f['class_hours']:g}" if f else ""), f["issued_on"].isoformat() if f else "",
                  f["expires_on"].isoformat() if f else "", f.get("issuer", ""),
                  result.revoked_on.isoformat() if result.revoked_on else "", result.revoked_reason,
                  result.renewed_by]
        for col, value in enumerate(values, start=1):
            _text_cell(ws, r, col, value)
        if result.status in fills:
            ws.cell(row=r, column=3).fill = PatternFill("solid", fgColor=fills[result.status])
    when = timezone.localtime(checked_at or timezone.now())
    note_row = len(rows) + 3
    _text_cell(ws, note_row, 1, _("Checked at %(time)s on %(site)s") % {"time": when.strftime("%Y-%m-%d %H:%M"),
                                                                         "site": settings.LMS_BASE_URL})
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(len(rows) + 1, 1)}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
