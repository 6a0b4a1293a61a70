"""Trainees rate a class after it ends: a short form, anonymous to the instructor.

- Who: a trainee with an enrolment (not withdrawn) in the class; once per enrolment.
- When: from the class's last day (or once it is marked finished) for ``WINDOW_DAYS`` days.
- Anonymity: the answer (``ClassFeedback``) holds the class, the scores, the comment and the day only;
  the receipt (``FeedbackReceipt``) holds only the enrolment. The audit record says that the trainee
  answered, not what. Instructors and studios see means and comments only once a class has
  ``MIN_SHOWN`` answers, so that no single answer can be told apart.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api

from .models import ClassFeedback, FeedbackReceipt

WINDOW_DAYS = 30
MIN_SHOWN = 3
MAX_COMMENT = 500


def feedback_refusal(user, enrolment, *, today: datetime.date | None = None) -> str | None:
    """Why ``user`` may not rate ``enrolment``'s class now (None: they may)."""
    from courses.models import Enrolment, TrainingClass

    today = today or timezone.localdate()
    if enrolment.user_id != getattr(user, "pk", None):
        return _("Only the trainee can rate their class.")
    if enrolment.status == Enrolment.Status.WITHDRAWN:
        return _("You withdrew from this class.")
    cls = enrolment.training_class
    if cls.status == TrainingClass.Status.CANCELLED:
        return _("This class was cancelled.")
    finished = cls.status == TrainingClass.Status.FINISHED or cls.ends_on <= today
    if not finished:
        return _("The class can be rated from its last day, %(day)s.") % {"day": cls.ends_on.isoformat()}
    if today > cls.ends_on + datetime.timedelta(days=WINDOW_DAYS):
        return _("Ratings close %(days)s days after the class ends.") % {"days": WINDOW_DAYS}
    if FeedbackReceipt.objects.filter(enrolment=enrolment).exists():
        return _("You have already rated this class. Thank you!")
    return None


def _score(value, name: str, errors: dict) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or isinstance(value, bool) or not 1 <= n <= 5 or str(value).strip() != str(n):
        errors[name] = [_("Choose from 1 to 5 stars.")]
        return None
    return n


def submit_feedback(user, enrolment, *, overall, clarity, practice, comment: str = "",
                    today: datetime.date | None = None) -> None:
    today = today or timezone.localdate()
    refusal = feedback_refusal(user, enrolment, today=today)
    if refusal:
        raise PermissionDenied(refusal)
    errors: dict[str, list[str]] = {}
    scores = {name: _score(value, name, errors)
              for name, value in (("overall", overall), ("clarity", clarity), ("practice", practice))}
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        errors["comment"] = [_("At most %(n)s characters.") % {"n": MAX_COMMENT}]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            FeedbackReceipt.objects.create(enrolment=enrolment)
            ClassFeedback.objects.create(training_class_id=enrolment.training_class_id, comment=comment,
                                         submitted_on=today, **scores)
            lms_api.record_audit(user, "instructors.feedback.submit", enrolment.training_class)
    except IntegrityError:  # a second tab's answer got there first
        raise PermissionDenied(_("You have already rated this class. Thank you!")) from None


def class_feedback_summary(training_class) -> dict:
    """What instructors and admins see of one class's feedback: nothing below ``MIN_SHOWN`` answers."""
    rows = list(ClassFeedback.objects.filter(training_class=training_class).values_list(
        "overall", "clarity", "practice", "comment"))
    n = len(rows)
    if n < MIN_SHOWN:
        return {"n": n, "shown": False, "min_shown": MIN_SHOWN}
    from .record import floor_2

    comments = sorted(r[3] for r in rows if r[3])  # sorted, not in the order given: no timing to match
    return {"n": n, "shown": True, "min_shown": MIN_SHOWN,
            "overall": floor_2(sum(r[0] for r in rows) / n), "clarity": floor_2(sum(r[1] for r in rows) / n),
            "practice": floor_2(sum(r[2] for r in rows) / n), "comments": comments}
