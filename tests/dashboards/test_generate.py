"""The province generator (``dashboards.generate``, ``manage.py generate_province``) at a tiny scale: the rows it
makes are in proportion and consistent, the dashboards count them as the facts themselves count, a fact saved
afterwards shows at once, and generated data is refused, replaced and deleted without touching the rest."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Exists, OuterRef
from django.utils import timezone

from certificates.issuing import expiry_for
from certificates.models import Certificate
from courses.models import AwarenessRecord, Programme, TrainingClass
from dashboards import generate, indicators
from dashboards.generate import GEN
from exams.models import Attempt
from exams.practical_models import Booking, PracticalResult
from lms import demo
from lms.models import Organisation, Region, RegionPopulation, User
from manikin.models import Recording

SCALE = 0.0002  # 2,000 awareness records, 200 certificates


def _local_year(value: dt.datetime) -> int:
    return timezone.localtime(value).year


def _direct(province: Region, year: int, today: dt.date) -> dict:
    """The province's figures for ``year`` counted from the facts by hand, by the rules of ``dashboards.facts``."""
    inside = province.path
    as_of = indicators.as_of_day(year, today)
    certs = list(Certificate.objects.filter(region__path__startswith=inside).select_related("programme"))
    renewed_on = {c.renews_id: c.issued_on for c in certs if c.renews_id and c.revoked_at is None}
    counted = [c for c in certs if c.revoked_at is None
               and c.programme.kind in (Programme.Kind.FIRST_AIDER, Programme.Kind.REFRESHER)]
    # a certificate stands for its holder from its issue day to its expiry or the day before its renewal
    held = [c for c in counted if c.issued_on <= as_of
            and (c.pk not in renewed_on or renewed_on[c.pk] > as_of)]
    renewal = [c for c in counted if c.renews_id is not None or c.programme.kind == Programme.Kind.REFRESHER]
    attempts = [a for a in Attempt.objects.filter(user__region__path__startswith=inside,
                                                  status=Attempt.Status.SUBMITTED, passed__isnull=False)
                if _local_year(a.submitted_at) == year]
    newer = PracticalResult.objects.filter(booking_id=OuterRef("booking_id"), number__gt=OuterRef("number"))
    latest = [r for r in PracticalResult.objects.filter(booking__candidate__region__path__startswith=inside,
                                                        signed_at__isnull=False).filter(~Exists(newer))
              if _local_year(r.signed_at) == year]
    return {
        "awareness": AwarenessRecord.objects.filter(region__path__startswith=inside, held_on__year=year).count(),
        "certificates_new": sum(1 for c in counted if c.issued_on.year == year and c not in renewal),
        "certificates_renewed": sum(1 for c in renewal if c.issued_on.year == year),
        "certified": sum(1 for c in held if c.expires_on >= as_of),
        "expired": sum(1 for c in held if c.expires_on < as_of),
        "theory_graded": len(attempts), "theory_passed": sum(1 for a in attempts if a.passed),
        "practical_results": len(latest), "practical_passed": sum(1 for r in latest if r.passed),
        "classes": TrainingClass.objects.filter(training_base__region__path__startswith=inside,
                                                starts_on__year=year).exclude(
            status=TrainingClass.Status.CANCELLED).count(),
        "cpr_n": sum(1 for r in Recording.objects.filter(trainee__region__path__startswith=inside, purpose="exam",
                                                         outcome=Recording.Outcome.SCORED, result__isnull=False)
                     if _local_year(r.stopped_at) == year),
    }


@pytest.mark.django_db
def test_a_small_province_is_counted_as_its_facts_and_stays_fresh():
    today = timezone.localdate()
    report = generate.generate(scale=SCALE, seed=3)
    province = Region.objects.get(pk=report.province_id)
    counties = Region.objects.filter(path__startswith=province.path, level=Region.Level.COUNTY)
    assert counties.count() == 90 and province.get_children().count() == 11

    # in proportion to the scale, and consistent
    certificates = Certificate.objects.filter(holder__username__startswith=GEN)
    assert AwarenessRecord.objects.filter(source=AwarenessRecord.Source.GENERATED).count() == 2_000
    assert certificates.count() == 200
    renewals = certificates.filter(renews__isnull=False)
    assert renewals.count() == 16
    first_aider = certificates.count() - renewals.count()
    assert 1.0 * first_aider <= Attempt.objects.filter(user__username__startswith=GEN).count() <= 1.5 * first_aider
    for c in certificates.select_related("holder", "renews"):
        assert c.region_id == c.holder.region_id and c.issued_on <= today
        old = c.renews
        # valid three years; a renewal from the old expiry when renewed before it (certificates.lifecycle)
        start = c.issued_on if old is None or c.issued_on > old.expires_on else old.expires_on + dt.timedelta(days=1)
        assert c.expires_on == expiry_for(start, 3)
        assert old is None or (old.holder_id == c.holder_id and old.issued_on < c.issued_on)
    bookings = Booking.objects.filter(candidate__username__startswith=GEN)
    assert bookings.count() == PracticalResult.objects.filter(number=1, booking__in=bookings).count()
    assert not bookings.filter(cpr_recording__isnull=True).exists()
    result = Recording.objects.filter(trainee__username__startswith=GEN).first().result
    assert {"mean_depth_mm", "mean_rate_cpm", "pct_recoil_ok", "ccf", "score", "passed"} <= set(result)
    first_year = today.year - 4
    populations = RegionPopulation.objects.filter(region__in=counties, year=first_year).select_related("region")
    assert populations.count() == 90 and 64_000_000 < sum(p.population for p in populations) < 66_000_000
    census = {c["name"]: c["population"] for c in json.loads(demo.DATA.read_text())["cities"]}
    for city in province.get_children():  # each city's counties add up to its census share
        figure = RegionPopulation.objects.get(region=city, year=first_year).population
        assert figure == sum(p.population for p in populations if p.region.path.startswith(city.path))
        assert abs(figure / 65_000_000 - census[city.name] / sum(census.values())) < 0.001
    bases = Organisation.objects.filter(region__in=counties, kind=Organisation.Kind.TRAINING_BASE)
    assert bases.values("region").distinct().count() == 90
    lacking = [c for c in indicators.coverage(province, today.year) if not c.complete]
    assert 0 < len(lacking) < 45

    # the dashboards count what the facts count, every year
    for year in range(first_year, today.year + 1):
        f = indicators.table(province, year, today)[0]
        direct = _direct(province, year, today)
        assert {k: getattr(f, k) for k in direct if k != "cpr_n"} | {"cpr_n": f.cpr.n} == direct, year
        assert f.population == sum(p.population for p in RegionPopulation.objects.filter(
            region__in=counties, year=year))
    rows = indicators.table(province, today.year, today)
    assert sum(r.awareness for r in rows[1:]) == rows[0].awareness

    # a fact saved afterwards is counted at once (its cell marked, refreshed when read)
    county = counties.order_by("path").first()
    before = indicators.table(province, today.year, today)[0]
    AwarenessRecord.objects.create(region=county, held_on=today, source=AwarenessRecord.Source.SESSION)
    holder = User.objects.filter(username__startswith=GEN, region=county).first()
    programme = Programme.objects.get(code=f"{GEN}first-aider")
    Certificate.objects.create(number="TEST-NEW-1", holder=holder, programme=programme, region=county,
                               title="救护员证", holder_name="新证", programme_name=programme.name, issuer_name="测试",
                               issued_on=today, expires_on=today.replace(year=today.year + 3) - dt.timedelta(days=1))
    after = indicators.table(province, today.year, today)[0]
    assert after.awareness == before.awareness + 1
    assert after.certificates_new == before.certificates_new + 1
    assert after.certified == before.certified + 1


@pytest.mark.django_db
def test_generated_data_is_refused_then_replaced_the_same_and_deleted_alone(monkeypatch, regions):
    monkeypatch.setattr(generate, "INDEX_REBUILD_ROWS", 0)  # PostgreSQL: the load without indexes, rebuilt after
    real = Organisation.objects.create(name="真实培训基地", kind=Organisation.Kind.TRAINING_BASE, region=regions["xihu"])
    AwarenessRecord.objects.create(region=regions["xihu"], held_on=timezone.localdate(),
                                   source=AwarenessRecord.Source.SESSION, organisation=real)

    def made():
        return (sorted(Certificate.objects.filter(holder__username__startswith=GEN)
                       .values_list("region__code", "issued_on", "expires_on", "revoked_at")),
                Counter(AwarenessRecord.objects.filter(source=AwarenessRecord.Source.GENERATED)
                        .values_list("region__code", "held_on", "group")))

    call_command("generate_province", "--scale", "0.0001", "--seed", "5", stdout=_Null())
    first = made()
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_province", "--scale", "0.0001", stdout=_Null())
    call_command("generate_province", "--scale", "0.0001", "--seed", "5", "--replace", stdout=_Null())
    assert made() == first  # the same seed, the same data

    generate.delete_generated()
    assert not generate.exists()
    assert not Certificate.objects.exists() and not Recording.objects.exists()
    assert not Organisation.objects.filter(name__startswith=generate.ORG_PREFIX).exists()
    assert not RegionPopulation.objects.filter(source=generate.GENERATED_SOURCE).exists()
    assert AwarenessRecord.objects.get().organisation == real  # the rest is untouched
    assert Region.objects.filter(level=Region.Level.COUNTY).count() == 90  # the tree stays
    f = indicators.table(Region.objects.get(pk=regions["zj"].pk), timezone.localdate().year)[0]
    assert f.awareness == 1 and f.certified == 0


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass


def test_years_are_parsed_and_checked():
    assert generate.parse_years("2022-2026") == (2022, 2026)
    assert generate.parse_years("2025") == (2025, 2025)
    for bad in ("2026-2022", "twenty", "1990-"):
        with pytest.raises(ValueError):
            generate.parse_years(bad)
    with pytest.raises(ValueError, match="begun"):
        generate.generate(scale=SCALE, years=(2022, timezone.localdate().year + 1))
