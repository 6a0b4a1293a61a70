"""The exams app's personal data: theory-exam attempts (with their answers and page leaves), grants
of extra time or attempts, and the bank questions a person wrote (see ``lms.privacy`` for the
declarations API and docs/privacy.md for the retention choices).
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lms import privacy

from .models import Attempt, Grant, QuestionVersion

LETTERS = "ABCDEFGHIJ"


def _letters(positions) -> str:
    return "".join(LETTERS[p] if 0 <= p < len(LETTERS) else "?" for p in positions)


def _export_attempts(person) -> privacy.Rows:
    """The person's own attempts in full (times, score, result, leaves, the answers that count, in the
    letters the person saw); of attempts they voided as staff only when (the trainee and the score
    are the trainee's data)."""
    from .attempts import current_answers, displayed

    rows = []
    qs = (Attempt.objects.filter(Q(user=person) | Q(voided_by=person))
          .select_related("blueprint__programme").order_by("started_at", "pk"))
    for a in qs:
        if a.user_id != person.pk:
            rows.append({"attempt": a.pk, "role": _("staff") + " (" + _("Voided") + ")",
                         "exam": a.blueprint.name, "voided_at": a.voided_at})
            continue
        answers = current_answers(a)
        items = list(a.items.select_related("version__question").order_by("position"))
        rows.append({
            "attempt": a.pk, "role": _("trainee"), "exam": a.blueprint.name,
            "programme": a.blueprint.programme.name, "number": a.number, "status": str(a.get_status_display()),
            "started_at": a.started_at, "deadline_at": a.deadline_at, "submitted_at": a.submitted_at,
            "submitted_by": str(a.get_submitted_by_display()) if a.submitted_by else "",
            "score_points": a.score_points, "max_points": a.max_points, "score_pct": a.score_pct,
            "passed": a.passed, "leave_count": a.leave_count,
            "leaves": [{"left_at": v.left_at, "returned_at": v.returned_at, "seconds": v.seconds}
                       for v in a.leaves.order_by("left_at", "pk")],
            "answers": [{"position": i.position, "question": f"{i.version.question.code} v{i.version.number}",
                         "choice": _letters(displayed(i, answers[i.pk])) if i.pk in answers else ""}
                        for i in items],
            "voided_at": a.voided_at, "void_reason": a.void_reason,
        })
    return rows


def _export_grants(person) -> privacy.Rows:
    """Grants the person received in full; grants they gave as staff: only the kind and when."""
    rows = []
    for g in (Grant.objects.filter(Q(user=person) | Q(granted_by=person)).select_related("blueprint")
              .order_by("created_at", "pk")):
        row = {"grant": g.pk, "exam": g.blueprint.name, "kind": str(g.get_kind_display()),
               "extra_time_s": g.extra_time_s, "created_at": g.created_at}
        if g.user_id == person.pk:
            row.update(role=_("trainee"), reason=g.reason, used=g.used_by_id is not None)
        else:
            row.update(role=_("staff"))
        rows.append(row)
    return rows


def _anonymise_grants(person) -> dict[str, int]:
    """Erase the reasons of the grants the person received (they may tell of health or family matters)."""
    return {"grant_reasons": Grant.objects.filter(user=person).exclude(reason="").update(reason="")}


def _export_questions_written(person) -> privacy.Rows:
    return [{"question": v.question.code, "version": v.number, "created_at": v.created_at}
            for v in QuestionVersion.objects.filter(created_by=person).select_related("question")
            .order_by("created_at", "pk")]


privacy.register(privacy.Declaration(
    key="exams.attempts", order=160,
    title=gettext_lazy("Theory exam attempts"),
    models=["exams.Attempt", "exams.PaperItem", "exams.AnswerEvent", "exams.LeaveEvent"],
    holds=gettext_lazy("Your online theory exam attempts: when you started and submitted, the questions drawn, "
                       "the answers that count, the score and the result, and each time you left the exam page; "
                       "and the attempts you voided as staff."),
    export=_export_attempts,
    anonymise=None,
    kept=[(gettext_lazy("Attempts, answers, scores and page leaves, attributed to “Deleted user #id”"),
           gettext_lazy("Exam records: the theory result behind a certificate stays verifiable and the exam can be "
                        "audited; they no longer name the person, and they count in anonymous question statistics")),
          (gettext_lazy("Who voided an attempt, and why"),
           gettext_lazy("Integrity of the exam record: a staff member's actions stay attributable"))],
))
privacy.register(privacy.Declaration(
    key="exams.grants", order=161,
    title=gettext_lazy("Exam extra time and attempts"),
    models=["exams.Grant"],
    holds=gettext_lazy("Extra time or extra attempts at a theory exam given to you, with the reason; and those "
                       "you gave as staff."),
    export=_export_grants,
    anonymise=_anonymise_grants,
    erased=[gettext_lazy("The reasons given for your extra time or extra attempts")],
    kept=[(gettext_lazy("The kind of each grant, when, and who gave it"),
           gettext_lazy("An attempt's time limit and the number of attempts made stay explainable"))],
))
privacy.register(privacy.Declaration(
    key="exams.questions_written", order=162,
    title=gettext_lazy("Exam questions written"),
    models=["exams.QuestionVersion"],
    holds=gettext_lazy("The versions of question-bank questions you wrote or edited as staff."),
    export=_export_questions_written,
    anonymise=None,
    kept=[(gettext_lazy("Who wrote each question version, attributed to “Deleted user #id”"),
           gettext_lazy("The question bank's history stays auditable"))],
))
privacy.not_personal("exams.Blueprint", gettext_lazy("Exam blueprints (a blueprint's name)"))


def _export_practical(person) -> privacy.Rows:
    """The person's practical exam sittings (booking, check-in, every result version, appeals); as an
    examiner, which sittings they examined, signed or reviewed."""
    from .practical_models import Appeal, Booking, PracticalResult

    rows = []
    for b in (Booking.objects.filter(candidate=person).select_related("session__room__organisation", "station",
                                                                       "examiner").order_by("session__date", "pk")):
        rows.append({
            "role": _("candidate"), "booking": b.pk, "date": b.session.date,
            "site": f"{b.session.room.organisation.name} {b.session.room.name}", "slot": b.slot,
            "station": b.station.name if b.station else None, "status": str(b.get_status_display()),
            "checked_in_at": b.checked_in_at, "examiner": b.examiner.display_name if b.examiner else None,
            "results": [{"version": r.number, "reason": str(r.get_reason_display()), "note": r.note,
                         "points": str(r.points), "max_points": r.max_points, "passed": r.passed,
                         "critical_missed": r.critical_missed, "signed_at": r.signed_at, "sha256": r.sha256}
                        for r in b.results.order_by("number")],
            "appeals": [{"grounds": a.grounds, "filed_at": a.filed_at, "status": str(a.get_status_display()),
                         "decision": a.decision, "decided_at": a.decided_at} for a in b.appeals.order_by("filed_at")],
        })
    examined = Booking.objects.filter(Q(examiner=person) | Q(checked_in_by=person)).values_list("pk", flat=True)
    signed = PracticalResult.objects.filter(signed_by=person).values_list("booking_id", flat=True)
    reviewed = Appeal.objects.filter(reviewer=person).values_list("booking_id", flat=True)
    staff = sorted(set(examined) | set(signed) | set(reviewed))
    if staff:
        rows.append({"role": _("examiner"), "bookings": staff})
    return rows


privacy.register(privacy.Declaration(
    key="exams.practical", order=163,
    title=gettext_lazy("Practical exams"),
    models=["exams.Booking", "exams.ChecklistEntry", "exams.PracticalResult", "exams.Appeal",
            "exams.PracticalSession", "exams.SessionExaminer", "exams.ExaminerDraw", "exams.PracticalScheme"],
    holds=gettext_lazy("Your practical exam bookings, check-ins, stations and examiners, every version of your "
                       "result with its reason and hash, and your appeals; as an examiner, the sittings you "
                       "examined, signed or reviewed."),
    export=_export_practical,
    anonymise=None,
    kept=[(gettext_lazy("Sittings, checklists, frozen results and appeals, attributed to “Deleted user #id”"),
           gettext_lazy("A certificate's practical result stays verifiable against its frozen evidence; the "
                        "results are never changed")),
          (gettext_lazy("Who examined, signed, drew or reviewed"),
           gettext_lazy("Integrity of the exam record: an examiner's actions stay attributable"))],
))
