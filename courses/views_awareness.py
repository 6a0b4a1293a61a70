"""Awareness training sessions (/awareness/): enter a mass session's headcount per group, list the sessions.

For organisation, region and system admins (as the class pages, ``courses.permissions``): an organisation
admin for their organisation, a region admin for the organisations of their subtree. Thin views over
``courses.awareness.record_session``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from lms import numbers
from lms.models import Organisation
from lms.views import _add_errors

from . import awareness, permissions
from .forms_awareness import SessionForm
from .models import AwarenessRecord

PER_PAGE = 50


def _require_admin(user) -> None:
    if not permissions.is_class_admin(user):
        raise PermissionDenied(_("This page is for organisation, region and system admins."))


def _sessions(user):
    """The sessions recorded by organisations ``user`` manages: one row per session key, the latest first."""
    qs = AwarenessRecord.objects.filter(source=AwarenessRecord.Source.SESSION).exclude(session_key="")
    q = permissions.organisations_q(user, "organisation")
    if q is not None:
        qs = qs.filter(q)
    return (qs.values("session_key", "held_on", "organisation_id")
            .annotate(total=Count("pk"), last=Max("pk")).order_by("-held_on", "-last"))


@login_required
@require_GET
def session_list(request):
    _require_admin(request.user)
    page = Paginator(_sessions(request.user), PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    keys = [r["session_key"] for r in rows]
    groups: dict[str, list] = {k: [] for k in keys}
    labels = dict(AwarenessRecord.Group.choices)
    for key, group, n in (AwarenessRecord.objects.filter(session_key__in=keys).values_list("session_key", "group")
                          .annotate(n=Count("pk")).order_by("session_key", "group")):
        groups[key].append((labels.get(group, group), n))
    orgs = Organisation.objects.select_related("region").in_bulk({r["organisation_id"] for r in rows})
    for r in rows:
        r["organisation"] = orgs.get(r["organisation_id"])
        r["groups"] = groups[r["session_key"]]
    return render(request, "courses/awareness_list.html", {"page": page, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def session_new(request):
    _require_admin(request.user)
    form = SessionForm(request.POST or None, user=request.user)
    if request.method == "GET":
        form.initial["held_on"] = timezone.localdate()
        organisations = form.fields["organisation"].queryset
        if organisations.count() == 1:
            form.initial["organisation"] = organisations.first().pk
    elif form.is_valid():
        organisation, held_on = form.cleaned_data["organisation"], form.cleaned_data["held_on"]
        headcounts = form.headcounts()
        try:
            awareness.record_session(request.user, organisation=organisation, held_on=held_on, headcounts=headcounts)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Recorded %(total)s people reached at %(organisation)s on %(day)s.") % {
                "total": numbers.count(sum(headcounts.values())), "organisation": organisation.name,
                "day": held_on.isoformat()})
            return redirect("awareness:list")
    return render(request, "courses/awareness_form.html", {"form": form})
