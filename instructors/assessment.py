"""The annual assessment (年度考核): a proposal per instructor and year from the rules, then a decision.

The rule for the year (``AssessmentRule``: the tier's own, else the year's default) is applied to the
teaching record of the classes that ended in the year (``instructors.record``), the inspections of those
classes (``inspections.api.findings_by_instructor``), the qualification certificate and the refresher:

- **suspend** when the qualification certificate is not current, or an inspection of the year found a
  critical problem; a demotion from the first tier is a suspension too;
- **demote** when any threshold is missed: class hours below the minimum, practical pass rate below the
  band, feedback below the minimum (with enough answers), more major findings than allowed, refresher
  not attended;
- **promote** when nothing is missed and the record is strong: hours and feedback at the promotion
  level, trainees' CPR quality at the promotion level, a credible pass rate (not above the band), no
  major finding, enough years in the tier, and a higher tier exists;
- **keep** otherwise.

Each criterion is kept with its value, its threshold and whether it was met, so the page shows the
reasons. A region admin of the instructor's region confirms the proposal or overrides it with a reason;
the decision changes the tier or the status (``StandingChange``) and is final for that year.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import api as lms_api
from lms import permissions as lms_permissions

from . import record as record_mod
from .models import Assessment, AssessmentRule, InstructorProfile, Outcome, StandingChange, Tier

SUSPEND, DEMOTE, PROMOTE, INFO = "suspend", "demote", "promote", "info"


def rule_for(year: int, tier: Tier) -> AssessmentRule | None:
    rules = {r.tier_id: r for r in AssessmentRule.objects.filter(year=year).filter(Q(tier=tier) | Q(tier__isnull=True))}
    return rules.get(tier.pk) or rules.get(None)


def region_of(profile: InstructorProfile):
    """The region an instructor belongs to (their own, else their home training base's)."""
    if profile.user.region_id:
        return profile.user.region
    return profile.training_base.region if profile.training_base_id else None


def can_assess(actor, profile: InstructorProfile) -> bool:
    return lms_permissions.can_manage_region(actor, region_of(profile))


def profiles_in_scope(actor):
    """Instructor profiles ``actor`` assesses: a region admin's subtree (by the person's region, else the home
    training base's), every profile for a system admin."""
    qs = InstructorProfile.objects.select_related("user", "tier", "training_base__region", "user__region")
    if lms_permissions.is_system_admin(actor):
        return qs
    q = lms_permissions.region_q(actor, "user__region")
    q_base = lms_permissions.region_q(actor, "training_base__region")
    return qs.filter(q | (Q(user__region__isnull=True) & q_base))


def _years_in_tier(profile: InstructorProfile, on: datetime.date) -> int:
    # The last change into the tier from another one (a registration has no tier before it: instructor_since).
    change = (profile.changes.exclude(from_tier__isnull=True).exclude(from_tier=profile.tier)
              .filter(to_tier=profile.tier).order_by("-changed_at").first())
    since = timezone.localdate(change.changed_at) if change else profile.instructor_since
    return (on - since).days // 365


def _refresher_done(profile: InstructorProfile, rule: AssessmentRule, year: int) -> bool:
    from courses.models import Enrolment

    start, end = record_mod.year_bounds(year)
    return Enrolment.objects.filter(user_id=profile.user_id, training_class__programme=rule.refresher,
                                    training_class__ends_on__range=(start, end)).exclude(
        status=Enrolment.Status.WITHDRAWN).exclude(training_class__status="cancelled").exists()


def _criterion(code: str, value, threshold, ok: bool | None, effect: str, **extra) -> dict:
    """One criterion as stored: raw values (rendered in the reader's language by ``instructors.presentation``)."""
    return {"code": code, "value": None if value is None else str(value),
            "threshold": None if threshold is None else str(threshold), "ok": ok, "effect": effect, **extra}


def evaluate(profile: InstructorProfile, rule: AssessmentRule, year: int, figures: record_mod.Figures,
             findings: dict, certificate, *, today: datetime.date) -> tuple[str, list[dict], list[str]]:
    """(proposal, criteria, reason codes) for one instructor: the rules of the module docstring. The reason
    codes are criterion codes, or ``first_tier``, ``all_promotion_criteria``, ``not_yet_promoted``."""
    c: list[dict] = []
    if profile.tier.qualification_id is not None:
        c.append(_criterion("qualification", certificate.expires_on.isoformat() if certificate else None, None,
                            certificate is not None, SUSPEND))
    critical, major = findings.get("critical", 0), findings.get("major", 0)
    c.append(_criterion("critical_findings", critical, 0, critical == 0, SUSPEND))
    c.append(_criterion("hours", figures.hours, rule.min_hours, figures.hours >= rule.min_hours, DEMOTE))
    rate = figures.practical_pass_pct
    c.append(_criterion("pass_rate", rate, rule.pass_rate_min_pct,
                        None if rate is None else rate >= rule.pass_rate_min_pct, DEMOTE))
    enough = figures.feedback_n >= rule.min_feedback_responses
    fb = figures.feedback_mean
    answers = {"answers": figures.feedback_n, "needed": rule.min_feedback_responses}
    c.append(_criterion("feedback", fb, rule.min_feedback,
                        (fb >= rule.min_feedback) if (enough and fb is not None) else None, DEMOTE, **answers))
    c.append(_criterion("major_findings", major, rule.max_major_findings, major <= rule.max_major_findings, DEMOTE))
    if rule.refresher_id:
        done = _refresher_done(profile, rule, year)
        c.append(_criterion("refresher", None, None, done, DEMOTE, programme=rule.refresher.name))
    higher = Tier.objects.filter(is_active=True, rank__gt=profile.tier.rank).order_by("rank").first()
    cpr = figures.cpr_mean_pct
    years = _years_in_tier(profile, today)
    c += [
        _criterion("promote_hours", figures.hours, rule.promote_min_hours, figures.hours >= rule.promote_min_hours,
                   PROMOTE),
        _criterion("promote_feedback", fb, rule.promote_min_feedback,
                   enough and fb is not None and fb >= rule.promote_min_feedback, PROMOTE, **answers),
        _criterion("promote_cpr", cpr, rule.promote_min_cpr_pct, cpr is not None and cpr >= rule.promote_min_cpr_pct,
                   PROMOTE),
        _criterion("credible_pass_rate", rate, rule.pass_rate_max_pct, rate is not None and rate <= rule.pass_rate_max_pct,
                   PROMOTE),
        _criterion("promote_no_major", major, 0, major == 0, PROMOTE),
        _criterion("promote_years", years, rule.promote_min_years, years >= rule.promote_min_years, PROMOTE),
        _criterion("higher_tier", higher.name if higher else None, None, higher is not None, PROMOTE),
    ]
    missed = [x for x in c if x["ok"] is False]
    suspend = [x["code"] for x in missed if x["effect"] == SUSPEND]
    demote = [x["code"] for x in missed if x["effect"] == DEMOTE]
    if suspend:
        return Outcome.SUSPEND, c, suspend + demote
    if demote:
        if not Tier.objects.filter(is_active=True, rank__lt=profile.tier.rank).exists():
            return Outcome.SUSPEND, c, demote + ["first_tier"]
        return Outcome.DEMOTE, c, demote
    unmet = [x["code"] for x in c if x["effect"] == PROMOTE and not x["ok"]]
    if not unmet:
        return Outcome.PROMOTE, c, ["all_promotion_criteria"]
    return Outcome.KEEP, c, ["not_yet_promoted"] + unmet


def run_assessment(actor, year: int, *, today: datetime.date | None = None) -> list[Assessment]:
    """Compute (or recompute, while still proposed) the year's assessment of every instructor in the
    actor's region. Decided assessments are left as they are. Returns the year's assessments."""
    from inspections import api as inspections_api

    from . import standing

    today = today or timezone.localdate()
    if not (lms_permissions.is_system_admin(actor) or lms_permissions.administered_regions(actor)):
        raise PermissionDenied(_("Only region admins run the annual assessment."))
    if not isinstance(year, int) or year < 2000 or year > today.year:
        raise ValidationError({"year": [_("Choose a year up to this one.")]})
    profiles = list(profiles_in_scope(actor).select_related("tier__qualification"))
    missing_rule = [p for p in profiles if rule_for(year, p.tier) is None]
    if profiles and len(missing_rule) == len(profiles):
        raise ValidationError({"year": [_("There is no assessment rule for %(year)s: add one first.") % {"year": year}]})
    ids = [p.user_id for p in profiles]
    figures = record_mod.records(ids, year=year, today=today)
    findings = inspections_api.findings_by_instructor(ids, year=year)
    certificates = standing.qualification_of(profiles, today=today)
    decided = set(Assessment.objects.filter(year=year, profile__in=profiles).exclude(
        status=Assessment.Status.PROPOSED).values_list("profile_id", flat=True))
    now = timezone.now()
    done = []
    with transaction.atomic():
        for profile in profiles:
            rule = rule_for(year, profile.tier)
            if rule is None or profile.pk in decided:
                continue
            proposal, criteria, reasons = evaluate(profile, rule, year, figures[profile.user_id],
                                                   findings.get(profile.user_id, {}),
                                                   certificates.get(profile.user_id), today=today)
            assessment, _created = Assessment.objects.update_or_create(
                profile=profile, year=year,
                defaults={"rule": rule, "tier": profile.tier, "figures": figures[profile.user_id].as_json(),
                          "criteria": criteria, "proposal": proposal, "reasons": reasons, "computed_at": now})
            done.append(assessment)
        lms_api.record_audit(actor, "instructors.assessment.run", None,
                             after={"year": year, "computed": len(done), "decided_before": len(decided),
                                    "without_rule": len(missing_rule)})
    return list(Assessment.objects.filter(year=year, profile__in=profiles)
                .select_related("profile__user", "tier").order_by("profile__user__real_name", "pk"))


def _apply(actor, profile: InstructorProfile, outcome: str, assessment: Assessment, reason: str) -> None:
    before_tier, before_status = profile.tier, profile.status
    if outcome == Outcome.PROMOTE:
        tier = Tier.objects.filter(is_active=True, rank__gt=profile.tier.rank).order_by("rank").first()
        if tier is None:
            raise ValidationError({"decision": [_("There is no higher tier.")]})
        profile.tier = tier
    elif outcome == Outcome.DEMOTE:
        tier = Tier.objects.filter(is_active=True, rank__lt=profile.tier.rank).order_by("-rank").first()
        if tier is None:
            raise ValidationError({"decision": [_("There is no lower tier: suspend instead.")]})
        profile.tier = tier
    elif outcome == Outcome.SUSPEND:
        profile.status = InstructorProfile.Status.SUSPENDED
        profile.status_reason = reason
    if (profile.tier, profile.status) != (before_tier, before_status):
        profile.save()
        StandingChange.objects.create(profile=profile, from_tier=before_tier, to_tier=profile.tier,
                                      from_status=before_status, to_status=profile.status, reason=reason,
                                      assessment=assessment, changed_by=actor)


def decide(actor, assessment: Assessment, *, decision: str, reason: str = "") -> Assessment:
    """Confirm the proposal (``decision`` equal to it) or override it (another decision, with a reason)."""
    reason = (reason or "").strip()
    if decision not in Outcome.values:
        raise ValidationError({"decision": [_("Choose a decision.")]})
    with transaction.atomic():
        a = Assessment.objects.select_for_update(of=("self",)).select_related("profile__user__region", "profile__tier",
                                                                  "profile__training_base__region").get(pk=assessment.pk)
        if not can_assess(actor, a.profile):
            raise PermissionDenied(_("This instructor belongs to another region."))
        if a.status != Assessment.Status.PROPOSED:
            raise ValidationError(_("This assessment has already been decided."))
        if decision != a.proposal and len(reason) < 4:
            raise ValidationError({"reason": [_("Give the reason for overriding the proposal.")]})
        profile = InstructorProfile.objects.select_for_update(of=("self",)).select_related("tier").get(pk=a.profile_id)
        if profile.tier_id != a.tier_id:
            raise ValidationError(_("The instructor's tier changed since the assessment was computed: run it again."))
        a.status = Assessment.Status.CONFIRMED if decision == a.proposal else Assessment.Status.OVERRIDDEN
        a.decision, a.decision_reason = decision, reason
        a.decided_by, a.decided_at = actor, timezone.now()
        a.save()
        from .presentation import reason_lines

        _apply(actor, profile, decision, a, reason or "; ".join(reason_lines(a)))
        lms_api.record_audit(actor, "instructors.assessment.decide", a, after={
            "year": a.year, "proposal": a.proposal, "decision": decision, "reason": reason,
            "tier": profile.tier.code, "status": profile.status})
    return a


def assessments_visible(actor):
    return Assessment.objects.filter(profile__in=profiles_in_scope(actor)).select_related(
        "profile__user", "tier", "decided_by")
