"""The practical exam (线下考操作): sessions, 考培分离, bookings, check-in, checklists, signed results.

The rules, in the order an exam day meets them:

- **Sessions** are planned by the admins of the exam room's region: a programme's current scheme, an
  exam-mode room whose standard is the scheme's CPR standard, a date (today or later), the first slot's
  time and the number of slots. Capacity is the room's stations × the slots.
- **考培分离**: an examiner may not examine a candidate from a class they taught, from a class run by a
  studio they belong to, or from their own organisation (the candidate's employer or school, or the
  training base that ran the candidate's class). :func:`examiner_conflicts` says why, in words. The
  rule holds for every examiner of a session against every candidate of it: checked when an examiner
  is assigned or drawn, when a candidate is booked, and again at check-in, at the CPR item's start,
  for every checklist entry and at sign-off.
- **Booking**: the candidate passed the programme's theory exam within the scheme's
  ``theory_valid_days`` before the session's date; has no other open booking for the programme; has
  not passed it already; has sittings left under the retake rules and has waited
  ``retake_wait_days`` since the last one. A candidate books themselves, or an admin books them.
- **On the day**: the examiner checks the candidate in (photo and masked ID-card number shown; a photo
  can be taken there; the examiner confirms the identity explicitly) and the candidate gets a station.
  The CPR item is started and stopped from the room console (``manikin``); a start for a candidate
  with a booking in one of the room's sessions today is refused unless they are checked in, examined
  by this examiner, on their station. The checklist's entries come from the examiner's tablet, each
  with its own id (a resend is stored once); the latest entry of an item counts.
- **Verdict**: the CPR item earns ``cpr_points × score / 100`` (rounded down to 0.1 point), each
  ticked checklist item its points. The candidate passes when the total reaches the pass mark, no
  critical item is missed and (if the scheme says so) the CPR item passed its standard.
- **Results** are frozen at sign-off (:func:`sign`): evidence and verdict in a canonical JSON form with
  a SHA-256 chained to the version before. Late samples of a signed CPR item make a new version
  ("late evidence"); an appeal's review makes a new version signed by the reviewer. Nothing is ever
  changed in place: :func:`verify_results` recomputes every hash and the samples' digests.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from courses import api as courses_api
from instructors import api as instructors_api
from lms import api as lms_api
from lms.models import Organisation, Role, User
from manikin import api as manikin_api
from manikin.models import Recording, Room, Station

from .models import Attempt
from .signals import practical_result_frozen
from .practical_models import (
    Appeal, Booking, ChecklistEntry, ExaminerDraw, PracticalResult, PracticalScheme, PracticalSession,
    SessionExaminer,
)

APPEAL_DAYS = 15  # a candidate may appeal within so many days of the signed result
LATE_EVIDENCE_SETTLE_S = 10  # late samples keep arriving for a while after a link is back: wait this long
ITEM_KEY_MAX = 40


# ------------------------------------------------------------------ canonical form and hashes

def canonical(value: Any) -> bytes:
    """The one byte form hashes are taken over: JSON, keys sorted, no spaces, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _iso(dt: datetime.datetime | None) -> str | None:
    return dt.astimezone(datetime.timezone.utc).isoformat(timespec="microseconds") if dt else None


def result_payload(result: PracticalResult) -> dict[str, Any]:
    """Everything a result version says, as hashed (the hash itself excluded)."""
    return {
        "booking": result.booking_id, "number": result.number, "reason": result.reason, "note": result.note,
        "evidence": result.evidence, "cpr_score": result.cpr_score, "points": str(result.points),
        "max_points": result.max_points, "passed": result.passed, "critical_missed": result.critical_missed,
        "previous_sha256": result.previous_sha256, "created_at": _iso(result.created_at),
        "created_by": result.created_by_id, "signed_by": result.signed_by_id, "signed_at": _iso(result.signed_at),
    }


def result_sha256(result: PracticalResult) -> str:
    return hashlib.sha256(canonical(result_payload(result))).hexdigest()


# ------------------------------------------------------------------ who may do what

def can_plan(actor, room: Room) -> bool:
    """Admins of the exam room's region (and system admins) plan its sessions, book and assign."""
    return lms_api.can_manage_region(actor, room.organisation.region)


def _require_planner(actor, room: Room) -> None:
    if not can_plan(actor, room):
        raise PermissionDenied(_("Only the admins of this exam site's region can plan its practical exams."))


def is_examiner(user) -> bool:
    return bool(user and user.is_authenticated and user.has_role(Role.EXAMINER))


def _organisations_of(user: User) -> dict[int, Organisation]:
    ids = set(user.role_assignments.exclude(organisation=None).values_list("organisation_id", flat=True))
    if user.organisation_id:
        ids.add(user.organisation_id)
    ids |= instructors_api.studio_organisation_ids(user)  # a studio's head and members: its classes are theirs
    return {o.pk: o for o in Organisation.objects.filter(pk__in=ids)}


def examiner_conflicts(examiner: User, candidate: User) -> list[str]:
    """Why ``examiner`` may not examine ``candidate`` (考培分离), in words; empty when they may."""
    if examiner.pk == candidate.pk:
        return [_("An examiner cannot examine themselves.")]
    reasons: list[str] = []
    theirs = _organisations_of(examiner)
    if candidate.organisation_id and candidate.organisation_id in theirs:
        reasons.append(_("The candidate belongs to the examiner's own organisation “%(org)s”.")
                       % {"org": theirs[candidate.organisation_id].name})
    for cls in courses_api.classes_attended(candidate):
        if any(i.pk == examiner.pk for i in cls.instructors.all()):
            reasons.append(_("The examiner taught the candidate's class “%(cls)s”.") % {"cls": cls.name})
        base = cls.training_base
        if base.pk in theirs:
            if base.kind == Organisation.Kind.STUDIO:
                reasons.append(_("The candidate's class “%(cls)s” was run by the examiner's own studio “%(org)s”.")
                               % {"cls": cls.name, "org": base.name})
            else:
                reasons.append(_("The candidate's class “%(cls)s” was run by the examiner's own organisation “%(org)s”.")
                               % {"cls": cls.name, "org": base.name})
    return list(dict.fromkeys(reasons))


def _refuse_conflict(examiner: User, candidate: User) -> None:
    reasons = examiner_conflicts(examiner, candidate)
    if reasons:
        raise PermissionDenied(_("%(examiner)s may not examine %(candidate)s (考培分离): %(why)s") % {
            "examiner": examiner.display_name, "candidate": candidate.display_name, "why": " ".join(reasons)})


def _live_bookings(session: PracticalSession) -> QuerySet:
    return session.bookings.exclude(status=Booking.Status.CANCELLED).select_related("candidate")


# ------------------------------------------------------------------ schemes

def current_scheme(programme) -> PracticalScheme | None:
    return programme.practical_schemes.order_by("-version").first()


def _clean_items(items) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not items:
        raise ValidationError({"items": [_("A checklist needs at least one item.")]})
    out, keys = [], set()
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValidationError({"items": [_("Item %(n)s is not an item.") % {"n": n}]})
        key = str(item.get("key") or "").strip()
        title = str(item.get("title") or "").strip()
        points = item.get("points")
        if not key or len(key) > ITEM_KEY_MAX or not key.replace("_", "").isalnum() or key == "cpr":
            raise ValidationError({"items": [_("Item %(n)s needs a key of letters, digits and _ (at most %(max)s).")
                                             % {"n": n, "max": ITEM_KEY_MAX}]})
        if key in keys:
            raise ValidationError({"items": [_("Item %(n)s repeats the key %(key)s.") % {"n": n, "key": key}]})
        if not title:
            raise ValidationError({"items": [_("Item %(n)s needs a title.") % {"n": n}]})
        if not isinstance(points, int) or isinstance(points, bool) or not 0 <= points <= 100:
            raise ValidationError({"items": [_("Item %(n)s: points are a whole number from 0 to 100.") % {"n": n}]})
        keys.add(key)
        out.append({"key": key, "title": title, "skill": str(item.get("skill") or "").strip(), "points": points,
                    "critical": bool(item.get("critical"))})
    return out


def save_scheme(actor, programme, *, name: str, cpr_standard_id: str, cpr_points: int, items, pass_points: int,
                cpr_must_pass: bool = True, theory_valid_days: int = 180, retakes_allowed: int = 1,
                retake_wait_days: int = 7, slot_minutes: int = 20) -> PracticalScheme:
    """A new version of ``programme``'s practical scheme (system admins; a scheme is never edited)."""
    if not lms_api.is_system_admin(actor):
        raise PermissionDenied(_("Only system admins change the practical exam schemes."))
    items = _clean_items(items)
    if cpr_standard_id not in manikin_api.list_standards():
        raise ValidationError({"cpr_standard_id": [_("Unknown CPR standard.")]})
    max_points = cpr_points + sum(i["points"] for i in items)
    if not 0 < pass_points <= max_points:
        raise ValidationError({"pass_points": [_("The pass mark must be between 1 and the %(max)s points the scheme "
                                                 "gives.") % {"max": max_points}]})
    with transaction.atomic():
        last = programme.practical_schemes.select_for_update().order_by("-version").first()
        scheme = PracticalScheme(
            programme=programme, version=(last.version + 1) if last else 1, name=name.strip(),
            cpr_standard_id=cpr_standard_id, cpr_points=cpr_points, cpr_must_pass=cpr_must_pass, items=items,
            pass_points=pass_points, theory_valid_days=theory_valid_days, retakes_allowed=retakes_allowed,
            retake_wait_days=retake_wait_days, slot_minutes=slot_minutes, created_by=actor)
        scheme.full_clean(exclude=["programme", "created_by"])
        scheme.save()
        lms_api.record_audit(actor, "exams.practical.scheme.save", scheme, after=scheme.as_evidence())
    return scheme


# ------------------------------------------------------------------ sessions and examiners

def stations_of(room: Room) -> list[Station]:
    return list(room.stations.order_by("name"))


def capacity(session: PracticalSession) -> int:
    return session.room.stations.count() * session.slots


def slot_start(session: PracticalSession, slot: int) -> datetime.datetime:
    start = datetime.datetime.combine(session.date, session.starts_at)
    return timezone.make_aware(start + datetime.timedelta(minutes=(slot - 1) * session.scheme.slot_minutes))


def plan_session(actor, *, programme, room: Room, date: datetime.date, starts_at: datetime.time,
                 slots: int) -> PracticalSession:
    _require_planner(actor, room)
    scheme = current_scheme(programme)
    errors: dict[str, list[str]] = {}
    if scheme is None:
        errors["programme"] = [_("This programme has no practical exam scheme.")]
    if room.mode != Room.Mode.EXAM:
        errors["room"] = [_("This room is not in exam mode: set it to exam mode on its console page first.")]
    elif scheme is not None and manikin_api.room_standard_id(room) != scheme.cpr_standard_id:
        errors["room"] = [_("The room scores CPR under another standard than the scheme's (%(std)s).")
                          % {"std": scheme.cpr_standard_id}]
    if not room.stations.exists():
        errors.setdefault("room", []).append(_("This room has no stations."))
    if date < timezone.localdate():
        errors["date"] = [_("The date has passed.")]
    if not isinstance(slots, int) or not 1 <= slots <= 48:
        errors["slots"] = [_("A session has 1 to 48 slots.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        session = PracticalSession.objects.create(programme=programme, scheme=scheme, room=room, date=date,
                                                  starts_at=starts_at, slots=slots, created_by=actor)
        lms_api.record_audit(actor, "exams.practical.session.plan", session, after={
            "programme": programme.pk, "scheme": scheme.pk, "room": room.pk, "date": date.isoformat(),
            "starts_at": starts_at.isoformat(), "slots": slots})
    return session


def _conflicts_with_candidates(examiner: User, session: PracticalSession) -> list[str]:
    out = []
    for booking in _live_bookings(session):
        for reason in examiner_conflicts(examiner, booking.candidate):
            out.append(f"{booking.candidate.display_name}: {reason}")
    return out


def examiner_pool(session: PracticalSession) -> tuple[list[int], list[dict[str, Any]]]:
    """Examiners who could be drawn for ``session`` (ids, sorted) and those excluded with the reason:
    examiners registered in the exam room's city (or wherever under the room's region), not yet on the
    session, without a conflict with any candidate booked."""
    region = session.room.organisation.region
    city = region.get_ancestors().filter(level="city").first() if region.level == "county" else region
    candidates = (User.objects.filter(role_assignments__role=Role.EXAMINER, is_active=True,
                                      region__path__startswith=city.path)
                  .exclude(pk__in=session.session_examiners.values("examiner_id")).distinct().order_by("pk"))
    pool, excluded = [], []
    candidates = list(candidates)
    refused = instructors_api.refusals(candidates, session.programme, instructors_api.EXAMINE)
    for examiner in candidates:
        reasons = refused.get(examiner.pk, []) + _conflicts_with_candidates(examiner, session)
        if reasons:
            excluded.append({"examiner": examiner.pk, "reason": " ".join(reasons)})
        else:
            pool.append(examiner.pk)
    return pool, excluded


def draw_from(pool: list[int], count: int, seed: str) -> list[int]:
    """The draw itself: reproducible from the sorted pool, the count and the seed."""
    return random.Random(f"{seed}:{','.join(map(str, sorted(pool)))}").sample(sorted(pool), count)


def draw_examiners(actor, session: PracticalSession, *, count: int, seed: str | None = None) -> ExaminerDraw:
    """Draw ``count`` examiners at random among the eligible; recorded with its seed and pool."""
    _require_planner(actor, session.room)
    if not isinstance(count, int) or count < 1:
        raise ValidationError({"count": [_("Draw at least one examiner.")]})
    with transaction.atomic():
        session = PracticalSession.objects.select_for_update().get(pk=session.pk)
        pool, excluded = examiner_pool(session)
        if count > len(pool):
            raise ValidationError({"count": [_("Only %(n)s examiners are eligible for this session.") % {"n": len(pool)}]})
        seed = seed or secrets.token_hex(16)
        drawn = draw_from(pool, count, seed)
        draw = ExaminerDraw.objects.create(session=session, seed=seed, pool=pool, excluded=excluded, count=count,
                                           drawn=drawn, drawn_by=actor)
        for pk in drawn:
            SessionExaminer.objects.create(session=session, examiner_id=pk, draw=draw, assigned_by=actor)
        lms_api.record_audit(actor, "exams.practical.examiners.draw", session,
                             after={"seed": seed, "pool": pool, "drawn": drawn, "excluded": excluded})
    return draw


def assign_examiner(actor, session: PracticalSession, examiner: User) -> SessionExaminer:
    _require_planner(actor, session.room)
    if not is_examiner(examiner):
        raise ValidationError({"examiner": [_("%(name)s is not an examiner.") % {"name": examiner.display_name}]})
    refused = instructors_api.refusals([examiner], session.programme, instructors_api.EXAMINE)
    if refused:
        raise ValidationError({"examiner": refused[examiner.pk]})
    reasons = _conflicts_with_candidates(examiner, session)
    if reasons:
        raise PermissionDenied(_("%(name)s may not examine this session (考培分离): %(why)s")
                               % {"name": examiner.display_name, "why": "; ".join(reasons)})
    with transaction.atomic():
        row, created = SessionExaminer.objects.get_or_create(session=session, examiner=examiner,
                                                             defaults={"assigned_by": actor})
        if created:
            lms_api.record_audit(actor, "exams.practical.examiners.assign", session, after={"examiner": examiner.pk})
    return row


def session_examiners(session: PracticalSession) -> list[User]:
    return [row.examiner for row in session.session_examiners.select_related("examiner").order_by("examiner__pk")]


# ------------------------------------------------------------------ booking

def _theory_pass(candidate: User, session: PracticalSession) -> Attempt | None:
    since = session.date - datetime.timedelta(days=session.scheme.theory_valid_days)
    return (Attempt.objects.filter(user=candidate, blueprint__programme=session.programme,
                                   status=Attempt.Status.SUBMITTED, passed=True,
                                   submitted_at__date__gte=since, submitted_at__date__lte=session.date)
            .order_by("-submitted_at").first())


def latest_result(booking: Booking) -> PracticalResult | None:
    return booking.results.order_by("-number").first()


def sittings(candidate: User, programme) -> list[tuple[Booking, PracticalResult]]:
    """The candidate's signed sittings of ``programme``, oldest first, with each one's latest version."""
    out = []
    for booking in (Booking.objects.filter(candidate=candidate, session__programme=programme)
                    .exclude(status=Booking.Status.CANCELLED).select_related("session")
                    .order_by("session__date", "pk")):
        result = latest_result(booking)
        if result is not None:
            out.append((booking, result))
    return out


def booking_refusal(candidate: User, session: PracticalSession) -> str | None:
    """Why ``candidate`` cannot be booked into ``session`` (None: they can)."""
    if session.status != PracticalSession.Status.SCHEDULED or session.date < timezone.localdate():
        return _("This session is not open for booking.")
    if session.programme.theory_exam_required and _theory_pass(candidate, session) is None:
        return _("%(name)s has not passed the theory exam of %(programme)s within the %(days)s days before the "
                 "session.") % {"name": candidate.display_name, "programme": session.programme.name,
                                "days": session.scheme.theory_valid_days}
    if not session.programme.theory_exam_required and not courses_api.theory_complete(candidate, session.programme):
        return _("%(name)s has not finished the theory of %(programme)s.") % {
            "name": candidate.display_name, "programme": session.programme.name}
    done = sittings(candidate, session.programme)
    if any(result.passed for _b, result in done):
        return _("%(name)s has already passed this practical exam.") % {"name": candidate.display_name}
    scheme = session.scheme
    if len(done) > scheme.retakes_allowed:
        return _("%(name)s has used the %(n)s retakes this programme allows.") % {
            "name": candidate.display_name, "n": scheme.retakes_allowed}
    if done:
        last = done[-1][0].session.date
        wait_until = last + datetime.timedelta(days=scheme.retake_wait_days)
        if session.date < wait_until:
            return _("A retake is possible from %(date)s.") % {"date": wait_until.isoformat()}
    open_booking = (Booking.objects.filter(candidate=candidate, session__programme=session.programme,
                                           status__in=[Booking.Status.BOOKED, Booking.Status.CHECKED_IN])
                    .exclude(results__isnull=False).exclude(session__date__lt=timezone.localdate()).first())
    if open_booking is not None:
        return _("%(name)s is already booked for %(session)s.") % {
            "name": candidate.display_name, "session": f"{open_booking.session.date:%Y-%m-%d}"}
    for examiner in session_examiners(session):
        reasons = examiner_conflicts(examiner, candidate)
        if reasons:
            return _("%(examiner)s, an examiner of this session, may not examine %(name)s (考培分离): %(why)s") % {
                "examiner": examiner.display_name, "name": candidate.display_name, "why": " ".join(reasons)}
    return None


def can_book(actor, candidate: User, session: PracticalSession) -> bool:
    return actor.pk == candidate.pk or can_plan(actor, session.room)


def book(actor, session: PracticalSession, candidate: User, *, slot: int | None = None) -> Booking:
    """Book ``candidate`` (themselves, or by an admin of the room's region) into ``session``."""
    if not can_book(actor, candidate, session):
        raise PermissionDenied(_("You can book only yourself."))
    with transaction.atomic():
        session = PracticalSession.objects.select_for_update().select_related("scheme", "programme", "room").get(
            pk=session.pk)
        why = booking_refusal(candidate, session)
        if why:
            raise ValidationError(why)
        per_slot = session.room.stations.count()
        taken = dict(_live_bookings(session).values_list("slot").annotate(n=Count("pk")))
        if slot is None:
            slot = next((s for s in range(1, session.slots + 1) if taken.get(s, 0) < per_slot), None)
            if slot is None:
                raise ValidationError(_("This session is full (%(n)s places).") % {"n": per_slot * session.slots})
        elif not isinstance(slot, int) or not 1 <= slot <= session.slots:
            raise ValidationError({"slot": [_("This session has slots 1 to %(n)s.") % {"n": session.slots}]})
        elif taken.get(slot, 0) >= per_slot:
            raise ValidationError({"slot": [_("Slot %(slot)s is full.") % {"slot": slot}]})
        booking = Booking.objects.create(session=session, candidate=candidate, slot=slot, booked_by=actor,
                                         theory_attempt=_theory_pass(candidate, session))
        lms_api.record_audit(actor, "exams.practical.book", booking, after={
            "session": session.pk, "candidate": candidate.pk, "slot": slot})
    return booking


def _end_booking(actor, booking: Booking, status: str, action: str, refusal: str) -> Booking:
    """A booking not yet checked in leaves the session's roster: cancelled, or its candidate absent."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status != Booking.Status.BOOKED:
            raise ValidationError(refusal)
        booking.status = status
        booking.save(update_fields=["status"])
        lms_api.record_audit(actor, action, booking)
    return booking


def cancel_booking(actor, booking: Booking) -> Booking:
    """The candidate (or an admin of the room's region) cancels a booking before check-in; the place is free."""
    if not can_book(actor, booking.candidate, booking.session):
        raise PermissionDenied(_("You cannot cancel this booking."))
    return _end_booking(actor, booking, Booking.Status.CANCELLED, "exams.practical.book.cancel",
                        _("Only a booking not yet checked in can be cancelled."))


def bookable_sessions(candidate: User) -> list[tuple[PracticalSession, str | None]]:
    """Sessions of the programmes the candidate is enrolled in, from today on, each with why the
    candidate cannot book it (None: they can)."""
    programmes = courses_api.classes_attended(candidate).values_list("programme_id", flat=True)
    sessions = (PracticalSession.objects.filter(programme_id__in=list(programmes), date__gte=timezone.localdate(),
                                                status=PracticalSession.Status.SCHEDULED)
                .select_related("room__organisation", "programme", "scheme").order_by("date", "starts_at"))
    return [(s, booking_refusal(candidate, s)) for s in sessions]


def bookings_of(candidate: User) -> QuerySet:
    return (Booking.objects.filter(candidate=candidate).exclude(status=Booking.Status.CANCELLED)
            .select_related("session__room__organisation", "session__programme", "station", "examiner")
            .order_by("-session__date", "slot"))


def sessions_of_examiner(examiner: User) -> QuerySet:
    return (PracticalSession.objects.filter(session_examiners__examiner=examiner)
            .select_related("room__organisation", "programme").order_by("-date", "starts_at"))


def visible_sessions(actor) -> QuerySet:
    """Sessions an admin plans (their region) or examines."""
    qs = PracticalSession.objects.select_related("room__organisation__region", "programme")
    q = lms_api.region_q(actor, "room__organisation__region")
    if q is None:
        return qs
    return qs.filter(q | Q(session_examiners__examiner=actor)).distinct()


def can_view_session(actor, session: PracticalSession) -> bool:
    return can_plan(actor, session.room) or session.session_examiners.filter(examiner=actor).exists()


def can_view_booking(actor, booking: Booking) -> bool:
    return actor.pk == booking.candidate_id or can_view_session(actor, booking.session) or (
        Appeal.objects.filter(booking=booking, reviewer=actor).exists())


# ------------------------------------------------------------------ on the day

def _require_examiner_of(actor, booking: Booking) -> None:
    """``actor`` examines ``booking`` now: an examiner of its session, still in good standing (a suspension or
    an expired qualification since the assignment stops them), without a 考培分离 conflict."""
    if not booking.session.session_examiners.filter(examiner=actor).exists():
        raise PermissionDenied(_("Only the examiners of this session can do this."))
    refused = instructors_api.refusals([actor], booking.session.programme, instructors_api.EXAMINE)
    if refused:
        raise PermissionDenied(" ".join(refused[actor.pk]))
    _refuse_conflict(actor, booking.candidate)


def _require_today(booking: Booking) -> None:
    if booking.session.date != timezone.localdate():
        raise ValidationError(_("This session is on %(date)s, not today.") % {"date": booking.session.date.isoformat()})


def free_stations(booking: Booking) -> list[Station]:
    used = set(booking.session.bookings.filter(slot=booking.slot, status=Booking.Status.CHECKED_IN)
               .exclude(pk=booking.pk).exclude(station=None).values_list("station_id", flat=True))
    return [s for s in stations_of(booking.session.room) if s.pk not in used]


def check_in(actor, booking: Booking, *, identity_confirmed: bool, photo=None, station: Station | None = None) -> Booking:
    """The examiner confirms the candidate's identity against the photo and the masked ID-card number
    (a photo can be taken here first) and gives them a station; the examiner becomes theirs."""
    _require_examiner_of(actor, booking)
    _require_today(booking)
    if booking.status == Booking.Status.CANCELLED:
        raise ValidationError(_("This booking was cancelled."))
    if latest_result(booking) is not None:
        raise ValidationError(_("This candidate's result is already signed."))
    if photo is not None:
        lms_api.replace_photo_at_check_in(actor, booking.candidate, photo)
    if not booking.candidate.photo:
        raise ValidationError({"photo": [_("The candidate has no photo: take one to check them in.")]})
    if not identity_confirmed:
        raise ValidationError({"identity_confirmed": [_("Please compare the person with the photo and the ID-card "
                                                        "number, then confirm.")]})
    with transaction.atomic():
        booking = Booking.objects.select_for_update().select_related("session__room").get(pk=booking.pk)
        free = free_stations(booking)
        if station is None:
            station = booking.station if booking.station in free else (free[0] if free else None)
        if station is None or station not in free:
            raise ValidationError({"station": [_("This station is taken in this slot: choose another.")]})
        booking.status, booking.station, booking.examiner = Booking.Status.CHECKED_IN, station, actor
        booking.checked_in_at, booking.checked_in_by = timezone.now(), actor
        booking.save(update_fields=["status", "station", "examiner", "checked_in_at", "checked_in_by"])
        lms_api.record_audit(actor, "exams.practical.check_in", booking, after={"station": station.pk})
    return booking


def mark_absent(actor, booking: Booking) -> Booking:
    """The examiner records on the day that a booked candidate did not come (the sitting counts for nothing)."""
    _require_examiner_of(actor, booking)
    _require_today(booking)
    return _end_booking(actor, booking, Booking.Status.ABSENT, "exams.practical.absent",
                        _("Only a candidate not yet checked in can be marked absent."))


def _today_bookings_in(room_id: int, candidate_id: int) -> QuerySet:
    return Booking.objects.filter(session__room_id=room_id, session__date=timezone.localdate(),
                                  session__status=PracticalSession.Status.SCHEDULED,
                                  candidate_id=candidate_id).exclude(status=Booking.Status.CANCELLED)


def rooms_examined_today(actor) -> list[int]:
    """The rooms whose console ``actor`` runs today as an examiner of a session there (an examiner
    drawn from elsewhere works at this site for the day)."""
    if not is_examiner(actor):
        return []
    return list(PracticalSession.objects.filter(
        session_examiners__examiner=actor, date=timezone.localdate(),
        status=PracticalSession.Status.SCHEDULED).values_list("room_id", flat=True).distinct())


def check_cpr_start(actor, recording: Recording) -> None:
    """``manikin.api`` calls this when a recording starts (see :func:`manikin.api.register_start_check`).

    An exam recording of a candidate booked into one of the room's sessions today is their CPR item:
    it starts only if they are checked in, examined by ``actor`` and on their station."""
    if recording.purpose != Room.Mode.EXAM or recording.trainee_id is None:
        return
    station = recording.manikin.station
    booking = _today_bookings_in(station.room_id, recording.trainee_id).select_related("session").first()
    if booking is None:
        return  # not a practical exam candidate here today: an exam-mode recording outside the sessions
    if booking.status != Booking.Status.CHECKED_IN:
        raise ValidationError(_("%(name)s has not checked in yet.") % {"name": recording.trainee.display_name})
    if latest_result(booking) is not None:
        raise ValidationError(_("This candidate's result is already signed."))
    if booking.examiner_id != actor.pk:
        raise PermissionDenied(_("%(name)s is examined by %(examiner)s.") % {
            "name": recording.trainee.display_name, "examiner": booking.examiner.display_name})
    _refuse_conflict(actor, recording.trainee)
    if booking.station_id != station.pk:
        raise ValidationError(_("%(name)s is on station %(station)s.") % {
            "name": recording.trainee.display_name, "station": booking.station.name})
    Booking.objects.filter(pk=booking.pk).update(cpr_recording=recording)


@dataclass
class Verdict:
    scheme: PracticalScheme
    ticks: dict[str, bool]
    cpr_score: float | None
    cpr_passed: bool | None
    cpr_points: Decimal
    checklist_points: int
    points: Decimal
    max_points: int
    critical_missed: list[str]
    passed: bool
    problems: list[str] = field(default_factory=list)  # why it cannot be signed yet

    @property
    def items(self) -> list[dict[str, Any]]:
        return [{**item, "done": self.ticks.get(item["key"], False)} for item in self.scheme.items]


def current_ticks(booking: Booking) -> dict[str, bool]:
    ticks: dict[str, bool] = {}
    for key, done in booking.checklist_entries.order_by("noted_at", "pk").values_list("item_key", "done"):
        ticks[key] = done
    return ticks


def verdict(scheme: PracticalScheme, ticks: dict[str, bool], recording: Recording | None) -> Verdict:
    """The combined score under the scheme's pass rules (see the module docstring)."""
    problems = []
    score = passed_cpr = None
    if recording is None:
        problems.append(_("The CPR item has not been recorded."))
    elif recording.stopped_at is None:
        problems.append(_("The CPR item is still being recorded."))
    elif recording.outcome != Recording.Outcome.SCORED or recording.score is None:
        problems.append(_("The CPR item has no score (%(why)s): record it again.")
                        % {"why": recording.outcome_reason or _("no samples")})
    else:
        score, passed_cpr = recording.score, bool(recording.passed)
    cpr_points = Decimal(0)
    if score is not None:
        cpr_points = (Decimal(scheme.cpr_points) * Decimal(str(score)) / 100).quantize(Decimal("0.1"), ROUND_FLOOR)
    checklist_points = sum(item["points"] for item in scheme.items if ticks.get(item["key"]))
    critical = [item["key"] for item in scheme.items if item["critical"] and not ticks.get(item["key"])]
    if scheme.cpr_must_pass and passed_cpr is not True:
        critical.insert(0, "cpr")
    points = cpr_points + checklist_points
    return Verdict(scheme=scheme, ticks=ticks, cpr_score=score, cpr_passed=passed_cpr, cpr_points=cpr_points,
                   checklist_points=checklist_points, points=points, max_points=scheme.max_points,
                   critical_missed=critical, passed=not problems and not critical and points >= scheme.pass_points,
                   problems=problems)


def draft(booking: Booking) -> Verdict:
    """The verdict as it stands (before sign-off: live; after: what the latest version would say now)."""
    return verdict(booking.session.scheme, current_ticks(booking), booking.cpr_recording)


def _parse_entry(scheme: PracticalScheme, booking: Booking, raw: Any) -> tuple[dict | None, str | None]:
    if not isinstance(raw, dict):
        return None, _("not an entry")
    try:
        client_id = uuid.UUID(str(raw.get("id")))
    except (TypeError, ValueError):
        return None, _("no valid entry id")
    key = raw.get("item")
    if key not in {item["key"] for item in scheme.items}:
        return None, _("unknown checklist item %(key)r") % {"key": str(key)[:ITEM_KEY_MAX]}
    done = raw.get("done")
    if not isinstance(done, bool):
        return None, _("“done” must be true or false")
    noted_at = parse_datetime(str(raw.get("at") or ""))
    if noted_at is None or timezone.is_naive(noted_at):
        return None, _("no valid time with its zone")
    now = timezone.now()
    if noted_at > now + datetime.timedelta(minutes=5):
        return None, _("the time is in the future")
    if timezone.localtime(noted_at).date() != booking.session.date:
        return None, _("the time is not on the session's day")
    return {"client_id": client_id, "item_key": key, "done": done, "noted_at": noted_at}, None


def record_checklist(actor, booking: Booking, entries: list) -> dict[str, Any]:
    """Store the checklist entries the examiner's tablet sends (also a backlog after the link was down).

    Each entry is ``{"id": uuid, "item": key, "done": bool, "at": ISO time}``. An entry already stored
    (same id) is acknowledged again and not stored twice; an entry that cannot be accepted is answered
    with its reason and kept in the audit log. Returns ``{"stored": [...ids], "duplicates": [...],
    "rejected": [{"id", "reason"}], "ticks": {...}}``."""
    _require_examiner_of(actor, booking)
    if booking.examiner_id != actor.pk:
        raise PermissionDenied(_("This candidate is examined by another examiner."))
    if not isinstance(entries, list) or len(entries) > 500:
        raise ValidationError(_("Send a list of at most 500 entries."))
    scheme = booking.session.scheme
    parsed, rejected = [], []
    for raw in entries:
        entry, why = _parse_entry(scheme, booking, raw)
        if why:
            rejected.append({"id": str(raw.get("id"))[:64] if isinstance(raw, dict) else None, "reason": why,
                             "raw": raw if isinstance(raw, dict) else str(raw)[:200]})
        else:
            parsed.append(entry)
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        signed = latest_result(booking) is not None
        known = set(ChecklistEntry.objects.filter(client_id__in=[e["client_id"] for e in parsed])
                    .values_list("client_id", flat=True))
        stored, duplicates = [], []
        for entry in parsed:
            if entry["client_id"] in known:
                duplicates.append(str(entry["client_id"]))
            elif signed:
                rejected.append({"id": str(entry["client_id"]), "reason": _("the result is already signed; a change "
                                                                          "goes through an appeal")})
            else:
                ChecklistEntry.objects.create(booking=booking, examiner=actor, **entry)
                known.add(entry["client_id"])
                stored.append(str(entry["client_id"]))
        if stored:
            lms_api.record_audit(actor, "exams.practical.checklist", booking, after={"entries": stored})
        if rejected:
            lms_api.record_audit(actor, "exams.practical.checklist.rejected", booking, after={"rejected": rejected})
    return {"stored": stored, "duplicates": duplicates,
            "rejected": [{"id": r["id"], "reason": r["reason"]} for r in rejected], "ticks": current_ticks(booking)}


# ------------------------------------------------------------------ frozen results

def _evidence(booking: Booking, ticks: dict[str, bool], recording: Recording) -> dict[str, Any]:
    entries = list(booking.checklist_entries.order_by("noted_at", "pk")
                   .values_list("client_id", "item_key", "done", "noted_at", "examiner_id"))
    return {
        "candidate": booking.candidate_id, "session": booking.session_id, "programme": booking.session.programme_id,
        "date": booking.session.date.isoformat(), "station": booking.station_id, "examiner": booking.examiner_id,
        "checked_in_at": _iso(booking.checked_in_at), "theory_attempt": booking.theory_attempt_id,
        "scheme": booking.session.scheme.as_evidence(),
        "cpr": manikin_api.recording_evidence(recording),
        "checklist": {"ticks": {k: ticks[k] for k in sorted(ticks)},
                      "entries": [{"id": str(e[0]), "item": e[1], "done": e[2], "at": _iso(e[3]), "by": e[4]}
                                  for e in entries]},
    }


def _freeze(booking: Booking, *, reason: str, note: str, ticks: dict[str, bool], actor, signer) -> PracticalResult:
    """Write the next version (inside the caller's transaction, booking row locked)."""
    # Samples that arrived after the stop are scored before anything is frozen: the frozen score is
    # always the score of the frozen samples.
    recording = manikin_api.rescore_recording(Recording.objects.get(pk=booking.cpr_recording_id))
    v = verdict(booking.session.scheme, ticks, recording)
    if v.problems:
        raise ValidationError(" ".join(v.problems))
    previous = latest_result(booking)
    now = timezone.now()
    result = PracticalResult(
        booking=booking, number=(previous.number + 1) if previous else 1, reason=reason, note=note,
        evidence=_evidence(booking, ticks, recording), cpr_score=v.cpr_score, points=v.points,
        max_points=v.max_points, passed=v.passed, critical_missed=v.critical_missed,
        previous_sha256=previous.sha256 if previous else "", created_at=now, created_by=actor,
        signed_by=signer, signed_at=now if signer else None)
    # What is hashed is what the database gives back: JSON through its round trip.
    result.evidence = json.loads(canonical(result.evidence))
    result.sha256 = result_sha256(result)
    result.save(force_insert=True)
    lms_api.record_audit(actor, "exams.practical.result", result, after={
        "booking": booking.pk, "number": result.number, "reason": reason, "points": str(result.points),
        "passed": result.passed, "sha256": result.sha256})
    transaction.on_commit(lambda: practical_result_frozen.send(
        sender=PracticalResult, result_id=result.pk, candidate_id=booking.candidate_id))
    return result


def sign(actor, booking: Booking, *, confirm: bool) -> PracticalResult:
    """The examiner signs the result off (an explicit confirmation): it is frozen as version 1."""
    _require_examiner_of(actor, booking)
    if booking.examiner_id != actor.pk:
        raise PermissionDenied(_("This candidate is examined by another examiner."))
    if confirm is not True:
        raise ValidationError({"confirm": [_("Please confirm that you sign this result.")]})
    with transaction.atomic():
        booking = Booking.objects.select_for_update().select_related("session__scheme").get(pk=booking.pk)
        if latest_result(booking) is not None:
            raise ValidationError(_("This result is already signed."))
        if booking.status != Booking.Status.CHECKED_IN:
            raise ValidationError(_("The candidate has not checked in."))
        return _freeze(booking, reason=PracticalResult.Reason.SIGNED, note="", ticks=current_ticks(booking),
                       actor=actor, signer=actor)


def settle_late_evidence(recording_id: int) -> PracticalResult | None:
    """Score a recording again with the samples that arrived after its stop; if its result was already
    signed, freeze a new version with the reason "late evidence" (same checklist, new CPR evidence)."""
    recording = Recording.objects.filter(pk=recording_id).first()
    if recording is None:
        return None
    recording = manikin_api.rescore_recording(recording)
    booking = Booking.objects.filter(cpr_recording=recording).select_related("session__scheme").first()
    if booking is None:
        return None
    with transaction.atomic():
        booking = Booking.objects.select_for_update().select_related("session__scheme").get(pk=booking.pk)
        latest = latest_result(booking)
        if latest is None:
            return None  # not signed yet: the draft already reads the rescored recording
        if manikin_api.recording_evidence(recording)["samples_sha256"] == latest.evidence["cpr"]["samples_sha256"]:
            return None
        n = recording.sample_count - latest.evidence["cpr"]["sample_count"]
        note = _("%(n)s samples measured during the CPR item arrived after its stop (spooled by the bridge "
                 "through an outage).") % {"n": n}
        return _freeze(booking, reason=PracticalResult.Reason.LATE_EVIDENCE, note=note,
                       ticks=latest.evidence["checklist"]["ticks"], actor=None, signer=None)


def late_samples_arrived(recording_ids: list[int]) -> None:
    """Receiver of ``manikin.signals.samples_arrived_late``: settle each recording once the backlog
    has had time to arrive (a background task, deferred), or now where tasks cannot be deferred."""
    from .tasks import settle_late_evidence_task

    task = settle_late_evidence_task
    for recording_id in recording_ids:
        if task.get_backend().supports_defer:
            run_after = timezone.now() + datetime.timedelta(seconds=LATE_EVIDENCE_SETTLE_S)
            task.using(run_after=run_after).enqueue(recording_id)
        else:
            task.enqueue(recording_id)


# ------------------------------------------------------------------ appeals

def file_appeal(actor, booking: Booking, *, grounds: str) -> Appeal:
    """The candidate (or an admin for them) appeals the latest version within ``APPEAL_DAYS``; a sitting
    is appealed once (the review's decision is final)."""
    if not (actor.pk == booking.candidate_id or can_plan(actor, booking.session.room)):
        raise PermissionDenied(_("Only the candidate can appeal their result."))
    grounds = (grounds or "").strip()
    if not grounds:
        raise ValidationError({"grounds": [_("Please say why you appeal.")]})
    if len(grounds) > 2000:
        raise ValidationError({"grounds": [_("At most 2,000 characters.")]})
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        latest = latest_result(booking)
        if latest is None:
            raise ValidationError(_("There is no signed result to appeal."))
        if booking.appeals.filter(status=Appeal.Status.PENDING).exists():
            raise ValidationError(_("An appeal of this result is already awaiting review."))
        if booking.appeals.exists():
            raise ValidationError(_("This sitting was appealed once already: the review's decision is final."))
        first_signed = booking.results.order_by("number").first().signed_at
        if timezone.now() > first_signed + datetime.timedelta(days=APPEAL_DAYS):
            raise ValidationError(_("Appeals are possible within %(n)s days of the result.") % {"n": APPEAL_DAYS})
        appeal = Appeal.objects.create(booking=booking, result=latest, grounds=grounds, filed_by=actor)
        lms_api.record_audit(actor, "exams.practical.appeal.file", appeal, after={"result": latest.pk})
    return appeal


def reviewer_refusal(reviewer: User, appeal: Appeal) -> str | None:
    booking = appeal.booking
    if not is_examiner(reviewer):
        return _("%(name)s is not an examiner.") % {"name": reviewer.display_name}
    signers = set(booking.results.exclude(signed_by=None).values_list("signed_by_id", flat=True))
    if reviewer.pk in signers or reviewer.pk == booking.examiner_id:
        return _("The reviewer must be another examiner than the one who examined the candidate.")
    reasons = examiner_conflicts(reviewer, booking.candidate)
    if reasons:
        return _("%(name)s may not examine %(candidate)s (考培分离): %(why)s") % {
            "name": reviewer.display_name, "candidate": booking.candidate.display_name, "why": " ".join(reasons)}
    return None


def assign_reviewer(actor, appeal: Appeal, reviewer: User) -> Appeal:
    _require_planner(actor, appeal.booking.session.room)
    why = reviewer_refusal(reviewer, appeal)
    if why:
        raise ValidationError({"reviewer": [why]})
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if appeal.status != Appeal.Status.PENDING:
            raise ValidationError(_("This appeal has been decided."))
        appeal.reviewer = reviewer
        appeal.save(update_fields=["reviewer"])
        lms_api.record_audit(actor, "exams.practical.appeal.reviewer", appeal, after={"reviewer": reviewer.pk})
    return appeal


def decide_appeal(actor, appeal: Appeal, *, decision: str, ticks: dict[str, bool] | None = None) -> PracticalResult:
    """The reviewer decides: the checklist as they find it (``ticks``; None keeps it) and their reasons.
    The decision is a new version, signed by the reviewer."""
    appeal = Appeal.objects.select_related("booking__candidate").get(pk=appeal.pk)
    if appeal.reviewer_id != actor.pk:
        raise PermissionDenied(_("Only the examiner assigned to review this appeal can decide it."))
    why = reviewer_refusal(actor, appeal)
    if why:
        raise PermissionDenied(why)
    decision = (decision or "").strip()
    if not decision:
        raise ValidationError({"decision": [_("Please give the reasons for the decision.")]})
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().select_related("booking").get(pk=appeal.pk)
        if appeal.status != Appeal.Status.PENDING:
            raise ValidationError(_("This appeal has been decided."))
        booking = Booking.objects.select_for_update().select_related("session__scheme").get(pk=appeal.booking_id)
        latest = latest_result(booking)
        before = dict(latest.evidence["checklist"]["ticks"])
        keys = {item["key"] for item in booking.session.scheme.items}
        new_ticks = dict(before)
        for key, done in (ticks or {}).items():
            if key not in keys or not isinstance(done, bool):
                raise ValidationError({"ticks": [_("Unknown checklist item %(key)r.") % {"key": str(key)[:40]}]})
            new_ticks[key] = done
        result = _freeze(booking, reason=PracticalResult.Reason.APPEAL, note=decision, ticks=new_ticks, actor=actor,
                         signer=actor)
        appeal.status = Appeal.Status.CHANGED if (new_ticks != before or result.passed != latest.passed) \
            else Appeal.Status.UPHELD
        appeal.decision, appeal.decided_at, appeal.new_result = decision, timezone.now(), result
        appeal.save(update_fields=["status", "decision", "decided_at", "new_result"])
        lms_api.record_audit(actor, "exams.practical.appeal.decide", appeal, after={
            "status": appeal.status, "result": result.pk})
    return result


# ------------------------------------------------------------------ verification

@dataclass
class Problem:
    result_id: int
    booking_id: int
    number: int
    what: str


def verify_result(result: PracticalResult, previous: PracticalResult | None) -> list[str]:
    """What is wrong with one stored version (empty: its hash, chain and samples check out)."""
    out = []
    if result_sha256(result) != result.sha256:
        out.append("content does not match its SHA-256 (changed after it was frozen)")
    expected_previous = previous.sha256 if previous else ""
    if result.previous_sha256 != expected_previous:
        out.append("not chained to the version before it")
    cpr = (result.evidence or {}).get("cpr") or {}
    recording = Recording.objects.filter(pk=cpr.get("recording")).first()
    if recording is None:
        out.append("its CPR recording is gone")
    else:
        again = manikin_api.recording_evidence(recording, frame_ids=cpr.get("frames") or [])
        if again["samples_sha256"] != cpr.get("samples_sha256") or again["sample_count"] != cpr.get("sample_count"):
            out.append("the CPR samples it froze have changed")
    return out


def verify_results(queryset: QuerySet | None = None) -> tuple[int, list[Problem]]:
    """Recompute every version's hash, its chain and its samples' digest: (versions checked, problems)."""
    qs = (queryset if queryset is not None else PracticalResult.objects.all()).order_by("booking_id", "number")
    problems, checked, previous = [], 0, None
    for result in qs.iterator(chunk_size=500):
        if previous is not None and previous.booking_id != result.booking_id:
            previous = None
        if previous is None and result.number > 1:
            previous = PracticalResult.objects.filter(booking_id=result.booking_id, number=result.number - 1).first()
        for what in verify_result(result, previous):
            problems.append(Problem(result.pk, result.booking_id, result.number, what))
        previous, checked = result, checked + 1
    return checked, problems


def results_of(booking: Booking) -> list[PracticalResult]:
    return list(booking.results.select_related("signed_by", "created_by").order_by("number"))



def passed_practical(candidate: User, programme) -> PracticalResult | None:
    """The hook for certificates: the latest version of the candidate's passed sitting of ``programme``
    (None: not passed)."""
    for _booking, result in reversed(sittings(candidate, programme)):
        return result if result.passed else None
    return None
