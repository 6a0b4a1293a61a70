"""Dashboard card of the courses app: the trainee's "My training" (next lesson, hours and credits)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from lms.dashboard import Card, register
from lms.models import Role

from . import api


def _number(d) -> str:
    """A Decimal of credits or class hours without trailing zeros (3, 3.5)."""
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register
def study_cards(user) -> list[Card]:
    summaries = api.study_summaries(user)
    if not summaries:
        if not user.has_role(Role.TRAINEE):
            return []
        return [Card(
            title=_("My training"),
            text=_("Enrol in your class with the class code your training base gave you, then study the theory "
                   "online, lesson by lesson. Your CPR results from the manikins are under My results."),
            links=[(_("Enrol with a class code"), reverse("courses:enrol")), (_("My study"), reverse("courses:home"))],
            order=10,
        )]
    cards = []
    for s in summaries[:3]:
        links = []
        if s.next_lesson is not None:
            links.append((_("Next lesson: %(title)s") % {"title": s.next_lesson.title}, s.next_lesson.url))
        links.append((_("My study"), reverse("courses:home")))
        if s.exam_unlocked:
            text = _("Theory finished: the theory exam is unlocked.")
            links.append((_("Take the theory exam"), reverse("exams:list")))
        elif s.deadline:
            text = _("Finish the online theory by %(date)s.") % {"date": s.deadline.strftime("%Y-%m-%d")}
        else:
            text = ""
        cards.append(Card(
            title=_("My training: %(name)s") % {"name": s.training_class.name},
            text=text,
            stats=[(_("Credits"), f"{_number(s.credits)} / {_number(s.programme.required_credits)}"),
                   (_("Class hours"), f"{_number(s.class_hours)} / {_number(s.programme.required_class_hours)}"),
                   (_("Time studied"), _("%(minutes)s min") % {"minutes": s.minutes_on_task})],
            links=links,
            order=10,
        ))
    return cards
