"""The region dashboards' pages (thin views over ``dashboards.indicators``).

- ``/dashboards/``: where a viewer's dashboards start: a region admin with one region goes straight to it,
  one with several gets the short list, a system admin the provinces; anyone else 403.
- ``/dashboards/<region_id>/?year=YYYY``: the dashboard of a region's whole subtree for a year (default the
  current one): headline figures, the targets, the drill-down to the regions below, the charts, the counties'
  studios and training bases, the instructors by tier. 404 for an unknown region, 403 outside the viewer's
  subtree (``indicators.require_dashboard``); a year that is not a whole number from ``FIRST_YEAR`` to the
  current year gets a page that says so (400).
- ``/dashboards/<region_id>/export.xlsx?year=YYYY``: the same figures as a workbook (``dashboards.export``).

Everything the region page shows is computed by ``page_data(user, region, year)`` (the benchmark times it).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Min
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET

from instructors.models import InstructorProfile
from lms import numbers
from lms.models import Region, RegionPopulation
from lms.permissions import can_manage_region, is_system_admin

from . import export as export_module
from . import facts, indicators
from .models import Cell, Target

FIRST_YEAR = 2000  # the first year a dashboard may be asked for
SELECTOR_FROM = 2021  # the year selector starts here (or earlier, when there are figures before)
TREND_YEARS = 5
COVERAGE_OPEN = 15  # the table of every county is shown open up to this many counties, else one click away
MEASURES = ("depth_mm", "rate_cpm", "recoil_pct", "ccf_pct")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DASH = numbers.DASH


# ------------------------------------------------------------------ formats


def fmt_count(value) -> str:
    return DASH if value is None else numbers.count(value)


def fmt_pct(value: Decimal | None) -> str:
    """A ratio in percent, already rounded down to 0.1 by the indicators."""
    return DASH if value is None else f"{value:.1f}%"


def fmt_per_100(value: Decimal | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def fmt_value(value: Decimal) -> str:
    """A target's value as entered (40.00 reads 40, 2.50 reads 2.5)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _float(value) -> float | None:
    return None if value is None else float(value)


def measure_labels() -> dict:
    """Name, unit and guideline target of each CPR measure, in the reader's language."""
    return {
        "depth_mm": {"name": _("Compression depth"), "unit": _("mm"), "target": _("50–60 mm")},
        "rate_cpm": {"name": _("Compression rate"), "unit": _("/min"), "target": _("100–120 /min")},
        "recoil_pct": {"name": _("Full recoil"), "unit": "%", "target": _("≥ %(pct)s%% of compressions") % {"pct": 80}},
        "ccf_pct": {"name": _("Compression fraction (CCF)"), "unit": "%", "target": _("≥ %(pct)s%% of the time") % {"pct": 80}},
    }


def _mean_text(measure: str, value: float | None) -> str:
    if value is None:
        return DASH
    if measure == "depth_mm":
        return _("%(value)s mm") % {"value": numbers.depth(value)}
    if measure == "rate_cpm":
        return _("%(value)s /min") % {"value": numbers.rate(value)}
    return numbers.pct(value)


def basis_label(basis: str) -> str:
    if basis == RegionPopulation.Basis.REGISTERED:
        return pgettext("population basis", "registered (户籍)")
    if basis == RegionPopulation.Basis.RESIDENT:
        return pgettext("population basis", "resident (常住)")
    return ""


# ------------------------------------------------------------------ the year asked for


class BadYear(ValueError):
    pass


def year_asked(request, today: dt.date) -> int:
    """The ``year`` of the query string (default: the current year); BadYear unless a whole number from
    ``FIRST_YEAR`` to the current year."""
    raw = request.GET.get("year", "").strip()
    if not raw:
        return today.year
    if not re.fullmatch(r"[0-9]{4}", raw) or not FIRST_YEAR <= int(raw) <= today.year:
        raise BadYear(raw)
    return int(raw)


def _bad_year(request, raw: str, region: Region | None, today: dt.date):
    return render(request, "dashboards/bad_year.html", {
        "raw": raw[:20], "region": region, "first": FIRST_YEAR, "last": today.year,
        "years": list(range(today.year, max(FIRST_YEAR, SELECTOR_FROM) - 1, -1)),
    }, status=400)


# ------------------------------------------------------------------ what the region page shows


def _ratio_tile(key, label, value, *, detail="", missing="", unit="", tags=()) -> dict:
    return {"key": key, "label": label, "value": value, "unit": unit, "detail": detail if value != DASH else missing,
            "missing": value == DASH, "tags": list(tags)}


def headline(f: indicators.Figures, today: dt.date) -> list[dict]:
    """The headline tiles of a region's figures: every ratio with its numerator, denominator and unit, and
    the reason when it cannot be computed."""
    pop = f.population
    no_pop = _("No population figure for this region or the regions below it.")
    tiles = []
    tags = [basis_label(f.population_basis)] if pop is not None else []
    if f.population_is_demo:
        tags.append(_("demo figure"))
    tiles.append(_ratio_tile("population", _("Population"), fmt_count(pop), unit=_("people"), tags=tags,
                             detail=_("The latest figure up to %(year)s.") % {"year": f.year}, missing=no_pop))
    tiles.append(_ratio_tile(
        "awareness", _("People reached in %(year)s") % {"year": f.year}, fmt_count(f.awareness),
        unit=_("person-times"),
        detail=_("%(n)s person-times since %(from)s") % {"n": fmt_count(f.awareness_cumulative),
                                                          "from": f.period_from}))
    tiles.append(_ratio_tile(
        "awareness_pct", _("Awareness rate (普及率)"), fmt_pct(f.awareness_pct),
        detail=_("%(n)s person-times since %(from)s ÷ %(pop)s people") % {
            "n": fmt_count(f.awareness_cumulative), "from": f.period_from, "pop": fmt_count(pop)},
        missing=no_pop))
    tiles.append(_ratio_tile(
        "certified", _("Certified first-aiders"), fmt_count(f.certified), unit=_("people"),
        detail=_("Valid certificates on %(day)s") % {"day": f.as_of.isoformat()}))
    tiles.append(_ratio_tile(
        "per_100", _("First-aiders per 100 people"), fmt_per_100(f.per_100), unit=_("per 100 people"),
        detail=_("%(n)s certified ÷ %(pop)s people × 100") % {"n": fmt_count(f.certified), "pop": fmt_count(pop)},
        missing=no_pop))
    tiles.append(_ratio_tile(
        "certificates_new", _("New certificates in %(year)s") % {"year": f.year}, fmt_count(f.certificates_new),
        unit=_("certificates"),
        detail=_("Renewals apart: %(n)s") % {"n": fmt_count(f.certificates_renewed)}))
    tiles.append(_ratio_tile(
        "valid_expired", _("Valid / expired certificates"),
        f"{fmt_count(f.certified)} / {fmt_count(f.expired)}", unit=_("certificates"),
        detail=_("On %(day)s; expired ones were not renewed") % {"day": f.as_of.isoformat()}))
    if f.expiring is not None:
        soon = f.as_of + dt.timedelta(days=indicators.EXPIRING_DAYS)
        tiles.append(_ratio_tile(
            "expiring", _("Expiring in the next %(days)s days") % {"days": indicators.EXPIRING_DAYS},
            fmt_count(f.expiring), unit=_("certificates"),
            detail=_("Valid today and expiring by %(day)s") % {"day": soon.isoformat()}))
    tiles.append(_ratio_tile(
        "theory", _("Theory exam pass rate"), fmt_pct(f.theory_pct),
        detail=_("%(passed)s passed of %(n)s graded attempts") % {
            "passed": fmt_count(f.theory_passed), "n": fmt_count(f.theory_graded)},
        missing=_("No graded theory attempt in %(year)s.") % {"year": f.year}))
    tiles.append(_ratio_tile(
        "practical", _("Practical exam pass rate"), fmt_pct(f.practical_pct),
        detail=_("%(passed)s passed of %(n)s signed results") % {
            "passed": fmt_count(f.practical_passed), "n": fmt_count(f.practical_results)},
        missing=_("No signed practical result in %(year)s.") % {"year": f.year}))
    tiles.append(_ratio_tile(
        "classes", _("Classes"), fmt_count(f.classes), unit=_("classes"),
        detail=_("Starting in %(year)s, not cancelled") % {"year": f.year}))
    return tiles


def cpr_quality(f: indicators.Figures) -> dict:
    """The CPR quality of the year's scored exam recordings: per measure the share in the guideline target
    (with the recordings it is over) and the mean, and the bins for the charts."""
    labels = measure_labels()
    rows = []
    for m in MEASURES:
        counts = f.cpr.hist.get(m) or []
        n = sum(counts)
        low, high = facts.IN_TARGET[m]
        edges = facts.BINS[m]
        first = edges.index(low) + 1
        last = len(edges) + 1 if high is None else edges.index(high) + 1
        bins = f.cpr.bins(m)
        rows.append({
            "measure": m, **labels[m], "n": n, "n_text": fmt_count(n),
            "in_target": fmt_pct(f.cpr.in_target_pct(m)), "mean": _mean_text(m, f.cpr.mean(m)),
            "bins": [{"label": label, "count": c, "count_text": fmt_count(c), "in_target": first <= i < last}
                     for i, (label, c) in enumerate(bins)],
        })
    return {"n": f.cpr.n, "n_text": fmt_count(f.cpr.n), "measures": rows}


def target_rows(f: indicators.Figures) -> list[dict]:
    """Each target of the region as a progress bar: actual and target in the indicator's unit (rounded down),
    the plan period, the region it is inherited from, met or not."""
    ind = Target.Indicator
    out = []
    for tp in f.targets:
        t = tp.target
        if t.indicator in (ind.AWARENESS_PCT, ind.NEW_CERTIFICATES_PCT):
            actual = fmt_pct(tp.actual) if t.indicator == ind.AWARENESS_PCT else (
                DASH if tp.actual is None else f"{tp.actual:.2f}%")
            value = f"{fmt_value(t.value)}%"
        elif t.indicator == ind.PER_100:
            actual, value = fmt_per_100(tp.actual), _("%(n)s per 100 people") % {"n": fmt_value(t.value)}
        else:  # new certificates per year
            actual = fmt_count(tp.actual)
            value = _("%(n)s certificates") % {"n": fmt_count(int(t.value))}
        progress = tp.progress_pct
        out.append({
            "indicator": t.get_indicator_display(), "code": t.indicator, "actual": actual, "value": value,
            "period": f"{t.year_from}–{t.year_to}", "source": t.source,
            "inherited_from": t.region.name if tp.inherited else "",
            "progress": fmt_pct(progress), "bar": min(int(progress), 100) if progress is not None else 0,
            "met": tp.met, "unknown": tp.actual is None,
        })
    return out


def drill_rows(rows: list[indicators.Figures]) -> list[dict]:
    out = []
    for f in rows:
        out.append({
            "region": f.region, "name": f.name, "link": not f.label, "population": fmt_count(f.population),
            "population_demo": f.population_is_demo, "awareness": fmt_count(f.awareness),
            "awareness_pct": fmt_pct(f.awareness_pct), "certified": fmt_count(f.certified),
            "per_100": fmt_per_100(f.per_100), "certificates_new": fmt_count(f.certificates_new),
            "theory": fmt_pct(f.theory_pct),
            "theory_of": f"{fmt_count(f.theory_passed)}/{fmt_count(f.theory_graded)}" if f.theory_graded else "",
            "practical": fmt_pct(f.practical_pct),
            "practical_of": (f"{fmt_count(f.practical_passed)}/{fmt_count(f.practical_results)}"
                             if f.practical_results else ""),
            "classes": fmt_count(f.classes),
        })
    return out


def _target_value(f: indicators.Figures, indicator: str) -> float | None:
    for tp in f.targets:
        if tp.target.indicator == indicator:
            return float(tp.target.value)
    return None


def _target_years(f: indicators.Figures, indicator: str) -> tuple[int, int] | None:
    for tp in f.targets:
        if tp.target.indicator == indicator:
            return tp.target.year_from, tp.target.year_to
    return None


def chart_data(f: indicators.Figures, trend: list[indicators.Figures], cpr: dict, tiers: list) -> dict:
    """What the charts draw (``json_script``): numbers and the labels in the reader's language."""
    ind = Target.Indicator
    new_target = _target_value(f, ind.NEW_CERTIFICATES)
    new_years = _target_years(f, ind.NEW_CERTIFICATES)
    return {
        "labels": {
            "awareness": _("People reached (person-times)"), "awareness_pct": _("Awareness rate, cumulative (%)"),
            "certificates_new": _("New certificates"), "certificates_renewed": _("Renewals"),
            "target": _("Target"), "per_100": _("First-aiders per 100 people"), "recordings": _("Recordings"),
            "in_target": _("In the guideline target"), "outside": _("Outside the target"),
            "active": str(InstructorProfile.Status.ACTIVE.label),
            "suspended": str(InstructorProfile.Status.SUSPENDED.label),
            "instructors": _("Instructors"),
        },
        "trend": {
            "years": [t.year for t in trend],
            "awareness": [t.awareness for t in trend],
            "awareness_pct": [_float(t.awareness_pct) for t in trend],
            "certificates_new": [t.certificates_new for t in trend],
            "certificates_renewed": [t.certificates_renewed for t in trend],
            "per_100": [_float(t.per_100) for t in trend],
            "target_awareness_pct": _target_value(f, ind.AWARENESS_PCT),
            "target_per_100": _target_value(f, ind.PER_100),
            "target_certificates_new": [
                new_target if new_years and new_years[0] <= t.year <= new_years[1] else None for t in trend],
        },
        "cpr": {m["measure"]: {"name": m["name"], "unit": m["unit"], "labels": [b["label"] for b in m["bins"]],
                               "counts": [b["count"] for b in m["bins"]],
                               "in_target": [b["in_target"] for b in m["bins"]]} for m in cpr["measures"]},
        "tiers": {"names": [t[0] for t in tiers], "active": [t[1] for t in tiers], "suspended": [t[2] for t in tiers]},
    }


def trend_rows(trend: list[indicators.Figures]) -> list[dict]:
    return [{"year": t.year, "awareness": fmt_count(t.awareness), "awareness_cumulative": fmt_count(
        t.awareness_cumulative), "awareness_pct": fmt_pct(t.awareness_pct), "certificates_new": fmt_count(
        t.certificates_new), "certificates_renewed": fmt_count(t.certificates_renewed), "certified": fmt_count(
        t.certified), "per_100": fmt_per_100(t.per_100), "population": fmt_count(t.population)} for t in trend]


def coverage_data(region: Region, year: int) -> dict:
    rows = indicators.coverage(region, year)
    lacking = [c for c in rows if not c.complete]
    return {
        "rows": sorted(rows, key=lambda c: c.complete),  # the counties lacking one first (stable: 区划 order)
        "lacking": len(lacking), "lacking_rows": lacking,
        "open": len(rows) <= COVERAGE_OPEN,
        "no_studio": sum(1 for c in rows if not c.studios),
        "no_base": sum(1 for c in rows if not c.training_bases),
        "counties": len(rows),
    }


def selector_years(region: Region, year: int, today: dt.date) -> list[int]:
    """The years to choose from: from 2021 (or the first year with figures in the subtree, or the year shown)
    to this year."""
    first = (Cell.objects.filter(region__path__startswith=region.path).aggregate(m=Min("month"))["m"])
    start = max(FIRST_YEAR, min(SELECTOR_FROM, year, first.year if first else SELECTOR_FROM))
    return list(range(today.year, start - 1, -1))


def breadcrumb(user, region: Region) -> list[Region]:
    """The regions above ``region`` that the viewer may open (a county admin sees none of them)."""
    return [a for a in region.get_ancestors() if can_manage_region(user, a)]


def targets_url() -> str | None:
    try:
        return reverse("dashboard_targets:list")
    except NoReverseMatch:
        return None


def page_data(user, region: Region, year: int, today: dt.date | None = None) -> dict:
    """Everything the region page shows, for ``region``'s subtree and ``year`` (the viewer checked already)."""
    today = today or timezone.localdate()
    rows = indicators.table(region, year, today)
    f = rows[0]
    years = [y for y in range(year - TREND_YEARS + 1, year + 1) if y >= FIRST_YEAR]
    trend = indicators.trend(region, years[:-1], today) + [f]
    cpr = cpr_quality(f)
    tiers = indicators.instructors_by_tier(region)
    return {
        "region": region, "year": year, "figures": f, "current": year == today.year,
        "breadcrumb": breadcrumb(user, region),
        "years": selector_years(region, year, today),
        "tiles": headline(f, today),
        "cpr": cpr,
        "targets": target_rows(f),
        "children": drill_rows(rows[1:]),
        "trend": trend_rows(trend),
        "coverage": coverage_data(region, year),
        "tiers": [{"name": name, "active": fmt_count(a), "suspended": fmt_count(s), "total": fmt_count(a + s)}
                  for name, a, s in tiers],
        "tiers_total": fmt_count(sum(a + s for _n, a, s in tiers)),
        "data": chart_data(f, trend, cpr, tiers),
        "targets_url": targets_url(),
        "as_of": f.as_of,
        "expiring_days": indicators.EXPIRING_DAYS,
    }


# ------------------------------------------------------------------ views


@login_required
@require_GET
def index(request):
    user = request.user
    indicators.require_dashboard(user)
    tops = indicators.top_regions(user)
    if len(tops) == 1 and not is_system_admin(user):
        return redirect("dashboards:region", region_id=tops[0].pk)
    return render(request, "dashboards/index.html", {"regions": tops, "system_admin": is_system_admin(user)})


def _asked(request, region_id: int):
    """The region (404 unknown, 403 outside the viewer's subtree), the year asked for and today; or the page
    that says the year is not one to show."""
    region = get_object_or_404(Region, pk=region_id)
    indicators.require_dashboard(request.user, region)
    today = timezone.localdate()
    try:
        return region, year_asked(request, today), today, None
    except BadYear as e:
        return region, None, today, _bad_year(request, str(e), region, today)


@login_required
@require_GET
def region_page(request, region_id: int):
    region, year, today, refusal = _asked(request, region_id)
    if refusal is not None:
        return refusal
    return render(request, "dashboards/region.html", page_data(request.user, region, year, today))


@login_required
@require_GET
def export(request, region_id: int):
    region, year, _today, refusal = _asked(request, region_id)
    if refusal is not None:
        return refusal
    data = export_module.workbook(request.user, region, year)
    response = HttpResponse(data, content_type=XLSX)
    what = _("first-aid training indicators")
    filename = f"{region.name}-{year}-{what}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
