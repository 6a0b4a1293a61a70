"""XLSX import and export of the question bank: row errors, all-or-nothing, idempotence, round trip."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import translation
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from exams.models import Attempt, Difficulty, Kind, PaperItem, Question, QuestionVersion
from exams.xlsx import COLUMNS, export_questions, import_questions
from lms.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (msgids); tests of the Chinese wording override back."""
    with translation.override("en"):
        yield


def xlsx(rows, header=COLUMNS) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


def row(code, module, kind="单选", difficulty="易", stem="题干", options=("甲", "乙", "丙", "丁"), answer="B",
        explanation="解析", tags="心肺复苏、按压"):
    opts = list(options) + [""] * (5 - len(options))
    return [code, module, kind, difficulty, stem, *opts, answer, explanation, tags]


def good_rows(slug):
    return [
        row("JHY-CPR-001", slug, stem="成人胸外按压的频率是？", options=("60～80次/分", "100～120次/分", "140次/分"),
            answer="B", explanation="每分钟 100～120 次。"),
        row("JHY-CPR-002", slug, kind="多选", difficulty="中", stem="高质量心肺复苏包括？",
            options=("足够的按压深度", "足够的按压频率", "频繁中断按压", "每次按压后胸廓充分回弹"), answer="ABD",
            explanation="应尽量减少按压中断。"),
        row("JHY-CPR-003", slug, kind="判断", difficulty="难", stem="AED 分析心律时不要接触患者。", options=(),
            answer="对", explanation="接触可能干扰心律分析。", tags=""),
    ]


def test_a_good_file_is_imported(exam_course, bank_admin):
    slug = exam_course.modules[0].slug
    result = import_questions(bank_admin, xlsx(good_rows(slug)))
    assert result.imported and [r.status for r in result.rows] == ["created"] * 3
    multi = Question.objects.get(code="JHY-CPR-002").current
    assert (multi.kind, multi.difficulty, multi.correct) == (Kind.MULTIPLE, Difficulty.MEDIUM, [0, 1, 3])
    tf = Question.objects.get(code="JHY-CPR-003").current
    assert (tf.kind, tf.options, tf.correct, tf.tags) == (Kind.TRUE_FALSE, ["正确", "错误"], [0], [])
    assert Question.objects.get(code="JHY-CPR-001").current.tags == ["心肺复苏", "按压"]
    log = AuditLog.objects.get(action="exams.questions_imported")
    assert log.after["created"] == 3 and log.actor == bank_admin


def test_every_bad_row_is_reported_and_nothing_is_imported(exam_course, bank_admin):
    slug = exam_course.modules[0].slug
    rows = good_rows(slug) + [
        row("JHY-X-001", "no-such-module"),                      # row 5
        row("JHY-X-002", slug, kind="问答"),                      # row 6
        row("JHY-X-003", slug, options=("甲", "乙"), answer="C"),  # row 7
        row("JHY-CPR-001", slug),                                 # row 8: duplicate of row 2
        row("JHY-X-004", slug, explanation=""),                   # row 9
        row("JHY-X-005", slug, difficulty="很难"),                 # row 10
        row("JHY-X-006", slug, kind="多选", answer="A"),          # row 11
        row("JHY-X-007", slug, kind="判断", options=(), answer="也许"),  # row 12
    ]
    result = import_questions(bank_admin, xlsx(rows))
    assert not result.imported
    bad = {r.number: " ".join(r.errors) for r in result.bad_rows}
    assert sorted(bad) == [5, 6, 7, 8, 9, 10, 11, 12]
    assert "Unknown module" in bad[5] and "no-such-module" in bad[5]
    assert "单选, 多选 or 判断" in bad[6]
    assert "option C" in bad[7]
    assert "row 2" in bad[8]
    assert "explanation" in bad[9]
    assert "易, 中 or 难" in bad[10]
    assert "at least two correct" in bad[11]
    assert "对 or 错" in bad[12]
    assert not Question.objects.exists() and not AuditLog.objects.filter(action__startswith="exams.").exists()


def test_good_rows_only_imports_the_good_ones(exam_course, bank_admin):
    slug = exam_course.modules[0].slug
    rows = good_rows(slug) + [row("JHY-X-001", "no-such-module")]
    result = import_questions(bank_admin, xlsx(rows), good_rows_only=True)
    assert result.imported and [r.status for r in result.rows] == ["created"] * 3 + ["skipped"]
    assert set(Question.objects.values_list("code", flat=True)) == {"JHY-CPR-001", "JHY-CPR-002", "JHY-CPR-003"}


def test_importing_the_same_file_again_changes_nothing(exam_course, bank_admin):
    slug = exam_course.modules[0].slug
    import_questions(bank_admin, xlsx(good_rows(slug)))
    versions = list(QuestionVersion.objects.order_by("pk").values())
    result = import_questions(bank_admin, xlsx(good_rows(slug)))
    assert [r.status for r in result.rows] == ["unchanged"] * 3
    assert list(QuestionVersion.objects.order_by("pk").values()) == versions
    assert not AuditLog.objects.filter(action__in=["exams.question_changed", "exams.question_versioned"]).exists()


def test_changing_a_used_question_by_import_makes_a_new_version(exam_course, bank_admin, exam_trainee,
                                                                make_blueprint):
    slug = exam_course.modules[0].slug
    import_questions(bank_admin, xlsx(good_rows(slug)))
    q = Question.objects.get(code="JHY-CPR-001")
    bp = make_blueprint(exam_course.programme, [(exam_course.modules[0], Difficulty.EASY, 1)])
    now = timezone.now()
    attempt = Attempt.objects.create(user=exam_trainee, blueprint=bp, number=1, started_at=now,
                                     deadline_at=now + timedelta(minutes=45))
    PaperItem.objects.create(attempt=attempt, position=1, version=q.current, option_order=[0, 1, 2])
    rows = good_rows(slug)
    rows[0][4] = "成人胸外按压的频率应为？"
    result = import_questions(bank_admin, xlsx(rows))
    assert [r.status for r in result.rows] == ["versioned", "unchanged", "unchanged"]
    q.refresh_from_db()
    assert q.current.number == 2 and q.versions.get(number=1).stem == "成人胸外按压的频率是？"


def test_export_then_import_changes_nothing(exam, bank_admin):
    before = list(QuestionVersion.objects.order_by("pk").values())
    data = export_questions()
    sheet = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]] == COLUMNS and sheet.max_row == len(exam.questions) + 1
    result = import_questions(bank_admin, io.BytesIO(data))
    assert result.imported and {r.status for r in result.rows} == {"unchanged"}
    assert list(QuestionVersion.objects.order_by("pk").values()) == before


def test_only_bank_managers_import(exam_course, city_admin):
    with pytest.raises(PermissionDenied):
        import_questions(city_admin, xlsx(good_rows(exam_course.modules[0].slug)))
    assert not Question.objects.exists()


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"code,module\n1,2\n", "Excel workbook"),
    (None, "must name the columns"),
])
def test_an_unusable_file_is_a_clear_error(exam_course, bank_admin, data, message):
    f = io.BytesIO(data) if data is not None else xlsx([["A-1", "x"]], header=["编号", "模块"])
    with pytest.raises(ValidationError, match=message):
        import_questions(bank_admin, f)


def test_a_text_that_looks_like_a_formula_is_exported_as_text(exam_course, bank_admin, make_question):
    q = make_question(exam_course.modules[0], stem='=HYPERLINK("http://example.com","点击")')
    data = export_questions()
    cell = load_workbook(io.BytesIO(data)).active.cell(row=2, column=5)
    assert cell.data_type == "s" and cell.value == q.current.stem
    assert {r.status for r in import_questions(bank_admin, io.BytesIO(data)).rows} == {"unchanged"}
