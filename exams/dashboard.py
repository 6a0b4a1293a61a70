"""Dashboard cards of the exams app: the practical exam for candidates, examiners and admins."""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms.dashboard import Card, register

from . import practical


@register
def practical_cards(user) -> list[Card]:
    cards = []
    today = timezone.localdate()
    hub = reverse("exams:practical")
    if practical.is_examiner(user):
        sessions = list(practical.sessions_of_examiner(user).filter(date__gte=today).order_by("date", "starts_at")[:5])
        cards.append(Card(
            title=_("Practical exams I examine"),
            text=(_("Next: %(when)s at %(site)s.") % {
                "when": f"{sessions[0].date:%Y-%m-%d} {sessions[0].starts_at:%H:%M}",
                "site": f"{sessions[0].room.organisation.name} · {sessions[0].room.name}"}
                if sessions else _("No session assigned to you from today on.")),
            links=[(f"{s.date:%m-%d} {s.starts_at:%H:%M} · {s.room.name}", reverse("exams:practical_session", args=[s.pk]))
                   for s in sessions] + [(_("Practical exams"), hub)],
            order=14,
        ))
    bookings = list(practical.bookings_of(user)[:1])
    if bookings:
        b = bookings[0]
        result = practical.latest_result(b)
        if result is not None:
            text = _("Result of %(date)s: %(points)s / %(max)s points, %(verdict)s.") % {
                "date": f"{b.session.date:%Y-%m-%d}", "points": result.points, "max": result.max_points,
                "verdict": _("passed") if result.passed else _("not passed")}
        else:
            text = _("Booked: %(date)s, slot %(slot)s at %(site)s. Bring your ID card.") % {
                "date": f"{b.session.date:%Y-%m-%d}", "slot": b.slot,
                "site": f"{b.session.room.organisation.name} · {b.session.room.name}"}
        cards.append(Card(title=_("My practical exam"), text=text,
                          links=[(_("Details"), reverse("exams:practical_booking", args=[b.pk])),
                                 (_("Practical exams"), hub)], order=13))
    elif any(why is None for _s, why in practical.bookable_sessions(user)):
        cards.append(Card(title=_("My practical exam"), text=_("You can book a practical exam session now."),
                          links=[(_("Book a session"), hub)], order=13))
    if lms_api.is_system_admin(user) or lms_api.administered_regions(user):
        upcoming = practical.visible_sessions(user).filter(date__gte=today).count()
        cards.append(Card(
            title=_("Practical exams in my region"),
            stats=[(_("Sessions from today"), f"{upcoming:,}")],
            links=[(_("Practical exams"), hub), (_("Plan a session"), reverse("exams:practical_session_new"))],
            order=21,
        ))
    return cards
