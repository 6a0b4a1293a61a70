"""The exams app's personal-data declarations (exams/privacy.py): a person's export holds their exam
attempts (score, result, times, leaves, answers) and grants; staff see only the fact of what they did;
anonymisation keeps the exam record and erases the grant reasons."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from exams import attempts
from exams.models import Attempt, Grant
from lms import api, privacy
from tests.exams.test_attempts import answer_all, at, complete_theory


def _sections(person) -> dict:
    with translation.override("zh-hans"):
        return {s["key"]: s["rows"] for s in privacy.collect(person)}


@pytest.fixture
def sat(exam, exam_trainee, base, bank_admin):
    """The trainee failed one attempt (10 of 16, left the page once), got an extra attempt, and the
    second attempt was voided by the admin."""
    complete_theory(exam_trainee, exam.programme, base)
    first = attempts.start_or_resume(exam_trainee, exam.blueprint, now=at(0))
    answer_all(exam_trainee, first, correct=10, now=at(30))
    attempts.record_leave(exam_trainee, first, now=at(40))
    attempts.record_leave(exam_trainee, first, returned=True, now=at(52))
    attempts.submit(exam_trainee, first, now=at(60))
    attempts.grant(bank_admin, exam_trainee, exam.blueprint, Grant.Kind.EXTRA_ATTEMPT, "住院，医生证明：心脏手术",
                   now=at(70))
    second = attempts.start_or_resume(exam_trainee, exam.blueprint, now=at(4000))
    attempts.void(bank_admin, second, "监考发现替考", now=at(4100))
    first.refresh_from_db()
    return {"first": first, "second": second}


def test_every_exams_model_with_personal_data_is_declared():
    needing = {m for m in privacy.models_needing_declaration() if m.startswith("exams.")}
    covered = privacy.declared_models() | set(privacy.not_personal_models())
    assert needing and needing <= covered
    assert "exams.blueprint" in privacy.not_personal_models()


def test_the_trainee_export_holds_attempts_with_score_result_times_leaves_and_answers(sat, exam_trainee):
    rows = _sections(exam_trainee)["exams.attempts"]
    assert [r["number"] for r in rows] == [1, 2]
    first, second = rows
    assert (first["score_points"], first["max_points"], first["passed"]) == (10, 16, False)
    assert first["score_pct"] == 62.5 and first["status"] != second["status"]
    assert first["started_at"].startswith("2026-11-24T17:00:00") and first["submitted_at"]
    assert first["leave_count"] == 1 and first["leaves"][0]["seconds"] == 12
    assert len(first["answers"]) == 16 and all(a["choice"] for a in first["answers"])
    assert first["answers"][0]["question"].endswith(" v1")
    assert second["status"] == "已作废" and second["void_reason"] == "监考发现替考"
    grants = _sections(exam_trainee)["exams.grants"]
    assert len(grants) == 1 and grants[0]["reason"] == "住院，医生证明：心脏手术"
    json.dumps(rows, ensure_ascii=False)  # serialisable


def test_the_staff_export_names_no_trainee_and_no_score(sat, bank_admin, exam_trainee):
    sections = _sections(bank_admin)
    voided = sections["exams.attempts"]
    assert len(voided) == 1 and voided[0]["attempt"] == sat["second"].pk
    assert "score_pct" not in voided[0] and "void_reason" not in voided[0]
    given = sections["exams.grants"]
    assert len(given) == 1 and "reason" not in given[0]
    text = json.dumps(sections["exams.attempts"] + sections["exams.grants"], ensure_ascii=False, default=str)
    for foreign in (exam_trainee.real_name, exam_trainee.username, "心脏手术", "替考"):
        assert foreign not in text
    written = sections["exams.questions_written"]
    assert written == [] or all(set(r) == {"question", "version", "created_at"} for r in written)


def test_anonymisation_keeps_the_exam_record_and_erases_grant_reasons(sat, bank_admin, exam_trainee):
    api.anonymise_person(bank_admin, exam_trainee, reason="已离职", confirm_name=exam_trainee.display_name)
    first = Attempt.objects.get(pk=sat["first"].pk)
    assert first.user_id == exam_trainee.pk and first.passed is False and first.score_points == 10
    assert first.items.count() == 16 and first.leaves.count() == 1
    g = Grant.objects.get(user=exam_trainee)
    assert g.reason == "" and g.kind == Grant.Kind.EXTRA_ATTEMPT and g.granted_by_id == bank_admin.pk
    from lms.models import AuditLog

    counts = AuditLog.objects.get(action="privacy.anonymise").after["counts"]
    assert counts["exams.grants"] == {"grant_reasons": 1}
