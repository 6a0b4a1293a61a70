"""Awareness training (普及培训) records: the people a region reached, counted as person-times (人次).

Two ways in, each one function (validation, permission, transaction, audit):

- ``record_session``: a mass session (a school assembly, a community square) entered by its headcount per
  key group. Whoever may manage the organisation's classes may record its sessions: its organisation
  admins and the admins of its region. The day may not be in the future nor more than
  ``MAX_AGE_DAYS`` back; a group's headcount is a whole number from 0 to ``MAX_GROUP``, the session's
  total from 1 to ``MAX_SESSION``. One row per person-time, no personal data; the rows share a session key.
- ``record_class``: an awareness class that finished: one record per enrolment not withdrawn, once
  (the enrolment is the key; running it again adds only enrolments added since), on the class's last day
  (today if it finished early: no record is dated in the future).

Both send ``awareness_recorded`` (bulk inserts send no ``post_save``), which the dashboards listen to.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import audit
from lms.models import Organisation

from . import permissions
from .models import AwarenessRecord, Enrolment, Programme, TrainingClass

MAX_AGE_DAYS = 366
MAX_GROUP = 10_000
MAX_SESSION = 20_000

# sent after records were added in bulk: ``cells`` is a set of (region id, held_on)
awareness_recorded = Signal()


def record_session(actor, *, organisation: Organisation, held_on: dt.date, headcounts: dict[str, object],
                   today: dt.date | None = None) -> str:
    """Record a mass session's headcount per group; returns the session key. Raises ValidationError with
    every problem (nothing is stored) or PermissionDenied."""
    if not permissions.can_manage_organisation(actor, organisation):
        raise PermissionDenied(_("You cannot record training for this organisation."))
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if not isinstance(held_on, dt.date) or isinstance(held_on, dt.datetime):
        errors.setdefault("held_on", []).append(_("Enter the day the session was held."))
    elif held_on > today:
        errors.setdefault("held_on", []).append(_("The day cannot be in the future."))
    elif held_on < today - dt.timedelta(days=MAX_AGE_DAYS):
        errors.setdefault("held_on", []).append(
            _("Sessions older than %(days)s days cannot be entered here.") % {"days": MAX_AGE_DAYS})
    counts: dict[str, int] = {}
    for group, raw in headcounts.items():
        if group not in AwarenessRecord.Group.values:
            errors.setdefault("headcounts", []).append(_("Unknown group: %(group)s.") % {"group": str(group)[:32]})
            continue
        if raw in (None, ""):
            continue
        try:
            n = int(str(raw).strip())
            if str(n) != str(raw).strip():
                raise ValueError
        except (TypeError, ValueError):
            errors.setdefault("headcounts", []).append(
                _("%(group)s: enter a whole number.") % {"group": AwarenessRecord.Group(group).label})
            continue
        if not 0 <= n <= MAX_GROUP:
            errors.setdefault("headcounts", []).append(
                _("%(group)s: the headcount must be from 0 to %(max)s.")
                % {"group": AwarenessRecord.Group(group).label, "max": MAX_GROUP})
            continue
        if n:
            counts[group] = n
    total = sum(counts.values())
    if "headcounts" not in errors and not 1 <= total <= MAX_SESSION:
        errors.setdefault("headcounts", []).append(
            _("A session has from 1 to %(max)s people in all.") % {"max": MAX_SESSION})
    if organisation.region_id is None:
        errors.setdefault("organisation", []).append(_("The organisation has no region."))
    if errors:
        raise ValidationError(errors)
    key = secrets.token_hex(8)
    with transaction.atomic():
        AwarenessRecord.objects.bulk_create(
            [AwarenessRecord(region_id=organisation.region_id, held_on=held_on, group=group,
                             source=AwarenessRecord.Source.SESSION, organisation=organisation, session_key=key)
             for group, n in counts.items() for _i in range(n)], batch_size=2000)
        audit.record(actor, "awareness.session", organisation,
                     after={"held_on": held_on.isoformat(), "headcounts": counts, "session_key": key})
        awareness_recorded.send(sender=AwarenessRecord, cells={(organisation.region_id, held_on)})
    return key


def record_class(actor, training_class: TrainingClass, *, today: dt.date | None = None) -> int:
    """Count a finished awareness class's trainees (enrolments not withdrawn) once each, on its last day (today
    if it finished early); returns how many were added."""
    if actor is not None and not permissions.can_manage_class(actor, training_class):
        raise PermissionDenied(_("You cannot manage this class."))
    if training_class.programme.kind != Programme.Kind.AWARENESS:
        raise ValidationError(_("Only awareness classes are counted as awareness training."))
    if training_class.status != TrainingClass.Status.FINISHED:
        raise ValidationError(_("Only a finished class is counted as awareness training."))
    base = training_class.training_base
    held_on = min(training_class.ends_on, today or timezone.localdate())
    with transaction.atomic():
        todo = list(training_class.enrolments.exclude(status=Enrolment.Status.WITHDRAWN)
                    .filter(awareness_record__isnull=True).values_list("pk", flat=True))
        AwarenessRecord.objects.bulk_create(
            [AwarenessRecord(region_id=base.region_id, held_on=held_on, enrolment_id=pk,
                             source=AwarenessRecord.Source.CLASS, organisation=base, training_class=training_class)
             for pk in todo], batch_size=2000)
        if todo:
            audit.record(actor, "awareness.class", training_class, after={"records": len(todo),
                                                                          "held_on": held_on.isoformat()})
            awareness_recorded.send(sender=AwarenessRecord, cells={(base.region_id, held_on)})
    return len(todo)
