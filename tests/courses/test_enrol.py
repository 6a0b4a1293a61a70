"""Enrolment with a class code and by admins: capacity, class status, unknown codes, idempotence,
Chinese messages, nothing stored on refusal, audit."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import translation

from courses import api
from courses.models import Enrolment, Programme, TrainingClass
from lms.models import AuditLog, Role

from .study_support import *  # noqa: F403
from .study_support import make_class, make_programme


@pytest.fixture
def programme(db):
    return make_programme(mode=Programme.Mode.MENU)


@pytest.fixture
def klass(programme, base):
    return make_class(programme, base, code="ABCD2345", capacity=2)


def messages_of(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def test_enrol_with_a_code_typed_in_lower_case_with_spaces(klass, trainee):
    enrolment = api.enrol_with_code(trainee, "  abcd 2345 ")
    assert enrolment.training_class == klass
    assert (enrolment.user, enrolment.source, enrolment.status) == (trainee, Enrolment.Source.CODE,
                                                                     Enrolment.Status.ACTIVE)
    log = AuditLog.objects.get(action="courses.enrolled")
    assert log.actor == trainee and log.after["class_code"] == "ABCD2345"
    assert api.normalise_class_code("abcd-2345") == "ABCD2345"


def test_enrolling_twice_is_idempotent(klass, trainee):
    first = api.enrol_with_code(trainee, "ABCD2345")
    second = api.enrol_with_code(trainee, "abcd2345")
    assert first.pk == second.pk
    assert Enrolment.objects.count() == 1
    assert AuditLog.objects.filter(action="courses.enrolled").count() == 1


def test_the_same_person_already_enrolled_does_not_take_a_second_place_in_a_full_class(klass, trainee, make_person,
                                                                                         regions):
    api.enrol_with_code(trainee, "ABCD2345")
    api.enrol_with_code(make_person(regions["xihu"]), "ABCD2345")
    assert api.enrol_with_code(trainee, "ABCD2345").user == trainee  # full, but they are in already


@pytest.mark.parametrize("code, expected", [
    ("ZZZZ9999", "没有班级码为“ZZZZ9999”的培训班"),
    ("   ", "请输入培训基地给你的班级码"),
    ("", "请输入培训基地给你的班级码"),
])
def test_unknown_or_empty_code_is_refused_in_chinese_and_nothing_is_stored(klass, trainee, code, expected):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        api.enrol_with_code(trainee, code)
    assert expected in messages_of(exc.value)
    assert not Enrolment.objects.exists()
    assert not AuditLog.objects.filter(action="courses.enrolled").exists()


def test_a_full_class_is_refused_in_chinese_and_nothing_is_stored(klass, make_person, regions):
    for _ in range(2):
        api.enrol_with_code(make_person(regions["xihu"]), "ABCD2345")
    late = make_person(regions["xihu"])
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        api.enrol_with_code(late, "ABCD2345")
    assert "该培训班已满员（共 2 个名额）" in messages_of(exc.value)
    assert not Enrolment.objects.filter(user=late).exists()
    assert Enrolment.objects.count() == 2
    # a withdrawn place is free again
    Enrolment.objects.filter(pk=Enrolment.objects.first().pk).update(status=Enrolment.Status.WITHDRAWN)
    assert api.enrol_with_code(late, "ABCD2345").status == Enrolment.Status.ACTIVE


@pytest.mark.parametrize("status, expected", [
    (TrainingClass.Status.CLOSED, "该培训班已停止报名"),
    (TrainingClass.Status.CANCELLED, "该培训班已取消"),
    (TrainingClass.Status.FINISHED, "该培训班已结束"),
])
def test_a_class_not_open_is_refused_in_chinese_and_nothing_is_stored(klass, trainee, status, expected):
    TrainingClass.objects.filter(pk=klass.pk).update(status=status)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        api.enrol_with_code(trainee, "ABCD2345")
    assert expected in messages_of(exc.value)
    assert not Enrolment.objects.exists()


def test_a_class_past_its_end_date_is_refused(programme, base, trainee):
    make_class(programme, base, code="OLDC2345", ends_in_days=-1)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        api.enrol_with_code(trainee, "OLDC2345")
    assert "该培训班已结束" in messages_of(exc.value)
    assert not Enrolment.objects.exists()


def test_admins_enrol_people_in_a_closed_class_of_their_region_only(klass, trainee, make_person, regions):
    TrainingClass.objects.filter(pk=klass.pk).update(status=TrainingClass.Status.CLOSED)
    klass.refresh_from_db()
    county = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"])
    other_county = make_person(regions["beilun"], roles=(), admin_of=regions["beilun"])
    with pytest.raises(PermissionDenied):
        api.enrol(other_county, trainee, klass, source=Enrolment.Source.ADMIN)
    with pytest.raises(PermissionDenied):
        api.enrol(make_person(regions["xihu"]), trainee, klass, source=Enrolment.Source.ADMIN)  # another trainee
    assert not Enrolment.objects.exists()
    enrolment, created = api.enrol(county, trainee, klass, source=Enrolment.Source.ADMIN)
    assert created and enrolment.source == Enrolment.Source.ADMIN
    assert api.enrol(county, trainee, klass, source=Enrolment.Source.ADMIN) == (enrolment, False)
    with pytest.raises(ValidationError):
        api.enrol(county, trainee, klass, source="telepathy")


def test_the_enrol_page(klass, trainee):
    client = Client()
    client.force_login(trainee)
    with translation.override("zh-hans"):
        page = client.get("/study/enrol/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert page.status_code == 200
        assert "班级码" in page.content.decode()
        resp = client.post("/study/enrol/", {"code": "nope-0000"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert resp.status_code == 200
    assert "没有班级码为“NOPE0000”的培训班" in resp.content.decode()
    assert not Enrolment.objects.exists()
    resp = client.post("/study/enrol/", {"code": "abcd 2345"})
    assert resp.status_code == 302 and resp["Location"] == "/study/"
    assert Enrolment.objects.get().user == trainee
    assert klass.name in client.get("/study/").content.decode()


def test_the_enrol_page_needs_a_sign_in(klass):
    resp = Client().post("/study/enrol/", {"code": "ABCD2345"})
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")
    assert not Enrolment.objects.exists()


def test_choosing_modules_on_my_study(tree, base, trainee):
    programme = make_programme(code="menu-choice", mode=Programme.Mode.MENU, required_credits=2)
    course = tree.course()
    from .study_support import add_module

    pm_required = add_module(programme, tree.module(course, "必修模块"), order=1)
    pm_optional = add_module(programme, tree.module(course, "选修模块"), order=2, required=False)
    make_class(programme, base, code="MENU2345")
    enrolment = api.enrol_with_code(trainee, "MENU2345")
    client = Client()
    client.force_login(trainee)
    body = client.get("/study/").content.decode()
    assert 'name="module"' in body and "选修模块" in body
    resp = client.post(f"/study/enrolments/{enrolment.pk}/modules/", {"module": [pm_optional.pk]})
    assert resp.status_code == 302
    assert list(enrolment.chosen_modules.all()) == [pm_optional]
    client.post(f"/study/enrolments/{enrolment.pk}/modules/", {"module": [pm_required.pk]})
    assert list(enrolment.chosen_modules.all()) == [pm_optional]  # refused: unchanged
    assert AuditLog.objects.filter(action="courses.modules_chosen").count() == 1


def test_the_trainee_dashboard_card_without_a_class_offers_enrolment(trainee):
    client = Client()
    client.force_login(trainee)
    with translation.override("zh-hans"):
        body = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的培训" in body and "/study/enrol/" in body
    assert trainee.has_role(Role.TRAINEE)
