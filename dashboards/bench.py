"""``manage.py bench dashboards``: are the region dashboards fast at a province's size, and what do the summary
cells save?

It measures the generated province of the configured database (``manage.py generate_province`` makes it: the
90 counties of Zhejiang, 10 million awareness records and 1 million certificates at scale 1.0; run it with
``DATABASE_URL=postgres://…`` for the production figure). Without one, ``--quick`` generates a small one
(``QUICK_SCALE``) and a full run says how to make it and measures nothing. Everything the benchmark writes
(the quick data set, the facts it adds, the admin's session) is rolled back at the end.

Each figure is the median of ``RUNS`` runs after one warm-up, against the target of ``TARGET_MS`` per page:

- the indicator functions: ``table`` for the province, a city and a county, ``trend`` over five years,
  ``coverage``, ``instructors_by_tier`` and ``views.page_data`` (everything the region page computes);
- the pages, as the province's region admin (Django's test client, the whole middleware stack): the region
  page (``dashboards:region``) and the workbook (``dashboards:export``) of the province, the city and the county;
- freshness: ``facts.refresh()`` after 1, 100 and 10,000 new awareness records (one mark each, as saved one by
  one) in one county, this month and the same month a year ago (a whole month of facts of every kind to count
  again), and the province page read right after one new record;
- ``facts.rebuild()``, every cell counted again (as after a bulk load);
- the alternative the cells replace: the province's figures (and its cities') counted from the facts
  themselves, one GROUP BY per fact kind joined to the regions by path prefix, checked equal to the cells'.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from lms.bench.figures import figure, not_run

BENCHMARKS = {"dashboards": "dashboards.bench:run"}

TARGET_MS = 500.0  # the dashboards issue: every dashboard page under 500 ms at a province's size
RUNS = 5
QUICK_RUNS = 3
QUICK_SCALE = 0.01
FRESH_FACTS = (1, 100, 10_000)


class _Rollback(Exception):
    pass


def _median_ms(fn, runs: int) -> tuple[float, object]:
    value = fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), value


def _verdict(ms: float) -> str:
    return "ok" if ms < TARGET_MS else f"OVER by {ms - TARGET_MS:,.0f} ms"


def run(out=print, quick: bool = False) -> dict:
    from django.db import connection, transaction

    from . import generate

    figures: dict = {}
    try:
        with transaction.atomic():
            admin = _generated_admin()
            if admin is None:
                if not quick:
                    out("Dashboards: no generated province in this database. Make one first (about 4 minutes at "
                        "scale 1.0 on PostgreSQL), then run the benchmark:\n"
                        "  DATABASE_URL=postgres://… manage.py generate_province --scale 1\n"
                        "  DATABASE_URL=postgres://… manage.py bench dashboards")
                    return {"skipped": "no generated province (manage.py generate_province)",
                            "figures": [not_run("dashboards", "no generated province in this database; make it "
                                                "first: DATABASE_URL=postgres://… manage.py generate_province "
                                                "--scale 1 (about 2 minutes here)",
                                                target=f"< {TARGET_MS:.0f} ms a page")]}
                t0 = time.perf_counter()
                report = generate.generate(scale=QUICK_SCALE, vacuum=False)
                out(f"Dashboards: generated a province at scale {QUICK_SCALE:g} in {time.perf_counter() - t0:.1f} s "
                    "(rolled back at the end)")
                figures["generated"] = report.as_dict()
                admin = _generated_admin()
            figures.update(_measure(admin, out, QUICK_RUNS if quick else RUNS))
            figures["vendor"] = connection.vendor
            raise _Rollback
    except _Rollback:
        pass
    figures["figures"] = _figures(figures)
    return figures


def _figures(result: dict) -> list:
    counts = result["counts"]
    scale = (f"{counts['awareness_records']:,} awareness records, {counts['certificates']:,} certificates on "
             f"{result['vendor']}")
    if result["vendor"] != "postgresql" or counts["awareness_records"] < 10_000_000:
        scale += " (the target is at 10,000,000 and 1,000,000 on PostgreSQL)"
    table = [figure("dashboards", label, ms, "ms", below=TARGET_MS, note=f"median of {result['runs']}; {scale}")
             for label, ms in result["pages_ms"].items()]
    table.append(figure("dashboards", f"page {result['regions']['province']} right after a new record",
                        result["refresh_ms"]["page_after_one_new_record"], "ms", below=TARGET_MS))
    province = result["regions"]["province"]
    cells_ms = result["functions_ms"][f"table({province})"]
    table.append(figure("dashboards", "the province's figures from the cells", cells_ms, "ms",
                        yardstick=result["direct"]["total_ms"], yardstick_name="counted from the facts",
                        note="the same figures as counted from the facts: "
                        + ("yes" if result["direct"]["same_figures"] else "NO")))
    return table


def _generated_admin():
    from lms.models import User

    from .generate import ADMIN_USERNAME

    return User.objects.filter(username=ADMIN_USERNAME).select_related("region").first()


def _counts() -> dict:
    from certificates.models import Certificate
    from courses.models import AwarenessRecord
    from exams.models import Attempt
    from manikin.models import Recording

    return {"awareness_records": AwarenessRecord.objects.count(), "certificates": Certificate.objects.count(),
            "theory_attempts": Attempt.objects.count(), "recordings": Recording.objects.count()}


def _measure(admin, out, runs: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from lms.models import Region

    from . import indicators, views

    province = admin.region
    today = timezone.localdate()
    year = today.year
    city = max(province.get_children(), key=lambda c: c.get_children().count())
    county = city.get_children().order_by("path").first()
    counts = _counts()
    out(f"Dashboards: {province.name} ({Region.objects.filter(path__startswith=province.path, level='county').count()}"
        f" counties) on {connection.vendor}: {counts['awareness_records']:,} awareness records, "
        f"{counts['certificates']:,} certificates, {counts['theory_attempts']:,} theory attempts, "
        f"{counts['recordings']:,} recordings; year {year}; median of {runs} runs; target {TARGET_MS:.0f} ms a page")
    if connection.vendor != "postgresql":
        out("  (not PostgreSQL: these are not the production figures)")
    result: dict = {"counts": counts, "year": year, "runs": runs, "target_ms": TARGET_MS,
                    "regions": {"province": province.name, "city": city.name, "county": county.name}}

    # --- the indicator functions
    functions = {}
    years = list(range(year - 4, year + 1))
    for label, fn in [
        (f"table({province.name})", lambda: indicators.table(province, year, today)),
        (f"table({city.name})", lambda: indicators.table(city, year, today)),
        (f"table({county.name})", lambda: indicators.table(county, year, today)),
        (f"trend({province.name}, {years[0]}–{years[-1]})", lambda: indicators.trend(province, years, today)),
        (f"coverage({province.name})", lambda: indicators.coverage(province, year)),
        (f"instructors_by_tier({province.name})", lambda: indicators.instructors_by_tier(province)),
        (f"views.page_data({province.name})", lambda: views.page_data(admin, province, year, today)),
        (f"views.page_data({city.name})", lambda: views.page_data(admin, city, year, today)),
        (f"views.page_data({county.name})", lambda: views.page_data(admin, county, year, today)),
    ]:
        ms, _value = _median_ms(fn, runs)
        functions[label] = round(ms, 1)
        out(f"  {label:<44} {ms:8.1f} ms")
    result["functions_ms"] = functions

    # --- the pages, as the province's admin
    pages = _pages(admin, [province, city, county], year, runs, out)
    result["pages_ms"] = pages

    # --- freshness
    result["refresh_ms"] = _freshness(county, province, admin, year, today, out)

    # --- everything again
    t0 = time.perf_counter()
    from . import facts

    cells = facts.rebuild()
    rebuild_s = time.perf_counter() - t0
    out(f"  facts.rebuild(): {rebuild_s:.1f} s ({cells:,} cells)")
    result["rebuild_s"] = round(rebuild_s, 2)

    # --- the alternative: the same figures from the facts
    result["direct"] = _direct(province, year, today, out)
    slowest = max(pages.values()) if pages else 0.0
    out(f"  slowest page {slowest:.0f} ms: {_verdict(slowest)}; the province's figures counted from the facts "
        f"take {result['direct']['total_ms']:,.0f} ms, from the cells {functions[f'table({province.name})']:.0f} ms")
    return result


def _pages(admin, regions, year: int, runs: int, out) -> dict:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")), "localhost")
    client = Client(HTTP_HOST=host)
    client.force_login(admin)
    pages = {}
    for region in regions:
        for name, kind in (("dashboards:region", "page"), ("dashboards:export", "export")):
            url = reverse(name, args=[region.pk]) + f"?year={year}"
            response = None

            def get(url=url):
                nonlocal response
                response = client.get(url, secure=True)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {url}: {response.status_code}")
                return response

            ms, _r = _median_ms(get, runs)
            label = f"{kind} {region.name} ({region.get_level_display()})"
            pages[label] = round(ms, 1)
            out(f"  GET {url:<34} {label:<22} {ms:8.1f} ms  {len(response.content):>9,} bytes  {_verdict(ms)}")
    return pages


def _freshness(county, province, admin, year: int, today: dt.date, out) -> dict:
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from courses.models import AwarenessRecord

    from . import facts
    from .models import DirtyCell

    out_ms = {}
    # this month (as records arrive) and the same month a year ago (a whole month of every kind of fact to
    # count again: a late entry or a correction)
    for day in (today, today.replace(year=today.year - 1, day=min(today.day, 28))):
        month = day.replace(day=1)
        for n in FRESH_FACTS:
            AwarenessRecord.objects.bulk_create(
                [AwarenessRecord(region=county, held_on=day, source=AwarenessRecord.Source.GENERATED,
                                 session_key="bench") for _ in range(n)], batch_size=5000)
            DirtyCell.objects.bulk_create([DirtyCell(region_id=county.pk, month=month) for _ in range(n)],
                                          batch_size=5000)
            t0 = time.perf_counter()
            facts.refresh()
            ms = 1000 * (time.perf_counter() - t0)
            out_ms[f"{month:%Y-%m} after {n}"] = round(ms, 1)
            out(f"  facts.refresh() after {n:>6,} new awareness records in {county.name}, {month:%Y-%m}: "
                f"{ms:8.1f} ms")
    # a page read right after a new record: the refresh is part of the page
    host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")), "localhost")
    client = Client(HTTP_HOST=host)
    client.force_login(admin)
    url = reverse("dashboards:region", args=[province.pk]) + f"?year={year}"
    client.get(url, secure=True)
    times = []
    for _ in range(3):
        AwarenessRecord.objects.create(region=county, held_on=today, source=AwarenessRecord.Source.GENERATED,
                                       session_key="bench")  # marks its cell (dashboards.signals)
        t0 = time.perf_counter()
        response = client.get(url, secure=True)
        times.append(1000 * (time.perf_counter() - t0))
        assert response.status_code == 200
    ms = statistics.median(times)
    out_ms["page_after_one_new_record"] = round(ms, 1)
    out(f"  GET {url} right after one new record: {ms:8.1f} ms  {_verdict(ms)}")
    return out_ms


def _direct(province, year: int, today: dt.date, out) -> dict:
    """The province's figures for ``year`` (and each city's) counted from the facts, the way the cells count
    them (``dashboards.facts``), with no cell: one GROUP BY per fact kind over the base tables joined to the
    regions by path prefix. Returns the times (ms) and whether the figures equal ``indicators.table``'s."""
    from django.db.models import Count, Exists, OuterRef, Q, Subquery
    from django.db.models.functions import Coalesce, Substr, TruncMonth
    from django.utils import timezone

    from certificates.models import Certificate
    from courses.models import AwarenessRecord, Programme, TrainingClass
    from exams.models import Attempt
    from exams.practical_models import PracticalResult
    from lms.models import Region
    from manikin.models import Recording

    from . import facts, indicators

    as_of = indicators.as_of_day(year, today)
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    start_t, end_t = timezone.make_aware(dt.datetime(year, 1, 1)), timezone.make_aware(dt.datetime(year + 1, 1, 1))
    width = Region.steplen * (province.depth + 1)
    times, totals = {}, {}

    def grouped(name, qs, path_field, **aggregates):
        t0 = time.perf_counter()
        rows = list(qs.filter(**{f"{path_field}__startswith": province.path})
                    .annotate(city=Substr(path_field, 1, width)).values("city").annotate(**aggregates).order_by())
        times[name] = round(1000 * (time.perf_counter() - t0), 1)
        totals[name] = {k: sum(r[k] or 0 for r in rows) for k in aggregates}
        return rows

    grouped("awareness", AwarenessRecord.objects.filter(held_on__gte=start, held_on__lt=end), "region__path",
            n=Count("pk"))
    certs = Certificate.objects.filter(revoked_at__isnull=True,
                                       programme__kind__in=[Programme.Kind.FIRST_AIDER, Programme.Kind.REFRESHER])
    renewal = Q(renews__isnull=False) | Q(programme__kind=Programme.Kind.REFRESHER)
    grouped("certificates (new, renewed)", certs.filter(issued_on__gte=start, issued_on__lt=end), "region__path",
            new=Count("pk", filter=~renewal), renewed=Count("pk", filter=renewal))
    renewed_on = Subquery(Certificate.objects.filter(renews_id=OuterRef("pk"), revoked_at__isnull=True)
                          .values("issued_on")[:1])
    not_renewed = Q(renewed_on__isnull=True) | Q(renewed_on__gt=as_of)
    grouped("certified (valid, expired)", certs.filter(issued_on__lte=as_of).annotate(renewed_on=renewed_on),
            "region__path", valid=Count("pk", filter=Q(expires_on__gte=as_of) & not_renewed),
            expired=Count("pk", filter=Q(expires_on__lt=as_of) & not_renewed))
    grouped("theory (graded, passed)", Attempt.objects.filter(status=Attempt.Status.SUBMITTED, passed__isnull=False,
                                                               submitted_at__gte=start_t, submitted_at__lt=end_t),
            "user__region__path", n=Count("pk"), ok=Count("pk", filter=Q(passed=True)))
    newer = PracticalResult.objects.filter(booking_id=OuterRef("booking_id"), number__gt=OuterRef("number"))
    signed = PracticalResult.objects.filter(booking_id=OuterRef("booking_id"), signed_at__isnull=False)
    latest = (PracticalResult.objects.filter(Exists(signed)).filter(~Exists(newer))
              .annotate(counted_at=Coalesce("signed_at", "created_at"))
              .filter(counted_at__gte=start_t, counted_at__lt=end_t))
    grouped("practical (results, passed)", latest, "booking__candidate__region__path", n=Count("pk"),
            ok=Count("pk", filter=Q(passed=True)))
    grouped("classes", TrainingClass.objects.exclude(status=TrainingClass.Status.CANCELLED)
            .filter(starts_on__gte=start, starts_on__lt=end), "training_base__region__path", n=Count("pk"))
    t0 = time.perf_counter()
    recs = Recording.objects.filter(purpose="exam", trainee__isnull=False, result__isnull=False,
                                    outcome=Recording.Outcome.SCORED, stopped_at__gte=start_t, stopped_at__lt=end_t,
                                    trainee__region__path__startswith=province.path)
    cpr = facts._cpr_cells_pg(recs) if _vendor() == "postgresql" else facts._cpr_cells_py(recs)
    times["CPR histograms"] = round(1000 * (time.perf_counter() - t0), 1)
    totals["CPR histograms"] = {"n": sum(c["cpr_n"] for c in cpr.values())}
    total_ms = sum(times.values())
    f = indicators.table(province, year, today)[0]
    same = (totals["awareness"]["n"] == f.awareness
            and totals["certificates (new, renewed)"] == {"new": f.certificates_new,
                                                           "renewed": f.certificates_renewed}
            and totals["certified (valid, expired)"] == {"valid": f.certified, "expired": f.expired}
            and totals["theory (graded, passed)"] == {"n": f.theory_graded, "ok": f.theory_passed}
            and totals["practical (results, passed)"] == {"n": f.practical_results, "ok": f.practical_passed}
            and totals["classes"]["n"] == f.classes and totals["CPR histograms"]["n"] == f.cpr.n)
    out(f"  the alternative: {province.name}'s {year} figures by city counted from the facts (no cells): "
        f"{total_ms:,.0f} ms; the same figures as the cells: {'yes' if same else 'NO'}")
    for name, ms in times.items():
        out(f"    {name:<30} {ms:10,.1f} ms")
    return {"ms": times, "total_ms": round(total_ms, 1), "same_figures": same}


def _vendor() -> str:
    from django.db import connection

    return connection.vendor
