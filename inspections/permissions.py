"""Who sees and does what with inspections.

- **Planners**: the region admins of the plan's region (an admin of the region or of a region above it) and
  system admins. They draw plans, assign inspectors, verify or reopen findings and close inspections.
- **The inspector** assigned to an inspection sees it, starts it on site, files the checklist and findings.
- **Nobody else** sees a planned inspection: not the class's instructors, trainees or organisation admins.
- Once an inspection has started (``started_at`` set), its **findings** are shown to the class's side, to
  rectify them: the admins of the class's training base (organisation admins), the class's instructors and the
  region admins over the base. Never before.

An inspector is **eligible** for an inspection when they hold ``Role.INSPECTOR``, their region lies in the
plan's region subtree, and they are not of the class's side: not a member of the training base (their
organisation or an organisation-admin role there), not a member of a studio of the class's instructors nor of
the studio that is the training base, not an instructor of the class.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from lms import permissions as lms_permissions
from lms.models import Role, User

from .models import Finding, Inspection, InspectionPlan


def _region_of(inspection: Inspection):
    return inspection.plan.region if inspection.plan_id else inspection.training_class.training_base.region


def is_planner_of_region(user, region) -> bool:
    if lms_permissions.is_system_admin(user):
        return True
    return bool(user and user.is_authenticated and user.has_role(Role.REGION_ADMIN)
                and lms_permissions.can_manage_region(user, region))


def is_planner(user) -> bool:
    """Whether the planning pages are for ``user`` at all."""
    return bool(user and user.is_authenticated
                and (lms_permissions.is_system_admin(user) or user.has_role(Role.REGION_ADMIN)))


def plans_for(user) -> QuerySet:
    qs = InspectionPlan.objects.select_related("region", "checklist")
    if not is_planner(user):
        return qs.none()
    return lms_permissions.scope(user, qs, "region")


def can_plan(user, inspection: Inspection) -> bool:
    return is_planner_of_region(user, _region_of(inspection))


def is_inspector_of(user, inspection: Inspection) -> bool:
    return bool(user and user.is_authenticated and inspection.inspector_id == user.pk)


def can_see(user, inspection: Inspection) -> bool:
    """The inspection itself (its class, day, inspector, checklist): planners and its inspector only."""
    return is_inspector_of(user, inspection) or can_plan(user, inspection)


def inspections_for(user) -> QuerySet:
    """Inspections ``user`` may see as such: planned or not, as planner or inspector."""
    qs = Inspection.objects.select_related("training_class__training_base__region", "inspector", "plan__region")
    if not (user and user.is_authenticated):
        return qs.none()
    if lms_permissions.is_system_admin(user):
        return qs
    q = Q(inspector=user)
    region_q = lms_permissions.region_q(user, "plan__region") if user.has_role(Role.REGION_ADMIN) else None
    if region_q is not None:
        q |= region_q | (Q(plan__isnull=True) & lms_permissions.region_q(user, "training_class__training_base__region"))
    return qs.filter(q)


def _class_side_q(user, prefix: str) -> Q:
    """Inspections of classes ``user`` is on the side of: their instructors, their base's org admins, region admins."""
    from courses.permissions import administered_organisations

    q = Q(**{f"{prefix}training_class__instructors": user})
    orgs = administered_organisations(user)
    if orgs:
        q |= Q(**{f"{prefix}training_class__training_base_id__in": orgs})
    if user.has_role(Role.REGION_ADMIN):
        region_q = lms_permissions.region_q(user, f"{prefix}training_class__training_base__region")
        if region_q is not None:
            q |= region_q
    return q


def findings_for(user) -> QuerySet:
    """Findings ``user`` may see: of inspections they see as such, and, once started, of their classes."""
    qs = Finding.objects.select_related("inspection__training_class__training_base", "inspection__inspector")
    if not (user and user.is_authenticated):
        return qs.none()
    if lms_permissions.is_system_admin(user):
        return qs
    seen = inspections_for(user).values("pk")
    side = Q(inspection__started_at__isnull=False) & _class_side_q(user, "inspection__")
    return qs.filter(Q(inspection__in=seen) | side).distinct()


def is_class_side(user, inspection: Inspection) -> bool:
    """Whether ``user`` is on the class's side (may see and rectify its findings once it started)."""
    if not (user and user.is_authenticated) or inspection.started_at is None:
        return False
    return Inspection.objects.filter(pk=inspection.pk).filter(_class_side_q(user, "")).exists()


def can_see_findings(user, inspection: Inspection) -> bool:
    return can_see(user, inspection) or is_class_side(user, inspection)


def can_rectify(user, finding: Finding) -> bool:
    """The class's side reports rectification: its base's organisation admins and the class's instructors."""
    from courses.permissions import administered_organisations

    inspection = finding.inspection
    if not (user and user.is_authenticated) or inspection.started_at is None:
        return False
    klass = inspection.training_class
    return (klass.training_base_id in administered_organisations(user)
            or klass.instructors.filter(pk=user.pk).exists())


def can_verify(user, finding: Finding) -> bool:
    """Planners and the inspector verify a rectification or reopen the finding."""
    return can_see(user, finding.inspection)


# ------------------------------------------------------------------ inspector eligibility


def _organisations_of(user: User) -> set[int]:
    orgs = set(user.role_assignments.filter(organisation__isnull=False).values_list("organisation_id", flat=True))
    if user.organisation_id:
        orgs.add(user.organisation_id)
    return orgs


def inspector_refusals(inspector: User, inspection: Inspection) -> list[str]:
    """Every reason ``inspector`` may not inspect ``inspection`` (empty: eligible)."""
    from instructors.models import Studio

    name = inspector.display_name
    klass = inspection.training_class
    reasons = []
    if not inspector.is_active or inspector.anonymised_at is not None:
        reasons.append(_("%(name)s cannot sign in.") % {"name": name})
    if Role.INSPECTOR not in inspector.role_set:
        reasons.append(_("%(name)s is not an inspector.") % {"name": name})
    region = _region_of(inspection)
    if inspector.region_id is None or not inspector.region.path.startswith(region.path):
        reasons.append(_("%(name)s does not work in %(region)s.") % {"name": name, "region": region.name})
    base = klass.training_base
    if base.pk in _organisations_of(inspector):
        reasons.append(_("%(name)s belongs to the class's organisation %(org)s.") % {"name": name, "org": base.name})
    instructor_ids = list(klass.instructors.values_list("pk", flat=True))
    if inspector.pk in instructor_ids:
        reasons.append(_("%(name)s teaches this class.") % {"name": name})
    studios = Studio.objects.filter(Q(memberships__user_id__in=instructor_ids) | Q(head_id__in=instructor_ids)
                                    | Q(organisation=base)).distinct()
    shared = studios.filter(Q(memberships__user=inspector) | Q(head=inspector)).distinct()
    for studio in shared:
        reasons.append(_("%(name)s is a member of the studio %(studio)s of this class.")
                       % {"name": name, "studio": studio.name})
    return reasons


def eligible_inspectors(inspection: Inspection) -> list[User]:
    region = _region_of(inspection)
    candidates = (User.objects.filter(role_assignments__role=Role.INSPECTOR, is_active=True,
                                      anonymised_at__isnull=True, region__path__startswith=region.path)
                  .select_related("region").distinct().order_by("pk"))
    return [u for u in candidates if not inspector_refusals(u, inspection)]
