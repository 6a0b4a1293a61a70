"""Thin views of the practical exam (rules in ``exams/practical.py``).

Who sees what: a session's page is for the admins of its exam room's region and its examiners; a
booking's page for them, its candidate and the reviewer of its appeal; anyone else gets 404 (the
object's existence is not revealed). Every action is refused on the server by the api with its reason.
"""

from __future__ import annotations

import datetime
import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import Programme
from lms import api as lms_api
from lms.models import User
from lms.numbers import score as fmt_score
from lms.errors import messages_of as _messages_of
from manikin import api as manikin_api
from manikin.models import Room

from . import practical
from .practical_models import Appeal, Booking, PracticalSession

MAX_BODY_BYTES = 256 * 1024


def _act(request, call, success, to):
    """Run one api action: its refusal becomes an error message, its success ``success`` (a text, or a
    function of what the action returned); then on to ``to``."""
    try:
        done = call()
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _messages_of(exc))
    else:
        messages.success(request, success(done) if callable(success) else success)
    return to


def _session_or_404(request, session_id: int) -> PracticalSession:
    session = get_object_or_404(PracticalSession.objects.select_related("room__organisation__region", "programme",
                                                                        "scheme"), pk=session_id)
    if not practical.can_view_session(request.user, session):
        raise Http404
    return session


def _booking_or_404(request, booking_id: int) -> Booking:
    booking = get_object_or_404(Booking.objects.select_related(
        "session__room__organisation__region", "session__programme", "session__scheme", "candidate", "station",
        "examiner", "cpr_recording"), pk=booking_id)
    if not practical.can_view_booking(request.user, booking):
        raise Http404
    return booking


# ---------------------------------------------------------------- the hub

@never_cache
@login_required
@require_GET
def home(request):
    """实操考核: a candidate's bookings and the sessions they can book; an examiner's sessions; an
    admin's sessions (their region)."""
    user = request.user
    planner_sessions = None
    if lms_api.is_system_admin(user) or lms_api.administered_regions(user):
        planner_sessions = (practical.visible_sessions(user).filter(date__gte=timezone.localdate()
                                                                    - datetime.timedelta(days=30))
                            .order_by("date", "starts_at")[:100])
    return render(request, "exams/practical/home.html", {
        "bookings": list(practical.bookings_of(user)),
        "bookable": practical.bookable_sessions(user),
        "examining": list(practical.sessions_of_examiner(user)[:50]) if practical.is_examiner(user) else [],
        "planner_sessions": planner_sessions, "today": timezone.localdate(),
    })


@login_required
@require_POST
def book_self(request, session_id: int):
    session = get_object_or_404(PracticalSession, pk=session_id)
    return _act(request, lambda: practical.book(request.user, session, request.user),
                _("Booked. Bring your ID card on the day."), redirect("exams:practical"))


# ---------------------------------------------------------------- sessions

class SessionForm(forms.Form):
    programme = forms.ModelChoiceField(label=gettext_lazy("Programme"), queryset=Programme.objects.none())
    room = forms.ModelChoiceField(label=gettext_lazy("Exam room"), queryset=Room.objects.none())
    date = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    starts_at = forms.TimeField(label=gettext_lazy("First slot starts at"),
                                widget=forms.TimeInput(attrs={"type": "time"}))
    slots = forms.IntegerField(label=gettext_lazy("Slots"), min_value=1, max_value=48, initial=6)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = Programme.objects.filter(practical_schemes__isnull=False,
                                                                     is_active=True).distinct()
        self.fields["room"].queryset = (manikin_api.visible_rooms(user).filter(mode=Room.Mode.EXAM)
                                        .select_related("organisation"))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def session_new(request):
    if not (lms_api.is_system_admin(request.user) or lms_api.administered_regions(request.user)):
        raise PermissionDenied(_("Only region admins plan practical exams."))
    form = SessionForm(request.user, request.POST or None, initial={"date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            session = practical.plan_session(request.user, **form.cleaned_data)
        except (PermissionDenied, ValidationError) as exc:
            if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
                for name, errs in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errs)
            else:
                form.add_error(None, _messages_of(exc))
        else:
            messages.success(request, _("The session is planned. Now assign or draw its examiners."))
            return redirect("exams:practical_session", session_id=session.pk)
    return render(request, "exams/practical/session_new.html", {"form": form})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def session_page(request, session_id: int):
    session = _session_or_404(request, session_id)
    planner = practical.can_plan(request.user, session.room)
    if request.method == "POST":
        if not planner:
            raise PermissionDenied(_("Only the admins of this exam site's region can change this session."))
        action = request.POST.get("action")
        try:
            if action == "book":
                candidate = _find_candidate(request.user, request.POST.get("candidate", ""))
                practical.book(request.user, session, candidate)
                messages.success(request, _("%(name)s is booked.") % {"name": candidate.display_name})
            elif action == "assign":
                examiner = get_object_or_404(User, pk=_int(request.POST.get("examiner")))
                practical.assign_examiner(request.user, session, examiner)
                messages.success(request, _("%(name)s examines this session.") % {"name": examiner.display_name})
            elif action == "draw":
                draw = practical.draw_examiners(request.user, session, count=_int(request.POST.get("count")),
                                                seed=(request.POST.get("seed") or "").strip()[:64] or None)
                messages.success(request, _("Drew %(n)s examiners (seed %(seed)s).") % {"n": draw.count,
                                                                                        "seed": draw.seed})
            else:
                raise ValidationError(_("Unknown action."))
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _messages_of(exc))
        return redirect("exams:practical_session", session_id=session.pk)
    bookings = list(session.bookings.exclude(status=Booking.Status.CANCELLED)
                    .select_related("candidate", "station", "examiner").order_by("slot", "pk"))
    latest = {b.pk: practical.latest_result(b) for b in bookings}
    slots = [{"number": n, "starts": practical.slot_start(session, n),
              "bookings": [(b, latest[b.pk]) for b in bookings if b.slot == n]} for n in range(1, session.slots + 1)]
    pool, excluded = practical.examiner_pool(session) if planner else ([], [])
    people = {u.pk: u for u in User.objects.filter(pk__in=pool + [e["examiner"] for e in excluded])}
    return render(request, "exams/practical/session.html", {
        "session": session, "planner": planner, "slots": slots, "capacity": practical.capacity(session),
        "booked": len(bookings), "examiners": practical.session_examiners(session),
        "draws": list(session.draws.select_related("drawn_by")),
        "pool": [people[pk] for pk in pool], "excluded": [(people[e["examiner"]], e["reason"]) for e in excluded],
        "stations": practical.stations_of(session.room), "is_today": session.date == timezone.localdate(),
    })


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _find_candidate(actor, text: str) -> User:
    """The person an admin means: an exact login name, or a unique real name, among the people they see."""
    text = (text or "").strip()
    if not text:
        raise ValidationError(_("Type the candidate's login name or full name."))
    people = lms_api.visible_people(actor)
    found = list(people.filter(username=text)[:1]) or list(people.filter(real_name=text)[:2])
    if not found:
        raise ValidationError(_("Nobody called “%(text)s” in your region.") % {"text": text[:40]})
    if len(found) > 1:
        raise ValidationError(_("Several people are called “%(text)s”: type the login name.") % {"text": text[:40]})
    return found[0]


# ---------------------------------------------------------------- a booking: the examiner's tablet page

def _state(booking: Booking, v: practical.Verdict, results: list, titles: dict[str, str]) -> dict:
    """What the tablet page follows (``booking_state``), from the booking as just read."""
    rec = booking.cpr_recording
    return {
        "status": booking.status,
        "cpr": None if rec is None else {
            "recording": rec.pk, "running": rec.stopped_at is None, "score": fmt_score(rec.score)
            if rec.score is not None else None, "passed": rec.passed, "samples": rec.sample_count,
            "late_samples": rec.late_samples, "outcome": rec.outcome, "reason": rec.outcome_reason},
        "ticks": v.ticks, "points": str(v.points), "max_points": v.max_points, "passed": v.passed,
        "critical_missed": v.critical_missed, "problems": v.problems,
        "missed_titles": [titles.get(k, k) for k in v.critical_missed],
        "versions": [{"number": r.number, "reason": r.reason, "passed": r.passed, "points": str(r.points)}
                     for r in results],
    }


def _item_titles(booking: Booking) -> dict[str, str]:
    titles = {i["key"]: i["title"] for i in booking.session.scheme.items}
    titles["cpr"] = _("CPR on the manikin (must pass its standard)")
    return titles


@never_cache
@login_required
@require_GET
def booking_page(request, booking_id: int):
    booking = _booking_or_404(request, booking_id)
    user = request.user
    examines = booking.session.session_examiners.filter(examiner=user).exists()
    conflicts = practical.examiner_conflicts(user, booking.candidate) if examines else []
    results = practical.results_of(booking)
    checks = {r.pk: practical.verify_result(r, results[i - 1] if i else None) for i, r in enumerate(results)}
    appeals = list(booking.appeals.select_related("reviewer", "filed_by", "new_result"))
    pending = next((a for a in appeals if a.status == Appeal.Status.PENDING), None)
    planner = practical.can_plan(user, booking.session.room)
    reviewers = []
    if planner and pending and pending.reviewer_id is None:
        reviewers = [u for u in User.objects.filter(role_assignments__role="examiner", is_active=True)
                     .distinct().order_by("pk")[:200] if practical.reviewer_refusal(u, pending) is None]
    titles = _item_titles(booking)
    for r in results:
        r.missed_titles = [titles.get(k, k) for k in r.critical_missed]
    draft = practical.draft(booking)
    latest = results[-1] if results else None
    return render(request, "exams/practical/booking.html", {
        "missed": [titles.get(k, k) for k in draft.critical_missed],
        "latest_missed": [titles.get(k, k) for k in latest.critical_missed] if latest else [],
        "latest_ticks": latest.evidence["checklist"]["ticks"] if latest else {},
        "booking": booking, "session": booking.session, "scheme": booking.session.scheme,
        "examines": examines, "conflicts": conflicts, "is_candidate": user.pk == booking.candidate_id,
        "is_mine": booking.examiner_id == user.pk, "draft": draft, "results": results,
        "checks": checks, "latest": latest, "appeals": appeals, "pending": pending,
        "planner": planner, "reviewers": reviewers, "is_reviewer": bool(pending and pending.reviewer_id == user.pk),
        "free_stations": practical.free_stations(booking) if examines else [],
        "state_json": _state(booking, draft, results, titles), "is_today": booking.session.date == timezone.localdate(),
        "labels": {"offline": _("No connection to the server: the checklist is kept on this tablet and sent when "
                                "the link is back."),
                   "pending": _("Entries not yet sent: %(n)s"), "sent": _("All entries are on the server."),
                   "rejected": _("Not accepted:"), "late": _("Late evidence: the CPR samples spooled through an "
                                                              "outage arrived and the result has a new version.")},
    })


@login_required
@require_GET
def booking_state(request, booking_id: int):
    booking = _booking_or_404(request, booking_id)
    state = _state(booking, practical.draft(booking), practical.results_of(booking), _item_titles(booking))
    response = JsonResponse(state, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def booking_photo(request, booking_id: int):
    booking = _booking_or_404(request, booking_id)
    if not booking.candidate.photo:
        raise Http404
    response = FileResponse(booking.candidate.photo.open("rb"))
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def check_in(request, booking_id: int):
    booking = _booking_or_404(request, booking_id)
    station = None
    if request.POST.get("station"):
        station = next((s for s in practical.stations_of(booking.session.room)
                        if str(s.pk) == request.POST["station"]), None)
    return _act(request, lambda: practical.check_in(
        request.user, booking, identity_confirmed=request.POST.get("identity_confirmed") == "1",
        photo=request.FILES.get("photo"), station=station),
        _("Checked in."), redirect("exams:practical_booking", booking_id=booking.pk))


@login_required
@require_POST
def booking_status(request, booking_id: int):
    """``action=cancel`` (the candidate or an admin, before check-in) or ``action=absent`` (the examiner)."""
    booking = _booking_or_404(request, booking_id)
    action = request.POST.get("action")
    if action == "cancel":
        return _act(request, lambda: practical.cancel_booking(request.user, booking), _("The booking is cancelled."),
                    redirect("exams:practical"))
    if action == "absent":
        return _act(request, lambda: practical.mark_absent(request.user, booking), _("Recorded as absent."),
                    redirect("exams:practical_session", session_id=booking.session_id))
    messages.error(request, _("Unknown action."))
    return redirect("exams:practical_booking", booking_id=booking.pk)


@login_required
@require_POST
def checklist(request, booking_id: int):
    """JSON ``{"entries": [...]}`` from the tablet (answered in JSON), or the page's form without script."""
    booking = _booking_or_404(request, booking_id)
    as_json = request.content_type == "application/json"
    try:
        if as_json:
            if len(request.body) > MAX_BODY_BYTES:
                raise ValidationError(_("The request is too large."))
            try:
                data = json.loads(request.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ValidationError(_("The request is not valid JSON.")) from None
            entries = data.get("entries") if isinstance(data, dict) else None
        else:
            import uuid

            now = timezone.now().isoformat()
            done = set(request.POST.getlist("done"))
            entries = [{"id": str(uuid.uuid4()), "item": item["key"], "done": item["key"] in done, "at": now}
                       for item in booking.session.scheme.items]
        out = practical.record_checklist(request.user, booking, entries)
    except (PermissionDenied, ValidationError) as exc:
        if as_json:
            return JsonResponse({"error": _messages_of(exc)}, status=403 if isinstance(exc, PermissionDenied) else 400,
                                json_dumps_params={"ensure_ascii": False})
        messages.error(request, _messages_of(exc))
        return redirect("exams:practical_booking", booking_id=booking.pk)
    if as_json:
        return JsonResponse(out, json_dumps_params={"ensure_ascii": False})
    if out["rejected"]:
        messages.error(request, "; ".join(r["reason"] for r in out["rejected"]))
    else:
        messages.success(request, _("Checklist saved."))
    return redirect("exams:practical_booking", booking_id=booking.pk)


@login_required
@require_POST
def sign(request, booking_id: int):
    booking = _booking_or_404(request, booking_id)
    return _act(request, lambda: practical.sign(request.user, booking, confirm=request.POST.get("confirm") == "1"),
                lambda result: _("Signed. The result and its evidence are frozen (SHA-256 %(hash)s…).")
                % {"hash": result.sha256[:12]}, redirect("exams:practical_booking", booking_id=booking.pk))


@login_required
@require_POST
def appeal(request, booking_id: int):
    booking = _booking_or_404(request, booking_id)
    return _act(request, lambda: practical.file_appeal(request.user, booking, grounds=request.POST.get("grounds", "")),
                _("Your appeal is recorded. A second examiner will review it."),
                redirect("exams:practical_booking", booking_id=booking.pk))


@login_required
@require_POST
def appeal_review(request, appeal_id: int):
    """An admin assigns the reviewer (``reviewer``); the reviewer decides (``decision`` and the ticks)."""
    item = get_object_or_404(Appeal.objects.select_related("booking__session__room__organisation__region"),
                             pk=appeal_id)
    booking = _booking_or_404(request, item.booking_id)
    try:
        if "reviewer" in request.POST:
            reviewer = get_object_or_404(User, pk=_int(request.POST.get("reviewer")))
            practical.assign_reviewer(request.user, item, reviewer)
            messages.success(request, _("%(name)s reviews this appeal.") % {"name": reviewer.display_name})
        else:
            done = set(request.POST.getlist("done"))
            ticks = {i["key"]: i["key"] in done for i in booking.session.scheme.items}
            practical.decide_appeal(request.user, item, decision=request.POST.get("decision", ""), ticks=ticks)
            messages.success(request, _("The decision is recorded as a new version of the result."))
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _messages_of(exc))
    return redirect("exams:practical_booking", booking_id=booking.pk)
