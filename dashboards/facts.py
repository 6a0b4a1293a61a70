"""The facts behind the dashboards, counted into summary cells, and kept exact as records arrive.

Counting rules (each fact counts in one region and one month, in the server's time zone):

- **Awareness** (``courses.AwarenessRecord``): one person-time per record, in its region, on ``held_on``.
- **Certificates**: first-aider certificates (programme kind ``first_aider``) count as *new*, renewals
  (a certificate that ``renews`` another, as ``certificates.lifecycle.renew`` issues them with the renewed
  certificate's programme, or one of a ``refresher`` programme) as *renewed*, in the certificate's region and
  issue month; revoked ones do not count. ``CertificateCell`` keeps every certificate of both kinds that is not
  revoked as the days it stood for its holder: from its issue day to its expiry, or to the day before its
  (not revoked) renewal was issued when that came first, with the renewal's issue day (``renewed_on``). The
  days of one holder's certificates never overlap, so a person with a renewed certificate is one certified
  first-aider on every day, not two; and one renewed after a lapse is not certified during the lapse.
- **Theory**: graded attempts (submitted, not voided), in the month submitted and the trainee's region;
  the pass rate is passed / graded attempts (every attempt counts; a retake is a new attempt).
- **Practical**: the latest version of each booking's result, once signed, in the month it was signed (a
  version frozen unsigned, late evidence: the month it was made) and the candidate's region.
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
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, TruncMonth

from .models import Cell, CertificateCell, DirtyCell

log = logging.getLogger(__name__)

# Histogram bin edges per CPR measure; values below the first edge go in bin 0, values at or above the
# last edge in the last bin, a value on an edge in the bin above it, except a target's upper limit, which
# belongs to the target as the scorer judges it (60.0 mm in 55–60, 120 per minute in 110–120). The guideline
# limits (50/60 mm, 100/120 per minute, 80 % recoil, 60/80 % CCF) are edges, so "in target" shares are sums
# of whole bins.
BINS: dict[str, list[float]] = {
    "depth_mm": [30, 35, 40, 45, 50, 55, 60, 65, 70],
    "rate_cpm": [80, 90, 100, 110, 120, 130, 140],
    "recoil_pct": [20, 40, 60, 80, 90],
    "ccf_pct": [40, 50, 60, 70, 80, 90],
}
IN_TARGET: dict[str, tuple[float, float | None]] = {  # [low, high] in the measure's unit; None: no upper bound
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


def _bin(values: np.ndarray, edges: list[float], target_high: float | None = None) -> list[int]:
    values = values[~np.isnan(values)]
    index = np.searchsorted(edges, values, side="right")
    if target_high is not None:  # the target's upper limit is in the target (60 mm, 120 per minute)
        index[values == target_high] -= 1
    return np.bincount(index, minlength=len(edges) + 1).tolist()


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
    ``{(region_id, issue month, last day, renewed_on): count}`` (``cell_days``).
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
    # a renewal (``certificates.lifecycle.renew``) has the renewed certificate's programme and ``renews`` set
    renewal = Q(renews__isnull=False) | Q(programme__kind=Programme.Kind.REFRESHER)
    for key, row in grouped(certs, "region_id", "issued_on", False,
                            new=Count("pk", filter=~renewal), renewed=Count("pk", filter=renewal)):
        cells[key]["certificates_new"] += row["new"]
        cells[key]["certificates_renewed"] += row["renewed"]

    graded = Attempt.objects.filter(status=Attempt.Status.SUBMITTED, passed__isnull=False)
    for key, row in grouped(graded, "user__region_id", "submitted_at", True,
                            n=Count("pk"), ok=Count("pk", filter=Q(passed=True))):
        cells[key]["theory_graded"] += row["n"]
        cells[key]["theory_passed"] += row["ok"]

    # the latest version counts, also when it is unsigned (late evidence, frozen by the system after the
    # signature): in the month it was signed, or made
    newer = PracticalResult.objects.filter(booking_id=OuterRef("booking_id"), number__gt=OuterRef("number"))
    signed = PracticalResult.objects.filter(booking_id=OuterRef("booking_id"), signed_at__isnull=False)
    latest = (PracticalResult.objects.filter(Exists(signed)).filter(~Exists(newer))
              .annotate(counted_at=Coalesce("signed_at", "created_at")))
    for key, row in grouped(latest, "booking__candidate__region_id", "counted_at", True,
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
    # (PostgreSQL counts the same histograms and sums itself: a million result documents are not read here)
    cpr = _cpr_cells_pg(recs) if connection.vendor == "postgresql" else _cpr_cells_py(recs)
    for key, values in cpr.items():
        cells[key].update(values)

    cert_cells: dict = defaultdict(int)
    renewal = Certificate.objects.filter(renews_id=OuterRef("pk"), revoked_at__isnull=True)
    rows = (_limit(certs, "region_id", "issued_on", region_ids, first, end)
            .annotate(m=TruncMonth("issued_on"), renewed_on=Subquery(renewal.values("issued_on")[:1]))
            .values("region_id", "m", "expires_on", "renewed_on").annotate(n=Count("pk")).order_by())
    for row in rows:
        cert_cells[cell_days(row["region_id"], month_of(row["m"]), row["expires_on"], row["renewed_on"])] += row["n"]
    return {k: v for k, v in cells.items() if k[0] is not None}, dict(cert_cells)


def cell_days(region_id, month, expires_on: dt.date, renewed_on: dt.date | None) -> tuple:
    """The certificate cell of a certificate: its last day as its holder's certificate is its expiry, or the
    day before its renewal was issued when the renewal came before the expiry."""
    if renewed_on is not None and renewed_on <= expires_on:
        expires_on = renewed_on - dt.timedelta(days=1)
    return region_id, month, expires_on, renewed_on


# PostgreSQL: a ``result`` key as ``_num`` reads it (a number, a numeric string, a boolean; else NULL). Numbers
# beyond float8's range are NULL, as ``_num`` makes infinities None.
_NUMERIC_TEXT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_NUM_SQL = """CASE jsonb_typeof(result -> '{key}')
    WHEN 'number' THEN CASE WHEN abs((result -> '{key}')::numeric) < 1e300 THEN (result ->> '{key}')::float8 END
    WHEN 'string' THEN CASE WHEN (result ->> '{key}') ~ '{numeric}'
                            AND abs(btrim(result ->> '{key}')::numeric) < 1e300
                       THEN btrim(result ->> '{key}')::float8 END
    WHEN 'boolean' THEN CASE WHEN (result -> '{key}') = 'true'::jsonb THEN 1.0::float8 ELSE 0.0::float8 END
END"""
_CPR_KEYS = {"depth_mm": ("mean_depth_mm", 1.0), "rate_cpm": ("mean_rate_cpm", 1.0),
             "recoil_pct": ("pct_recoil_ok", 1.0), "ccf_pct": ("ccf", 100.0)}


def _cpr_cells_py(recs) -> dict:
    """``{(region_id, month): {"cpr_n", "cpr_hist", "cpr_sums"}}`` of the recordings ``recs``."""
    per_cell: dict = defaultdict(list)
    for region_id, stopped_at, depth, rate, recoil, ccf in recs.values_list(
            "trainee__region_id", "stopped_at", "result__mean_depth_mm", "result__mean_rate_cpm",
            "result__pct_recoil_ok", "result__ccf").iterator(chunk_size=20000):
        if region_id is None:
            continue
        per_cell[(region_id, month_of(stopped_at))].append(
            (_num(depth), _num(rate), _num(recoil), None if _num(ccf) is None else 100.0 * _num(ccf)))
    out = {}
    for key, values in per_cell.items():
        arr = np.array(values, dtype=float)  # None -> nan
        cell = out[key] = {}
        cell["cpr_n"] = len(values)
        cell["cpr_hist"] = {name: _bin(arr[:, i], BINS[name], IN_TARGET[name][1]) for i, name in enumerate(BINS)}
        cell["cpr_sums"] = {name: float(np.nansum(arr[:, i])) for i, name in enumerate(BINS)}
        cell["cpr_sums"].update({f"{name}_n": int(np.count_nonzero(~np.isnan(arr[:, i])))
                                 for i, name in enumerate(BINS)})
    return out


def _cpr_cells_pg(recs) -> dict:
    """``{(region_id, month): {"cpr_n", "cpr_hist", "cpr_sums"}}`` of the recordings ``recs``, in one GROUP BY:
    the values, bins (``_bin``: ``width_bucket`` is ``searchsorted(side="right")``, a target's upper limit one bin
    down) and sums the Python loop of ``compute`` makes, without reading a million ``result`` documents."""
    from django.db.models import F
    from django.utils import timezone

    inner, params = (recs.annotate(cpr_region=F("trainee__region_id")).values("cpr_region", "stopped_at", "result")
                     .order_by().query.sql_with_params())
    values = ", ".join(f"({_NUM_SQL.format(key=key, numeric=_NUMERIC_TEXT)}) * {scale}::float8 AS {name}"
                       for name, (key, scale) in _CPR_KEYS.items())
    buckets = ", ".join(
        f"width_bucket({name}, ARRAY[{', '.join(f'{e:g}' for e in BINS[name])}]::float8[])"
        + (f" - CASE WHEN {name} = {IN_TARGET[name][1]:g} THEN 1 ELSE 0 END" if IN_TARGET[name][1] is not None
           else "") + f" AS b_{name}"
        for name in BINS)
    aggregates = ["count(*)"]
    for name in BINS:
        aggregates += [f"count(*) FILTER (WHERE b_{name} = {k})" for k in range(len(BINS[name]) + 1)]
        # summed as numeric: the same total whatever order the (parallel) scan adds the rows in
        aggregates += [f"COALESCE(sum({name}::numeric), 0)", f"count({name})"]
    # OFFSET 0 keeps each level a subquery of its own: every value and bin is computed once per recording
    # (flattened, each of the aggregates would compute them again)
    sql = (f"SELECT cpr_region, (date_trunc('month', stopped_at AT TIME ZONE %s))::date, {', '.join(aggregates)} "
           f"FROM (SELECT cpr_region, stopped_at, {', '.join(BINS)}, {buckets} "
           f"      FROM (SELECT cpr_region, stopped_at, {values} FROM ({inner}) AS recs OFFSET 0) AS v OFFSET 0) AS b "
           "WHERE cpr_region IS NOT NULL GROUP BY 1, 2")
    out = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.get_current_timezone_name(), *params])
        for row in cursor.fetchall():
            region_id, month, n, rest = row[0], row[1], row[2], list(row[3:])
            hist, sums = {}, {}
            for name in BINS:
                k = len(BINS[name]) + 1
                hist[name], (total, count), rest = rest[:k], rest[k:k + 2], rest[k + 2:]
                sums[name], sums[f"{name}_n"] = float(total), int(count)
            out[(region_id, month)] = {"cpr_n": n, "cpr_hist": hist,
                                       "cpr_sums": {**{k: sums[k] for k in BINS},
                                                    **{f"{k}_n": sums[f"{k}_n"] for k in BINS}}}
    return out


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
    # cells have nothing that depends on them: one DELETE each (``delete()`` would fetch them first)
    for model in (Cell, CertificateCell):
        qs = model.objects.filter(scope)
        qs._raw_delete(qs.db)
    _insert(Cell, [{"region_id": r, "month": m, **values}
                   for (r, m), values in cells.items() if any(values[k] for k in CELL_COUNTS)])
    _insert(CertificateCell, [{"region_id": r, "month": m, "expires_on": e, "renewed_on": rn, "count": n}
                              for (r, m, e, rn), n in cert_cells.items() if n])


def _insert(model, rows: list[dict]) -> None:
    """Insert rows given as ``{attname: value}`` (other fields: their default): ``bulk_create``, or on PostgreSQL
    with many rows (a rebuild: some 200,000 certificate cells) COPY."""
    if connection.vendor != "postgresql" or len(rows) < 1000:
        model.objects.bulk_create([model(**row) for row in rows], batch_size=5000)
        return
    import json

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields}
    json_fields = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    names = [f.attname for f in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = [row.get(name, defaults[name]) for name in names]
            copy.write_row([json.dumps(v) if name in json_fields else v for name, v in zip(names, values)])


def _lock() -> None:
    """One refresher at a time (PostgreSQL: a transaction-level advisory lock; SQLite serialises writes)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x64617368])  # "dash"


def _delete_marks(ids: list[int]) -> None:
    for i in range(0, len(ids), 5000):  # one DELETE each (``delete()`` would fetch the rows first)
        marks = DirtyCell.objects.filter(pk__in=ids[i:i + 5000])
        marks._raw_delete(marks.db)


MARKS_PER_PASS = 20000


def refresh() -> int:
    """Recompute the cells marked dirty (every mark there is, ``MARKS_PER_PASS`` at a time); returns how many
    (region, month) cells were recomputed."""
    done = 0
    while True:
        n, more = _refresh_pass()
        done += n
        if not more:
            return done


def _refresh_pass() -> tuple[int, bool]:
    marks = list(DirtyCell.objects.values_list("pk", "region_id", "month").order_by("pk")[:MARKS_PER_PASS])
    if not marks:
        return 0, False
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
    return sum(len(m) for m in by_region.values()), len(marks) == MARKS_PER_PASS


def rebuild() -> int:
    """Recompute every cell from the facts (after a bulk load); returns the number of cells kept."""
    with transaction.atomic():
        _lock()
        seen = list(DirtyCell.objects.values_list("pk", flat=True))
        cells, cert_cells = compute()
        _store(cells, cert_cells, None, None, None)
        _delete_marks(seen)
    return Cell.objects.count()
