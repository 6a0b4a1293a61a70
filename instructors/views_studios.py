"""Studio pages (thin views over ``instructors.studios``; who may do what is in its docstring).

Public (no sign-in): ``/studios/`` lists the public studios, by region (``?region=<id>``: that region and
everything under it); ``/studios/<slug>/`` is a studio's page. A studio that is not public is shown only to
its managers and its head (with a banner), 404 to everyone else.

Management (``/studios/manage/…``): region and system admins, and studio heads; anyone else 403; a studio
outside the actor's scope 404 (its existence is not revealed). Every change goes through the api, which checks
the permission again and refuses with its reason (shown as a message or on the form).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from lms.models import Region
from lms.views import _add_errors
from lms.errors import messages_of as _messages_of

from . import studios
from .forms_studios import HeadForm, MemberForm, RegionFilterForm, ShowcaseForm, StudioCreateForm, StudioEditForm, \
    YearForm
from .models import InstructorProfile, Studio

YEARS_SHOWN = 5


def _tier_of(user) -> str:
    profile = getattr(user, "instructor_profile", None) if user is not None else None
    try:
        return profile.tier.name if profile is not None else ""
    except InstructorProfile.DoesNotExist:  # pragma: no cover
        return ""


# ------------------------------------------------------------------ public


def _regions_with_ancestors(paths) -> dict[str, Region]:
    """The regions at ``paths`` and every region above them, by path."""
    step = Region.steplen
    wanted = {p[:i] for p in paths for i in range(step, len(p) + 1, step)}
    return {r.path: r for r in Region.objects.filter(path__in=wanted)}


def _full_name(region: Region, by_path: dict[str, Region]) -> str:
    step = Region.steplen
    return "".join(by_path[region.path[:i]].name for i in range(step, len(region.path) + 1, step)
                   if region.path[:i] in by_path)


@require_GET
def studio_list(request):
    everything = list(studios.public_studios())
    by_path = _regions_with_ancestors({s.organisation.region.path for s in everything})
    form = RegionFilterForm(request.GET or None, regions=sorted(by_path.values(), key=lambda r: r.path))
    region = None
    if form.is_bound and form.is_valid() and form.cleaned_data.get("region"):
        region = next((r for r in by_path.values() if r.pk == form.cleaned_data["region"]), None)
    shown = [s for s in everything if region is None or s.organisation.region.path.startswith(region.path)]
    heads = {p.user_id: p.tier.name for p in InstructorProfile.objects.filter(
        user_id__in={s.head_id for s in shown}).select_related("tier")}
    groups: list[dict] = []
    for s in shown:
        s.head_tier = heads.get(s.head_id, "")
        where = _full_name(s.organisation.region, by_path)
        if not groups or groups[-1]["region"] != where:
            groups.append({"region": where, "studios": []})
        groups[-1]["studios"].append(s)
    return render(request, "instructors/studios/list.html", {
        "form": form, "region": region, "groups": groups, "count": len(shown), "total": len(everything)})


@require_GET
def studio_detail(request, slug: str):
    studio = studios.visible_studio(request.user, slug)
    if studio is None:
        raise Http404(_("No such studio."))
    this_year = timezone.localdate().year
    years = list(range(this_year, this_year - YEARS_SHOWN, -1))
    year_form = YearForm(request.GET or None, years=years)
    year = year_form.cleaned_data.get("year") if year_form.is_bound and year_form.is_valid() else None
    figures = studios.studio_figures(studio, year=year)
    classes, class_total = studios.recent_classes(studio)
    members = studios.public_members(studio)
    for m in members:
        m.tier_name = m.user.instructor_profile.tier.name
    showcase = studios.live_showcase(studio)
    for item in showcase:
        item.url = item.page.get_url(request)
    region = studio.organisation.region
    return render(request, "instructors/studios/detail.html", {
        "studio": studio, "region_name": region.full_name, "head_tier": _tier_of(studio.head),
        "members": members, "showcase": showcase, "classes": classes, "class_total": class_total,
        "f": figures["figures"], "figures": figures, "year": year, "year_form": year_form,
        "can_edit": request.user.is_authenticated and studios.can_edit(request.user, studio),
    })


# ------------------------------------------------------------------ management


def _require_manager(user) -> None:
    if not studios.is_studio_manager(user):
        raise PermissionDenied(_("This page is for region admins and the head instructors of studios."))


def _studio_or_404(user, slug: str) -> Studio:
    _require_manager(user)
    studio = studios.managed_studios(user).filter(slug=slug).first()
    if studio is None:
        raise Http404(_("No such studio."))
    return studio


def _manage_context(request, studio: Studio, tab: str) -> dict:
    return {"studio": studio, "tab": tab, "can_manage": studios.can_manage(request.user, studio)}


@login_required
@require_GET
def manage_list(request):
    _require_manager(request.user)
    rows = list(studios.with_counts(studios.managed_studios(request.user)).order_by("organisation__region__path",
                                                                                       "name"))
    return render(request, "instructors/studios/manage_list.html", {
        "studios": rows, "can_create": studios.is_region_or_system_admin(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def manage_new(request):
    if not studios.is_region_or_system_admin(request.user):
        raise PermissionDenied(_("Only region and system admins open studios."))
    form = StudioCreateForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            studio = studios.create_studio(request.user, name=data["name"], region=data["region"], head=data["head"],
                                           slug=data["slug"], introduction=data["introduction"],
                                           established_on=data["established_on"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The studio %(name)s is open. It is not public yet: add its members and "
                                        "showcase, then publish it.") % {"name": studio.name})
            return redirect("studios:manage_edit", slug=studio.slug)
    return render(request, "instructors/studios/manage_new.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def manage_edit(request, slug: str):
    studio = _studio_or_404(request.user, slug)
    head_only = not studios.can_manage(request.user, studio)
    initial = {"name": studio.name, "slug": studio.slug, "established_on": studio.established_on,
               "introduction": studio.introduction}
    action = request.POST.get("action", "save")
    form = StudioEditForm(request.POST if request.method == "POST" and action == "save" else None,
                          initial=initial, head_only=head_only)
    if request.method == "POST":
        if action in ("publish", "unpublish"):
            try:
                (studios.publish_studio if action == "publish" else studios.unpublish_studio)(request.user, studio)
            except ValidationError as exc:
                messages.error(request, _messages_of(exc))
            else:
                messages.success(request, _("The studio is public now.") if action == "publish"
                                 else _("The studio is no longer public."))
            return redirect("studios:manage_edit", slug=studio.slug)
        if action != "save":
            messages.error(request, _("Unknown action."))
            return redirect("studios:manage_edit", slug=studio.slug)
        if form.is_valid():
            try:
                studio = studios.update_studio(request.user, studio, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("studios:manage_edit", slug=studio.slug)
    context = _manage_context(request, studio, "edit")
    context.update({"form": form, "head_only": head_only})
    return render(request, "instructors/studios/manage_edit.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def manage_members(request, slug: str):
    studio = _studio_or_404(request.user, slug)
    can_manage = studios.can_manage(request.user, studio)
    action = request.POST.get("action", "")
    member_form = MemberForm(request.POST if action == "add" else None, studio=studio)
    head_form = HeadForm(request.POST if action == "head" else None, actor=request.user, studio=studio) \
        if can_manage else None
    if request.method == "POST":
        try:
            if action == "add":
                if member_form.is_valid():
                    studios.add_member(request.user, studio, member_form.cleaned_data["person"])
                    messages.success(request, _("%(name)s joined the studio.")
                                     % {"name": member_form.cleaned_data["person"].display_name})
                    return redirect("studios:manage_members", slug=studio.slug)
            elif action == "remove":
                person = studio.members.filter(pk=_int(request.POST.get("person"))).first()
                if person is None:
                    raise ValidationError(_("This person is not a member of the studio."))
                studios.remove_member(request.user, studio, person)
                messages.success(request, _("%(name)s left the studio.") % {"name": person.display_name})
                return redirect("studios:manage_members", slug=studio.slug)
            elif action == "head":
                if head_form is None:
                    raise PermissionDenied(_("Only the admins of the studio's region may do this."))
                if head_form.is_valid():
                    studios.set_head(request.user, studio, head_form.cleaned_data["head"])
                    messages.success(request, _("%(name)s is the studio's head instructor now.")
                                     % {"name": head_form.cleaned_data["head"].display_name})
                    return redirect("studios:manage_members", slug=studio.slug)
            else:
                messages.error(request, _("Unknown action."))
                return redirect("studios:manage_members", slug=studio.slug)
        except ValidationError as exc:
            form = head_form if action == "head" else member_form
            if form is not None and action in ("add", "head"):
                _add_errors(form, exc)
            else:
                messages.error(request, _messages_of(exc))
                return redirect("studios:manage_members", slug=studio.slug)
    studio.refresh_from_db()
    members = list(studio.memberships.select_related("user__instructor_profile__tier")
                   .order_by("user__real_name", "user_id"))
    for m in members:
        profile = getattr(m.user, "instructor_profile", None)
        m.tier_name = profile.tier.name if profile else ""
        m.suspended = bool(profile and profile.status == InstructorProfile.Status.SUSPENDED)
    context = _manage_context(request, studio, "members")
    context.update({"members": members, "member_form": member_form, "head_form": head_form,
                    "head_tier": _tier_of(studio.head)})
    return render(request, "instructors/studios/manage_members.html", context)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@require_http_methods(["GET", "POST"])
def manage_showcase(request, slug: str):
    studio = _studio_or_404(request.user, slug)
    action = request.POST.get("action", "")
    form = ShowcaseForm(request.POST if action == "add" else None, studio=studio)
    if request.method == "POST":
        try:
            if action == "add":
                if form.is_valid():
                    studios.add_showcase(request.user, studio, form.cleaned_data["page"],
                                         blurb=form.cleaned_data["blurb"])
                    messages.success(request, _("The course is in the showcase."))
                    return redirect("studios:manage_showcase", slug=studio.slug)
            elif action in ("remove", "up", "down"):
                page_id = _int(request.POST.get("page"))
                order = list(studio.showcase.values_list("page_id", flat=True))
                if page_id not in order:
                    raise ValidationError(_("This course is not in the showcase."))
                if action == "remove":
                    studios.remove_showcase(request.user, studio, page_id)
                    messages.success(request, _("The course was taken out of the showcase."))
                else:
                    i = order.index(page_id)
                    j = i - 1 if action == "up" else i + 1
                    if 0 <= j < len(order):
                        order[i], order[j] = order[j], order[i]
                        studios.reorder_showcase(request.user, studio, order)
                return redirect("studios:manage_showcase", slug=studio.slug)
            else:
                messages.error(request, _("Unknown action."))
                return redirect("studios:manage_showcase", slug=studio.slug)
        except ValidationError as exc:
            if action == "add":
                _add_errors(form, exc)
            else:
                messages.error(request, _messages_of(exc))
                return redirect("studios:manage_showcase", slug=studio.slug)
    items = list(studio.showcase.select_related("page"))
    for item in items:
        item.url = item.page.get_url(request) if item.page.live else None
    context = _manage_context(request, studio, "showcase")
    context.update({"items": items, "form": form})
    return render(request, "instructors/studios/manage_showcase.html", context)
