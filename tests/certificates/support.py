"""Shared pieces of the certificates tests: the practical exam's site (tests/exams/practical_support.py)
with candidates who sat and passed (or failed) a real practical exam: booked, checked in, CPR streamed
through the real ingest path, checklist ticked, signed by the examiner; and the programme's
certificate rule."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from certificates.models import CertificateRule
from exams import practical
from tests.exams.practical_support import (  # noqa: F401
    Site, passed_theory, png_photo, run_cpr, site, tick_all, today_session,
)


def sit(site: Site, session, candidate, *, passing: bool = True):
    """A whole sitting of ``candidate`` in ``session``, signed off: passed, or failed on a critical item."""
    booking = practical.book(site.admin, session, candidate)
    candidate.refresh_from_db()
    booking = practical.check_in(site.examiner, booking, identity_confirmed=True,
                                 photo=None if candidate.photo else png_photo())
    run_cpr(site, booking)
    tick_all(site, booking, except_keys=() if passing else ("aed_clear",))
    booking.refresh_from_db()
    return practical.sign(site.examiner, booking, confirm=True)


@dataclass
class Certified:
    site: Site
    rule: CertificateRule
    passed: list  # candidates with a passed, signed sitting (candidate, candidate_employed)
    failed: object  # candidate2: failed a critical item
    not_sat: object  # studio_candidate: theory passed, no practical sitting


@pytest.fixture
def certified(site) -> Certified:
    """The class 救护员一班 of ``site``: two trainees passed theory and practical, one failed the practical,
    and the studio class's trainee has not sat it. The programme's rule: 救护员证, 3 years."""
    rule = CertificateRule.objects.create(programme=site.programme, title="救护员证", validity_years=3,
                                          number_format="{region:6}{year:4}{serial:8}{check}")
    session = today_session(site)
    passed = [site.candidate, site.candidate_employed]
    for person in passed:
        sit(site, session, person)
    sit(site, session, site.candidate2, passing=False)
    return Certified(site=site, rule=rule, passed=passed, failed=site.candidate2, not_sat=site.studio_candidate)
