"""Inspectors come from outside the class's organisation and studio, and from the plan's region."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from inspections import api, permissions
from instructors.models import Studio, StudioMembership
from lms import api as lms_api
from lms.models import Role

from .conftest import plan_one

pytestmark = pytest.mark.django_db


def test_every_exclusion_and_the_assignment(world, make_person):
    _plan, inspection = plan_one(world, assign=False)
    hz, xihu, nb = world.regions["hz"], world.regions["xihu"], world.regions["beilun"]
    ok = world.inspector
    assert permissions.inspector_refusals(ok, inspection) == []
    not_inspector = make_person(hz, roles=(Role.EXAMINER,), real_name="考官")
    outside = make_person(nb, roles=(Role.INSPECTOR,), real_name="宁波督查")
    base_member = make_person(xihu, roles=(Role.INSPECTOR,), real_name="基地职员", organisation=world.base)
    base_admin = make_person(xihu, roles=(Role.INSPECTOR,), real_name="基地管理")
    lms_api.assign_role(None, base_admin, Role.ORG_ADMIN, organisation=world.base)
    studio_org = lms_api.create_organisation(None, name="名师工作室", kind="studio", region=xihu)
    studio = Studio.objects.create(name="王授课工作室", slug="wang", organisation=studio_org, head=world.instructor,
                                   established_on=datetime.date(2024, 1, 1))
    StudioMembership.objects.create(studio=studio, user=world.instructor, joined_on=datetime.date(2024, 1, 1))
    studio_mate = make_person(hz, roles=(Role.INSPECTOR,), real_name="工作室成员")
    StudioMembership.objects.create(studio=studio, user=studio_mate, joined_on=datetime.date(2024, 1, 1))
    # the studio whose organisation is the training base (a class held at a studio)
    base_studio = Studio.objects.create(name="基地工作室", slug="base", organisation=world.base, head=world.planner,
                                        established_on=datetime.date(2024, 1, 1))
    base_studio_mate = make_person(hz, roles=(Role.INSPECTOR,), real_name="基地工作室成员")
    StudioMembership.objects.create(studio=base_studio, user=base_studio_mate, joined_on=datetime.date(2024, 1, 1))
    teacher = make_person(hz, roles=(Role.INSPECTOR,), real_name="兼课督查")
    world.klass.instructors.add(teacher)
    expected = {
        not_inspector: "is not an inspector",
        outside: "does not work in",
        base_member: "belongs to the class's organisation",
        base_admin: "belongs to the class's organisation",
        studio_mate: "is a member of the studio 王授课工作室",
        base_studio_mate: "is a member of the studio 基地工作室",
        teacher: "teaches this class",
    }
    from django.utils import translation

    with translation.override("en"):
        for person, reason in expected.items():
            reasons = permissions.inspector_refusals(person, inspection)
            assert any(reason in r for r in reasons), (person.real_name, reasons)
            with pytest.raises(ValidationError) as e:
                api.assign_inspector(world.planner, inspection, person)
            assert any(reason in m for m in e.value.messages)
    assert [u.pk for u in permissions.eligible_inspectors(inspection)] == [ok.pk]
    with pytest.raises(PermissionDenied):
        api.assign_inspector(world.inspector, inspection, ok)
    with pytest.raises(PermissionDenied):
        api.assign_inspector(world.org_admin, inspection, ok)
    assert api.assign_random_inspector(world.planner, inspection, seed="x").inspector_id == ok.pk
    inspection.refresh_from_db()
    assert inspection.inspector_id == ok.pk
