"""The inspections app's personal data (see ``lms.privacy``): the inspections a person carried out or planned,
the checklist changes and findings they recorded, the follow-ups they wrote. Nothing of an inspection is
exported to the class's side (it may be planned and secret); the trainees' attendance is a list of enrolments
kept with the inspection."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy

from lms import privacy

from .models import ChecklistChange, Finding, FollowUp, Inspection, InspectionPlan


def _export(person) -> privacy.Rows:
    rows = []
    for i in (Inspection.objects.filter(Q(inspector=person) | Q(created_by=person))
              .select_related("training_class").order_by("created_at", "pk")):
        rows.append({"kind": "inspection", "role": "inspector" if i.inspector_id == person.pk else "planner",
                     "class": i.training_class.name, "status": i.status, "scheduled_on": i.scheduled_on,
                     "started_at": i.started_at, "submitted_at": i.submitted_at})
    for p in InspectionPlan.objects.filter(created_by=person).order_by("created_at", "pk"):
        rows.append({"kind": "plan", "name": p.name, "created_at": p.created_at})
    rows += [{"kind": "checklist change", "inspection": c.inspection_id, "applied_at": c.applied_at}
             for c in ChecklistChange.objects.filter(by=person).order_by("applied_at", "pk")]
    rows += [{"kind": "finding", "inspection": f.inspection_id, "severity": f.severity, "created_at": f.created_at}
             for f in Finding.objects.filter(created_by=person).order_by("created_at", "pk")]
    rows += [{"kind": "follow-up", "finding": u.finding_id, "follow_up": u.kind, "note": u.note, "at": u.at}
             for u in FollowUp.objects.filter(by=person).order_by("at", "pk")]
    return rows


privacy.register(privacy.Declaration(
    key="inspections.work",
    title=gettext_lazy("Inspections"),
    models=["inspections.Inspection", "inspections.InspectionPlan", "inspections.ChecklistChange",
            "inspections.Finding", "inspections.FollowUp"],
    holds=gettext_lazy("The inspections you planned or carried out, the checklist changes and findings you "
                       "recorded and the follow-ups you wrote."),
    export=_export,
    kept=[(gettext_lazy("Inspections, findings and follow-ups"),
           gettext_lazy("the quality record of the training and the instructors' annual assessment rest on them"))],
    order=80,
))
privacy.not_personal("inspections.Checklist", gettext_lazy("A checklist's name is the name of a form, not of a person"))
