"""Inspection pages (/inspections/…): thin views over ``inspections.api``.

An inspection anyone may not see as such answers 404 (its existence is not revealed): a planned inspection
is visible to its planners and its inspector only (``inspections.permissions``). The phone checklist posts
JSON changes and photos; those endpoints answer JSON (401 when the session has expired, so the phone keeps
what it has and asks to sign in again).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lms import permissions as lms_permissions
from lms.models import User
from lms.views import _add_errors

from . import api, permissions, planning
from .forms import FindingForm, FollowUpForm, PlanForm
from .models import Finding, Inspection, InspectionPhoto

STATIC_DIR = Path(__file__).resolve().parent / "static" / "inspections"


def _inspection_or_404(user, pk: int) -> Inspection:
    inspection = permissions.inspections_for(user).select_related("checklist").filter(pk=pk).first()
    if inspection is None:
        raise Http404
    return inspection


def _finding_or_404(user, pk: int) -> Finding:
    finding = permissions.findings_for(user).filter(pk=pk).first()
    if finding is None:
        raise Http404
    return finding


@login_required
@require_GET
def home(request):
    user = request.user
    planner = permissions.is_planner(user)
    mine = (Inspection.objects.filter(inspector=user).exclude(status=Inspection.Status.CLOSED)
            .select_related("training_class__training_base").order_by("scheduled_on", "pk"))
    if not planner and not mine.exists() and not user.has_role("inspector"):
        raise PermissionDenied(_("This page is for inspectors and region admins."))
    plans = permissions.plans_for(user).annotate(n=Count("inspections"))[:50] if planner else []
    return render(request, "inspections/home.html", {"mine": mine, "plans": plans, "planner": planner})


@login_required
@require_GET
def findings(request):
    qs = (permissions.findings_for(request.user).select_related("inspection__training_class")
          .order_by("status", "deadline", "pk"))
    return render(request, "inspections/findings.html", {"findings": qs[:200], "today": timezone.localdate(),
                                                         "is_planner": permissions.is_planner(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def plan_new(request):
    if not permissions.is_planner(request.user):
        raise PermissionDenied(_("Only region admins plan inspections."))
    regions = lms_permissions.visible_regions(request.user).filter(depth__lte=3).order_by("path")
    form = PlanForm(request.POST or None, regions=regions)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            plan = api.create_plan(request.user, region=d["region"], name=d["name"], period_start=d["period_start"],
                                   period_end=d["period_end"], sample_size=d["sample_size"], checklist=d["checklist"],
                                   seed=d["seed"], weights=d["weights"])
        except ValidationError as e:
            _add_errors(form, e)
        else:
            messages.success(request, _("The plan is drawn: assign an inspector to each inspection."))
            return redirect("inspections:plan", pk=plan.pk)
    return render(request, "inspections/plan_new.html", {"form": form, "defaults": planning.DEFAULT_WEIGHTS})


@login_required
@require_GET
def plan(request, pk: int):
    plan = permissions.plans_for(request.user).filter(pk=pk).first()
    if plan is None:
        raise Http404
    from courses.models import TrainingClass

    classes = TrainingClass.objects.in_bulk([r["class"] for r in plan.population])
    drawn = set(plan.drawn)
    rows = [{**r, "klass": classes.get(r["class"]), "drawn": r["class"] in drawn} for r in plan.population]
    inspections = list(plan.inspections.select_related("training_class__training_base", "inspector"))
    for i in inspections:
        i.eligible = permissions.eligible_inspectors(i) if i.status == Inspection.Status.PLANNED else []
    return render(request, "inspections/plan.html", {
        "plan": plan, "rows": rows, "inspections": inspections, "reproduced": planning.redraw(plan) == plan.drawn,
        "factors": planning.FACTORS})


@login_required
@require_GET
def detail(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    can_plan = permissions.can_plan(request.user, inspection)
    is_inspector = permissions.is_inspector_of(request.user, inspection)
    findings = list(inspection.findings.prefetch_related("follow_ups__by"))
    answers = [{"item": i, "answer": inspection.answers.get(i["code"], {})} for i in inspection.checklist.items]
    present = len(inspection.present)
    return render(request, "inspections/detail.html", {
        "inspection": inspection, "can_plan": can_plan, "is_inspector": is_inspector, "findings": findings,
        "answers": answers, "present": present, "photos": inspection.photos.all(),
        "finding_form": FindingForm(checklist=inspection.checklist, initial={
            "deadline": timezone.localdate() + datetime.timedelta(days=30)}),
        "eligible": permissions.eligible_inspectors(inspection)
        if can_plan and inspection.status == Inspection.Status.PLANNED else [],
        "today": timezone.localdate()})


@login_required
@require_POST
def assign(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    if not permissions.can_plan(request.user, inspection):
        raise Http404
    choice = request.POST.get("inspector", "")
    try:
        if choice == "random":
            api.assign_random_inspector(request.user, inspection)
        else:
            person = User.objects.filter(pk=int(choice)).first() if choice.isdigit() else None
            if person is None:
                raise ValidationError({"inspector": [_("Choose an inspector.")]})
            api.assign_inspector(request.user, inspection, person)
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
    else:
        messages.success(request, _("The inspector is assigned."))
    return redirect(request.POST.get("next") == "plan" and inspection.plan_id
                    and reverse("inspections:plan", args=[inspection.plan_id]) or reverse("inspections:detail", args=[pk]))


@login_required
@require_POST
def start(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    try:
        api.start_inspection(request.user, inspection)
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
        return redirect("inspections:detail", pk=pk)
    return redirect("inspections:checklist", pk=pk)


@login_required
@require_GET
def checklist(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    if not permissions.is_inspector_of(request.user, inspection):
        raise Http404
    if inspection.status == Inspection.Status.PLANNED:
        return redirect("inspections:detail", pk=pk)
    roster = api.roster(inspection)
    groups = planning.grouped_items(inspection.checklist)
    config = {
        "id": inspection.pk,
        "status": inspection.status,
        "state": api.checklist_state(inspection),
        "items": inspection.checklist.items,
        "roster": [{"id": e.pk, "name": e.user.display_name, "phone": e.user.phone_masked} for e in roster],
        "urls": {"changes": reverse("inspections:changes", args=[pk]), "photos": reverse("inspections:photos", args=[pk]),
                 "sw": reverse("inspections:sw"), "login": reverse("lms:login") + "?next=" + request.path},
        "labels": {
            "saved_local": _("Saved on this phone: %(n)s changes to send"),
            "offline": _("Offline: everything is kept on this phone and sent when the network is back"),
            "sending": _("Sending…"),
            "sent": _("All sent to the server"),
            "retry": _("Not sent yet: trying again in %(s)s s"),
            "signed_out": _("Signed out: sign in again, nothing on this phone is lost"),
            "rejected": _("Refused by the server: %(reason)s"),
            "photo_waiting": _("Kept on this phone, to send"),
            "photo_sent": pgettext("photo upload", "Sent"),
            "present": _("Present: %(n)s of %(total)s"),
            "per_manikin": _("Trainees per manikin: %(n)s"),
            "submit_wait": _("Send everything before submitting"),
            "unanswered": _("%(n)s items not answered"),
        },
    }
    return render(request, "inspections/checklist.html", {"inspection": inspection, "groups": groups,
                                                          "roster": roster, "config": config})


def _json_user(request):
    if not request.user.is_authenticated:
        return None, JsonResponse({"error": _("Please log in first.")}, status=401)
    return request.user, None


@require_POST
def changes(request, pk: int):
    user, refused = _json_user(request)
    if refused:
        return refused
    inspection = _inspection_or_404(user, pk)
    if not permissions.is_inspector_of(user, inspection):
        raise Http404
    try:
        payload = json.loads(request.body or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {"id": None, "body": None}
    try:
        state = api.save_checklist_change(user, inspection, client_id=payload.get("id"), body=payload.get("body"))
    except ValidationError as e:
        return JsonResponse({"error": " ".join(e.messages), "rejected": True}, status=400)
    return JsonResponse(state)


@require_POST
def photos(request, pk: int):
    user, refused = _json_user(request)
    if refused:
        return refused
    inspection = _inspection_or_404(user, pk)
    if not permissions.is_inspector_of(user, inspection):
        raise Http404
    taken = parse_datetime(request.POST.get("taken_at", "") or "") if request.POST.get("taken_at") else None
    try:
        photo = api.upload_photo(user, inspection, client_id=request.POST.get("client_id"),
                                 upload=request.FILES.get("photo"), item_code=request.POST.get("item_code", ""),
                                 caption=request.POST.get("caption", ""), taken_at=taken)
    except ValidationError as e:
        return JsonResponse({"error": " ".join(e.messages), "rejected": True}, status=400)
    return JsonResponse({"id": photo.pk, "client_id": str(photo.client_id), "size_bytes": photo.size_bytes})


@login_required
@require_GET
def photo_file(request, pk: int):
    photo = get_object_or_404(InspectionPhoto.objects.select_related("inspection"), pk=pk)
    if not permissions.can_see(request.user, photo.inspection):
        raise Http404
    return FileResponse(photo.file.open("rb"), content_type="image/png" if photo.file.name.endswith(".png")
                        else "image/jpeg")


@login_required
@require_POST
def submit(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    try:
        api.submit_inspection(request.user, inspection)
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
        return redirect("inspections:checklist" if inspection.status == Inspection.Status.IN_PROGRESS
                        else "inspections:detail", pk=pk)
    messages.success(request, _("The checklist is submitted. Record the findings below."))
    return redirect("inspections:detail", pk=pk)


@login_required
@require_POST
def finding_new(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    form = FindingForm(request.POST, checklist=inspection.checklist)
    if form.is_valid():
        d = form.cleaned_data
        try:
            api.add_finding(request.user, inspection, severity=d["severity"], deadline=d["deadline"],
                            description=d["description"], item_code=d["item_code"],
                            client_id=request.POST.get("client_id") or None)
        except ValidationError as e:
            for m in e.messages:
                messages.error(request, m)
        else:
            messages.success(request, _("The finding is recorded."))
    else:
        for errors in form.errors.values():
            for m in errors:
                messages.error(request, m)
    return redirect(reverse("inspections:detail", args=[pk]) + "#findings")


@login_required
@require_http_methods(["GET", "POST"])
def finding(request, pk: int):
    finding = _finding_or_404(request.user, pk)
    user = request.user
    can_rectify = permissions.can_rectify(user, finding)
    can_verify = permissions.can_verify(user, finding)
    form = FollowUpForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                if d["action"] == "rectify":
                    api.report_rectification(user, finding, note=d["note"])
                elif d["action"] == "verify":
                    api.verify_finding(user, finding, note=d["note"])
                else:
                    api.reopen_finding(user, finding, note=d["note"], deadline=d["deadline"])
            except ValidationError as e:
                _add_errors(form, e)
            else:
                messages.success(request, _("The follow-up is recorded."))
                return redirect("inspections:finding", pk=pk)
    return render(request, "inspections/finding.html", {
        "finding": finding, "follow_ups": finding.follow_ups.select_related("by"), "form": form,
        "can_rectify": can_rectify and finding.status == Finding.Status.OPEN,
        "can_verify": can_verify and finding.status == Finding.Status.RECTIFIED,
        "sees_inspection": permissions.can_see(user, finding.inspection), "today": timezone.localdate()})


@login_required
@require_POST
def close(request, pk: int):
    inspection = _inspection_or_404(request.user, pk)
    try:
        api.close_inspection(request.user, inspection)
    except ValidationError as e:
        for m in e.messages:
            messages.error(request, m)
    else:
        messages.success(request, _("The inspection is closed."))
    return redirect("inspections:detail", pk=pk)


@require_GET
def service_worker(request):
    """The checklist's service worker, served under /inspections/ so that it may control the checklist pages."""
    response = HttpResponse((STATIC_DIR / "sw.js").read_text(encoding="utf-8"),
                            content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/inspections/"
    return response

