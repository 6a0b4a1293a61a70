"""Personal-data rights (个人信息保护法): what each app holds about a person, its export and its anonymisation.

Every app that stores personal data declares it here, once, in its own ``<app>/privacy.py``
(autodiscovered by ``lms.apps.LmsConfig.ready`` as the Django admin finds ``admin.py``)::

    from lms import privacy

    privacy.register(privacy.Declaration(
        key="courses.enrolments",
        title=_("Class enrolments"),
        models=["courses.Enrolment"],
        holds=_("The classes you enrolled in, with the dates."),
        export=lambda person: [{"class": e.klass.name, ...} for e in person.enrolments.all()],
        anonymise=None,                      # or a function(person) -> {"what": count}
        erased=[], kept=[(_("Enrolments"), _("why the law or certificate verification needs them"))],
    ))

A model that has a name-like field but holds no personal data (a room's name) says so with
:func:`not_personal`. ``tests/lms/test_privacy.py`` fails when a model of a project app with a
foreign key to the user model, or a field named like personal data, is covered by neither.

- ``export(person)`` returns JSON-serialisable rows (dicts) of that person's data only; the
  person's own ID-card and phone numbers may appear in clear (it is their copy of their data).
- ``anonymise(person)`` runs inside the anonymisation's transaction, before the user row itself is
  scrubbed (the ``lms.profile`` declaration runs last), and returns counts for the audit record.
  ``erased`` and ``kept`` say in words what it erases and what it keeps and why: the "My data"
  page, the anonymise page and ``docs/privacy.md`` show them.

The public operations are in ``lms.api``: ``record_privacy_consent``, ``export_personal_data``,
``anonymise_person``. :class:`ConsentMiddleware` sends signed-in people who have not agreed to the
current notice (``PRIVACY_NOTICE_VERSION``) to it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Declaration:
    key: str  # "<app>.<what>", unique
    title: Any  # shown as the section title and the XLSX sheet name
    models: list[str]  # "app_label.ModelName" of every model whose personal data this covers
    holds: Any  # one sentence: what is held and why
    export: Callable[[Any], Rows]
    anonymise: Callable[[Any], dict[str, int]] | None = None
    erased: list[Any] = field(default_factory=list)  # what anonymisation erases
    kept: list[tuple[Any, Any]] = field(default_factory=list)  # (what is kept, why)
    order: int = 100


_registry: dict[str, Declaration] = {}
_not_personal: dict[str, Any] = {}


def register(declaration: Declaration) -> Declaration:
    existing = _registry.get(declaration.key)
    if existing is not None and existing.export.__module__ != declaration.export.__module__:
        raise ValueError(f"privacy declaration {declaration.key!r} is registered twice")
    _registry[declaration.key] = declaration
    return declaration


def not_personal(model: str, reason: Any) -> None:
    """Say that ``model`` (``"app_label.ModelName"``) holds no personal data despite a name-like field."""
    _not_personal[model.lower()] = reason


def declarations() -> list[Declaration]:
    return sorted(_registry.values(), key=lambda d: (d.order, d.key))


def declared_models() -> set[str]:
    return {m.lower() for d in _registry.values() for m in d.models}


def not_personal_models() -> dict[str, Any]:
    return dict(_not_personal)


# ---------------------------------------------------------------- which models need a declaration

PROJECT_APPS = ("lms", "manikin", "courses", "exams", "certificates", "content", "instructors", "inspections")
PERSONAL_FIELD = re.compile(
    r"^(name|real_name|full_name|first_name|last_name|email|e_mail|phone\w*|mobile\w*|id_card\w*|id_number|"
    r"identity\w*|ip|ip_address|address|photo\w*|avatar|birth\w*|gender|sex)$"
)


def models_needing_declaration() -> dict[str, str]:
    """Models of the project's apps that look like they hold personal data: label → why."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    out = {}
    for label in PROJECT_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            reasons = []
            for f in model._meta.get_fields():
                if not getattr(f, "concrete", False):
                    continue  # reverse relations
                if f.model._meta.app_label not in PROJECT_APPS:
                    continue  # inherited from a third-party model (a Wagtail page's owner): see docs/privacy.md
                if getattr(f, "related_model", None) is user_model:
                    reasons.append(f"{f.name} → user")
                elif PERSONAL_FIELD.match(f.name):
                    reasons.append(f.name)
            if model is user_model:
                reasons.append("the user model")
            if reasons:
                out[model._meta.label_lower] = ", ".join(reasons)
    return out


# ---------------------------------------------------------------- export


def _plain(value):
    """A JSON-serialisable form of ``value`` (datetimes in the site's time zone, ISO 8601)."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def collect(person) -> list[dict[str, Any]]:
    """Every declaration's rows for ``person``: ``[{"key", "title", "holds", "rows"}, ...]``."""
    sections = []
    for d in declarations():
        rows = [_plain(dict(r)) for r in d.export(person)]
        sections.append({"key": d.key, "title": str(d.title), "holds": str(d.holds), "rows": rows})
    return sections


EXPORT_FORMAT = "redcross-lms-personal-data/1"


def export_document(person, sections) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "generated_at": _plain(timezone.now()),
        "person": {"id": person.pk, "username": person.username},
        "privacy_notice_version": settings.PRIVACY_NOTICE_VERSION,
        "sections": sections,
    }


def to_json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _cell_text(value) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def to_xlsx(document) -> bytes:
    """One sheet per declaration (columns: the union of its rows' keys), after an "about" sheet.

    Every text cell is written as text, never as a formula: a name like ``=HYPERLINK(...)`` stays a name.
    """
    from openpyxl import Workbook

    wb = Workbook()
    about = wb.active
    about.title = _("About")[:31]
    about.append([_("Personal data held about you"), document["person"]["username"]])
    about.append([_("Generated at"), document["generated_at"]])
    about.append([_("Privacy notice version"), document["privacy_notice_version"]])
    about.append([])
    about.append([_("Sheet"), _("What it holds"), _("Rows")])
    used = {about.title}
    for section in document["sections"]:
        name = _SHEET_BAD.sub(" ", section["title"])[:31] or section["key"][:31]
        base, n = name, 2
        while name in used:
            name = f"{base[:28]} {n}"
            n += 1
        used.add(name)
        about.append([name, section["holds"], len(section["rows"])])
        ws = wb.create_sheet(name)
        columns: list[str] = []
        for row in section["rows"]:
            columns += [k for k in row if k not in columns]
        ws.append(columns or [_("(nothing held)")])
        for row in section["rows"]:
            ws.append([_cell_text(row.get(c)) for c in columns])
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- consent middleware


def consent_required_for(user) -> bool:
    return bool(getattr(settings, "LMS_PRIVACY_CONSENT_REQUIRED", True) and user is not None
                and user.is_authenticated)


def has_current_consent(user) -> bool:
    from .models import PrivacyConsent

    return PrivacyConsent.objects.filter(user=user, version=settings.PRIVACY_NOTICE_VERSION).exists()


SESSION_KEY = "lms_privacy_consent"


def _exempt_paths() -> tuple[str, ...]:
    return (
        reverse("lms:privacy_notice"), reverse("lms:logout"), reverse("lms:healthz"),
        reverse("lms:password_change"), reverse("lms:password_reset"), reverse("lms:password_reset_verify"),
        reverse("set_language"), "/favicon.ico",
    )


def wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return ("application/json" in accept and "text/html" not in accept) or \
        request.headers.get("X-Requested-With") == "XMLHttpRequest" or \
        request.content_type == "application/json"


class ConsentMiddleware:
    """A signed-in person who has not agreed to the current privacy notice sees the notice first.

    Pages redirect to it (``?next=`` the page asked for); requests for JSON (``Accept:
    application/json``, XHR) get ``403 {"error": "privacy_consent_required", "notice_url": ...}``.
    Exempt: the notice, logout, the password pages, the language switch, static files and
    ``/healthz``. WebSockets do not pass through here. The agreed version is remembered in the
    session, so the check costs one query per session and version.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if consent_required_for(user) and not self._agreed(request, user) and not self._exempt(request.path):
            notice = reverse("lms:privacy_notice")
            if wants_json(request):
                return JsonResponse({"error": "privacy_consent_required", "notice_url": notice,
                                     "message": _("Please read and agree to the privacy notice first.")}, status=403)
            target = request.get_full_path() if request.method == "GET" else ""
            return HttpResponseRedirect(notice + ("?" + urlencode({"next": target}) if target else ""))
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        return path.startswith(settings.STATIC_URL) or path in _exempt_paths()

    @staticmethod
    def _agreed(request, user) -> bool:
        version = settings.PRIVACY_NOTICE_VERSION
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) == version:
            return True
        if has_current_consent(user):
            if session is not None:
                session[SESSION_KEY] = version
            return True
        return False


# ---------------------------------------------------------------- the core app's declarations


def _who(audit_row, person) -> str:
    if audit_row.actor_id == person.pk:
        return _("you")
    if audit_row.actor_id is None:
        return _("the system")
    return _("staff")


def _export_profile(person) -> Rows:
    from . import protection

    return [{
        "id": person.pk,
        "username": person.username,
        "real_name": person.real_name,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        # The person's own copy: in clear (the export is protected by their password and audited).
        "id_card": protection.decrypt(person.id_card_protected, "id_card") if person.id_card_protected else "",
        "phone": protection.decrypt(person.phone_protected, "phone") if person.phone_protected else "",
        "photo": reverse("lms:person_photo", args=[person.pk]) if person.photo else "",
        "region": person.region.full_name if person.region_id else "",
        "organisation": str(person.organisation) if person.organisation_id else "",
        "is_active": person.is_active,
        "date_joined": person.date_joined,
        "last_login": person.last_login,
        "anonymised_at": person.anonymised_at,
    }]


def _anonymise_profile(person) -> dict[str, int]:
    """Scrubs the user row (called last, by ``lms.api.anonymise_person``)."""
    had_photo = bool(person.photo)
    if had_photo:
        person.photo.delete(save=False)
    label = "已注销用户 #%s" % person.pk  # stored in Chinese, the product's language; display_name translates
    person.username = f"deleted-{person.pk}"
    person.real_name = label
    person.first_name = person.last_name = person.email = ""
    person.set_id_card(None)  # clears the encrypted value, the digest and the masked copy
    person.set_phone(None)
    person.photo = ""
    person.set_unusable_password()
    person.is_active = person.is_staff = person.is_superuser = False
    person.anonymised_at = timezone.now()
    person.save()
    return {"photo": int(had_photo)}


def _export_roles(person) -> Rows:
    return [{"role": str(a.get_role_display()), "region": a.region.full_name if a.region_id else "",
             "organisation": str(a.organisation) if a.organisation_id else "", "since": a.created_at}
            for a in person.role_assignments.select_related("region", "organisation").order_by("created_at")]


def _anonymise_roles(person) -> dict[str, int]:
    n, _ = person.role_assignments.all().delete()
    return {"role_assignments": n}


def _export_consents(person) -> Rows:
    return [{"version": c.version, "sensitive_information": c.sensitive, "agreed_at": c.agreed_at, "ip": c.ip}
            for c in person.privacy_consents.order_by("agreed_at")]


def _anonymise_consents(person) -> dict[str, int]:
    return {"consent_ips_erased": person.privacy_consents.exclude(ip=None).update(ip=None)}


def _export_codes(person) -> Rows:
    return [{"purpose": str(c.get_purpose_display()), "channel": str(c.get_channel_display()),
             "sent_at": c.created_at, "expires_at": c.expires_at, "used_at": c.used_at,
             "wrong_tries": c.failed_attempts}
            for c in person.one_time_codes.order_by("created_at")]


def _anonymise_codes(person) -> dict[str, int]:
    n, _ = person.one_time_codes.all().delete()
    return {"one_time_codes": n}


def _export_audit(person) -> Rows:
    """Audit records of what the person did and of what was done to their account.

    Of a record where the person acted on something else (an admin registering a trainee), only
    when, what and from which address: the object and its before/after belong to someone else.
    Of a record about the person made by someone else, who is "staff", never their name or address.
    """
    from django.db.models import Q

    from .models import AuditLog

    rows = []
    qs = AuditLog.objects.filter(Q(actor=person) | Q(object_type="lms.user", object_id=str(person.pk)))
    for a in qs.order_by("at", "id"):
        about_person = a.object_type == "lms.user" and a.object_id == str(person.pk)
        row = {"at": a.at, "action": a.action, "by": _who(a, person),
               "ip": a.ip if a.actor_id == person.pk else None}
        if about_person:
            row.update(object="lms.user", before=a.before, after=a.after)
        else:
            row.update(object=a.object_type, before=None, after=None)
        rows.append(row)
    return rows


def _axes_rows(person):
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    return [(m, m.objects.filter(username=person.username)) for m in (AccessAttempt, AccessFailureLog, AccessLog)]


def _export_signin_records(person) -> Rows:
    rows = []
    for model, qs in _axes_rows(person):
        for r in qs.order_by("attempt_time"):
            rows.append({"kind": model._meta.model_name, "at": r.attempt_time, "ip": r.ip_address,
                         "browser": r.user_agent,
                         "failures": getattr(r, "failures_since_start", None)})
    return rows


def _anonymise_signin_records(person) -> dict[str, int]:
    n = 0
    for _model, qs in _axes_rows(person):
        n += qs.delete()[0]
    return {"signin_records": n}


register(Declaration(
    key="lms.profile", order=10,
    title=gettext_lazy("Profile"),
    models=["lms.User"],
    holds=gettext_lazy("Your login name, name, e-mail, ID-card and mobile numbers (stored encrypted), photo, "
                       "region and organisation: to identify you in training, exams and certificates."),
    export=_export_profile,
    anonymise=None,  # lms.api.anonymise_person scrubs the user row itself, after every other declaration
    erased=[gettext_lazy("Login name, name and e-mail (replaced by “Deleted user #id”)"),
            gettext_lazy("ID-card number: the encrypted value, its search digest and its masked copy"),
            gettext_lazy("Mobile number: the encrypted value, its search digest and its masked copy"),
            gettext_lazy("Photo (the file is deleted)"),
            gettext_lazy("Password (sign-in disabled, the account inactive, every session ended)")],
    kept=[(gettext_lazy("Region, organisation and the dates the account was opened and last used"),
           gettext_lazy("Training statistics per region (普及率) count people who were trained; "
                        "they no longer identify anyone"))],
))
register(Declaration(
    key="lms.roles", order=20,
    title=gettext_lazy("Roles"),
    models=["lms.RoleAssignment"],
    holds=gettext_lazy("The roles you hold (trainee, instructor, examiner…) and where."),
    export=_export_roles, anonymise=_anonymise_roles,
    erased=[gettext_lazy("Every role assignment")],
))
register(Declaration(
    key="lms.consents", order=30,
    title=gettext_lazy("Privacy consents"),
    models=["lms.PrivacyConsent"],
    holds=gettext_lazy("Which version of the privacy notice you agreed to, when and from which IP address."),
    export=_export_consents, anonymise=_anonymise_consents,
    erased=[gettext_lazy("The IP address of each consent")],
    kept=[(gettext_lazy("The version and time of each consent"),
           gettext_lazy("Proof that the records kept after anonymisation were processed with consent "
                        "(PIPL art. 13–14)"))],
))
register(Declaration(
    key="lms.one_time_codes", order=40,
    title=gettext_lazy("Verification codes"),
    models=["lms.OneTimeCode"],
    holds=gettext_lazy("When verification codes (password reset, registration) were sent to you and whether "
                       "they were used (the codes themselves are never stored)."),
    export=_export_codes, anonymise=_anonymise_codes,
    erased=[gettext_lazy("Every verification code record")],
))
register(Declaration(
    key="lms.audit", order=50,
    title=gettext_lazy("Audit log"),
    models=["lms.AuditLog"],
    holds=gettext_lazy("The append-only record of what you did in the product and of what was done to "
                       "your account, with the time and IP address."),
    export=_export_audit, anonymise=None,
    kept=[(gettext_lazy("Every audit record, unchanged (it holds names and masked numbers, never a number "
                        "in clear)"),
           gettext_lazy("The audit log is an append-only legal record of who did what: network logs are kept "
                        "at least six months (Cybersecurity Law art. 21) and exam and certificate decisions "
                        "must stay traceable; changing it would destroy that. Only system admins read it "
                        "(PIPL art. 47: stored, no further processing)."))],
))
register(Declaration(
    key="lms.signin_records", order=60,
    title=gettext_lazy("Sign-in lock records"),
    models=[],  # django-axes' models: not a project app, declared here because they hold the login name and IP
    holds=gettext_lazy("Failed sign-ins with your login name (time, IP address, browser), kept while a "
                       "sign-in lock may apply."),
    export=_export_signin_records, anonymise=_anonymise_signin_records,
    erased=[gettext_lazy("Every failed sign-in record of the login name")],
))
for _label, _why in (
    ("lms.Region", gettext_lazy("Administrative divisions: place names")),
    ("lms.Organisation", gettext_lazy("Organisations (their name and address are not a person's)")),
    ("lms.RegionPopulation", gettext_lazy("Population figures")),
):
    not_personal(_label, _why)
