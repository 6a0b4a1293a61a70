"""The region dashboards as a workbook, in the shape the Red Cross offices exchange (one row per region,
subtotals per city, the total last).

Sheet 1 (indicators): a title, then one row per county with its city's subtotal after the city's counties,
and the total of the region exported last. A city exported: its counties, then its total; a county: itself as
the total. Facts recorded on a city or province itself (not on a county below it) are a row of their own
("directly") before that region's subtotal or total. Subtotals and totals are the figures of that region
(sums of counts, ratios recomputed from the sums — never an average of ratios). Ratios are the rounded-down
values of ``dashboards.indicators``, written as numbers; counts as whole numbers.

Sheet 2 (notes): what each column counts, the day the figures are as of, who exported them and what they
see, the targets, and a warning when population figures are demo figures.

A province costs one ``indicators.table`` call per city plus one (each reads summary cells), and one
``indicators.coverage`` call for the studios, training bases and inspections of every county.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from lms.models import Region, RegionPopulation
from lms.permissions import administered_regions, is_system_admin

from . import indicators
from .indicators import Figures
from .targets import display_value

COUNT = "#,##0"
PCT = "0.0"
PER_100 = "0.00"


@dataclass
class Row:
    kind: str  # "county" (a region below the subtotal), "direct", "subtotal", "total"
    figures: Figures
    studios: int | None = None
    training_bases: int | None = None
    inspections: int | None = None


def columns():
    """(key, header, width, number format, value of a Row) for every column, in order."""
    def f(attr):
        return lambda r: getattr(r.figures, attr)

    def cpr(measure):
        return lambda r: r.figures.cpr.in_target_pct(measure)

    return [
        ("region", _("Region"), 22, None, _region_label),
        ("level", _("Level"), 8, None, _level_label),
        ("code", _("Division code"), 13, "@", lambda r: r.figures.region.code if r.kind != "direct" else ""),
        ("population", _("Population"), 13, COUNT, f("population")),
        ("basis", _("Population basis"), 16, None, _basis_label),
        ("awareness", _("People reached in the year"), 12, COUNT, f("awareness")),
        ("awareness_cumulative", _("People reached since the period began"), 14, COUNT, f("awareness_cumulative")),
        ("awareness_pct", _("Awareness rate (普及率, %)"), 9, PCT, f("awareness_pct")),
        ("certified", _("Certified first-aiders (valid)"), 13, COUNT, f("certified")),
        ("per_100", _("First-aiders per 100 people"), 11, PER_100, f("per_100")),
        ("certificates_new", _("New certificates"), 11, COUNT, f("certificates_new")),
        ("certificates_renewed", _("Renewed certificates"), 11, COUNT, f("certificates_renewed")),
        ("expired", _("Expired certificates"), 11, COUNT, f("expired")),
        ("expiring", _("Expiring within 90 days"), 11, COUNT, f("expiring")),
        ("theory_graded", _("Theory attempts graded"), 11, COUNT, f("theory_graded")),
        ("theory_passed", _("Theory attempts passed"), 11, COUNT, f("theory_passed")),
        ("theory_pct", _("Theory pass rate (%)"), 9, PCT, f("theory_pct")),
        ("practical_results", _("Practical results"), 11, COUNT, f("practical_results")),
        ("practical_passed", _("Practical results passed"), 11, COUNT, f("practical_passed")),
        ("practical_pct", _("Practical pass rate (%)"), 9, PCT, f("practical_pct")),
        ("classes", _("Classes"), 9, COUNT, f("classes")),
        ("cpr_n", _("CPR exam recordings"), 11, COUNT, lambda r: r.figures.cpr.n),
        ("depth_in_target_pct", _("Depth 50–60 mm (%)"), 9, PCT, cpr("depth_mm")),
        ("rate_in_target_pct", _("Rate 100–120 per minute (%)"), 9, PCT, cpr("rate_cpm")),
        ("recoil_in_target_pct", _("Full recoil ≥80 % (%)"), 9, PCT, cpr("recoil_pct")),
        ("ccf_in_target_pct", _("CCF ≥80 % (%)"), 9, PCT, cpr("ccf_pct")),
        ("studios", _("Studios"), 8, COUNT, lambda r: r.studios),
        ("training_bases", _("Training bases"), 9, COUNT, lambda r: r.training_bases),
        ("inspections", _("Inspections carried out"), 11, COUNT, lambda r: r.inspections),
    ]


def _region_label(r: Row) -> str:
    if r.kind == "subtotal":
        return _("%(region)s subtotal") % {"region": r.figures.region.name}
    if r.kind == "total":
        return _("%(region)s total") % {"region": r.figures.region.name}
    return r.figures.name


def _level_label(r: Row) -> str:
    return r.figures.region.get_level_display() if r.kind != "direct" else ""


def _basis_label(r: Row) -> str:
    f = r.figures
    if f.population is None or not f.population_basis:
        return ""
    label = str(RegionPopulation.Basis(f.population_basis).label)
    demo = _("demo figure")
    return f"{label} ({demo})" if f.population_is_demo else label


def rows(region: Region, year: int, today: dt.date | None = None) -> list[Row]:
    """The rows of the indicators sheet, in order (no permission check: ``workbook`` does it)."""
    cover = {c.region.pk: c for c in indicators.coverage(region, year)}

    def with_coverage(row: Row) -> Row:
        if row.kind == "direct":
            return row
        path = row.figures.region.path
        parts = [c for c in cover.values() if c.region.path.startswith(path)]
        row.studios = sum(c.studios for c in parts)
        row.training_bases = sum(c.training_bases for c in parts)
        row.inspections = sum(c.inspections for c in parts)
        return row

    def block(parent_table: list[Figures], closing: str) -> list[Row]:
        """The children of a region (and its "directly" row), then the region as ``closing``."""
        parent, rest = parent_table[0], parent_table[1:]
        out = [with_coverage(Row("direct" if f.label else "county", f)) for f in rest]
        return out + [with_coverage(Row(closing, parent))]

    top = indicators.table(region, year, today)
    if region.level != Region.Level.PROVINCE or not any(not f.label for f in top[1:]):
        return block(top, "total")  # a city (its counties, then the total), a county, a province without cities
    out: list[Row] = []
    for f in top[1:]:
        if f.label:  # facts recorded on the province itself
            out.append(Row("direct", f))
            continue
        out += block(indicators.table(f.region, year, today), "subtotal")
    return out + [with_coverage(Row("total", top[0]))]


def _scope_text(user) -> str:
    if is_system_admin(user):
        return _("all regions (system admin)")
    return "、".join(r.full_name for r in sorted(administered_regions(user), key=lambda r: r.path))


def workbook(user, region: Region, year: int, *, today: dt.date | None = None) -> bytes:
    """The workbook of ``region``'s subtree for ``year``; PermissionDenied outside the user's regions."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    indicators.require_dashboard(user, region)
    today = today or timezone.localdate()
    as_of = indicators.as_of_day(year, today)
    data = rows(region, year, today)
    cols = columns()

    wb = Workbook()
    ws = wb.active
    ws.title = _("Indicators")[:31]
    bold = Font(bold=True)
    ws.append([_("%(region)s: first-aid training indicators, %(year)s") % {"region": region.full_name,
                                                                            "year": year}])
    ws["A1"].font = Font(bold=True, size=13)
    periods = sorted({r.figures.period_from for r in data})
    since = (_("People reached since %(year)s.") % {"year": periods[0]} if len(periods) == 1
             else _("People reached since the start of each region's plan period (%(years)s).")
             % {"years": ", ".join(str(p) for p in periods)})
    ws.append([" ".join([
        _("As of %(day)s.") % {"day": as_of.isoformat()}, since,
        _("Population: the region's figure for the year or the latest earlier one (the basis column says "
          "registered 户籍 or resident 常住).") + " " + _("Ratios are rounded down.")])])
    ws.append([c[1] for c in cols])
    header_row = 3
    for cell in ws[header_row]:
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r in data:
        ws.append([value(r) for _k, _h, _w, _fmt, value in cols])
        excel_row = ws.max_row
        for i, (_k, _h, _w, fmt, _v) in enumerate(cols, start=1):
            cell = ws.cell(row=excel_row, column=i)
            if fmt:
                cell.number_format = fmt
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula
            if r.kind in ("subtotal", "total"):
                cell.font = bold
        if r.kind in ("county", "direct") and region.level != Region.Level.COUNTY:
            ws.cell(row=excel_row, column=1).alignment = Alignment(indent=1)
    for i, (_k, _h, width, _fmt, _v) in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.row_dimensions[header_row].height = 60
    ws.freeze_panes = ws.cell(row=header_row + 1, column=2).coordinate  # below the header, right of the names

    _notes(wb.create_sheet(_("Notes")[:31]), user, region, year, as_of, data)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _notes(ws, user, region: Region, year: int, as_of: dt.date, data: list[Row]) -> None:
    from openpyxl.styles import Alignment, Font

    total = data[-1].figures
    lines: list[tuple[str, str]] = [
        (_("Region"), region.full_name),
        (_("Year"), str(year)),
        (_("Figures as of"), as_of.isoformat()),
        (_("Exported"), timezone.localtime().strftime("%Y-%m-%d %H:%M")),
        (_("Exported by"), getattr(user, "display_name", "") or user.get_username()),
        (_("Their regions"), _scope_text(user)),
    ]
    if any(r.figures.population_is_demo for r in data):
        lines.append((_("Warning"), _("Some population figures are demo figures, made up for the demonstration: "
                                      "the ratios computed from them are not statistics.")))
    lines.append(("", ""))
    lines.append((_("Definitions"), ""))
    lines += [
        (_("Population"), _("The region's own figure for the year, else its latest earlier one, else the sum of "
                            "the regions below it. The targets count the registered (户籍) population; where only "
                            "the census resident (常住) population is known it stands in, and the Basis column "
                            "says so.")),
        (_("People reached"), _("Awareness training (普及培训), counted in person-times (人次) where the training "
                                "was held: someone trained twice counts twice.")),
        (_("Awareness rate (普及率, %)"), _("People reached since the plan period began ÷ population × 100. The "
                                            "period begins in the first year of the 普及率 target that applies to "
                                            "the region, else in the first year with data.")),
        (_("Certified first-aiders"), _("First-aider certificates that are valid on the day the figures are as of: "
                                        "not revoked, not expired, not replaced by a renewal (a renewed certificate "
                                        "is one first-aider, not two).")),
        (_("First-aiders per 100 people"), _("Certified first-aiders ÷ population × 100.")),
        (_("New certificates"), _("First-aider certificates issued in the year; renewals (refresher) are counted "
                                  "apart; revoked ones do not count.")),
        (_("Expired certificates"), _("Certificates that expired before the day the figures are as of and were not "
                                      "renewed.")),
        (_("Expiring within 90 days"), _("Valid certificates expiring within 90 days (the current year only).")),
        (_("Theory pass rate (%)"), _("Passed ÷ graded theory exam attempts, each attempt counted (a retake is a "
                                      "new attempt), in the month submitted and the trainee's region.")),
        (_("Practical pass rate (%)"), _("Passed ÷ signed practical exam results, the latest version of each "
                                         "sitting, in the candidate's region.")),
        (_("Classes"), _("Classes that were not cancelled, in the month they start and the training base's "
                         "region.")),
        (_("CPR quality"), _("Scored recordings of exam rooms: share of recordings whose mean depth is 50–60 mm, "
                             "whose mean rate is 100–120 per minute, whose share of compressions with full recoil "
                             "is at least 80 %, and whose chest-compression fraction (CCF) is at least 80 %.")),
        (_("Studios, training bases"), _("Organisations of these kinds registered in the counties (the plans want "
                                         "at least one of each per county).")),
        (_("Inspections carried out"), _("Inspections submitted in the year, in the counties of the classes "
                                         "inspected.")),
        (_("Subtotals and totals"), _("The figures of that region: counts summed over everything below it, "
                                      "ratios computed from those sums (not averages of the rows' ratios). "
                                      "Ratios are rounded down: 39.96 % reads 39.9 %.")),
    ]
    if total.targets:
        lines.append(("", ""))
        lines.append((_("Targets"), ""))
        for tp in total.targets:
            t = tp.target
            text = _("%(value)s for %(from)s–%(to)s; now %(actual)s") % {
                "value": display_value(t.indicator, t.value), "from": t.year_from, "to": t.year_to,
                "actual": "—" if tp.actual is None else tp.actual}
            if tp.inherited:
                text += " · " + _("set for %(region)s") % {"region": t.region.name}
            if t.source:
                text += " · " + t.source
            lines.append((str(t.get_indicator_display()), text))
    for label, text in lines:
        ws.append([label, text])
        row = ws.max_row
        for cell in ws[row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
        ws.cell(row=row, column=1).font = Font(bold=True)
        ws.cell(row=row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 100
