"""The annual assessment (instructors.assessment): a proposal per instructor and year from the rules as data,
a region admin's decision (confirm, or override with a reason) that changes the standing, the history kept."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import override

from instructors import assessment
from instructors.models import Assessment, InstructorProfile, Outcome, StandingChange
from instructors.presentation import reason_lines
from instructors.record import Figures

from .conftest import default_rule, profile_for

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2025, 3, 1)


def strong(**kw) -> Figures:
    """A strong year: 60 h, 18/20 passed (90.0 %), feedback 4.7 over 10 answers, CPR 87.5 %."""
    values = {"classes": 4, "hours": Decimal(60), "trainees": 20, "practical_sat": 20, "practical_passed": 18,
              "feedback_n": 10, "feedback_sum": 47, "cpr_scores": [85.0, 90.0]}
    values.update(kw)
    return Figures(**values)


def _evaluate(world, profile, figures, findings=None, certificate=None, rule=None):
    """(proposal, criteria, the reasons as an English reader sees them)."""
    rule = rule or assessment.rule_for(2024, profile.tier)
    proposal, criteria, codes = assessment.evaluate(profile, rule, 2024, figures, findings or {}, certificate,
                                                    today=TODAY)
    with override("en"):
        lines = reason_lines(SimpleNamespace(criteria=criteria, reasons=codes))
    return proposal, criteria, lines


def _ok(criteria, code):
    return next(c for c in criteria if c["code"] == code)["ok"]


def test_each_outcome_follows_from_the_criteria(world):
    default_rule(2024)
    p = world.profile  # tier 2 of 3, since 2020: years in the tier 5

    proposal, criteria, reasons = _evaluate(world, p, strong())
    assert proposal == Outcome.PROMOTE and reasons == ["Every promotion criterion is met."]
    assert all(c["ok"] for c in criteria)
    assert next(c for c in criteria if c["code"] == "pass_rate")["value"] == "90.0"

    # Keep: every threshold met, not strong enough (feedback 4.4 < 4.5 for promotion), said why.
    proposal, criteria, reasons = _evaluate(world, p, strong(feedback_sum=44))
    assert proposal == Outcome.KEEP and _ok(criteria, "promote_feedback") is False and _ok(criteria, "feedback")
    assert reasons[0] == "Every threshold is met; not yet promoted:"
    assert "Feedback for promotion: 4.40 / 5 (threshold ≥ 4.50 / 5)" in reasons
    # Keep: a pass rate above the credible band is not promoted (20/20 = 100.0 > 95).
    proposal, criteria, _r = _evaluate(world, p, strong(practical_passed=20))
    assert proposal == Outcome.KEEP and _ok(criteria, "credible_pass_rate") is False
    # Keep: the top tier has no tier above.
    InstructorProfile.objects.filter(pk=world.other_profile.pk).update(tier=world.t3)
    top = InstructorProfile.objects.select_related("tier").get(pk=world.other_profile.pk)
    proposal, criteria, _r = _evaluate(world, top, strong())
    assert proposal == Outcome.KEEP and _ok(criteria, "higher_tier") is False

    # Demote: a pass rate of 69.99 % is floored to 69.9 %, under the band's 70 (never rounded up to it).
    proposal, criteria, reasons = _evaluate(world, p, strong(practical_sat=10000, practical_passed=6999))
    assert proposal == Outcome.DEMOTE
    assert reasons == ["Practical-exam pass rate: 69.9% (threshold ≥ 70.0%)"]
    # Demote: too few hours; too low feedback with enough answers; a major finding.
    assert _evaluate(world, p, strong(hours=Decimal("15.5")))[0] == Outcome.DEMOTE
    assert _evaluate(world, p, strong(feedback_sum=30))[0] == Outcome.DEMOTE  # 3.0 < 3.5
    assert _evaluate(world, p, strong(), findings={"major": 1})[0] == Outcome.DEMOTE
    # Feedback with fewer answers than the rule needs is not used either way.
    proposal, criteria, _r = _evaluate(world, p, strong(feedback_n=2, feedback_sum=2))
    assert _ok(criteria, "feedback") is None and proposal == Outcome.KEEP
    # No practical exam sat: the pass rate is not used to demote (but does not promote).
    proposal, criteria, _r = _evaluate(world, p, strong(practical_sat=0, practical_passed=0))
    assert _ok(criteria, "pass_rate") is None and proposal == Outcome.KEEP

    # Suspend: a critical finding; a qualification certificate not current.
    proposal, _c, reasons = _evaluate(world, p, strong(), findings={"critical": 1})
    assert proposal == Outcome.SUSPEND and reasons == ["Critical inspection findings: 1 (threshold ≤ 0)"]
    world.t2.qualification = world.qualification
    world.t2.save()
    p.refresh_from_db()
    proposal, criteria, _r = _evaluate(world, p, strong(), certificate=None)
    assert proposal == Outcome.SUSPEND and _ok(criteria, "qualification") is False
    world.t2.qualification = None
    world.t2.save()

    # A demotion from the first tier is a suspension.
    low = InstructorProfile.objects.select_related("tier").get(pk=p.pk)
    low.tier = world.t1
    proposal, _c, reasons = _evaluate(world, low, strong(hours=Decimal(0)))
    assert proposal == Outcome.SUSPEND
    assert reasons[-1] == "The first tier has no tier below it: a demotion is a suspension."


def test_the_tiers_own_rule_wins_over_the_default(world):
    default = default_rule(2024)
    own = default_rule(2024, tier=world.t2, min_hours=Decimal(8))
    assert assessment.rule_for(2024, world.t2) == own
    assert assessment.rule_for(2024, world.t1) == default
    assert assessment.rule_for(2023, world.t1) is None
    # 10 hours: enough under the tier's rule (8), not under the default (16).
    assert _evaluate(world, world.profile, strong(hours=Decimal(10)))[0] == Outcome.KEEP
    assert _evaluate(world, world.profile, strong(hours=Decimal(10)), rule=default)[0] == Outcome.DEMOTE


def test_run_decide_override_and_recompute(world, make_person):
    year = timezone.localdate().year - 1
    with override("en"), pytest.raises(ValidationError) as exc:
        assessment.run_assessment(world.admin, year)
    assert exc.value.message_dict["year"] == [f"There is no assessment rule for {year}: add one first."]
    with pytest.raises(PermissionDenied):
        assessment.run_assessment(world.instructor, year)
    default_rule(year)
    third = make_person(world.regions["xihu"], roles=("instructor",), real_name="三号老师")
    third_profile = profile_for(third, world.t2)

    # The county admin assesses their county's instructors only (no classes: too few hours → demote).
    done = assessment.run_assessment(world.admin, year)
    assert {a.profile_id for a in done} == {world.profile.pk, third_profile.pk}
    a = next(x for x in done if x.profile_id == world.profile.pk)
    assert (a.proposal, a.status, a.tier) == (Outcome.DEMOTE, Assessment.Status.PROPOSED, world.t2)
    assert a.figures["classes"] == 0 and a.figures["hours"] == "0"

    # Another county's admin can neither see nor decide it; nothing changes.
    with pytest.raises(PermissionDenied):
        assessment.decide(world.admin_sc, a, decision=Outcome.DEMOTE)
    assert a.pk not in set(assessment.assessments_visible(world.admin_sc).values_list("pk", flat=True))
    assert a.pk in set(assessment.assessments_visible(world.city_admin).values_list("pk", flat=True))

    # Overriding needs a reason; nothing stored without it.
    with override("en"), pytest.raises(ValidationError) as exc:
        assessment.decide(world.admin, a, decision=Outcome.KEEP, reason=" ")
    assert exc.value.message_dict["reason"] == ["Give the reason for overriding the proposal."]
    a.refresh_from_db()
    assert a.status == Assessment.Status.PROPOSED and not a.decided_by_id
    # Confirming needs none: the tier goes down, the change is kept with the assessment.
    assessment.decide(world.admin, a, decision=Outcome.DEMOTE)
    a.refresh_from_db()
    world.profile.refresh_from_db()
    assert (a.status, a.decision, a.decided_by) == (Assessment.Status.CONFIRMED, Outcome.DEMOTE, world.admin)
    assert world.profile.tier == world.t1
    change = StandingChange.objects.get(assessment=a)
    assert (change.from_tier, change.to_tier, change.changed_by) == (world.t2, world.t1, world.admin)
    with override("en"), pytest.raises(ValidationError):
        assessment.decide(world.admin, a, decision=Outcome.KEEP, reason="重新考虑")

    # Override with a reason: promote instead of demote.
    b = Assessment.objects.get(profile=third_profile, year=year)
    assessment.decide(world.admin, b, decision=Outcome.PROMOTE, reason="带教新学员，课时按导师计")
    b.refresh_from_db()
    third_profile.refresh_from_db()
    assert (b.status, b.proposal, b.decision) == (Assessment.Status.OVERRIDDEN, Outcome.DEMOTE, Outcome.PROMOTE)
    assert third_profile.tier == world.t3

    # A recompute leaves decided assessments as they were and recomputes the proposed ones.
    fourth = profile_for(make_person(world.regions["xihu"], roles=("instructor",)), world.t1)
    decided_at = a.decided_at
    again = assessment.run_assessment(world.admin, year)
    assert {x.profile_id for x in again} == {world.profile.pk, third_profile.pk, fourth.pk}
    a.refresh_from_db()
    assert (a.status, a.tier, a.decided_at) == (Assessment.Status.CONFIRMED, world.t2, decided_at)
    f = Assessment.objects.get(profile=fourth)
    assert f.proposal == Outcome.SUSPEND  # first tier, too few hours
    assessment.decide(world.admin, f, decision=Outcome.SUSPEND)
    fourth.refresh_from_db()
    assert fourth.status == InstructorProfile.Status.SUSPENDED and fourth.status_reason

    # The system admin runs every region: 上城区's instructor too.
    assert world.other_profile.pk in {x.profile_id for x in assessment.run_assessment(world.sysadmin, year)}
