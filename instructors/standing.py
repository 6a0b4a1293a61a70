"""Whether a person may be put on a class or a practical exam of a programme (enforced on the server).

A person is in good standing for a programme when:
- they have an instructor profile (a tier);
- the profile is not suspended;
- the tier's qualifying programme is empty, or they hold a current certificate of it (not revoked, not
  expired on the day asked about; issued by the certificates app);
- the tier may teach (for a class) or examine (for a practical exam) the programme.

``refusals(people, programme, duty)`` gives every reason each person fails, in words; ``courses`` (class
instructors) and ``exams`` (examiners, assigned or drawn) refuse an assignment with those reasons.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import InstructorProfile

TEACH, EXAMINE = "teach", "examine"


def _profiles(person_ids) -> dict[int, InstructorProfile]:
    qs = (InstructorProfile.objects.filter(user_id__in=list(person_ids)).select_related("tier", "tier__qualification")
          .prefetch_related("tier__teaches", "tier__examines"))
    return {p.user_id: p for p in qs}


def qualification_of(profiles, *, today: datetime.date) -> dict[int, object]:
    """Each profile's current qualifying certificate (None when its tier needs one and none is current)."""
    from certificates import api as certificates_api

    profiles = list(profiles)
    needed = {p.tier.qualification_id for p in profiles if p.tier.qualification_id}
    current = certificates_api.current_certificates([p.user_id for p in profiles], needed, today=today) if needed else {}
    return {p.user_id: current.get((p.user_id, p.tier.qualification_id)) for p in profiles}


def refusals(people, programme, duty: str, *, today: datetime.date | None = None) -> dict[int, list[str]]:
    """{person id: [reasons]} for each person who may not take ``duty`` (TEACH or EXAMINE) for ``programme``."""
    today = today or timezone.localdate()
    people = list(people)
    profiles = _profiles(p.pk for p in people)
    certificates = qualification_of(profiles.values(), today=today)
    out: dict[int, list[str]] = {}
    for person in people:
        reasons = person_refusals(person, profiles.get(person.pk), certificates.get(person.pk), programme, duty)
        if reasons:
            out[person.pk] = reasons
    return out


def person_refusals(person, profile, certificate, programme, duty: str) -> list[str]:
    name = person.display_name
    if profile is None:
        return [_("%(name)s is not registered as an instructor (no tier).") % {"name": name}]
    reasons = []
    if profile.status == InstructorProfile.Status.SUSPENDED:
        reasons.append(_("%(name)s is suspended as an instructor.") % {"name": name})
    if profile.tier.qualification_id and certificate is None:
        reasons.append(_("%(name)s has no current %(programme)s certificate (expired or never issued).")
                       % {"name": name, "programme": profile.tier.qualification.name})
    allowed = profile.tier.teaches.all() if duty == TEACH else profile.tier.examines.all()
    if programme is not None and all(p.pk != programme.pk for p in allowed):
        message = (_("The tier %(tier)s may not teach %(programme)s.") if duty == TEACH
                   else _("The tier %(tier)s may not examine %(programme)s."))
        reasons.append(_("%(name)s: %(why)s") % {"name": name, "why": message % {"tier": profile.tier.name,
                                                                                 "programme": programme.name}})
    return reasons


def standing(person, *, today: datetime.date | None = None) -> dict:
    """A person's standing for their profile page: profile, qualification certificate, whether usable."""
    today = today or timezone.localdate()
    profile = _profiles([person.pk]).get(person.pk)
    if profile is None:
        return {"profile": None, "certificate": None, "usable": False,
                "reasons": person_refusals(person, None, None, None, TEACH)}
    certificate = qualification_of([profile], today=today).get(person.pk)
    reasons = person_refusals(person, profile, certificate, None, TEACH)
    return {"profile": profile, "certificate": certificate, "usable": not reasons, "reasons": reasons}
