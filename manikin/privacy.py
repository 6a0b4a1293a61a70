"""The manikin app's personal data: CPR recordings (see ``lms.privacy`` for the declarations API)."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lms import privacy

from .models import Recording


def _export_recordings(person) -> privacy.Rows:
    """The person's own recordings in full; of recordings they started or stopped for someone else,
    only when and where (the trainee and the score are the trainee's data)."""
    rows = []
    qs = (Recording.objects.filter(Q(trainee=person) | Q(started_by=person) | Q(stopped_by=person))
          .select_related("manikin__station__room__organisation").order_by("started_at", "pk"))
    for r in qs:
        room = r.manikin.station.room
        row = {"recording": r.pk, "started_at": r.started_at, "stopped_at": r.stopped_at,
               "site": str(room.organisation.name), "room": room.name}
        if r.trainee_id == person.pk:
            row.update(role=_("trainee"), purpose=str(r.get_purpose_display()), standard=r.standard_id,
                       manikin=str(r.manikin), score=r.score, passed=r.passed, outcome=str(r.get_outcome_display()),
                       reason=r.outcome_reason, samples=r.sample_count, result=r.result)
        else:
            roles = [n for n, who in ((_("started"), r.started_by_id), (_("stopped"), r.stopped_by_id))
                     if who == person.pk]
            row.update(role=_("staff") + " (" + "、".join(roles) + ")")
        rows.append(row)
    return rows


privacy.register(privacy.Declaration(
    key="manikin.recordings", order=200,
    title=gettext_lazy("CPR recordings"),
    models=["manikin.Recording", "manikin.Frame"],
    holds=gettext_lazy("Your CPR practice runs and exam attempts on smart manikins: when, where, the "
                       "standard, the score, the result and the measured compressions; and the recordings "
                       "you started or stopped as staff."),
    export=_export_recordings,
    anonymise=None,
    kept=[(gettext_lazy("Recordings, scores and measured samples, attributed to “Deleted user #id”"),
           gettext_lazy("Exam records: the result of a practical exam stays verifiable for the certificates "
                        "issued on it and for audits of the exam; they no longer name the person")),
          (gettext_lazy("Who started and stopped each recording"),
           gettext_lazy("Integrity of the exam record: an examiner's actions stay attributable"))],
))
for _label, _why in (
    ("manikin.Room", gettext_lazy("Rooms of an organisation (a room's name)")),
    ("manikin.Station", gettext_lazy("Stations (a station's name)")),
    ("manikin.Manikin", gettext_lazy("Manikins (their address is a Bluetooth address)")),
):
    privacy.not_personal(_label, _why)
