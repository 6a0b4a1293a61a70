"""Instructor standing for tests: a tier that may teach and examine the given programmes, and profiles.

Since issue 15 a person is put on a class or a practical exam only in good standing
(``instructors.standing``). Fixtures that build classes or sessions through the API call
``in_good_standing`` for their instructors and examiners. The tier made here needs no qualification
certificate (``qualification`` empty); tests of the qualification rule set one themselves.
"""

from __future__ import annotations

import datetime

from instructors.models import InstructorProfile, Tier


def tier_for(*programmes, code: str = "test-tier", rank: int = 50, qualification=None) -> Tier:
    tier, _created = Tier.objects.get_or_create(code=code, defaults={"name": code, "rank": rank,
                                                                     "qualification": qualification})
    tier.teaches.add(*programmes)
    tier.examines.add(*programmes)
    return tier


def in_good_standing(*people, programmes=(), tier: Tier | None = None) -> list[InstructorProfile]:
    """Give each person an active profile in a tier that teaches and examines ``programmes``."""
    from courses.models import Programme

    tier = tier or tier_for(*(programmes or Programme.objects.all()))
    if not programmes and tier.code == "test-tier":
        tier.teaches.add(*Programme.objects.all())
        tier.examines.add(*Programme.objects.all())
    out = []
    for person in people:
        profile, _created = InstructorProfile.objects.update_or_create(
            user=person, defaults={"tier": tier, "status": InstructorProfile.Status.ACTIVE,
                                   "instructor_since": datetime.date(2020, 1, 1)})
        out.append(profile)
    return out
