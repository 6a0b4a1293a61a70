"""Public functions of the core (users, roles, regions, organisations, audit).

Other apps call these, never the models of ``lms`` for writes. Each write is one
function: validation, permission, transaction and audit record in one place.
Errors are ``ValidationError`` (bad input, message in the user's language) or
``PermissionDenied`` (not allowed); either way nothing is stored.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, permissions, protection, ratelimit, sms
from .models import AuditLog, OneTimeCode, Organisation, Region, RegionPopulation, Role, RoleAssignment, User
from .permissions import (  # noqa: F401  (re-exported for other apps)
    administered_regions,
    can_manage_region,
    is_system_admin,
    region_q,
    scope,
    visible_people,
    visible_regions,
)

record_audit = audit.record
log = logging.getLogger("lms.api")


class TooManyAttempts(PermissionDenied):
    """A rate limit refused the operation (nothing was done); the message says so in the user's language."""


# ---------------------------------------------------------------- people


def _person_snapshot(user: User) -> dict[str, Any]:
    """What the audit keeps of a person: the numbers only masked, the photo only as present or not."""
    snapshot = {
        "username": user.username,
        "real_name": user.real_name,
        "region": user.region_id,
        "organisation": user.organisation_id,
        "id_card": user.id_card_masked,
        "phone": user.phone_masked,
        "is_active": user.is_active,
    }
    if user.pk:
        snapshot["photo"] = bool(user.photo)
        snapshot["roles"] = sorted(f"{a.role}@{a.region_id}" if a.region_id else a.role
                                   for a in RoleAssignment.objects.filter(user_id=user.pk))
    return snapshot


def grantable_roles(actor) -> list[str]:
    """The roles ``actor`` may give or take away (inside their subtree): system admin only by system admins."""
    if actor is None or permissions.is_system_admin(actor):
        return list(Role.values)
    if actor.has_role(Role.REGION_ADMIN):
        return [r for r in Role.values if r != Role.SYSTEM_ADMIN]
    return []


def _new_username() -> str:
    """A login name for a person registered without one: ``p`` and eight random digits (no personal data)."""
    while True:
        name = f"p{secrets.randbelow(10**8):08d}"
        if not User.objects.filter(username=name).exists():
            return name


def _person_field_errors(actor, *, region, organisation, roles) -> dict[str, list[str]]:
    """Checks shared by registration and editing (actor None: the system, e.g. the demo loader)."""
    errors: dict[str, list[str]] = {}
    if actor is not None and region is None and not permissions.is_system_admin(actor):
        errors["region"] = [_("Please choose the region.")]
    if organisation is not None:
        if actor is not None and not permissions.can_manage_region(actor, organisation.region):
            errors["organisation"] = [_("This organisation is not in your region.")]
        elif region is not None and organisation.region_id != region.pk and not (
                organisation.region.path.startswith(region.path) or region.path.startswith(organisation.region.path)):
            errors["organisation"] = [_("The organisation is not in this region.")]
    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        errors["roles"] = [_("Unknown role.")]
    elif actor is not None:
        allowed = grantable_roles(actor)
        if any(r not in allowed for r in roles):
            errors["roles"] = [_("You cannot grant this role.")]
    if Role.REGION_ADMIN in roles and region is None:
        errors.setdefault("roles", []).append(_("A region admin needs a region."))
    if Role.ORG_ADMIN in roles and organisation is None:
        errors.setdefault("roles", []).append(_("An organisation admin needs an organisation."))
    return errors


def _clean_photo(photo, errors: dict[str, list[str]]):
    if photo is None:
        return None
    from . import photos

    try:
        return photos.clean_photo(photo)
    except ValidationError as exc:
        errors["photo"] = exc.messages
        return None


def _store_photo(user: User, content) -> str:
    """Save the cleaned photo file (after the row's checks passed); the old file's name is returned."""
    old = user.photo.name if user.photo else ""
    user.photo.save(content.name, content, save=False)
    return old


@contextmanager
def _removing_photo_on_failure(user: User):
    """If the transaction inside fails after a new photo file was written, the file goes too."""
    before = user.photo.name if user.photo else ""
    try:
        yield
    except BaseException:
        if user.photo and user.photo.name != before:
            user.photo.storage.delete(user.photo.name)
        raise


def _delete_file_on_commit(storage, name: str) -> None:
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def create_person(
    actor,
    *,
    username: str = "",
    real_name: str,
    region: Region | None,
    password: str | None = None,
    id_card: str | None = None,
    phone: str | None = None,
    organisation: Organisation | None = None,
    roles: Iterable[str] = (Role.TRAINEE,),
    photo=None,
) -> User:
    """Register a person in ``region``: region admins in their subtree only, with the roles they may grant.

    ``username`` empty: one is generated (the person signs in after setting a password through the
    password reset by text message, with their mobile number). A region-admin role administers ``region``.
    ``photo``: an upload, stored re-encoded without metadata (``lms.photos``).
    """
    roles = list(dict.fromkeys(roles))
    if actor is not None and not permissions.can_manage_region(actor, region):
        raise PermissionDenied(_("You can only register people in your own region."))
    user = User(username=(username or "").strip(), real_name=(real_name or "").strip(), region=region,
                organisation=organisation)
    errors: dict[str, list[str]] = {}
    for field, setter, value in (("id_card", user.set_id_card, id_card), ("phone", user.set_phone, phone)):
        try:
            setter(value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if not user.real_name:
        errors["real_name"] = [_("Please enter the real name.")]
    errors.update(_person_field_errors(actor, region=region, organisation=organisation, roles=roles))
    cleaned_photo = _clean_photo(photo, errors)
    if errors:
        raise ValidationError(errors)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with _removing_photo_on_failure(user), transaction.atomic():
            if not user.username:
                user.username = _new_username()
            elif User.objects.filter(username=user.username).exists():
                raise ValidationError({"username": [_("This login name is taken.")]})
            if user.id_card_digest and User.objects.filter(id_card_digest=user.id_card_digest).exists():
                raise ValidationError({"id_card": [_("A person with this ID-card number is already registered.")]})
            if cleaned_photo is not None:
                _store_photo(user, cleaned_photo)
            user.save()
            for role in roles:
                RoleAssignment.objects.create(user=user, role=role,
                                              region=region if role == Role.REGION_ADMIN else None,
                                              organisation=organisation if role == Role.ORG_ADMIN else None)
            if Role.SYSTEM_ADMIN in roles:
                _sync_admin_flags(user)
            audit.record(actor, "person.create", user, after=_person_snapshot(user))
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ValidationError({"id_card": [_("A person with this ID-card number is already registered.")]}
                              if user.id_card_digest else _("This person is already registered.")) from exc
    return user


def replace_photo_at_check_in(actor, person: User, photo) -> User:
    """An examiner takes a person's photo at an exam's check-in (``exams.practical.check_in`` has
    checked that ``actor`` examines ``person`` today). Type and size checked, re-encoded without
    metadata (``lms.photos``); audited. Raises ``ValidationError`` (key ``photo``)."""
    errors: dict[str, list[str]] = {}
    cleaned = _clean_photo(photo, errors)
    if errors or cleaned is None:
        raise ValidationError(errors or {"photo": [_("Please choose a photo.")]})
    with _removing_photo_on_failure(person), transaction.atomic():
        old = _store_photo(person, cleaned)
        person.save(update_fields=["photo"])
        record_audit(actor, "person.photo.check_in", person, after={"photo": True})
        if old:
            _delete_file_on_commit(person.photo.storage, old)
    return person


def can_edit_person(actor, person: User) -> bool:
    """Whether ``actor`` may change ``person`` (see :func:`update_person`); never an anonymised account."""
    if person.anonymised_at is not None:
        return False
    try:
        _require_editable(actor, person)
    except PermissionDenied:
        return False
    return True


def _require_editable(actor, person: User) -> None:
    if actor is None:
        return
    if not permissions.can_manage_region(actor, person.region):
        raise PermissionDenied(_("You cannot change this person's details."))
    if permissions.is_system_admin(actor):
        return
    if person.is_superuser or person.has_role(Role.SYSTEM_ADMIN):
        raise PermissionDenied(_("Only a system admin can change a system admin."))
    for a in person.role_assignments.filter(role=Role.REGION_ADMIN).select_related("region"):
        if not permissions.can_manage_region(actor, a.region):
            raise PermissionDenied(_("This person administers a region beyond yours."))


def update_person(
    actor,
    person: User,
    *,
    real_name: str,
    region: Region | None,
    organisation: Organisation | None = None,
    username: str | None = None,
    id_card: str | None = None,
    phone: str | None = None,
    roles: Iterable[str] | None = None,
    photo=None,
) -> User:
    """Change a person's details, roles and photo (their region's admin, or a system admin).

    ``id_card``/``phone`` None or empty: unchanged (they are never shown in clear, so never sent back).
    ``roles``: the roles the person should hold (None: unchanged); added and removed through
    :func:`assign_role` and :func:`revoke_role`. One audit record with the masked before and after.
    """
    _require_editable(actor, person)
    if person.anonymised_at is not None:
        raise ValidationError(_("This person's account has been anonymised; it cannot be changed."))
    if actor is not None and not permissions.can_manage_region(actor, region):
        raise PermissionDenied(_("You can only move people within your own region."))
    roles = None if roles is None else list(dict.fromkeys(roles))
    changed = User.objects.get(pk=person.pk)
    before = _person_snapshot(changed)
    changed.real_name = (real_name or "").strip()
    changed.region, changed.organisation = region, organisation
    errors: dict[str, list[str]] = {}
    if username is not None:
        changed.username = username.strip()
        if not changed.username:
            errors["username"] = [_("Please enter a login name.")]
    for field, setter, value in (("id_card", changed.set_id_card, id_card), ("phone", changed.set_phone, phone)):
        if value:
            try:
                setter(value)
            except ValidationError as exc:
                errors[field] = exc.messages
    if not changed.real_name:
        errors["real_name"] = [_("Please enter the real name.")]
    current = set(changed.role_assignments.values_list("role", flat=True))
    errors.update(_person_field_errors(actor, region=region, organisation=organisation,
                                       roles=[] if roles is None else sorted(set(roles) ^ current)))
    if roles is not None and actor is not None and actor.pk == person.pk and Role.REGION_ADMIN in current \
            and Role.REGION_ADMIN not in roles and not permissions.is_system_admin(actor):
        errors.setdefault("roles", []).append(_("You cannot remove your own admin role."))
    cleaned_photo = _clean_photo(photo, errors)
    if errors:
        raise ValidationError(errors)
    try:
        with _removing_photo_on_failure(changed), transaction.atomic():
            if User.objects.filter(username=changed.username).exclude(pk=person.pk).exists():
                raise ValidationError({"username": [_("This login name is taken.")]})
            if changed.id_card_digest and User.objects.filter(
                    id_card_digest=changed.id_card_digest).exclude(pk=person.pk).exists():
                raise ValidationError({"id_card": [_("A person with this ID-card number is already registered.")]})
            old_photo = _store_photo(changed, cleaned_photo) if cleaned_photo is not None else ""
            changed.save()
            if roles is not None:
                for a in list(changed.role_assignments.all()):
                    if a.role not in roles:
                        revoke_role(actor, a)
                for role in roles:
                    if role not in current:
                        assign_role(actor, changed, role, region=region if role == Role.REGION_ADMIN else None,
                                    organisation=organisation if role == Role.ORG_ADMIN else None)
            changed.__dict__.pop("_role_cache", None)
            audit.record(actor, "person.update", changed, before=before, after=_person_snapshot(changed))
            _delete_file_on_commit(changed.photo.storage, old_photo)
    except IntegrityError as exc:
        raise ValidationError(_("This person was changed at the same time; please try again.")) from exc
    return changed


def update_person_contact(actor, person: User, *, id_card: str | None = None, phone: str | None = None) -> User:
    """Change a person's protected ID-card or phone number (the person themselves or their region's admin)."""
    if not (actor.pk == person.pk or permissions.can_manage_region(actor, person.region)):
        raise PermissionDenied(_("You cannot change this person's details."))
    before = _person_snapshot(person)
    changed = User.objects.get(pk=person.pk)
    if id_card is not None:
        changed.set_id_card(id_card)
    if phone is not None:
        changed.set_phone(phone)
    with transaction.atomic():
        if changed.id_card_digest and User.objects.filter(id_card_digest=changed.id_card_digest).exclude(pk=person.pk).exists():
            raise ValidationError({"id_card": [_("A person with this ID-card number is already registered.")]})
        changed.save(update_fields=["id_card_protected", "id_card_digest", "id_card_masked",
                                    "phone_protected", "phone_digest", "phone_masked"])
        audit.record(actor, "person.update_contact", changed, before=before, after=_person_snapshot(changed))
    return changed


def find_people(actor, *, name: str | None = None) -> QuerySet:
    """The people ``actor`` may see, optionally those whose name contains ``name``.

    Exact ID-card or mobile-number search is :func:`search_people_by_number` (audited, rate-limited).
    """
    qs = permissions.visible_people(actor)
    if name:
        qs = qs.filter(real_name__icontains=name.strip())
    return qs.order_by("region__path", "real_name", "pk")


NUMBER_KINDS = {
    "id_card": (protection.normalize_id_card, protection.mask_id_card),
    "phone": (protection.normalize_phone, protection.mask_phone),
}
NUMBER_SEARCH_MAX_RESULTS = 50


def masked_number(kind: str, number: str) -> str:
    """The masked form of a valid ID-card (``kind="id_card"``) or mobile number, for display."""
    normalize, mask = NUMBER_KINDS[kind]
    return mask(normalize(number))


def search_people_by_number(actor, *, kind: str, number: str) -> list[User]:
    """The people ``actor`` may see whose ID-card (``kind="id_card"``) or mobile number (``"phone"``) is ``number``.

    An answer tells whether a number belongs to someone, so each search counts like a reveal of
    personal data:

    - only region admins (in their own subtree) and system admins may search: they register people
      and check a person's identity at the counter; instructors, examiners and inspectors find
      people through their classes and sessions, trainees have no business here;
    - every search is audited (``person.search_number``): the kind of number, its masked form, its
      keyed digest (the blind index: it ties the search to the person it matched without revealing
      the number) and the people matched, never the number in clear;
    - at most ``LMS_NUMBER_SEARCH_LIMIT`` searches per person in ``LMS_NUMBER_SEARCH_WINDOW_S``
      seconds (counted in the cache); beyond, ``TooManyAttempts`` and no search
      (audited as ``person.search_number_refused``).

    A number in the wrong format is a ``ValidationError`` and costs nothing: it cannot match.
    """
    if not (actor.has_role(Role.REGION_ADMIN) or permissions.is_system_admin(actor)):
        raise PermissionDenied(_("Only region and system admins can search by ID-card or mobile number."))
    if kind not in NUMBER_KINDS:
        raise ValidationError({"kind": [_("Choose what kind of number to search for.")]})
    normalize, mask = NUMBER_KINDS[kind]
    try:
        value = normalize(number)
    except ValidationError as exc:
        raise ValidationError({"number": exc.messages}) from None
    masked, digest = mask(value), protection.digest(value, kind)
    limit, window = settings.LMS_NUMBER_SEARCH_LIMIT, settings.LMS_NUMBER_SEARCH_WINDOW_S
    if ratelimit.hit("number-search", actor.pk, window_s=window) > limit:
        audit.record(actor, "person.search_number_refused", object_type="lms.user", object_repr=masked,
                     after={"kind": kind, "masked": masked, "limit": limit, "window_s": window})
        raise TooManyAttempts(_(
            "You have reached the limit of %(limit)s searches by ID-card or mobile number in %(minutes)s "
            "minutes. The search was not done; please try again later."
        ) % {"limit": limit, "minutes": max(1, window // 60)})
    qs = permissions.visible_people(actor).filter(**{f"{kind}_digest": digest})
    people = list(qs.order_by("region__path", "real_name", "pk")[:NUMBER_SEARCH_MAX_RESULTS])
    audit.record(actor, "person.search_number", people[0] if len(people) == 1 else None,
                 object_type="lms.user", object_repr=masked,
                 after={"kind": kind, "masked": masked, "digest": digest, "matched": len(people),
                        "people": [p.pk for p in people]})
    return people


def get_person(actor, pk: int) -> User:
    """One person, if ``actor`` may see them; otherwise ``User.DoesNotExist`` (no existence leak)."""
    return permissions.visible_people(actor).get(pk=pk)


def reveal_id_card(actor, person: User) -> str:
    """The clear ID-card number, for a need such as printing a certificate. Audited."""
    if not (actor.pk == person.pk or permissions.can_manage_region(actor, person.region)):
        raise PermissionDenied(_("You cannot see this person's ID-card number."))
    if not person.id_card_protected:
        return ""
    audit.record(actor, "person.reveal_id_card", person)
    return protection.decrypt(person.id_card_protected, "id_card")


# ---------------------------------------------------------------- roles


def assign_role(actor, person: User, role: str, *, region: Region | None = None,
                organisation: Organisation | None = None) -> RoleAssignment:
    """Give ``person`` a role. Region admins can grant roles inside their subtree, never system admin."""
    if role not in Role.values:
        raise ValidationError({"role": [_("Unknown role.")]})
    if role == Role.SYSTEM_ADMIN and not permissions.is_system_admin(actor):
        raise PermissionDenied(_("Only a system admin can appoint a system admin."))
    if role == Role.REGION_ADMIN and region is None:
        raise ValidationError({"region": [_("A region admin needs a region.")]})
    if role == Role.ORG_ADMIN and organisation is None:
        raise ValidationError({"organisation": [_("An organisation admin needs an organisation.")]})
    # An organisation admin's scope is the organisation: granted by whoever manages its region.
    target_region = organisation.region if role == Role.ORG_ADMIN else (region or person.region)
    if actor is not None and not permissions.can_manage_region(actor, target_region):
        raise PermissionDenied(_("You can only grant roles in your own region."))
    lookup = {"organisation": organisation} if role == Role.ORG_ADMIN else {}
    with transaction.atomic():
        assignment, created = RoleAssignment.objects.get_or_create(
            user=person, role=role, region=region, **lookup,
            defaults={} if lookup else {"organisation": organisation},
        )
        if created:
            after = {"role": role, "region": region.pk if region else None}
            if role == Role.ORG_ADMIN:
                after["organisation"] = organisation.pk
            audit.record(actor, "role.assign", person, after=after)
        if role == Role.SYSTEM_ADMIN:
            _sync_admin_flags(person)
    person.__dict__.pop("_role_cache", None)
    return assignment


def _sync_admin_flags(person: User) -> None:
    """A system admin is let into the Wagtail admin (which checks Django's flags), and only they are."""
    is_admin = person.role_assignments.filter(role=Role.SYSTEM_ADMIN).exists()
    if (person.is_staff, person.is_superuser) != (is_admin, is_admin):
        person.is_staff = person.is_superuser = is_admin
        person.save(update_fields=["is_staff", "is_superuser"])


def revoke_role(actor, assignment: RoleAssignment) -> None:
    target_region = (assignment.organisation.region if assignment.role == Role.ORG_ADMIN and assignment.organisation_id
                     else assignment.region or assignment.user.region)
    if assignment.role == Role.SYSTEM_ADMIN and not permissions.is_system_admin(actor):
        raise PermissionDenied(_("Only a system admin can remove a system admin."))
    if not permissions.can_manage_region(actor, target_region):
        raise PermissionDenied(_("You can only change roles in your own region."))
    with transaction.atomic():
        audit.record(actor, "role.revoke", assignment.user,
                     before={"role": assignment.role, "region": assignment.region_id})
        assignment.delete()
        if assignment.role == Role.SYSTEM_ADMIN:
            _sync_admin_flags(assignment.user)


# ---------------------------------------------------------------- organisations


def create_organisation(actor, *, name: str, kind: str, region: Region, address: str = "") -> Organisation:
    if actor is not None and not permissions.can_manage_region(actor, region):
        raise PermissionDenied(_("You can only add organisations in your own region."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Please enter the organisation's name.")]})
    if kind not in Organisation.Kind.values:
        raise ValidationError({"kind": [_("Unknown kind of organisation.")]})
    with transaction.atomic():
        if Organisation.objects.filter(region=region, name=name).exists():
            raise ValidationError({"name": [_("An organisation with this name already exists in this region.")]})
        org = Organisation.objects.create(name=name, kind=kind, region=region, address=address)
        audit.record(actor, "organisation.create", org, after={"name": name, "kind": kind, "region": region.pk})
    return org


def visible_organisations(actor) -> QuerySet:
    return permissions.scope(actor, Organisation.objects.select_related("region")).order_by("region__path", "name")


# ---------------------------------------------------------------- regions


@dataclass(frozen=True)
class RegionRow:
    """One row of a region import: the region's place in the tree and, optionally, a population figure."""

    province: str
    city: str = ""
    county: str = ""
    code: str = ""
    year: int | None = None
    population: int | None = None
    basis: str = RegionPopulation.Basis.REGISTERED
    is_demo: bool = False
    source: str = ""
    line: int = 0


def import_regions(actor, rows: Iterable[RegionRow]) -> dict[str, int]:
    """Create or update regions and their populations from rows; all or nothing.

    A system admin (or the system itself, ``actor=None``) imports anything. A region admin imports population
    figures only, for existing regions inside their own subtree: a row that would create a region, names a
    region outside their subtree, changes a division code or carries no figure is refused with its row number
    and reason. Every bad row is reported; nothing is stored while one is bad.

    Returns counts: ``regions_created``, ``populations_created``, ``populations_updated``.
    """
    full = actor is None or permissions.is_system_admin(actor)
    if not full and not permissions.administered_regions(actor):
        raise PermissionDenied(_("Only system and region admins can import regions and population figures."))
    rows = list(rows)
    errors = []
    for row in rows:
        where = _("Row %(line)s") % {"line": row.line} if row.line else ""
        if not row.province:
            errors.append(f"{where}: " + _("the province is missing."))
        if row.county and not row.city:
            errors.append(f"{where}: " + _("a county needs its city."))
        if (row.year is None) != (row.population is None):
            errors.append(f"{where}: " + _("give both the year and the population, or neither."))
        if row.year is not None and not 1949 <= row.year <= 2100:
            errors.append(f"{where}: " + _("the year %(year)s is out of range.") % {"year": row.year})
        if row.population is not None and not 0 <= row.population <= 2_000_000_000:
            errors.append(f"{where}: " + _("the population %(n)s is out of range.") % {"n": row.population})
        if row.basis not in RegionPopulation.Basis.values:
            errors.append(f"{where}: " + _("the population basis must be 户籍 (registered) or 常住 (resident)."))
        if row.code and not re.fullmatch(r"\d{6}(\d{3}|\d{6})?", row.code.strip()):
            errors.append(f"{where}: " + _("the division code %(code)s is not a 6-, 9- or 12-digit code.")
                          % {"code": row.code})
    found: dict[int, Region] = {}
    if not full:
        found = _scoped_population_rows(actor, rows, errors)
    if errors:
        raise ValidationError(errors)
    counts = {"regions_created": 0, "populations_created": 0, "populations_updated": 0}
    with transaction.atomic():
        for i, row in enumerate(rows):
            if full:
                node = _ensure_region(None, row.province, Region.Level.PROVINCE, row.code if not row.city else "",
                                      counts)
                if row.city:
                    node = _ensure_region(node, row.city, Region.Level.CITY, row.code if not row.county else "",
                                          counts)
                if row.county:
                    node = _ensure_region(node, row.county, Region.Level.COUNTY, row.code, counts)
            else:
                node = found[i]
            if row.year is not None:
                pop, created = RegionPopulation.objects.update_or_create(
                    region=node, year=row.year,
                    defaults={"population": row.population, "basis": row.basis, "is_demo": row.is_demo,
                              "source": row.source},
                )
                counts["populations_created" if created else "populations_updated"] += 1
        if full:
            # Siblings stay in 区划代码 order (Region.node_order_by) even when a code was added later.
            Region.fix_tree(fix_paths=True)
        audit.record(actor, "region.import" if full else "region.population_import", object_type="lms.region",
                     object_repr=_("%(n)s rows") % {"n": len(rows)}, after=counts)
    return counts


def _scoped_population_rows(actor, rows: list[RegionRow], errors: list[str]) -> dict[int, Region]:
    """A region admin's rows: each must name an existing region of their subtree and carry a population figure.
    Appends a message per bad row to ``errors``; returns {row index: region} for the good ones."""
    tops = permissions.administered_regions(actor)
    lookups: dict[tuple[str, ...], Region | None] = {}

    def lookup(names: tuple[str, ...]) -> Region | None:
        if names not in lookups:
            parent = lookup(names[:-1]) if len(names) > 1 else None
            if len(names) > 1 and parent is None:
                lookups[names] = None
            else:
                siblings = Region.get_root_nodes() if parent is None else parent.get_children()
                lookups[names] = siblings.filter(name=names[-1]).first()
        return lookups[names]

    out: dict[int, Region] = {}
    for i, row in enumerate(rows):
        if not row.province or (row.county and not row.city):
            continue  # reported already
        where = _("Row %(line)s") % {"line": row.line} if row.line else ""
        names = tuple(n.strip() for n in (row.province, row.city, row.county) if n and n.strip())
        node = lookup(names)
        if node is None:
            errors.append(f"{where}: " + _("%(region)s does not exist; only a system admin can add regions.")
                          % {"region": "".join(names)})
            continue
        if not any(node.path.startswith(t.path) for t in tops):
            errors.append(f"{where}: " + _("%(region)s is outside your region.") % {"region": "".join(names)})
            continue
        if row.year is None:
            errors.append(f"{where}: " + _("give the year and the population: you can import population figures "
                                           "only."))
            continue
        if row.code and row.code.strip() != node.code:
            errors.append(f"{where}: " + _("the division code %(code)s is not %(region)s's; only a system admin "
                                           "can change division codes.") % {"code": row.code,
                                                                            "region": node.name})
            continue
        out[i] = node
    return out


def _ensure_region(parent: Region | None, name: str, level: str, code: str, counts: dict) -> Region:
    name = name.strip()
    siblings = Region.get_root_nodes() if parent is None else parent.get_children()
    node = siblings.filter(name=name).first()
    if node is None:
        node = (Region.add_root if parent is None else parent.add_child)(name=name, level=level, code=code.strip())
        counts["regions_created"] += 1
    elif code and node.code != code.strip():
        node.code = code.strip()
        node.save(update_fields=["code"])
    return node


REGION_XLSX_HEADERS = {
    "province": ("省", "province"),
    "city": ("市", "city"),
    "county": ("县", "县（市、区）", "县(市、区)", "区县", "county"),
    "code": ("区划代码", "code"),
    "year": ("年份", "year"),
    "population": ("户籍人口", "常住人口", "人口", "registered_population", "resident_population", "population"),
    "basis": ("口径", "basis"),
    "source": ("来源", "source"),
}
# The population column's header names its basis unless a 口径 column says it row by row.
_BASIS_OF_HEADER = {"户籍人口": "registered", "registered_population": "registered",
                    "常住人口": "resident", "resident_population": "resident"}
_BASIS_WORDS = {"户籍": "registered", "户籍人口": "registered", "registered": "registered",
                "常住": "resident", "常住人口": "resident", "resident": "resident"}


REGION_XLSX_MAX_BYTES = 5 * 1024 * 1024


def parse_region_xlsx(fileobj: BinaryIO) -> list[RegionRow]:
    """Read an XLSX of regions: a header row (省, 市, 县, 区划代码, 年份, 户籍人口 or 常住人口, 口径, 来源),
    one region per row. The population column's header (户籍人口 / 常住人口) gives the figures' basis;
    a 口径 column (户籍 / 常住), when present, gives it row by row."""
    from openpyxl import load_workbook

    from .cells import check_xlsx_unpacked_size

    data = fileobj.read(REGION_XLSX_MAX_BYTES + 1)
    if not data:
        raise ValidationError(_("The file is empty."))
    if len(data) > REGION_XLSX_MAX_BYTES:
        raise ValidationError(_("The file is larger than %(mb)s MB.") % {"mb": REGION_XLSX_MAX_BYTES // (1024 * 1024)})
    if not data.startswith(b"PK\x03\x04"):
        raise ValidationError(_("This file is not an Excel (.xlsx) workbook."))
    check_xlsx_unpacked_size(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for non-XLSX input
        raise ValidationError(_("This file is not an Excel (.xlsx) workbook.")) from exc
    try:
        return _region_rows(wb.worksheets[0].iter_rows(values_only=True))
    except ValidationError:
        raise
    except Exception as exc:  # a damaged sheet shows only as its rows are read
        raise ValidationError(_("This file is not an Excel (.xlsx) workbook.")) from exc
    finally:
        wb.close()


def _region_rows(rows_iter) -> list[RegionRow]:
    header = next(rows_iter, None)
    if not header:
        raise ValidationError(_("The workbook is empty."))
    names = [str(h).strip() if h is not None else "" for h in header]
    columns: dict[str, int] = {}
    for key, aliases in REGION_XLSX_HEADERS.items():
        for i, name in enumerate(names):
            if name in aliases:
                columns[key] = i
                break
    header_basis = _BASIS_OF_HEADER.get(names[columns["population"]], "") if "population" in columns else ""
    if "province" not in columns:
        raise ValidationError(_("The first row must name the columns; the column 省 (province) is missing."))
    out, errors = [], []
    for line, values in enumerate(rows_iter, start=2):
        if values is None or all(v in (None, "") for v in values):
            continue

        def cell(key, values=values):
            i = columns.get(key)
            v = values[i] if i is not None and i < len(values) else None
            return "" if v is None else str(v).strip()

        year, pop = cell("year"), cell("population")
        basis_word = cell("basis")
        basis = _BASIS_WORDS.get(basis_word, basis_word) if basis_word else header_basis
        if pop and not basis:
            errors.append(_("Row %(line)s: say whether the population is 户籍 (registered) or 常住 (resident): "
                            "name the column 户籍人口 or 常住人口, or add a 口径 column.") % {"line": line})
            continue
        try:
            year_i = int(float(year)) if year else None
            pop_i = int(float(pop.replace(",", ""))) if pop else None
        except (ValueError, OverflowError):  # OverflowError: "1e999" reads as infinity
            errors.append(_("Row %(line)s: year and population must be numbers.") % {"line": line})
            continue
        out.append(RegionRow(province=cell("province"), city=cell("city"), county=cell("county"), code=cell("code"),
                             year=year_i, population=pop_i, basis=basis or RegionPopulation.Basis.REGISTERED,
                             source=cell("source"), line=line))
    if errors:
        raise ValidationError(errors)
    if not out:
        raise ValidationError(_("The workbook has no data rows."))
    return out


def import_regions_xlsx(actor, fileobj: BinaryIO) -> dict[str, int]:
    return import_regions(actor, parse_region_xlsx(fileobj))


def audit_log(actor) -> QuerySet:
    """Audit records ``actor`` may read: all for system admins, none otherwise (for now)."""
    if not permissions.is_system_admin(actor):
        return AuditLog.objects.none()
    return AuditLog.objects.select_related("actor")


# ---------------------------------------------------------------- passwords


def _lock_window_s() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def change_password(actor: User, *, old_password: str, new_password: str) -> None:
    """A signed-in person changes their own password; Django's password validators apply.

    Wrong current passwords count like wrong sign-ins: after ``LMS_LOGIN_FAILURE_LIMIT`` of them the
    change is refused for the lock period (``TooManyAttempts``), so a borrowed session cannot be used
    to guess the password. The caller keeps the current session (``update_session_auth_hash``);
    the person's other sessions end, as their stored password hash no longer matches.
    """
    limit, window = settings.AXES_FAILURE_LIMIT, _lock_window_s()
    if ratelimit.used("password-change", actor.pk) >= limit:
        audit.record(actor, "auth.password_change_refused", actor)
        raise TooManyAttempts(_("Too many wrong passwords. Please try again in %(minutes)s minutes.")
                              % {"minutes": max(1, window // 60)})
    if not actor.check_password(old_password or ""):
        ratelimit.hit("password-change", actor.pk, window_s=window)
        audit.record(actor, "auth.password_change_failed", actor)
        raise ValidationError({"old_password": [_("Your current password is wrong.")]})
    try:
        password_validation.validate_password(new_password, actor)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    with transaction.atomic():
        actor.set_password(new_password)
        actor.save(update_fields=["password"])
        audit.record(actor, "auth.password_change", actor)
    ratelimit.clear("password-change", actor.pk)


def _mask_email(email: str) -> str:
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _reset_target(identifier: str) -> tuple[User | None, str, str]:
    """The one active person an identifier names: (person or None, kind of identifier, masked identifier)."""
    ident = (identifier or "").strip()
    people = User.objects.filter(is_active=True)
    if "@" in ident:
        found = list(people.filter(email__iexact=ident)[:2])
        return (found[0] if len(found) == 1 else None), "email", _mask_email(ident)
    try:
        phone = protection.normalize_phone(ident)
    except ValidationError:
        phone = None
    if phone:
        found = list(people.filter(phone_digest=protection.digest(phone, "phone"))[:2])
        if len(found) == 1:
            return found[0], "phone", protection.mask_phone(phone)
    found = list(people.filter(username=ident)[:1])
    if found or not phone:
        return (found[0] if found else None), "username", ident[:150]
    return None, "phone", protection.mask_phone(phone)


def request_password_reset(identifier: str) -> int | None:
    """Send a one-time code to reset the password of the person ``identifier`` names.

    ``identifier`` is a login name, a mobile number or an e-mail address. The code goes to the
    person's mobile phone (SMS backend) or, without one, to their e-mail address. Returns the
    code's id, to keep in the requester's session, or None when no code was sent: no such person,
    no phone or e-mail, or ``LMS_RESET_CODES_PER_PERSON`` codes already sent this hour. Callers
    must answer the same in every case, so that the page does not tell whether an account exists.

    Requests from one IP address are limited (``LMS_RESET_REQUESTS_PER_IP`` per hour):
    beyond, ``TooManyAttempts`` (that answer depends on the address only). Sending a new code
    ends the person's earlier ones. Audited: ``auth.reset_request``, ``auth.reset_code_sent``.
    """
    window = settings.LMS_RESET_WINDOW_S
    ip = audit.current_ip() or "unknown"
    if ratelimit.hit("reset-ip", ip, window_s=window) > settings.LMS_RESET_REQUESTS_PER_IP:
        audit.record(None, "auth.reset_refused", object_type="lms.user", after={"reason": "ip_limit"})
        raise TooManyAttempts(_("Too many password reset requests from your network. Please try again in an hour."))
    person, kind, masked = _reset_target(identifier)
    if person is None:
        audit.record(None, "auth.reset_request", object_type="lms.user", object_repr=masked,
                     after={"identifier": kind, "matched": False})
        return None
    now = timezone.now()
    recent = OneTimeCode.objects.filter(user=person, purpose=OneTimeCode.Purpose.PASSWORD_RESET,
                                        created_at__gte=now - timedelta(seconds=window)).count()
    if recent >= settings.LMS_RESET_CODES_PER_PERSON:
        audit.record(None, "auth.reset_request", person,
                     after={"identifier": kind, "matched": True, "sent": False, "reason": "person_limit"})
        return None
    if person.phone_protected:
        channel, to_masked = OneTimeCode.Channel.SMS, person.phone_masked
    elif person.email:
        channel, to_masked = OneTimeCode.Channel.EMAIL, _mask_email(person.email)
    else:
        audit.record(None, "auth.reset_request", person,
                     after={"identifier": kind, "matched": True, "sent": False, "reason": "no_contact"})
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    ttl = settings.LMS_RESET_CODE_TTL_S
    with transaction.atomic():
        # One live code per person: a new one ends the earlier ones.
        OneTimeCode.objects.filter(user=person, purpose=OneTimeCode.Purpose.PASSWORD_RESET,
                                   used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        otc = OneTimeCode.objects.create(
            user=person, purpose=OneTimeCode.Purpose.PASSWORD_RESET, channel=channel, salt=salt,
            code_digest=OneTimeCode.digest_of(salt, code), expires_at=now + timedelta(seconds=ttl),
        )
        audit.record(None, "auth.reset_code_sent", person,
                     after={"identifier": kind, "channel": channel, "to": to_masked, "code": otc.pk})
    body = _("Red Cross First-Aid Training: your verification code is %(code)s. It resets your password and "
             "is valid for %(minutes)s minutes. If you did not ask for it, ignore this message.") % {
        "code": code, "minutes": max(1, ttl // 60)}
    try:
        if channel == OneTimeCode.Channel.SMS:
            sms.send_sms(protection.decrypt(person.phone_protected, "phone"), body)
        else:
            send_mail(_("Your password reset code"), body, None, [person.email])
    except Exception:  # the gateway is down: the person asks again; the answer stays the same
        log.exception("could not send password reset code %s by %s", otc.pk, channel)
    return otc.pk


def reset_password(code_id: int | None, *, code: str, new_password: str) -> User:
    """Set a new password with a one-time code from :func:`request_password_reset`.

    ``code_id`` is what that function returned to this requester (None: nothing was sent, and any
    code is wrong). A wrong, expired, used or burnt code gives the same ``ValidationError`` on
    ``code``; each wrong code counts, and ``LMS_RESET_CODE_MAX_TRIES`` of them burn the code.
    A right code with a password the validators refuse gives their messages on ``new_password``
    and keeps the code. On success the code is used up, the password set (the person's sessions
    end), sign-in locks on the login name are lifted, and ``auth.password_reset`` is audited.
    """
    wrong = ValidationError({"code": [_("The code is wrong or no longer valid. Check it, or ask for a new code.")]})
    code = (code or "").strip()
    if code_id is None:
        raise wrong
    max_tries = settings.LMS_RESET_CODE_MAX_TRIES
    with transaction.atomic():
        # A reset code always has its person (registration codes have none): an inner join, and only the
        # code row locked (PostgreSQL refuses FOR UPDATE on the nullable side of an outer join).
        otc = OneTimeCode.objects.select_for_update(of=("self",)).select_related("user").filter(
            pk=code_id, purpose=OneTimeCode.Purpose.PASSWORD_RESET, user__isnull=False).first()
        live = otc is not None and otc.is_live(timezone.now(), max_tries) and otc.user.is_active
        right = live and otc.matches(code)
        if live and not right:
            OneTimeCode.objects.filter(pk=otc.pk).update(failed_attempts=F("failed_attempts") + 1)
            tries = otc.failed_attempts + 1
            audit.record(None, "auth.reset_code_burnt" if tries >= max_tries else "auth.reset_code_wrong",
                         otc.user, after={"code": otc.pk, "failed_attempts": tries})
    if not right:
        raise wrong
    person = otc.user
    try:
        password_validation.validate_password(new_password, person)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from None
    with transaction.atomic():
        otc = OneTimeCode.objects.select_for_update().get(pk=otc.pk)
        if not otc.is_live(timezone.now(), max_tries):  # another request used it meanwhile
            raise wrong
        otc.used_at = timezone.now()
        otc.save(update_fields=["used_at"])
        person.set_password(new_password)
        person.save(update_fields=["password"])
        audit.record(person, "auth.password_reset", person, after={"code": otc.pk, "channel": otc.channel})
    from axes.utils import reset as axes_reset

    axes_reset(username=person.get_username())
    ratelimit.clear("password-change", person.pk)
    return person


# ---------------------------------------------------------------- personal-data rights (lms.privacy)


def record_privacy_consent(actor, *, version: str, sensitive: bool) -> None:
    """``actor`` agrees to the privacy notice ``version`` (the current one only), with the separate consent
    to their sensitive personal information (ID-card number, photo; PIPL art. 29). Audited; agreeing again
    to the same version changes nothing."""
    from .models import PrivacyConsent

    if not (actor and actor.is_authenticated):
        raise PermissionDenied(_("Please log in first."))
    if version != settings.PRIVACY_NOTICE_VERSION:
        raise ValidationError(_("This version of the privacy notice is no longer current. Please read the current one."))
    if not sensitive:
        raise ValidationError({"sensitive": [_("Please also agree to the processing of your ID-card number "
                                               "and photo: the exams and certificates are in your real name.")]})
    with transaction.atomic():
        consent, created = PrivacyConsent.objects.get_or_create(
            user=actor, version=version, defaults={"sensitive": True, "ip": audit.current_ip()})
        if created:
            audit.record(actor, "privacy.consent", actor, after={"version": version, "sensitive": True})


EXPORT_FORMATS = ("json", "xlsx")


def export_personal_data(actor, *, password: str, fmt: str) -> tuple[bytes, str, str]:
    """Everything the product holds about ``actor``, from every app's privacy declaration.

    The person's own data only, and only to themselves (the right of access and copy, PIPL art. 45):
    it includes their ID-card and mobile numbers in clear, so the current password is asked again
    (a session left open on a shared exam-site tablet does not give the numbers away). At most
    ``LMS_PRIVACY_EXPORTS_PER_HOUR`` tries an hour (wrong passwords count). Audited as
    ``privacy.export`` with the format and the number of rows of each declaration, never the content.
    Returns ``(content, content type, file name)``.
    """
    from . import privacy

    if not (actor and actor.is_authenticated):
        raise PermissionDenied(_("Please log in first."))
    if fmt not in EXPORT_FORMATS:
        raise ValidationError({"fmt": [_("Choose JSON or Excel.")]})
    limit = settings.LMS_PRIVACY_EXPORTS_PER_HOUR
    if ratelimit.hit("privacy-export", actor.pk, window_s=3600) > limit:
        audit.record(actor, "privacy.export_refused", actor, after={"limit": limit})
        raise TooManyAttempts(_("You can download your data %(limit)s times an hour. Please try again later.")
                              % {"limit": limit})
    if not actor.check_password(password or ""):
        raise ValidationError({"password": [_("Your password is wrong.")]})
    sections = privacy.collect(actor)
    document = privacy.export_document(actor, sections)
    audit.record(actor, "privacy.export", actor,
                 after={"format": fmt, "rows": {s["key"]: len(s["rows"]) for s in sections}})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "json":
        return privacy.to_json(document), "application/json; charset=utf-8", f"my-data-{stamp}.json"
    return (privacy.to_xlsx(document), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            f"my-data-{stamp}.xlsx")


def can_anonymise(actor, person: User) -> bool:
    """A system admin anyone but themselves; a region admin a person of their subtree who is neither a
    system admin nor the admin of a region outside that subtree."""
    if not (actor and actor.is_authenticated) or actor.pk == person.pk or person.anonymised_at is not None:
        return False
    if permissions.is_system_admin(actor):
        return True
    if not actor.has_role(Role.REGION_ADMIN) or permissions.is_system_admin(person):
        return False
    if not permissions.can_manage_region(actor, person.region):
        return False
    return all(permissions.can_manage_region(actor, r) for r in permissions.administered_regions(person))


def anonymise_person(actor, person: User, *, reason: str, confirm_name: str) -> User:
    """Anonymise a person who has left: irreversible. Every app's declaration erases what it may and keeps
    what the law or certificate verification needs (``lms.privacy``), then the user row is scrubbed: the
    name becomes "已注销用户 #id", the login name ``deleted-<id>``; ID-card and mobile numbers, e-mail and
    photo are erased; the password is made unusable, the account inactive, its roles removed and its
    sessions ended. Exam records stay, attributed to the anonymised person.

    ``reason`` is required (recorded in the audit log) and ``confirm_name`` must be the person's name as
    shown (the confirmation step). Allowed by :func:`can_anonymise`; otherwise ``PermissionDenied`` and
    nothing changes. Audited as ``privacy.anonymise`` (without the name: the record outlives it).
    """
    from . import privacy

    if not can_anonymise(actor, person):
        if person.anonymised_at is not None:
            raise ValidationError(_("This person has already been anonymised."))
        if actor is not None and actor.pk == person.pk:
            raise PermissionDenied(_("You cannot anonymise yourself."))
        raise PermissionDenied(_("You cannot anonymise this person."))
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = [_("Please give the reason (for example: left the organisation on 2026-10-31).")]
    elif len(reason) > 500:
        errors["reason"] = [_("Please keep the reason under 500 characters.")]
    if (confirm_name or "").strip() != person.display_name:
        errors["confirm_name"] = [_("Type the person's name exactly as shown to confirm.")]
    if errors:
        raise ValidationError(errors)
    counts: dict[str, dict[str, int]] = {}
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=person.pk)
        if person.anonymised_at is not None:
            raise ValidationError(_("This person has already been anonymised."))
        username = person.username
        for d in privacy.declarations():
            if d.anonymise is not None:
                counts[d.key] = d.anonymise(person)
        counts["lms.profile"] = privacy._anonymise_profile(person)
        sessions = _end_sessions(person.pk)
        audit.record(actor, "privacy.anonymise", person, after={
            "reason": reason, "counts": counts, "sessions_ended": sessions,
            "declarations": [d.key for d in privacy.declarations()]})
    from axes.utils import reset as axes_reset

    axes_reset(username=username)
    person.__dict__.pop("_role_cache", None)
    return person


def _end_sessions(user_id: int) -> int:
    """Delete the stored sessions of ``user_id`` and tell their open sockets (database sessions)."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    from . import access

    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return 0  # other engines: the unusable password and inactive account end them at the next request
    keys = []
    for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if s.get_decoded().get(SESSION_KEY) == str(user_id):
            keys.append(s.session_key)
    Session.objects.filter(session_key__in=keys).delete()
    for key in keys:
        transaction.on_commit(lambda key=key: access._send(access.session_group(key), {"type": "access.revoked"}))
    access.notify_access_changed(user_id)
    return len(keys)
