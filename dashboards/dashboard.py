"""The dashboards' card on the role dashboard: region and system admins get the way to their region
dashboards (no figures here: the role dashboard stays cheap)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from lms.dashboard import Card, register

from . import indicators

MAX_LINKS = 6


@register
def dashboard_cards(user) -> list[Card]:
    if not (user and user.is_authenticated):
        return []
    from lms.permissions import administered_regions, is_system_admin

    if not (is_system_admin(user) or administered_regions(user)):
        return []
    tops = indicators.top_regions(user)
    links = [(r.name, reverse("dashboards:region", args=[r.pk])) for r in tops[:MAX_LINKS]]
    if len(tops) != 1:
        links.append((_("All region dashboards"), reverse("dashboards:index")))
    return [Card(
        title=_("Region dashboards"),
        text=_("The awareness rate, first-aiders per 100 people, certificates, pass rates and CPR quality of your "
               "region and every region below it, year by year, against the plans' targets."),
        links=links,
        order=21,
    )]
