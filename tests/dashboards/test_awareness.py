"""Awareness training (普及培训) records: ``courses.awareness.record_session`` and ``record_class`` (who may,
every refusal with its message and nothing stored, the rows and the audit entry), and the pages to enter a
session (/awareness/new/) and list the sessions (/awareness/)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from courses import awareness
from courses.models import AwarenessRecord, Enrolment, TrainingClass
from dashboards.models import DirtyCell
from lms import api as lms_api
from lms.models import AuditLog, Organisation, Role

from .conftest import make_class, make_org

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def _english():
    """The assertions read the English messages (pages are asked for in English too, unless said)."""
    with translation.override("en"):
        yield


@pytest.fixture
def orgs(regions):
    return {"school": make_org(regions["xihu"], Organisation.Kind.SCHOOL, "求是中学"),
            "other": make_org(regions["beilun"], Organisation.Kind.EMPLOYER, "北仑物流公司")}


@pytest.fixture
def people(regions, make_person, orgs):
    org_admin = make_person(regions["xihu"], roles=(), username="school-admin")
    lms_api.assign_role(None, org_admin, Role.ORG_ADMIN, organisation=orgs["school"])
    other_admin = make_person(regions["beilun"], roles=(), username="other-admin")
    lms_api.assign_role(None, other_admin, Role.ORG_ADMIN, organisation=orgs["other"])
    return {
        "org_admin": org_admin, "other_admin": other_admin,
        "city": make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz-admin"),
        "sibling": make_person(regions["shangcheng"], roles=(), admin_of=regions["shangcheng"], username="sc-admin"),
        "system": make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys-admin"),
        "trainee": make_person(regions["xihu"], username="trainee"),
        "instructor": make_person(regions["xihu"], roles=(Role.INSTRUCTOR,), username="instructor"),
    }


def record(actor, organisation, headcounts, held_on=TODAY):
    return awareness.record_session(actor, organisation=organisation, held_on=held_on, headcounts=headcounts,
                                    today=TODAY)


def nothing_stored():
    return not AwarenessRecord.objects.exists() and not AuditLog.objects.filter(action="awareness.session").exists()


# ------------------------------------------------------------------ record_session


def test_who_may_record_a_session(people, orgs):
    school = orgs["school"]
    for who in ("other_admin", "sibling", "trainee", "instructor"):
        with pytest.raises(PermissionDenied):
            record(people[who], school, {"students": 5})
    assert nothing_stored()
    # the organisation's own admin, the admins of a region above it, a system admin
    for who in ("org_admin", "city", "system"):
        record(people[who], school, {"students": 5})
    assert AwarenessRecord.objects.count() == 15


def test_a_session_is_one_row_per_person_per_group_with_its_audit_entry(people, orgs, regions):
    DirtyCell.objects.all().delete()
    key = record(people["org_admin"], orgs["school"], {"students": 30, "teachers": "2", "public": "", "police": 0})
    rows = AwarenessRecord.objects.filter(session_key=key)
    assert sorted(rows.values_list("group", flat=True).distinct()) == ["students", "teachers"]
    assert rows.filter(group="students").count() == 30 and rows.filter(group="teachers").count() == 2
    assert rows.count() == AwarenessRecord.objects.count() == 32
    assert set(rows.values_list("region_id", "held_on", "source", "organisation_id")) == {
        (regions["xihu"].pk, TODAY, AwarenessRecord.Source.SESSION, orgs["school"].pk)}
    entry = AuditLog.objects.get(action="awareness.session")
    assert entry.actor == people["org_admin"] and entry.object_id == str(orgs["school"].pk)
    assert entry.after == {"held_on": TODAY.isoformat(), "headcounts": {"students": 30, "teachers": 2},
                           "session_key": key}
    # the dashboards' cell of that day is marked (bulk rows send no post_save)
    assert DirtyCell.objects.filter(region_id=regions["xihu"].pk, month=TODAY.replace(day=1)).exists()
    # the first and the last day that may be entered
    oldest = TODAY - dt.timedelta(days=awareness.MAX_AGE_DAYS)
    record(people["org_admin"], orgs["school"], {"public": 1}, held_on=oldest)
    assert AwarenessRecord.objects.count() == 33


@pytest.mark.parametrize("held_on, headcounts, field, message", [
    (TODAY + dt.timedelta(days=1), {"students": 5}, "held_on", "The day cannot be in the future."),
    (TODAY - dt.timedelta(days=367), {"students": 5}, "held_on",
     "Sessions older than 366 days cannot be entered here."),
    ("2025-01-01", {"students": 5}, "held_on", "Enter the day the session was held."),
    (TODAY, {"students": "abc"}, "headcounts", "Students: enter a whole number."),
    (TODAY, {"students": "1.5"}, "headcounts", "Students: enter a whole number."),
    (TODAY, {"students": True}, "headcounts", "Students: enter a whole number."),
    (TODAY, {"students": -1}, "headcounts", "Students: the headcount must be from 0 to 10000."),
    (TODAY, {"students": 10_001}, "headcounts", "Students: the headcount must be from 0 to 10000."),
    (TODAY, {"students": 10_000, "teachers": 10_000, "public": 1}, "headcounts",
     "A session has from 1 to 20000 people in all."),
    (TODAY, {"aliens": 3, "students": 2}, "headcounts", "Unknown group: aliens."),
    (TODAY, {"students": 0, "teachers": ""}, "headcounts", "A session has from 1 to 20000 people in all."),
    (TODAY, {}, "headcounts", "A session has from 1 to 20000 people in all."),
])
def test_a_bad_session_says_why_and_stores_nothing(people, orgs, held_on, headcounts, field, message):
    with pytest.raises(ValidationError) as refused:
        record(people["org_admin"], orgs["school"], headcounts, held_on=held_on)
    assert refused.value.message_dict[field] == [message]
    assert nothing_stored()


def test_every_problem_is_reported_at_once(people, orgs):
    with pytest.raises(ValidationError) as refused:
        record(people["org_admin"], orgs["school"], {"students": "x", "teachers": -3},
               held_on=TODAY + dt.timedelta(days=3))
    assert set(refused.value.message_dict) == {"held_on", "headcounts"}
    assert len(refused.value.message_dict["headcounts"]) == 2
    assert nothing_stored()


# ------------------------------------------------------------------ record_class


def test_record_class_counts_a_finished_awareness_class_once(people, orgs, regions, make_person, programmes):
    school = orgs["school"]
    klass = make_class(programmes["awareness"], school, TODAY - dt.timedelta(days=3),
                       ends_on=TODAY - dt.timedelta(days=1))
    trainees = [make_person(regions["xihu"], username=f"aw-{i}") for i in range(4)]
    for person, status in zip(trainees, [Enrolment.Status.ACTIVE, Enrolment.Status.COMPLETED,
                                         Enrolment.Status.WITHDRAWN]):
        Enrolment.objects.create(user=person, training_class=klass, status=status)
    with pytest.raises(ValidationError, match="Only a finished class"):
        awareness.record_class(people["org_admin"], klass)
    klass.status = TrainingClass.Status.FINISHED
    klass.save()
    with pytest.raises(PermissionDenied):
        awareness.record_class(people["other_admin"], klass)
    assert not AwarenessRecord.objects.exists()

    assert awareness.record_class(people["org_admin"], klass) == 2  # not the withdrawn one
    rows = AwarenessRecord.objects.filter(training_class=klass)
    assert set(rows.values_list("region_id", "held_on", "source", "organisation_id")) == {
        (regions["xihu"].pk, klass.ends_on, AwarenessRecord.Source.CLASS, school.pk)}
    assert AuditLog.objects.get(action="awareness.class").after == {"records": 2,
                                                                     "held_on": klass.ends_on.isoformat()}
    assert awareness.record_class(people["org_admin"], klass) == 0  # once
    Enrolment.objects.create(user=trainees[3], training_class=klass)
    assert awareness.record_class(None, klass) == 1  # only the enrolment added since
    assert rows.count() == 3 and AuditLog.objects.filter(action="awareness.class").count() == 2


def test_record_class_refuses_other_programmes_and_dates_an_early_finish_today(people, orgs, programmes, regions,
                                                                             make_person):
    school = orgs["school"]
    first_aid = make_class(programmes["first_aider"], school, TODAY, status=TrainingClass.Status.FINISHED)
    with pytest.raises(ValidationError, match="Only awareness classes"):
        awareness.record_class(people["org_admin"], first_aid)
    early = make_class(programmes["awareness"], school, TODAY, ends_on=TODAY + dt.timedelta(days=5),
                       status=TrainingClass.Status.FINISHED)
    Enrolment.objects.create(user=make_person(regions["xihu"], username="early"), training_class=early)
    assert awareness.record_class(people["org_admin"], early) == 1
    assert AwarenessRecord.objects.get().held_on == TODAY  # never a day in the future


# ------------------------------------------------------------------ the pages


def client_for(user, language="en"):
    client = Client()
    client.cookies["django_language"] = language
    if user is not None:
        client.force_login(user)
    return client


def form_data(organisation, **groups):
    data = {"organisation": organisation.pk, "held_on": TODAY.isoformat()}
    data.update({f"group_{k}": v for k, v in groups.items()})
    return data


def test_the_form_offers_only_organisations_the_admin_manages(people, orgs):
    page = client_for(people["org_admin"]).get(reverse("awareness:new"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "求是中学" in html and "北仑物流公司" not in html
    for label in AwarenessRecord.Group.labels:  # one number field per group, with its label
        assert str(label) in html
    assert 'name="group_students"' in html and 'type="number"' in html
    assert TODAY.isoformat() in html  # the day defaults to today
    html = client_for(people["system"]).get(reverse("awareness:new")).content.decode()
    assert "求是中学" in html and "北仑物流公司" in html
    html = client_for(people["sibling"]).get(reverse("awareness:new")).content.decode()
    assert "求是中学" not in html and "北仑物流公司" not in html


def test_recording_a_session_from_the_page(people, orgs):
    client = client_for(people["org_admin"])
    response = client.post(reverse("awareness:new"), form_data(orgs["school"], students="1200", teachers="34"),
                           follow=True)
    assert response.redirect_chain == [(reverse("awareness:list"), 302)]
    html = response.content.decode()
    assert f"Recorded 1,234 people reached at 求是中学 on {TODAY.isoformat()}." in html
    assert reverse("awareness:new") in html  # on to the next session
    assert "1,234" in html and "Students 1,200" in html and "School doctors and teachers 34" in html
    assert AwarenessRecord.objects.count() == 1_234


def test_errors_are_shown_next_to_their_fields_in_the_users_language(people, orgs):
    client = client_for(people["org_admin"], language="zh-hans")
    html = client.post(reverse("awareness:new"),
                       form_data(orgs["school"], students="abc", teachers="-2")).content.decode()
    students = html[html.index('name="group_students"'):html.index('name="group_teachers"')]
    assert "输入整数。" in students  # Django's own message, in Chinese
    assert "确保该值大于或等于0。" in html[html.index('name="group_teachers"'):]

    client = client_for(people["org_admin"])
    tomorrow = (TODAY + dt.timedelta(days=1)).isoformat()
    html = client.post(reverse("awareness:new"),
                       dict(form_data(orgs["school"], students="3"), held_on=tomorrow)).content.decode()
    day = html[html.index('name="held_on"'):html.index('name="group_public"')]
    assert "The day cannot be in the future." in day  # from record_session, at its field
    html = client.post(reverse("awareness:new"), form_data(orgs["school"], students="0")).content.decode()
    assert 'id="headcount-errors"' in html and "A session has from 1 to 20000 people in all." in html
    html = client.post(reverse("awareness:new"), form_data(orgs["other"], students="3")).content.decode()
    assert "Select a valid choice" in html  # an organisation the admin does not manage
    assert nothing_stored()


def test_the_list_shows_the_sessions_of_the_viewers_organisations_latest_first(people, orgs):
    record(people["org_admin"], orgs["school"], {"students": 7}, held_on=TODAY - dt.timedelta(days=2))
    record(people["org_admin"], orgs["school"], {"public": 5, "volunteers": 2}, held_on=TODAY)
    record(people["other_admin"], orgs["other"], {"couriers": 9}, held_on=TODAY)

    def sessions(who):
        html = client_for(people[who]).get(reverse("awareness:list")).content.decode()
        return [(name, html.index(name)) for name in ("北仑物流公司", "求是中学") if name in html], html

    found, html = sessions("org_admin")
    assert [name for name, _at in found] == ["求是中学"]
    assert html.index("General public 5") < html.index("Students 7")  # the latest first
    assert "Volunteers 2" in html and "Couriers" not in html
    assert [name for name, _at in sessions("other_admin")[0]] == ["北仑物流公司"]
    assert [name for name, _at in sessions("city")[0]] == ["求是中学"]  # 杭州市: 西湖区's school
    assert [name for name, _at in sessions("sibling")[0]] == []
    assert {name for name, _at in sessions("system")[0]} == {"求是中学", "北仑物流公司"}
    # only sessions: generated rows and a class's trainees are not listed
    AwarenessRecord.objects.create(region=orgs["school"].region, held_on=TODAY, organisation=orgs["school"],
                                   source=AwarenessRecord.Source.GENERATED, session_key="generated-1")
    assert sessions("system")[1].count("<tr>") == 1 + 3


def test_the_list_is_paginated_by_50(people, orgs):
    AwarenessRecord.objects.bulk_create([
        AwarenessRecord(region=orgs["school"].region, held_on=TODAY - dt.timedelta(days=i),
                        organisation=orgs["school"], source=AwarenessRecord.Source.SESSION, session_key=f"k{i:03d}")
        for i in range(51)])
    client = client_for(people["org_admin"])
    first = client.get(reverse("awareness:list")).content.decode()
    assert first.count("<tr>") == 51  # the head and 50 sessions
    assert TODAY.isoformat() in first and (TODAY - dt.timedelta(days=50)).isoformat() not in first
    second = client.get(reverse("awareness:list"), {"page": 2}).content.decode()
    assert second.count("<tr>") == 2 and (TODAY - dt.timedelta(days=50)).isoformat() in second


def test_who_may_open_the_pages(people):
    for name in ("awareness:list", "awareness:new"):
        url = reverse(name)
        assert client_for(None).get(url)["Location"].startswith(reverse("lms:login"))
        for who in ("trainee", "instructor"):
            assert client_for(people[who]).get(url).status_code == 403
        for who in ("org_admin", "city", "system"):
            assert client_for(people[who]).get(url).status_code == 200
    assert client_for(people["trainee"]).post(reverse("awareness:new"), {}).status_code == 403
    assert nothing_stored()
