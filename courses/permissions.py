"""Who manages which classes (培训班) and their rosters.

- a system admin: every class;
- a region admin: the classes run by organisations in (or under) the regions they administer;
- an organisation admin (单位管理员, ``Role.ORG_ADMIN``, scoped by ``RoleAssignment.organisation``):
  the classes their organisation runs. A class is "run by" the organisation in its
  ``training_base`` field: a training base's own classes, or a school's or employer's cohort
  class held on its premises (the school is then the class's place of training);
- anyone else: none (instructors see the classes they teach through ``courses.api``).

An object outside the actor's scope is answered with 404 by the views (its existence is not revealed).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from lms import permissions as lms_permissions
from lms.models import Organisation, Role, User

from .models import TrainingClass

# Organisations that may run a class (an exam site examines; a studio's classes are those held at it).
CLASS_RUNNING_KINDS = (Organisation.Kind.TRAINING_BASE, Organisation.Kind.SCHOOL, Organisation.Kind.EMPLOYER,
                       Organisation.Kind.RED_CROSS, Organisation.Kind.STUDIO)


def administered_organisations(user) -> list[int]:
    """Ids of the organisations ``user`` is an organisation admin of."""
    if not (user and user.is_authenticated):
        return []
    cached = getattr(user, "_admin_orgs_cache", None)
    if cached is None:
        cached = list(user.role_assignments.filter(role=Role.ORG_ADMIN, organisation__isnull=False)
                      .values_list("organisation_id", flat=True))
        user._admin_orgs_cache = cached
    return cached


def is_class_admin(user) -> bool:
    """Whether the classes pages are for ``user`` at all (system, region or organisation admin)."""
    return bool(user and user.is_authenticated and (
        lms_permissions.is_system_admin(user) or user.has_role(Role.REGION_ADMIN) or administered_organisations(user)))


def organisations_q(user, field: str = "") -> Q | None:
    """A Q limiting organisations (``field`` the path to an Organisation, "" for Organisation itself)
    to those whose classes ``user`` manages; None means all."""
    if lms_permissions.is_system_admin(user):
        return None
    prefix = f"{field}__" if field else ""
    q = Q(**{f"{prefix}pk__in": administered_organisations(user)})
    region_q = lms_permissions.region_q(user, f"{prefix}region")
    if region_q is not None:
        q |= region_q
    return q


def managed_organisations(user) -> QuerySet:
    """Organisations whose classes ``user`` manages (any kind)."""
    qs = Organisation.objects.select_related("region")
    q = organisations_q(user)
    return qs if q is None else qs.filter(q)


def class_organisations(user) -> QuerySet:
    """Organisations ``user`` may open a class at (the choices of the class form)."""
    return managed_organisations(user).filter(kind__in=CLASS_RUNNING_KINDS).order_by("region__path", "name")


def managed_classes(user) -> QuerySet:
    """Classes ``user`` manages."""
    qs = TrainingClass.objects.select_related("programme", "training_base__region")
    if not is_class_admin(user):
        return qs.none()
    q = organisations_q(user, "training_base")
    return qs if q is None else qs.filter(q)


def can_manage_class(user, training_class: TrainingClass) -> bool:
    if not is_class_admin(user):
        return False
    if lms_permissions.is_system_admin(user):
        return True
    org = training_class.training_base
    return org.pk in administered_organisations(user) or lms_permissions.can_manage_region(user, org.region)


def can_manage_organisation(user, organisation: Organisation | None) -> bool:
    if organisation is None:
        return False
    if lms_permissions.is_system_admin(user):
        return True
    return (organisation.pk in administered_organisations(user)
            or lms_permissions.can_manage_region(user, organisation.region))


def instructors_in_scope(user) -> QuerySet:
    """Instructors ``user`` may put on a class: a system admin any; a region admin those of their
    subtree; an organisation admin those of their organisation and of its region."""
    qs = User.objects.filter(role_assignments__role=Role.INSTRUCTOR, is_active=True, anonymised_at__isnull=True)
    region_q = lms_permissions.region_q(user)
    if region_q is None:
        return qs.distinct().order_by("real_name", "pk")
    q = region_q
    for org in Organisation.objects.filter(pk__in=administered_organisations(user)).select_related("region"):
        q |= Q(organisation=org) | Q(region__path__startswith=org.region.path)
    return qs.filter(q).distinct().order_by("real_name", "pk")
