"""The instructors' pages: the list and registration, the profile page and its actions, the annual
assessment's pages: each for whom it is, 404 outside the admin's region, every change through the api."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from instructors.models import Assessment, InstructorProfile, Outcome, StandingChange
from lms.models import Role

from .conftest import default_rule, en

pytestmark = pytest.mark.django_db


def test_list_and_registration(world, client, make_person):
    page = en(client, world.admin).get("/instructors/")
    body = page.content.decode()
    assert page.status_code == 200 and "王芳" in body and "刘老师" not in body
    assert "救护员师资" in body and "not required" in body
    # Filters.
    assert "王芳" not in client.get("/instructors/?status=suspended").content.decode()
    assert "王芳" in client.get(f"/instructors/?tier={world.t2.pk}&q=王").content.decode()
    assert "刘老师" in en(client, world.sysadmin).get("/instructors/").content.decode()
    assert "刘老师" in en(client, world.city_admin).get("/instructors/").content.decode()
    for person in (world.instructor, world.trainee):
        assert en(client, person).get("/instructors/").status_code == 403

    # Register a person of the region with the instructor role.
    newcomer = make_person(world.regions["xihu"], roles=(Role.INSTRUCTOR,), real_name="新来的老师")
    stranger = make_person(world.regions["shangcheng"], roles=(Role.INSTRUCTOR,), real_name="外区老师")
    en(client, world.admin)
    form = client.get("/instructors/").content.decode()
    assert "新来的老师" in form and "外区老师" not in form
    refused = client.post("/instructors/register/", {"person": stranger.pk, "tier": world.t1.pk})
    assert refused.status_code == 200 and not InstructorProfile.objects.filter(user=stranger).exists()
    done = client.post("/instructors/register/", {"person": newcomer.pk, "tier": world.t1.pk,
                                                  "training_base": world.base.pk, "reason": "师资班结业"})
    profile = InstructorProfile.objects.get(user=newcomer)
    assert done.status_code == 302 and done["Location"] == f"/instructors/{profile.pk}/"
    assert (profile.tier, profile.training_base, profile.status) == (world.t1, world.base, "active")
    assert StandingChange.objects.get(profile=profile).reason == "师资班结业"


def test_profile_page_visibility_and_actions(world, client, make_person):
    url = f"/instructors/{world.profile.pk}/"
    assert en(client, world.admin).get(url).status_code == 200
    assert en(client, world.city_admin).get(url).status_code == 200
    assert en(client, world.admin_sc).get(url).status_code == 404
    assert en(client, world.other).get(url).status_code == 404  # another instructor
    own = en(client, world.instructor).get(url).content.decode()
    assert "王芳" in own and 'id="suspend"' not in own and 'id="change-tier"' not in own
    assert "/my/teaching/" in client.get("/dashboard/").content.decode()
    assert "/instructors/assessment/" in en(client, world.admin).get("/dashboard/").content.decode()
    en(client, world.instructor)
    mine = client.get("/my/teaching/").content.decode()
    assert "In good standing" in mine and "No class taught has ended yet." in mine
    assert en(client, world.trainee).get("/my/teaching/").status_code == 403
    unregistered = make_person(world.regions["xihu"], roles=(Role.INSTRUCTOR,))
    assert "not registered as an instructor" in en(client, unregistered).get("/my/teaching/").content.decode()

    # The instructor cannot change their own standing; another county's admin gets 404; nothing changes.
    assert en(client, world.instructor).post(f"{url}suspend/", {"reason": "自己停"}).status_code == 403
    assert en(client, world.admin_sc).post(f"{url}suspend/", {"reason": "不是我的区"}).status_code == 404
    world.profile.refresh_from_db()
    assert world.profile.status == "active"

    en(client, world.admin)
    # Without a reason: refused with the message, nothing changes.
    resp = client.post(f"{url}suspend/", {"reason": ""}, follow=True)
    assert "Give the reason." in resp.content.decode()
    world.profile.refresh_from_db()
    assert world.profile.status == "active"
    client.post(f"{url}suspend/", {"reason": "学员投诉属实"})
    world.profile.refresh_from_db()
    assert (world.profile.status, world.profile.status_reason) == ("suspended", "学员投诉属实")
    page = client.get(url).content.decode()
    assert "王芳 is suspended as an instructor." in page and "学员投诉属实" in page and 'id="reinstate"' in page
    client.post(f"{url}reinstate/", {"reason": "整改完成"})
    client.post(f"{url}tier/", {"tier": world.t3.pk, "reason": "带教成绩突出"})
    world.profile.refresh_from_db()
    assert (world.profile.status, world.profile.tier) == ("active", world.t3)
    history = list(StandingChange.objects.filter(profile=world.profile).values_list("to_status", "to_tier", "reason"))
    assert history[0] == ("active", world.t3.pk, "带教成绩突出") and len(history) == 3
    assert "带教成绩突出" in client.get(url).content.decode()


def test_assessment_pages(world, client):
    from openpyxl import load_workbook

    year = timezone.localdate().year - 1
    default_rule(year)
    en(client, world.admin)
    assert client.get("/instructors/assessment/").status_code == 200
    assert client.get(f"/instructors/assessment/?year={year}")["Location"] == f"/instructors/assessment/{year}/"
    assert "Not run for this year yet." in client.get(f"/instructors/assessment/{year}/").content.decode()
    assert client.post(f"/instructors/assessment/{year}/").status_code == 302
    table = client.get(f"/instructors/assessment/{year}/").content.decode()
    assert "王芳" in table and "刘老师" not in table and "Demote" in table
    a = Assessment.objects.get(profile=world.profile, year=year)
    assert en(client, world.admin_sc).get(f"/instructors/assessment/item/{a.pk}/").status_code == 404
    assert client.post(f"/instructors/assessment/item/{a.pk}/", {"decision": "keep", "reason": "不是我的区"}
                       ).status_code == 404
    assert en(client, world.instructor).get(f"/instructors/assessment/item/{a.pk}/").status_code == 403

    en(client, world.admin)
    item = client.get(f"/instructors/assessment/item/{a.pk}/").content.decode()
    assert "Class hours taught" in item and "≥ 16 class hours" in item and "not met" in item
    # Overriding without a reason: the form again with the error; nothing decided.
    resp = client.post(f"/instructors/assessment/item/{a.pk}/", {"decision": Outcome.KEEP, "reason": ""})
    assert resp.status_code == 200 and "Give the reason for overriding the proposal." in resp.content.decode()
    a.refresh_from_db()
    assert a.status == Assessment.Status.PROPOSED
    resp = client.post(f"/instructors/assessment/item/{a.pk}/", {"decision": Outcome.KEEP, "reason": "休产假，课时不足"})
    assert resp.status_code == 302
    a.refresh_from_db()
    world.profile.refresh_from_db()
    assert (a.status, a.decision, world.profile.tier) == (Assessment.Status.OVERRIDDEN, Outcome.KEEP, world.t2)
    decided = client.get(f"/instructors/assessment/item/{a.pk}/").content.decode()
    assert "休产假，课时不足" in decided and "西湖管理员" in decided and "Record the decision" not in decided

    xlsx = client.get(f"/instructors/assessment/{year}/export.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Instructor" and len(rows) == 2 and rows[1][0] == "王芳"
    assert rows[1][9] == "Demote" and rows[1][12] == "Keep" and rows[1][13] == "休产假，课时不足"
