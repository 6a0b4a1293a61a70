"""Dashboard cards of the instructors app: the instructor's own standing and year ("My teaching"), the
trainee's classes waiting for a rating, and for region and system admins their instructors and the year's
assessment."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import numbers
from lms import permissions as lms_permissions
from lms.dashboard import Card, register

from . import assessment, feedback, record, standing
from .models import Assessment, InstructorProfile


def _rateable(user, today) -> list:
    """The trainee's enrolments whose class they may rate now (at most three, the latest first)."""
    from datetime import timedelta

    from courses.models import Enrolment, TrainingClass

    candidates = (Enrolment.objects.filter(user=user, feedback_receipt__isnull=True,
                                           training_class__ends_on__lte=today,
                                           training_class__ends_on__gte=today - timedelta(days=feedback.WINDOW_DAYS))
                  .exclude(status=Enrolment.Status.WITHDRAWN)
                  .exclude(training_class__status=TrainingClass.Status.CANCELLED)
                  .select_related("training_class").order_by("-training_class__ends_on")[:3])
    return [e for e in candidates if feedback.feedback_refusal(user, e, today=today) is None]


@register
def instructor_cards(user) -> list[Card]:
    if not (user and user.is_authenticated):
        return []
    cards = []
    today = timezone.localdate()
    rateable = _rateable(user, today)
    if rateable:
        cards.append(Card(
            title=_("Rate your class"),
            text=_("Your class has ended: three quick ratings help your training base. Your instructor never sees "
                   "your name."),
            links=[(e.training_class.name, reverse("instructors:feedback", args=[e.pk])) for e in rateable],
            order=8,
        ))
    profile = InstructorProfile.objects.select_related("tier").filter(user=user).first()
    if profile is not None:
        st = standing.standing(user, today=today)
        figures = record.records([user.pk], year=today.year, today=today)[user.pk]
        if st["usable"]:
            text = _("In good standing.")
        else:
            text = " ".join(st["reasons"])
        cards.append(Card(
            title=_("My teaching"), text=text,
            stats=[(_("Tier"), profile.tier.name),
                   (_("Classes in %(year)s") % {"year": today.year}, numbers.count(figures.classes)),
                   (_("Class hours in %(year)s") % {"year": today.year}, format(figures.hours.normalize(), "f"))],
            links=[(_("My teaching"), reverse("instructors:mine"))],
            order=14,
        ))
    if lms_permissions.is_system_admin(user) or lms_permissions.administered_regions(user):
        profiles = assessment.profiles_in_scope(user)
        suspended = profiles.filter(status=InstructorProfile.Status.SUSPENDED).count()
        waiting = Assessment.objects.filter(profile__in=profiles, status=Assessment.Status.PROPOSED).count()
        cards.append(Card(
            title=_("Instructors"),
            stats=[(_("Registered"), numbers.count(profiles.count())), (_("Suspended"), numbers.count(suspended)),
                   (_("Assessments awaiting a decision"), numbers.count(waiting))],
            links=[(_("Instructors"), reverse("instructors:list")),
                   (_("Annual assessment"), reverse("instructors:assessment"))],
            order=24,
        ))
    return cards
