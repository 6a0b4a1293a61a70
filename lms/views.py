"""Thin views over ``lms.api``: parse the request, call one function, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import api
from .dashboard import cards_for
from .forms import OrganisationForm, PeopleSearchForm, RegionImportForm
from .models import Organisation, Role, User


def healthz(request):
    """Liveness probe for load balancers and the HTTP yardstick benchmark: no database, no session."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def dashboard(request):
    return render(request, "lms/dashboard.html", {"cards": cards_for(request.user)})


def _require_admin(user) -> None:
    if not (user.has_role(Role.REGION_ADMIN) or api.is_system_admin(user)):
        raise PermissionDenied(_("This page is for region and system admins."))


@login_required
def people(request):
    _require_admin(request.user)
    form = PeopleSearchForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = api.find_people(request.user, **{k: v for k, v in data.items() if v})
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "lms/people.html", {"form": form, "page": page})


def _person_or_404(user, pk: int) -> User:
    try:
        return api.get_person(user, pk)
    except User.DoesNotExist:
        raise Http404 from None


@login_required
def person(request, pk: int):
    target = _person_or_404(request.user, pk)
    roles = target.role_assignments.select_related("region")
    return render(request, "lms/person.html", {"person": target, "roles": roles})


@login_required
def person_photo(request, pk: int):
    target = _person_or_404(request.user, pk)
    if not target.photo:
        raise Http404
    response = FileResponse(target.photo.open("rb"))
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def regions(request):
    _require_admin(request.user)
    form = RegionImportForm()
    if request.method == "POST":
        if not api.is_system_admin(request.user):
            raise PermissionDenied(_("Only a system admin can import regions."))
        form = RegionImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                counts = api.import_regions_xlsx(request.user, form.cleaned_data["file"])
            except ValidationError as exc:
                for msg in exc.messages:
                    form.add_error("file", msg)
            else:
                messages.success(request, _(
                    "Imported: %(regions_created)s new regions, %(populations_created)s new and "
                    "%(populations_updated)s updated population figures.") % counts)
                return redirect("lms:regions")
    nodes = api.visible_regions(request.user).prefetch_related("populations").order_by("path")
    return render(request, "lms/regions.html", {
        "nodes": nodes, "form": form, "can_import": api.is_system_admin(request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def organisations(request):
    _require_admin(request.user)
    regions_qs = api.visible_regions(request.user).order_by("path")
    form = OrganisationForm(request.POST or None, regions=regions_qs)
    if request.method == "POST" and form.is_valid():
        try:
            org = api.create_organisation(request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                for e in errs:
                    form.add_error(field if field in form.fields else None, e)
        else:
            messages.success(request, _("Added %(name)s.") % {"name": org.name})
            return redirect("lms:organisations")
    page = Paginator(api.visible_organisations(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "lms/organisations.html", {"form": form, "page": page, "kinds": Organisation.Kind})

