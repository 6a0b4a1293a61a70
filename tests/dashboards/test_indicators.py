"""The dashboards' arithmetic, on a small world whose every figure is worked out by hand below.

Today is 2025-06-15 (passed as ``today=``). The tree (tests/dashboards/conftest.py): 浙江省 (10,000 people in
2024) → 杭州市 (no figure: 西湖区 3,000 + 上城区 2,000 resident + 拱墅区 1,000 = 6,000) and 宁波市 (4,000 of its
own; 北仑区 2,500, 镇海区 none). The facts, by region:

awareness (person-times)  2023: 西湖 1,000, 北仑 300 | 2024: 西湖 1,200, 上城 300 (Dec 31), 北仑 400
                          2025: 西湖 500, 上城 96 (today), 拱墅 200 (Jan 1)           → 1,300 + 1,900 + 796 = 3,996
certificates (first-aider programme unless said; issued → expires)
  西湖  c1 2022-03-01 → 2025-02-28    expired in 2025
        c2 2022-08-01 → 2025-07-31    expiring (46 days)
        c3 2023-01-10 → 2026-01-09
        c4 2023-06-01 → 2026-05-31    revoked: never counted
        c5 2022-06-20 → 2025-06-19    renewed by c6 on 2025-05-01
        c6 2025-05-01 → 2028-06-19    the renewal (programme first-aider, renews c5: as certificates.lifecycle.renew)
        c14 2020-01-01 → 2022-12-31   expired, never renewed
  上城  c7 2024-11-11 → 2027-11-10
        c8 2025-03-03 → 2028-03-02    a refresher programme's certificate: renewed
  北仑  c9 2024-02-02 → 2025-09-01    expiring (78 days)
        c10 2024-12-31 → 2025-06-15   expires today: valid today and expiring
        c11 2025-06-15 → 2028-06-14   issued today
        c12 2023-09-14 → 2025-09-13   expiring on the 90th day
  镇海  c13 2023-09-15 → 2025-09-14   91 days: not expiring
theory attempts (trainee's region, month submitted in Asia/Shanghai)
  西湖 trainee: 2025-01-10 failed, 2025-02-10 passed, one open
  上城 trainee: 2025-03-01 passed then voided; 2024-12-31 23:30 passed (December 2024, 15:30 UTC)
  北仑 trainee: 2025-01-01 00:30 failed (January 2025, though 2024-12-31 in UTC), 2025-05-05 and 05-06 passed
practical results (latest version per booking)
  西湖 b1: v1 2025-02-20 failed, v2 (appeal) 2025-03-05 passed       → one result, passed
  北仑 b2: v1 2025-04-01 passed, v2 late evidence (unsigned) 04-02 failed → one result, failed
  上城 b3: v1 2024-06-01 failed
CPR exam recordings (depth mm, rate /min, recoil %, CCF)
  西湖 r1 2025: 52.0, 110, 95, 0.85 | r2 2025: 60.0, 120, 80, 0.60 (60 mm and 120/min are in the guideline)
  北仑 r3 2025: 45.5, 125, 50, 0.90 | r4 2025: 70.0, 95, –, –
  上城 r8 2024: 29.0, 79, 10, 0.35
  not counted: a practice recording, an unscorable exam recording, an exam recording without a trainee
classes (training base's region, month starting): 西湖 A 2025-03 (inspected 2025-04-10), B 2025-04 cancelled,
  C 2024-10 (inspected 2024-11-01); 北仑 D 2025-06 (an inspection planned); 浙江省 itself E 2025-05
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from courses.models import TrainingClass
from dashboards import facts, indicators
from dashboards.models import Target
from lms.models import Organisation, RegionPopulation, Role

from .conftest import (
    add_awareness, local, make_attempt, make_booking, make_certificate, make_class, make_manikin, make_org,
    make_practical_result, make_recording,
)

TODAY = dt.date(2025, 6, 15)
D = dt.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tree, programmes, make_person):
    r = tree
    fa, rf, aw = programmes["first_aider"], programmes["refresher"], programmes["awareness"]
    admin = make_person(r["zj"], roles=(Role.SYSTEM_ADMIN,), username="dash-sys")
    t_xihu = make_person(r["xihu"], username="t-xihu")
    t_sc = make_person(r["shangcheng"], username="t-sc")
    t_bl = make_person(r["beilun"], username="t-bl")

    # awareness
    for region, day, n in [("xihu", D(2023, 5, 10), 1000), ("beilun", D(2023, 1, 1), 300),
                           ("xihu", D(2024, 3, 1), 1200), ("shangcheng", D(2024, 12, 31), 300),
                           ("beilun", D(2024, 7, 1), 400), ("xihu", D(2025, 2, 1), 500),
                           ("shangcheng", TODAY, 96), ("gongshu", D(2025, 1, 1), 200)]:
        add_awareness(r[region], day, n)

    # certificates
    c = {}
    for key, region, issued, expires, prog in [
            ("c1", "xihu", D(2022, 3, 1), D(2025, 2, 28), fa), ("c2", "xihu", D(2022, 8, 1), D(2025, 7, 31), fa),
            ("c3", "xihu", D(2023, 1, 10), D(2026, 1, 9), fa), ("c4", "xihu", D(2023, 6, 1), D(2026, 5, 31), fa),
            ("c5", "xihu", D(2022, 6, 20), D(2025, 6, 19), fa), ("c14", "xihu", D(2020, 1, 1), D(2022, 12, 31), fa),
            ("c7", "shangcheng", D(2024, 11, 11), D(2027, 11, 10), fa),
            ("c8", "shangcheng", D(2025, 3, 3), D(2028, 3, 2), rf),
            ("c9", "beilun", D(2024, 2, 2), D(2025, 9, 1), fa), ("c10", "beilun", D(2024, 12, 31), TODAY, fa),
            ("c11", "beilun", TODAY, D(2028, 6, 14), fa), ("c12", "beilun", D(2023, 9, 14), D(2025, 9, 13), fa),
            ("c13", "zhenhai", D(2023, 9, 15), D(2025, 9, 14), fa)]:
        c[key] = make_certificate(t_xihu, prog, r[region], issued, expires)
    c["c6"] = make_certificate(t_xihu, fa, r["xihu"], D(2025, 5, 1), D(2028, 6, 19), renews=c["c5"],
                               source="renewal")
    c["c4"].revoked_at = local(2024, 1, 5)
    c["c4"].save()

    # theory
    from exams.models import Attempt, Blueprint
    bp = Blueprint.objects.create(programme=fa, name="理论考试", time_limit_s=2700)
    make_attempt(t_xihu, bp, local(2025, 1, 10), False)
    make_attempt(t_xihu, bp, local(2025, 2, 10), True)
    make_attempt(t_xihu, bp, None, None)
    make_attempt(t_sc, bp, local(2025, 3, 1), True, status=Attempt.Status.VOIDED)
    make_attempt(t_sc, bp, local(2024, 12, 31, 23, 30), True)
    make_attempt(t_bl, bp, local(2025, 1, 1, 0, 30), False)
    make_attempt(t_bl, bp, local(2025, 5, 5), True)
    make_attempt(t_bl, bp, local(2025, 5, 6), True)

    # practical
    manikin = make_manikin(r["xihu"])
    b1 = make_booking(fa, manikin, t_xihu, by=admin)
    make_practical_result(b1, passed=False, signed_at=local(2025, 2, 20), by=admin)
    make_practical_result(b1, passed=True, signed_at=local(2025, 3, 5), by=admin, reason="appeal")
    b2 = make_booking(fa, manikin, t_bl, by=admin)
    make_practical_result(b2, passed=True, signed_at=local(2025, 4, 1), by=admin)
    make_practical_result(b2, passed=False, signed_at=None, created_at=local(2025, 4, 2), reason="late_evidence")
    b3 = make_booking(fa, manikin, t_sc, by=admin)
    make_practical_result(b3, passed=False, signed_at=local(2024, 6, 1), by=admin)

    # CPR
    for trainee, when, values in [
            (t_xihu, local(2025, 3, 5), (52.0, 110, 95.0, 0.85)), (t_xihu, local(2025, 3, 6), (60.0, 120, 80.0, 0.6)),
            (t_bl, local(2025, 4, 1), (45.5, 125, 50.0, 0.9)), (t_bl, local(2025, 4, 2), (70.0, 95, None, None)),
            (t_sc, local(2024, 6, 1), (29.0, 79, 10.0, 0.35))]:
        make_recording(manikin, trainee, when, depth_mm=values[0], rate_cpm=values[1], recoil_pct=values[2],
                       ccf=values[3], started_by=admin)
    make_recording(manikin, t_bl, local(2025, 4, 3), depth_mm=55.0, rate_cpm=110, recoil_pct=90.0, ccf=0.9,
                   purpose="practice", started_by=admin)
    make_recording(manikin, t_bl, local(2025, 4, 4), outcome="unscorable", started_by=admin)
    make_recording(manikin, None, local(2025, 4, 5), depth_mm=55.0, rate_cpm=110, recoil_pct=90.0, ccf=0.9,
                   started_by=admin)

    # organisations and classes
    xihu_base = make_org(r["xihu"], Organisation.Kind.TRAINING_BASE)
    make_org(r["xihu"], Organisation.Kind.STUDIO)
    make_org(r["shangcheng"], Organisation.Kind.STUDIO)
    beilun_base = make_org(r["beilun"], Organisation.Kind.TRAINING_BASE)
    province_org = make_org(r["zj"], Organisation.Kind.RED_CROSS)
    klass = {
        "A": make_class(fa, xihu_base, D(2025, 3, 1)),
        "B": make_class(fa, xihu_base, D(2025, 4, 1), status=TrainingClass.Status.CANCELLED),
        "C": make_class(aw, xihu_base, D(2024, 10, 1), status=TrainingClass.Status.FINISHED),
        "D": make_class(fa, beilun_base, D(2025, 6, 1)),
        "E": make_class(fa, province_org, D(2025, 5, 5)),
    }

    # inspections: carried out (submitted) ones count in the year they were submitted; planned ones never
    from inspections.models import Checklist, Finding, Inspection
    checklist = Checklist.objects.create(name="飞行检查", items=[])

    def inspection(k, submitted_at, status, findings=0):
        ins = Inspection.objects.create(training_class=klass[k], checklist=checklist, status=status,
                                        submitted_at=submitted_at, created_by=admin)
        for _i in range(findings):
            Finding.objects.create(inspection=ins, severity=Finding.Severity.MINOR, description="问题",
                                   deadline=D(2025, 7, 1))
    inspection("A", local(2025, 4, 10), Inspection.Status.SUBMITTED, findings=2)
    inspection("A", None, Inspection.Status.IN_PROGRESS)
    inspection("C", local(2024, 11, 1), Inspection.Status.CLOSED, findings=1)
    inspection("D", None, Inspection.Status.PLANNED, findings=0)

    # instructors: tier 1 (2 active in 西湖, 1 at the province), tier 2 (1 suspended in 西湖, 1 active in 北仑);
    # two more whose accounts are closed
    from instructors.models import InstructorProfile, Tier
    t1 = Tier.objects.create(code="t1", name="初级", rank=1)
    t2 = Tier.objects.create(code="t2", name="中级", rank=2)
    for region, tier, status in [("xihu", t1, "active"), ("xihu", t1, "active"), ("xihu", t2, "suspended"),
                                 ("beilun", t2, "active"), ("zj", t1, "active"), ("xihu", t1, "gone"),
                                 ("beilun", t2, "left")]:
        person = make_person(r[region], roles=(Role.INSTRUCTOR,))
        InstructorProfile.objects.create(user=person, tier=tier, status="active" if status in ("gone", "left")
                                         else status, instructor_since=D(2020, 1, 1))
        if status == "gone":  # an account deactivated; a person who left and was anonymised: no longer counted
            type(person).objects.filter(pk=person.pk).update(is_active=False)
        elif status == "left":
            type(person).objects.filter(pk=person.pk).update(is_active=False, anonymised_at=timezone.now())

    facts.rebuild()
    return {"r": r, "c": c, "admin": admin, "classes": klass, "people": (t_xihu, t_sc, t_bl)}


def rows_by_name(rows):
    return {f.name: f for f in rows}


# ------------------------------------------------------------------ the province, this year


def test_province_this_year(world):
    rows = indicators.table(world["r"]["zj"], 2025, today=TODAY)
    # siblings in 区划代码 order, then by name (these have no codes); class E is the province's own
    assert [f.name for f in rows] == ["浙江省", "宁波市", "杭州市", "浙江省（直属）"]
    zj, nb, hz, direct = rows
    assert zj.as_of == TODAY and zj.period_from == 2020  # no target: from the first year with data (c14, 2020)

    # population: the province's own; 杭州市 the sum of its counties (one resident figure: "resident");
    # 宁波市 its own 4,000 although its counties add up to less
    assert (zj.population, zj.population_basis) == (10_000, RegionPopulation.Basis.REGISTERED)
    assert (hz.population, hz.population_basis) == (6_000, RegionPopulation.Basis.RESIDENT)
    assert (nb.population, nb.population_basis) == (4_000, RegionPopulation.Basis.REGISTERED)

    # awareness: 2025 = 500 + 96 + 200; cumulative 2023–2025 = 1,300 + 1,900 + 796 = 3,996
    assert (zj.awareness, zj.awareness_cumulative) == (796, 3_996)
    assert zj.awareness_pct == Decimal("39.9")  # 39.96 % rounded down, never up to 40.0
    assert (hz.awareness, hz.awareness_cumulative) == (796, 1_000 + 1_500 + 796)
    assert hz.awareness_pct == Decimal("54.9")  # 3,296 / 6,000 = 54.933…
    assert (nb.awareness, nb.awareness_cumulative) == (0, 700)
    assert nb.awareness_pct == Decimal("17.5")  # 700 / 4,000

    # certificates valid today: c2 c3 c6 c7 c8 | c9 c10 c11 c12 c13 (c1 c14 expired, c4 revoked, c5 renewed)
    assert (zj.certified, hz.certified, nb.certified) == (10, 5, 5)
    assert (zj.expired, hz.expired, nb.expired) == (2, 2, 0)  # c1, c14
    assert (zj.expiring, hz.expiring, nb.expiring) == (4, 1, 3)  # c2 | c9, c10, c12 (c13: 91 days)
    assert zj.per_100 == Decimal("0.10")  # 10 / 10,000 × 100
    assert hz.per_100 == Decimal("0.08")  # 5 / 6,000 × 100 = 0.0833…
    assert nb.per_100 == Decimal("0.12")  # 5 / 4,000 × 100 = 0.125, rounded down

    # new certificates in 2025: c11 (c6 is a renewal); renewed: c6 and the refresher's c8
    assert (zj.certificates_new, zj.certificates_renewed) == (1, 2)
    assert (hz.certificates_new, hz.certificates_renewed) == (0, 2)
    assert (nb.certificates_new, nb.certificates_renewed) == (1, 0)
    # new since 2020: c14 | c1 c2 c5 | c3 c12 c13 | c7 c9 c10 | c11 = 11
    assert zj.certificates_new_cumulative == 11
    assert zj.new_certificates_pct == Decimal("0.11")

    # theory 2025: 西湖 2 graded (1 passed); 上城 voided only; 北仑 3 graded (2 passed)
    assert (zj.theory_graded, zj.theory_passed, zj.theory_pct) == (5, 3, Decimal("60.0"))
    assert (hz.theory_graded, hz.theory_passed, hz.theory_pct) == (2, 1, Decimal("50.0"))
    assert (nb.theory_graded, nb.theory_passed, nb.theory_pct) == (3, 2, Decimal("66.6"))  # 66.66… down

    # practical 2025: b1 (latest passed), b2 (latest: the late evidence, failed)
    assert (zj.practical_results, zj.practical_passed, zj.practical_pct) == (2, 1, Decimal("50.0"))
    assert (hz.practical_results, hz.practical_passed) == (1, 1)
    assert (nb.practical_results, nb.practical_passed, nb.practical_pct) == (1, 0, Decimal("0.0"))

    # classes 2025: A, D, E (B cancelled)
    assert (zj.classes, hz.classes, nb.classes, direct.classes) == (3, 1, 1, 1)
    assert direct.awareness_cumulative == 0 and direct.certified == 0


def test_cpr_quality_this_year(world):
    zj, nb, hz, _direct = indicators.table(world["r"]["zj"], 2025, today=TODAY)
    assert (zj.cpr.n, hz.cpr.n, nb.cpr.n) == (4, 2, 2)  # r1 r2 | r3 r4; practice, unscorable, no trainee: not
    cpr = zj.cpr
    # depth: 45.5 → 45–50, 52.0 → 50–55, 60.0 → 55–60 (60 mm is in the 50–60 mm guideline), 70.0 → ≥70
    assert cpr.bins("depth_mm") == [("<30", 0), ("30–35", 0), ("35–40", 0), ("40–45", 0), ("45–50", 1),
                                    ("50–55", 1), ("55–60", 1), ("60–65", 0), ("65–70", 0), ("≥70", 1)]
    assert cpr.in_target_pct("depth_mm") == Decimal("50.0")  # 52.0 and 60.0 of 4
    assert cpr.mean("depth_mm") == pytest.approx(56.875)  # (52 + 60 + 45.5 + 70) / 4
    # rate: 95 → 90–100, 110 and 120 → 110–120 (120/min is in the 100–120 guideline), 125 → 120–130
    assert cpr.bins("rate_cpm") == [("<80", 0), ("80–90", 0), ("90–100", 1), ("100–110", 0), ("110–120", 2),
                                    ("120–130", 1), ("130–140", 0), ("≥140", 0)]
    assert cpr.in_target_pct("rate_cpm") == Decimal("50.0")
    assert cpr.mean("rate_cpm") == pytest.approx(112.5)  # (110 + 120 + 125 + 95) / 4
    # recoil (r4 has none): 50 → 40–60, 80 → 80–90, 95 → ≥90; in target (≥ 80 %): 2 of 3
    assert cpr.bins("recoil_pct") == [("<20", 0), ("20–40", 0), ("40–60", 1), ("60–80", 0), ("80–90", 1),
                                      ("≥90", 1)]
    assert cpr.in_target_pct("recoil_pct") == Decimal("66.6")
    assert cpr.mean("recoil_pct") == pytest.approx(75.0)  # (95 + 80 + 50) / 3
    # CCF: 0.60 → 60–70, 0.85 → 80–90, 0.90 → ≥90; in target (≥ 80 %): 2 of 3
    assert cpr.bins("ccf_pct") == [("<40", 0), ("40–50", 0), ("50–60", 0), ("60–70", 1), ("70–80", 0),
                                   ("80–90", 1), ("≥90", 1)]
    assert cpr.in_target_pct("ccf_pct") == Decimal("66.6")
    assert cpr.mean("ccf_pct") == pytest.approx((85 + 60 + 90) / 3)
    # 西湖 alone: r1 and r2, both in the depth and rate targets
    assert hz.cpr.in_target_pct("depth_mm") == Decimal("100.0")
    assert hz.cpr.in_target_pct("rate_cpm") == Decimal("100.0")
    assert hz.cpr.in_target_pct("ccf_pct") == Decimal("50.0")
    # nothing measured: no share
    assert indicators.table(world["r"]["zhenhai"], 2025, today=TODAY)[0].cpr.in_target_pct("depth_mm") is None


# ------------------------------------------------------------------ a past year


def test_province_past_year_counts_on_december_31(world):
    zj, nb, hz, *_rest = indicators.table(world["r"]["zj"], 2024, today=TODAY)
    assert zj.as_of == D(2024, 12, 31)
    # awareness 2024: 1,200 + 300 + 400; cumulative 2020–2024: 1,300 + 1,900
    assert (zj.awareness, zj.awareness_cumulative, zj.awareness_pct) == (1_900, 3_200, Decimal("32.0"))
    # valid on 2024-12-31: c1 c2 c3 c5 (renewed only in 2025: it was valid then) c7 | c9 c10 c12 c13
    assert (zj.certified, hz.certified, nb.certified) == (9, 5, 4)
    assert (zj.expired, hz.expired, nb.expired) == (1, 1, 0)  # c14
    assert zj.expiring is None  # only for the current year
    assert (zj.certificates_new, zj.certificates_renewed) == (3, 0)  # c7 c9 c10
    # theory: the 上城 attempt of 2024-12-31 23:30 (Asia/Shanghai) is December's; the 北仑 one of 00:30 is not
    assert (zj.theory_graded, zj.theory_passed, zj.theory_pct) == (1, 1, Decimal("100.0"))
    assert (zj.practical_results, zj.practical_passed, zj.practical_pct) == (1, 0, Decimal("0.0"))
    assert zj.classes == 1  # C
    assert zj.cpr.n == 1 and zj.cpr.bins("depth_mm")[0] == ("<30", 1)
    assert zj.cpr.bins("ccf_pct")[0] == ("<40", 1) and zj.cpr.in_target_pct("ccf_pct") == Decimal("0.0")


def test_population_is_the_latest_figure_up_to_the_year_and_none_when_a_part_is_missing(world):
    r = world["r"]
    zj, nb, hz, *_rest = indicators.table(r["zj"], 2023, today=TODAY)
    # 2023: only the figures of 2020 (tests/conftest.py): 浙江省 64,567,588; 北仑区 800,000; 宁波市 none
    assert zj.population == 64_567_588
    # 杭州市 has no figure and 拱墅区 had none in 2023: the sum of the other two would understate the population
    # (and overstate every ratio), so there is none
    assert hz.population is None and hz.awareness_pct is None and hz.per_100 is None
    # 宁波市: 北仑区 800,000 but 镇海区 none
    assert nb.population is None
    # the counties
    rows = rows_by_name(indicators.table(r["nb"], 2025, today=TODAY))
    assert rows["北仑区"].population == 2_500 and rows["镇海区"].population is None
    assert rows["镇海区"].awareness_pct is None and rows["镇海区"].per_100 is None
    assert rows["镇海区"].certified == 1  # c13: counted, with no ratio


# ------------------------------------------------------------------ a city and a county


def test_city_and_county_tables(world):
    r = world["r"]
    rows = indicators.table(r["hz"], 2025, today=TODAY)
    assert [f.name for f in rows] == ["杭州市", "上城区", "拱墅区", "西湖区"]  # nothing directly under the city
    hz, sc, gs, xihu = rows
    assert hz.period_from == 2020  # c14 (西湖区)
    assert (xihu.awareness, xihu.awareness_cumulative, xihu.awareness_pct) == (500, 2_700, Decimal("90.0"))
    assert (sc.awareness, sc.awareness_cumulative, sc.awareness_pct) == (96, 396, Decimal("19.8"))
    assert (gs.awareness, gs.awareness_cumulative, gs.awareness_pct) == (200, 200, Decimal("20.0"))
    assert (xihu.certified, xihu.expired, xihu.expiring) == (3, 2, 1)  # c2 c3 c6 | c1 c14 | c2
    assert (sc.certified, sc.expired, sc.expiring) == (2, 0, 0)  # c7 c8
    assert (gs.certified, gs.population) == (0, 1_000) and gs.per_100 == Decimal("0.00")
    assert xihu.per_100 == Decimal("0.10")  # 3 / 3,000 × 100
    assert (xihu.certificates_new, xihu.certificates_renewed, sc.certificates_renewed) == (0, 1, 1)
    assert (xihu.theory_graded, xihu.theory_passed) == (2, 1)
    assert (sc.theory_graded, sc.theory_pct) == (0, None)  # the voided attempt is no attempt graded
    assert (sc.practical_results, sc.practical_pct) == (0, None)
    assert (xihu.practical_results, xihu.practical_passed) == (1, 1)
    assert (xihu.classes, sc.classes, gs.classes) == (1, 0, 0)
    assert (xihu.cpr.n, sc.cpr.n) == (2, 0)
    # the same figures, the county on its own
    (alone,) = indicators.table(r["xihu"], 2025, today=TODAY)
    assert (alone.awareness_cumulative, alone.certified, alone.expired, alone.expiring, alone.classes,
            alone.theory_graded, alone.practical_results, alone.cpr.n) == (2_700, 3, 2, 1, 1, 2, 1, 2)
    assert alone.period_from == 2020


# ------------------------------------------------------------------ targets


@pytest.fixture
def targets(world):
    r = world["r"]
    ind = Target.Indicator
    for region, indicator, year_from, year_to, value in [
            ("zj", ind.AWARENESS_PCT, 2024, 2025, "40"),
            ("zj", ind.AWARENESS_PCT, 2026, 2030, "60"),  # the next plan: not this year's target
            ("zj", ind.PER_100, 2021, 2025, "2"),
            ("zj", ind.NEW_CERTIFICATES_PCT, 2023, 2025, "1"),
            ("hz", ind.AWARENESS_PCT, 2024, 2025, "50"),  # the city's own
            ("nb", ind.NEW_CERTIFICATES, 2021, 2025, "1")]:
        Target.objects.create(region=r[region], indicator=indicator, year_from=year_from, year_to=year_to,
                              value=Decimal(value))
    return r


def by_indicator(figures):
    return {t.target.indicator: t for t in figures.targets}


def test_targets_progress_and_inheritance(targets):
    r = targets
    ind = Target.Indicator
    zj, _nb, hz, *_rest = indicators.table(r["zj"], 2025, today=TODAY)
    assert zj.period_from == 2024  # the 普及率 target's period
    # awareness 2024–2025: 1,900 + 796 = 2,696 of 10,000
    assert zj.awareness_cumulative == 2_696 and zj.awareness_pct == Decimal("26.9")
    assert hz.awareness_cumulative == 1_500 + 796 and hz.awareness_pct == Decimal("38.2")  # of 6,000
    t = by_indicator(zj)
    assert set(t) == {ind.AWARENESS_PCT, ind.PER_100, ind.NEW_CERTIFICATES_PCT}
    aw = t[ind.AWARENESS_PCT]
    assert (aw.target.value, aw.actual, aw.inherited, aw.met) == (Decimal("40"), Decimal("26.9"), False, False)
    assert aw.progress_pct == Decimal("67.2")  # 26.9 / 40 = 67.25 %
    per = t[ind.PER_100]
    assert (per.actual, per.progress_pct, per.met) == (Decimal("0.10"), Decimal("5.0"), False)
    # new certificates over the target's own period 2023–2025: c3 c12 c13 | c7 c9 c10 | c11 = 7 of 10,000
    new = t[ind.NEW_CERTIFICATES_PCT]
    assert (new.actual, new.progress_pct) == (Decimal("0.07"), Decimal("7.0"))
    assert hz.targets == []  # targets are read on the first row only

    # the city: its own 普及率 target overrides the province's; the others are inherited
    hz = indicators.table(r["hz"], 2025, today=TODAY)[0]
    t = by_indicator(hz)
    aw = t[ind.AWARENESS_PCT]
    assert (aw.target.value, aw.inherited, aw.actual, aw.progress_pct) == (
        Decimal("50"), False, Decimal("38.2"), Decimal("76.4"))
    assert t[ind.PER_100].inherited and t[ind.PER_100].actual == Decimal("0.08")
    assert t[ind.PER_100].progress_pct == Decimal("4.0")
    assert t[ind.NEW_CERTIFICATES_PCT].inherited
    assert t[ind.NEW_CERTIFICATES_PCT].actual == Decimal("0.03")  # c3, c7: 2 / 6,000 = 0.033 %

    # a county inherits from the nearest region above that has the target (the city's 50 %)
    xihu = indicators.table(r["xihu"], 2025, today=TODAY)[0]
    aw = by_indicator(xihu)[ind.AWARENESS_PCT]
    assert (aw.target.region_id, aw.inherited) == (r["hz"].pk, True)
    assert aw.actual == Decimal("56.6")  # 2024–2025: 1,200 + 500 = 1,700 of 3,000 = 56.66…
    assert (aw.progress_pct, aw.met) == (Decimal("113.2"), True)
    assert by_indicator(xihu)[ind.PER_100].target.region_id == r["zj"].pk

    # 宁波市: its own count target, met; the province's 普及率 target inherited
    nb = indicators.table(r["nb"], 2025, today=TODAY)[0]
    t = by_indicator(nb)
    assert (t[ind.NEW_CERTIFICATES].actual, t[ind.NEW_CERTIFICATES].met) == (1, True)
    assert t[ind.NEW_CERTIFICATES].progress_pct == Decimal("100.0")
    assert t[ind.AWARENESS_PCT].inherited and t[ind.AWARENESS_PCT].actual == Decimal("10.0")  # 400 / 4,000
    assert t[ind.AWARENESS_PCT].progress_pct == Decimal("25.0")


def test_a_year_outside_a_targets_period_is_not_measured_against_it(targets):
    r = targets
    ind = Target.Indicator
    zj = indicators.table(r["zj"], 2023, today=TODAY)[0]
    # 2023: the 普及率 targets run 2024–2025 and 2026–2030: none applies, and awareness counts from 2020
    assert set(by_indicator(zj)) == {ind.PER_100, ind.NEW_CERTIFICATES_PCT}
    assert zj.period_from == 2020 and zj.awareness_cumulative == 1_300
    assert by_indicator(zj)[ind.NEW_CERTIFICATES_PCT].actual == Decimal("0.00")  # 3 of 64,567,588


# ------------------------------------------------------------------ coverage and instructors


def test_coverage_lists_every_county_with_studios_bases_and_inspections_carried_out(world):
    r = world["r"]
    rows = {c.region.name: c for c in indicators.coverage(r["zj"], 2025)}
    assert list(rows) == ["北仑区", "镇海区", "上城区", "拱墅区", "西湖区"]  # by path: 宁波市's first
    got = {name: (c.studios, c.training_bases, c.inspections, c.findings, c.instructors, c.complete)
           for name, c in rows.items()}
    assert got == {
        "西湖区": (1, 1, 1, 2, 2, True),  # inspection of A submitted 2025-04-10 (2 findings); C's was in 2024
        "上城区": (1, 0, 0, 0, 0, False),
        "拱墅区": (0, 0, 0, 0, 0, False),
        "北仑区": (0, 1, 0, 0, 1, False),  # D's inspection is only planned: not counted (and secret)
        "镇海区": (0, 0, 0, 0, 0, False),
    }
    # 上城区, 拱墅区, 西湖区: C's inspection was submitted 2024-11-01
    assert [c.inspections for c in indicators.coverage(r["hz"], 2024)] == [0, 0, 1]
    assert [c.findings for c in indicators.coverage(r["hz"], 2024)] == [0, 0, 1]
    assert [c.region.name for c in indicators.coverage(r["xihu"], 2025)] == ["西湖区"]
    assert [c.region.name for c in indicators.coverage(r["nb"], 2025)] == ["北仑区", "镇海区"]


def test_instructors_by_tier(world):
    r = world["r"]
    assert indicators.instructors_by_tier(r["zj"]) == [("初级", 3, 0), ("中级", 1, 1)]
    assert indicators.instructors_by_tier(r["hz"]) == [("初级", 2, 0), ("中级", 0, 1)]
    assert indicators.instructors_by_tier(r["beilun"]) == [("初级", 0, 0), ("中级", 1, 0)]


# ------------------------------------------------------------------ who sees what


def test_require_dashboard_and_top_regions_scope(tree, make_person):
    r = tree
    county = make_person(r["xihu"], roles=(), admin_of=r["xihu"])
    city = make_person(r["hz"], roles=(), admin_of=r["hz"])
    province = make_person(r["zj"], roles=(), admin_of=r["zj"])
    system = make_person(r["zj"], roles=(Role.SYSTEM_ADMIN,))
    trainee = make_person(r["xihu"])
    instructor = make_person(r["xihu"], roles=(Role.INSTRUCTOR,))

    def allowed(user, region):
        try:
            indicators.require_dashboard(user, region)
        except PermissionDenied:
            return False
        return True

    regions = ["zj", "hz", "nb", "xihu", "shangcheng", "beilun"]
    assert [allowed(county, r[k]) for k in regions] == [False, False, False, True, False, False]
    assert [allowed(city, r[k]) for k in regions] == [False, True, False, True, True, False]
    assert [allowed(province, r[k]) for k in regions] == [True] * 6
    assert [allowed(system, r[k]) for k in regions] == [True] * 6
    for nobody in (trainee, instructor, AnonymousUser()):
        assert not allowed(nobody, None) and not allowed(nobody, r["xihu"])
    assert allowed(county, None) and allowed(system, None)

    assert indicators.top_regions(county) == [r["xihu"]]
    assert indicators.top_regions(city) == [r["hz"]]
    assert indicators.top_regions(province) == [r["zj"]]
    assert indicators.top_regions(system) == [r["zj"]]  # every province
    assert indicators.top_regions(trainee) == [] and indicators.top_regions(AnonymousUser()) == []


def test_floor_dec():
    assert indicators.floor_dec(3_996, 10_000) == Decimal("39.9")
    assert indicators.floor_dec(1, 3) == Decimal("33.3")
    assert indicators.floor_dec(2, 3) == Decimal("66.6")
    assert indicators.floor_dec(1, 6_000, 100, 2) == Decimal("0.01")
    assert indicators.floor_dec(5, 0) is None and indicators.floor_dec(5, None) is None
    assert indicators.floor_dec(0, 7) == Decimal("0.0")


def test_an_empty_region_has_no_ratios(tree):
    (f,) = indicators.table(tree["zhenhai"], 2025, today=TODAY)
    assert (f.awareness, f.certified, f.expired, f.expiring, f.classes, f.cpr.n) == (0, 0, 0, 0, 0, 0)
    assert f.population is None and f.awareness_pct is None and f.theory_pct is None and f.practical_pct is None
    assert f.as_of == TODAY


def test_the_part_directly_under_a_region_has_its_own_row(tree, make_person):
    """An exam of a person registered at the province itself: the province's figures include it, and so does
    its "directly" row (the rows add up), though nothing else is there."""
    r = tree
    person = make_person(r["zj"], username="zj-person")
    make_recording(make_manikin(r["zj"]), person, local(2025, 3, 1), depth_mm=55.0, rate_cpm=110, recoil_pct=90.0,
                   ccf=0.85, started_by=person)
    facts.rebuild()
    rows = indicators.table(r["zj"], 2025, today=TODAY)
    assert [f.name for f in rows] == ["浙江省", "宁波市", "杭州市", "浙江省（直属）"]
    assert (rows[0].cpr.n, rows[-1].cpr.n) == (1, 1)
    assert sum(f.cpr.n for f in rows[1:]) == rows[0].cpr.n
