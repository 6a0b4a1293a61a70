"""Thin views over ``lms.api``: parse the request, call one function, render."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from . import api
from .dashboard import cards_for
from .forms import (
    NumberSearchForm,
    OrganisationForm,
    PasswordChangeForm,
    PasswordResetCodeForm,
    PasswordResetRequestForm,
    PeopleSearchForm,
    PersonForm,
    RegionImportForm,
)
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


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for e in errors:
                form.add_error(field if field in form.fields else None, e)
    else:
        for e in exc.messages:
            form.add_error(None, e)


@login_required
@sensitive_post_parameters("number")
@require_http_methods(["GET", "POST"])
def people(request):
    """GET: the list, or a search by name. POST: an exact ID-card or mobile-number search.

    The number travels in the POST body only (not in the address, the server's access log or the
    language switch's ``next``) and never written back into the page, where only its masked form
    appears; the search itself is audited and rate-limited by ``api.search_people_by_number``.
    """
    _require_admin(request.user)
    context = {"form": PeopleSearchForm(), "number_form": NumberSearchForm(), "pager_query": "",
               "number_limit": settings.LMS_NUMBER_SEARCH_LIMIT,
               "number_minutes": max(1, settings.LMS_NUMBER_SEARCH_WINDOW_S // 60)}
    if request.method == "POST":
        number_form = NumberSearchForm(request.POST)
        context["number_form"] = number_form
        status = 200
        if number_form.is_valid():
            try:
                matches = api.search_people_by_number(request.user, **number_form.cleaned_data)
            except api.TooManyAttempts as exc:
                context["refused"] = str(exc)
                status = 429
            except ValidationError as exc:
                _add_errors(number_form, exc)
            else:
                kind, number = number_form.cleaned_data["kind"], number_form.cleaned_data["number"]
                context["exact"] = {"kind": dict(number_form.fields["kind"].choices)[kind], "matches": matches,
                                    "masked": api.masked_number(kind, number)}
                context["rows"] = matches
        return render(request, "lms/people.html", context, status=status)
    form = PeopleSearchForm(request.GET or None)
    name = form.cleaned_data.get("name", "") if form.is_valid() else ""
    qs = api.find_people(request.user, name=name).prefetch_related("role_assignments")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    context.update(form=form, page=page, rows=page, listing=True,
                   pager_query=urlencode({"name": name}) if name else "")
    return render(request, "lms/people.html", context)


def _person_or_404(user, pk: int) -> User:
    try:
        return api.get_person(user, pk)
    except User.DoesNotExist:
        raise Http404 from None


@login_required
def person(request, pk: int):
    target = _person_or_404(request.user, pk)
    roles = target.role_assignments.select_related("region")
    return render(request, "lms/person.html", {"person": target, "roles": roles,
                                               "can_edit": api.can_edit_person(request.user, target)})


def _person_form(request, person=None):
    return PersonForm(request.POST or None, request.FILES or None, person=person,
                      regions=api.visible_regions(request.user).order_by("path"),
                      organisations=api.visible_organisations(request.user),
                      roles=api.grantable_roles(request.user))


@login_required
@sensitive_post_parameters("id_card", "phone")
@require_http_methods(["GET", "POST"])
def person_new(request):
    """Register a person (region admins: in their subtree; roles they may grant)."""
    _require_admin(request.user)
    form = _person_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            created = api.create_person(request.user, password=None, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _(
                "Registered %(name)s with the login name %(username)s. They set their password themselves: "
                "on the sign-in page, “Forgotten your password?”, with their mobile number %(phone)s "
                "(a code comes by text message).") % {
                "name": created.real_name, "username": created.username, "phone": created.phone_masked})
            return redirect("lms:person", pk=created.pk)
    return render(request, "lms/person_form.html", {"form": form, "person": None})


@login_required
@sensitive_post_parameters("id_card", "phone")
@require_http_methods(["GET", "POST"])
def person_edit(request, pk: int):
    _require_admin(request.user)
    target = _person_or_404(request.user, pk)
    if not api.can_edit_person(request.user, target):
        raise PermissionDenied(_("You cannot change this person's details."))
    form = _person_form(request, person=target)
    if request.method == "GET":
        form.initial = {"real_name": target.real_name, "username": target.username, "region": target.region_id,
                        "organisation": target.organisation_id,
                        "roles": sorted(set(target.role_assignments.values_list("role", flat=True)))}
    elif form.is_valid():
        data = dict(form.cleaned_data)
        # roles the actor may not grant are not offered in the form: they stay as they are
        held = set(target.role_assignments.values_list("role", flat=True))
        data["roles"] = sorted(set(data["roles"]) | (held - set(api.grantable_roles(request.user))))
        try:
            api.update_person(request.user, target, **data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Saved the changes to %(name)s.") % {"name": data["real_name"]})
            return redirect("lms:person", pk=target.pk)
    return render(request, "lms/person_form.html", {"form": form, "person": target})


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
    """The regions the admin sees, with every year's population figure. Import: a system admin imports regions
    and figures; a region admin imports population figures for the regions of their subtree (``api``)."""
    _require_admin(request.user)
    form = RegionImportForm()
    if request.method == "POST":
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
        "nodes": nodes, "form": form, "can_import": True,
        "population_only": not api.is_system_admin(request.user),
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


# ---------------------------------------------------------------- passwords


@login_required
@sensitive_post_parameters("old_password", "new_password", "new_password2")
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            api.change_password(request.user, old_password=form.cleaned_data["old_password"],
                                new_password=form.cleaned_data["new_password"])
        except api.TooManyAttempts as exc:
            form.add_error(None, str(exc))
            status = 429
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            update_session_auth_hash(request, request.user)  # this session stays, the others end
            messages.success(request, _("Your password has been changed. Your other sign-ins have been ended."))
            return redirect("lms:dashboard")
    return render(request, "lms/password_change.html", {"form": form}, status=status)


RESET_SESSION_KEY = "lms_password_reset"


@sensitive_post_parameters("identifier")
@require_http_methods(["GET", "POST"])
def password_reset(request):
    """Step 1: a login name, mobile number or e-mail; the same answer whether or not it names someone."""
    form = PasswordResetRequestForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            code_id = api.request_password_reset(form.cleaned_data["identifier"])
        except api.TooManyAttempts as exc:
            form.add_error(None, str(exc))
            status = 429
        else:
            request.session[RESET_SESSION_KEY] = {"code": code_id}
            return redirect("lms:password_reset_verify")
    return render(request, "lms/password_reset.html", {"form": form}, status=status)


@sensitive_post_parameters("code", "new_password", "new_password2")
@require_http_methods(["GET", "POST"])
def password_reset_verify(request):
    """Step 2: the code and the new password."""
    ticket = request.session.get(RESET_SESSION_KEY)
    if not isinstance(ticket, dict):
        return redirect("lms:password_reset")
    form = PasswordResetCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api.reset_password(ticket.get("code"), code=form.cleaned_data["code"],
                               new_password=form.cleaned_data["new_password"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            request.session.pop(RESET_SESSION_KEY, None)
            messages.success(request, _("Your password has been changed. Please log in with the new password."))
            return redirect("lms:login")
    return render(request, "lms/password_reset_verify.html",
                  {"form": form, "minutes": max(1, settings.LMS_RESET_CODE_TTL_S // 60)})


# ---------------------------------------------------------------- language


@require_http_methods(["GET"])
def language(request):
    """Switch the interface language by a link (pages cached for every visitor carry no form with a
    CSRF token: content.pagecache). Only the language cookie changes; back to ``next`` on this site."""
    from django.utils.http import url_has_allowed_host_and_scheme

    code = request.GET.get("language", "")
    target = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    response = redirect(target)
    if code in {c for c, _name in settings.LANGUAGES}:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE,
                            path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                            samesite=settings.LANGUAGE_COOKIE_SAMESITE)
    return response
