"""The role-aware dashboard: each app contributes the cards for the roles it serves.

An app registers a provider in its ``AppConfig.ready``; a provider takes the user
and returns a list of :class:`Card` (empty when the user has no business there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from . import numbers, permissions
from .models import Organisation, RegionPopulation, Role


class Number(str):
    """A stat value that must not wrap mid-number (a masked ID-card or phone number): it gets a wide cell."""

    unbroken = True


@dataclass
class Card:
    title: str
    text: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    stats: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    order: int = 100


def population_caption(year: int, resident: int, registered: int, demo: int) -> str:
    """The label of a sum of population figures: its basis (户籍 / 常住), its year, and whether demo figures are in it."""
    if resident and not registered:
        label = _("Resident population (%(year)s)") % {"year": year}
    elif registered and not resident:
        label = _("Registered population (%(year)s)") % {"year": year}
    else:
        label = _("Population (%(year)s, registered and resident figures mixed)") % {"year": year}
    return _("%(label)s, includes demo figures") % {"label": label} if demo else label


Provider = Callable[[object], list[Card]]
_providers: list[Provider] = []


def register(provider: Provider) -> Provider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def cards_for(user) -> list[Card]:
    cards: list[Card] = []
    for provider in _providers:
        cards.extend(provider(user))
    return sorted(cards, key=lambda c: c.order)


@register
def core_cards(user) -> list[Card]:
    cards = []
    profile = Card(
        title=_("My profile"),
        stats=[
            (_("Name"), user.display_name),
            (_("Region"), user.region.full_name if user.region_id else "—"),
            (_("Organisation"), str(user.organisation) if user.organisation_id else "—"),
            (_("ID-card number"), Number(user.id_card_masked or "—")),
            (_("Mobile number"), Number(user.phone_masked or "—")),
            (_("Roles"), "、".join(str(Role(r).label) for r in sorted(user.role_set)) or "—"),
        ],
        links=[(_("Change password"), reverse("lms:password_change")), (_("My data"), reverse("lms:my_data"))],
        order=900,
    )
    cards.append(profile)
    # The trainee's "My training" card comes from courses.dashboard (enrolment, next lesson, hours).
    # The inspector's cards come from inspections.dashboard.
    if user.has_role(Role.REGION_ADMIN) or permissions.is_system_admin(user):
        regions = permissions.visible_regions(user)
        people = permissions.visible_people(user)
        orgs = permissions.scope(user, Organisation.objects.all())
        top = permissions.administered_regions(user)
        scope_name = "、".join(r.full_name for r in top) if top else _("All regions")
        figures = RegionPopulation.objects.filter(region__in=top if top else regions.filter(depth=1))
        latest = figures.order_by("-year").values_list("year", flat=True).first()
        population, population_label = None, _("Population")
        if latest:
            agg = figures.filter(year=latest).aggregate(
                s=Sum("population"), resident=Count("pk", filter=Q(basis=RegionPopulation.Basis.RESIDENT)),
                registered=Count("pk", filter=Q(basis=RegionPopulation.Basis.REGISTERED)),
                demo=Count("pk", filter=Q(is_demo=True)))
            population = agg["s"]
            population_label = population_caption(latest, agg["resident"], agg["registered"], agg["demo"])
        cards.append(Card(
            title=_("My region: %(name)s") % {"name": scope_name},
            stats=[
                (_("Regions"), f"{regions.count():,}"),
                (_("People"), f"{people.count():,}"),
                (_("Organisations"), f"{orgs.count():,}"),
                (population_label, numbers.count(population) if population is not None else "—"),
            ],
            links=[
                (_("People"), reverse("lms:people")),
                (_("Organisations"), reverse("lms:organisations")),
                (_("Regions and population"), reverse("lms:regions")),
                (_("Classes"), reverse("classes:list")),
                (_("Exam attempts"), reverse("exams:staff_attempts")),
                *_exam_bank_links(user),
                (_("Exam analytics"), reverse("exams:analytics")),
            ],
            order=20,
        ))
    if Role.ORG_ADMIN in user.role_set:
        orgs_admin = [a.organisation.name for a in user.role_assignments.filter(role=Role.ORG_ADMIN)
                      .select_related("organisation") if a.organisation_id]
        cards.append(Card(
            title=_("My organisation: %(name)s") % {"name": "、".join(orgs_admin)},
            text=_("Open your organisation's first-aid classes, hand out their class codes, and enrol a whole "
                   "cohort from a spreadsheet (XLSX or CSV)."),
            links=[(_("Classes"), reverse("classes:list")), (_("Open a class"), reverse("classes:create")),
                   (_("Exam analytics"), reverse("exams:analytics"))],
            order=15,
        ))
    if permissions.is_system_admin(user):
        cards.append(Card(
            title=_("System administration"),
            text=_("Course pages, users and site settings are managed in the content admin."),
            links=[(_("Content admin"), reverse("wagtailadmin_home")), (_("Import regions"), reverse("lms:regions")),
                   *_exam_bank_links(user)],
            order=30,
        ))
    return cards


def _exam_bank_links(user) -> list[tuple[str, str]]:
    """The question bank and exam blueprints: system admins and province admins (exams.questions)."""
    from exams.questions import can_manage_bank

    if not can_manage_bank(user):
        return []
    return [(_("Question bank"), reverse("exam_bank:questions")), (_("Exam blueprints"), reverse("exam_bank:blueprints"))]
