"""Eligibility and issue.

**Eligible** for the certificate of a programme (``CertificateRule.certifies``) is a person who

1. passed the programme's online theory exam (``exams.api.passed_theory``), where the programme has one;
2. passed its practical exam (``exams.api.passed_practical``: the latest version of their latest signed
   sitting passed);
3. within the rule's window: the practical exam no later than ``window_days`` after the theory exam, and
   the certificate issued no later than ``issue_within_days`` after the practical exam;
4. and holds no certificate of the programme issued from the same practical result (issuing twice is
   refused, not repeated).

An **exception** (``EligibilityException``, the allowlist) waives rules 1, 2 or 3 for one person and
programme, with the reason recorded by the admin who granted it; the certificate keeps a link to it.

**Issue** (``issue``): by a region admin whose region holds the issuing organisation (or a system admin),
or by the system itself (``actor=None``: the automatic issue on a signed practical result, the class job).
The number comes from the rule's format and the issuing region's sequence (``certificates.api.next_number``,
the sequence row locked, so parallel issuers never share a number); the printed fields are kept as
printed; the PDF is rendered by a background task after the commit.

A **class** is issued in one action (``start_class_issue``): an ``IssueJob`` row, then a background task
(``run_issue_job``) goes through the class's active and completed enrolments, issuing each eligible trainee
in a transaction of their own and recording every row's outcome with its reason; the page polls the job.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms import permissions as lms_permissions

from .models import Certificate, CertificateRule, EligibilityException, IssueJob

log = logging.getLogger("certificates")


def rule_for(programme) -> CertificateRule | None:
    """The programme's certificate rule, if it issues certificates."""
    rule = CertificateRule.objects.filter(programme=programme).first()
    return rule if rule is not None and rule.certifies else None


def expiry_for(issued_on: datetime.date, years: int) -> datetime.date:
    """The last day of validity: the day before the same date ``years`` later (29 February → 28)."""
    try:
        same_day = issued_on.replace(year=issued_on.year + years)
    except ValueError:  # 29 February into a common year
        same_day = issued_on.replace(year=issued_on.year + years, day=28) + datetime.timedelta(days=1)
    return same_day - datetime.timedelta(days=1)


@dataclass
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)  # why not, in the user's language
    rule: CertificateRule | None = None
    theory: object | None = None  # exams Attempt
    practical: object | None = None  # exams PracticalResult
    exception: EligibilityException | None = None
    existing: Certificate | None = None  # already issued from the same evidence


def active_exception(person, programme) -> EligibilityException | None:
    return (EligibilityException.objects.filter(person=person, programme=programme, withdrawn_at__isnull=True)
            .order_by("-granted_at").first())


def eligibility(person, programme, *, today: datetime.date | None = None) -> Eligibility:
    from exams import api as exams_api

    today = today or timezone.localdate()
    rule = rule_for(programme)
    if rule is None:
        return Eligibility(False, [_("%(programme)s does not lead to a certificate.") % {"programme": programme.name}])
    exception = active_exception(person, programme)
    waived = set(exception.waives) if exception else set()
    reasons: list[str] = []
    theory = exams_api.passed_theory(person, programme) if programme.theory_exam_required else None
    practical = exams_api.passed_practical(person, programme)
    if programme.theory_exam_required and theory is None and "theory" not in waived:
        reasons.append(_("The online theory exam has not been passed."))
    if practical is None and "practical" not in waived:
        reasons.append(_("The practical exam has not been passed."))
    if "window" not in waived:
        practical_day = practical.booking.session.date if practical is not None else None
        if theory is not None and practical_day is not None:
            theory_day = timezone.localdate(theory.submitted_at)
            if (practical_day - theory_day).days > rule.window_days:
                reasons.append(_("The practical exam (%(practical)s) was more than %(days)s days after the theory "
                                 "exam (%(theory)s).") % {"practical": practical_day, "theory": theory_day,
                                                          "days": rule.window_days})
        if practical_day is not None and (today - practical_day).days > rule.issue_within_days:
            reasons.append(_("The practical exam (%(day)s) was more than %(days)s days ago: the trainee must sit "
                             "it again.") % {"day": practical_day, "days": rule.issue_within_days})
    existing = None
    if practical is not None:
        existing = (Certificate.objects.filter(holder=person, programme=programme,
                                               practical_result__booking=practical.booking).first())
    elif exception is not None:
        existing = Certificate.objects.filter(holder=person, programme=programme, exception=exception).first()
    if existing is not None:
        reasons.append(_("Certificate %(number)s has already been issued for this exam.") % {"number": existing.number})
    return Eligibility(not reasons, reasons, rule, theory, practical, exception if waived else None, existing)


def division_code(region) -> str:
    """The region's division code (区划代码), or its nearest ancestor's when it has none on record."""
    node = region
    while node is not None:
        if node.code:
            return node.code
        node = node.get_parent()
    return "0"


def can_issue(actor, region) -> bool:
    return actor is None or lms_permissions.can_manage_region(actor, region)


def _enrolment_class(person, programme):
    """The class (培训班) of ``programme`` the person took, latest first (None: none on record)."""
    from courses import api as courses_api

    return courses_api.class_of(person, programme)


def _names(users) -> str:
    return "、".join(u.display_name for u in users)


def issue(actor, person, programme, *, training_class=None, source: str = Certificate.Source.SINGLE,
          today: datetime.date | None = None, renews: Certificate | None = None) -> Certificate:
    """Issue ``person`` the certificate of ``programme`` (see the module docstring). Raises
    ``ValidationError`` with the reasons when not eligible, ``PermissionDenied`` when ``actor`` may not."""
    today = today or timezone.localdate()
    training_class = training_class or _enrolment_class(person, programme)
    check = eligibility(person, programme, today=today)
    practical = check.practical
    issuer = training_class.training_base if training_class is not None else None
    if issuer is None and practical is not None:
        issuer = practical.booking.session.room.organisation
    if issuer is None:
        check.reasons.append(_("No issuing organisation: the trainee is in no class of this programme."))
    if check.reasons:
        raise ValidationError(check.reasons)
    if not can_issue(actor, issuer.region):
        raise PermissionDenied(_("Certificates of %(organisation)s are issued by the admins of its region.")
                               % {"organisation": issuer.name})
    rule = check.rule
    region = issuer.region
    instructors = list(training_class.instructors.order_by("pk")) if training_class is not None else []
    examiner = (practical.signed_by or practical.booking.examiner) if practical is not None else None
    with transaction.atomic():
        # One issuer at a time per person and programme: two clicks never make two certificates.
        type(person).objects.select_for_update().filter(pk=person.pk).first()
        same = Certificate.objects.filter(holder=person, programme=programme)
        if practical is not None:
            same = same.filter(practical_result__booking=practical.booking)
        else:
            same = same.filter(exception=check.exception)
        if same.exists():
            raise ValidationError(_("A certificate has already been issued for this exam."))
        certificate = _create_certificate(
            actor, person, programme, title=rule.title, number_format=rule.number_format, region=region,
            issuer=issuer, training_class=training_class, programme_name=programme.name,
            class_hours=programme.required_class_hours, instructors=instructors, examiner=examiner, issued_on=today,
            expires_on=expiry_for(today, rule.validity_years), theory=check.theory, practical=practical,
            exception=check.exception, renews=renews, source=source)
    return certificate


def _create_certificate(actor, person, programme, *, title: str, number_format: str, region, issuer, training_class,
                        programme_name: str, class_hours, instructors, examiner, issued_on: datetime.date,
                        expires_on: datetime.date, theory, practical, exception, renews: Certificate | None,
                        source: str, audit: dict | None = None) -> Certificate:
    """The one way a certificate is made, after the caller's checks and inside its transaction (``issue``;
    ``certificates.lifecycle.renew``): the number from ``region``'s sequence of ``issued_on``'s year, the
    printed fields as printed today (the holder's name and masked ID-card number, ``programme_name``,
    ``class_hours``, the instructors and the examiner), the audit record (``audit``: more to record), and the
    PDF queued after the commit."""
    from . import api

    certificate = _create_numbered(
        lambda: api.next_number(division_code(region), issued_on.year, number_format),
        holder=person, programme=programme, training_class=training_class, region=region,
        issuer=issuer, title=title, holder_name=person.real_name or person.display_name,
        id_card_masked=person.id_card_masked, programme_name=programme_name,
        class_hours=class_hours, issuer_name=issuer.name,
        instructor_names=_names(instructors)[:255], examiner_name=examiner.display_name if examiner else "",
        issued_on=issued_on, expires_on=expires_on, theory_attempt=theory,
        practical_result=practical, exception=exception, renews=renews, source=source,
        issued_by=actor if actor is not None and actor.is_authenticated else None)
    lms_api.record_audit(actor, "certificates.issue", certificate, after={
        "number": certificate.number, "holder": person.pk, "programme": programme.code, "source": source,
        "exception": exception.pk if exception else None,
        "renews": renews.number if renews else None, **(audit or {})})
    transaction.on_commit(lambda: _queue_pdf(certificate.pk))
    return certificate


def _create_numbered(number_source, **fields) -> Certificate:
    """Create a certificate under the next number of its sequence. A number is unique in the table too:
    should a number of another format (rules can change format) already be taken, the next one is drawn."""
    for _attempt in range(5):
        number = number_source()
        try:
            with transaction.atomic():
                return Certificate.objects.create(number=number, **fields)
        except IntegrityError:
            if not Certificate.objects.filter(number=number).exists():
                raise
            log.warning("certificate number %s is taken by another format: drawing the next", number)
    raise ValidationError(_("No free certificate number could be drawn: check the number format."))


def _queue_pdf(certificate_id: int) -> None:
    from .tasks import render_certificate_pdf

    try:
        render_certificate_pdf.enqueue(certificate_id)
    except Exception:  # the PDF is made again on first download; issuing does not depend on the queue
        log.exception("could not queue the PDF of certificate %s", certificate_id)


def grant_exception(actor, person, programme, *, waives: list[str], reason: str) -> EligibilityException:
    """Put ``person`` on the allowlist of ``programme`` (one that certifies, or a refresher that renews a
    certificate) for the rules in ``waives`` (audited)."""
    reason = (reason or "").strip()
    errors = {}
    if not waives or not set(waives) <= set(EligibilityException.Waives.values):
        errors["waives"] = [_("Choose the rules to waive.")]
    if len(reason) < 4:
        errors["reason"] = [_("Give the reason for the exception.")]
    if rule_for(programme) is None and not CertificateRule.objects.filter(programme=programme,
                                                                          renews__isnull=False).exists():
        errors["programme"] = [_("%(programme)s does not lead to a certificate.") % {"programme": programme.name}]
    if errors:
        raise ValidationError(errors)
    if not lms_permissions.can_manage_region(actor, person.region):
        raise PermissionDenied(_("This belongs to another region."))
    with transaction.atomic():
        exception = EligibilityException.objects.create(person=person, programme=programme, waives=sorted(set(waives)),
                                                        reason=reason, granted_by=actor)
        lms_api.record_audit(actor, "certificates.exception.grant", exception, after={
            "person": person.pk, "programme": programme.code, "waives": exception.waives, "reason": reason})
    return exception


# ------------------------------------------------------------------ a class in one action

def start_class_issue(actor, training_class) -> IssueJob:
    """Queue the issue of every eligible trainee of ``training_class`` (a background task). One job at a
    time per class: while one is queued or running, that one is returned."""
    if not lms_permissions.can_manage_region(actor, training_class.training_base.region):
        raise PermissionDenied(_("Certificates of %(organisation)s are issued by the admins of its region.")
                               % {"organisation": training_class.training_base.name})
    if rule_for(training_class.programme) is None:
        raise ValidationError(_("%(programme)s does not lead to a certificate.")
                              % {"programme": training_class.programme.name})
    from courses.models import TrainingClass

    with transaction.atomic():
        TrainingClass.objects.select_for_update().filter(pk=training_class.pk).first()
        running = training_class.issue_jobs.filter(status__in=[IssueJob.Status.QUEUED, IssueJob.Status.RUNNING]).first()
        if running is not None:
            return running
        job = IssueJob.objects.create(training_class=training_class, requested_by=actor,
                                      total=_class_roster(training_class).count())
        lms_api.record_audit(actor, "certificates.class_issue", job, object_repr=str(training_class),
                             after={"class": training_class.pk, "trainees": job.total})
        transaction.on_commit(lambda: _queue_job(job.pk))
    return job


def _queue_job(job_id: int) -> None:
    from .tasks import run_issue_job_task

    run_issue_job_task.enqueue(job_id)


def _class_roster(training_class):
    from courses.models import Enrolment

    return (Enrolment.objects.filter(training_class=training_class,
                                     status__in=[Enrolment.Status.ACTIVE, Enrolment.Status.COMPLETED])
            .select_related("user").order_by("pk"))


def run_issue_job(job_id: int) -> IssueJob:
    """Work through a class issue job (the background task): each trainee in a transaction of their own,
    the progress saved after each, so the page's progress bar moves and a crash loses nothing done."""
    job = IssueJob.objects.select_related("training_class__programme", "training_class__training_base__region",
                                          "requested_by").get(pk=job_id)
    if job.status not in (IssueJob.Status.QUEUED, IssueJob.Status.RUNNING):
        return job
    klass = job.training_class
    enrolments = list(_class_roster(klass))
    done_people = {row["person"] for row in job.rows}
    IssueJob.objects.filter(pk=job.pk).update(status=IssueJob.Status.RUNNING, total=len(enrolments))
    rows = list(job.rows)
    issued = job.issued
    today = timezone.localdate()
    try:
        for enrolment in enrolments:
            person = enrolment.user
            if person.pk in done_people:
                continue
            row = {"person": person.pk, "name": person.display_name}
            try:
                certificate = issue(job.requested_by, person, klass.programme, training_class=klass,
                                    source=Certificate.Source.CLASS, today=today)
            except ValidationError as exc:
                existing = eligibility(person, klass.programme, today=today).existing
                row.update(outcome="already" if existing else "not_eligible", reasons=exc.messages,
                           number=existing.number if existing else "")
            except PermissionDenied as exc:
                row.update(outcome="not_eligible", reasons=[str(exc)])
            else:
                issued += 1
                row.update(outcome="issued", number=certificate.number, reasons=[])
            rows.append(row)
            IssueJob.objects.filter(pk=job.pk).update(done=len(rows), issued=issued, rows=rows)
        IssueJob.objects.filter(pk=job.pk).update(status=IssueJob.Status.DONE, finished_at=timezone.now())
    except Exception as exc:  # kept on the job, shown on the page; what was issued stays issued
        log.exception("class issue job %s failed", job.pk)
        IssueJob.objects.filter(pk=job.pk).update(status=IssueJob.Status.FAILED, error=str(exc)[:2000],
                                                  finished_at=timezone.now())
    job.refresh_from_db()
    if job.status == IssueJob.Status.DONE and job.issued:
        transaction.on_commit(lambda: _queue_bundle(job.pk))
    return job


def _queue_bundle(job_id: int) -> None:
    from .tasks import render_class_bundle

    try:
        render_class_bundle.enqueue(job_id)
    except Exception:
        log.exception("could not queue the bundle of issue job %s", job_id)


# ------------------------------------------------------------------ on a signed practical result

def on_practical_result(result_id: int, candidate_id: int, **kwargs) -> None:
    """Receiver of ``exams.signals.practical_result_frozen``: where the programme's rule says
    ``auto_issue``, a passed result issues the certificate at once (a background task)."""
    from exams.practical_models import PracticalResult

    from .tasks import auto_issue_task

    result = PracticalResult.objects.filter(pk=result_id, passed=True).select_related("booking__session").first()
    if result is None:
        return
    rule = rule_for(result.booking.session.programme)
    if rule is not None and rule.auto_issue:
        auto_issue_task.enqueue(result_id)


def auto_issue(result_id: int) -> Certificate | None:
    from exams.practical_models import PracticalResult

    result = PracticalResult.objects.select_related("booking__candidate", "booking__session__programme").get(pk=result_id)
    programme = result.booking.session.programme
    rule = rule_for(programme)
    if rule is None or not rule.auto_issue or not result.passed:
        return None
    person = result.booking.candidate
    check = eligibility(person, programme)
    if not check.eligible or check.practical is None or check.practical.pk != result.pk:
        return None
    try:
        return issue(None, person, programme, source=Certificate.Source.AUTO)
    except ValidationError:
        return None
