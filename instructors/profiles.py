"""Instructor profiles: registration, suspension and reinstatement, tier changes by hand (each audited,
each kept as a ``StandingChange``). Who may: the admins of the instructor's region (``assessment.can_assess``)."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms import permissions as lms_permissions
from lms.models import Role

from .assessment import can_assess
from .models import InstructorProfile, StandingChange, Tier


def register(actor, person, *, tier: Tier, training_base=None, instructor_since: datetime.date | None = None,
             reason: str = "") -> InstructorProfile:
    """Give ``person`` (who holds the instructor role) a profile in ``tier``."""
    if not lms_permissions.can_manage_region(actor, person.region or (training_base.region if training_base else None)):
        raise PermissionDenied(_("This person belongs to another region."))
    errors = {}
    if not person.has_role(Role.INSTRUCTOR):
        errors["person"] = [_("%(name)s does not hold the instructor role.") % {"name": person.display_name}]
    if not tier.is_active:
        errors["tier"] = [_("This tier is no longer in use.")]
    if InstructorProfile.objects.filter(user=person).exists():
        errors["person"] = [_("%(name)s is already registered as an instructor.") % {"name": person.display_name}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        profile = InstructorProfile.objects.create(user=person, tier=tier, training_base=training_base,
                                                   instructor_since=instructor_since or timezone.localdate())
        StandingChange.objects.create(profile=profile, from_tier=None, to_tier=tier, from_status="",
                                      to_status=profile.status, reason=reason or _("Registered"), changed_by=actor)
        lms_api.record_audit(actor, "instructors.profile.register", profile,
                             after={"person": person.pk, "tier": tier.code})
    return profile


def _change(actor, profile: InstructorProfile, *, tier: Tier | None = None, status: str | None = None,
            reason: str, action: str) -> InstructorProfile:
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise ValidationError({"reason": [_("Give the reason.")]})
    with transaction.atomic():
        p = InstructorProfile.objects.select_for_update(of=("self",)).select_related("user__region", "tier",
                                                                          "training_base__region").get(pk=profile.pk)
        if not can_assess(actor, p):
            raise PermissionDenied(_("This instructor belongs to another region."))
        before_tier, before_status = p.tier, p.status
        if tier is not None:
            if not tier.is_active:
                raise ValidationError({"tier": [_("This tier is no longer in use.")]})
            p.tier = tier
        if status is not None:
            p.status = status
            p.status_reason = reason
        if (p.tier, p.status) == (before_tier, before_status):
            raise ValidationError(_("Nothing to change."))
        p.save()
        StandingChange.objects.create(profile=p, from_tier=before_tier, to_tier=p.tier, from_status=before_status,
                                      to_status=p.status, reason=reason, changed_by=actor)
        lms_api.record_audit(actor, action, p, before={"tier": before_tier.code, "status": before_status},
                             after={"tier": p.tier.code, "status": p.status, "reason": reason})
    return p


def suspend(actor, profile: InstructorProfile, *, reason: str) -> InstructorProfile:
    return _change(actor, profile, status=InstructorProfile.Status.SUSPENDED, reason=reason,
                   action="instructors.profile.suspend")


def reinstate(actor, profile: InstructorProfile, *, reason: str) -> InstructorProfile:
    return _change(actor, profile, status=InstructorProfile.Status.ACTIVE, reason=reason,
                   action="instructors.profile.reinstate")


def change_tier(actor, profile: InstructorProfile, *, tier: Tier, reason: str) -> InstructorProfile:
    return _change(actor, profile, tier=tier, reason=reason, action="instructors.profile.tier")
