"""Class administration (培训班管理): open, change a class, and give it a new class code.

Each write is one function (permission, validation, transaction, audit). Who may manage which
class is ``courses.permissions``. The roster import is ``courses.roster.import_roster``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lms import audit

from . import permissions
from .models import Enrolment, Programme, TrainingClass, new_class_code

FIELDS = ("programme", "name", "training_base", "venue", "starts_on", "ends_on", "theory_deadline", "schedule",
          "capacity")


def _snapshot(c: TrainingClass) -> dict:
    return {"programme": c.programme_id, "name": c.name, "training_base": c.training_base_id, "venue": c.venue,
            "starts_on": c.starts_on.isoformat() if c.starts_on else None,
            "ends_on": c.ends_on.isoformat() if c.ends_on else None,
            "theory_deadline": c.theory_deadline.isoformat() if c.theory_deadline else None,
            "capacity": c.capacity, "status": c.status,
            "instructors": sorted(c.instructors.values_list("pk", flat=True)) if c.pk else []}


def _validate(actor, c: TrainingClass, instructors) -> None:
    errors: dict[str, list[str]] = {}
    c.name = (c.name or "").strip()
    if not c.name:
        errors["name"] = [_("Please enter the class's name.")]
    if c.programme_id is None or not Programme.objects.filter(pk=c.programme_id, is_active=True).exists():
        errors["programme"] = [_("Please choose a programme.")]
    if c.training_base_id is None or not permissions.class_organisations(actor).filter(pk=c.training_base_id).exists():
        errors["training_base"] = [_("Choose an organisation you manage.")]
    if c.starts_on and c.ends_on and c.ends_on < c.starts_on:
        errors["ends_on"] = [_("The class cannot end before it starts.")]
    if c.theory_deadline and c.ends_on and c.theory_deadline > c.ends_on:
        errors["theory_deadline"] = [_("The theory deadline must be on or before the last day of the class.")]
    if not c.capacity or c.capacity < 1:
        errors["capacity"] = [_("The capacity must be at least 1.")]
    elif c.pk:
        taken = c.enrolments.filter(status=Enrolment.Status.ACTIVE).count()
        if c.capacity < taken:
            errors["capacity"] = [_("%(n)s trainees are enrolled: the capacity cannot be less.") % {"n": taken}]
    allowed = set(permissions.instructors_in_scope(actor).values_list("pk", flat=True))
    if any(i.pk not in allowed for i in instructors):
        errors["instructors"] = [_("Choose instructors of your region or organisation.")]
    elif instructors and c.programme_id is not None and "programme" not in errors:
        # Only instructors in good standing whose tier may teach the programme (instructors.standing).
        from instructors import api as instructors_api

        refused = instructors_api.refusals(instructors, c.programme, instructors_api.TEACH)
        if refused:
            errors["instructors"] = [reason for reasons in refused.values() for reason in reasons]
    if errors:
        raise ValidationError(errors)


def create_class(actor, *, instructors=(), **fields) -> TrainingClass:
    """Open a class at an organisation ``actor`` manages; a class code is drawn."""
    if not permissions.is_class_admin(actor):
        raise PermissionDenied(_("Only organisation, region and system admins manage classes."))
    c = TrainingClass(**{k: v for k, v in fields.items() if k in FIELDS}, created_by=actor)
    instructors = list(instructors)
    _validate(actor, c, instructors)
    with transaction.atomic():
        c.save()
        c.instructors.set(instructors)
        audit.record(actor, "class.create", c, after=_snapshot(c))
    return c


def update_class(actor, training_class: TrainingClass, *, instructors=(), status: str | None = None,
                 **fields) -> TrainingClass:
    if not permissions.can_manage_class(actor, training_class):
        raise PermissionDenied(_("You cannot manage this class."))
    c = TrainingClass.objects.get(pk=training_class.pk)
    before = _snapshot(c)
    for k, v in fields.items():
        if k in FIELDS:
            setattr(c, k, v)
    if status is not None:
        if status not in TrainingClass.Status.values:
            raise ValidationError({"status": [_("Unknown status.")]})
        c.status = status
    instructors = list(instructors)
    _validate(actor, c, instructors)
    with transaction.atomic():
        c.save()
        c.instructors.set(instructors)
        audit.record(actor, "class.update", c, before=before, after=_snapshot(c))
        if c.status == TrainingClass.Status.FINISHED and c.programme.kind == Programme.Kind.AWARENESS:
            from .awareness import record_class
            record_class(actor, c)  # its trainees count as people reached (普及)
    return c


def rotate_class_code(actor, training_class: TrainingClass) -> str:
    """A new class code (the old one stops working at once, e.g. after it was posted where it should not be)."""
    if not permissions.can_manage_class(actor, training_class):
        raise PermissionDenied(_("You cannot manage this class."))
    for _attempt in range(5):
        code = new_class_code()
        try:
            with transaction.atomic():
                old = TrainingClass.objects.select_for_update().get(pk=training_class.pk).code
                TrainingClass.objects.filter(pk=training_class.pk).update(code=code)
                audit.record(actor, "class.rotate_code", training_class, before={"code": old}, after={"code": code})
        except IntegrityError:  # the same code drawn twice: draw again
            continue
        training_class.code = code
        return code
    raise ValidationError(_("Could not draw a new class code; please try again."))


def class_progress(training_class: TrainingClass, user_ids) -> tuple[int, dict[int, dict]]:
    """A light view of the trainees' online theory, for the class page: the programme's number of lessons,
    and per person the lessons completed and the minutes of study time (a few queries for a whole page;
    ``courses.api.progress_summary`` is the full account of one person)."""
    from django.db.models import Count, Q, Sum

    from . import api
    from .models import LessonProgress

    try:
        lesson_ids = [lesson.pk for lesson in api.lessons_of(training_class.programme)]
    except Exception:  # a programme whose course pages are not there (yet)
        return 0, {}
    if not lesson_ids:
        return 0, {}
    rows = (LessonProgress.objects.filter(user_id__in=list(user_ids), lesson_id__in=lesson_ids)
            .values("user_id").annotate(done=Count("pk", filter=Q(completed_at__isnull=False)),
                                        seconds=Sum("seconds_on_task")))
    return len(lesson_ids), {r["user_id"]: {"done": r["done"], "minutes": (r["seconds"] or 0) // 60} for r in rows}
