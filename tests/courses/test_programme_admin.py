"""Programmes are data: a system admin changes them in the Wagtail admin, others cannot."""

import pytest
from django.test import Client

from courses.models import Programme
from lms.models import User


@pytest.fixture
def sysadmin(db):
    return User.objects.create_superuser("progadmin", password="x-Long-pass-1")


def test_a_system_admin_creates_and_changes_a_programme_in_the_admin(sysadmin):
    c = Client()
    c.force_login(sysadmin)
    listing = c.get("/admin/programmes/")
    assert listing.status_code == 200 and "培训项目" in listing.content.decode()
    resp = c.post("/admin/programmes/new/", {
        "name": "复训（夜班）", "code": "refresher-night", "kind": "refresher", "mode": "credits",
        "description": "", "required_credits": "5", "required_class_hours": "8", "theory_exam_required": "on",
        "is_active": "on",
    })
    assert resp.status_code == 302, resp.content.decode()[:2000]
    programme = Programme.objects.get(code="refresher-night")
    assert programme.mode == Programme.Mode.CREDITS and programme.required_credits == 5
    # Bad input: negative credits are refused with a message, nothing changes.
    resp = c.post(f"/admin/programmes/edit/{programme.pk}/", {
        "name": "复训（夜班）", "code": "refresher-night", "kind": "refresher", "mode": "credits",
        "required_credits": "-1", "required_class_hours": "8", "is_active": "on",
    })
    assert resp.status_code == 200
    programme.refresh_from_db()
    assert programme.required_credits == 5


def test_a_trainee_cannot_reach_the_programme_admin(db, regions, make_person, client):
    trainee = make_person(regions["xihu"])
    client.force_login(trainee)
    resp = client.get("/admin/programmes/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")
    resp = client.post("/admin/programmes/new/", {"name": "x", "code": "x", "kind": "refresher",
                                                          "mode": "credits", "required_credits": "1",
                                                          "required_class_hours": "1"})
    assert resp.status_code == 302 and not Programme.objects.filter(code="x").exists()
