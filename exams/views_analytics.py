"""Thin views of the exam analytics for staff (rules and scope in ``exams/analytics.py``): pass rates
by region, organisation and class; item statistics per question version; XLSX exports of both.
Every view and export checks the permission on the server (403 for anyone but system, region and
organisation admins) and counts only the attempts in the viewer's scope."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import analytics
from .models import Blueprint

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _blueprint(request) -> Blueprint | None:
    value = (request.GET.get("blueprint") or "").strip()
    return Blueprint.objects.filter(pk=int(value)).first() if value.isdigit() else None


def _module_id(request) -> int | None:
    value = (request.GET.get("module") or "").strip()
    return int(value) if value.isdigit() else None


def _blueprints():
    return Blueprint.objects.select_related("programme").order_by("-is_active", "name")


def _xlsx(content: bytes, name: str) -> HttpResponse:
    resp = HttpResponse(content, content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y%m%d}.xlsx"'
    return resp


@never_cache
@login_required
@require_GET
def overview(request):
    """Pass rates by region, organisation and class (filter: the exam)."""
    analytics.require_analytics(request.user)
    blueprint = _blueprint(request)
    return render(request, "exams/analytics/overview.html", {
        "rates": analytics.pass_rates(request.user, blueprint), "blueprint": blueprint,
        "blueprints": _blueprints(), "query": request.GET.urlencode(),
    })


@never_cache
@login_required
@require_GET
def overview_export(request):
    analytics.require_analytics(request.user)
    rates = analytics.pass_rates(request.user, _blueprint(request))
    return _xlsx(analytics.pass_rates_xlsx(rates), "exam-pass-rates")


@never_cache
@login_required
@require_GET
def questions(request):
    """Difficulty and discrimination per question version, weak questions flagged (filters: exam, module)."""
    analytics.require_analytics(request.user)
    blueprint, module_id = _blueprint(request), _module_id(request)
    rows = analytics.item_statistics(request.user, blueprint, module_id)
    only_flagged = request.GET.get("flagged") == "1"
    if only_flagged:
        rows = [r for r in rows if r.flags]
    return render(request, "exams/analytics/questions.html", {
        "rows": rows, "blueprint": blueprint, "blueprints": _blueprints(), "module_id": module_id,
        "modules": analytics.question_modules(), "only_flagged": only_flagged, "query": request.GET.urlencode(),
        "min_sample": analytics.MIN_SAMPLE, "flagged_count": sum(1 for r in rows if r.flags),
    })


@never_cache
@login_required
@require_GET
def questions_export(request):
    analytics.require_analytics(request.user)
    rows = analytics.item_statistics(request.user, _blueprint(request), _module_id(request))
    return _xlsx(analytics.item_statistics_xlsx(rows), "exam-item-statistics")
