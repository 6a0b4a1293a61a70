"""Permission helpers: every query a region admin runs is scoped to their own subtree.

The rule, for region-scoped records:
- a system admin sees everything;
- a region admin sees records whose region lies in (or is) one of the regions they administer;
- anyone else sees no region-scoped record through these helpers (apps add owner rules on top,
  e.g. a trainee sees their own results).
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from .models import Region, Role, User


def is_system_admin(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.has_role(Role.SYSTEM_ADMIN)))


def administered_regions(user) -> list[Region]:
    """The top regions a user administers (empty for non-admins; None-like handled by callers)."""
    if not (user and user.is_authenticated):
        return []
    cached = getattr(user, "_admin_regions_cache", None)
    if cached is None:
        ids = user.role_assignments.filter(role=Role.REGION_ADMIN).values_list("region_id", flat=True)
        cached = list(Region.objects.filter(pk__in=list(ids)))
        user._admin_regions_cache = cached
    return cached


def region_q(user, field: str = "region") -> Q | None:
    """A Q that limits ``field`` (a FK to Region) to what ``user`` may see; None means "everything"."""
    if is_system_admin(user):
        return None
    regions = administered_regions(user)
    if not regions:
        return Q(pk__in=[])
    return reduce(or_, (Q(**{f"{field}__path__startswith": r.path}) for r in regions))


def scope(user, queryset: QuerySet, field: str = "region") -> QuerySet:
    """Limit a queryset of region-scoped records to what ``user`` may see."""
    q = region_q(user, field)
    return queryset if q is None else queryset.filter(q)


def visible_regions(user) -> QuerySet:
    if is_system_admin(user):
        return Region.objects.all()
    regions = administered_regions(user)
    if not regions:
        return Region.objects.none()
    return Region.objects.filter(reduce(or_, (Q(path__startswith=r.path) for r in regions)))


def can_manage_region(user, region: Region | None) -> bool:
    if is_system_admin(user):
        return True
    if region is None:
        return False
    return any(region.path.startswith(r.path) for r in administered_regions(user))


def require_region(user, region: Region | None) -> None:
    if not can_manage_region(user, region):
        raise PermissionDenied(_("This belongs to another region."))


def visible_people(user) -> QuerySet:
    """People a user may list: all for system admins, their subtree for region admins, themselves otherwise."""
    qs = User.objects.select_related("region", "organisation")
    q = region_q(user)
    if q is None:
        return qs
    if not user.is_authenticated:
        return qs.none()
    return qs.filter(q | Q(pk=user.pk))


def require_role(user, *roles: str) -> None:
    if not (user and user.is_authenticated):
        raise PermissionDenied(_("Please log in first."))
    if is_system_admin(user):
        return
    if not any(user.has_role(r) for r in roles):
        raise PermissionDenied(_("Your role does not give access to this page."))
