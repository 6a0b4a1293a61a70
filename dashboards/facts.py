"""The facts behind the dashboards, counted into summary cells, and kept exact as records arrive.

Counting rules (each fact counts in one region and one month, in the server's time zone):

- **Awareness** (``courses.AwarenessRecord``): one person-time per record, in its region, on ``held_on``.
- **Certificates**: first-aider certificates (programme kind ``first_aider``) count as *new*, refresher
  ones (``refresher``) as *renewed*, in the certificate's region and issue month; revoked ones do not count.
  ``CertificateCell`` keeps the *live* ones of both kinds (not revoked, not renewed by a later certificate)
  by expiry day: a person with a renewed certificate is one certified first-aider, not two.
- **Theory**: graded attempts (submitted, not voided), in the month submitted and the trainee's region;
  the pass rate is passed / graded attempts (every attempt counts; a retake is a new attempt).
- **Practical**: the latest version of each booking's result, once signed, in the month it was signed and
  the candidate's region.
- **CPR quality**: scored recordings of exam rooms (``purpose = exam``) with a trainee, in the month they
  stopped and the trainee's region: mean depth (mm), mean rate (per minute), share of compressions with
  full recoil (%) and the chest-compression fraction (%), as histograms over ``BINS``.
- **Classes**: classes that are not cancelled, in the month they start and the training base's region.

``mark_*`` functions record which cells a changed fact touches (``DirtyCell``); ``refresh()`` recomputes
exactly those cells from the facts; ``rebuild()`` recomputes everything (after a bulk load). Both run the
same ``compute`` queries: one GROUP BY (region, month) per fact kind, limited to the regions and the
month range asked for.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth

from .models import Cell, CertificateCell, DirtyCell

log = logging.getLogger(__name__)

# Histogram bin edges per CPR measure; values below the first edge go in bin 0, values at or above the
# last edge in the last bin. The guideline limits (50/60 mm, 100/120 per minute, 80 % recoil, 60/80 % CCF)
# are edges, so "in target" shares are sums of whole bins.
BINS: dict[str, list[float]] = {
    "depth_mm": [30, 35, 40, 45, 50, 55, 60, 65, 70],
    "rate_cpm": [80, 90, 100, 110, 120, 130, 140],
    "recoil_pct": [20, 40, 60, 80, 90],
    "ccf_pct": [40, 50, 60, 70, 80, 90],
}
IN_TARGET: dict[str, tuple[float, float | None]] = {  # [low, high) in the measure's unit; None: no upper bound
    "depth_mm": (50, 60), "rate_cpm": (100, 120), "recoil_pct": (80, None), "ccf_pct": (80, None),
}
CELL_COUNTS = ("awareness", "certificates_new", "certificates_renewed", "theory_graded", "theory_passed",
               "practical_results", "practical_passed", "classes", "cpr_n")


def month_of(value) -> dt.date | None:
    """The first day of the month of a date or an aware datetime (in the current time zone)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        from django.utils import timezone
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


# ------------------------------------------------------------------ marking


def mark(cells: Iterable[tuple[int | None, dt.date | None]]) -> None:
    """Record that these (region id, month) cells changed; cells without a region or month are ignored."""
    rows = {(r, month_of(m)) for r, m in cells if r is not None and m is not None}
    if rows:
        DirtyCell.objects.bulk_create([DirtyCell(region_id=r, month=m) for r, m in rows])


# ------------------------------------------------------------------ computing


def _bin(values: np.ndarray, edges: list[float]) -> list[int]:
    values = values[~np.isnan(values)]
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1).tolist()


def _limit(qs, region_field: str, date_field: str, region_ids, start, end):
    if region_ids is not None:
        qs = qs.filter(**{f"{region_field}__in": list(region_ids)})
    if start is not None:
        qs = qs.filter(**{f"{date_field}__gte": start})
    if end is not None:
        qs = qs.filter(**{f"{date_field}__lt": end})
    return qs


def _start_of(month: dt.date | None):
    """The instant a month begins, for datetime fields (aware, in the current time zone)."""
    if month is None:
        return None
    from django.utils import timezone
    return timezone.make_aware(dt.datetime(month.year, month.month, 1))


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def compute(region_ids: Iterable[int] | None = None, first: dt.date | None = None,
            last: dt.date | None = None) -> tuple[dict, dict]:
    """Count the facts of the given regions (None: all) and months ``first``..``last`` (None: open).

    Returns (cells, certificate cells): ``{(region_id, month): {field: value}}`` and
    ``{(region_id, month, expires_on): count}``.
    """
    from courses.models import AwarenessRecord, Programme, TrainingClass
    from certificates.models import Certificate
    from exams.models import Attempt
    from exams.practical_models import PracticalResult
    from manikin.models import Recording

    region_ids = None if region_ids is None else sorted(set(region_ids))
    end = _next_month(last) if last is not None else None
    start_t, end_t = _start_of(first), _start_of(end)
    cells: dict = defaultdict(lambda: {k: 0 for k in CELL_COUNTS})

    def grouped(qs, region_field, date_field, datetime_field: bool, **aggregates):
        qs = _limit(qs, region_field, date_field, region_ids,
                    start_t if datetime_field else first, end_t if datetime_field else end)
        rows = (qs.annotate(m=TruncMonth(date_field)).values(region_field, "m")
                .annotate(**aggregates).order_by())
        for row in rows:
            yield (row[region_field], month_of(row["m"])), row

    for key, row in grouped(AwarenessRecord.objects, "region_id", "held_on", False, n=Count("pk")):
        cells[key]["awareness"] += row["n"]

    certs = Certificate.objects.filter(revoked_at__isnull=True,
                                       programme__kind__in=[Programme.Kind.FIRST_AIDER, Programme.Kind.REFRESHER])
    for key, row in grouped(certs, "region_id", "issued_on", False,
                            new=Count("pk", filter=Q(programme__kind=Programme.Kind.FIRST_AIDER)),
                            renewed=Count("pk", filter=Q(programme__kind=Programme.Kind.REFRESHER))):
        cells[key]["certificates_new"] += row["new"]
        cells[key]["certificates_renewed"] += row["renewed"]

    graded = Attempt.objects.filter(status=Attempt.Status.SUBMITTED, passed__isnull=False)
    for key, row in grouped(graded, "user__region_id", "submitted_at", True,
                            n=Count("pk"), ok=Count("pk", filter=Q(passed=True))):
        cells[key]["theory_graded"] += row["n"]
        cells[key]["theory_passed"] += row["ok"]

    newer = PracticalResult.objects.filter(booking_id=OuterRef("booking_id"), number__gt=OuterRef("number"))
    latest = PracticalResult.objects.filter(signed_at__isnull=False).filter(~Exists(newer))
    for key, row in grouped(latest, "booking__candidate__region_id", "signed_at", True,
                            n=Count("pk"), ok=Count("pk", filter=Q(passed=True))):
        cells[key]["practical_results"] += row["n"]
        cells[key]["practical_passed"] += row["ok"]

    classes = TrainingClass.objects.exclude(status=TrainingClass.Status.CANCELLED)
    for key, row in grouped(classes, "training_base__region_id", "starts_on", False, n=Count("pk")):
        cells[key]["classes"] += row["n"]

    # CPR: per recording values, binned here (a histogram per cell)
    recs = _limit(Recording.objects.filter(purpose="exam", trainee__isnull=False, result__isnull=False,
                                           outcome=Recording.Outcome.SCORED),
                  "trainee__region_id", "stopped_at", region_ids, start_t, end_t)
    per_cell: dict = defaultdict(list)
    for region_id, stopped_at, depth, rate, recoil, ccf in recs.values_list(
            "trainee__region_id", "stopped_at", "result__mean_depth_mm", "result__mean_rate_cpm",
            "result__pct_recoil_ok", "result__ccf").iterator(chunk_size=20000):
        if region_id is None:
            continue
        per_cell[(region_id, month_of(stopped_at))].append(
            (_num(depth), _num(rate), _num(recoil), None if _num(ccf) is None else 100.0 * _num(ccf)))
    for key, values in per_cell.items():
        arr = np.array(values, dtype=float)  # None -> nan
        cell = cells[key]
        cell["cpr_n"] = len(values)
        cell["cpr_hist"] = {name: _bin(arr[:, i], BINS[name]) for i, name in enumerate(BINS)}
        cell["cpr_sums"] = {name: float(np.nansum(arr[:, i])) for i, name in enumerate(BINS)}
        cell["cpr_sums"].update({f"{name}_n": int(np.count_nonzero(~np.isnan(arr[:, i])))
                                 for i, name in enumerate(BINS)})

    live = certs.filter(~Exists(Certificate.objects.filter(renews_id=OuterRef("pk"), revoked_at__isnull=True)))
    cert_cells: dict = {}
    rows = (_limit(live, "region_id", "issued_on", region_ids, first, end)
            .annotate(m=TruncMonth("issued_on")).values("region_id", "m", "expires_on")
            .annotate(n=Count("pk")).order_by())
    for row in rows:
        cert_cells[(row["region_id"], month_of(row["m"]), row["expires_on"])] = row["n"]
    return {k: v for k, v in cells.items() if k[0] is not None}, cert_cells


def _num(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _store(cells: dict, cert_cells: dict, region_ids, first, last) -> None:
    """Replace the stored cells of these regions and months by the computed ones (one transaction)."""
    scope = Q()
    if region_ids is not None:
        scope &= Q(region_id__in=list(region_ids))
    if first is not None:
        scope &= Q(month__gte=first)
    if last is not None:
        scope &= Q(month__lte=last)
    Cell.objects.filter(scope).delete()
    CertificateCell.objects.filter(scope).delete()
    Cell.objects.bulk_create([Cell(region_id=r, month=m, **{k: v for k, v in values.items()})
                              for (r, m), values in cells.items() if any(values[k] for k in CELL_COUNTS)],
                             batch_size=2000)
    CertificateCell.objects.bulk_create([CertificateCell(region_id=r, month=m, expires_on=e, count=n)
                                         for (r, m, e), n in cert_cells.items() if n], batch_size=5000)


def _lock() -> None:
    """One refresher at a time (PostgreSQL: a transaction-level advisory lock; SQLite serialises writes)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x64617368])  # "dash"


def _delete_marks(ids: list[int]) -> None:
    for i in range(0, len(ids), 5000):
        DirtyCell.objects.filter(pk__in=ids[i:i + 5000]).delete()


def refresh() -> int:
    """Recompute the cells marked dirty; returns how many (region, month) cells were recomputed."""
    marks = list(DirtyCell.objects.values_list("pk", "region_id", "month")[:20000])
    if not marks:
        return 0
    by_region: dict[int, set] = defaultdict(set)
    for _pk, region_id, month in marks:
        by_region[region_id].add(month)
    with transaction.atomic():
        _lock()
        # regions with the same months are computed together: one set of queries per month range
        by_range: dict[tuple, list[int]] = defaultdict(list)
        for region_id, months in by_region.items():
            by_range[(min(months), max(months))].append(region_id)
        for (first, last), region_ids in by_range.items():
            cells, cert_cells = compute(region_ids, first, last)
            _store(cells, cert_cells, region_ids, first, last)
        _delete_marks([m[0] for m in marks])
    return sum(len(m) for m in by_region.values())


def rebuild() -> int:
    """Recompute every cell from the facts (after a bulk load); returns the number of cells kept."""
    with transaction.atomic():
        _lock()
        seen = list(DirtyCell.objects.values_list("pk", flat=True))
        cells, cert_cells = compute()
        _store(cells, cert_cells, None, None, None)
        _delete_marks(seen)
    return Cell.objects.count()
