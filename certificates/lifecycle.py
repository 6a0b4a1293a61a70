"""A certificate's life after issue: revocation, name correction (re-issue under the same number), renewal
through the refresher programme, and the expiry reminders.

Each state-changing operation is one function (validation, permission, transaction, audit). Errors are
``ValidationError`` (a message in the user's language; nothing stored) or ``PermissionDenied``.

**Who**: revocation, name correction and renewal are done by a region admin whose region holds the
certificate's issuing region (``Certificate.region``), or a system admin. Renewal also needs the right to
issue in the region of the new certificate's issuing organisation (the refresher class's training base),
as any issue does. Organisation admins see their classes' certificates but change none.

**Revocation** (``revoke``): a reason of at least 4 characters; the row is changed at once, so every
reader (the staff pages, the holder's page, the verification page and API, which read the row) shows
"revoked" from the commit on. ``certificate_changed`` is sent after the commit for any cache a reader may
keep. Revoking twice is refused. A revoked certificate is neither corrected nor renewed, and gets no
reminders.

**Name correction** (``correct_name``): the certificate is re-issued under the same number: the printed
fields of the revision being replaced are kept in a ``CertificateRevision`` (with the reason), the revision
number goes up, the name changes, and the PDF is rendered again (queued after the commit; until then
``pdf_is_current`` is false since ``pdf_revision`` differs from ``revision``). A name is 2–64 characters of
Chinese characters or Latin letters, with the middle dot (·) of transcribed names and spaces between Latin
words. The person's own record (``lms``) is not changed here.

**Renewal** (``renew``): a certificate of programme P is renewed through a refresher programme R whose
``CertificateRule.renews`` is P. The person must have **completed** R:

- where R has an online theory exam (``Programme.theory_exam_required``): passed it
  (``exams.api.passed_theory``);
- where R has a practical exam (a practical scheme, ``exams.api.current_scheme``): passed it
  (``exams.api.passed_practical``);
- where R has neither exam: completed its online theory (``courses.api.theory_complete``) in a class of R
  that started on or after the old certificate was issued;
- the evidence (the later of the two exams) is recent: no more than R's rule's ``issue_within_days``
  before the renewal, and not already used to renew another certificate.

An ``EligibilityException`` on R (the allowlist) waives the theory or the practical exam, and with
``window`` the renewal window and the age of the evidence.

The **renewal window** runs from ``RENEW_FROM_DAYS_BEFORE`` (180) days before the old certificate's expiry
to ``RENEW_GRACE_DAYS`` (365) days after it; after that a full course (P itself) is needed. These are
module constants, not rule fields (the rule has no such columns).

The new certificate: programme P (the renewed 救护员证, with P's rule's title, number format and validity),
``source=renewal``, ``renews`` the old one (``old.renewed_by`` is the new one; a certificate is renewed
once), a new number from the issuing region's sequence, issued today; the printed fields fresh (today's
name and masked ID-card number; R's name and class hours, R's class's instructors and R's examiner). Its
**validity** runs on from the old one: renewed before the old one expired, it is valid until
``expiry_for(old.expires_on + 1 day, years)``, so no day of validity is lost by renewing early; renewed in
the grace period, ``expiry_for(today, years)``.

**Reminders** (``send_expiry_reminders``, run by the scheduled task and ``manage.py
send_expiry_reminders[_loop]``): a certificate not revoked and not renewed whose expiry is within a mark of
its rule's ``reminder_days`` (``DEFAULT_REMINDER_DAYS`` = 90 and 30 when the list is empty) gets a reminder
for the smallest mark it has reached (a certificate found at 25 days gets the 30-day one only): in the app
(on the holder's dashboard until read), by e-mail (Django's e-mail backend) when the holder has an address,
and by text message (``lms.sms``, pluggable backends) when they have a mobile number. One row per
certificate, mark and channel (a unique constraint): running twice sends nothing twice, also when two
runs overlap (a row is claimed before its message is sent). A message that could not be sent keeps its
reason and is tried again on the next run while the mark is current; a holder without an address gets no
row for that channel, so an address added later still gets the reminder.
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms import permissions as lms_permissions

from .models import Certificate, CertificateRevision, CertificateRule, EligibilityException, Reminder

log = logging.getLogger("certificates")

RENEW_FROM_DAYS_BEFORE = 180  # a renewal is possible from this many days before expiry…
RENEW_GRACE_DAYS = 365  # …to this many days after it (then a full course is needed)
DEFAULT_REMINDER_DAYS = (90, 30)  # when a rule's ``reminder_days`` is empty
REMINDER_CHUNK = 500  # certificates read per query by the reminder run
MIN_REASON = 4
DEFAULT_NUMBER_FORMAT = "{region:6}{year:4}{serial:8}{check}"  # a programme whose rule has since been removed

# Sent after the commit of a revocation, a name correction or a renewal (``certificate`` is the changed
# row; for a renewal the old one), for anything that keeps copies of a certificate's status.
certificate_changed = Signal()

# The printed fields of a revision (kept in ``CertificateRevision.fields`` when a revision is replaced).
PRINTED_FIELDS = ("number", "title", "holder_name", "id_card_masked", "programme_name", "class_hours", "issuer_name",
                  "instructor_names", "examiner_name", "issued_on", "expires_on")

# Chinese characters (with extension A and the compatibility block), Latin letters, the middle dot of
# transcribed names (· U+00B7, • and ・ typed for it) and single spaces between Latin words.
_LETTER = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z"
_NAME_RE = re.compile(rf"^[{_LETTER}][{_LETTER}·• ・]*[{_LETTER}]$")


# ------------------------------------------------------------------ who sees what

def can_manage(user, certificate: Certificate) -> bool:
    """Revoke, correct, renew: admins of the certificate's issuing region (or above), system admins."""
    return lms_permissions.can_manage_region(user, certificate.region)


def visible_certificates(user):
    """Certificates ``user`` may see on the staff pages: a system admin all; a region admin those issued in
    their subtree; an organisation admin those of the classes their organisation runs; anyone else none."""
    from courses import permissions as course_permissions

    qs = Certificate.objects.select_related("holder", "programme", "training_class", "region")
    if not (user and user.is_authenticated):
        return qs.none()
    q = lms_permissions.region_q(user, "region")
    if q is None:
        return qs
    orgs = course_permissions.administered_organisations(user)
    if orgs:
        q |= Q(training_class__training_base_id__in=orgs)
    return qs.filter(q)


def is_certificate_staff(user) -> bool:
    """Whether the staff pages are for ``user`` (system, region and organisation admins)."""
    from courses import permissions as course_permissions

    return course_permissions.is_class_admin(user)


def _require_manager(actor, certificate: Certificate) -> None:
    if not can_manage(actor, certificate):
        raise PermissionDenied(_("Certificates of %(region)s are managed by the admins of that region.")
                               % {"region": certificate.region.full_name})


def _reason(reason: str | None, field_name: str = "reason") -> str:
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationError({field_name: [_("Give the reason (at least %(n)s characters).") % {"n": MIN_REASON}]})
    return reason


def _locked(certificate: Certificate) -> Certificate:
    return Certificate.objects.select_for_update().select_related("region").get(pk=certificate.pk)


def _after_commit(certificate: Certificate) -> None:
    transaction.on_commit(lambda: certificate_changed.send(sender=Certificate, certificate=certificate))


# ------------------------------------------------------------------ revocation

def revoke(actor, certificate: Certificate, *, reason: str) -> Certificate:
    """Revoke ``certificate`` with ``reason`` (see the module docstring)."""
    reason = _reason(reason)
    _require_manager(actor, certificate)
    with transaction.atomic():
        row = _locked(certificate)
        if row.revoked_at is not None:
            raise ValidationError(_("Certificate %(number)s was already revoked on %(date)s.")
                                  % {"number": row.number, "date": f"{timezone.localtime(row.revoked_at):%Y-%m-%d}"})
        row.revoked_at = timezone.now()
        row.revoked_reason = reason
        row.revoked_by = actor
        row.save(update_fields=["revoked_at", "revoked_reason", "revoked_by"])
        lms_api.record_audit(actor, "certificates.revoke", row, before={"status": "valid"},
                             after={"status": "revoked", "number": row.number, "reason": reason})
        _after_commit(row)
    return row


# ------------------------------------------------------------------ name correction

def printed_fields(certificate: Certificate) -> dict:
    """Every printed field of the certificate's current revision, as JSON-ready values."""
    out = {}
    for name in PRINTED_FIELDS:
        value = getattr(certificate, name)
        if isinstance(value, datetime.date):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (str, int)):
            value = str(value)
        out[name] = value
    out["revision"] = certificate.revision
    return out


def clean_name(new_name: str | None) -> str:
    name = re.sub(r"\s+", " ", (new_name or "").strip())
    if not 2 <= len(name) <= 64:
        raise ValidationError({"new_name": [_("A name has 2 to 64 characters.")]})
    if not _NAME_RE.match(name) or "  " in name:
        raise ValidationError({"new_name": [_("A name is written in Chinese characters or Latin letters; the middle "
                                              "dot (·) of transcribed names is allowed.")]})
    return name.replace("•", "·").replace("・", "·")


def correct_name(actor, certificate: Certificate, *, new_name: str, reason: str) -> Certificate:
    """Re-issue ``certificate`` under the same number with the holder's name corrected (see the module
    docstring); returns the certificate at its new revision."""
    name = clean_name(new_name)
    reason = _reason(reason)
    _require_manager(actor, certificate)
    with transaction.atomic():
        row = _locked(certificate)
        if row.revoked_at is not None:
            raise ValidationError(_("A revoked certificate cannot be corrected."))
        if name == row.holder_name:
            raise ValidationError({"new_name": [_("This is the name already printed.")]})
        before = printed_fields(row)
        CertificateRevision.objects.create(certificate=row, revision=row.revision, holder_name=row.holder_name,
                                           id_card_masked=row.id_card_masked, fields=before, reason=reason,
                                           replaced_by=actor)
        row.revision += 1
        row.holder_name = name
        row.save(update_fields=["revision", "holder_name"])
        lms_api.record_audit(actor, "certificates.correct_name", row, before=before,
                             after={"revision": row.revision, "holder_name": name, "reason": reason})
        from .issuing import _queue_pdf

        pk = row.pk
        transaction.on_commit(lambda: _queue_pdf(pk))
        _after_commit(row)
    return row


# ------------------------------------------------------------------ renewal

@dataclass
class RenewalCheck:
    eligible: bool
    reasons: list[str] = field(default_factory=list)  # why not, in the user's language
    opens: datetime.date | None = None
    closes: datetime.date | None = None
    refresher: object | None = None  # courses Programme
    theory: object | None = None  # exams Attempt
    practical: object | None = None  # exams PracticalResult
    exception: EligibilityException | None = None
    training_class: object | None = None
    issuer: object | None = None  # lms Organisation
    issued_on: datetime.date | None = None
    expires_on: datetime.date | None = None  # of the new certificate
    in_window: bool = False  # today lies in the renewal window (or the allowlist waives it)


def renewal_window(certificate: Certificate) -> tuple[datetime.date, datetime.date]:
    """The first and the last day ``certificate`` may be renewed."""
    return (certificate.expires_on - datetime.timedelta(days=RENEW_FROM_DAYS_BEFORE),
            certificate.expires_on + datetime.timedelta(days=RENEW_GRACE_DAYS))


def refresher_rules(programme):
    """The rules of the refresher programmes that renew ``programme``'s certificates."""
    return CertificateRule.objects.filter(renews=programme).select_related("programme").order_by("pk")


def _programme_rule(programme) -> CertificateRule | None:
    return CertificateRule.objects.filter(programme=programme).first()


def new_expiry(old: Certificate, today: datetime.date) -> datetime.date:
    """The expiry of the certificate that renews ``old`` today (see the module docstring)."""
    from .issuing import expiry_for

    rule = _programme_rule(old.programme)
    years = rule.validity_years if rule is not None else 3
    start = old.expires_on + datetime.timedelta(days=1) if today <= old.expires_on else today
    return expiry_for(start, years)


def _completion(person, rule: CertificateRule, old: Certificate, waived: set[str], today: datetime.date):
    """(reasons, theory, practical, training class) of ``person`` on the refresher programme of ``rule``."""
    from courses import api as courses_api
    from exams import api as exams_api

    refresher = rule.programme
    reasons: list[str] = []
    has_practical = exams_api.current_scheme(refresher) is not None
    theory = exams_api.passed_theory(person, refresher) if refresher.theory_exam_required else None
    practical = exams_api.passed_practical(person, refresher) if has_practical else None
    klass = courses_api.class_of(person, refresher)
    # Evidence that already made a certificate (an earlier renewal) does not count again.
    used_theory = Certificate.objects.filter(theory_attempt=theory).first() if theory is not None else None
    used_practical = (Certificate.objects.filter(practical_result__booking=practical.booking).first()
                      if practical is not None else None)
    theory = None if used_theory is not None else theory
    practical = None if used_practical is not None else practical
    for required, evidence, used, kind, label in (
            (refresher.theory_exam_required, theory, used_theory, "theory", _("The theory exam of %(programme)s")),
            (has_practical, practical, used_practical, "practical", _("The practical exam of %(programme)s"))):
        if not required or evidence is not None or kind in waived:
            continue
        what = label % {"programme": refresher.name}
        if used is not None:
            reasons.append(_("%(what)s passed on record already renewed certificate %(number)s: it must be taken "
                             "again.") % {"what": what, "number": used.number})
        else:
            reasons.append(_("%(what)s has not been passed.") % {"what": what})
    if not refresher.theory_exam_required and not has_practical and not waived & {"theory", "practical"}:
        if klass is None or klass.starts_on < old.issued_on or not courses_api.theory_complete(person, refresher):
            reasons.append(_("%(programme)s has not been completed.") % {"programme": refresher.name})
    days = [timezone.localdate(theory.submitted_at) if theory is not None else None,
            practical.booking.session.date if practical is not None else None]
    days = [d for d in days if d is not None]
    if days and "window" not in waived:
        completed_on = max(days)
        if (today - completed_on).days > rule.issue_within_days:
            reasons.append(_("%(programme)s was completed on %(date)s, more than %(days)s days ago: it must be taken "
                             "again.") % {"programme": refresher.name, "date": completed_on,
                                          "days": rule.issue_within_days})
    return reasons, theory, practical, klass


def renewal_check(old: Certificate, *, today: datetime.date | None = None) -> RenewalCheck:
    """Whether ``old`` can be renewed today and, if not, why (see the module docstring)."""
    from .issuing import active_exception

    today = today or timezone.localdate()
    opens, closes = renewal_window(old)
    check = RenewalCheck(False, [], opens, closes, issued_on=today)
    if old.revoked_at is not None:
        check.reasons.append(_("A revoked certificate cannot be renewed."))
        return check
    renewed = Certificate.objects.filter(renews=old).first()
    if renewed is not None:
        check.reasons.append(_("Already renewed by certificate %(number)s.") % {"number": renewed.number})
        return check
    rules = list(refresher_rules(old.programme))
    if not rules:
        check.reasons.append(_("No refresher programme renews %(programme)s.") % {"programme": old.programme.name})
        return check
    person = old.holder
    best = None
    for rule in rules:
        exception = active_exception(person, rule.programme)
        waived = set(exception.waives) if exception else set()
        reasons, theory, practical, klass = _completion(person, rule, old, waived, today)
        window = []
        if "window" not in waived:
            if today < opens:
                window.append(_("Renewal opens on %(date)s (%(days)s days before expiry).")
                              % {"date": opens, "days": RENEW_FROM_DAYS_BEFORE})
            elif today > closes:
                window.append(_("The renewal period ended on %(date)s: a full course is needed.") % {"date": closes})
        candidate = (window + reasons, rule, theory, practical, klass, exception if waived else None, not window)
        if best is None or len(candidate[0]) < len(best[0]):
            best = candidate
        if not candidate[0]:
            break
    reasons, rule, theory, practical, klass, exception, in_window = best
    check.refresher, check.theory, check.practical, check.training_class = rule.programme, theory, practical, klass
    check.exception, check.in_window = exception, in_window
    issuer = klass.training_base if klass is not None else None
    if issuer is None and practical is not None:
        issuer = practical.booking.session.room.organisation
    if issuer is None:
        issuer = old.issuer
    if issuer is None:
        reasons.append(_("No issuing organisation: the holder is in no class of %(programme)s.")
                       % {"programme": rule.programme.name})
    check.issuer = issuer
    check.reasons = reasons
    check.eligible = not reasons
    check.expires_on = new_expiry(old, today)
    return check


def renew(actor, old_certificate: Certificate, *, today: datetime.date | None = None) -> Certificate:
    """Renew ``old_certificate`` through the refresher programme: a new certificate linked to the old one
    (see the module docstring). Raises ``ValidationError`` with the reasons when it cannot be renewed."""
    from . import issuing

    today = today or timezone.localdate()
    _require_manager(actor, old_certificate)
    check = renewal_check(old_certificate, today=today)
    if check.reasons:
        raise ValidationError(check.reasons)
    issuer = check.issuer
    if not issuing.can_issue(actor, issuer.region):
        raise PermissionDenied(_("Certificates of %(organisation)s are issued by the admins of its region.")
                               % {"organisation": issuer.name})
    old_rule = _programme_rule(old_certificate.programme)
    person = old_certificate.holder
    refresher = check.refresher
    klass = check.training_class
    practical = check.practical
    instructors = list(klass.instructors.order_by("pk")) if klass is not None else []
    examiner = (practical.signed_by or practical.booking.examiner) if practical is not None else None
    with transaction.atomic():
        old = _locked(old_certificate)
        if old.revoked_at is not None or Certificate.objects.filter(renews=old).exists():
            raise ValidationError(_("This certificate has just been revoked or renewed."))
        certificate = issuing._create_certificate(
            actor, person, old.programme, title=old_rule.title if old_rule is not None else old.title,
            number_format=old_rule.number_format if old_rule is not None else DEFAULT_NUMBER_FORMAT,
            region=issuer.region, issuer=issuer, training_class=klass, programme_name=refresher.name,
            class_hours=refresher.required_class_hours, instructors=instructors, examiner=examiner, issued_on=today,
            expires_on=check.expires_on, theory=check.theory, practical=practical, exception=check.exception,
            renews=old, source=Certificate.Source.RENEWAL, audit={"refresher": refresher.code})
        lms_api.record_audit(actor, "certificates.renew", old, after={
            "renewed_by": certificate.number, "refresher": refresher.code,
            "expires_on": certificate.expires_on.isoformat()})
        _after_commit(old)
    return certificate


# ------------------------------------------------------------------ reminders

def reminder_marks(rule: CertificateRule | None) -> list[int]:
    """The rule's days-before marks, largest first (``DEFAULT_REMINDER_DAYS`` when it names none)."""
    days = getattr(rule, "reminder_days", None) or []
    marks = sorted({int(d) for d in days if isinstance(d, int) and not isinstance(d, bool) and d > 0}, reverse=True)
    return marks or list(DEFAULT_REMINDER_DAYS)


def due_mark(marks: list[int], days_left: int) -> int | None:
    """The smallest mark ``days_left`` has reached (None: none yet)."""
    reached = [m for m in marks if days_left <= m]
    return min(reached) if reached else None


PENDING = "sending"
SENT = "sent"
STALE_CLAIM = datetime.timedelta(minutes=30)  # a claim this old belongs to a run that died while sending


def _message(certificate: Certificate, days_left: int) -> tuple[str, str, str]:
    """(e-mail subject, e-mail body, text message) in the site's language."""
    url = settings.LMS_BASE_URL + reverse("certificates:mine")
    values = {"name": certificate.holder_name, "title": certificate.title, "number": certificate.number,
              "date": f"{certificate.expires_on:%Y-%m-%d}", "days": days_left, "url": url,
              "issuer": certificate.issuer_name}
    subject = _("Your %(title)s expires on %(date)s") % values
    body = _("Dear %(name)s,\n\nyour %(title)s, number %(number)s, expires on %(date)s (in %(days)s days).\n\n"
             "To renew it, take the refresher course (复训) before it expires or within a year after: ask "
             "%(issuer)s or your Red Cross branch for a class. A renewal issued before the expiry date runs on "
             "from it, so no day of validity is lost.\n\nYour certificates: %(url)s\n\n"
             "Red Cross First-Aid Training") % values
    sms = _("Red Cross First-Aid Training: your %(title)s %(number)s expires on %(date)s. Take the refresher "
            "course (复训) to renew it. Details: %(url)s") % values
    return subject, body, sms


def _claim(certificate: Certificate, mark: int, channel: str, existing: dict) -> Reminder | None:
    """The reminder row this run sends, claimed so no other run sends it too (None: nothing to send)."""
    row = existing.get((certificate.pk, mark, channel))
    if row is not None:
        if row.outcome == SENT:
            return None
        if row.outcome == PENDING and row.sent_at > timezone.now() - STALE_CLAIM:
            return None  # another run is sending it
        # an earlier failure (or a run that died while sending): tried again, once per run
        claimed = (Reminder.objects.filter(pk=row.pk, outcome=row.outcome, sent_at=row.sent_at)
                   .update(outcome=PENDING, sent_at=timezone.now()))
        return row if claimed else None
    try:
        with transaction.atomic():
            return Reminder.objects.create(certificate=certificate, days_before=mark, channel=channel,
                                           outcome=SENT if channel == Reminder.Channel.APP else PENDING)
    except IntegrityError:  # another run made it first
        return None


def _send(reminder: Reminder, channel: str, certificate: Certificate, texts, to: str) -> bool:
    from lms import protection, sms

    subject, body, short = texts
    try:
        if channel == Reminder.Channel.EMAIL:
            send_mail(subject, body, None, [to])
        else:
            sent = sms.send_sms(to, short)
            if not sent:
                raise RuntimeError("the SMS backend sent nothing")
    except Exception as exc:  # the gateway is down: tried again on the next run
        where = to if channel == Reminder.Channel.EMAIL else protection.mask_phone(to)
        why = repr(exc).replace(to, where)  # never the number in clear, in the log or on the row
        log.warning("expiry reminder %s of certificate %s to %s failed: %s", channel, certificate.number, where, why)
        Reminder.objects.filter(pk=reminder.pk).update(outcome=f"failed: {why}"[:255])
        return False
    Reminder.objects.filter(pk=reminder.pk).update(outcome=SENT, sent_at=timezone.now())
    return True


def send_expiry_reminders(today: datetime.date | None = None) -> dict:
    """Send the expiry reminders due today (see the module docstring). Returns counts: ``certificates``
    due a reminder, and per channel the messages sent (``app``, ``email``, ``sms``) and ``failed``."""
    from lms import protection

    today = today or timezone.localdate()
    rules = {r.programme_id: reminder_marks(r) for r in CertificateRule.objects.all()}
    horizon = max([m for marks in rules.values() for m in marks] + list(DEFAULT_REMINDER_DAYS))
    counts = {"certificates": 0, "app": 0, "email": 0, "sms": 0, "failed": 0}
    base = (Certificate.objects.filter(expires_on__gte=today, expires_on__lte=today + datetime.timedelta(days=horizon),
                                       revoked_at__isnull=True, renewed_by__isnull=True)
            .select_related("holder").order_by("pk"))
    last = 0
    with translation.override(settings.LANGUAGE_CODE):
        while True:
            chunk = list(base.filter(pk__gt=last)[:REMINDER_CHUNK])
            if not chunk:
                break
            last = chunk[-1].pk
            existing = {(r.certificate_id, r.days_before, r.channel): r
                        for r in Reminder.objects.filter(certificate__in=[c.pk for c in chunk])}
            for certificate in chunk:
                days_left = (certificate.expires_on - today).days
                mark = due_mark(rules.get(certificate.programme_id) or list(DEFAULT_REMINDER_DAYS), days_left)
                if mark is None:
                    continue
                counts["certificates"] += 1
                holder = certificate.holder
                if _claim(certificate, mark, Reminder.Channel.APP, existing) is not None:
                    counts["app"] += 1
                texts = None
                addresses = []
                if holder.email:
                    addresses.append((Reminder.Channel.EMAIL, holder.email))
                if holder.phone_protected:
                    try:
                        addresses.append((Reminder.Channel.SMS, protection.decrypt(holder.phone_protected, "phone")))
                    except Exception:
                        log.exception("could not read the mobile number of person %s", holder.pk)
                for channel, to in addresses:
                    reminder = _claim(certificate, mark, channel, existing)
                    if reminder is None:
                        continue
                    texts = texts or _message(certificate, days_left)
                    if _send(reminder, channel, certificate, texts, to):
                        counts[channel] += 1
                    else:
                        counts["failed"] += 1
    if any(counts[k] for k in ("app", "email", "sms", "failed")):
        log.info("expiry reminders %s: %s", today, counts)
    return counts


def unread_reminders(user):
    """The in-app reminders of ``user``'s certificates not yet read (newest first), but not those of a
    certificate since revoked or renewed."""
    if not (user and user.is_authenticated):
        return Reminder.objects.none()
    return (Reminder.objects.filter(certificate__holder=user, channel=Reminder.Channel.APP, read_at__isnull=True,
                                    certificate__revoked_at__isnull=True, certificate__renewed_by__isnull=True)
            .select_related("certificate").order_by("-sent_at", "-pk"))


def mark_reminder_read(actor, reminder: Reminder) -> Reminder:
    """The holder has read an in-app reminder (it leaves the dashboard). Only the holder may."""
    if not (actor and actor.is_authenticated) or reminder.certificate.holder_id != actor.pk:
        raise PermissionDenied(_("This reminder is not yours."))
    if reminder.read_at is not None:
        return reminder
    with transaction.atomic():
        now = timezone.now()
        Reminder.objects.filter(pk=reminder.pk, read_at__isnull=True).update(read_at=now)
        reminder.read_at = now
        lms_api.record_audit(actor, "certificates.reminder.read", reminder,
                             object_repr=f"{reminder.certificate.number} · {reminder.days_before}",
                             after={"read_at": now.isoformat()})
    return reminder


def current_certificates(person_ids, programme_ids, *, today: datetime.date | None = None) -> dict:
    """For the instructors app: each (person id, programme id)'s current certificate (not revoked, not
    expired on ``today``) with the latest expiry, in one query; missing pairs hold none."""
    today = today or timezone.localdate()
    out: dict[tuple[int, int], Certificate] = {}
    for c in (Certificate.objects.filter(holder_id__in=list(person_ids), programme_id__in=list(programme_ids))
              .current(today).order_by("expires_on", "pk")):
        out[(c.holder_id, c.programme_id)] = c  # later expiry wins
    return out
