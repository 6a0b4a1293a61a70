"""Small shared pieces of the dashboards tests: a region tree with population figures, and one-line makers
for each kind of fact the dashboards count. Facts are written as plain rows (``Model.objects.create``) with
only the fields the counting rules read, so that a test states its data in a few lines and its expected
figures by hand; how each fact is made through its own app is tested in that app.

- ``tree`` (fixture): ``regions`` of tests/conftest.py (浙江省 → 杭州市 (西湖区, 上城区), 宁波市 (北仑区)) plus
  杭州市's 拱墅区 and 宁波市's 镇海区, with the population figures of ``POPULATION_2024`` (for the year 2024;
  each region's latest figure up to a year is its figure for that year). 杭州市 has no figure of its own
  (the sum of its counties'); 上城区's is a resident (常住) figure; 镇海区 has none. Siblings sort by name
  (宁波市 before 杭州市; 上城区, 拱墅区, 西湖区). Adding regions moves siblings' paths: ``tree`` reads every
  region again, and so must a test that adds more.
- ``programmes`` (fixture): one programme per kind the dashboards count (``awareness``, ``first_aider``,
  ``refresher``).
- ``local(y, m, d, H=12, M=0)``: an aware datetime in the server's time zone (Asia/Shanghai).
- ``make_org``, ``make_class``, ``add_awareness``, ``make_certificate``, ``make_attempt``,
  ``make_recording``, ``make_practical_result``: one fact each (see their docstrings); ``make_manikin``
  (an exam site's room, station and manikin) and ``make_booking`` (a checked-in booking) for the last two.

Bulk rows (``add_awareness``) send no signals: call ``dashboards.facts.rebuild()`` (or ``mark``) after them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from courses.models import AwarenessRecord, Programme, TrainingClass
from lms import api as lms_api
from lms.models import Organisation, Region, RegionPopulation

# region key -> (population in 2024, basis); 杭州市 and 镇海区 have no figure
POPULATION_2024 = {
    "zj": (10_000, RegionPopulation.Basis.REGISTERED),
    "xihu": (3_000, RegionPopulation.Basis.REGISTERED),
    "shangcheng": (2_000, RegionPopulation.Basis.RESIDENT),
    "gongshu": (1_000, RegionPopulation.Basis.REGISTERED),
    "nb": (4_000, RegionPopulation.Basis.REGISTERED),
    "beilun": (2_500, RegionPopulation.Basis.REGISTERED),
}

_n = count(1)


@pytest.fixture
def tree(regions):
    """``regions`` with 拱墅区 and 镇海区 added and the 2024 figures of ``POPULATION_2024``."""
    lms_api.import_regions(None, [
        lms_api.RegionRow(province="浙江省", city="杭州市", county="拱墅区"),
        lms_api.RegionRow(province="浙江省", city="宁波市", county="镇海区"),
    ])
    # Siblings are kept in name order (no codes here): adding 拱墅区 moved 西湖区's path, so every region is
    # read again rather than taken from ``regions``.
    out = {key: Region.objects.get(pk=region.pk) for key, region in regions.items()}
    out["gongshu"] = out["hz"].get_children().get(name="拱墅区")
    out["zhenhai"] = out["nb"].get_children().get(name="镇海区")
    for key, (population, basis) in POPULATION_2024.items():
        RegionPopulation.objects.create(region=out[key], year=2024, population=population, basis=basis)
    return out


@pytest.fixture
def programmes(db) -> dict[str, Programme]:
    return {kind: Programme.objects.create(code=f"dash-{kind}", name=f"项目-{kind}", kind=kind)
            for kind in (Programme.Kind.AWARENESS, Programme.Kind.FIRST_AIDER, Programme.Kind.REFRESHER)}


def local(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """An aware datetime at that wall-clock time in the server's time zone."""
    return timezone.make_aware(dt.datetime(y, m, d, hour, minute))


def make_org(region, kind=Organisation.Kind.TRAINING_BASE, name: str | None = None) -> Organisation:
    return Organisation.objects.create(region=region, kind=kind, name=name or f"机构{next(_n)}")


def make_class(programme, base: Organisation, starts_on: dt.date, *, ends_on: dt.date | None = None,
               status=TrainingClass.Status.OPEN, name: str | None = None) -> TrainingClass:
    return TrainingClass.objects.create(programme=programme, training_base=base, starts_on=starts_on,
                                        ends_on=ends_on or starts_on, status=status, name=name or f"班{next(_n)}")


def add_awareness(region, held_on: dt.date, n: int, *, group=AwarenessRecord.Group.PUBLIC,
                  organisation=None) -> None:
    """``n`` person-times reached in ``region`` on ``held_on`` (bulk: no signal)."""
    AwarenessRecord.objects.bulk_create([
        AwarenessRecord(region=region, held_on=held_on, group=group, source=AwarenessRecord.Source.GENERATED,
                        organisation=organisation) for _ in range(n)])


def make_certificate(holder, programme, region, issued_on: dt.date, expires_on: dt.date, **fields):
    """A certificate with its required printed fields; ``renews=``, ``revoked_at=`` and the rest as keywords."""
    from certificates.models import Certificate

    n = next(_n)
    return Certificate.objects.create(
        number=fields.pop("number", f"T{n:010d}"), holder=holder, programme=programme, region=region,
        title="救护员证", holder_name=holder.real_name or "持证人", programme_name=programme.name,
        issuer_name="测试机构", issued_on=issued_on, expires_on=expires_on, **fields)


def make_attempt(user, blueprint, submitted_at: dt.datetime | None, passed: bool | None, *, status=None):
    """A theory attempt: submitted and graded at ``submitted_at`` (``passed``), or open (``submitted_at`` None)."""
    from exams.models import Attempt

    number = Attempt.objects.filter(user=user, blueprint=blueprint).count() + 1
    started = (submitted_at or timezone.now()) - dt.timedelta(minutes=30)
    if status is None:
        status = Attempt.Status.OPEN if submitted_at is None else Attempt.Status.SUBMITTED
    return Attempt.objects.create(
        user=user, blueprint=blueprint, number=number, status=status, started_at=started,
        deadline_at=started + dt.timedelta(minutes=45), submitted_at=submitted_at,
        passed=passed if submitted_at is not None else None,
        score_pct=None if passed is None else Decimal("90" if passed else "60"))


def make_recording(manikin, trainee, stopped_at: dt.datetime, *, depth_mm=None, rate_cpm=None, recoil_pct=None,
                   ccf=None, purpose="exam", outcome="scored", started_by=None):
    """A stopped recording whose result holds the four CPR measures the dashboards read (``ccf`` a fraction)."""
    from manikin.models import Recording

    return Recording.objects.create(
        manikin=manikin, trainee=trainee, started_by=started_by or trainee, stopped_at=stopped_at,
        standard_id="crc-first-aider-2024", purpose=purpose, outcome=outcome,
        result=None if outcome != "scored" else {"mean_depth_mm": depth_mm, "mean_rate_cpm": rate_cpm,
                                                 "pct_recoil_ok": recoil_pct, "ccf": ccf})


def make_manikin(region):
    """An exam room at a new exam site of ``region`` with one station and manikin; returns the manikin."""
    from manikin import api as manikin_api

    site = make_org(region, Organisation.Kind.EXAM_SITE)
    room = manikin_api.create_room(None, organisation=site, name="考场")
    station, _token = manikin_api.create_station(None, room=room, name="1号")
    return manikin_api.assign_manikin(None, station=station, address=f"F0:0D:00:00:09:{next(_n) % 256:02X}")


def make_booking(programme, manikin, candidate, *, by):
    """A checked-in practical exam booking of ``candidate`` (rows only: session, scheme, booking)."""
    from exams.practical_models import Booking, PracticalScheme, PracticalSession

    scheme = (PracticalScheme.objects.filter(programme=programme).first()
              or PracticalScheme.objects.create(programme=programme, version=1, name="实操", cpr_standard_id="x",
                                                cpr_points=40, pass_points=80))
    session = PracticalSession.objects.create(programme=programme, scheme=scheme, room=manikin.station.room,
                                              date=dt.date(2024, 1, 1), starts_at=dt.time(9), slots=4, created_by=by)
    return Booking.objects.create(session=session, candidate=candidate, slot=1, station=manikin.station,
                                  examiner=by, status=Booking.Status.CHECKED_IN, booked_by=by)


def make_practical_result(booking, *, passed: bool, signed_at: dt.datetime | None, created_at=None, by=None,
                          reason="signed"):
    """The next version of ``booking``'s result (signed at ``signed_at``, or unsigned: late evidence)."""
    from exams.practical_models import PracticalResult

    number = PracticalResult.objects.filter(booking=booking).count() + 1
    return PracticalResult.objects.create(
        booking=booking, number=number, reason=reason, evidence={}, points=Decimal(90 if passed else 50),
        max_points=100, passed=passed, sha256=hashlib.sha256(f"{booking.pk}-{number}-{next(_n)}".encode()).hexdigest(),
        created_at=created_at or signed_at, created_by=by, signed_by=by if signed_at else None, signed_at=signed_at)
