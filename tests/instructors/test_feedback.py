"""Trainees' feedback (instructors.feedback): after the class ends, once per enrolment, anonymous to the
instructor (no link from an answer to the trainee), shown only from three answers."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import override

from courses.models import Enrolment, TrainingClass
from instructors import feedback
from instructors.models import ClassFeedback, FeedbackReceipt
from lms.models import AuditLog, Role, User

from .conftest import ended_class, en

pytestmark = pytest.mark.django_db


def _enrol(klass, person, status=Enrolment.Status.ACTIVE):
    return Enrolment.objects.create(user=person, training_class=klass, source=Enrolment.Source.ADMIN, status=status)


def test_answers_do_not_point_to_the_trainee():
    for field in ClassFeedback._meta.get_fields():
        assert getattr(field, "related_model", None) not in (User, Enrolment, FeedbackReceipt), field.name
    assert {f.name for f in FeedbackReceipt._meta.concrete_fields} == {"id", "enrolment"}  # no answer, no time
    # A day, not a time: a timestamp could be matched with the receipt's enrolment.
    assert "DateTimeField" not in {f.get_internal_type() for f in ClassFeedback._meta.concrete_fields}


def test_window_once_withdrawn_and_bad_scores(world, make_person):
    today = timezone.localdate()
    klass = ended_class(world.programme, world.base, ends_on=today + datetime.timedelta(days=2),
                        status=TrainingClass.Status.OPEN, instructors=[world.instructor])
    e = _enrol(klass, world.trainee)
    other = make_person(world.regions["xihu"], roles=(Role.TRAINEE,))
    gone = _enrol(klass, make_person(world.regions["xihu"]), status=Enrolment.Status.WITHDRAWN)
    with override("en"):
        assert feedback.feedback_refusal(world.trainee, e) == (
            f"The class can be rated from its last day, {klass.ends_on.isoformat()}.")
        assert feedback.feedback_refusal(other, e) == "Only the trainee can rate their class."
        # From the last day, for 30 days.
        assert feedback.feedback_refusal(world.trainee, e, today=klass.ends_on) is None
        assert feedback.feedback_refusal(world.trainee, e, today=klass.ends_on + datetime.timedelta(days=30)) is None
        assert feedback.feedback_refusal(world.trainee, e, today=klass.ends_on + datetime.timedelta(days=31)) == (
            "Ratings close 30 days after the class ends.")
        assert feedback.feedback_refusal(gone.user, gone, today=klass.ends_on) == "You withdrew from this class."
        with pytest.raises(PermissionDenied):
            feedback.submit_feedback(gone.user, gone, overall=5, clarity=5, practice=5, today=klass.ends_on)

        # Bad scores: refused with the field's message, nothing stored (no answer, no receipt).
        for bad in (0, 6, "3.5", True, None, "", "five", -1):
            with pytest.raises(ValidationError) as exc:
                feedback.submit_feedback(world.trainee, e, overall=bad, clarity=3, practice=3, today=klass.ends_on)
            assert exc.value.message_dict == {"overall": ["Choose from 1 to 5 stars."]}, bad
        with pytest.raises(ValidationError) as exc:
            feedback.submit_feedback(world.trainee, e, overall=3, clarity=3, practice=3, comment="好" * 501,
                                     today=klass.ends_on)
        assert "comment" in exc.value.message_dict
        assert not ClassFeedback.objects.exists() and not FeedbackReceipt.objects.exists()

        feedback.submit_feedback(world.trainee, e, overall="5", clarity=4, practice=3, comment=" 很实用 ",
                                 today=klass.ends_on)
        row = ClassFeedback.objects.get()
        assert (row.training_class_id, row.overall, row.clarity, row.practice, row.comment) == (klass.pk, 5, 4, 3, "很实用")
        assert row.submitted_on == klass.ends_on
        # Once per enrolment.
        assert feedback.feedback_refusal(world.trainee, e, today=klass.ends_on) == (
            "You have already rated this class. Thank you!")
        with pytest.raises(PermissionDenied):
            feedback.submit_feedback(world.trainee, e, overall=1, clarity=1, practice=1, today=klass.ends_on)
    assert ClassFeedback.objects.count() == 1
    # The audit says that the trainee answered, not what.
    audit = AuditLog.objects.get(action="instructors.feedback.submit")
    assert "很实用" not in str(audit.__dict__)

    # A cancelled class is not rated.
    TrainingClass.objects.filter(pk=klass.pk).update(status=TrainingClass.Status.CANCELLED)
    e2 = _enrol(TrainingClass.objects.get(pk=klass.pk), other)
    with override("en"):
        assert feedback.feedback_refusal(other, e2, today=klass.ends_on) == "This class was cancelled."


def test_summary_hidden_under_three_answers(world, make_person):
    klass = ended_class(world.programme, world.base, ends_on=timezone.localdate(), instructors=[world.instructor])
    answers = [(5, 5, 4, "讲得清楚"), (4, 3, 3, ""), (4, 5, 2, "练习时间太少")]
    for i, (overall, clarity, practice, comment) in enumerate(answers):
        e = _enrol(klass, make_person(world.regions["xihu"]))
        feedback.submit_feedback(e.user, e, overall=overall, clarity=clarity, practice=practice, comment=comment)
        summary = feedback.class_feedback_summary(klass)
        if i < 2:
            assert summary == {"n": i + 1, "shown": False, "min_shown": 3}
    assert summary["shown"] and summary["n"] == 3
    # Means rounded down (13/3 = 4.333…, 13/3, 9/3), comments sorted, without names.
    assert (str(summary["overall"]), str(summary["clarity"]), str(summary["practice"])) == ("4.33", "4.33", "3.00")
    assert summary["comments"] == sorted(["讲得清楚", "练习时间太少"])


def test_feedback_page_and_the_link_on_my_study(world, client, make_person):
    today = timezone.localdate()
    klass = ended_class(world.programme, world.base, ends_on=today, status=TrainingClass.Status.CLOSED,
                        instructors=[world.instructor], name="昨天结束的班")
    e = _enrol(klass, world.trainee)
    en(client, world.trainee)
    home = client.get("/study/").content.decode()
    assert f"/my/classes/{e.pk}/feedback/" in home and "Rate this class" in home
    assert f"/my/classes/{e.pk}/feedback/" in client.get("/dashboard/").content.decode()

    page = client.get(f"/my/classes/{e.pk}/feedback/")
    assert page.status_code == 200 and "Rate your class" in page.content.decode()
    bad = client.post(f"/my/classes/{e.pk}/feedback/", {"overall": "7", "clarity": "3"})
    assert bad.status_code == 200 and not ClassFeedback.objects.exists()
    done = client.post(f"/my/classes/{e.pk}/feedback/", {"overall": "5", "clarity": "4", "practice": "4",
                                                         "comment": "很好"})
    assert done.status_code == 302 and ClassFeedback.objects.count() == 1
    again = client.get(f"/my/classes/{e.pk}/feedback/").content.decode()
    assert "You have already rated this class. Thank you!" in again and "<form method=\"post\" class=\"form feedback" not in again
    assert "You have rated this class" in client.get("/study/").content.decode()

    # Someone else's enrolment: 404.
    stranger = make_person(world.regions["xihu"])
    assert en(client, stranger).get(f"/my/classes/{e.pk}/feedback/").status_code == 404
    assert client.post(f"/my/classes/{e.pk}/feedback/", {"overall": "1", "clarity": "1", "practice": "1"}
                       ).status_code == 404
    assert ClassFeedback.objects.count() == 1
