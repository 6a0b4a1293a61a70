"""Theory-exam attempts (exams/attempts.py): every refusal, resume, autosave rules, the server's
clock and the closer, grading once, leaves, grants and voids. Time is passed as ``now=``."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.utils import translation

from courses import api as courses_api
from courses.models import Enrolment, LessonProgress
from exams import attempts
from exams.models import AnswerEvent, Attempt, Difficulty, Grant, LeaveEvent
from lms.models import AuditLog, Role
from tests.courses.study_support import Tree, make_class

T0 = datetime(2026, 11, 24, 9, 0, 0, tzinfo=dt_timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def complete_theory(user, programme, base) -> None:
    """Enrol ``user`` in a class of ``programme`` and mark one lesson of each module complete (a
    fixture-like write: the study rules themselves are tested in tests/courses)."""
    tree = Tree()
    klass = make_class(programme, base, code=f"EX{programme.pk}{user.pk}") if not programme.classes.exists() \
        else programme.classes.first()
    courses_api.enrol(None, user, klass, source=Enrolment.Source.ADMIN)
    for pm in programme.modules.select_related("module_page"):
        page = pm.module_page
        lessons = courses_api._lessons_by_module([page])[page.pk]
        if not lessons:
            lessons = [tree.lesson(page, f"{page.title}·第一课", minutes=2)]
        for lesson in lessons:
            LessonProgress.objects.update_or_create(user=user, lesson_id=lesson.pk,
                                                    defaults={"seconds_on_task": 120, "completed_at": T0})
    assert courses_api.theory_exam_unlocked(user, programme)


def key_displayed(item) -> list[int]:
    """The correct options of a paper item in the positions the trainee sees (the test knows the key)."""
    return attempts.displayed(item, item.version.correct)


def wrong_displayed(item) -> list[int]:
    right = set(key_displayed(item))
    return [next(i for i in range(len(item.option_order)) if i not in right)]


def answer_all(user, attempt, *, correct: int, now, seq_from: int = 1) -> None:
    """Answer every item; the first ``correct`` items right, the rest wrong."""
    for n, item in enumerate(attempt.items.select_related("version").order_by("position")):
        choice = key_displayed(item) if n < correct else wrong_displayed(item)
        attempts.save_answer(user, attempt, item.position, choice, seq_from + n, now=now)


@pytest.fixture
def ready(exam, exam_trainee, base):
    """The exam of the conftest (16 questions, pass mark 80 %, 3 attempts) and a trainee whose theory is done."""
    complete_theory(exam_trainee, exam.programme, base)
    return exam


# ---------------------------------------------------------------- starting and resuming


def test_a_new_attempt_draws_its_paper_and_its_deadline_on_the_server_clock(ready, exam_trainee):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    assert attempt.status == Attempt.Status.OPEN and attempt.number == 1
    assert attempt.started_at == at(0) and attempt.deadline_at == at(bp.time_limit_s)
    items = list(attempt.items.order_by("position"))
    assert [i.position for i in items] == list(range(1, 17))
    assert attempt.max_points == 16
    for item in items:
        assert sorted(item.option_order) == list(range(len(item.version.options)))
    assert len({i.version.question_id for i in items}) == 16
    assert AuditLog.objects.filter(action="exams.attempt_started", object_id=str(attempt.pk)).count() == 1
    assert attempts.remaining_s(attempt, at(100)) == bp.time_limit_s - 100


def test_resuming_returns_the_same_attempt_with_all_its_answers(ready, exam_trainee):
    first = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    answer_all(exam_trainee, first, correct=10, now=at(30))
    again = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(600))  # a refresh, a new tab, a new day
    assert again.pk == first.pk
    assert Attempt.objects.filter(user=exam_trainee).count() == 1
    state = attempts.attempt_state(exam_trainee, again, now=at(600))
    assert state["answered"] == 16 and state["total"] == 16 and state["max_seq"] == 16
    for item in first.items.select_related("version"):
        expected = key_displayed(item) if item.position <= 10 else None
        if expected is not None:
            assert state["answers"][str(item.position)] == expected
    assert state["remaining_s"] == ready.blueprint.time_limit_s - 600


def test_refused_outside_the_window_saying_when(ready, exam_trainee):
    bp = ready.blueprint
    bp.opens_at, bp.closes_at = at(3600), at(7200)
    bp.save()
    with translation.override("zh-hans"), pytest.raises(PermissionDenied) as opened:
        attempts.start_or_resume(exam_trainee, bp, now=at(0))
    assert "考试" in str(opened.value) and "2026-11-24 18:00" in str(opened.value)  # opens 10:00 UTC = 18:00 Beijing
    with translation.override("en"), pytest.raises(PermissionDenied) as closed:
        attempts.start_or_resume(exam_trainee, bp, now=at(7200))
    assert "closed" in str(closed.value) and "2026-11-24 19:00" in str(closed.value)
    assert not Attempt.objects.exists()
    assert attempts.start_or_resume(exam_trainee, bp, now=at(3600)).status == Attempt.Status.OPEN


def test_refused_without_the_theory_done(ready, make_person, regions, base):
    newcomer = make_person(regions["xihu"], roles=(Role.TRAINEE,), username="xinren")
    with translation.override("en"), pytest.raises(PermissionDenied) as refused:
        attempts.start_or_resume(newcomer, ready.blueprint, now=at(0))
    assert "finished the theory" in str(refused.value) and ready.programme.name in str(refused.value)
    assert not Attempt.objects.exists()


def test_refused_out_of_attempts_until_an_extra_attempt_is_granted(ready, exam_trainee, bank_admin):
    bp = ready.blueprint
    bp.attempts_allowed = 1
    bp.save()
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    attempts.submit(exam_trainee, attempt, now=at(60))  # nothing answered: failed
    with translation.override("en"), pytest.raises(PermissionDenied) as refused:
        attempts.start_or_resume(exam_trainee, bp, now=at(120))
    assert "used all your attempts" in str(refused.value)
    assert attempts.attempts_left(exam_trainee, bp) == 0
    g = attempts.grant(bank_admin, exam_trainee, bp, Grant.Kind.EXTRA_ATTEMPT, "考试时网络故障", now=at(130))
    second = attempts.start_or_resume(exam_trainee, bp, now=at(140))
    assert second.number == 2
    g.refresh_from_db()
    assert g.used_by_id == second.pk
    attempts.submit(exam_trainee, second, now=at(200))
    with pytest.raises(PermissionDenied):
        attempts.start_or_resume(exam_trainee, bp, now=at(300))


def test_refused_while_the_wait_since_the_last_attempt_runs_saying_until_when(ready, exam_trainee):
    bp = ready.blueprint
    bp.wait_between_attempts_s = 24 * 3600
    bp.save()
    first = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    attempts.submit(exam_trainee, first, now=at(600))
    with translation.override("en"), pytest.raises(PermissionDenied) as refused:
        attempts.start_or_resume(exam_trainee, bp, now=at(3600))
    assert "2026-11-25 17:10" in str(refused.value)  # 09:10 UTC next day, Beijing time
    second = attempts.start_or_resume(exam_trainee, bp, now=at(600 + 24 * 3600))
    assert second.number == 2


def test_refused_once_passed_and_when_the_exam_is_not_active(ready, exam_trainee):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    answer_all(exam_trainee, attempt, correct=16, now=at(10))
    assert attempts.submit(exam_trainee, attempt, now=at(20)).passed is True
    with translation.override("en"), pytest.raises(PermissionDenied) as refused:
        attempts.start_or_resume(exam_trainee, bp, now=at(30))
    assert "passed" in str(refused.value)
    bp.is_active = False
    bp.save()
    assert attempts.refusal(exam_trainee, bp, now=at(30)) is not None


def test_anonymous_and_a_bank_that_cannot_fill_the_paper_are_refused(ready, exam_trainee, django_user_model):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        attempts.start_or_resume(AnonymousUser(), ready.blueprint, now=at(0))
    rule = ready.blueprint.rules.first()
    rule.count = 50
    rule.save()
    with pytest.raises(ValidationError):
        attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    assert not Attempt.objects.exists()


# ---------------------------------------------------------------- saving answers


def test_a_choice_in_displayed_positions_is_stored_as_original_indices(ready, exam_trainee):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    item = attempt.items.filter(version__kind="single").select_related("version").first()
    result = attempts.save_answer(exam_trainee, attempt, item.position, [2], 1, now=at(5))
    assert result["choice"] == [2] and result["counts"] is True
    assert result["remaining_s"] == ready.blueprint.time_limit_s - 5
    event = AnswerEvent.objects.get(item=item)
    assert event.choice == [item.option_order[2]] and event.saved_at == at(5) and event.client_seq == 1


def test_bad_answers_are_refused_and_store_nothing(ready, exam_trainee, make_person, regions, make_blueprint):
    from exams.models import Blueprint

    Blueprint.objects.filter(pk=ready.blueprint.pk).update(is_active=False)  # a paper with every kind, always
    bp = make_blueprint(ready.programme, [(m, Difficulty.EASY, 4) for m in ready.modules], name="四题一模块")
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    items = {i.version.kind: i for i in attempt.items.select_related("version")}
    single, multiple = items["single"], items["multiple"]
    bad = [
        (single.position, [0, 1]),  # single: exactly one
        (single.position, []),
        (single.position, [9]),  # out of range
        (single.position, [True]),
        (single.position, "0"),
        (multiple.position, [0, 0]),
        (multiple.position, [-1]),
        (99, [0]),  # no such question
        ("1", [0]),
    ]
    for position, choice in bad:
        with pytest.raises(ValidationError):
            attempts.save_answer(exam_trainee, attempt, position, choice, now=at(5))
    with pytest.raises(ValidationError):
        attempts.save_answer(exam_trainee, attempt, single.position, [0], client_seq=-1, now=at(5))
    other = make_person(regions["xihu"], roles=(Role.TRAINEE,), username="other")
    with pytest.raises(PermissionDenied):
        attempts.save_answer(other, attempt, single.position, [0], now=at(5))
    assert not AnswerEvent.objects.exists()
    # multiple choice: any number of options, none clears the answer
    assert attempts.save_answer(exam_trainee, attempt, multiple.position, [0, 1, 3], now=at(6))["choice"] == [0, 1, 3]
    assert attempts.save_answer(exam_trainee, attempt, multiple.position, [], now=at(7))["choice"] == []


def test_answers_are_append_only_and_an_older_save_arriving_late_does_not_count(ready, exam_trainee):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    item = attempt.items.filter(version__kind="single").select_related("version").first()
    attempts.save_answer(exam_trainee, attempt, item.position, [0], 1000, now=at(10))
    attempts.save_answer(exam_trainee, attempt, item.position, [1], 3000, now=at(12))
    late = attempts.save_answer(exam_trainee, attempt, item.position, [2], 2000, now=at(13))  # sent before seq 3000
    assert late["counts"] is False and late["choice"] == [1]
    events = list(AnswerEvent.objects.filter(item=item).order_by("saved_at", "pk"))
    assert [e.choice for e in events] == [[item.option_order[0]], [item.option_order[1]], [item.option_order[2]]]
    assert attempts.attempt_state(exam_trainee, attempt, now=at(14))["answers"][str(item.position)] == [1]
    newer = attempts.save_answer(exam_trainee, attempt, item.position, [3], 4000, now=at(15))
    assert newer["counts"] is True and newer["choice"] == [3]
    assert AnswerEvent.objects.filter(item=item).count() == 4
    assert AuditLog.objects.filter(action="exams.answer_saved", object_id=str(attempt.pk)).count() == 4


def test_a_save_at_the_deadline_is_refused_and_closes_the_attempt(ready, exam_trainee):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    item = attempt.items.select_related("version").order_by("position").first()
    attempts.save_answer(exam_trainee, attempt, item.position, key_displayed(item), 1, now=at(bp.time_limit_s - 1))
    with pytest.raises(attempts.AttemptClosed):
        attempts.save_answer(exam_trainee, attempt, item.position, wrong_displayed(item), 2, now=at(bp.time_limit_s))
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED
    assert attempt.submitted_by == Attempt.SubmittedBy.TIME_LIMIT and attempt.submitted_at == attempt.deadline_at
    assert attempt.score_points == 1  # the answer saved in time counts, the late one was never stored
    assert AnswerEvent.objects.filter(item__attempt=attempt).count() == 1
    with pytest.raises(attempts.AttemptClosed):
        attempts.save_answer(exam_trainee, attempt, item.position, key_displayed(item), 3, now=at(bp.time_limit_s + 5))


# ---------------------------------------------------------------- grading, submitting once, the closer


def test_grading_exact_answers_and_no_partial_credit(ready, exam_trainee, make_blueprint):
    # Every question of each module's easy pool (single, multiple, true/false, single): a paper with
    # multiple-choice questions whatever the draw.
    from exams.models import Blueprint

    Blueprint.objects.filter(pk=ready.blueprint.pk).update(is_active=False)
    bp = make_blueprint(ready.programme, [(m, Difficulty.EASY, 4) for m in ready.modules], name="四题一模块")
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    for item in attempt.items.select_related("version"):
        key = key_displayed(item)
        if item.version.kind == "multiple":
            attempts.save_answer(exam_trainee, attempt, item.position, key[:1], now=at(5))  # half the set: wrong
        else:
            attempts.save_answer(exam_trainee, attempt, item.position, key, now=at(5))
    done = attempts.submit(exam_trainee, attempt, now=at(100))
    multiples = attempt.items.filter(version__kind="multiple").count()
    assert multiples > 0
    assert done.score_points == 16 - multiples and done.max_points == 16
    assert done.score_pct == (Decimal(16 - multiples) * 100 / 16).quantize(Decimal("0.01"))
    assert done.submitted_by == Attempt.SubmittedBy.TRAINEE and done.submitted_at == at(100)


@pytest.mark.parametrize("correct, pass_mark, pct, passed", [
    (13, "80", "81.25", True),
    (12, "75", "75.00", True),  # exactly the pass mark passes
    (12, "75.01", "75.00", False),
    (11, "68.75", "68.75", True),
    (0, "0", "0.00", True),
])
def test_pass_mark_decided_exactly(ready, exam_trainee, correct, pass_mark, pct, passed):
    bp = ready.blueprint
    bp.pass_mark_pct = Decimal(pass_mark)
    bp.save()
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    answer_all(exam_trainee, attempt, correct=correct, now=at(5))
    done = attempts.submit(exam_trainee, attempt, now=at(10))
    assert done.score_points == correct and done.score_pct == Decimal(pct) and done.passed is passed


def test_a_fail_is_never_rounded_up(ready, exam_trainee, make_blueprint):
    """Three questions of a point each: 2/3 = 66.666… %, shown as 66.66; a pass mark of 66.67 fails it."""
    from exams.models import Blueprint

    Blueprint.objects.filter(pk=ready.blueprint.pk).update(is_active=False)
    m = ready.modules[0]
    bp = make_blueprint(ready.programme, [(m, Difficulty.EASY, 3)], pass_mark_pct=Decimal("66.67"), name="三题")
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    answer_all(exam_trainee, attempt, correct=2, now=at(5))
    done = attempts.submit(exam_trainee, attempt, now=at(10))
    assert done.score_pct == Decimal("66.66") and done.passed is False


def test_points_each_come_from_the_blueprint_rule(ready, exam_trainee, make_blueprint):
    from exams.models import Blueprint

    Blueprint.objects.filter(pk=ready.blueprint.pk).update(is_active=False)
    m = ready.modules[0]
    bp = make_blueprint(ready.programme, [(m, Difficulty.EASY, 1, 3), (m, Difficulty.HARD, 1, 1)], name="加权")
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    assert attempt.max_points == 4
    for item in attempt.items.select_related("version"):
        if item.version.difficulty == Difficulty.EASY:
            attempts.save_answer(exam_trainee, attempt, item.position, key_displayed(item), now=at(5))
    assert attempts.submit(exam_trainee, attempt, now=at(10)).score_pct == Decimal("75.00")


def test_a_second_submit_returns_the_graded_result_and_grades_nothing_again(ready, exam_trainee):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    answer_all(exam_trainee, attempt, correct=16, now=at(5))
    first = attempts.submit(exam_trainee, attempt, now=at(10))
    stale = Attempt.objects.get(pk=attempt.pk)
    again = attempts.submit(exam_trainee, stale, now=at(20))
    assert again.submitted_at == at(10) and again.score_pct == first.score_pct
    assert AuditLog.objects.filter(action="exams.attempt_submitted", object_id=str(attempt.pk)).count() == 1


def test_the_abandoned_attempt_is_closed_by_the_closer_with_the_answers_saved_in_time(ready, exam_trainee):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    answer_all(exam_trainee, attempt, correct=14, now=at(60))
    # the trainee closes the tab and never comes back
    assert attempts.close_expired(now=at(bp.time_limit_s - 1)) == 0
    assert attempts.close_expired(now=at(bp.time_limit_s + 30)) == 1
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED and attempt.submitted_by == Attempt.SubmittedBy.TIME_LIMIT
    assert attempt.submitted_at == attempt.deadline_at and attempt.score_points == 14 and attempt.passed is True
    assert attempts.close_expired(now=at(bp.time_limit_s + 60)) == 0


def test_the_management_command_closes_expired_attempts(ready, exam_trainee):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    Attempt.objects.filter(pk=attempt.pk).update(started_at=at(-7200), deadline_at=at(-3600))  # long over by now
    call_command("close_exam_attempts", verbosity=0)
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.SUBMITTED and attempt.submitted_by == Attempt.SubmittedBy.TIME_LIMIT


def test_an_expired_attempt_touched_again_is_closed_and_a_new_one_may_start(ready, exam_trainee):
    bp = ready.blueprint
    first = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    second = attempts.start_or_resume(exam_trainee, bp, now=at(bp.time_limit_s + 10))
    assert second.pk != first.pk and second.number == 2
    first.refresh_from_db()
    assert first.submitted_by == Attempt.SubmittedBy.TIME_LIMIT


def test_a_trainee_submit_after_the_deadline_counts_as_the_time_limit(ready, exam_trainee):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    done = attempts.submit(exam_trainee, attempt, now=at(bp.time_limit_s + 100))
    assert done.submitted_by == Attempt.SubmittedBy.TIME_LIMIT and done.submitted_at == done.deadline_at


def test_only_the_trainee_submits_their_attempt(ready, exam_trainee, bank_admin):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    with pytest.raises(PermissionDenied):
        attempts.submit(bank_admin, attempt, now=at(5))
    with pytest.raises(ValidationError):
        attempts.submit(exam_trainee, attempt, by="someone", now=at(5))
    assert Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.OPEN


# ---------------------------------------------------------------- concurrency (PostgreSQL row locks)


def _in_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="row locks are a PostgreSQL matter; SQLite serialises write transactions")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the page tree and locales as migrated
def test_concurrent_starts_open_one_attempt_and_concurrent_submits_grade_it_once(request):
    exam = request.getfixturevalue("exam")
    exam_trainee, base = request.getfixturevalue("exam_trainee"), request.getfixturevalue("base")
    complete_theory(exam_trainee, exam.programme, base)
    results, errors = _in_threads(4, lambda: attempts.start_or_resume(exam_trainee, exam.blueprint, now=at(0)).pk)
    assert not errors and len(set(results)) == 1
    assert Attempt.objects.filter(user=exam_trainee).count() == 1
    attempt = Attempt.objects.get(pk=results[0])
    answer_all(exam_trainee, attempt, correct=16, now=at(5))
    results, errors = _in_threads(4, lambda: attempts.submit(exam_trainee, Attempt.objects.get(pk=attempt.pk),
                                                             now=at(10)))
    assert not errors
    assert {(r.status, r.score_points, r.submitted_at) for r in results} == {(Attempt.Status.SUBMITTED, 16, at(10))}
    assert AuditLog.objects.filter(action="exams.attempt_submitted", object_id=str(attempt.pk)).count() == 1


# ---------------------------------------------------------------- leaving the page


def test_leaves_are_recorded_with_their_times(ready, exam_trainee):
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    attempts.record_leave(exam_trainee, attempt, now=at(100))
    result = attempts.record_leave(exam_trainee, attempt, returned=True, now=at(130))
    assert result["leave_count"] == 1 and result["status"] == Attempt.Status.OPEN
    attempts.record_leave(exam_trainee, attempt, now=at(200))
    leaves = list(LeaveEvent.objects.filter(attempt=attempt).order_by("left_at"))
    assert [(l.left_at, l.returned_at, l.seconds) for l in leaves] == [(at(100), at(130), 30), (at(200), None, None)]
    with pytest.raises(ValidationError):
        attempts.record_leave(exam_trainee, attempt, returned="yes", now=at(210))


def test_leaving_more_often_than_the_limit_submits_the_attempt(ready, exam_trainee):
    bp = ready.blueprint
    bp.leave_limit = 2
    bp.save()
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    answer_all(exam_trainee, attempt, correct=16, now=at(5))
    for i in range(2):
        attempts.record_leave(exam_trainee, attempt, now=at(10 + 10 * i))
        attempts.record_leave(exam_trainee, attempt, returned=True, now=at(15 + 10 * i))
    assert Attempt.objects.get(pk=attempt.pk).status == Attempt.Status.OPEN
    result = attempts.record_leave(exam_trainee, attempt, now=at(40))
    assert result["status"] == Attempt.Status.SUBMITTED
    attempt.refresh_from_db()
    assert attempt.submitted_by == Attempt.SubmittedBy.LEAVE_LIMIT and attempt.leave_count == 3
    assert attempt.score_points == 16
    with pytest.raises(attempts.AttemptClosed):
        attempts.record_leave(exam_trainee, attempt, returned=True, now=at(50))


# ---------------------------------------------------------------- grants and voids


def test_extra_time_moves_the_open_attempts_deadline(ready, exam_trainee, city_admin):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    g = attempts.grant(city_admin, exam_trainee, bp, Grant.Kind.EXTRA_TIME, "视力障碍，延时", extra_time_s=600,
                       now=at(60))
    attempt.refresh_from_db()
    assert attempt.deadline_at == at(bp.time_limit_s + 600) and g.used_by_id == attempt.pk
    assert attempts.remaining_s(attempt, at(bp.time_limit_s)) == 600
    assert AuditLog.objects.filter(action="exams.grant", object_id=str(g.pk)).count() == 1


def test_extra_time_granted_between_attempts_applies_to_the_next(ready, exam_trainee, bank_admin):
    bp = ready.blueprint
    g = attempts.grant(bank_admin, exam_trainee, bp, Grant.Kind.EXTRA_TIME, "申请延时", extra_time_s=300, now=at(0))
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(10))
    assert attempt.deadline_at == at(10 + bp.time_limit_s + 300)
    g.refresh_from_db()
    assert g.used_by_id == attempt.pk


def test_grants_need_a_manager_of_the_trainees_region_and_a_reason(ready, exam_trainee, make_person, regions,
                                                                     city_admin):
    nb_admin = make_person(regions["nb"], roles=(), admin_of=regions["nb"], username="nb-admin")
    bp = ready.blueprint
    with pytest.raises(PermissionDenied):
        attempts.grant(nb_admin, exam_trainee, bp, Grant.Kind.EXTRA_ATTEMPT, "理由", now=at(0))
    with pytest.raises(PermissionDenied):
        attempts.grant(exam_trainee, exam_trainee, bp, Grant.Kind.EXTRA_ATTEMPT, "理由", now=at(0))
    with pytest.raises(ValidationError):
        attempts.grant(city_admin, exam_trainee, bp, Grant.Kind.EXTRA_ATTEMPT, "   ", now=at(0))
    for bad in (None, 0, -5, True, "600", 5 * 3600):
        with pytest.raises(ValidationError):
            attempts.grant(city_admin, exam_trainee, bp, Grant.Kind.EXTRA_TIME, "理由", extra_time_s=bad, now=at(0))
    with pytest.raises(ValidationError):
        attempts.grant(city_admin, exam_trainee, bp, "more", "理由", now=at(0))
    assert not Grant.objects.exists()


def test_void_needs_permission_and_a_reason_and_the_attempt_no_longer_counts(ready, exam_trainee, province_admin,
                                                                               make_person, regions):
    bp = ready.blueprint
    attempt = attempts.start_or_resume(exam_trainee, bp, now=at(0))
    answer_all(exam_trainee, attempt, correct=16, now=at(5))
    attempts.submit(exam_trainee, attempt, now=at(10))
    nb_admin = make_person(regions["nb"], roles=(), admin_of=regions["nb"], username="nb-admin")
    with pytest.raises(PermissionDenied):
        attempts.void(nb_admin, attempt, "作弊", now=at(20))
    with pytest.raises(ValidationError):
        attempts.void(province_admin, attempt, "", now=at(20))
    assert attempts.has_passed(exam_trainee, bp)
    voided = attempts.void(province_admin, attempt, "监考发现代考", now=at(20))
    assert voided.status == Attempt.Status.VOIDED and voided.voided_by == province_admin
    assert voided.void_reason == "监考发现代考" and voided.voided_at == at(20)
    assert not attempts.has_passed(exam_trainee, bp)
    assert AuditLog.objects.filter(action="exams.attempt_voided", object_id=str(attempt.pk)).count() == 1
    with pytest.raises(ValidationError):
        attempts.void(province_admin, attempt, "再次", now=at(30))
    # an open attempt can be voided too: it then takes no answers
    second = attempts.start_or_resume(exam_trainee, bp, now=at(40))
    attempts.void(province_admin, second, "设备故障", now=at(50))
    with pytest.raises(attempts.AttemptClosed):
        attempts.save_answer(exam_trainee, second, 1, [0], now=at(60))


def test_the_exam_list_shows_each_exam_with_its_state(ready, exam_trainee):
    statuses = attempts.exams_for(exam_trainee, now=at(0))
    assert [s.blueprint for s in statuses] == [ready.blueprint]
    assert statuses[0].may_start and statuses[0].attempts_left == 3
    attempt = attempts.start_or_resume(exam_trainee, ready.blueprint, now=at(0))
    status = attempts.exams_for(exam_trainee, now=at(10))[0]
    assert status.open_attempt == attempt and not status.may_start
