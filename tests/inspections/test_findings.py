"""Findings: severity and deadline; follow-ups by who may; closing; what the annual assessment reads."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from inspections import api
from inspections.models import Finding

from .conftest import all_answers, client_for, plan_one

pytestmark = pytest.mark.django_db


def test_findings_follow_ups_and_closing(world):
    plan, inspection = plan_one(world)
    today = world.today
    planner = client_for(world.planner)
    for path in ("/inspections/", f"/inspections/plans/{plan.pk}/", f"/inspections/{inspection.pk}/",
                 "/inspections/plans/new/", "/dashboard/"):
        assert planner.get(path).status_code == 200, path
    assert "Same classes" in planner.get(f"/inspections/plans/{plan.pk}/").content.decode()
    assert "西湖救护员班" in client_for(world.inspector).get("/inspections/").content.decode()
    with pytest.raises(ValidationError):  # not started yet
        api.add_finding(world.inspector, inspection, severity="minor", deadline=today, description="x")
    inspection = api.start_inspection(world.inspector, inspection)
    with pytest.raises(ValidationError) as e:
        api.add_finding(world.inspector, inspection, severity="fatal", deadline=None, description="")
    assert set(e.value.message_dict) == {"severity", "deadline", "description"}
    with pytest.raises(ValidationError) as e:
        api.add_finding(world.inspector, inspection, severity="major", deadline=today - datetime.timedelta(days=1),
                        description="x")
    assert set(e.value.message_dict) == {"deadline"}
    with pytest.raises(PermissionDenied):
        api.add_finding(world.instructor, inspection, severity="minor", deadline=today, description="x")
    f = api.add_finding(world.inspector, inspection, severity="critical", deadline=today + datetime.timedelta(days=7),
                        description="考官即授课师资，未做到考培分离", item_code="asm.practical")
    # the form on the detail page
    c = client_for(world.inspector)
    r = c.post(f"/inspections/{inspection.pk}/findings/new/", {"severity": "minor", "deadline": str(today),
                                                                "description": "签到表不全", "item_code": ""})
    assert r.status_code == 302 and Finding.objects.count() == 2
    minor = Finding.objects.get(description="签到表不全")

    # the class's side rectifies, the planner or the inspector verifies or reopens
    for who in (world.inspector, world.planner, world.trainees[0]):
        with pytest.raises(PermissionDenied):
            api.report_rectification(who, f, note="已整改")
    with pytest.raises(ValidationError):
        api.report_rectification(world.instructor, f, note="")
    with pytest.raises(ValidationError):  # nothing reported yet
        api.verify_finding(world.planner, f, note="ok")
    api.report_rectification(world.instructor, f, note="已另派考官")
    for who in (world.instructor, world.org_admin):
        with pytest.raises(PermissionDenied):
            api.verify_finding(who, f, note="自查合格")
    new_deadline = today + datetime.timedelta(days=20)
    api.reopen_finding(world.planner, f, note="仍由本班师资监考", deadline=new_deadline)
    f.refresh_from_db()
    assert f.status == "open" and f.deadline == new_deadline
    # through the page, as the organisation admin, then verified by the inspector
    r = client_for(world.org_admin).post(f"/inspections/findings/{f.pk}/", {"action": "rectify", "note": "已更换考官"})
    assert r.status_code == 302
    api.verify_finding(world.inspector, f, note="复查合格")
    assert [u.kind for u in f.follow_ups.all()] == ["rectification", "reopened", "rectification", "verified"]

    with pytest.raises(ValidationError):  # not submitted
        api.close_inspection(world.planner, inspection)
    api.save_checklist_change(world.inspector, inspection, client_id="6f1c0a3e-0000-4000-8000-000000000001",
                              body={"answers": all_answers(world.checklist)})
    inspection = api.submit_inspection(world.inspector, inspection)
    with pytest.raises(PermissionDenied):
        api.close_inspection(world.inspector, inspection)
    with pytest.raises(ValidationError):  # the minor finding is still open
        api.close_inspection(world.planner, inspection)
    api.report_rectification(world.instructor, minor, note="已补签")
    api.verify_finding(world.planner, minor, note="核对无误")
    assert api.close_inspection(world.planner, inspection).status == "closed"

    # the annual assessment: findings by instructor and year of the inspection's start
    other = world.trainees[1]
    year = inspection.started_at.year
    assert api.findings_by_instructor([world.instructor.pk, other.pk], year=year) == {
        world.instructor.pk: {"minor": 1, "major": 0, "critical": 1}}
    assert api.findings_by_instructor([world.instructor.pk], year=year - 1) == {}
