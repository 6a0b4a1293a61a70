"""Dashboard cards of the inspections app: the inspector's inspections and the planners' plans. Nobody else
gets a card (a planned inspection is secret from the class's side)."""

from django.urls import reverse
from django.utils.translation import gettext as _

from lms.dashboard import Card, register
from lms.models import Role

from . import permissions
from .models import Finding, Inspection


@register
def inspection_cards(user) -> list[Card]:
    if not user.is_authenticated:
        return []
    cards = []
    if user.has_role(Role.INSPECTOR):
        mine = Inspection.objects.filter(inspector=user)
        planned = mine.filter(status=Inspection.Status.PLANNED).count()
        running = mine.filter(status=Inspection.Status.IN_PROGRESS).count()
        cards.append(Card(
            title=_("My inspections"),
            text=_("Unannounced inspections assigned to you: start one on site and file the checklist on your phone."),
            stats=[(_("Planned"), str(planned)), (_("In progress"), str(running))],
            links=[(_("My inspections"), reverse("inspections:home"))],
            order=11,
        ))
    if permissions.is_planner(user):
        plans = permissions.plans_for(user).count()
        open_findings = permissions.findings_for(user).filter(status=Finding.Status.OPEN).count()
        cards.append(Card(
            title=_("Unannounced inspections"),
            text=_("Draw classes for inspection weighted by risk, assign inspectors and follow up the findings."),
            stats=[(_("Plans"), str(plans)), (_("Open findings"), str(open_findings))],
            links=[(_("Inspections"), reverse("inspections:home")), (_("Draw a plan"), reverse("inspections:plan_new")),
                   (_("Findings"), reverse("inspections:findings"))],
            order=60,
        ))
    return cards
