"""Roster import (花名册导入): enrol a whole cohort in a class from an XLSX or CSV file.

The one public entry point is :func:`import_roster` (re-exported by ``courses.api``): it reads the
file, checks the actor may manage the class, validates every row, and either imports nothing
(any bad row, by default) or imports the good rows (``good_rows_only=True``, the admin's explicit
choice), in one transaction, with one audit record. Every upload is kept as a ``RosterImport``
with each row's fate; ID-card and mobile numbers appear there only masked.

The file: a header row naming the columns 姓名, 身份证号, 手机号 and, optionally, 单位 (common
variants such as 身份证号码 or 手机号码 are understood); one person a row. XLSX (the first sheet), or
CSV in UTF-8 (with or without the BOM Excel writes) or GB18030 (what Excel in China saves as
"CSV"). At most ``MAX_FILE_BYTES`` bytes and ``MAX_ROWS`` data rows. Row numbers are the
spreadsheet's (the header is row 1).

A row is bad, with its reasons in the user's language, when: the name is missing; the ID-card
number is malformed or its check digit is wrong; the mobile number is missing or malformed; the
same ID-card number appeared on an earlier row; the 单位 names no organisation in the actor's
scope; or the class has no place left for it (capacity minus the enrolments it already has).

A person whose ID-card number is already registered (the keyed digest ``User.id_card_digest``)
is the same person: enrolled, not created again, their details unchanged. Someone already in the
class is left as they are, so importing the same roster again changes nothing. New people are
registered through ``lms.api.create_person`` (numbers encrypted, a generated login name, role
trainee, no password: they set one with "Forgotten your password?" and their mobile number), in the
region of their organisation, else of the class's organisation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms import audit, protection
from lms.cells import NumberCell, cell_text, check_xlsx_unpacked_size
from lms.models import Organisation, Role, User

from . import permissions
from .models import Enrolment, RosterImport, TrainingClass

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000

HEADERS = {
    "name": ("姓名", "名字", "学员姓名", "name", "real_name"),
    "id_card": ("身份证号", "身份证号码", "身份证", "公民身份号码", "id_card", "id card"),
    "phone": ("手机号", "手机号码", "手机", "联系电话", "电话", "mobile", "phone"),
    "organisation": ("单位", "工作单位", "单位名称", "学校", "organisation", "organization"),
}
REQUIRED = ("name", "id_card", "phone")


@dataclass
class Row:
    """One data row of the file, its checks and its fate (``status``: bad, created, enrolled, unchanged)."""

    row: int
    name: str
    id_card: str = ""  # normalised, in memory only; never stored in clear
    phone: str = ""
    organisation_name: str = ""
    organisation: Organisation | None = None
    person: User | None = None
    reasons: list[str] = field(default_factory=list)
    status: str = ""
    id_card_masked: str = ""
    phone_masked: str = ""

    @property
    def bad(self) -> bool:
        return bool(self.reasons)

    def stored(self) -> dict:
        """What ``RosterImport.rows`` keeps of the row: the numbers masked."""
        return {"row": self.row, "status": self.status, "reasons": self.reasons, "name": self.name,
                "id_card": self.id_card_masked, "phone": self.phone_masked, "organisation": self.organisation_name}


# ---------------------------------------------------------------- reading the file




def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    check_xlsx_unpacked_size(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged or non-XLSX zips
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    try:
        out = []
        for values in wb.worksheets[0].iter_rows(values_only=True):
            out.append([cell_text(v) for v in values])
            if len(out) > MAX_ROWS + 1 + 1000:  # enough to say "too many rows" without reading a huge sheet
                break
        return out
    except Exception as exc:  # a damaged sheet shows only as its rows are read
        raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx).")) from exc
    finally:
        wb.close()


def _decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")  # what Excel in China saves as CSV


def _read_csv(data: bytes) -> list[list[str]]:
    try:
        text = _decode_text(data)
    except UnicodeDecodeError as exc:
        raise ValidationError(_("This file is neither an Excel workbook (.xlsx) nor a CSV text file.")) from exc
    if "\x00" in text:
        raise ValidationError(_("This file is neither an Excel workbook (.xlsx) nor a CSV text file."))
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    try:
        return [[c.strip() for c in r] for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise ValidationError(_("This CSV file could not be read: %(error)s") % {"error": exc}) from exc


def read_table(data: bytes, file_name: str = "") -> list[list[str]]:
    """The rows of an XLSX or CSV file as lists of strings; ``ValidationError`` with a clear message otherwise."""
    if not data:
        raise ValidationError(_("The file is empty."))
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(_("The file is larger than %(mb)s MB. Split the roster into several files.")
                              % {"mb": MAX_FILE_BYTES // (1024 * 1024)})
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationError(_("This is an old Excel file (.xls). In Excel, save it as “Excel workbook (.xlsx)” "
                                "or as “CSV”, and upload that."))
    if data.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ValidationError(_("This file could not be read as an Excel workbook (.xlsx)."))
        return _read_xlsx(data)
    if data.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        raise ValidationError(_("This file is neither an Excel workbook (.xlsx) nor a CSV text file."))
    return _read_csv(data)


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower().replace("（", "(").split("(")[0].strip() for h in header]
    columns: dict[str, int] = {}
    for key, aliases in HEADERS.items():
        for i, name in enumerate(names):
            if name in aliases:
                columns[key] = i
                break
    missing = [HEADERS[k][0] for k in REQUIRED if k not in columns]
    if missing:
        raise ValidationError(_("The first row must name the columns 姓名, 身份证号 and 手机号 (单位 is optional); "
                                "missing: %(missing)s.") % {"missing": "、".join(missing)})
    return columns


def parse_rows(table: list[list[str]]) -> list[Row]:
    if not table or not any(table[0]):
        raise ValidationError(_("The file has no header row."))
    columns = _columns(table[0])
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if not any(v.strip() for v in values):
            continue

        def get(key, values=values):
            i = columns.get(key)
            if i is None or i >= len(values):
                return ""
            return values[i] if isinstance(values[i], NumberCell) else values[i].strip()

        rows.append(Row(row=number, name=get("name"), id_card=get("id_card"), phone=get("phone"),
                        organisation_name=get("organisation")))
    if not rows:
        raise ValidationError(_("The file has no data rows under the header."))
    if len(rows) > MAX_ROWS:
        raise ValidationError(_("The file has %(n)s rows; at most %(max)s can be imported at once. "
                                "Split the roster into several files.") % {"n": len(rows), "max": MAX_ROWS})
    return rows


# ---------------------------------------------------------------- checking the rows


def _organisations_by_name(actor, training_class: TrainingClass) -> dict[str, list[Organisation]]:
    by_name: dict[str, list[Organisation]] = {}
    for org in permissions.managed_organisations(actor):
        by_name.setdefault(org.name, []).append(org)
    # the class's own organisation is always known
    by_name.setdefault(training_class.training_base.name, [training_class.training_base])
    return by_name


def _check_rows(actor, training_class: TrainingClass, rows: list[Row]) -> None:
    """Fill each row's reasons, normalised numbers, organisation and existing person."""
    orgs = _organisations_by_name(actor, training_class)
    seen: dict[str, int] = {}
    for r in rows:
        if not r.name:
            r.reasons.append(_("The name is missing."))
        elif len(r.name) > 64:
            r.reasons.append(_("The name is longer than 64 characters."))
        raw_id, raw_phone = r.id_card, r.phone
        r.id_card = r.phone = ""
        if not raw_id:
            r.reasons.append(_("The ID-card number is missing."))
        else:
            try:
                r.id_card = protection.normalize_id_card(raw_id)
                r.id_card_masked = protection.mask_id_card(r.id_card)
            except ValidationError as exc:
                r.reasons.extend(exc.messages)
                if isinstance(raw_id, NumberCell):
                    r.reasons.append(_("Excel stored this ID-card number as a number and lost its last digits: "
                                       "format the column as text and type the number again."))
                r.id_card_masked = _mask_raw(raw_id)
        if not raw_phone:
            r.reasons.append(_("The mobile number is missing."))
        else:
            try:
                r.phone = protection.normalize_phone(raw_phone)
                r.phone_masked = protection.mask_phone(r.phone)
            except ValidationError as exc:
                r.reasons.extend(exc.messages)
                r.phone_masked = _mask_raw(raw_phone)
        if r.id_card:
            if r.id_card in seen:
                r.reasons.append(_("The same ID-card number as row %(row)s.") % {"row": seen[r.id_card]})
            else:
                seen[r.id_card] = r.row
        if r.organisation_name:
            found = orgs.get(r.organisation_name, [])
            if len(found) == 1:
                r.organisation = found[0]
            elif not found:
                r.reasons.append(_("Unknown organisation “%(name)s”: it must be an organisation you manage, "
                                   "spelt as in the list of organisations.") % {"name": r.organisation_name[:64]})
            else:
                r.reasons.append(_("Several organisations are called “%(name)s”; ask your region's admin to "
                                   "tell them apart.") % {"name": r.organisation_name[:64]})
        elif training_class.training_base.kind in (Organisation.Kind.SCHOOL, Organisation.Kind.EMPLOYER):
            r.organisation = training_class.training_base  # a school's or employer's cohort
    digests = {protection.digest(r.id_card, "id_card"): r for r in rows if r.id_card}
    for person in User.objects.filter(id_card_digest__in=list(digests)):
        digests[person.id_card_digest].person = person


def _mask_raw(value: str) -> str:
    """A masked form of a malformed number, to show which row is meant without the number itself."""
    value = value.strip()
    if len(value) <= 4:
        return "*" * len(value)
    if len(value) > 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * (len(value) - 2) + value[-2:]


def _check_capacity(training_class: TrainingClass, rows: list[Row]) -> None:
    """Rows beyond the class's free places (in file order) are bad: "class full"."""
    # as courses.api.enrol counts: active enrolments take a place; someone active or done is left as they are
    enrolled = set(training_class.enrolments.exclude(status=Enrolment.Status.WITHDRAWN)
                   .values_list("user_id", flat=True))
    taken = training_class.enrolments.filter(status=Enrolment.Status.ACTIVE).count()
    free = training_class.capacity - taken
    for r in rows:
        if r.bad or (r.person is not None and r.person.pk in enrolled):
            continue
        if free <= 0:
            r.reasons.append(_("The class is full: %(capacity)s places, %(taken)s already taken.")
                             % {"capacity": training_class.capacity, "taken": taken})
        else:
            free -= 1


# ---------------------------------------------------------------- the import


def _enrol(actor, person: User, training_class: TrainingClass, roster_import: RosterImport) -> bool:
    """Enrol through ``courses.api.enrol`` (capacity checked there too) in the admin's name; True when new."""
    from .api import enrol

    _enrolment, created = enrol(actor, person, training_class, source=Enrolment.Source.ROSTER,
                                roster_import=roster_import)
    return created


def import_roster(actor, training_class: TrainingClass, fileobj, *, file_name: str = "",
                  good_rows_only: bool = False) -> RosterImport:
    """Import a roster file into ``training_class``; returns the ``RosterImport`` that records it.

    ``PermissionDenied`` when ``actor`` may not manage the class; ``ValidationError`` (nothing
    stored) when the file itself cannot be used (not a spreadsheet, too large, no header, too many
    rows). Otherwise a ``RosterImport`` is stored whatever happens: outcome ``rejected`` when a row
    is bad and ``good_rows_only`` is False (no person, no enrolment stored), ``partial`` when the
    good rows were imported and bad ones left out, ``imported`` when every row was good.
    Audited as ``roster.import`` (counts only).
    """
    if not permissions.can_manage_class(actor, training_class):
        raise PermissionDenied(_("You cannot manage this class."))
    if training_class.status == TrainingClass.Status.CANCELLED:
        raise ValidationError(_("This class has been cancelled."))
    if training_class.status == TrainingClass.Status.FINISHED or training_class.ends_on < timezone.localdate():
        raise ValidationError(_("This class has already finished."))
    data = fileobj.read(MAX_FILE_BYTES + 1) if hasattr(fileobj, "read") else bytes(fileobj)
    file_name = (file_name or getattr(fileobj, "name", "") or "roster").rsplit("/", 1)[-1][:255]
    rows = parse_rows(read_table(data, file_name))
    sha256 = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        training_class = TrainingClass.objects.select_for_update().select_related(
            "training_base__region").get(pk=training_class.pk)
        _check_rows(actor, training_class, rows)
        _check_capacity(training_class, rows)
        bad = [r for r in rows if r.bad]
        rejected = bool(bad) and not good_rows_only
        outcome = (RosterImport.Outcome.REJECTED if rejected else
                   RosterImport.Outcome.PARTIAL if bad else RosterImport.Outcome.IMPORTED)
        roster_import = RosterImport.objects.create(
            training_class=training_class, uploaded_by=actor, file_name=file_name, file_sha256=sha256,
            outcome=outcome, rows_total=len(rows), rows_bad=len(bad))
        for r in rows:
            r.status = "bad" if r.bad else ("ok" if rejected else "")
        if not rejected:
            _apply(actor, training_class, roster_import, [r for r in rows if not r.bad])
        roster_import.rows = [r.stored() for r in rows]
        roster_import.save()
        audit.record(actor, "roster.import", roster_import, after={
            "class": training_class.pk, "file_sha256": sha256, "outcome": outcome, "rows_total": len(rows),
            "rows_bad": len(bad), "people_created": roster_import.people_created,
            "enrolments_created": roster_import.enrolments_created, "good_rows_only": good_rows_only})
    return roster_import


def _apply(actor, training_class: TrainingClass, roster_import: RosterImport, rows: list[Row]) -> None:
    base = training_class.training_base
    for r in rows:
        if r.person is None:
            region = r.organisation.region if r.organisation is not None else base.region
            # The import is the authorisation (an organisation admin registers trainees of their class here):
            # the person is made by the system, the audit record of the import names the admin.
            r.person = lms_api.create_person(None, real_name=r.name, region=region, id_card=r.id_card,
                                             phone=r.phone, organisation=r.organisation, roles=[Role.TRAINEE])
            roster_import.people_created += 1
            r.status = "created"
        else:
            r.status = "enrolled"
        if _enrol(actor, r.person, training_class, roster_import):
            roster_import.enrolments_created += 1
        elif r.status == "enrolled":
            r.status = "unchanged"
