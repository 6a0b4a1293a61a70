"""The draw: eligible classes, risk factors and weights, reproducible from the recorded seed."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from courses.models import TrainingClass
from inspections import api, planning
from inspections.models import Finding, Inspection
from instructors.models import InstructorProfile
from instructors.record import Figures
from tests.instructors.support import tier_for

pytestmark = pytest.mark.django_db


def _class(world, name, *, base=None, days=(0, 5), status=TrainingClass.Status.OPEN, instructor=None):
    today = world.today
    k = TrainingClass.objects.create(programme=world.programme, name=name, training_base=base or world.base,
                                     starts_on=today + datetime.timedelta(days=days[0]),
                                     ends_on=today + datetime.timedelta(days=days[1]), status=status)
    if instructor is not None:
        k.instructors.add(instructor)
    return k


def test_population_factors_weights_and_a_reproducible_draw(world, make_person, monkeypatch):
    today = world.today
    hz, nb = world.regions["hz"], world.regions["nb"]
    veteran = make_person(world.regions["xihu"], roles=("instructor",), real_name="老师资")
    InstructorProfile.objects.create(user=veteran, tier=tier_for(world.programme),
                                     instructor_since=today - datetime.timedelta(days=2000))
    weak = make_person(world.regions["xihu"], roles=("instructor",), real_name="低通过率")
    InstructorProfile.objects.create(user=weak, tier=tier_for(world.programme),
                                     instructor_since=today - datetime.timedelta(days=2000))
    # world.klass: its instructor has no profile (a new instructor)
    old = _class(world, "老师资班", instructor=veteran)
    low = _class(world, "低通过率班", base=world.other_base, instructor=weak)
    cancelled = _class(world, "已取消班", status=TrainingClass.Status.CANCELLED, instructor=veteran)
    nb_base = world.base.__class__.objects.create(name="北仑基地", kind="training_base", region=world.regions["beilun"])
    elsewhere = _class(world, "宁波班", base=nb_base, instructor=veteran)
    later = _class(world, "下月班", days=(40, 45), instructor=veteran)
    ended = _class(world, "上月班", base=nb_base, days=(-40, -35), instructor=veteran)
    # a past inspection of a Ningbo class the veteran taught, 200 days ago, with a major finding
    past = Inspection.objects.create(training_class=ended, checklist=world.checklist, created_by=world.planner,
                                     status=Inspection.Status.CLOSED,
                                     started_at=timezone.now() - datetime.timedelta(days=200))
    Finding.objects.create(inspection=past, severity="major", description="x", deadline=today)
    # the teaching record: the weak instructor's pass rate and CPR are low, the veteran's fine
    monkeypatch.setattr(planning, "_teaching_figures", lambda ids, **kw: {
        weak.pk: Figures(theory_sat=10, theory_passed=6, cpr_scores=[60.0]),
        veteran.pk: Figures(theory_sat=10, theory_passed=10, practical_sat=10, practical_passed=9, cpr_scores=[90.0])})

    plan = api.create_plan(world.planner, region=hz, name="杭州计划", period_start=today,
                           period_end=today + datetime.timedelta(days=7), sample_size=2, seed="fixed-seed",
                           weights={"new_instructor": 3})
    rows = {r["class"]: r for r in plan.population}
    assert sorted(rows) == sorted([world.klass.pk, old.pk, low.pk])  # not cancelled, Ningbo, next month, last month
    assert [r["class"] for r in plan.population] == sorted(rows)
    assert elsewhere.pk not in rows and cancelled.pk not in rows and later.pk not in rows
    f = rows[world.klass.pk]["factors"]
    assert f["new_instructor"] == 1.0 and f["past_findings"] == 0 and f["long_since_inspection"] == 1.0
    assert rows[world.klass.pk]["weight"] == 1 + 3 * 1.0 + 1.0 * 1.0  # new instructor (weight 3), never inspected
    assert rows[old.pk]["factors"]["past_findings"] == round(2 / 3, 4)  # the veteran taught the inspected class
    assert rows[old.pk]["factors"]["new_instructor"] == 0
    lf = rows[low.pk]["factors"]
    assert lf["low_pass_rate"] == 1.0 and lf["poor_cpr"] == 1.0 and lf["new_instructor"] == 0
    assert lf["long_since_inspection"] == 1.0  # other base never inspected
    assert rows[low.pk]["weight"] == pytest.approx(1 + 1.5 + 1.5 + 1.0)
    assert plan.weights["new_instructor"] == 3 and plan.weights["poor_cpr"] == 1.5
    # the draw: stored, reproduced from the stored seed and population, one inspection per drawn class
    assert len(plan.drawn) == 2 and planning.redraw(plan) == plan.drawn
    assert sorted(plan.inspections.values_list("training_class_id", flat=True)) == sorted(plan.drawn)
    for i in plan.inspections.all():
        assert i.status == "planned" and i.inspector_id is None and today <= i.scheduled_on <= plan.period_end
    assert planning.draw("fixed-seed", plan.population, 2) == plan.drawn
    draws = {tuple(planning.draw(f"seed-{n}", plan.population, 2)) for n in range(12)}
    assert len(draws) > 1  # another seed, another draw


def test_the_draw_follows_the_weights():
    rows = [{"class": c, "weight": 20.0 if c == 7 else 1.0, "factors": {}} for c in range(1, 11)]
    firsts = [planning.draw(f"s{n}", rows, 3)[0] for n in range(300)]
    assert firsts.count(7) > 170  # expected 20 / 29 of 300 ≈ 207; a flat draw would give 30
    assert all(len(set(planning.draw(f"s{n}", rows, 10))) == 10 for n in range(20))  # without replacement
    assert planning.draw("x", list(reversed(rows)), 4) == planning.draw("x", rows, 4)  # order of rows irrelevant


def test_plan_validation_and_permission(world, make_person):
    today = world.today
    with pytest.raises(PermissionDenied):
        api.create_plan(world.inspector, region=world.regions["hz"], name="x", period_start=today, period_end=today,
                        sample_size=1)
    shangcheng_admin = make_person(world.regions["shangcheng"], roles=(), admin_of=world.regions["shangcheng"])
    with pytest.raises(PermissionDenied):
        api.create_plan(shangcheng_admin, region=world.regions["hz"], name="x", period_start=today, period_end=today,
                        sample_size=1)
    with pytest.raises(ValidationError) as e:
        api.create_plan(world.planner, region=world.regions["hz"], name="", period_start=today,
                        period_end=today - datetime.timedelta(days=1), sample_size=0, weights={"bogus": 1})
    assert set(e.value.message_dict) == {"name", "period_end", "sample_size", "weights"}
    with pytest.raises(ValidationError):  # no class in 上城区
        api.create_plan(world.planner, region=world.regions["shangcheng"], name="x",
                        period_start=today, period_end=today, sample_size=1)
    assert not Inspection.objects.exists()


def test_checklist_items_are_checked():
    good = [{"code": "a.b", "group": "syllabus", "text": "统一大纲", "kind": "yesno"}]
    assert planning.checklist_item_errors(good) == []
    assert planning.checklist_item_errors([]) != []
    bad = planning.checklist_item_errors([good[0], dict(good[0]), {"code": "X y", "group": "nope", "text": "",
                                                                   "kind": "scale", "extra": 1}])
    assert len(bad) == 6  # used twice; extra key, bad code, bad group, empty text, bad kind
    from inspections.models import Checklist

    with pytest.raises(ValidationError):
        Checklist(name="x", items=[{"code": "a"}]).clean()
