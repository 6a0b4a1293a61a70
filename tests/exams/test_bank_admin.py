"""The question bank and blueprint pages (/admin/exam-bank/): who may use them, and that they go through the api."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from exams.models import Attempt, Blueprint, Difficulty, Kind, PaperItem, Question
from lms.models import User

from .test_bank_xlsx import good_rows, row, xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="en")
    c.cookies["django_language"] = "en"
    if user is not None:
        c.force_login(user)
    return c


PAGES = ["exam_bank:questions", "exam_bank:question_new", "exam_bank:import", "exam_bank:export",
         "exam_bank:blueprints", "exam_bank:blueprint_new"]


@pytest.mark.parametrize("name", PAGES)
def test_only_system_and_province_admins_reach_the_pages(exam, name, bank_admin, province_admin, city_admin,
                                                          exam_trainee):
    url = reverse(name)
    for user in (bank_admin, province_admin):
        assert client_for(user).get(url).status_code == 200, user
    for user in (city_admin, exam_trainee, None):  # the pages are in the Wagtail admin: its login page for them
        assert _to_admin_login(client_for(user).get(url)), user


def _to_admin_login(resp) -> bool:
    return resp.status_code == 302 and resp["Location"].startswith(reverse("wagtailadmin_login"))


def test_the_list_filters_and_searches(exam, province_admin):
    c = client_for(province_admin)
    first = exam.questions[0]
    body = c.get(reverse("exam_bank:questions")).content.decode()
    assert first.code in body
    body = c.get(reverse("exam_bank:questions"), {"q": first.current.stem}).content.decode()
    assert first.code in body and exam.questions[1].code not in body
    other_module = exam.modules[1]
    body = c.get(reverse("exam_bank:questions"), {"module": other_module.pk, "kind": Kind.TRUE_FALSE,
                                                  "difficulty": Difficulty.HARD, "active": "1"}).content.decode()
    expected = [q for q in exam.questions if q.module_id == other_module.pk and q.current.kind == Kind.TRUE_FALSE
                and q.current.difficulty == Difficulty.HARD]
    assert expected and all(q.code in body for q in expected) and first.code not in body


def form_data(module, **kw):
    data = {"code": "JHY-NEW-001", "module": module.pk, "kind": Kind.SINGLE, "difficulty": Difficulty.EASY,
            "stem": "发现有人倒地，首先应？", "option_a": "确认环境安全", "option_b": "立即按压", "option_c": "",
            "option_d": "", "option_e": "", "correct": ["A"], "explanation": "先确保现场环境安全。",
            "tags": "现场评估、安全"}
    data.update(kw)
    return data


def test_a_question_is_created_and_edited_through_the_form(exam_course, province_admin, exam_trainee,
                                                           make_blueprint):
    c = client_for(province_admin)
    resp = c.post(reverse("exam_bank:question_new"), form_data(exam_course.modules[0]))
    assert resp.status_code == 302
    q = Question.objects.get(code="JHY-NEW-001")
    assert q.current.tags == ["现场评估", "安全"] and q.current.options == ["确认环境安全", "立即按压"]
    # bad input: the form again with the reason, nothing changed
    resp = c.post(reverse("exam_bank:question", args=[q.pk]), form_data(exam_course.modules[0], correct=["C"]))
    assert resp.status_code == 200 and "does not have" in resp.content.decode()
    q.refresh_from_db()
    assert q.current.correct == [0]
    # once an attempt used it, an edit makes version 2 and the page lists both
    bp = make_blueprint(exam_course.programme, [(exam_course.modules[0], Difficulty.EASY, 1)])
    now = timezone.now()
    attempt = Attempt.objects.create(user=exam_trainee, blueprint=bp, number=1, started_at=now,
                                     deadline_at=now + timedelta(minutes=45))
    PaperItem.objects.create(attempt=attempt, position=1, version=q.current, option_order=[1, 0])
    resp = c.post(reverse("exam_bank:question", args=[q.pk]),
                  form_data(exam_course.modules[0], stem="发现有人倒地，第一步应？"))
    assert resp.status_code == 302
    q.refresh_from_db()
    assert q.current.number == 2 and q.versions.get(number=1).stem == "发现有人倒地，首先应？"
    body = c.get(reverse("exam_bank:question", args=[q.pk])).content.decode()
    assert "In use: never changed" in body and "发现有人倒地，第一步应？" in body


def test_retire_and_restore(exam, bank_admin, city_admin):
    q = exam.questions[0]
    assert _to_admin_login(client_for(city_admin).post(reverse("exam_bank:question_active", args=[q.pk]),
                                                       {"active": "0"}))
    q.refresh_from_db()
    assert q.is_active
    c = client_for(bank_admin)
    assert c.post(reverse("exam_bank:question_active", args=[q.pk]), {"active": "0"}).status_code == 302
    q.refresh_from_db()
    assert not q.is_active
    c.post(reverse("exam_bank:question_active", args=[q.pk]), {"active": "1"})
    q.refresh_from_db()
    assert q.is_active
    # retiring a question the active blueprint needs warns that its exam can no longer be drawn
    for other in exam.questions:
        if (other.module_id, other.current.difficulty) == (q.module_id, q.current.difficulty) and other != q:
            c.post(reverse("exam_bank:question_active", args=[other.pk]), {"active": "0"})
    resp = c.post(reverse("exam_bank:question_active", args=[q.pk]), {"active": "0"}, follow=True)
    assert "cannot be drawn any more" in resp.content.decode() and exam.blueprint.name in resp.content.decode()


def test_import_page_shows_bad_rows_and_imports_only_when_asked(exam_course, province_admin):
    c = client_for(province_admin)
    slug = exam_course.modules[0].slug
    f = xlsx(good_rows(slug) + [row("JHY-X-001", "no-such-module")])
    f.name = "bank.xlsx"
    resp = c.post(reverse("exam_bank:import"), {"file": f})
    body = resp.content.decode()
    assert resp.status_code == 200 and "Nothing was imported" in body and "no-such-module" in body
    assert ">5<" in body  # the row number
    assert not Question.objects.exists()
    f = xlsx(good_rows(slug) + [row("JHY-X-001", "no-such-module")])
    f.name = "bank.xlsx"
    resp = c.post(reverse("exam_bank:import"), {"file": f, "good_rows_only": "on"})
    assert "Imported" in resp.content.decode() and Question.objects.count() == 3


def test_export_downloads_the_filtered_bank(exam, bank_admin):
    resp = client_for(bank_admin).get(reverse("exam_bank:export"), {"module": exam.modules[0].pk})
    assert resp.status_code == 200 and resp["Content-Disposition"].startswith("attachment")
    sheet = load_workbook(io.BytesIO(resp.content)).active
    codes = {r[0].value for r in sheet.iter_rows(min_row=2)}
    assert codes == {q.code for q in exam.questions if q.module_id == exam.modules[0].pk}


def blueprint_data(programme, rules, **kw):
    data = {"name": "救护员理论考试", "programme": programme.pk, "is_active": "on", "time_limit_min": "45",
            "pass_mark_pct": "80", "attempts_allowed": "3", "wait_h": "1", "opens_at": "", "closes_at": "",
            "show_explanations": "on", "leave_limit": "5",
            "rules-TOTAL_FORMS": str(len(rules) + 1), "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000"}
    for i, (module, difficulty, n) in enumerate(rules):
        data.update({f"rules-{i}-module": module.pk, f"rules-{i}-difficulty": difficulty, f"rules-{i}-count": n,
                     f"rules-{i}-points_each": "1"})
    data.update(kw)
    return data


def test_a_blueprint_is_saved_with_its_rules_and_checked_against_the_bank(exam_course, make_bank, province_admin):
    make_bank(exam_course.modules[:2], per=2)
    c = client_for(province_admin)
    m0, m1 = exam_course.modules[:2]
    # the bank holds 2 hard questions of m1: asking for 3 is refused, naming the rule
    resp = c.post(reverse("exam_bank:blueprint_new"),
                  blueprint_data(exam_course.programme, [(m0, Difficulty.EASY, 2), (m1, Difficulty.HARD, 3)]))
    body = resp.content.decode()
    assert resp.status_code == 200 and m1.title in body and "the bank holds" in body
    assert not Blueprint.objects.exists()
    resp = c.post(reverse("exam_bank:blueprint_new"),
                  blueprint_data(exam_course.programme, [(m0, Difficulty.EASY, 2), (m1, Difficulty.HARD, 2)]))
    assert resp.status_code == 302
    bp = Blueprint.objects.get()
    assert (bp.time_limit_s, bp.wait_between_attempts_s, bp.leave_limit) == (45 * 60, 3600, 5)
    assert sorted((r.module_id, r.difficulty, r.count) for r in bp.rules.all()) == sorted(
        [(m0.pk, Difficulty.EASY, 2), (m1.pk, Difficulty.HARD, 2)])
    # a second active blueprint for the programme is refused
    resp = c.post(reverse("exam_bank:blueprint_new"),
                  blueprint_data(exam_course.programme, [(m0, Difficulty.EASY, 1)], name="另一份"))
    assert resp.status_code == 200 and "already has an active blueprint" in resp.content.decode()
    # editing shows the rules and keeps them
    body = c.get(reverse("exam_bank:blueprint", args=[bp.pk])).content.decode()
    assert 'value="45"' in body and "救护员理论考试" in body
    resp = c.post(reverse("exam_bank:blueprint", args=[bp.pk]),
                  blueprint_data(exam_course.programme, [(m0, Difficulty.EASY, 1)], time_limit_min="30"))
    assert resp.status_code == 302
    bp.refresh_from_db()
    assert bp.time_limit_s == 1800 and bp.rules.count() == 1


def test_a_rule_outside_the_programme_is_refused(exam_course, make_bank, bank_admin, tree=None):
    from tests.courses.study_support import Tree

    other = Tree().module(exam_course.course, "不在项目中的模块")
    make_bank([other], per=1)
    resp = client_for(bank_admin).post(reverse("exam_bank:blueprint_new"),
                                       blueprint_data(exam_course.programme, [(other, Difficulty.EASY, 1)]))
    assert resp.status_code == 200 and "is not a module of this programme" in resp.content.decode()


def test_the_wagtail_menu_links_the_bank_for_system_admins(db):
    admin = User.objects.create_superuser("bankroot", password="x-Long-pass-1")
    body = client_for(admin).get("/admin/").content.decode()
    assert reverse("exam_bank:questions") in body and reverse("exam_bank:blueprints") in body


def test_the_pages_speak_chinese(exam_course, province_admin):
    c = Client()
    c.force_login(province_admin)
    with translation.override("zh-hans"):
        assert "题库" in c.get(reverse("exam_bank:questions")).content.decode()
        f = xlsx([row("JHY-X-001", "no-such-module")])
        f.name = "bank.xlsx"
        body = c.post(reverse("exam_bank:import"), {"file": f}).content.decode()
    assert "未导入任何试题" in body and "未知模块“no-such-module”" in body


def test_the_dashboard_links_the_bank_for_province_admins_only(db, province_admin, city_admin):
    url = reverse("exam_bank:questions")
    assert url in client_for(province_admin).get(reverse("lms:dashboard")).content.decode()
    assert url not in client_for(city_admin).get(reverse("lms:dashboard")).content.decode()
