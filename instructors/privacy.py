"""The instructors app's personal data (see ``lms.privacy``): a person's standing as an instructor, its history,
the assessments about them and those they decided, the studios they head or belong to. Trainees' ratings are
not personal data of the trainee: the answer does not point to them (``instructors.feedback``); the receipt
says only that an enrolment answered, and is exported with it."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy

from lms import privacy

from .models import Assessment, FeedbackReceipt, InstructorProfile, StandingChange, Studio


def _export(person) -> privacy.Rows:
    rows = []
    profile = InstructorProfile.objects.filter(user=person).select_related("tier", "training_base").first()
    if profile is not None:
        rows.append({"kind": "instructor profile", "tier": profile.tier.name, "status": profile.status,
                     "status_reason": profile.status_reason, "instructor_since": profile.instructor_since,
                     "training_base": profile.training_base.name if profile.training_base_id else None})
        rows += [{"kind": "standing change", "from_tier": c.from_tier.name if c.from_tier_id else None,
                  "to_tier": c.to_tier.name, "from_status": c.from_status, "to_status": c.to_status,
                  "reason": c.reason, "changed_at": c.changed_at}
                 for c in profile.changes.select_related("from_tier", "to_tier").order_by("changed_at", "pk")]
    rows += [{"kind": "assessment", "year": a.year, "tier": a.tier.name, "figures": a.figures,
              "proposal": a.proposal, "decision": a.decision, "decision_reason": a.decision_reason,
              "decided_at": a.decided_at}
             for a in Assessment.objects.filter(profile__user=person).select_related("tier").order_by("year")]
    rows += [{"kind": "assessment decided", "assessment": a.pk, "year": a.year, "decision": a.decision,
              "decided_at": a.decided_at}
             for a in Assessment.objects.filter(decided_by=person).order_by("decided_at", "pk")]
    rows += [{"kind": "standing change made", "profile": c.profile_id, "changed_at": c.changed_at}
             for c in StandingChange.objects.filter(changed_by=person).exclude(profile__user=person)
             .order_by("changed_at", "pk")]
    rows += [{"kind": "studio", "studio": s.name, "role": "head" if s.head_id == person.pk else "member"}
             for s in Studio.objects.filter(Q(head=person) | Q(memberships__user=person)).distinct().order_by("pk")]
    rows += [{"kind": "class rated", "class": r.enrolment.training_class.name}
             for r in FeedbackReceipt.objects.filter(enrolment__user=person).select_related("enrolment__training_class")]
    return rows


privacy.register(privacy.Declaration(
    key="instructors.standing",
    title=gettext_lazy("Instructor standing"),
    models=["instructors.InstructorProfile", "instructors.StandingChange", "instructors.Assessment",
            "instructors.Studio", "instructors.StudioMembership"],
    holds=gettext_lazy("Your tier and status as an instructor and their history, your annual assessments, the "
                       "assessments you decided, and the studios you head or belong to; that you rated a class "
                       "(not what you answered: the rating does not point to you)."),
    export=_export,
    kept=[(gettext_lazy("Instructor standing, assessments and studio membership"),
           gettext_lazy("who was qualified to teach and examine, and why, must stay on record for the classes and "
                        "exams they took part in"))],
    order=75,
))
privacy.not_personal("instructors.Tier", gettext_lazy("A tier's name is the name of a grade, not of a person"))
