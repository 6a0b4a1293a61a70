"""The plans' indicators for a region (its whole subtree) and a year, read from the summary cells.

Definitions (all figures of a region include every region below it):

- **Population**: the region's own figure for the year, else the latest earlier one, else the sum of its
  children's (recursively; none when a child has none, as a part missing would overstate every ratio);
  ``basis`` says registered (户籍) or resident (常住), ``is_demo`` made-up figures.
- **People reached** (awareness): person-times in the year; **cumulative** from the start of the plan
  period (the 普及率 target's ``year_from``, else the first year with data) to the end of the year.
  **普及率** = cumulative / population × 100.
- **Certified first-aiders**: people holding a first-aider certificate (not revoked) valid on the ``as_of``
  day: the last day of the year, or today for the current year. A certificate stands for its holder from its
  issue day to its expiry, or to the day before its renewal was issued (``facts.cell_days``), so a renewed
  person counts once, a past year keeps the holders who renewed after it, and a lapse counts as a lapse.
  **每百人救护员数** = certified / population × 100. **Expired**: certificates that expired before ``as_of``
  and were not renewed by then. **Expiring**: valid on ``as_of``, not renewed, and expiring within the next
  90 days (the current year only).
- **New certificates**: first-aider certificates issued in the year (renewals counted apart); **cumulative**
  from ``certificates_from``: the new-certificates target's ``year_from``, else ``period_from``.
- **Targets**: those whose period covers the year, the region's own, else the nearest region above's.
- **Pass rates**: passed / graded theory attempts; passed / signed practical results (latest version).
- **CPR quality**: distributions of mean depth, rate, full-recoil share and CCF of scored exam recordings,
  with the share in the guideline target and the means.
- Ratios are rounded **down** (a region at 39.96 % of a 40 % target reads 39.9 %, never 40.0 %), to one
  decimal for percentages and two for per-100 figures; no ratio is shown without its denominator.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, Q, Sum, When
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from lms.models import Region, RegionPopulation
from lms.permissions import administered_regions, is_system_admin

from . import facts
from .models import Cell, CertificateCell, Target

EXPIRING_DAYS = 90


def floor_dec(numerator, denominator, scale: int = 100, places: int = 1) -> Decimal | None:
    """``numerator / denominator × scale`` rounded down to ``places`` decimals; None without a denominator."""
    if not denominator:
        return None
    q = Decimal(1).scaleb(-places)
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(q, rounding=ROUND_FLOOR)


# ------------------------------------------------------------------ who sees what


def top_regions(user) -> list[Region]:
    """The regions a user's dashboard starts from: a region admin's own; every province for a system admin."""
    if is_system_admin(user):
        return list(Region.objects.filter(depth=1).order_by("path"))
    return sorted(administered_regions(user), key=lambda r: r.path)


def require_dashboard(user, region: Region | None = None) -> None:
    """Region admins (their subtree) and system admins; anyone else is refused (PermissionDenied)."""
    if is_system_admin(user):
        return
    tops = administered_regions(user)
    if not tops:
        raise PermissionDenied(_("The region dashboards are for region and system admins."))
    if region is not None and not any(region.path.startswith(t.path) for t in tops):
        raise PermissionDenied(_("This region is outside your own."))


# ------------------------------------------------------------------ figures


@dataclass
class Cpr:
    n: int = 0
    hist: dict = field(default_factory=dict)  # measure -> counts per bin (facts.BINS)
    sums: dict = field(default_factory=dict)

    def add(self, n, hist, sums):
        self.n += n
        for k, counts in (hist or {}).items():
            mine = self.hist.get(k)
            if mine is not None and len(mine) == len(counts):
                self.hist[k] = [a + b for a, b in zip(mine, counts)]
                continue
            mine = self.hist.setdefault(k, [0] * len(counts))
            for i, c in enumerate(counts):
                mine[i] += c
        for k, v in (sums or {}).items():
            self.sums[k] = self.sums.get(k, 0) + v

    def mean(self, measure: str) -> float | None:
        n = self.sums.get(f"{measure}_n", 0)
        return self.sums.get(measure, 0) / n if n else None

    def in_target_pct(self, measure: str) -> Decimal | None:
        counts = self.hist.get(measure)
        if not counts or not sum(counts):
            return None
        edges = facts.BINS[measure]
        low, high = facts.IN_TARGET[measure]
        first = edges.index(low) + 1
        last = len(counts) if high is None else edges.index(high) + 1
        return floor_dec(sum(counts[first:last]), sum(counts))

    def bins(self, measure: str) -> list[tuple[str, int]]:
        """(label, count) per bin, labels in the measure's unit ("<30", "30–35", …, "≥70")."""
        edges, counts = facts.BINS[measure], self.hist.get(measure) or [0] * (len(facts.BINS[measure]) + 1)
        labels = [f"<{edges[0]:g}"] + [f"{a:g}–{b:g}" for a, b in zip(edges, edges[1:])] + [f"≥{edges[-1]:g}"]
        return list(zip(labels, counts))


@dataclass
class Figures:
    region: Region
    year: int
    as_of: dt.date
    period_from: int
    population: int | None = None
    population_basis: str = ""
    population_is_demo: bool = False
    awareness: int = 0
    awareness_cumulative: int = 0
    certificates_new: int = 0
    certificates_renewed: int = 0
    certificates_new_cumulative: int = 0  # since certificates_from
    certificates_from: int = 0  # the new-certificates target's year_from, else period_from
    certified: int = 0  # valid on as_of
    expired: int = 0
    expiring: int | None = None
    theory_graded: int = 0
    theory_passed: int = 0
    practical_results: int = 0
    practical_passed: int = 0
    classes: int = 0
    cpr: Cpr = field(default_factory=Cpr)
    targets: list = field(default_factory=list)
    label: str = ""  # a row's name when it is not the region's (the part directly under a region)

    @property
    def awareness_pct(self) -> Decimal | None:
        return floor_dec(self.awareness_cumulative, self.population)

    @property
    def per_100(self) -> Decimal | None:
        return floor_dec(self.certified, self.population, 100, 2)

    @property
    def theory_pct(self) -> Decimal | None:
        return floor_dec(self.theory_passed, self.theory_graded)

    @property
    def practical_pct(self) -> Decimal | None:
        return floor_dec(self.practical_passed, self.practical_results)

    @property
    def new_certificates_pct(self) -> Decimal | None:
        return floor_dec(self.certificates_new_cumulative, self.population, 100, 2)

    @property
    def name(self) -> str:
        return self.label or self.region.name


@dataclass
class TargetProgress:
    target: Target
    actual: Decimal | int | None
    inherited: bool  # set for a region above this one

    @property
    def progress_pct(self) -> Decimal | None:
        if self.actual is None or not self.target.value:
            return None
        return floor_dec(Decimal(self.actual), self.target.value)

    @property
    def met(self) -> bool:
        return self.actual is not None and Decimal(self.actual) >= self.target.value


def as_of_day(year: int, today: dt.date | None = None) -> dt.date:
    today = today or timezone.localdate()
    return today if year == today.year else dt.date(year, 12, 31)


def _populations(regions: list[Region], year: int) -> dict[int, tuple[int | None, str, bool]]:
    """(population, basis, is_demo) for each region, falling back to the sum of its children."""
    if not regions:
        return {}
    prefix_q = Q()
    for r in regions:
        prefix_q |= Q(path__startswith=r.path)
    tree = list(Region.objects.filter(prefix_q).order_by("path").values("pk", "path", "depth"))
    figures: dict[int, RegionPopulation] = {}
    for p in RegionPopulation.objects.filter(region_id__in=[t["pk"] for t in tree], year__lte=year).order_by("year"):
        figures[p.region_id] = p  # the latest year up to ``year`` wins
    by_path = {t["path"]: t for t in tree}
    children: dict[str, list[str]] = defaultdict(list)
    for t in tree:
        parent = t["path"][:-Region.steplen]
        if parent in by_path:
            children[parent].append(t["path"])
    memo: dict[str, tuple[int | None, str, bool]] = {}

    def of(path: str):
        if path in memo:
            return memo[path]
        p = figures.get(by_path[path]["pk"])
        if p is not None:
            out = (p.population, p.basis, p.is_demo)
        else:
            parts = [of(c) for c in children.get(path, [])]
            if not parts or any(x[0] is None for x in parts):  # a part unknown: the sum would understate it
                out = (None, "", False)
            else:
                bases = {x[1] for x in parts}
                out = (sum(x[0] for x in parts), bases.pop() if len(bases) == 1 else RegionPopulation.Basis.RESIDENT,
                       any(x[2] for x in parts))
        memo[path] = out
        return out

    return {r.pk: of(r.path) for r in regions}


def _targets_for(region: Region, year: int) -> dict[str, tuple[Target, bool]]:
    """The targets that apply to a region in a year (its period covers the year): its own, else the nearest
    region above's (inherited)."""
    ancestors = [region, *reversed(list(region.get_ancestors()))]
    out: dict[str, tuple[Target, bool]] = {}
    rows = list(Target.objects.filter(region__in=ancestors, year_from__lte=year, year_to__gte=year)
                .select_related("region").order_by("-year_to"))
    for r in ancestors:
        for t in rows:
            if t.region_id == r.pk and t.indicator not in out:
                out[t.indicator] = (t, r.pk != region.pk)
    return out


def _period_from(targets, cells_first_year: int | None, year: int) -> int:
    t = targets.get(Target.Indicator.AWARENESS_PCT)
    if t is not None and t[0].year_from <= year:
        return t[0].year_from
    return min(cells_first_year or year, year)


# What a cell of another year than the one shown adds to the figures (the cumulative ones): ``_cells`` sums
# only these for the earlier years.
EARLIER_YEARS_ADD = ("awareness", "certificates_new")


def _cells(region_ids: list[int], year: int, first_shown: int | None = None, with_cpr: bool = True) -> list[dict]:
    """The cells ``table`` adds up: every cell of ``year`` as stored, and the earlier years' cells summed per
    region and year by the database (``EARLIER_YEARS_ADD``, dated 1 January): the same sums from a few hundred
    rows instead of every month since the data began (the histograms of past years are not read). With
    ``first_shown``, the cells of the years from it to ``year`` as stored (``trend``: each year's table takes
    the cells up to its year). Without ``with_cpr``, the CPR histograms are not read (empty): decoding them is
    most of the cost of five years of a province."""
    first_shown = year if first_shown is None else first_shown
    fields = [f.attname for f in Cell._meta.concrete_fields
              if with_cpr or f.attname not in ("cpr_hist", "cpr_sums")]
    shown = list(Cell.objects.filter(region_id__in=region_ids, month__gte=dt.date(first_shown, 1, 1),
                                     month__lte=dt.date(year, 12, 1)).values(*fields))
    earlier = (Cell.objects.filter(region_id__in=region_ids, month__lt=dt.date(first_shown, 1, 1))
               .annotate(y=ExtractYear("month")).values("region_id", "y")
               .annotate(**{k: Sum(k) for k in EARLIER_YEARS_ADD}).order_by())
    return shown + [{"region_id": r["region_id"], "month": dt.date(r["y"], 1, 1),
                     **{k: r[k] for k in EARLIER_YEARS_ADD}} for r in earlier]


def table(parent: Region, year: int, today: dt.date | None = None) -> list[Figures]:
    """Figures for ``parent`` (first) and each of its children (then the part directly under ``parent`` when
    there is any), all in a handful of queries. Refreshes the dirty cells first."""
    return _table(parent, year, today, with_children=True)


def _table(parent: Region, year: int, today: dt.date | None, with_children: bool, cells: list[dict] | None = None,
           certificate_totals: list[dict] | None = None) -> list[Figures]:
    """``table``; without the children (``with_children`` false: ``table_region``), the parent's figures alone,
    the same, for less. ``cells`` and ``certificate_totals`` (``trend``: read once for several years, after a
    refresh) are what ``_cells`` and ``_certificate_totals`` would read."""
    if cells is None:
        facts.refresh()
    today = today or timezone.localdate()
    as_of = as_of_day(year, today)
    children = list(parent.get_children().order_by("path")) if with_children else []
    targets = _targets_for(parent, year)
    rows = [Figures(region=parent, year=year, as_of=as_of, period_from=year)]
    rows += [Figures(region=c, year=year, as_of=as_of, period_from=year) for c in children]
    direct = Figures(region=parent, year=year, as_of=as_of, period_from=year, label=_("%(region)s (directly)")
                     % {"region": parent.name})

    def owner(path: str) -> Figures:
        for f in rows[1:]:
            if path.startswith(f.region.path):
                return f
        return direct

    path_of = dict(Region.objects.filter(path__startswith=parent.path).values_list("pk", "path"))
    if cells is None:
        cells = _cells(list(path_of), year)  # the cells of other years carry EARLIER_YEARS_ADD only
    first_year = min((c["month"].year for c in cells), default=None)
    period_from = _period_from(targets, first_year, year)
    new_target = targets.get(Target.Indicator.NEW_CERTIFICATES_PCT)
    certificates_from = new_target[0].year_from if new_target is not None else period_from
    for f in (*rows, direct):
        f.period_from, f.certificates_from = period_from, certificates_from
    for c in cells:
        # (without children, ``direct`` is not returned: nothing to add to it)
        targets_rows = [rows[0], owner(path_of[c["region_id"]])] if children else [rows[0]]
        for f in targets_rows:
            if c["month"].year >= period_from:
                f.awareness_cumulative += c["awareness"]
            if c["month"].year >= certificates_from:
                f.certificates_new_cumulative += c["certificates_new"]
            if c["month"].year != year:
                continue
            f.awareness += c["awareness"]
            f.certificates_new += c["certificates_new"]
            f.certificates_renewed += c["certificates_renewed"]
            f.theory_graded += c["theory_graded"]
            f.theory_passed += c["theory_passed"]
            f.practical_results += c["practical_results"]
            f.practical_passed += c["practical_passed"]
            f.classes += c["classes"]
            f.cpr.add(c["cpr_n"], c.get("cpr_hist"), c.get("cpr_sums"))
    _certificate_counts([*rows, direct], path_of, owner, as_of, year == today.year, certificate_totals)
    pops = _populations([f.region for f in rows], year)
    for f in rows:
        f.population, f.population_basis, f.population_is_demo = pops.get(f.region.pk, (None, "", False))
    rows[0].targets = [TargetProgress(t, _actual(rows[0], t), inherited) for t, inherited in targets.values()]
    has_direct = direct.cpr.n or any(getattr(direct, k) for k in (
        "awareness_cumulative", "certified", "expired", "theory_graded", "practical_results", "classes",
        "certificates_new", "certificates_new_cumulative", "certificates_renewed"))
    return rows + ([direct] if has_direct and children else [])


def _certificate_totals(region_ids: list[int], days: list[dt.date]) -> dict[dt.date, list[dict]]:
    """For each ``as_of`` day, per region, over the certificate cells issued up to its month: valid on the day,
    expired before it and not renewed by then, and valid, not renewed and expiring within ``EXPIRING_DAYS`` (one
    scan for all the days)."""
    agg = {}
    for i, as_of in enumerate(days):
        soon = as_of + dt.timedelta(days=EXPIRING_DAYS)
        issued = Q(month__lte=as_of.replace(day=1))
        agg[f"valid{i}"] = Sum(Case(When(issued & Q(expires_on__gte=as_of), then="count"), default=0,
                                    output_field=IntegerField()))
        not_renewed = Q(renewed_on__isnull=True) | Q(renewed_on__gt=as_of)
        agg[f"expired{i}"] = Sum(Case(When(issued & Q(expires_on__lt=as_of) & not_renewed, then="count"), default=0,
                                      output_field=IntegerField()))
        agg[f"expiring{i}"] = Sum(Case(When(issued & Q(expires_on__gte=as_of, expires_on__lte=soon,
                                                       renewed_on__isnull=True), then="count"),
                                       default=0, output_field=IntegerField()))
    last = max(days).replace(day=1)
    rows = list(CertificateCell.objects.filter(month__lte=last, region_id__in=region_ids).values("region_id")
                .annotate(**agg).order_by())
    return {day: [{"region_id": r["region_id"], "valid": r[f"valid{i}"], "expired": r[f"expired{i}"],
                   "expiring": r[f"expiring{i}"]} for r in rows] for i, day in enumerate(days)}


def _certificate_counts(rows, path_of, owner, as_of: dt.date, current: bool, totals: list[dict] | None = None) -> None:
    if totals is None:
        totals = _certificate_totals(list(path_of), [as_of])[as_of]
    for f in rows:
        f.expiring = 0 if current else None
    # as_of is a year's last day or today, and no certificate is dated in the future, so every certificate
    # of as_of's issue month was issued by as_of: the month cells are exact for that day.
    for t in totals:
        for f in (rows[0], owner(path_of[t["region_id"]])):
            f.certified += t["valid"] or 0
            f.expired += t["expired"] or 0
            if current:
                f.expiring += t["expiring"] or 0


def _actual(f: Figures, target: Target):
    ind = Target.Indicator
    if target.indicator == ind.AWARENESS_PCT:
        return f.awareness_pct
    if target.indicator == ind.PER_100:
        return f.per_100
    if target.indicator == ind.NEW_CERTIFICATES_PCT:
        return f.new_certificates_pct
    if target.indicator == ind.NEW_CERTIFICATES:
        return f.certificates_new
    return None


def trend(region: Region, years: list[int], today: dt.date | None = None) -> list[Figures]:
    """The region's own figures for each year (for the charts): ``table_region`` of each year, from the cells
    and certificate totals of all the years read at once; without the CPR histograms (``cpr.n`` only: the
    distributions are read for one year, by ``table``)."""
    years = list(years)
    if len(years) < 2:
        return [table_region(region, y, today) for y in years]
    facts.refresh()
    today = today or timezone.localdate()
    ids = list(Region.objects.filter(path__startswith=region.path).values_list("pk", flat=True))
    cells = _cells(ids, max(years), first_shown=min(years), with_cpr=False)
    days = [as_of_day(y, today) for y in years]
    totals = _certificate_totals(ids, days)
    return [_table(region, y, today, with_children=False, cells=[c for c in cells if c["month"].year <= y],
                   certificate_totals=totals[day])[0] for y, day in zip(years, days)]


def table_region(region: Region, year: int, today: dt.date | None = None) -> Figures:
    return _table(region, year, today, with_children=False)[0]


# instructors who are still there: not a deactivated account, nor a person who left and was anonymised
PRESENT = {"user__is_active": True, "user__anonymised_at__isnull": True}


@dataclass
class CountyCoverage:
    region: Region
    studios: int = 0
    training_bases: int = 0
    inspections: int = 0  # carried out (submitted) in the year: planned ones are secret until the visit
    findings: int = 0
    instructors: int = 0

    @property
    def complete(self) -> bool:
        return self.studios > 0 and self.training_bases > 0


def coverage(region: Region, year: int) -> list[CountyCoverage]:
    """Every county in the subtree with its studios, training bases, inspections carried out in the year and
    active instructors (the plans want a studio and a base in every county). A few grouped queries."""
    from inspections.models import Finding, Inspection
    from instructors.models import InstructorProfile
    from lms.models import Organisation

    counties = list(Region.objects.filter(path__startswith=region.path, level=Region.Level.COUNTY).order_by("path"))
    if region.level == Region.Level.COUNTY and region not in counties:
        counties = [region]
    rows = {c.pk: CountyCoverage(region=c) for c in counties}
    ids = list(rows)
    for region_id, kind, n in (Organisation.objects.filter(region_id__in=ids, kind__in=[
            Organisation.Kind.STUDIO, Organisation.Kind.TRAINING_BASE]).values_list("region_id", "kind")
            .annotate(n=Count("pk")).order_by()):
        if kind == Organisation.Kind.STUDIO:
            rows[region_id].studios = n
        else:
            rows[region_id].training_bases = n
    start = timezone.make_aware(dt.datetime(year, 1, 1))
    end = timezone.make_aware(dt.datetime(year + 1, 1, 1))
    done = Inspection.objects.filter(training_class__training_base__region_id__in=ids, submitted_at__gte=start,
                                     submitted_at__lt=end)
    for region_id, n in done.values_list("training_class__training_base__region_id").annotate(n=Count("pk")) \
            .order_by():
        rows[region_id].inspections = n
    for region_id, n in (Finding.objects.filter(inspection__in=done)
                         .values_list("inspection__training_class__training_base__region_id")
                         .annotate(n=Count("pk")).order_by()):
        rows[region_id].findings = n
    for region_id, n in (InstructorProfile.objects.filter(user__region_id__in=ids, status="active", **PRESENT)
                         .values_list("user__region_id").annotate(n=Count("pk")).order_by()):
        rows[region_id].instructors = n
    return list(rows.values())


def instructors_by_tier(region: Region) -> list[tuple[str, int, int]]:
    """(tier name, active, suspended) of the instructors whose region is in the subtree, by tier rank."""
    from instructors.models import InstructorProfile, Tier
    counts = defaultdict(lambda: [0, 0])
    for tier_id, status, n in (InstructorProfile.objects.filter(user__region__path__startswith=region.path, **PRESENT)
                               .values_list("tier_id", "status").annotate(n=Count("pk")).order_by()):
        counts[tier_id][0 if status == "active" else 1] += n
    return [(t.name, *counts[t.pk]) for t in Tier.objects.order_by("rank")]

