"""Exam analytics (exams/analytics.py, exams/views_analytics.py): difficulty and corrected
point-biserial against a hand-computed example, the counting rule of the attempts module, flags,
scope by region and organisation, voided attempts left out, the XLSX exports, 403 for others."""

from __future__ import annotations

import io
import math
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from courses import api as courses_api
from courses.models import Enrolment
from exams import analytics, attempts
from exams.models import AnswerEvent, Attempt, Difficulty, Kind, PaperItem
from lms import api as lms_api
from lms.models import Organisation, Role
from tests.courses.study_support import make_class

T0 = datetime(2026, 11, 24, 9, 0, 0, tzinfo=dt_timezone.utc)

# 5 attempts × 3 items: 1 = answered correctly
MATRIX = [
    [1, 1, 1],
    [1, 1, 0],
    [1, 0, 1],
    [0, 1, 0],
    [1, 0, 0],
]


def pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)


def wrong(version) -> list[int]:
    return [next(i for i in range(len(version.options)) if i not in version.correct)]


def sit(user, blueprint, versions, right, *, number=1, at_s=0, extra_events=None):
    """A graded attempt of ``user`` with a paper of ``versions`` (options in their original order),
    answered right or wrong as ``right`` says (None: not answered), submitted through the attempts module."""
    start = T0 + timedelta(seconds=at_s)
    a = Attempt.objects.create(user=user, blueprint=blueprint, number=number, started_at=start,
                               deadline_at=start + timedelta(seconds=blueprint.time_limit_s))
    for pos, (v, ok) in enumerate(zip(versions, right), start=1):
        item = PaperItem.objects.create(attempt=a, position=pos, version=v,
                                        option_order=list(range(len(v.options))), points=1)
        if ok is not None:
            AnswerEvent.objects.create(item=item, choice=list(v.correct) if ok else wrong(v),
                                       saved_at=start + timedelta(seconds=10 + pos), client_seq=pos)
    for pos, choice, offset_s, seq in extra_events or []:
        AnswerEvent.objects.create(item=a.items.get(position=pos), choice=choice,
                                   saved_at=start + timedelta(seconds=offset_s), client_seq=seq)
    return attempts.submit(user, a, now=start + timedelta(seconds=600))


@pytest.fixture
def three(exam_course, make_question, make_blueprint):
    """Three single-choice questions of one module and a blueprint drawing them."""
    m = exam_course.modules[0]
    qs = [make_question(m, difficulty=Difficulty.EASY, kind=Kind.SINGLE) for _ in range(3)]
    bp = make_blueprint(exam_course.programme, [(m, Difficulty.EASY, 3)], pass_mark_pct=60)
    return bp, [q.current for q in qs]


@pytest.fixture
def people(make_person, regions):
    return {
        "xihu": [make_person(regions["xihu"], username=f"xh{i}", real_name=f"西湖学员{i}") for i in range(5)],
        "shangcheng": [make_person(regions["shangcheng"], username=f"sc{i}", real_name=f"上城学员{i}")
                       for i in range(5)],
        "county_admin": make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xh-admin"),
        "sysadmin": make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="root"),
        "trainee": make_person(regions["xihu"], username="just-a-trainee"),
        "examiner": make_person(regions["xihu"], roles=(Role.EXAMINER,), username="kaoguan"),
    }


def test_difficulty_and_corrected_point_biserial_match_the_hand_computation(three, people):
    bp, versions = three
    for user, row in zip(people["xihu"], MATRIX):
        sit(user, bp, versions, [bool(x) for x in row])
    stats = {r.version_id: r for r in analytics.item_statistics(people["sysadmin"], bp)}
    assert len(stats) == 3
    for j, v in enumerate(versions):
        xs = [row[j] for row in MATRIX]
        rest = [(sum(row) - row[j]) / 2 for row in MATRIX]  # the other two items, as a share of their points
        r = stats[v.pk]
        assert r.n == 5 and r.correct == sum(xs)
        assert r.p == pytest.approx(sum(xs) / 5)
        assert r.discrimination == pytest.approx(pearson(xs, rest), abs=1e-9)
        from scipy.stats import pointbiserialr

        assert r.discrimination == pytest.approx(pointbiserialr(xs, rest).statistic, abs=1e-9)
        assert r.code == v.question.code and r.version == 1 and r.is_current
        assert r.flags == [] and not r.enough  # 5 answers: too few to flag
    # item 1: p = 0.8; the shown figures are rounded down
    first = stats[versions[0].pk]
    assert first.p_text == "0.80"
    assert first.discrimination_text == f"{math.floor(first.discrimination * 100) / 100:.2f}"


def test_no_variance_or_one_answer_gives_a_dash_not_nan(three, people):
    bp, versions = three
    sit(people["xihu"][0], bp, versions, [True, True, False])
    sit(people["xihu"][1], bp, versions, [True, False, False])
    stats = {r.version_id: r for r in analytics.item_statistics(people["sysadmin"], bp)}
    everyone_right = stats[versions[0].pk]
    assert everyone_right.p == 1.0 and everyone_right.discrimination is None
    assert everyone_right.discrimination_text == "—"
    assert stats[versions[2].pk].discrimination is None  # nobody right: no variance either


def test_the_answer_that_counts_is_the_attempts_modules_and_unanswered_is_wrong(three, people):
    bp, versions = three
    v1 = versions[0]
    # item 1: answered right (seq 1), then a stale wrong save (seq 0, arrives later) that does not count;
    # item 2: never answered; item 3: wrong.
    a = sit(people["xihu"][0], bp, versions, [True, None, False], extra_events=[(1, wrong(v1), 30, 0)])
    counted = attempts.current_answers(a)
    assert counted[a.items.get(position=1).pk] == list(v1.correct)
    assert a.score_points == 1
    stats = {r.version_id: r for r in analytics.item_statistics(people["sysadmin"], bp)}
    assert [stats[v.pk].correct for v in versions] == [1, 0, 0]
    assert [stats[v.pk].n for v in versions] == [1, 1, 1]


def test_flags_need_thirty_answers_and_use_the_exact_values():
    def row(n, correct, disc):
        return analytics.ItemRow(version_id=1, question_id=1, code="Q", version=1, is_current=True, module="m",
                                 kind="k", difficulty="d", stem="s", n=n, correct=correct, discrimination=disc)

    with translation.override("zh-hans"):
        assert row(29, 0, -0.5).flags == [] and not row(29, 0, -0.5).enough
        assert row(30, 5, 0.5).flags == ["过难"]              # p = 0.167
        assert row(30, 6, 0.5).flags == []                   # p = 0.2 exactly: not below
        assert row(100, 96, 0.5).flags == ["过易"]            # p = 0.96
        assert row(1000, 949, 0.5).flags == [] and row(1000, 949, 0.5).p_text == "0.94"  # shown rounded down
        assert row(100, 50, 0.199).flags == ["区分度低"] and row(100, 50, 0.199).discrimination_text == "0.19"
        assert row(100, 50, None).flags == [] and row(100, 50, None).discrimination_text == "—"
        assert row(40, 0, None).flags == ["过难"]


def test_thirty_answers_flag_an_item_everyone_gets_right(three, make_person, regions, people):
    bp, versions = three
    for i in range(30):
        user = make_person(regions["xihu"], username=f"many{i}")
        sit(user, bp, versions, [True, i % 2 == 0, i % 3 == 0])
    with translation.override("zh-hans"):
        stats = {r.version_id: r for r in analytics.item_statistics(people["sysadmin"], bp)}
        easy = stats[versions[0].pk]
        assert easy.enough and easy.p == 1.0 and easy.flags == ["过易"]


def test_region_scope_counts_only_the_admins_county_and_voided_attempts_are_left_out(three, people):
    bp, versions = three
    for user, row in zip(people["xihu"], MATRIX):
        sit(user, bp, versions, [bool(x) for x in row])
    for user in people["shangcheng"]:
        sit(user, bp, versions, [False, False, False])
    admin, root = people["county_admin"], people["sysadmin"]
    mine = analytics.pass_rates(admin, bp)
    # pass mark 60 %: 2 of 3 right passes -> rows 1, 2, 3 of MATRIX pass
    assert (mine.total.people, mine.total.passed, mine.total.attempts) == (5, 3, 5)
    assert [r.label for r in mine.by_region] == ["西湖区"]
    everyone = analytics.pass_rates(root, bp)
    assert (everyone.total.people, everyone.total.passed) == (10, 3)
    labels = [(r.label, r.people) for r in everyone.by_region]
    assert labels == [("浙江省", 10), ("杭州市", 10), ("上城区", 5), ("西湖区", 5)]
    assert {r.version_id: r.n for r in analytics.item_statistics(admin, bp)} == {v.pk: 5 for v in versions}
    assert {r.version_id: r.n for r in analytics.item_statistics(root, bp)} == {v.pk: 10 for v in versions}
    # voiding a passed attempt in 西湖区: not counted any more, anywhere
    passed = Attempt.objects.get(user=people["xihu"][0])
    attempts.void(root, passed, "监考发现替考", now=T0 + timedelta(hours=1))
    mine = analytics.pass_rates(admin, bp)
    assert (mine.total.people, mine.total.passed, mine.total.attempts) == (4, 2, 4)
    assert {r.version_id: r.n for r in analytics.item_statistics(admin, bp)} == {v.pk: 4 for v in versions}


def test_latest_graded_attempt_counts_and_first_try_rate(three, people, base):
    bp, versions = three
    a, b = people["xihu"][:2]
    sit(a, bp, versions, [False, False, False], number=1)
    sit(a, bp, versions, [True, True, True], number=2, at_s=7200)   # passed on the second try
    sit(b, bp, versions, [True, True, False], number=1)             # passed at once
    klass = make_class(bp.programme, base, code="ANALYT1", name="西湖一班")
    courses_api.enrol(None, a, klass, source=Enrolment.Source.ADMIN)
    rates = analytics.pass_rates(people["sysadmin"], bp)
    t = rates.total
    assert (t.people, t.passed, t.attempts, t.first_people, t.first_passed) == (2, 2, 3, 2, 1)
    assert t.pass_rate_text == "100%" and t.first_try_rate_text == "50%"
    by_class = {r.label: (r.people, r.passed) for r in rates.by_class}
    assert by_class == {"西湖一班（西湖区红十字培训基地）": (1, 1), "未分班": (1, 1)}
    assert {r.label for r in rates.by_organisation} == {"西湖区红十字培训基地", "未分班"}


def test_a_rate_is_never_rounded_up():
    row = analytics.PassRow(key=None, label="x", people=10000, passed=7999)
    assert row.pass_rate_text == "79%"


def test_organisation_admin_sees_the_trainees_of_their_classes_only(three, people, base, make_person, regions):
    bp, versions = three
    a, b = people["xihu"][:2]
    sit(a, bp, versions, [True, True, True])
    sit(b, bp, versions, [False, False, False])
    klass = make_class(bp.programme, base, code="ANALYT2")
    courses_api.enrol(None, a, klass, source=Enrolment.Source.ADMIN)
    org_admin = make_person(regions["xihu"], roles=(), username="danwei")
    lms_api.assign_role(None, org_admin, Role.ORG_ADMIN, organisation=base)
    rates = analytics.pass_rates(org_admin, bp)
    assert (rates.total.people, rates.total.passed) == (1, 1)
    other = lms_api.create_organisation(None, name="别的单位", kind=Organisation.Kind.EMPLOYER, region=regions["xihu"])
    stranger = make_person(regions["xihu"], roles=(), username="danwei2")
    lms_api.assign_role(None, stranger, Role.ORG_ADMIN, organisation=other)
    assert analytics.pass_rates(stranger, bp).total.people == 0


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages_and_exports_for_staff_403_for_trainees_and_examiners(three, people):
    bp, versions = three
    for user, row in zip(people["xihu"], MATRIX):
        sit(user, bp, versions, [bool(x) for x in row])
    urls = [reverse("exams:analytics"), reverse("exams:analytics_export"), reverse("exams:analytics_questions"),
            reverse("exams:analytics_questions_export")]
    for who in ("trainee", "examiner"):
        for url in urls:
            assert _client(people[who]).get(url).status_code == 403, (who, url)
    admin = _client(people["county_admin"])
    page = admin.get(reverse("exams:analytics"), {"blueprint": bp.pk}).content.decode()
    assert "通过率" in page and "西湖区" in page and "60%" in page  # 3 of 5 passed
    qpage = admin.get(reverse("exams:analytics_questions"), {"blueprint": bp.pk}).content.decode()
    assert versions[0].question.code in qpage and "样本不足" in qpage and "点二列相关" in qpage


def test_xlsx_exports_have_chinese_headers_and_numbers_as_numbers(three, people):
    bp, versions = three
    for user, row in zip(people["xihu"], MATRIX):
        sit(user, bp, versions, [bool(x) for x in row])
    admin = _client(people["county_admin"])
    resp = admin.get(reverse("exams:analytics_export"), {"blueprint": bp.pk})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames == ["按地区", "按单位", "按班级", "合计"]
    region = wb["按地区"]
    header = [c.value for c in region[1]]
    assert header[:4] == ["地区", "级别", "考生人数", "通过人数"]
    assert [c.value for c in region[2]][:5] == ["西湖区", 1, 5, 3, 60]
    resp = admin.get(reverse("exams:analytics_questions_export"), {"blueprint": bp.pk})
    ws = load_workbook(io.BytesIO(resp.content)).active
    header = [c.value for c in ws[1]]
    assert header[0] == "试题编号" and "难度值 p（答对比例）" in header
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    first = rows[versions[0].question.code]
    p_col, n_col = header.index("难度值 p（答对比例）"), header.index("作答人次")
    assert first[n_col] == 5 and first[p_col] == 0.8 and isinstance(first[p_col], float)
    assert first[header.index("标记")] == "样本不足"


def test_scope_is_checked_in_the_functions_too(people):
    with pytest.raises(PermissionDenied):
        analytics.pass_rates(people["trainee"])
    with pytest.raises(PermissionDenied):
        analytics.item_statistics(people["examiner"])


def test_the_dashboard_links_the_analytics_for_admins_only(people, base, make_person, regions):
    url = reverse("exams:analytics")
    org_admin = make_person(regions["xihu"], roles=(), username="danwei3")
    lms_api.assign_role(None, org_admin, Role.ORG_ADMIN, organisation=base)
    for who in (people["county_admin"], people["sysadmin"], org_admin):
        body = _client(who).get(reverse("lms:dashboard")).content.decode()
        assert f'href="{url}"' in body and "考试分析" in body
    assert url not in _client(people["trainee"]).get(reverse("lms:dashboard")).content.decode()
    assert _client(org_admin).get(url).status_code == 200


def test_the_module_filter_keeps_that_modules_questions_and_the_whole_attempt_as_the_rest_score(
        exam_course, make_question, make_blueprint, people):
    m1, m2 = exam_course.modules[:2]
    versions = [make_question(m, difficulty=Difficulty.EASY).current for m in (m1, m1, m2)]
    bp = make_blueprint(exam_course.programme, [(m1, Difficulty.EASY, 2), (m2, Difficulty.EASY, 1)])
    for user, row in zip(people["xihu"], MATRIX):
        sit(user, bp, versions, [bool(x) for x in row])
    everything = {r.version_id: r for r in analytics.item_statistics(people["sysadmin"], bp)}
    only_m1 = {r.version_id: r for r in analytics.item_statistics(people["sysadmin"], bp, module_id=m1.pk)}
    assert set(only_m1) == {versions[0].pk, versions[1].pk}
    for vid, r in only_m1.items():  # the same figures: the rest score still counts the other module's item
        assert (r.n, r.correct) == (everything[vid].n, everything[vid].correct)
        assert r.discrimination == pytest.approx(everything[vid].discrimination)
    page = _client(people["sysadmin"]).get(reverse("exams:analytics_questions"),
                                           {"blueprint": bp.pk, "module": m2.pk}).content.decode()
    assert versions[2].question.code in page and versions[0].question.code not in page


def test_cached_item_statistics_follow_a_new_or_voided_attempt(three, people, monkeypatch, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "analytics-cache-test"}}
    monkeypatch.setattr(analytics, "CACHE_MIN_ATTEMPTS", 1)
    bp, versions = three
    users = people["xihu"]
    for user, row in zip(users[:4], MATRIX):
        sit(user, bp, versions, [bool(x) for x in row])
    root = people["sysadmin"]
    assert analytics.item_statistics(root, bp)[0].n == 4
    sit(users[4], bp, versions, [True, False, False])
    assert analytics.item_statistics(root, bp)[0].n == 5  # a new attempt: a new key
    attempts.void(root, Attempt.objects.get(user=users[0]), "设备故障", now=T0 + timedelta(hours=1))
    assert analytics.item_statistics(root, bp)[0].n == 4  # voided: a new key again


@pytest.mark.parametrize("stored, key, right", [
    ("[0, 2]", [0, 2], True),        # PostgreSQL's jsonb text
    ("[0,2]", [2, 0], True),
    ("[2, 0]", [0, 2], True),        # not in canonical order: parsed
    ("[0]", [0, 2], False),          # part of a multiple-choice key is wrong
    ("[0, 1, 2]", [0, 2], False),
    ("[1]", [1], True),
    ("[]", [1], False),
    (None, [1], False),              # not answered
])
def test_a_stored_choice_is_compared_with_the_key_as_a_set(stored, key, right):
    assert analytics._is_right(stored, analytics._canonical(key)) is right
