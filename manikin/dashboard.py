"""Dashboard cards of the manikin app."""

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from lms import numbers
from lms.dashboard import Card, register

from . import api
from .models import Recording, Room


@register
def manikin_cards(user) -> list[Card]:
    cards = []
    rooms = list(api.visible_rooms(user).order_by("organisation__name", "name")[:8])
    if rooms:
        cards.append(Card(
            title=_("CPR consoles"),
            text=_("Watch every manikin of a room live, start and stop recordings, and see the scores."),
            links=[(f"{r.organisation.name} · {r.name}", reverse("manikin:console", args=[r.pk])) for r in rooms]
            + [(_("All rooms"), reverse("manikin:rooms"))],
            order=15,
        ))
    mine = Recording.objects.filter(trainee=user).select_related("manikin__station__room__organisation")
    latest = mine.first()
    if latest is not None:
        links = [(_("All my results"), reverse("manikin:my_recordings"))]
        if latest.active:
            links.insert(0, (_("My live screen"), reverse("manikin:live", args=[latest.manikin_id])))
        else:
            links.insert(0, (_("Latest result"), reverse("manikin:recording", args=[latest.pk])))
        kind = _("Exam") if latest.purpose == Room.Mode.EXAM else _("Practice")
        if latest.active:
            verdict = _("running")
        elif latest.score is None:
            verdict = _("no score")
        else:
            verdict = _("passed") if latest.passed else _("not passed")
        room = latest.manikin.station.room
        cards.append(Card(
            title=_("My CPR results"),
            text=_("Latest: %(kind)s at %(site)s, %(when)s.") % {
                "kind": kind, "site": f"{room.organisation.name} · {room.name}",
                "when": date_format(localtime(latest.started_at), "Y-m-d H:i")},
            stats=[(_("Exams"), numbers.count(mine.filter(purpose=Room.Mode.EXAM).count())),
                   (_("Practice"), numbers.count(mine.exclude(purpose=Room.Mode.EXAM).count())),
                   (_("Latest score"), _("%(score)s (%(verdict)s)") % {"score": numbers.score(latest.score), "verdict": verdict}
                    if latest.score is not None else verdict)],
            links=links,
            order=12,
        ))
    return cards
