"""A small inspection world: a 西湖区 training base with a running class (an instructor, two trainees), the
杭州市 admin who plans, an inspector of 杭州市, the base's organisation admin, and the 四统一 checklist."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from courses.models import Enrolment, Programme, TrainingClass
from inspections import demo
from lms import api as lms_api
from lms.models import Role


@dataclass
class World:
    regions: dict
    base: Any
    other_base: Any
    programme: Any
    klass: Any
    instructor: Any
    trainees: list
    enrolments: list
    planner: Any
    inspector: Any
    org_admin: Any
    checklist: Any
    today: datetime.date


def client_for(user, *, en: bool = True) -> Client:
    c = Client()
    c.force_login(user)
    if en:
        c.cookies["django_language"] = "en"
    return c


@pytest.fixture
def world(regions, make_person, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    today = timezone.localdate()
    base = lms_api.create_organisation(None, name="西湖培训基地", kind="training_base", region=regions["xihu"])
    other = lms_api.create_organisation(None, name="上城培训基地", kind="training_base", region=regions["shangcheng"])
    programme = Programme.objects.create(code="fa-test", name="救护员", kind=Programme.Kind.FIRST_AIDER)
    instructor = make_person(regions["xihu"], roles=(Role.INSTRUCTOR,), real_name="王授课", organisation=base,
                             username="teacher")
    klass = TrainingClass.objects.create(programme=programme, name="西湖救护员班", training_base=base,
                                         starts_on=today - datetime.timedelta(days=3),
                                         ends_on=today + datetime.timedelta(days=10))
    klass.instructors.add(instructor)
    trainees = [make_person(regions["xihu"], real_name=f"学员{n}", phone=f"1370000100{n}", username=f"trainee{n}")
                for n in range(2)]
    enrolments = [Enrolment.objects.create(user=t, training_class=klass) for t in trainees]
    planner = make_person(regions["hz"], roles=(), admin_of=regions["hz"], real_name="杭州管理员", username="planner")
    inspector = make_person(regions["hz"], roles=(Role.INSPECTOR,), real_name="督查员甲", username="inspector1")
    org_admin = make_person(regions["xihu"], roles=(), real_name="基地管理员", username="baseadmin")
    lms_api.assign_role(None, org_admin, Role.ORG_ADMIN, organisation=base)
    return World(regions=regions, base=base, other_base=other, programme=programme, klass=klass,
                 instructor=instructor, trainees=trainees, enrolments=enrolments, planner=planner,
                 inspector=inspector, org_admin=org_admin, checklist=demo.checklist(), today=today)


def plan_one(world: World, *, seed="s1", assign=True):
    """A plan over 杭州市 today drawing the class, the inspector assigned, the day planned = today."""
    from inspections import api
    from inspections.models import Inspection

    plan = api.create_plan(world.planner, region=world.regions["hz"], name="杭州市飞行检查计划",
                           period_start=world.today, period_end=world.today, sample_size=1, seed=seed)
    inspection = plan.inspections.get()
    if assign:
        api.assign_inspector(world.planner, inspection, world.inspector)
    return plan, Inspection.objects.get(pk=inspection.pk)


def started(world: World):
    from inspections import api

    _plan, inspection = plan_one(world)
    return api.start_inspection(world.inspector, inspection)


def all_answers(checklist, ok=True) -> dict:
    return {i["code"]: {"ok": ok, "note": ""} for i in checklist.items}
