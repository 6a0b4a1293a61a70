"""Dashboard cards of the manikin app."""

from django.urls import reverse
from django.utils.translation import gettext as _

from lms.dashboard import Card, register

from . import api
from .models import Recording


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
    mine = Recording.objects.filter(trainee=user).select_related("manikin")
    latest = mine.first()
    if latest is not None:
        links = [(_("All my practice"), reverse("manikin:my_recordings"))]
        if latest.active:
            links.insert(0, (_("My live screen"), reverse("manikin:live", args=[latest.manikin_id])))
        else:
            links.insert(0, (_("Latest result"), reverse("manikin:recording", args=[latest.pk])))
        cards.append(Card(
            title=_("My CPR practice"),
            stats=[(_("Recordings"), str(mine.count())),
                   (_("Latest score"), "—" if latest.score is None else f"{latest.score:.0f}")],
            links=links,
            order=12,
        ))
    return cards
