"""Honest progress: every time-on-task rule, video ranges, practice answers, lesson and module
completion, credits per programme mode, the theory-exam hook, and the study endpoints and pages."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from django.test import Client
from django.utils import timezone, translation

from courses import api
from courses.models import Enrolment, LessonProgress, Programme, QuestionAnswer, StudyClock, VideoProgress
from lms.models import AuditLog

from .study_support import *  # noqa: F403
from .study_support import add_module, at, make_class, make_programme, play, question_block, video_block


@pytest.fixture
def world(tree, base, trainee):
    """One course, two modules (segment 1 and 2) of two lessons each; a 分段型 programme; the trainee enrolled."""
    course = tree.course()
    m1, m2 = tree.module(course, "心肺复苏与AED"), tree.module(course, "创伤出血与包扎")
    lessons = {
        "a": tree.lesson(m1, "胸外按压", minutes=10, body=[
            video_block("vid-a", 100.0), question_block("q-a", [("5～6 厘米", True), ("3 厘米", False)])]),
        "b": tree.lesson(m1, "AED 的使用", minutes=4),
        "c": tree.lesson(m2, "止血", minutes=4, body=[question_block("q-c", [("直接压迫", True), ("热敷", False),
                                                                              ("加压包扎", True)])]),
        "d": tree.lesson(m2, "包扎", minutes=4),
    }
    programme = make_programme(mode=Programme.Mode.SEGMENTED, required_credits=2)
    pm1 = add_module(programme, m1, segment=1, order=1, credits=1, class_hours=2)
    pm2 = add_module(programme, m2, segment=2, order=2, credits=1, class_hours=3)
    klass = make_class(programme, base)
    enrolment, _ = api.enrol(None, trainee, klass, source=Enrolment.Source.ADMIN)
    return {"lessons": lessons, "programme": programme, "pm": [pm1, pm2], "class": klass, "enrolment": enrolment,
            "modules": [m1, m2], "course": course}


def beat(user, lesson, s, visible=True):
    return api.record_heartbeat(user, lesson.pk, visible=visible, now=at(s))["credited_s"]


def seconds(user, lesson) -> int:
    p = LessonProgress.objects.filter(user=user, lesson_id=lesson.pk).first()
    return p.seconds_on_task if p else 0


def study_for(user, lesson, start_s, duration_s, step=15):
    """Visible heartbeats every ``step`` seconds from ``start_s`` for ``duration_s`` (the first starts the clock)."""
    total = 0
    for s in range(start_s, start_s + duration_s + 1, step):
        total += beat(user, lesson, s)
    return total


def complete_lesson(user, lesson, start_s=0):
    """Everything a lesson asks for: its time, its videos played through and its questions answered."""
    blocks = api.lesson_blocks(lesson)
    study_for(user, lesson, start_s, api.required_seconds(lesson) + 15)
    for key, duration in blocks.videos.items():
        play(user, lesson.pk, key, 0, duration, start_s)
    for key, q in blocks.questions.items():
        api.answer_question(user, lesson.pk, key, api.correct_choices(q), now=at(start_s))
    assert LessonProgress.objects.get(user=user, lesson_id=lesson.pk).completed_at is not None


# ---------------------------------------------------------------- time on task


def test_first_visible_beat_starts_the_clock_and_later_beats_credit_the_time_between(world, trainee):
    a = world["lessons"]["a"]
    assert beat(trainee, a, 0) == 0
    assert beat(trainee, a, 15) == 15
    assert beat(trainee, a, 30) == 15
    assert seconds(trainee, a) == 30


def test_the_gap_is_capped_a_beat_after_a_long_silence_earns_nothing(world, trainee):
    a = world["lessons"]["a"]
    beat(trainee, a, 0)
    assert beat(trainee, a, 15) == 15
    assert beat(trainee, a, 15 + api.HEARTBEAT_MAX_GAP_S) == api.HEARTBEAT_MAX_GAP_S  # one lost beat: still counted
    assert beat(trainee, a, 15 + api.HEARTBEAT_MAX_GAP_S + 600) == 0  # ten minutes away: the clock restarts
    assert beat(trainee, a, 15 + api.HEARTBEAT_MAX_GAP_S + 615) == 15
    assert seconds(trainee, a) == 15 + api.HEARTBEAT_MAX_GAP_S + 15


def test_a_tab_left_open_in_the_background_earns_nothing(world, trainee):
    a = world["lessons"]["a"]
    beat(trainee, a, 0)
    beat(trainee, a, 15)
    assert beat(trainee, a, 20, visible=False) == 0  # hidden: the page says so and stops beating
    # an hour later the person comes back: the first visible beat earns nothing, the next ones do
    assert beat(trainee, a, 3620) == 0
    assert beat(trainee, a, 3635) == 15
    assert seconds(trainee, a) == 30


def test_the_start_beat_of_a_page_earns_nothing(world, trainee):
    """A page that opens (or comes back into view) says so: the time before it was not spent on it,
    even within the gap (a tab closed without its hidden beat and another opened 30 s later)."""
    a, b = world["lessons"]["a"], world["lessons"]["b"]
    beat(trainee, a, 0)
    assert beat(trainee, a, 15) == 15
    assert api.record_heartbeat(trainee, b.pk, visible=True, start=True, now=at(45))["credited_s"] == 0
    assert beat(trainee, b, 60) == 15
    assert seconds(trainee, a) + seconds(trainee, b) == 30
    with pytest.raises(ValidationError):
        api.record_heartbeat(trainee, b.pk, visible=True, start="yes", now=at(61))


def test_hidden_heartbeats_never_earn_time(world, trainee):
    a = world["lessons"]["a"]
    beat(trainee, a, 0)
    for s in range(15, 300, 15):
        assert beat(trainee, a, s, visible=False) == 0
    assert seconds(trainee, a) == 0


def test_two_tabs_at_once_earn_no_more_than_the_real_time(world, trainee):
    a, b = world["lessons"]["a"], world["lessons"]["b"]
    total = 0
    # tab 1 on lesson a beats at 0, 15, 30...; tab 2 on lesson b at 7, 22, 37... for ten minutes
    events = sorted([(s, a) for s in range(0, 601, 15)] + [(s, b) for s in range(7, 601, 15)], key=lambda e: e[0])
    for s, lesson in events:
        total += beat(trainee, lesson, s)
    assert total <= 600
    assert seconds(trainee, a) + seconds(trainee, b) == total
    assert total >= 590  # and the real time is counted (whole seconds)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(beats=st.lists(st.tuples(st.floats(min_value=0, max_value=120, allow_nan=False),  # seconds after the last
                                st.sampled_from("ab"), st.booleans(), st.booleans()),  # lesson, visible, start
                      min_size=1, max_size=40))
def test_whatever_the_beats_the_time_credited_never_exceeds_the_real_time(world, trainee, beats):
    """Any sequence of heartbeats (two tabs on two lessons, visible or hidden, start beats, bursts, gaps)
    credits at most the real time that passed between the first and the last, and never more than the
    visible stretches of at most HEARTBEAT_MAX_GAP_S between consecutive beats."""
    LessonProgress.objects.filter(user=trainee).delete()
    StudyClock.objects.filter(user=trainee).delete()
    t, total, bound = 0.0, 0, 0.0
    for i, (gap, key, visible, start) in enumerate(beats):
        t += gap
        credited = api.record_heartbeat(trainee, world["lessons"][key].pk, visible=visible, start=start,
                                        now=at(t))["credited_s"]
        assert credited >= 0
        if not visible or start or i == 0:
            assert credited == 0
        total += credited
        if i and visible and not start and gap <= api.HEARTBEAT_MAX_GAP_S:
            bound += gap + 1  # the second carried over from an earlier beat's fraction
    assert total <= t
    assert total <= bound
    assert sum(LessonProgress.objects.filter(user=trainee).values_list("seconds_on_task", flat=True)) == total


def test_replayed_heartbeats_earn_nothing_more(world, trainee):
    a = world["lessons"]["a"]
    beat(trainee, a, 0)
    assert beat(trainee, a, 15) == 15
    # the same request sent again and again at the same moment
    assert [beat(trainee, a, 15) for _ in range(10)] == [0] * 10
    # twenty recorded heartbeats replayed within one second: only the second that passed counts
    replayed = sum(api.record_heartbeat(trainee, a.pk, visible=True, now=at(100) + timedelta(milliseconds=50 * i))
                   ["credited_s"] for i in range(20))
    assert replayed == 0  # 85 s after the last beat: a gap, then under a second
    assert seconds(trainee, a) == 15


def test_heartbeats_claiming_past_or_future_times_are_counted_at_the_servers_time(world, trainee):
    """The server ignores any time the client sends: a beat claiming a time far in the past or the
    future earns only what the server's clock says has passed."""
    a = world["lessons"]["a"]
    client = Client()
    client.force_login(trainee)
    credited = []
    for s, claimed in ((0, "2020-01-01T00:00:00Z"), (15, "2099-01-01T00:00:00Z"), (15, "2099-01-02T00:00:00Z"),
                       (30, "1970-01-01T00:00:00Z")):
        with mock.patch("courses.api.timezone.now", return_value=at(s)):
            resp = client.post("/study/heartbeat/", json.dumps({"lesson": a.pk, "visible": True, "time": claimed,
                                                                "now": claimed, "elapsed_s": 3600}),
                               content_type="application/json")
        assert resp.status_code == 200
        credited.append(resp.json()["credited_s"])
    assert credited == [0, 15, 0, 15]
    assert seconds(trainee, a) == 30


def test_a_heartbeat_for_a_locked_lesson_is_refused_and_changes_nothing(world, trainee):
    c = world["lessons"]["c"]  # segment 2, segment 1 not finished
    with pytest.raises(PermissionDenied):
        api.record_heartbeat(trainee, c.pk, visible=True, now=at(0))
    assert not StudyClock.objects.filter(user=trainee).exists()
    assert not LessonProgress.objects.filter(user=trainee).exists()
    client = Client()
    client.force_login(trainee)
    with translation.override("zh-hans"):
        resp = client.post("/study/heartbeat/", {"lesson": c.pk, "visible": True}, content_type="application/json")
    assert resp.status_code == 403
    assert "上一阶段" in resp.json()["error"]
    assert client.get(f"/study/lessons/{c.pk}/state/").status_code == 403
    assert not LessonProgress.objects.filter(user=trainee).exists()


def test_a_heartbeat_for_a_lesson_of_no_class_of_the_person_is_refused(world, make_person, regions, tree):
    other = make_person(regions["xihu"])
    a = world["lessons"]["a"]
    with pytest.raises(PermissionDenied):
        api.record_heartbeat(other, a.pk, visible=True, now=at(0))
    client = Client()
    client.force_login(other)
    resp = client.post("/study/heartbeat/", {"lesson": a.pk, "visible": True}, content_type="application/json")
    assert resp.status_code == 403
    assert client.post("/study/answer/", {"lesson": a.pk, "question": "q-a", "choice": [0]},
                       content_type="application/json").status_code == 403
    assert client.post("/study/video/", {"lesson": a.pk, "video": "vid-a", "ranges": [[0, 100]]},
                       content_type="application/json").status_code == 403
    assert not (StudyClock.objects.filter(user=other).exists() or LessonProgress.objects.filter(user=other).exists()
                or VideoProgress.objects.filter(user=other).exists() or QuestionAnswer.objects.filter(user=other).exists())
    assert client.post("/study/heartbeat/", {"lesson": 999999, "visible": True},
                       content_type="application/json").status_code == 404


def test_a_withdrawn_trainee_may_no_longer_study(world, trainee):
    Enrolment.objects.filter(pk=world["enrolment"].pk).update(status=Enrolment.Status.WITHDRAWN)
    with pytest.raises(PermissionDenied):
        api.record_heartbeat(trainee, world["lessons"]["a"].pk, visible=True, now=at(0))


def test_bad_heartbeats_are_refused(world, trainee):
    client = Client()
    client.force_login(trainee)
    a = world["lessons"]["a"]
    for body in ("not json", json.dumps([1, 2]), json.dumps({"lesson": a.pk, "visible": "yes"})):
        resp = client.post("/study/heartbeat/", body, content_type="application/json")
        assert resp.status_code == 400
        assert resp.json()["error"]
    assert not StudyClock.objects.filter(user=trainee, credited_until__isnull=False).exists()


# ---------------------------------------------------------------- videos


def test_seeking_ahead_does_not_count_and_90_percent_marks_watched(world, trainee):
    a = world["lessons"]["a"]
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[0, 30]], now=at(0))
    assert (r["played_s"], r["watched"]) == (30, False)
    # the trainee seeks to 80 s and plays to the end: the 50 s skipped were not played
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[80, 100]], now=at(60))
    assert (r["played_s"], r["watched"]) == (50, False)
    # back to 30 s, plays to 69.9: 89.9 s of 100 played, just short of 90 %
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[30, 69.9]], now=at(120))
    assert r["played_s"] == pytest.approx(89.9)
    assert r["watched"] is False
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[69.9, 70]], now=at(121))
    assert r["played_s"] == pytest.approx(90.0)
    assert r["watched"] is True
    video = VideoProgress.objects.get(user=trainee, video_key="vid-a")
    assert video.played_ranges == [[0, 70], [80, 100]]
    assert video.watched_at == at(121)
    assert AuditLog.objects.filter(action="courses.video_watched", actor=trainee).count() == 1


def test_seconds_played_twice_count_once(world, trainee):
    a = world["lessons"]["a"]
    for i in range(5):
        r = api.record_video_ranges(trainee, a.pk, "vid-a", [[10, 30], [20, 35]], now=at(i * 30))
    assert r["played_s"] == 25
    assert r["watched"] is False


def test_a_client_claiming_the_whole_video_at_once_gets_only_what_real_time_allows(world, trainee):
    a = world["lessons"]["a"]  # a 100 s video
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[0, 100]], now=at(0))
    assert r["played_s"] == api.video_budget_s(None, at(0)) < 90 and r["watched"] is False
    # 5 s later the same claim adds at most 5 s at double speed (and the slack)
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[0, 100]], now=at(5))
    assert r["played_s"] == pytest.approx(api.video_budget_s(None, at(0)) + api.video_budget_s(at(0), at(5)))
    # played honestly in real time, the rest counts
    r = play(trainee, a.pk, "vid-a", r["played_s"], 100, 5)
    assert r["played_s"] == 100 and r["watched"] is True


def test_the_duration_comes_from_the_page_not_the_client(world, trainee):
    a = world["lessons"]["a"]
    client = Client()
    client.force_login(trainee)
    # a client claiming the video lasts 10 s and that it played 0-10 s: 10 of 100 s
    resp = client.post("/study/video/", {"lesson": a.pk, "video": "vid-a", "ranges": [[0, 10]], "duration_s": 10},
                       content_type="application/json")
    assert resp.status_code == 200
    assert resp.json() == {"played_s": 10.0, "duration_s": 100.0, "watched": False}
    # ranges past the end or before the start are clamped to the block's duration
    r = api.record_video_ranges(trainee, a.pk, "vid-a", [[-50, 5], [95, 5000]],
                                now=timezone.now() + timedelta(seconds=30))
    assert r["played_s"] == 15
    assert VideoProgress.objects.get(user=trainee).played_ranges == [[0, 10], [95, 100]]


def test_bad_video_posts_store_nothing(world, trainee):
    a = world["lessons"]["a"]
    for video, ranges in (("vid-x", [[0, 10]]), ("vid-a", "0-10"), ("vid-a", [[0, "ten"]]), ("vid-a", [[0, 1, 2]]),
                          ("vid-a", [[0, float("inf")]]), ("vid-a", [[0, 1]] * (api.MAX_RANGES + 1))):
        with pytest.raises(ValidationError):
            api.record_video_ranges(trainee, a.pk, video, ranges, now=at(0))
    assert not VideoProgress.objects.filter(user=trainee).exists()


# ---------------------------------------------------------------- practice questions


def test_a_practice_answer_is_checked_and_the_first_answer_kept(world, trainee):
    a = world["lessons"]["a"]
    r = api.answer_question(trainee, a.pk, "q-a", [1], now=at(0))
    assert r["correct"] is False
    assert r["correct_choices"] == [0]
    assert "5～6 厘米" in r["explanation"]
    assert r["first_try_correct"] is False
    r = api.answer_question(trainee, a.pk, "q-a", [0], now=at(5))
    assert r["correct"] is True and r["first_try_correct"] is False
    answer = QuestionAnswer.objects.get(user=trainee, question_key="q-a")
    assert (answer.choice, answer.correct, answer.tries) == ([1], False, 2)


def test_a_question_with_several_correct_choices_needs_all_of_them(world, trainee):
    finish_segment_one(world, trainee)
    c = world["lessons"]["c"]
    assert api.answer_question(trainee, c.pk, "q-c", [0], now=at(9000))["correct"] is False
    r = api.answer_question(trainee, c.pk, "q-c", [2, 0], now=at(9001))
    assert r["correct"] is True and r["correct_choices"] == [0, 2]


def test_bad_answers_store_nothing(world, trainee):
    a = world["lessons"]["a"]
    for key, choice in (("q-a", []), ("q-a", [2]), ("q-a", [-1]), ("q-a", "0"), ("q-a", [True]), ("q-x", [0])):
        with pytest.raises(ValidationError):
            api.answer_question(trainee, a.pk, key, choice, now=at(0))
    assert not QuestionAnswer.objects.exists()


def test_the_answer_endpoint_reveals_the_explanation_only_after_answering(world, trainee):
    client = Client()
    client.force_login(trainee)
    a = world["lessons"]["a"]
    resp = client.post("/study/answer/", {"lesson": a.pk, "question": "q-a", "choice": [0]},
                       content_type="application/json")
    assert resp.status_code == 200
    assert resp.json()["correct"] is True
    assert "5～6 厘米" in resp.json()["explanation"]
    with translation.override("zh-hans"):
        resp = client.post("/study/answer/", {"lesson": a.pk, "question": "q-a", "choice": []},
                           content_type="application/json")
    assert resp.status_code == 400
    assert "请" in resp.json()["error"]


# ---------------------------------------------------------------- lessons, modules, credits


def test_a_lesson_is_complete_with_its_time_its_videos_and_its_questions(world, trainee):
    a = world["lessons"]["a"]  # 10 minutes: 300 s of time on task
    assert api.required_seconds(a) == 300
    study_for(trainee, a, 0, 330)
    progress = LessonProgress.objects.get(user=trainee, lesson_id=a.pk)
    assert progress.seconds_on_task >= 300 and progress.completed_at is None  # video and question missing
    play(trainee, a.pk, "vid-a", 0, 95, 340)
    progress.refresh_from_db()
    assert progress.completed_at is None  # question missing
    api.answer_question(trainee, a.pk, "q-a", [1], now=at(350))  # a wrong answer is an answer
    progress.refresh_from_db()
    assert progress.completed_at == at(350)
    assert AuditLog.objects.filter(action="courses.lesson_completed", actor=trainee).count() == 1


def test_time_alone_completes_a_lesson_without_videos_or_questions_and_long_estimates_are_capped(world, trainee, tree):
    b = world["lessons"]["b"]  # 4 minutes: 120 s
    study_for(trainee, b, 0, 105)
    assert LessonProgress.objects.get(user=trainee, lesson_id=b.pk).completed_at is None
    beat(trainee, b, 120)
    assert LessonProgress.objects.get(user=trainee, lesson_id=b.pk).completed_at is not None
    long = tree.lesson(world["modules"][0], "长课", minutes=180)
    assert api.required_seconds(long) == api.LESSON_TIME_REQUIRED_MAX_S
    assert api.counted_seconds(10_000, 10) == 900  # at most 150 % of the estimate is shown as study time


def finish_segment_one(world, trainee):
    complete_lesson(trainee, world["lessons"]["a"], 0)
    complete_lesson(trainee, world["lessons"]["b"], 2000)


def test_module_credits_and_hours_are_earned_when_all_its_lessons_are_complete(world, trainee):
    summary = api.progress_summary(trainee, world["enrolment"])
    assert (summary.credits, summary.class_hours) == (0, 0)
    complete_lesson(trainee, world["lessons"]["a"], 0)
    summary = api.progress_summary(trainee, world["enrolment"])
    assert summary.credits == 0  # one lesson of two
    assert summary.modules[0].lessons_complete == 1 and not summary.modules[0].complete
    complete_lesson(trainee, world["lessons"]["b"], 2000)
    summary = api.progress_summary(trainee, world["enrolment"])
    assert (summary.credits, summary.class_hours) == (Decimal(1), Decimal(2))
    assert summary.modules[0].complete
    assert summary.seconds_on_task >= 300 + 120
    assert summary.next_lesson.pk == world["lessons"]["c"].pk


def test_segments_open_in_order(world, trainee):
    c = world["lessons"]["c"]
    assert api.lesson_access(trainee, c).locked
    statuses = api.module_statuses(trainee, world["programme"])
    assert [s.locked for s in statuses] == [False, True]
    assert api.next_lesson(trainee, world["enrolment"]).pk == world["lessons"]["a"].pk
    finish_segment_one(world, trainee)
    assert api.lesson_access(trainee, c).allowed
    assert beat(trainee, c, 5000) == 0 and beat(trainee, c, 5015) == 15


def test_segmented_theory_is_complete_when_every_required_module_is(world, trainee, django_capture_on_commit_callbacks):
    programme = world["programme"]
    finish_segment_one(world, trainee)
    assert not api.theory_complete(trainee, programme)
    complete_lesson(trainee, world["lessons"]["c"], 5000)
    assert not api.theory_complete(trainee, programme)
    received = []

    def on_completed(sender, user, programme, **kwargs):
        received.append((user.pk, programme.pk))

    api.theory_completed.connect(on_completed)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            complete_lesson(trainee, world["lessons"]["d"], 7000)
    finally:
        api.theory_completed.disconnect(on_completed)
    assert received == [(trainee.pk, programme.pk)]  # the hook fires once, after the commit
    assert api.theory_complete(trainee, programme)
    summary = api.progress_summary(trainee, world["enrolment"])
    assert (summary.credits, summary.class_hours, summary.next_lesson) == (Decimal(2), Decimal(5), None)
    assert AuditLog.objects.filter(action="courses.theory_completed", actor=trainee).count() == 1


def test_menu_mode_required_modules_and_chosen_optional_ones_until_the_credits(tree, base, trainee):
    course = tree.course()
    required, opt1, opt2 = (tree.module(course, t) for t in ("必修", "选修一", "选修二"))
    lessons = [tree.lesson(m, f"{m.title}课", minutes=2) for m in (required, opt1, opt2)]
    programme = make_programme(code="menu", mode=Programme.Mode.MENU, required_credits=3)
    pms = [add_module(programme, required, credits=2, order=1),
           add_module(programme, opt1, required=False, credits=1, order=2),
           add_module(programme, opt2, required=False, credits=1, order=3)]
    klass = make_class(programme, base)
    enrolment, _ = api.enrol(None, trainee, klass, source=Enrolment.Source.ADMIN)
    api.choose_modules(trainee, enrolment, [pms[2].pk])
    # every module is open; the next lesson is the required one, then the chosen optional one
    assert all(api.lesson_access(trainee, lesson).allowed for lesson in lessons)
    assert api.next_lesson(trainee, enrolment).pk == lessons[0].pk
    complete_lesson(trainee, lessons[0], 0)
    assert api.next_lesson(trainee, enrolment).pk == lessons[2].pk
    assert not api.theory_complete(trainee, programme)  # 2 credits of 3
    complete_lesson(trainee, lessons[2], 1000)
    assert api.theory_complete(trainee, programme)
    assert api.progress_summary(trainee, enrolment).credits == 3
    with pytest.raises(ValidationError):
        api.choose_modules(trainee, enrolment, [pms[0].pk])  # a required module is not chosen
    with pytest.raises(PermissionDenied):
        api.choose_modules(trainee.__class__(pk=0), enrolment, [])


def test_menu_mode_theory_needs_the_required_modules_even_with_enough_credits(tree, base, trainee):
    course = tree.course()
    required, opt1, opt2 = (tree.module(course, t) for t in ("必修", "选修一", "选修二"))
    lessons = [tree.lesson(m, f"{m.title}课", minutes=2) for m in (required, opt1, opt2)]
    programme = make_programme(code="menu2", mode=Programme.Mode.MENU, required_credits=2)
    add_module(programme, required, credits=1, order=1)
    add_module(programme, opt1, required=False, credits=1, order=2)
    add_module(programme, opt2, required=False, credits=1, order=3)
    api.enrol(None, trainee, make_class(programme, base), source=Enrolment.Source.ADMIN)
    complete_lesson(trainee, lessons[1], 0)
    complete_lesson(trainee, lessons[2], 1000)
    assert not api.theory_complete(trainee, programme)
    complete_lesson(trainee, lessons[0], 2000)
    assert api.theory_complete(trainee, programme)


def test_credit_mode_counts_credits_across_the_persons_classes(tree, base, trainee):
    course = tree.course()
    modules = [tree.module(course, f"模块{i}") for i in range(3)]
    lessons = [tree.lesson(m, f"课{i}", minutes=2) for i, m in enumerate(modules)]
    programme = make_programme(code="credits", mode=Programme.Mode.CREDITS, required_credits=2)
    for i, m in enumerate(modules):
        add_module(programme, m, order=i, credits=1, required=False)
    spring = make_class(programme, base, name="春季班")
    autumn = make_class(programme, base, name="秋季班")
    first, _ = api.enrol(None, trainee, spring, source=Enrolment.Source.ADMIN)
    complete_lesson(trainee, lessons[0], 0)
    assert api.progress_summary(trainee, first).credits == 1
    # the spring class ends for the trainee; the autumn class carries the credit on
    Enrolment.objects.filter(pk=first.pk).update(status=Enrolment.Status.WITHDRAWN)
    second, _ = api.enrol(None, trainee, autumn, source=Enrolment.Source.ADMIN)
    summary = api.progress_summary(trainee, second)
    assert summary.credits == 1 and not summary.theory_complete
    complete_lesson(trainee, lessons[2], 1000)  # any module: only credits count
    summary = api.progress_summary(trainee, second)
    assert summary.credits == 2 and summary.theory_complete and summary.exam_unlocked
    assert api.theory_exam_unlocked(trainee, programme)


def test_theory_exam_unlocked_is_the_hook_for_the_exam(world, trainee, make_person, regions):
    programme = world["programme"]
    assert not api.theory_exam_unlocked(trainee, programme)
    for i, key in enumerate("abcd"):
        complete_lesson(trainee, world["lessons"][key], i * 2000)
    assert api.theory_exam_unlocked(trainee, programme)
    # no exam in the programme: never unlocked
    Programme.objects.filter(pk=programme.pk).update(theory_exam_required=False)
    programme.refresh_from_db()
    assert not api.theory_exam_unlocked(trainee, programme)
    Programme.objects.filter(pk=programme.pk).update(theory_exam_required=True)
    programme.refresh_from_db()
    # not actively enrolled any more: not unlocked
    Enrolment.objects.filter(pk=world["enrolment"].pk).update(status=Enrolment.Status.WITHDRAWN)
    assert api.theory_complete(trainee, programme)
    assert not api.theory_exam_unlocked(trainee, programme)
    # someone who never studied, or nobody at all
    assert not api.theory_exam_unlocked(make_person(regions["xihu"]), programme)
    from django.contrib.auth.models import AnonymousUser

    assert not api.theory_exam_unlocked(AnonymousUser(), programme)


def test_completion_is_kept_when_an_editor_adds_a_question_later(world, trainee):
    b = world["lessons"]["b"]
    complete_lesson(trainee, b, 0)
    b.body = list(b.body.raw_data) + [question_block("q-new", [("对", True), ("错", False)])]
    b.save_revision().publish()
    state = api.lesson_state(trainee, b.pk)
    assert state["complete"] is True


# ---------------------------------------------------------------- endpoints and pages


def test_lesson_state_endpoint(world, trainee):
    a = world["lessons"]["a"]
    client = Client()
    client.force_login(trainee)
    beat(trainee, a, 0)
    beat(trainee, a, 15)
    play(trainee, a.pk, "vid-a", 0, 40, 20)
    api.answer_question(trainee, a.pk, "q-a", [0], now=at(21))
    resp = client.get(f"/study/lessons/{a.pk}/state/")
    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]
    data = resp.json()
    assert data["seconds_on_task"] == 15 and data["required_s"] == 300
    assert data["videos"] == {"vid-a": {"played_s": 40.0, "duration_s": 100.0, "watched": False}}
    assert data["answers"] == {"q-a": {"correct": True, "choice": [0]}}
    assert data["complete"] is False
    assert data["next_url"] == world["lessons"]["b"].url
    assert data["module"] == {"title": "心肺复苏与AED", "lessons_total": 2, "lessons_complete": 0, "complete": False}


def test_my_study_page_shows_class_deadline_hours_next_lesson_and_locks(world, trainee):
    client = Client()
    client.force_login(trainee)
    complete_lesson(trainee, world["lessons"]["a"], 0)
    with translation.override("zh-hans"):
        resp = client.get("/study/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "西湖区救护员一班" in body and "西湖区红十字培训基地" in body
    assert world["class"].theory_deadline.strftime("%Y-%m-%d") in body
    assert "AED 的使用" in body and world["lessons"]["b"].url in body  # the next lesson
    assert "心肺复苏与AED" in body and "创伤出血与包扎" in body
    assert 'class="module locked"' in body
    assert "0 / 2" in body  # credits so far / required


def test_my_study_page_without_a_class_offers_enrolment(trainee):
    client = Client()
    client.force_login(trainee)
    resp = client.get("/study/")
    assert resp.status_code == 200
    assert "/study/enrol/" in resp.content.decode()


def test_the_dashboard_card_links_to_my_study(world, trainee):
    client = Client()
    client.force_login(trainee)
    body = client.get("/dashboard/").content.decode()
    assert "/study/" in body
    assert "胸外按压" in body  # the next lesson
    assert "西湖区救护员一班" in body


def test_privacy_export_and_anonymisation_of_study_data(world, trainee):
    from lms import privacy

    a = world["lessons"]["a"]
    beat(trainee, a, 0)
    beat(trainee, a, 15)
    play(trainee, a.pk, "vid-a", 0, 40, 20)
    api.answer_question(trainee, a.pk, "q-a", [0], now=at(21))
    declarations = {d.key: d for d in privacy.declarations()}
    rows = declarations["courses.study"].export(trainee)
    assert {r["kind"] for r in rows} == {"lesson", "video", "practice answer", "study clock"}
    assert declarations["courses.enrolments"].export(trainee)[0]["class"] == "西湖区救护员一班"
    counts = declarations["courses.study"].anonymise(trainee)
    assert counts == {"video_progress": 1, "practice_answers": 1, "study_clock": 1}
    assert LessonProgress.objects.filter(user=trainee).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_heartbeats_cannot_credit_the_same_seconds_twice(tree, base, trainee):
    """PostgreSQL: the study clock's row lock makes simultaneous heartbeats (two tabs, a replay) queue;
    the second sees the first one's clock and earns nothing. (SQLite serialises write transactions.)"""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite serialises write transactions")
    course = tree.course()
    module = tree.module(course, "心肺复苏")
    lessons = [tree.lesson(module, "甲"), tree.lesson(module, "乙")]
    programme = make_programme(code="concurrent", mode=Programme.Mode.MENU)
    add_module(programme, module)
    api.enrol(None, trainee, make_class(programme, base), source=Enrolment.Source.ADMIN)
    api.record_heartbeat(trainee, lessons[0].pk, visible=True, now=at(0))
    for round_ in range(1, 6):
        barrier = threading.Barrier(4)
        results = []

        def tab(lesson):
            try:
                barrier.wait()
                results.append(api.record_heartbeat(trainee, lesson.pk, visible=True, now=at(15 * round_))["credited_s"])
            finally:
                connections.close_all()

        threads = [threading.Thread(target=tab, args=(lessons[i % 2],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [0, 0, 0, 15]
    assert sum(LessonProgress.objects.filter(user=trainee).values_list("seconds_on_task", flat=True)) == 75
