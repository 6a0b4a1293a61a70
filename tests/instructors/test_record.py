"""The teaching record (instructors.record), computed from real classes, exams and feedback: three trainees
who sat a real practical exam (two passed, one failed a critical item), CPR streamed through the manikin
ingest, the trainees' ratings, and classes that must not count."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from courses.models import Enrolment, Programme, TrainingClass
from exams.practical_models import PracticalResult
from instructors import assessment, feedback, record
from instructors.models import InstructorProfile, Outcome
from tests.certificates.support import certified  # noqa: F401
from tests.exams.practical_support import site  # noqa: F401

from .conftest import default_rule, ended_class, en

pytestmark = pytest.mark.django_db


def test_floored_rates_never_reach_a_threshold():
    assert record.floor_pct(2, 3) == Decimal("66.6")
    assert record.floor_pct(6999, 10000) == Decimal("69.9")
    assert record.floor_pct(1, 3) == Decimal("33.3")
    assert record.floor_pct(3, 3) == Decimal("100.0")
    assert record.floor_pct(0, 0) is None
    assert record.floor_2(Decimal(14) / 3) == Decimal("4.66")


def test_the_record_from_real_classes_exams_and_feedback(certified, make_person, client):  # noqa: F811
    site = certified.site
    today = timezone.localdate()
    teacher = site.taught
    cls = site.cls
    TrainingClass.objects.filter(pk=cls.pk).update(starts_on=today - datetime.timedelta(days=2), ends_on=today,
                                                   theory_deadline=None)
    cls.refresh_from_db()
    trainees = [site.candidate, site.candidate2, site.candidate_employed]
    # A withdrawn trainee does not count.
    Enrolment.objects.create(user=make_person(site.admin.region), training_class=cls,
                             status=Enrolment.Status.WITHDRAWN, source=Enrolment.Source.ADMIN)
    # The trainees rate the class: overall 5, 4, 4.
    for person, overall in zip(trainees, (5, 4, 4)):
        e = Enrolment.objects.get(user=person, training_class=cls)
        feedback.submit_feedback(person, e, overall=overall, clarity=4, practice=3)
    # Classes that do not count this year: cancelled, not ended yet, ended last year (counts in all years).
    cancelled = ended_class(site.programme, cls.training_base, ends_on=today, status=TrainingClass.Status.CANCELLED,
                            instructors=[teacher], name="取消的班")
    Enrolment.objects.create(user=site.studio_candidate, training_class=cancelled, source=Enrolment.Source.ADMIN)
    ended_class(site.programme, cls.training_base, ends_on=today + datetime.timedelta(days=5),
                status=TrainingClass.Status.OPEN, instructors=[teacher], name="未结束的班")
    short = Programme.objects.create(code="short", name="普及", kind=Programme.Kind.AWARENESS,
                                     required_class_hours=Decimal("4.5"))
    ended_class(short, cls.training_base, ends_on=today.replace(year=today.year - 1), instructors=[teacher],
                name="去年的班")

    cpr = []
    for person in trainees:
        cpr.append(PracticalResult.objects.filter(booking__candidate=person).order_by("-number").first().cpr_score)
    assert all(s is not None for s in cpr)

    f = record.records([teacher.pk], year=today.year, today=today)[teacher.pk]
    assert (f.classes, f.hours, f.trainees) == (1, Decimal(16), 3)
    assert (f.theory_passed, f.theory_sat, f.theory_pass_pct) == (3, 3, Decimal("100.0"))
    assert (f.practical_passed, f.practical_sat, f.practical_pass_pct) == (2, 3, Decimal("66.6"))
    assert f.cpr_mean_pct == record.floor_1(sum(cpr) / 3)
    assert (f.feedback_n, f.feedback_mean, f.feedback_clarity, f.feedback_practice) == (
        3, Decimal("4.33"), Decimal("4.00"), Decimal("3.00"))
    assert f.class_ids == [cls.pk]
    every = record.records([teacher.pk], today=today)[teacher.pk]
    assert (every.classes, every.hours) == (2, Decimal("20.5"))
    # The day asked about: before the class ended it is not in the record.
    assert record.records([teacher.pk], year=today.year, today=today - datetime.timedelta(days=1))[teacher.pk].classes == 0

    # The profile page shows them with units, rounded down, — where there is nothing.
    profile = InstructorProfile.objects.get(user=teacher)
    page = en(client, site.sysadmin).get(f"/instructors/{profile.pk}/").content.decode()
    for shown in ("66.6%", "(2/3)", "100.0%", "16 class hours", "20.5 class hours", "4.33 / 5", "取消的班", "去年的班",
                  f"{record.floor_1(sum(cpr) / 3)}%", "overall <strong>4.33 / 5</strong>"):
        assert shown in page, shown
    assert "Suspend" in page
    own = en(client, teacher).get("/my/teaching/").content.decode()
    assert "66.6%" in own and 'id="suspend"' not in own

    # The year's assessment reads the same record: 66.6 % is under a 70 % band (the only tier: suspension).
    default_rule(today.year)
    done = {a.profile.user_id: a for a in assessment.run_assessment(site.admin, today.year, today=today)}
    a = done[teacher.pk]
    assert a.figures["practical_pass_pct"] == "66.6" and a.figures["hours"] == "16.0"
    assert a.proposal == Outcome.SUSPEND
    assert next(c for c in a.criteria if c["code"] == "pass_rate")["ok"] is False
    item = en(client, site.admin).get(f"/instructors/assessment/item/{a.pk}/").content.decode()
    assert "66.6%" in item and "≥ 70.0%" in item and "not met" in item
