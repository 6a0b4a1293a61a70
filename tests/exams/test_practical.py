"""The practical exam: sessions and bookings, 考培分离 in all its forms, check-in, the CPR item through
the room console's recording, the checklist with critical items, signed and frozen results, late
evidence, appeals, and the verification of every hash."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from exams import practical
from exams.models import Appeal, Booking, ChecklistEntry, PracticalResult
from lms.models import AuditLog
from manikin import api as manikin_api
from manikin.models import Manikin
from tests.exams.practical_support import (  # noqa: F401
    passed_theory, png_photo, run_cpr, site, tick_all, today_session,
)

pytestmark = pytest.mark.django_db


def checked_in(site, session, candidate, examiner=None):
    booking = practical.book(site.admin, session, candidate)
    candidate.refresh_from_db()
    return practical.check_in(examiner or site.examiner, booking, identity_confirmed=True,
                              photo=None if candidate.photo else png_photo())


# ---------------------------------------------------------------- 考培分离

def test_the_examiner_who_taught_the_class_is_refused_and_told_why(site):
    reasons = practical.examiner_conflicts(site.taught, site.candidate)
    assert len(reasons) == 1 and "救护员一班" in reasons[0]
    assert practical.examiner_conflicts(site.examiner, site.candidate) == []


def test_every_form_of_conflict_has_its_reason(site):
    assert any("救护员一班" in r for r in practical.examiner_conflicts(site.taught, site.candidate))
    studio = practical.examiner_conflicts(site.studio_member, site.studio_candidate)
    assert len(studio) == 1 and "王芳名师工作室" in studio[0]
    assert practical.examiner_conflicts(site.studio_member, site.candidate) == []
    org = practical.examiner_conflicts(site.colleague, site.candidate_employed)
    assert len(org) == 1 and "西湖物流公司" in org[0]
    assert practical.examiner_conflicts(site.colleague, site.candidate) == []
    assert practical.examiner_conflicts(site.examiner, site.examiner)  # nobody examines themselves


def test_assigning_a_conflicted_examiner_is_refused_with_the_reason(site):
    session = today_session(site, examiners=[])
    practical.book(site.admin, session, site.candidate)
    with pytest.raises(PermissionDenied) as refused:
        practical.assign_examiner(site.admin, session, site.taught)
    assert "张考生" in str(refused.value) and "救护员一班" in str(refused.value)
    assert not session.session_examiners.exists()
    practical.assign_examiner(site.admin, session, site.examiner)
    # and booking a candidate the session's examiner may not examine is refused the other way round
    practical.assign_examiner(site.admin, session, site.colleague)
    with pytest.raises(ValidationError) as refused:
        practical.book(site.admin, session, site.candidate_employed)
    assert "西湖物流公司" in " ".join(refused.value.messages)


def test_the_draw_leaves_out_the_conflicted_and_is_reproducible_from_its_seed(site):
    session = today_session(site, examiners=[])
    practical.book(site.admin, session, site.candidate)
    practical.book(site.admin, session, site.studio_candidate)
    draw = practical.draw_examiners(site.admin, session, count=2, seed="fixed-seed")
    excluded = {row["examiner"] for row in draw.excluded}
    assert excluded == {site.taught.pk, site.studio_member.pk}
    assert all(row["reason"] for row in draw.excluded)
    assert sorted(draw.pool) == sorted([site.examiner.pk, site.examiner2.pk, site.colleague.pk])
    assert len(draw.drawn) == 2 and set(draw.drawn) <= set(draw.pool)
    assert practical.draw_from(draw.pool, draw.count, draw.seed) == draw.drawn  # reproducible
    assert set(session.session_examiners.values_list("examiner_id", flat=True)) == set(draw.drawn)
    with pytest.raises(ValidationError):
        practical.draw_examiners(site.admin, session, count=5)


def test_the_rule_is_checked_again_when_scoring(site):
    """A conflict that arises after the assignment (the examiner later joins the candidate's employer)
    stops the check-in, the CPR item, the checklist and the sign-off."""
    session = today_session(site, examiners=[site.examiner])
    booking = checked_in(site, session, site.candidate_employed)
    site.examiner.organisation = site.employer
    site.examiner.save(update_fields=["organisation"])
    manikin = Manikin.objects.filter(station=booking.station).first()
    with pytest.raises(PermissionDenied) as refused:
        manikin_api.start_recording(site.examiner, manikin, trainee=site.candidate_employed)
    assert "西湖物流公司" in str(refused.value)
    assert not manikin.recordings.exists()
    with pytest.raises(PermissionDenied):
        tick_all(site, booking)
    with pytest.raises(PermissionDenied):
        practical.sign(site.examiner, booking, confirm=True)


# ---------------------------------------------------------------- sessions and bookings

def test_only_candidates_who_passed_the_theory_within_its_window_are_booked(site, make_person, regions):
    session = today_session(site)
    stranger = make_person(regions["xihu"], username="no-theory")
    with pytest.raises(ValidationError) as refused:
        practical.book(site.admin, session, stranger)
    assert "180" in " ".join(refused.value.messages)
    old = make_person(regions["xihu"], username="old-theory")
    passed_theory(old, site.blueprint, days_ago=site.scheme.theory_valid_days + 1)
    with pytest.raises(ValidationError):
        practical.book(site.admin, session, old)
    passed_theory(old, site.blueprint, days_ago=1)
    assert practical.book(site.admin, session, old).theory_attempt.submitted_at.date() >= \
        timezone.localdate() - datetime.timedelta(days=2)


def test_capacity_is_stations_times_slots(site, make_person, regions):
    session = today_session(site, slots=1)  # two stations, one slot: two places
    practical.book(site.admin, session, site.candidate)
    practical.book(site.admin, session, site.candidate2)
    with pytest.raises(ValidationError) as refused:
        practical.book(site.admin, session, site.studio_candidate)
    assert "2" in " ".join(refused.value.messages)
    assert Booking.objects.filter(session=session).count() == 2


def test_candidates_book_themselves_only_and_see_their_bookings(site):
    session = today_session(site)
    with pytest.raises(PermissionDenied):
        practical.book(site.candidate2, session, site.candidate)
    booking = practical.book(site.candidate, session, site.candidate)
    assert list(practical.bookings_of(site.candidate)) == [booking]
    assert session in list(practical.sessions_of_examiner(site.examiner))
    with pytest.raises(ValidationError):  # one open booking per programme
        practical.book(site.candidate, today_session(site), site.candidate)


def test_a_session_needs_an_exam_room_under_the_schemes_standard_and_its_regions_admin(site, make_person, regions):
    other_admin = make_person(regions["beilun"], roles=(), admin_of=regions["beilun"], username="nb-admin")
    with pytest.raises(PermissionDenied):
        practical.plan_session(other_admin, programme=site.programme, room=site.room, date=timezone.localdate(),
                               starts_at=datetime.time(9), slots=2)
    manikin_api.set_room_mode(None, site.room, mode="exam", standard_id="aha-2020")
    with pytest.raises(ValidationError) as refused:
        practical.plan_session(site.admin, programme=site.programme, room=site.room, date=timezone.localdate(),
                               starts_at=datetime.time(9), slots=2)
    assert "crc-first-aider-2024" in " ".join(refused.value.messages)


# ---------------------------------------------------------------- on the day

def test_check_in_needs_a_photo_and_an_explicit_confirmation(site):
    session = today_session(site)
    booking = practical.book(site.admin, session, site.candidate)
    with pytest.raises(ValidationError) as refused:
        practical.check_in(site.examiner, booking, identity_confirmed=True)
    assert "photo" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        practical.check_in(site.examiner, booking, identity_confirmed=False, photo=png_photo())
    assert "identity_confirmed" in refused.value.message_dict
    booking = practical.check_in(site.examiner, booking, identity_confirmed=True)  # the photo was kept
    assert booking.status == Booking.Status.CHECKED_IN and booking.station is not None
    assert booking.examiner == site.examiner
    with pytest.raises(PermissionDenied):  # not an examiner of the session
        practical.check_in(site.examiner2, practical.book(site.admin, session, site.candidate2),
                           identity_confirmed=True, photo=png_photo())


def test_candidates_in_one_slot_get_different_stations(site):
    session = today_session(site, slots=1)
    a = checked_in(site, session, site.candidate)
    b = checked_in(site, session, site.candidate2)
    assert {a.station_id, b.station_id} == {s.pk for s in site.stations}


def test_the_cpr_item_starts_only_for_a_checked_in_candidate_on_their_station(site):
    session = today_session(site)
    booking = practical.book(site.admin, session, site.candidate)
    manikin = site.manikins[0]
    with pytest.raises(ValidationError) as refused:
        manikin_api.start_recording(site.examiner, manikin, trainee=site.candidate)
    assert "张考生" in " ".join(refused.value.messages)
    booking = practical.check_in(site.examiner, booking, identity_confirmed=True, photo=png_photo())
    other = next(m for m in site.manikins if m.station_id != booking.station_id)
    with pytest.raises(ValidationError):
        manikin_api.start_recording(site.examiner, other, trainee=site.candidate)
    mine = next(m for m in site.manikins if m.station_id == booking.station_id)
    rec = manikin_api.start_recording(site.examiner, mine, trainee=site.candidate)
    assert Booking.objects.get(pk=booking.pk).cpr_recording == rec


# ---------------------------------------------------------------- the verdict and the frozen result

def test_a_whole_sitting_from_booking_to_a_signed_frozen_result(site):
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run = run_cpr(site, booking)
    assert run.recording.score is not None and run.recording.passed
    tick_all(site, booking)
    booking.refresh_from_db()
    draft = practical.draft(booking)
    assert draft.problems == [] and draft.critical_missed == [] and draft.passed
    with pytest.raises(ValidationError):
        practical.sign(site.examiner, booking, confirm=False)
    result = practical.sign(site.examiner, booking, confirm=True)
    assert result.number == 1 and result.passed and result.signed_by == site.examiner and result.signed_at
    assert result.points == draft.points and result.max_points == 100
    cpr = result.evidence["cpr"]
    assert cpr["sample_count"] == run.recording.sample_count and len(cpr["samples_sha256"]) == 64
    assert cpr["scorer_version"] and cpr["standard"]["id"] == "crc-first-aider-2024" and cpr["standard"]["version"]
    assert result.evidence["scheme"]["version"] == site.scheme.version
    assert result.evidence["checklist"]["ticks"]["aed_clear"] is True
    assert practical.verify_results() == (1, [])
    assert practical.passed_practical(site.candidate, site.programme) == result
    with pytest.raises(ValidationError):
        practical.sign(site.examiner, booking, confirm=True)


def test_a_missed_critical_item_fails_whatever_the_total(site):
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run_cpr(site, booking)
    tick_all(site, booking, except_keys=("aed_clear",))  # 5 points of 100 missed
    booking.refresh_from_db()
    draft = practical.draft(booking)
    assert draft.points >= site.scheme.pass_points and draft.critical_missed == ["aed_clear"]
    assert not draft.passed
    result = practical.sign(site.examiner, booking, confirm=True)
    assert not result.passed and result.critical_missed == ["aed_clear"]


def test_cpr_points_are_rounded_down_never_up_into_the_pass_mark(site):
    scheme = site.scheme

    class Rec:
        stopped_at = timezone.now()
        outcome = "scored"
        outcome_reason = ""
        score = 49.99
        passed = True

    ticks = {item["key"]: True for item in scheme.items}
    v = practical.verdict(scheme, ticks, Rec())
    assert str(v.cpr_points) == "19.9"  # 40 × 49.99 % = 19.996: shown and counted as 19.9


def test_a_frozen_result_cannot_be_edited_and_a_change_behind_the_applications_back_is_caught(site):
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run_cpr(site, booking)
    tick_all(site, booking)
    result = practical.sign(site.examiner, booking, confirm=True)
    result.passed = False
    with pytest.raises(PermissionDenied):
        result.save()
    with pytest.raises(PermissionDenied):
        PracticalResult.objects.filter(pk=result.pk).update(passed=False)
    with pytest.raises(PermissionDenied):
        result.delete()
    with pytest.raises(ValidationError):  # the checklist is closed too
        out = tick_all(site, booking)
        raise ValidationError(out["rejected"][0]["reason"]) if out["rejected"] else AssertionError("accepted")
    assert practical.verify_results() == (1, [])
    with connection.cursor() as cursor:  # behind the application's back
        cursor.execute(f"UPDATE {PracticalResult._meta.db_table} SET points = 99.0 WHERE id = %s", [result.pk])
    checked, problems = practical.verify_results()
    assert checked == 1 and len(problems) == 1 and "SHA-256" in problems[0].what
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_practical_results", stdout=open("/dev/null", "w"))
    assert exit_.value.code == 1


def test_a_change_to_the_frozen_samples_is_caught(site):
    from manikin.models import Frame

    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run = run_cpr(site, booking)
    tick_all(site, booking)
    practical.sign(site.examiner, booking, confirm=True)
    frame = Frame.objects.filter(recording=run.recording).first()
    import numpy as np
    depth = np.frombuffer(frame.depth, dtype="<f4").copy()
    depth[0] += 10
    Frame.objects.filter(pk=frame.pk).update(depth=depth.tobytes())
    checked, problems = practical.verify_results()
    assert [p.what for p in problems] == ["the CPR samples it froze have changed"]


# ---------------------------------------------------------------- late evidence

def test_late_samples_after_the_stop_make_a_new_version_with_the_reason(site, settings,
                                                                         django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run = run_cpr(site, booking, seconds=110.0, deliver_until_s=40.0)  # the link dropped after 40 s
    assert run.spool and run.recording.result["complete"] is False  # an incomplete attempt, as it stands
    tick_all(site, booking)
    first = practical.sign(site.examiner, booking, confirm=True)
    assert not first.passed
    # The link is back: the bridge delivers its spool, measured before the stop.
    with django_capture_on_commit_callbacks(execute=True):
        manikin_api.ingest_frames(run.station, f"bridge-{run.station.pk}", run.spool)
    versions = list(PracticalResult.objects.filter(booking=booking).order_by("number"))
    assert [v.reason for v in versions] == ["signed", "late_evidence"]
    late = versions[1]
    assert late.previous_sha256 == first.sha256 and late.signed_by is None
    assert late.evidence["cpr"]["sample_count"] > first.evidence["cpr"]["sample_count"]
    assert late.note and str(late.evidence["cpr"]["sample_count"] - first.evidence["cpr"]["sample_count"]) in late.note
    assert late.passed  # the whole run, scored
    assert practical.verify_results() == (2, [])
    # the same spool again (a resend) changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        manikin_api.ingest_frames(run.station, f"bridge-{run.station.pk}", run.spool)
    assert PracticalResult.objects.filter(booking=booking).count() == 2


def test_late_samples_wait_for_the_backlog_in_production(site, django_capture_on_commit_callbacks):
    """With the database task backend the version is made by a deferred task (db_worker), not at once."""
    from django_tasks_db.models import DBTaskResult

    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run = run_cpr(site, booking, deliver_until_s=40.0)
    tick_all(site, booking)
    practical.sign(site.examiner, booking, confirm=True)
    with django_capture_on_commit_callbacks(execute=True):
        manikin_api.ingest_frames(run.station, f"bridge-{run.station.pk}", run.spool)
    task = DBTaskResult.objects.get(task_path="exams.tasks.settle_late_evidence_task")
    assert task.run_after > timezone.now() and task.args_kwargs["args"] == [run.recording.pk]
    assert PracticalResult.objects.filter(booking=booking).count() == 1
    practical.settle_late_evidence(run.recording.pk)  # what the worker runs
    assert PracticalResult.objects.filter(booking=booking).count() == 2


# ---------------------------------------------------------------- checklist submission

def test_checklist_entries_are_idempotent_and_bad_ones_come_back_with_their_reason(site):
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    now = timezone.now().isoformat()
    good = {"id": str(uuid.uuid4()), "item": "scene_safety", "done": True, "at": now}
    out = practical.record_checklist(site.examiner, booking, [good])
    assert out["stored"] == [good["id"]] and out["ticks"] == {"scene_safety": True}
    out = practical.record_checklist(site.examiner, booking, [good])  # a resend after a lost link
    assert out["stored"] == [] and out["duplicates"] == [good["id"]]
    bad = [{"id": "x", "item": "scene_safety", "done": True, "at": now},
           {"id": str(uuid.uuid4()), "item": "no_such_item", "done": True, "at": now},
           {"id": str(uuid.uuid4()), "item": "moving", "done": "yes", "at": now},
           {"id": str(uuid.uuid4()), "item": "moving", "done": True, "at": "2020-01-01T09:00:00+08:00"}]
    out = practical.record_checklist(site.examiner, booking, bad)
    assert out["stored"] == [] and len(out["rejected"]) == 4 and all(r["reason"] for r in out["rejected"])
    assert ChecklistEntry.objects.filter(booking=booking).count() == 1
    assert AuditLog.objects.filter(action="exams.practical.checklist.rejected").exists()
    # the latest entry of an item counts
    later = (timezone.now() + datetime.timedelta(seconds=1)).isoformat()
    practical.record_checklist(site.examiner, booking, [{"id": str(uuid.uuid4()), "item": "scene_safety",
                                                         "done": False, "at": later}])
    assert practical.current_ticks(booking) == {"scene_safety": False}


# ---------------------------------------------------------------- appeals and retakes

def test_an_appeal_is_reviewed_by_a_second_eligible_examiner_whose_decision_is_a_new_version(site):
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run_cpr(site, booking)
    tick_all(site, booking, except_keys=("aed_clear",))
    first = practical.sign(site.examiner, booking, confirm=True)
    assert not first.passed
    with pytest.raises(PermissionDenied):
        practical.file_appeal(site.candidate2, booking, grounds="不是我的")
    appeal = practical.file_appeal(site.candidate, booking, grounds="我在除颤前大声提示了“大家离开”。")
    with pytest.raises(ValidationError):
        practical.assign_reviewer(site.admin, appeal, site.examiner)  # the same examiner
    with pytest.raises(ValidationError) as refused:
        practical.assign_reviewer(site.admin, appeal, site.taught)  # taught the class
    assert "救护员一班" in " ".join(refused.value.messages)
    practical.assign_reviewer(site.admin, appeal, site.examiner2)
    with pytest.raises(PermissionDenied):
        practical.decide_appeal(site.examiner, appeal, decision="维持", ticks=None)
    result = practical.decide_appeal(site.examiner2, Appeal.objects.get(pk=appeal.pk),
                                     decision="录像显示考生已确认无人接触。", ticks={"aed_clear": True})
    assert result.number == 2 and result.reason == "appeal" and result.passed and result.signed_by == site.examiner2
    assert result.previous_sha256 == first.sha256
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.CHANGED and appeal.new_result == result
    assert practical.verify_results() == (2, [])
    with pytest.raises(ValidationError):  # one appeal per sitting: the review's decision is final
        practical.file_appeal(site.candidate, booking, grounds="再次申诉")


def test_retake_rules(site):
    session = today_session(site)
    booking = checked_in(site, session, site.candidate)
    run_cpr(site, booking, profile="shallow")
    tick_all(site, booking)
    assert not practical.sign(site.examiner, booking, confirm=True).passed
    later = practical.plan_session(site.admin, programme=site.programme, room=site.room,
                                   date=timezone.localdate() + datetime.timedelta(days=3),
                                   starts_at=datetime.time(9), slots=2)
    why = practical.booking_refusal(site.candidate, later)
    assert why and (timezone.localdate() + datetime.timedelta(days=7)).isoformat() in why
    week = practical.plan_session(site.admin, programme=site.programme, room=site.room,
                                  date=timezone.localdate() + datetime.timedelta(days=7),
                                  starts_at=datetime.time(9), slots=2)
    assert practical.booking_refusal(site.candidate, week) is None
