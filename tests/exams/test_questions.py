"""The question bank: validation, versioning (a used version never changes), retiring, permission, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import translation
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from exams.models import Attempt, Difficulty, Kind, PaperItem, Question, QuestionVersion
from exams.questions import can_manage_bank, retire_question, save_question
from lms.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (msgids); tests of the Chinese wording override back."""
    with translation.override("en"):
        yield


def fields(module, **kw):
    out = {"code": "JHY-CPR-001", "module": module, "kind": Kind.SINGLE, "difficulty": Difficulty.EASY,
           "stem": "成人胸外按压的频率是？", "options": ["60～80次/分", "100～120次/分", "140次/分以上"],
           "correct": [1], "explanation": "指南要求每分钟 100～120 次。", "tags": ["心肺复苏", "按压"]}
    out.update(kw)
    return out


def use_in_a_paper(version, user, blueprint):
    now = timezone.now()
    number = Attempt.objects.filter(user=user, blueprint=blueprint).count() + 1
    attempt = Attempt.objects.create(user=user, blueprint=blueprint, number=number, started_at=now,
                                     deadline_at=now + timedelta(minutes=45), status=Attempt.Status.SUBMITTED)
    PaperItem.objects.create(attempt=attempt, position=1, version=version,
                             option_order=list(range(len(version.options))))


def test_a_question_is_created_with_version_1_and_audited(exam_course, bank_admin):
    v = save_question(bank_admin, **fields(exam_course.modules[0]))
    q = v.question
    assert (v.number, q.current, q.is_active, v.created_by) == (1, v, True, bank_admin)
    assert v.correct == [1] and v.tags == ["心肺复苏", "按压"]
    log = AuditLog.objects.get(action="exams.question_created")
    assert log.actor == bank_admin and log.after["code"] == "JHY-CPR-001"


def test_saving_the_same_content_makes_no_new_version(exam_course, bank_admin):
    v = save_question(bank_admin, **fields(exam_course.modules[0]))
    again = save_question(bank_admin, **fields(exam_course.modules[0]), question=v.question)
    assert again.pk == v.pk and QuestionVersion.objects.count() == 1
    assert AuditLog.objects.filter(action__startswith="exams.question_").count() == 1


def test_an_unused_version_is_changed_in_place(exam_course, bank_admin):
    v = save_question(bank_admin, **fields(exam_course.modules[0]))
    v2 = save_question(bank_admin, **fields(exam_course.modules[0], stem="成人胸外按压的频率应为？"),
                       question=v.question)
    assert v2.pk == v.pk and v2.number == 1 and QuestionVersion.objects.count() == 1
    v.refresh_from_db()
    assert v.stem == "成人胸外按压的频率应为？"
    assert AuditLog.objects.filter(action="exams.question_changed").count() == 1


def test_a_used_version_is_never_changed_a_new_one_becomes_current(exam, bank_admin, exam_trainee):
    q = exam.questions[0]
    old = q.current
    use_in_a_paper(old, exam_trainee, exam.blueprint)
    new = save_question(bank_admin, code=q.code, module=q.module, kind=old.kind, difficulty=old.difficulty,
                        stem="改过的题干", options=old.options, correct=old.correct, explanation=old.explanation,
                        tags=old.tags, question=q)
    old_stem = old.stem
    old.refresh_from_db()
    q.refresh_from_db()
    assert old.stem == old_stem and new.number == 2 and q.current == new and new.stem == "改过的题干"
    assert AuditLog.objects.filter(action="exams.question_versioned").count() == 1
    # The new version is unused: changing it again changes it in place.
    newer = save_question(bank_admin, code=q.code, module=q.module, kind=old.kind, difficulty=Difficulty.HARD,
                          stem="改过的题干", options=old.options, correct=old.correct, explanation=old.explanation,
                          tags=old.tags, question=q)
    assert newer.pk == new.pk and q.versions.count() == 2


def test_changing_the_code_or_module_only_makes_no_version(exam_course, bank_admin):
    v = save_question(bank_admin, **fields(exam_course.modules[0]))
    same = save_question(bank_admin, **fields(exam_course.modules[1], code="JHY-CPR-002"), question=v.question)
    q = Question.objects.get()
    assert same.pk == v.pk and q.code == "JHY-CPR-002" and q.module_id == exam_course.modules[1].pk


@pytest.mark.parametrize("change, message", [
    ({"kind": "essay"}, "kind"),
    ({"difficulty": 7}, "difficulty"),
    ({"stem": "  "}, "stem"),
    ({"stem": "长" * 2001}, "longer"),
    ({"explanation": ""}, "explanation"),
    ({"options": ["只有一个"], "correct": [0]}, "at least two options"),
    ({"options": ["A", "B", "C", "D", "E", "F"]}, "at most 5 options"),
    ({"options": ["A", "", "C"], "correct": [0]}, "empty"),
    ({"options": ["同", "同"], "correct": [0]}, "same text"),
    ({"correct": [3]}, "does not have"),
    ({"correct": [0, 1]}, "exactly one"),
    ({"correct": []}, "exactly one"),
    ({"kind": Kind.MULTIPLE, "correct": [1]}, "at least two correct"),
    ({"kind": Kind.TRUE_FALSE, "options": ["对", "错"], "correct": [0]}, "正确 and 错误"),
    ({"tags": ["标" * 33]}, "tag"),
    ({"code": "JHY CPR/1"}, "letters, digits"),
    ({"code": ""}, "code is empty"),
])
def test_bad_content_is_refused_and_nothing_is_stored(exam_course, bank_admin, change, message):
    with pytest.raises(ValidationError) as exc:
        save_question(bank_admin, **fields(exam_course.modules[0], **change))
    assert message in " ".join(exc.value.messages)
    assert not Question.objects.exists() and not QuestionVersion.objects.exists()


def test_true_false_stores_its_two_options(exam_course, bank_admin):
    v = save_question(bank_admin, **fields(exam_course.modules[0], kind=Kind.TRUE_FALSE, options=[], correct=[1]))
    assert v.options == ["正确", "错误"] and v.correct == [1]


def test_a_duplicate_code_is_refused(exam_course, bank_admin):
    save_question(bank_admin, **fields(exam_course.modules[0]))
    with pytest.raises(ValidationError, match="already has the code"):
        save_question(bank_admin, **fields(exam_course.modules[0], code="jhy-cpr-001"))
    assert Question.objects.count() == 1


def test_who_may_manage_the_bank(exam_course, bank_admin, province_admin, city_admin, exam_trainee):
    assert can_manage_bank(bank_admin) and can_manage_bank(province_admin)
    assert not can_manage_bank(city_admin) and not can_manage_bank(exam_trainee)
    save_question(province_admin, **fields(exam_course.modules[0]))
    for user in (city_admin, exam_trainee):
        with pytest.raises(PermissionDenied):
            save_question(user, **fields(exam_course.modules[0], code="X-1"))
    assert Question.objects.count() == 1


def test_retiring_keeps_the_question_and_is_idempotent(exam, bank_admin, city_admin, exam_trainee):
    q = exam.questions[0]
    use_in_a_paper(q.current, exam_trainee, exam.blueprint)
    with pytest.raises(PermissionDenied):
        retire_question(city_admin, q)
    retire_question(bank_admin, q)
    retire_question(bank_admin, q)
    q.refresh_from_db()
    assert not q.is_active and q.versions.count() == 1
    assert AuditLog.objects.filter(action="exams.question_retired").count() == 1


def test_codes_are_unique_regardless_of_case_in_the_database(exam_course):
    from django.db import IntegrityError, transaction

    Question.objects.create(code="JHY-ABC-001", module=exam_course.modules[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Question.objects.create(code="jhy-abc-001", module=exam_course.modules[0])
