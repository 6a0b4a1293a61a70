"""Studios (名师工作室): a head instructor, members, the classes they run, showcase courses and a public page.

A studio is a ``Studio`` row with its own organisation (kind ``studio``): the studio's classes are the classes
held at that organisation (``TrainingClass.training_base``), opened on the classes pages like any other class,
and its figures are ``instructors.record.organisation_figures`` over them.

Who may do what (each write below checks it on the server):

- **Region admins** of the studio's region (its organisation's region, or any region above it) and **system
  admins** manage a studio: open it (in a region they administer), change its name, web address, founding day
  and introduction, its members and showcase, appoint its head, publish and unpublish it.
- The **head instructor** edits their own studio's introduction, members and showcase courses; not its name,
  web address or founding day, not the head, not whether it is public (those stay with the region's admins).
- ``actor`` None is the system (demo data, loaders): every check but the permission applies.

The rules on people (a studio's people belong to its area: the city of a county's studio, otherwise the
studio's own region):

- **Head**: an instructor in good standing (``instructors.standing``: a profile, not suspended, the tier's
  qualification certificate current; no programme is checked, a studio teaches its members' programmes);
  in the studio's area; and, when a region admin appoints them, in that admin's regions. No particular tier
  is required: tiers are data, and which tier is "master" is the region's decision when it appoints.
  A new head's membership ends; the head they replace stays on as a member.
- **Members**: hold an instructor profile that is not suspended; in the studio's area; never the head.
- **Showcase courses** (名师精品课): live, public course pages of the course site (``content.CoursePage``),
  each once, in the order the studio chooses. A page unpublished later drops off the public page by itself.
- **Publishing**: a new studio is not public. Publishing needs an introduction and a head in good standing.

The public pages show a public studio's name, region, introduction, founding day, the names and tiers of its
head and members (only members whose profile is active), its showcase, its recent classes (name, dates,
programme; never trainees) and its figures. Trainees' feedback is shown only from ``feedback.MIN_SHOWN``
answers (as everywhere else), comments never.

Errors are ``ValidationError`` (messages in the user's language, keyed by form field; nothing stored) or
``PermissionDenied``. Every change is audited (``lms.api.record_audit``, actions ``instructors.studio.*``).
"""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms import permissions as lms_permissions
from lms.models import Organisation, Region, Role

from .assessment import region_of
from .models import InstructorProfile, Studio, StudioMembership, StudioShowcase
from .standing import TEACH, refusals

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"manage", "new", "admin"}
MAX_NAME = 128
MAX_SLUG = 64
MAX_INTRODUCTION = 5000
MAX_BLURB = 200


# ------------------------------------------------------------------ who may


def is_region_or_system_admin(actor) -> bool:
    return bool(actor and actor.is_authenticated and (
        lms_permissions.is_system_admin(actor) or actor.has_role(Role.REGION_ADMIN)))


def can_manage(actor, studio: Studio) -> bool:
    """Region admins of the studio's region and system admins (``None``: the system)."""
    if actor is None:
        return True
    return lms_permissions.can_manage_region(actor, studio.organisation.region)


def is_head(actor, studio: Studio) -> bool:
    return bool(actor is not None and actor.is_authenticated and studio.head_id == actor.pk)


def can_edit(actor, studio: Studio) -> bool:
    """Introduction, members and showcase: the studio's managers and its head."""
    return can_manage(actor, studio) or is_head(actor, studio)


def managed_studios(actor) -> QuerySet:
    """Studios ``actor`` manages or heads (the management list)."""
    qs = Studio.objects.select_related("organisation__region", "head")
    if lms_permissions.is_system_admin(actor):
        return qs
    if not (actor and actor.is_authenticated):
        return qs.none()
    q = Q(head=actor)
    region_q = lms_permissions.region_q(actor, "organisation__region")
    if region_q is not None and actor.has_role(Role.REGION_ADMIN):
        q |= region_q
    return qs.filter(q)


def is_studio_manager(actor) -> bool:
    """Whether the management pages are for ``actor`` at all (admins, and the head of some studio)."""
    return is_region_or_system_admin(actor) or bool(
        actor and actor.is_authenticated and Studio.objects.filter(head=actor).exists())


def studio_organisation_ids(person) -> set[int]:
    """The organisations of the studios ``person`` heads or belongs to (考培分离 and inspectors' independence)."""
    return set(Studio.objects.filter(Q(head=person) | Q(memberships__user=person))
               .values_list("organisation_id", flat=True))


# ------------------------------------------------------------------ reading


def subtree_q(region: Region, field: str = "organisation__region") -> Q:
    return Q(**{f"{field}__path__startswith": region.path})


def with_counts(qs: QuerySet) -> QuerySet:
    """Annotate ``member_count`` (members shown publicly) and ``showcase_count`` (live showcase pages)."""
    return qs.annotate(
        member_count=Count("memberships", distinct=True, filter=Q(
            memberships__user__instructor_profile__status=InstructorProfile.Status.ACTIVE,
            memberships__user__anonymised_at__isnull=True)),
        showcase_count=Count("showcase", distinct=True, filter=Q(showcase__page__live=True)))


def public_studios(region: Region | None = None) -> QuerySet:
    """Public studios (of ``region``'s subtree), with their counts, in region then name order."""
    qs = Studio.objects.filter(is_public=True).select_related("organisation__region", "head")
    if region is not None:
        qs = qs.filter(subtree_q(region))
    return with_counts(qs).order_by("organisation__region__path", "name")


def visible_studio(actor, slug: str) -> Studio | None:
    """The studio at ``slug`` if ``actor`` may see its page: public, or managed or headed by them."""
    studio = Studio.objects.select_related("organisation__region", "head").filter(slug=slug).first()
    if studio is None:
        return None
    if studio.is_public or (actor is not None and actor.is_authenticated and can_edit(actor, studio)):
        return studio
    return None


def public_members(studio: Studio) -> list[StudioMembership]:
    """Members shown on the public page: an active profile, not anonymised; by name."""
    return list(studio.memberships.filter(user__instructor_profile__status=InstructorProfile.Status.ACTIVE,
                                          user__anonymised_at__isnull=True)
                .select_related("user__instructor_profile__tier").order_by("user__real_name", "user_id"))


def live_showcase(studio: Studio) -> list[StudioShowcase]:
    return list(studio.showcase.filter(page__live=True).select_related("page"))


def recent_classes(studio: Studio, limit: int = 10):
    """(classes, total): the studio's classes, latest first, not cancelled."""
    from courses.models import TrainingClass

    qs = (TrainingClass.objects.filter(training_base_id=studio.organisation_id)
          .exclude(status=TrainingClass.Status.CANCELLED).select_related("programme").order_by("-starts_on", "name"))
    return list(qs[:limit]), qs.count()


def studio_figures(studio: Studio, *, year: int | None = None, today: datetime.date | None = None) -> dict:
    """The studio's figures: the teaching record over its classes (``record.organisation_figures``) that
    ended in ``year`` (None: every year), members and showcase courses; ``feedback_shown`` False below
    ``feedback.MIN_SHOWN`` answers."""
    from .feedback import MIN_SHOWN
    from .record import organisation_figures

    figures = organisation_figures([studio.organisation_id], year=year, today=today)[studio.organisation_id]
    return {"figures": figures, "members": len(public_members(studio)), "showcase": len(live_showcase(studio)),
            "feedback_shown": figures.feedback_n >= MIN_SHOWN, "min_feedback": MIN_SHOWN}


def area_of(region: Region) -> Region:
    """Where a studio's people come from: a county studio's city, otherwise the studio's own region."""
    if region.level == Region.Level.COUNTY:
        parent = region.get_parent()
        if parent is not None:
            return parent
    return region


def _in_area(profile: InstructorProfile, area: Region) -> bool:
    region = region_of(profile)
    return region is not None and region.path.startswith(area.path)


def _profiles_in_area(area: Region) -> QuerySet:
    return (InstructorProfile.objects.select_related("user", "tier", "user__region", "training_base__region")
            .filter(user__is_active=True, user__anonymised_at__isnull=True)
            .filter(Q(user__region__path__startswith=area.path)
                    | Q(user__region__isnull=True, training_base__region__path__startswith=area.path))
            .order_by("user__real_name", "user_id"))


def member_candidates(studio: Studio) -> QuerySet:
    """Instructor profiles that could join: in the studio's area, not suspended, not yet in, not the head."""
    taken = set(studio.memberships.values_list("user_id", flat=True)) | {studio.head_id}
    return (_profiles_in_area(area_of(studio.organisation.region))
            .filter(status=InstructorProfile.Status.ACTIVE).exclude(user_id__in=taken))


def head_candidates(actor, region: Region | None) -> QuerySet:
    """Active instructor profiles ``actor`` may appoint head (of a studio in ``region``; None: any of theirs).
    Good standing (the qualification certificate) is checked when appointing."""
    if region is not None:
        qs = _profiles_in_area(area_of(region))
    else:
        qs = InstructorProfile.objects.select_related("user", "tier", "user__region", "training_base__region").filter(
            user__is_active=True, user__anonymised_at__isnull=True).order_by("user__real_name", "user_id")
    qs = qs.filter(status=InstructorProfile.Status.ACTIVE)
    if actor is None or lms_permissions.is_system_admin(actor):
        return qs
    q_user = lms_permissions.region_q(actor, "user__region")
    q_base = lms_permissions.region_q(actor, "training_base__region")
    return qs.filter(q_user | (Q(user__region__isnull=True) & q_base))


def showcase_candidates(studio: Studio | None = None) -> QuerySet:
    """Live, public course pages (not yet in ``studio``'s showcase)."""
    from content.models import CoursePage

    qs = CoursePage.objects.live().public().order_by("title", "pk")
    if studio is not None:
        qs = qs.exclude(pk__in=list(studio.showcase.values_list("page_id", flat=True)))
    return qs


# ------------------------------------------------------------------ checks


def _head_errors(actor, person, region: Region | None) -> list[str]:
    """Why ``person`` may not head a studio in ``region`` (appointed by ``actor``)."""
    if person is None:
        return [_("Choose the head instructor.")]
    if not person.is_active or person.anonymised_at is not None:
        return [_("%(name)s's account is not active.") % {"name": person.display_name}]
    reasons = list(refusals([person], None, TEACH).get(person.pk, []))
    profile = InstructorProfile.objects.select_related("user__region", "training_base__region").filter(
        user=person).first()
    if profile is not None:
        if region is not None and not _in_area(profile, area_of(region)):
            reasons.append(_("%(name)s does not belong to %(area)s, where the studio's people come from.")
                           % {"name": person.display_name, "area": area_of(region).name})
        if actor is not None and not lms_permissions.can_manage_region(actor, region_of(profile)):
            reasons.append(_("%(name)s belongs to another region.") % {"name": person.display_name})
    return reasons


def _clean_name(name, errors: dict) -> str:
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Please enter the studio's name.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("The name is too long (at most %(n)s characters).") % {"n": MAX_NAME}]
    return name


def _clean_slug(slug, errors: dict, *, exclude_pk: int | None = None) -> str:
    slug = (slug or "").strip().lower()
    if not slug:
        return ""
    if len(slug) > MAX_SLUG or not SLUG_RE.match(slug):
        errors["slug"] = [_("Use lower-case letters, digits and single hyphens only (e.g. wangfang-studio).")]
    elif slug in RESERVED_SLUGS:
        errors["slug"] = [_("This web address is reserved; choose another.")]
    elif Studio.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        errors["slug"] = [_("Another studio has this web address.")]
    return slug


def _clean_introduction(text, errors: dict) -> str:
    text = (text or "").strip()
    if len(text) > MAX_INTRODUCTION:
        errors["introduction"] = [_("The introduction is too long (at most %(n)s characters).")
                                  % {"n": MAX_INTRODUCTION}]
    return text


def _clean_established(day, errors: dict) -> datetime.date:
    today = timezone.localdate()
    if day is None:
        return today
    if not isinstance(day, datetime.date):
        errors["established_on"] = [_("Enter a valid date.")]
        return today
    if day > today:
        errors["established_on"] = [_("The founding day cannot be in the future.")]
    return day


def _new_slug() -> str:
    n = (Studio.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
    while Studio.objects.filter(slug=f"studio-{n}").exists():
        n += 1
    return f"studio-{n}"


def _locked(studio: Studio) -> Studio:
    return (Studio.objects.select_for_update(of=("self",)).select_related("organisation__region", "head")
            .get(pk=studio.pk))


def _snapshot(s: Studio) -> dict:
    return {"name": s.name, "slug": s.slug, "organisation": s.organisation_id, "head": s.head_id,
            "established_on": s.established_on.isoformat() if s.established_on else None,
            "is_public": s.is_public, "introduction_chars": len(s.introduction or "")}


def _require_edit(actor, studio: Studio) -> None:
    if not can_edit(actor, studio):
        raise PermissionDenied(_("Only the studio's head instructor and the admins of its region may change it."))


def _require_manage(actor, studio: Studio) -> None:
    if not can_manage(actor, studio):
        raise PermissionDenied(_("Only the admins of the studio's region may do this."))


# ------------------------------------------------------------------ writes


def create_studio(actor, *, name: str, head, region: Region | None = None, organisation: Organisation | None = None,
                  slug: str = "", introduction: str = "", established_on: datetime.date | None = None) -> Studio:
    """Open a studio (not yet public) with its own organisation: a new one named ``name`` in ``region``, or
    ``organisation``, an existing studio organisation without a studio. Region and system admins only."""
    if actor is not None and not is_region_or_system_admin(actor):
        raise PermissionDenied(_("Only region and system admins open studios."))
    errors: dict[str, list[str]] = {}
    if organisation is not None:
        region = organisation.region
        if organisation.kind != Organisation.Kind.STUDIO:
            errors["organisation"] = [_("The organisation is not a studio.")]
        elif Studio.objects.filter(organisation=organisation).exists():
            errors["organisation"] = [_("This organisation has a studio already.")]
    if region is None:
        errors["region"] = [_("Choose the studio's region.")]
    elif actor is not None and not lms_permissions.can_manage_region(actor, region):
        raise PermissionDenied(_("You can only open studios in your own region."))
    name = _clean_name(name, errors)
    slug = _clean_slug(slug, errors)
    introduction = _clean_introduction(introduction, errors)
    established_on = _clean_established(established_on, errors)
    head_errors = _head_errors(actor, head, region)
    if head_errors:
        errors["head"] = head_errors
    if organisation is None and region is not None and name and "name" not in errors \
            and Organisation.objects.filter(region=region, name=name).exists():
        errors["name"] = [_("An organisation with this name already exists in this region.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if organisation is None:
            organisation = lms_api.create_organisation(actor, name=name, kind=Organisation.Kind.STUDIO, region=region)
        studio = Studio.objects.create(name=name, slug=slug or _new_slug(), organisation=organisation, head=head,
                                       introduction=introduction, established_on=established_on, is_public=False)
        lms_api.record_audit(actor, "instructors.studio.create", studio, after=_snapshot(studio))
    return studio


def update_studio(actor, studio: Studio, *, name: str | None = None, slug: str | None = None,
                  introduction: str | None = None, established_on: datetime.date | None = None) -> Studio:
    """Change a studio's details (None: unchanged). The head may change the introduction only."""
    with transaction.atomic():
        s = _locked(studio)
        _require_edit(actor, s)
        before = _snapshot(s)
        errors: dict[str, list[str]] = {}
        changes = {}
        if name is not None:
            changes["name"] = _clean_name(name, errors)
        if slug is not None:
            changes["slug"] = _clean_slug(slug, errors, exclude_pk=s.pk) or s.slug
        if introduction is not None:
            changes["introduction"] = _clean_introduction(introduction, errors)
        if established_on is not None:
            changes["established_on"] = _clean_established(established_on, errors)
        changed = {k: v for k, v in changes.items() if getattr(s, k) != v}
        if set(changed) - {"introduction"} and not can_manage(actor, s):
            raise PermissionDenied(_("The head instructor may change the introduction only; "
                                     "ask the admins of the studio's region for the rest."))
        if errors:
            raise ValidationError(errors)
        if not changed:
            return s
        for k, v in changed.items():
            setattr(s, k, v)
        s.save(update_fields=list(changed))
        lms_api.record_audit(actor, "instructors.studio.update", s, before=before, after=_snapshot(s))
    return s


def add_member(actor, studio: Studio, person, *, joined_on: datetime.date | None = None) -> StudioMembership:
    """Add an instructor (a profile, not suspended, in the studio's area) to the studio's members."""
    with transaction.atomic():
        s = _locked(studio)
        _require_edit(actor, s)
        if person is None:
            raise ValidationError({"person": [_("Choose an instructor.")]})
        profile = InstructorProfile.objects.select_related("user__region", "training_base__region").filter(
            user=person).first()
        name = person.display_name
        if person.pk == s.head_id:
            reason = _("%(name)s is the studio's head instructor.") % {"name": name}
        elif s.memberships.filter(user=person).exists():
            reason = _("%(name)s is a member already.") % {"name": name}
        elif profile is None:
            reason = _("%(name)s is not registered as an instructor (no tier).") % {"name": name}
        elif profile.status == InstructorProfile.Status.SUSPENDED:
            reason = _("%(name)s is suspended as an instructor.") % {"name": name}
        elif not person.is_active or person.anonymised_at is not None:
            reason = _("%(name)s's account is not active.") % {"name": name}
        elif not _in_area(profile, area_of(s.organisation.region)):
            reason = _("%(name)s does not belong to %(area)s, where the studio's people come from.") % {
                "name": name, "area": area_of(s.organisation.region).name}
        else:
            reason = None
        if reason:
            raise ValidationError({"person": [reason]})
        joined_on = joined_on or timezone.localdate()
        if joined_on > timezone.localdate():
            raise ValidationError({"joined_on": [_("The day of joining cannot be in the future.")]})
        membership = StudioMembership.objects.create(studio=s, user=person, joined_on=joined_on)
        lms_api.record_audit(actor, "instructors.studio.member_add", s,
                             after={"person": person.pk, "joined_on": joined_on.isoformat()})
    return membership


def remove_member(actor, studio: Studio, person) -> None:
    with transaction.atomic():
        s = _locked(studio)
        _require_edit(actor, s)
        membership = s.memberships.filter(user=person).first() if person is not None else None
        if membership is None:
            raise ValidationError({"person": [_("This person is not a member of the studio.")]})
        membership.delete()
        lms_api.record_audit(actor, "instructors.studio.member_remove", s,
                             before={"person": person.pk, "joined_on": membership.joined_on.isoformat()})


def set_head(actor, studio: Studio, person) -> Studio:
    """Appoint ``person`` head (region admins): their membership ends; the previous head stays on as a member."""
    with transaction.atomic():
        s = _locked(studio)
        _require_manage(actor, s)
        if person is not None and person.pk == s.head_id:
            raise ValidationError({"head": [_("%(name)s is the head instructor already.") % {
                "name": person.display_name}]})
        reasons = _head_errors(actor, person, s.organisation.region)
        if reasons:
            raise ValidationError({"head": reasons})
        previous = s.head
        s.memberships.filter(user=person).delete()
        s.head = person
        s.save(update_fields=["head"])
        if InstructorProfile.objects.filter(user=previous).exists() and previous.anonymised_at is None:
            StudioMembership.objects.get_or_create(studio=s, user=previous,
                                                   defaults={"joined_on": timezone.localdate()})
        lms_api.record_audit(actor, "instructors.studio.head", s, before={"head": previous.pk},
                             after={"head": person.pk})
    return s


def _course_page(page):
    from content.models import CoursePage

    page_id = getattr(page, "pk", page)
    try:
        page_id = int(page_id)
    except (TypeError, ValueError):
        return None
    return CoursePage.objects.live().public().filter(pk=page_id).first()


def add_showcase(actor, studio: Studio, page, *, blurb: str = "") -> StudioShowcase:
    """Add a live, public course page (``content.CoursePage``) at the end of the studio's showcase."""
    with transaction.atomic():
        s = _locked(studio)
        _require_edit(actor, s)
        course = _course_page(page)
        blurb = (blurb or "").strip()
        errors: dict[str, list[str]] = {}
        if course is None:
            errors["page"] = [_("Choose a published course of the course site.")]
        elif s.showcase.filter(page_id=course.pk).exists():
            errors["page"] = [_("This course is in the showcase already.")]
        if len(blurb) > MAX_BLURB:
            errors["blurb"] = [_("The description is too long (at most %(n)s characters).") % {"n": MAX_BLURB}]
        if errors:
            raise ValidationError(errors)
        order = (s.showcase.aggregate(m=Max("order"))["m"] or 0) + 1 if s.showcase.exists() else 0
        item = StudioShowcase.objects.create(studio=s, page_id=course.pk, order=order, blurb=blurb)
        lms_api.record_audit(actor, "instructors.studio.showcase_add", s,
                             after={"page": course.pk, "order": order, "blurb": blurb})
    return item


def remove_showcase(actor, studio: Studio, page) -> None:
    with transaction.atomic():
        s = _locked(studio)
        _require_edit(actor, s)
        page_id = getattr(page, "pk", page)
        item = s.showcase.filter(page_id=page_id).first() if str(page_id).isdigit() else None
        if item is None:
            raise ValidationError({"page": [_("This course is not in the showcase.")]})
        item.delete()
        lms_api.record_audit(actor, "instructors.studio.showcase_remove", s, before={"page": item.page_id})


def reorder_showcase(actor, studio: Studio, page_ids) -> None:
    """Put the showcase in the order of ``page_ids`` (exactly the pages in it, each once)."""
    with transaction.atomic():
        s = _locked(studio)
        _require_edit(actor, s)
        try:
            wanted = [int(p) for p in page_ids]
        except (TypeError, ValueError):
            wanted = None
        items = {i.page_id: i for i in s.showcase.all()}
        if wanted is None or len(wanted) != len(set(wanted)) or set(wanted) != set(items):
            raise ValidationError({"page": [_("The new order must list every showcase course once.")]})
        before = [i.page_id for i in sorted(items.values(), key=lambda i: (i.order, i.pk))]
        for order, page_id in enumerate(wanted):
            item = items[page_id]
            if item.order != order:
                item.order = order
                item.save(update_fields=["order"])
        lms_api.record_audit(actor, "instructors.studio.showcase_reorder", s, before={"pages": before},
                             after={"pages": wanted})


def publish_studio(actor, studio: Studio) -> Studio:
    """Show the studio publicly (region admins): it needs an introduction and a head in good standing."""
    with transaction.atomic():
        s = _locked(studio)
        _require_manage(actor, s)
        if s.is_public:
            raise ValidationError(_("The studio is public already."))
        reasons = []
        if not (s.introduction or "").strip():
            reasons.append(_("Write the studio's introduction before publishing it."))
        reasons += refusals([s.head], None, TEACH).get(s.head_id, [])
        if reasons:
            raise ValidationError(reasons)
        s.is_public = True
        s.save(update_fields=["is_public"])
        lms_api.record_audit(actor, "instructors.studio.publish", s, before={"is_public": False},
                             after={"is_public": True})
    return s


def unpublish_studio(actor, studio: Studio) -> Studio:
    with transaction.atomic():
        s = _locked(studio)
        _require_manage(actor, s)
        if not s.is_public:
            raise ValidationError(_("The studio is not public."))
        s.is_public = False
        s.save(update_fields=["is_public"])
        lms_api.record_audit(actor, "instructors.studio.unpublish", s, before={"is_public": True},
                             after={"is_public": False})
    return s
