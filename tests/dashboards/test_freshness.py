"""The figures stay exact as records arrive: after a full ``rebuild()``, facts are saved, deleted, revoked,
renewed and moved through the apps' own code paths, and each time ``table()`` (which refreshes the marked
cells first) shows the change, and the cells refreshed bit by bit equal a full rebuild from the facts.

Dates are relative to the real today (the apps' functions check them against the clock)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from certificates import lifecycle
from certificates.models import CertificateRule
from courses import awareness
from courses.classes import update_class
from courses.models import AwarenessRecord, Enrolment, Programme, TrainingClass
from dashboards import facts, indicators
from dashboards.models import Cell, CertificateCell, DirtyCell
from exams import practical
from exams.models import Appeal, Blueprint
from lms.models import Organisation, Role
from manikin import api as manikin_api
from tests.certificates.support import sit
from tests.exams.practical_support import (  # noqa: F401
    passed_theory, png_photo, run_cpr, site, tick_all, today_session,
)

from .conftest import make_attempt, make_certificate, make_class, make_org

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
YEAR = TODAY.year


def snapshot():
    cells = sorted((c.region_id, c.month, *(getattr(c, k) for k in facts.CELL_COUNTS),
                    json.dumps(c.cpr_hist, sort_keys=True),
                    json.dumps({k: round(v, 6) for k, v in c.cpr_sums.items()}, sort_keys=True))
                   for c in Cell.objects.all())
    return cells, sorted(CertificateCell.objects.values_list("region_id", "month", "expires_on", "count"))


def assert_same_as_rebuild():
    """The cells as the marks left them (after a refresh) are the cells a full rebuild makes."""
    facts.refresh()
    assert not DirtyCell.objects.exists()
    incremental = snapshot()
    facts.rebuild()
    assert snapshot() == incremental


def figures(region, year=YEAR):
    return indicators.table(region, year, today=TODAY)[0]


@pytest.fixture
def admin(regions, make_person):
    return make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="fresh-admin")


def test_awareness_saved_deleted_and_recorded_in_bulk(regions, admin, make_person, programmes):
    xihu, zj = regions["xihu"], regions["zj"]
    school = make_org(xihu, Organisation.Kind.SCHOOL)
    facts.rebuild()
    assert figures(zj).awareness == 0

    one = AwarenessRecord.objects.create(region=xihu, held_on=TODAY, source=AwarenessRecord.Source.SESSION)
    assert figures(zj).awareness == 1 and figures(xihu).awareness == 1
    one.delete()
    assert figures(zj).awareness == 0
    assert_same_as_rebuild()

    # a mass session: bulk rows, marked by the awareness_recorded signal
    awareness.record_session(admin, organisation=school, held_on=TODAY, headcounts={"students": 30, "teachers": "2"})
    assert figures(zj).awareness == 32 and figures(regions["hz"]).awareness == 32
    assert_same_as_rebuild()

    # an awareness class finished through the class pages' function: its trainees (not the withdrawn) count
    klass = make_class(programmes["awareness"], school, TODAY)
    for i, status in enumerate([Enrolment.Status.ACTIVE, Enrolment.Status.COMPLETED, Enrolment.Status.WITHDRAWN]):
        Enrolment.objects.create(user=make_person(xihu, username=f"aw{i}"), training_class=klass, status=status)
    update_class(admin, klass, status=TrainingClass.Status.FINISHED)
    assert figures(zj).awareness == 34
    update_class(admin, klass, status=TrainingClass.Status.FINISHED)  # once only
    assert figures(zj).awareness == 34
    assert_same_as_rebuild()


def test_a_class_moved_to_another_month_and_region_cancelled_and_deleted(regions, admin, make_person, programmes):
    xihu, beilun, zj = regions["xihu"], regions["beilun"], regions["zj"]
    system = make_person(zj, roles=(Role.SYSTEM_ADMIN,), username="fresh-sys")
    base = make_org(xihu)
    other_base = make_org(beilun)
    facts.rebuild()
    klass = make_class(programmes["first_aider"], base, TODAY)
    assert (figures(zj).classes, figures(xihu).classes) == (1, 1)

    last_year = dt.date(YEAR - 1, 6, 1)
    update_class(admin, klass, starts_on=last_year, ends_on=last_year)
    assert figures(zj).classes == 0  # the old month's cell was marked before the save
    assert figures(zj, YEAR - 1).classes == 1
    assert_same_as_rebuild()

    klass.refresh_from_db()
    update_class(system, klass, training_base=other_base)
    assert figures(xihu, YEAR - 1).classes == 0 and figures(beilun, YEAR - 1).classes == 1
    assert figures(zj, YEAR - 1).classes == 1
    assert_same_as_rebuild()

    klass.refresh_from_db()
    update_class(system, klass, status=TrainingClass.Status.CANCELLED)
    assert figures(zj, YEAR - 1).classes == 0
    assert_same_as_rebuild()

    TrainingClass.objects.filter(pk=klass.pk).update(status=TrainingClass.Status.OPEN)  # no signal: not counted…
    facts.mark([(beilun.pk, last_year)])  # …until its cell is marked, as bulk writers must
    assert figures(zj, YEAR - 1).classes == 1
    TrainingClass.objects.get(pk=klass.pk).delete()
    assert figures(zj, YEAR - 1).classes == 0
    assert_same_as_rebuild()


@pytest.fixture
def renewal_world(regions, make_person, admin):
    """A 救护员 programme (3 years) renewed by a refresher with a theory exam, a class of the refresher with
    the holder in it, and the holder's certificate issued nearly three years ago, expiring in 60 days."""
    xihu = regions["xihu"]
    base = make_org(xihu)
    programme = Programme.objects.create(code="fresh-fa", name="救护员取证", kind=Programme.Kind.FIRST_AIDER)
    CertificateRule.objects.create(programme=programme, title="救护员证", validity_years=3)
    refresher = Programme.objects.create(code="fresh-rf", name="救护员复训", kind=Programme.Kind.REFRESHER,
                                         theory_exam_required=True)
    CertificateRule.objects.create(programme=refresher, title="救护员证", renews=programme)
    blueprint = Blueprint.objects.create(programme=refresher, name="复训理论考试", time_limit_s=1800)
    klass = make_class(refresher, base, TODAY - dt.timedelta(days=10), ends_on=TODAY)
    holder = make_person(xihu, username="fresh-holder", real_name="张持证")
    Enrolment.objects.create(user=holder, training_class=klass, source=Enrolment.Source.ADMIN)
    old = make_certificate(holder, programme, xihu, TODAY - dt.timedelta(days=3 * 365 - 60),
                           TODAY + dt.timedelta(days=60), issuer=base)
    return {"programme": programme, "blueprint": blueprint, "holder": holder, "old": old, "base": base}


def test_certificates_issued_revoked_renewed(regions, admin, make_person, renewal_world):
    xihu, zj = regions["xihu"], regions["zj"]
    w = renewal_world
    facts.rebuild()
    before, last_year = figures(zj), figures(zj, YEAR - 1)
    assert (before.certified, before.certificates_new, before.certificates_renewed, before.expiring) == (1, 0, 0, 1)
    assert last_year.certified == 1  # the old certificate was valid on December 31

    # issued (model save) today, then revoked through the lifecycle function
    other = make_certificate(make_person(xihu, username="fresh-other"), w["programme"], xihu, TODAY,
                             TODAY + dt.timedelta(days=3 * 365))
    now = figures(zj)
    assert (now.certified, now.certificates_new) == (2, 1)
    lifecycle.revoke(admin, other, reason="证件冒用，经核实撤销")
    now = figures(zj)
    assert (now.certified, now.certificates_new) == (1, 0)
    assert_same_as_rebuild()

    # renewed through the refresher: one certified first-aider (the old one is no longer live), a renewal,
    # no new certificate; last year's figure keeps the holder
    passed_theory(w["holder"], w["blueprint"], days_ago=2)
    new = lifecycle.renew(admin, w["old"])
    now = figures(zj)
    assert (now.certified, now.certificates_new, now.certificates_renewed) == (1, 0, 1)
    assert now.expiring == 0  # the old one expires within 90 days; the renewal does not
    assert figures(zj, YEAR - 1).certified == 1
    assert_same_as_rebuild()

    # the renewal revoked: the old certificate is live again
    lifecycle.revoke(admin, new, reason="复训记录有误，撤销")
    now = figures(zj)
    assert (now.certified, now.certificates_renewed, now.expiring) == (1, 0, 1)
    assert_same_as_rebuild()


def test_a_renewal_after_a_lapse_leaves_the_lapse_uncertified(regions, make_person, programmes):
    """A certificate that expired on 30 June three years ago and was renewed the following January: at the end
    of that year its holder was not certified (expired, not yet renewed); at the end of the next, certified
    once (the renewal), not twice."""
    xihu, zj = regions["xihu"], regions["zj"]
    holder = make_person(xihu, username="lapsed-holder")
    y = YEAR - 3
    old = make_certificate(holder, programmes["first_aider"], xihu, dt.date(y - 3, 6, 30), dt.date(y, 6, 30))
    facts.rebuild()
    at_end = figures(zj, y)
    assert (at_end.certified, at_end.expired) == (0, 1)
    make_certificate(holder, programmes["first_aider"], xihu, dt.date(y + 1, 1, 15), dt.date(y + 4, 1, 15),
                     renews=old)
    at_end, next_end = figures(zj, y), figures(zj, y + 1)
    assert (at_end.certified, at_end.expired) == (0, 1)  # the lapse stays a lapse
    assert (next_end.certified, next_end.expired, next_end.certificates_renewed) == (1, 0, 1)
    assert figures(zj, y - 1).certified == 1  # the old certificate was valid on 31 December before the lapse
    assert_same_as_rebuild()


def test_a_graded_attempt_then_voided(regions, admin, make_person, programmes):
    from exams import attempts

    zj = regions["zj"]
    trainee = make_person(regions["xihu"], username="fresh-trainee")
    blueprint = Blueprint.objects.create(programme=programmes["first_aider"], name="理论", time_limit_s=2700)
    facts.rebuild()
    attempt = make_attempt(trainee, blueprint, timezone.now(), True)
    now = figures(zj)
    assert (now.theory_graded, now.theory_passed, now.theory_pct) == (1, 1, Decimal("100.0"))
    attempts.void(admin, attempt, reason="考试期间作弊，成绩作废")
    now = figures(zj)
    assert (now.theory_graded, now.theory_passed, now.theory_pct) == (0, 0, None)
    assert_same_as_rebuild()


def test_a_person_who_moves_takes_their_exam_figures_along(regions, make_person, programmes):
    from lms import api as lms_api

    from .conftest import make_manikin, make_recording

    xihu, beilun = regions["xihu"], regions["beilun"]
    system = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="fresh-sys")
    trainee = make_person(xihu, username="fresh-mover", real_name="李迁")
    blueprint = Blueprint.objects.create(programme=programmes["first_aider"], name="理论", time_limit_s=2700)
    make_attempt(trainee, blueprint, timezone.now(), True)
    make_recording(make_manikin(xihu), trainee, timezone.now(), depth_mm=55.0, rate_cpm=110, recoil_pct=90.0,
                   ccf=0.85, started_by=system)
    facts.rebuild()
    assert (figures(xihu).theory_graded, figures(xihu).cpr.n, figures(beilun).theory_graded) == (1, 1, 0)
    trainee.last_login = timezone.now()
    trainee.save(update_fields=["last_login"])  # a sign-in marks nothing
    assert not DirtyCell.objects.exists()

    lms_api.update_person(system, trainee, real_name="李迁", region=beilun)
    assert (figures(xihu).theory_graded, figures(xihu).cpr.n) == (0, 0)
    assert (figures(beilun).theory_graded, figures(beilun).cpr.n) == (1, 1)
    assert_same_as_rebuild()


def test_practical_results_superseded_by_new_versions_and_their_cpr(site, regions, settings,
                                                                     django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    zj = regions["zj"]
    facts.rebuild()
    start = figures(zj)
    session = today_session(site)

    # a sitting failed on a critical item: one result, not passed; its CPR recording counts
    booking = practical.book(site.admin, session, site.candidate)
    sit_result = sit(site, session, site.candidate2, passing=False)
    assert not sit_result.passed
    now = figures(zj)
    assert (now.practical_results - start.practical_results, now.practical_passed - start.practical_passed) == (1, 0)
    assert now.cpr.n - start.cpr.n == 1
    assert_same_as_rebuild()

    # the appeal's decision is a new version: still one result, now passed
    appeal = practical.file_appeal(site.candidate2, sit_result.booking, grounds="我在除颤前大声提示了“大家离开”。")
    practical.assign_reviewer(site.admin, appeal, site.examiner2)
    decided = practical.decide_appeal(site.examiner2, Appeal.objects.get(pk=appeal.pk), decision="录像显示已确认。",
                                      ticks={"aed_clear": True})
    assert decided.passed and decided.number == 2
    now = figures(zj)
    assert (now.practical_results - start.practical_results, now.practical_passed - start.practical_passed) == (1, 1)
    assert_same_as_rebuild()

    # late evidence: the signed version (incomplete CPR, failed) is superseded by an unsigned one that passes
    booking.refresh_from_db()
    site.candidate.refresh_from_db()
    booking = practical.check_in(site.examiner, booking, identity_confirmed=True,
                                 photo=None if site.candidate.photo else png_photo())
    run = run_cpr(site, booking, seconds=110.0, deliver_until_s=40.0)
    tick_all(site, booking)
    assert not practical.sign(site.examiner, booking, confirm=True).passed
    now = figures(zj)
    assert (now.practical_results - start.practical_results, now.practical_passed - start.practical_passed) == (2, 1)
    with django_capture_on_commit_callbacks(execute=True):
        manikin_api.ingest_frames(run.station, f"bridge-{run.station.pk}", run.spool)
    latest = practical.latest_result(booking)
    assert latest.reason == "late_evidence" and latest.signed_at is None and latest.passed
    now = figures(zj)
    assert (now.practical_results - start.practical_results, now.practical_passed - start.practical_passed) == (2, 2)
    assert now.cpr.n - start.cpr.n == 2
    assert_same_as_rebuild()


def test_every_mark_is_refreshed_however_many_there_are(regions, monkeypatch):
    """A busy day leaves more marks than one pass reads (an exam day marks a cell per attempt): a table
    refreshes them all before it reads."""
    xihu, zj = regions["xihu"], regions["zj"]
    monkeypatch.setattr(facts, "MARKS_PER_PASS", 5)
    facts.rebuild()
    facts.mark([(xihu.pk, dt.date(YEAR, 1, 1))])
    DirtyCell.objects.bulk_create([DirtyCell(region_id=xihu.pk, month=dt.date(YEAR, 1, 1)) for _ in range(12)])
    AwarenessRecord.objects.create(region=xihu, held_on=TODAY, source=AwarenessRecord.Source.SESSION)
    assert DirtyCell.objects.count() == 14
    assert figures(zj).awareness == 1
    assert not DirtyCell.objects.exists()
