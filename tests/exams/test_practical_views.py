"""The practical exam's pages and endpoints: what each person sees and may do, the tablet's JSON
checklist (idempotent), check-in with a photo upload, sign-off, appeals from filing to decision."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exams import practical
from exams.models import Appeal, Booking, ChecklistEntry, PracticalResult
from tests.exams.practical_support import png_photo, run_cpr, site, tick_all, today_session  # noqa: F401

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def booked(site):
    session = today_session(site)
    return practical.book(site.admin, session, site.candidate)


def test_the_session_page_is_for_its_admins_and_examiners(site, booked):
    url = reverse("exams:practical_session", args=[booked.session_id])
    assert client_for(site.examiner).get(url).status_code == 200
    page = client_for(site.admin).get(url).content.decode()
    assert "张考生" in page and "1 / 8" in page  # booked / stations × slots
    assert client_for(site.examiner2).get(url).status_code == 404  # not an examiner of it
    assert client_for(site.candidate).get(url).status_code == 404
    # the draw form lists who may not examine, with the reason
    assert "王老师" in page and "救护员一班" in page


def test_an_admin_books_by_name_and_is_told_why_not(site):
    session = today_session(site)
    c = client_for(site.admin)
    url = reverse("exams:practical_session", args=[session.pk])
    resp = c.post(url, {"action": "book", "candidate": "张考生"}, follow=True)
    assert Booking.objects.filter(session=session, candidate=site.candidate).exists()
    resp = c.post(url, {"action": "book", "candidate": "没有这个人"}, follow=True)
    assert "没有这个人" in resp.content.decode()
    resp = c.post(url, {"action": "assign", "examiner": site.taught.pk}, follow=True)
    assert "救护员一班" in resp.content.decode() and not session.session_examiners.filter(examiner=site.taught).exists()
    assert client_for(site.examiner).post(url, {"action": "book", "candidate": "孙考生"}).status_code == 403


def test_check_in_through_the_page_with_a_photo(site, booked):
    c = client_for(site.examiner)
    url = reverse("exams:practical_check_in", args=[booked.pk])
    resp = c.post(url, {"identity_confirmed": "1"}, follow=True)
    assert "拍照" in resp.content.decode()  # no photo yet: refused with the reason
    assert Booking.objects.get(pk=booked.pk).status == Booking.Status.BOOKED
    resp = c.post(url, {"identity_confirmed": "1", "photo": png_photo()}, follow=True)
    booking = Booking.objects.get(pk=booked.pk)
    assert booking.status == Booking.Status.CHECKED_IN and booking.station is not None
    photo = c.get(reverse("exams:practical_photo", args=[booked.pk]))
    assert photo.status_code == 200 and photo["Cache-Control"].startswith("private")
    assert client_for(site.examiner2).get(reverse("exams:practical_photo", args=[booked.pk])).status_code == 404


def test_the_tablet_checklist_endpoint_is_idempotent(site, booked):
    booking = practical.check_in(site.examiner, booked, identity_confirmed=True, photo=png_photo())
    c = client_for(site.examiner)
    url = reverse("exams:practical_checklist", args=[booking.pk])
    entry = {"id": str(uuid.uuid4()), "item": "scene_safety", "done": True, "at": timezone.now().isoformat()}
    body = json.dumps({"entries": [entry]})
    first = c.post(url, body, content_type="application/json").json()
    again = c.post(url, body, content_type="application/json").json()
    assert first["stored"] == [entry["id"]] and again["duplicates"] == [entry["id"]]
    assert ChecklistEntry.objects.filter(booking=booking).count() == 1
    assert c.post(url, "{nope", content_type="application/json").status_code == 400
    other = client_for(site.admin).post(url, body, content_type="application/json")
    assert other.status_code == 403 and "考官" in other.json()["error"]
    state = c.get(reverse("exams:practical_state", args=[booking.pk])).json()
    assert state["ticks"] == {"scene_safety": True} and "cpr" in state["critical_missed"]


def test_sign_and_appeal_through_the_pages(site, booked):
    booking = practical.check_in(site.examiner, booked, identity_confirmed=True, photo=png_photo())
    run_cpr(site, booking)
    tick_all(site, booking, except_keys=("aed_clear",))
    c = client_for(site.examiner)
    c.post(reverse("exams:practical_sign", args=[booking.pk]), {})  # no confirmation: nothing signed
    assert not PracticalResult.objects.filter(booking=booking).exists()
    c.post(reverse("exams:practical_sign", args=[booking.pk]), {"confirm": "1"})
    result = PracticalResult.objects.get(booking=booking)
    page = c.get(reverse("exams:practical_booking", args=[booking.pk])).content.decode()
    assert result.sha256 in page and "已核验" in page and "分析心律和除颤时确认无人接触患者" in page

    me = client_for(site.candidate)
    assert me.get(reverse("exams:practical_booking", args=[booking.pk])).status_code == 200
    assert client_for(site.candidate2).get(reverse("exams:practical_booking", args=[booking.pk])).status_code == 404
    me.post(reverse("exams:practical_appeal", args=[booking.pk]), {"grounds": "我做了除颤前的安全确认。"})
    appeal = Appeal.objects.get(booking=booking)
    review = reverse("exams:practical_appeal_review", args=[appeal.pk])
    assert client_for(site.examiner2).post(review, {"reviewer": site.examiner2.pk}).status_code == 404
    client_for(site.admin).post(review, {"reviewer": site.examiner2.pk})
    assert Appeal.objects.get(pk=appeal.pk).reviewer == site.examiner2
    reviewer = client_for(site.examiner2)
    assert "复核后的评分表" in reviewer.get(reverse("exams:practical_booking", args=[booking.pk])).content.decode()
    done = [i["key"] for i in site.scheme.items]
    reviewer.post(review, {"decision": "复核录像后改判。", "done": done})
    versions = list(PracticalResult.objects.filter(booking=booking).order_by("number"))
    assert [v.reason for v in versions] == ["signed", "appeal"] and versions[1].passed
    assert versions[1].signed_by == site.examiner2


def test_a_candidate_books_themselves_from_the_hub(site):
    session = today_session(site)
    c = client_for(site.candidate)
    hub = c.get(reverse("exams:practical")).content.decode()
    assert "可预约的场次" in hub and session.room.name in hub
    c.post(reverse("exams:practical_book", args=[session.pk]))
    assert Booking.objects.filter(session=session, candidate=site.candidate).exists()
    hub = c.get(reverse("exams:practical")).content.decode()
    assert "已预约" in hub


def test_a_system_admin_makes_a_new_scheme_version_in_the_admin(site, regions, make_person):
    from exams.models import PracticalScheme

    url = reverse("exam_bank:practical_scheme_new", args=[site.programme.pk])
    c = client_for(site.sysadmin)
    form = c.get(url).content.decode()
    assert "aed_clear" in form and "救护员取证实操考核" in form  # filled in from the current version
    items = site.scheme.items
    data = {"name": "救护员取证实操考核（2027版）", "cpr_standard_id": "crc-first-aider-2024", "cpr_points": "40",
            "cpr_must_pass": "on", "pass_points": "85", "theory_valid_days": "90", "retakes_allowed": "2",
            "retake_wait_days": "3", "slot_minutes": "25",
            "items-TOTAL_FORMS": str(len(items) + 3), "items-INITIAL_FORMS": str(len(items)),
            "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000"}
    for i, item in enumerate(items):
        data.update({f"items-{i}-key": item["key"], f"items-{i}-skill": item["skill"], f"items-{i}-title": item["title"],
                     f"items-{i}-points": str(item["points"])})
        if item["critical"] or item["key"] == "moving":  # moving a casualty becomes critical
            data[f"items-{i}-critical"] = "on"
    resp = c.post(url, data)
    assert resp.status_code == 302
    new = PracticalScheme.objects.get(programme=site.programme, version=2)
    assert new.pass_points == 85 and new.retakes_allowed == 2 and new.slot_minutes == 25
    assert next(i for i in new.items if i["key"] == "moving")["critical"] is True
    assert PracticalScheme.objects.get(pk=site.scheme.pk).pass_points == 80  # version 1 unchanged
    bad = dict(data, pass_points="999")
    assert c.post(url, bad).status_code == 200 and PracticalScheme.objects.filter(programme=site.programme).count() == 2
    province = make_person(regions["zj"], roles=(), admin_of=regions["zj"], username="sheng")
    refused = client_for(province).post(url, data)  # inside the admin (the bank), not the schemes
    assert refused.status_code == 302 and refused["Location"] == reverse("wagtailadmin_home")
    assert PracticalScheme.objects.filter(programme=site.programme).count() == 2


def test_a_booking_is_cancelled_by_its_candidate_and_an_absentee_recorded_by_the_examiner(site):
    session = today_session(site, slots=1)  # two places
    mine = practical.book(site.candidate, session, site.candidate)
    other = practical.book(site.admin, session, site.candidate2)
    url = reverse("exams:practical_status", args=[mine.pk])
    assert client_for(site.candidate2).post(url, {"action": "cancel"}).status_code == 404  # not theirs
    client_for(site.examiner).post(url, {"action": "cancel"})  # the examiner does not cancel bookings
    assert Booking.objects.get(pk=mine.pk).status == Booking.Status.BOOKED
    client_for(site.candidate).post(url, {"action": "cancel"})
    assert Booking.objects.get(pk=mine.pk).status == Booking.Status.CANCELLED
    practical.book(site.admin, session, site.studio_candidate)  # the place is free again
    c = client_for(site.examiner)
    c.post(reverse("exams:practical_status", args=[other.pk]), {"action": "absent"})
    assert Booking.objects.get(pk=other.pk).status == Booking.Status.ABSENT
    resp = c.post(reverse("exams:practical_status", args=[other.pk]), {"action": "absent"}, follow=True)
    assert "尚未签到" in resp.content.decode()  # only before check-in, and said why
    assert client_for(site.candidate).post(reverse("exams:practical_status", args=[other.pk]),
                                           {"action": "absent"}).status_code == 404
