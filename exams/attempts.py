"""Theory-exam attempts: start or resume, autosave, leaves, submit once, the closer, grants and voids.

Every operation is one function (validation, permission, transaction, audit). Errors are
``ValidationError`` (bad input, or the attempt can no longer take it) or ``PermissionDenied`` (not
allowed, with the reason in the person's language); either way nothing is stored, except that an
attempt found past its deadline is closed (graded) on the spot. Every function that depends on the
time takes ``now=`` (tests pass it instead of sleeping).

The rules
=========

**The clock is the server's.** ``deadline_at = started_at + time_limit_s + extra time granted``;
the browser is told the remaining seconds by the server on every save and every state request and
counts down from them: it cannot extend anything. An answer saved at or after ``deadline_at`` is
refused and the attempt is closed (``submitted_by = time_limit``, ``submitted_at = deadline_at``).
Attempts nobody comes back to are closed by ``close_expired`` (the ``close_exam_attempts`` command,
run in a loop beside the server by ``lms.serving``) and lazily whenever an expired attempt is
touched (start page, save, leave, submit, state).

**Starting** (``start_or_resume``): an open attempt of the trainee for the exam is returned as it
is (a refresh, a closed tab, a lost connection or a server restart all come back to it; the rows
are in the database, nothing lives in the server process). A new attempt needs, in this order: the
blueprint active, the window open (``opens_at <= now < closes_at``), the theory done
(``courses.api.theory_exam_unlocked``), not passed already, attempts left (``attempts_allowed``
plus unused extra-attempt grants; every attempt counts, a voided one too: an admin who voids an
attempt for a technical fault grants another) and the wait since the last submitted attempt over.
The trainee's user row is locked while deciding, and the database allows one open attempt per
trainee and exam (a partial unique constraint): two starts at once give one attempt.

**Answers are append-only** (``AnswerEvent``): each save adds a row with the server time and the
browser's sequence number; the choice arrives in DISPLAYED option positions and is stored as
ORIGINAL option indices (through the item's ``option_order``). The answer that counts for an item
is the last saved (by ``saved_at``, ``id``) among those whose ``client_seq`` is not lower than a
``client_seq`` saved before it: a save that left the browser earlier but arrived later (a retry
after a lost connection) is stored but does not count. The browser's sequence numbers grow across
reloads: ``exam.js`` counts milliseconds since the attempt started on the server's clock.

**Submitting** (``submit``) locks the attempt row and grades only an open attempt: two submits at
once (two tabs, a double tap, the closer and the trainee) grade once; the second gets the graded
attempt. Grading: single choice and true/false must match exactly; multiple choice must match the
set exactly (no partial credit). ``score_pct`` is a Decimal rounded DOWN to 0.01, and ``passed`` is
decided on the exact fraction (``score * 100 >= pass_mark_pct * max``): a fail is never rounded up.

**Leaving the page** (``record_leave``): ``exam.js`` reports when the page is hidden (another tab
or app, the phone locked, the tab closed: a refresh counts too) and when it is visible again (or
opened again: a page that opens reports a return, which closes the latest open leave). Each leave
is a ``LeaveEvent`` with its times (a leave nobody came back from keeps no return time); ``leave_count`` counts them. More leaves than the
blueprint's ``leave_limit`` submit the attempt (``submitted_by = leave_limit``).

**Grants and voids**: system admins, and region admins whose region contains the trainee's region.
A reason is required. Extra time applies to the open attempt (its deadline moves) or, when none is
open, to the next attempt; an extra attempt allows one more start.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from lms import audit
from lms.permissions import can_manage_region, is_system_admin

from .models import AnswerEvent, Attempt, Blueprint, Grant, LeaveEvent, PaperItem

MAX_CLIENT_SEQ = 2**31 - 1  # PositiveIntegerField on PostgreSQL
MAX_EXTRA_TIME_S = 4 * 3600
MAX_REASON_CHARS = 2000
MAX_LEAVE_EVENTS = 1000  # a page that reports leaves in a loop stops being recorded (the count goes on)


# ---------------------------------------------------------------- helpers


def _local(dt: datetime) -> str:
    return date_format(timezone.localtime(dt), "Y-m-d H:i")


def _own(user, attempt: Attempt) -> None:
    if user is None or not user.is_authenticated or attempt.user_id != user.pk:
        raise PermissionDenied(_("This is not your exam attempt."))


def remaining_s(attempt: Attempt, now: datetime | None = None) -> int:
    """Whole seconds left on the server's clock (0 when over or closed)."""
    if attempt.status != Attempt.Status.OPEN:
        return 0
    now = now or timezone.now()
    return max(0, int((attempt.deadline_at - now).total_seconds()))


def _attempts_of(user, blueprint: Blueprint):
    return Attempt.objects.filter(user=user, blueprint=blueprint)


def unused_grants(user, blueprint: Blueprint, kind: str):
    return Grant.objects.filter(user=user, blueprint=blueprint, kind=kind, used_by__isnull=True)


def attempts_left(user, blueprint: Blueprint) -> int:
    """Starts left: attempts allowed plus unused extra-attempt grants, minus every attempt made."""
    made = _attempts_of(user, blueprint).count()
    extra = Grant.objects.filter(user=user, blueprint=blueprint, kind=Grant.Kind.EXTRA_ATTEMPT).count()
    return max(0, blueprint.attempts_allowed + extra - made)


def has_passed(user, blueprint: Blueprint) -> bool:
    return _attempts_of(user, blueprint).filter(status=Attempt.Status.SUBMITTED, passed=True).exists()


def passed_theory(user, programme) -> Attempt | None:
    """The hook for certificates: the candidate's latest passed (and not voided) theory attempt of any
    blueprint of ``programme`` (None: not passed)."""
    return (Attempt.objects.filter(user=user, blueprint__programme=programme, status=Attempt.Status.SUBMITTED,
                                   passed=True, voided_at__isnull=True)
            .order_by("-submitted_at", "-pk").first())


def open_attempt(user, blueprint: Blueprint) -> Attempt | None:
    return _attempts_of(user, blueprint).filter(status=Attempt.Status.OPEN).first()


def refusal(user, blueprint: Blueprint, now: datetime | None = None) -> str | None:
    """Why ``user`` may not start a new attempt of ``blueprint`` now (None: they may). An open attempt
    is not considered here: ``start_or_resume`` resumes it whatever this says."""
    from courses import api as courses_api

    now = now or timezone.now()
    if user is None or not user.is_authenticated:
        return _("Please log in first.")
    if not blueprint.is_active:
        return _("This exam is not open.")
    if blueprint.opens_at is not None and now < blueprint.opens_at:
        return _("The exam opens at %(time)s.") % {"time": _local(blueprint.opens_at)}
    if blueprint.closes_at is not None and now >= blueprint.closes_at:
        return _("The exam closed at %(time)s.") % {"time": _local(blueprint.closes_at)}
    if not courses_api.theory_exam_unlocked(user, blueprint.programme):
        return _("The exam unlocks when you have finished the theory of %(programme)s.") % {
            "programme": blueprint.programme.name}
    if has_passed(user, blueprint):
        return _("You have passed this exam.")
    if attempts_left(user, blueprint) <= 0:
        return _("You have used all your attempts at this exam (%(count)s). Ask your training base if you need "
                 "another.") % {"count": _attempts_of(user, blueprint).count()}
    last = (_attempts_of(user, blueprint).filter(status=Attempt.Status.SUBMITTED)
            .order_by("-submitted_at").values_list("submitted_at", flat=True).first())
    if last is not None and blueprint.wait_between_attempts_s:
        until = last + timedelta(seconds=blueprint.wait_between_attempts_s)
        if now < until:
            return _("You may try again from %(time)s.") % {"time": _local(until)}
    return None


# ---------------------------------------------------------------- start or resume


def start_or_resume(user, blueprint: Blueprint, now: datetime | None = None) -> Attempt:
    """The trainee's open attempt of ``blueprint``, or a new one with its own paper.

    Raises ``PermissionDenied`` with the reason (window, theory, attempts, waiting time)."""
    from . import papers

    now = now or timezone.now()
    if user is None or not user.is_authenticated:
        raise PermissionDenied(_("Please log in first."))
    close_expired(now, user=user, blueprint=blueprint)
    with transaction.atomic():
        # One decision at a time per trainee: their user row is the lock (cheap, and never the
        # blueprint's, which every trainee of a province-wide exam shares).
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        existing = open_attempt(user, blueprint)
        if existing is not None:
            return existing
        reason = refusal(user, blueprint, now)
        if reason:
            raise PermissionDenied(reason)
        paper = papers.draw_paper(blueprint, random.Random(secrets.randbits(64)))
        if not paper:
            raise ValidationError(_("This exam has no questions yet."))
        points_of = {(r.module_id, r.difficulty): r.points_each for r in blueprint.rules.all()}
        extra_time = list(unused_grants(user, blueprint, Grant.Kind.EXTRA_TIME).select_for_update())
        extra_s = sum(g.extra_time_s or 0 for g in extra_time)
        made = _attempts_of(user, blueprint).aggregate(n=Max("number"))["n"] or 0
        try:
            with transaction.atomic():
                attempt = Attempt.objects.create(
                    user=user, blueprint=blueprint, number=made + 1, status=Attempt.Status.OPEN, started_at=now,
                    deadline_at=now + timedelta(seconds=blueprint.time_limit_s + extra_s))
        except IntegrityError:  # another request opened one in between (no row lock on SQLite's side)
            existing = open_attempt(user, blueprint)
            if existing is None:
                raise
            return existing
        items = []
        for position, (version, option_order) in enumerate(paper, start=1):
            items.append(PaperItem(attempt=attempt, position=position, version=version,
                                   option_order=list(option_order),
                                   points=points_of.get((version.question.module_id, version.difficulty), 1)))
        PaperItem.objects.bulk_create(items)
        attempt.max_points = sum(i.points for i in items)
        attempt.save(update_fields=["max_points"])
        if extra_time:
            Grant.objects.filter(pk__in=[g.pk for g in extra_time]).update(used_by=attempt)
        if made + 1 > blueprint.attempts_allowed:
            extra = unused_grants(user, blueprint, Grant.Kind.EXTRA_ATTEMPT).order_by("created_at", "pk").first()
            if extra is not None:
                Grant.objects.filter(pk=extra.pk).update(used_by=attempt)
        audit.record(user, "exams.attempt_started", attempt, object_repr=f"{blueprint.name} #{attempt.number}",
                     after={"blueprint": blueprint.pk, "number": attempt.number, "items": len(items),
                            "deadline_at": attempt.deadline_at.isoformat(), "extra_time_s": extra_s})
    return attempt


# ---------------------------------------------------------------- answers


def _counted(events) -> AnswerEvent | None:
    """The event that counts among one item's events in (saved_at, id) order (rule in the docstring)."""
    current, best_seq = None, None
    for event in events:
        if event.client_seq is not None:
            if best_seq is not None and event.client_seq < best_seq:
                continue
            best_seq = event.client_seq
        current = event
    return current


def current_answers(attempt: Attempt, until: datetime | None = None) -> dict[int, list[int]]:
    """Item id -> the ORIGINAL option indices that count (items never answered are left out)."""
    events = AnswerEvent.objects.filter(item__attempt=attempt).order_by("item_id", "saved_at", "pk")
    if until is not None:
        events = events.filter(saved_at__lte=until)
    by_item: dict[int, list] = {}
    for event in events.only("item_id", "choice", "saved_at", "client_seq"):
        by_item.setdefault(event.item_id, []).append(event)
    out = {}
    for item_id, item_events in by_item.items():
        counted = _counted(item_events)
        if counted is not None:
            out[item_id] = list(counted.choice)
    return out


def displayed(item: PaperItem, original: list[int]) -> list[int]:
    """ORIGINAL option indices -> the positions the trainee sees them at."""
    position_of = {orig: pos for pos, orig in enumerate(item.option_order)}
    return sorted(position_of[i] for i in original if i in position_of)


def _clean_choice(item: PaperItem, choice_displayed) -> list[int]:
    n = len(item.option_order)
    if (not isinstance(choice_displayed, list) or len(choice_displayed) > n
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < n for c in choice_displayed)
            or len(set(choice_displayed)) != len(choice_displayed)):
        raise ValidationError(_("Choose among the options of this question."))
    kind = item.version.kind
    if kind == "multiple":
        return sorted(item.option_order[c] for c in choice_displayed)  # [] clears the answer
    if len(choice_displayed) != 1:
        raise ValidationError(_("Choose exactly one answer."))
    return [item.option_order[choice_displayed[0]]]


def _clean_seq(client_seq) -> int | None:
    if client_seq is None:
        return None
    if isinstance(client_seq, bool) or not isinstance(client_seq, int) or not 0 <= client_seq <= MAX_CLIENT_SEQ:
        raise ValidationError(_("The answer's sequence number is not valid."))
    return client_seq


class AttemptClosed(ValidationError):
    """The attempt takes no more answers (submitted, voided, or its time is over)."""


def _closed_message(attempt: Attempt) -> str:
    if attempt.status == Attempt.Status.VOIDED:
        return _("This attempt has been voided.")
    if attempt.submitted_by == Attempt.SubmittedBy.TIME_LIMIT:
        return _("The time is over: the exam has been submitted with the answers saved before the end.")
    if attempt.submitted_by == Attempt.SubmittedBy.LEAVE_LIMIT:
        return _("You left the exam page too often: the exam has been submitted.")
    return _("This exam has already been submitted.")


def _locked_open(attempt: Attempt, now: datetime) -> Attempt:
    """The attempt's row locked; closed at its deadline when found past it (inside the caller's
    transaction). Raises nothing: callers check ``status``."""
    locked = Attempt.objects.select_for_update().select_related("blueprint").get(pk=attempt.pk)
    if locked.status == Attempt.Status.OPEN and now >= locked.deadline_at:
        _grade_and_close(locked, Attempt.SubmittedBy.TIME_LIMIT, locked.deadline_at, actor=None)
    return locked


def save_answer(user, attempt: Attempt, position, choice_displayed, client_seq=None,
                now: datetime | None = None, ip: str | None = None) -> dict[str, Any]:
    """Save one answer (append-only). ``choice_displayed``: the option positions as shown; stored as
    original indices. Returns the item's answer that counts (displayed positions), whether this
    save counts, and the server's remaining seconds. Raises ``AttemptClosed`` (a ``ValidationError``)
    when the attempt takes no more answers: after the deadline it is closed on the spot.

    A batch of one of ``exams.autosave.save_answers`` (the exam socket saves many at once)."""
    from .autosave import Save, save_answers

    _own(user, attempt)
    (result,) = save_answers([Save(user, attempt.pk, position, choice_displayed, client_seq,
                                   now or timezone.now(), ip)])
    if isinstance(result, AttemptClosed):
        attempt.refresh_from_db()
    if isinstance(result, Exception):
        raise result
    return result


def attempt_state(user, attempt: Attempt, now: datetime | None = None) -> dict[str, Any]:
    """What the exam page needs to (re)draw itself: status, remaining seconds, the counted answers
    (displayed positions) and the highest sequence number stored. Never the key."""
    now = now or timezone.now()
    _own(user, attempt)
    if attempt.status == Attempt.Status.OPEN and now >= attempt.deadline_at:
        close_expired(now, user=user, blueprint=attempt.blueprint)
        attempt.refresh_from_db()
    items = list(attempt.items.select_related("version").order_by("position"))
    answers = current_answers(attempt)
    max_seq = AnswerEvent.objects.filter(item__attempt=attempt).aggregate(m=Max("client_seq"))["m"] or 0
    return {
        "status": attempt.status, "remaining_s": remaining_s(attempt, now),
        "answers": {str(i.position): displayed(i, answers[i.pk]) for i in items if i.pk in answers},
        "answered": sum(1 for i in items if answers.get(i.pk)), "total": len(items), "max_seq": max_seq,
        "elapsed_ms": max(0, int((now - attempt.started_at).total_seconds() * 1000)),
        "leave_count": attempt.leave_count,
    }


# ---------------------------------------------------------------- grading and closing


def _grade_and_close(attempt: Attempt, by: str, at: datetime, actor) -> None:
    """Grade the locked open ``attempt`` with the answers saved up to ``at`` and close it."""
    items = list(attempt.items.select_related("version"))
    answers = current_answers(attempt, until=min(at, attempt.deadline_at))
    score = 0
    per_item = []
    for item in items:
        right = sorted(item.version.correct) == sorted(answers.get(item.pk) or [None])
        if right:
            score += item.points
        per_item.append(right)
    max_points = sum(i.points for i in items)
    attempt.score_points = score
    attempt.max_points = max_points
    attempt.score_pct = ((Decimal(score) * 100 / Decimal(max_points)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
                         if max_points else Decimal("0.00"))
    attempt.passed = bool(max_points) and Decimal(score) * 100 >= attempt.blueprint.pass_mark_pct * Decimal(max_points)
    attempt.status = Attempt.Status.SUBMITTED
    attempt.submitted_at = at
    attempt.submitted_by = by
    attempt.save(update_fields=["score_points", "max_points", "score_pct", "passed", "status", "submitted_at",
                                "submitted_by"])
    audit.record(actor, "exams.attempt_submitted", attempt,
                 object_repr=f"{attempt.blueprint.name} #{attempt.number}",
                 after={"user": attempt.user_id, "by": by, "score_points": score, "max_points": max_points,
                        "score_pct": str(attempt.score_pct), "passed": attempt.passed,
                        "correct": sum(per_item), "items": len(items)})


def submit(user, attempt: Attempt, by: str = Attempt.SubmittedBy.TRAINEE, now: datetime | None = None) -> Attempt:
    """Grade and close the attempt, once. The trainee submits their own (``by=trainee``); ``user``
    None is the system (``by=time_limit`` or ``leave_limit``). An attempt already closed is returned
    as it is (a second submit at once gets the first one's result). A trainee's submit after the
    deadline closes it as ``time_limit`` with the answers saved before the end."""
    now = now or timezone.now()
    if by not in Attempt.SubmittedBy.values:
        raise ValidationError(_("Unknown way of submitting."))
    if by == Attempt.SubmittedBy.TRAINEE:
        _own(user, attempt)
    with transaction.atomic():
        locked = _locked_open(attempt, now)
        if locked.status == Attempt.Status.OPEN:
            _grade_and_close(locked, by, now, actor=user)
    attempt.refresh_from_db()
    return attempt


def close_expired(now: datetime | None = None, *, user=None, blueprint=None) -> int:
    """Close every open attempt past its deadline (``time_limit``); returns how many it closed.
    ``user``/``blueprint`` narrow it (the lazy close of one trainee's attempt)."""
    now = now or timezone.now()
    qs = Attempt.objects.filter(status=Attempt.Status.OPEN, deadline_at__lte=now)
    if user is not None:
        qs = qs.filter(user=user)
    if blueprint is not None:
        qs = qs.filter(blueprint=blueprint)
    closed = 0
    for pk in list(qs.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = Attempt.objects.select_for_update().select_related("blueprint").filter(pk=pk).first()
            if locked is not None and locked.status == Attempt.Status.OPEN and now >= locked.deadline_at:
                _grade_and_close(locked, Attempt.SubmittedBy.TIME_LIMIT, locked.deadline_at, actor=None)
                closed += 1
    return closed


# ---------------------------------------------------------------- leaving the page


def record_leave(user, attempt: Attempt, *, returned: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """The exam page was hidden (``returned=False``) or is visible again (``returned=True``).
    A leave past the blueprint's ``leave_limit`` submits the attempt (``leave_limit``)."""
    now = now or timezone.now()
    _own(user, attempt)
    if not isinstance(returned, bool):
        raise ValidationError(_("Say whether the page was left or is back."))
    closed = None
    with transaction.atomic():
        locked = _locked_open(attempt, now)
        if locked.status != Attempt.Status.OPEN:
            closed = locked
        elif returned:
            leave = (LeaveEvent.objects.filter(attempt=locked, returned_at__isnull=True)
                     .order_by("-left_at", "-pk").first())
            if leave is not None:
                leave.returned_at = now
                leave.seconds = max(0, int((now - leave.left_at).total_seconds()))
                leave.save(update_fields=["returned_at", "seconds"])
        else:
            locked.leave_count += 1
            locked.save(update_fields=["leave_count"])
            if locked.leave_count <= MAX_LEAVE_EVENTS:
                LeaveEvent.objects.create(attempt=locked, left_at=now)
            audit.record(user, "exams.page_left", locked, object_repr=f"{locked.blueprint.name} #{locked.number}",
                         after={"leave_count": locked.leave_count})
            limit = locked.blueprint.leave_limit
            if limit is not None and locked.leave_count > limit:
                _grade_and_close(locked, Attempt.SubmittedBy.LEAVE_LIMIT, now, actor=None)
    attempt.refresh_from_db()
    if closed is not None:
        raise AttemptClosed(_closed_message(closed), code="closed")
    return {"leave_count": attempt.leave_count, "leave_limit": attempt.blueprint.leave_limit,
            "status": attempt.status, "remaining_s": remaining_s(attempt, now)}


# ---------------------------------------------------------------- staff: grants and voids


def can_manage_attempts_of(actor, person) -> bool:
    """System admins; region admins whose region contains the person's region."""
    if actor is None or not actor.is_authenticated:
        return False
    return is_system_admin(actor) or can_manage_region(actor, person.region)


def _require_manager(actor, person) -> None:
    if not can_manage_attempts_of(actor, person):
        raise PermissionDenied(_("You may not manage the exams of this person."))


def _clean_reason(reason) -> str:
    reason = str(reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason."))
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError(_("The reason is too long."))
    return reason


def grant(actor, user, blueprint: Blueprint, kind: str, reason: str, extra_time_s=None,
          now: datetime | None = None) -> Grant:
    """Give ``user`` extra time (applied to their open attempt, else to the next) or one more attempt."""
    now = now or timezone.now()
    _require_manager(actor, user)
    if kind not in Grant.Kind.values:
        raise ValidationError(_("Choose extra time or an extra attempt."))
    reason = _clean_reason(reason)
    if kind == Grant.Kind.EXTRA_TIME:
        if (isinstance(extra_time_s, bool) or not isinstance(extra_time_s, int)
                or not 0 < extra_time_s <= MAX_EXTRA_TIME_S):
            raise ValidationError(_("Extra time is between 1 second and 4 hours."))
    else:
        extra_time_s = None
    close_expired(now, user=user, blueprint=blueprint)
    with transaction.atomic():
        g = Grant.objects.create(user=user, blueprint=blueprint, kind=kind, extra_time_s=extra_time_s, reason=reason,
                                 granted_by=actor)
        applied_to = None
        if kind == Grant.Kind.EXTRA_TIME:
            attempt = (Attempt.objects.select_for_update()
                       .filter(user=user, blueprint=blueprint, status=Attempt.Status.OPEN).first())
            if attempt is not None and now < attempt.deadline_at:
                attempt.deadline_at += timedelta(seconds=extra_time_s)
                attempt.save(update_fields=["deadline_at"])
                g.used_by = attempt
                g.save(update_fields=["used_by"])
                applied_to = attempt.pk
        audit.record(actor, "exams.grant", g, object_repr=f"{user.display_name} · {blueprint.name}",
                     after={"user": user.pk, "blueprint": blueprint.pk, "kind": kind, "extra_time_s": extra_time_s,
                            "reason": reason, "applied_to": applied_to})
    return g


def void(actor, attempt: Attempt, reason: str, now: datetime | None = None) -> Attempt:
    """Annul an attempt (open or submitted): it no longer counts as passed or failed, but it remains
    an attempt made (grant an extra attempt for a retake)."""
    now = now or timezone.now()
    _require_manager(actor, attempt.user)
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status == Attempt.Status.VOIDED:
            raise ValidationError(_("This attempt is already voided."))
        before = {"status": locked.status, "passed": locked.passed, "score_pct": str(locked.score_pct)}
        locked.status = Attempt.Status.VOIDED
        locked.voided_at = now
        locked.voided_by = actor
        locked.void_reason = reason
        locked.save(update_fields=["status", "voided_at", "voided_by", "void_reason"])
        audit.record(actor, "exams.attempt_voided", locked, object_repr=f"{attempt.blueprint.name} #{locked.number}",
                     before=before, after={"status": locked.status, "reason": reason, "user": locked.user_id})
    attempt.refresh_from_db()
    return attempt


# ---------------------------------------------------------------- what the trainee's exam list shows


@dataclass
class ExamStatus:
    blueprint: Blueprint
    open_attempt: Attempt | None
    attempts: list
    refusal: str | None
    attempts_left: int
    passed: bool

    @property
    def time_limit_min(self) -> int:
        return -(-self.blueprint.time_limit_s // 60)

    @property
    def may_start(self) -> bool:
        return self.open_attempt is None and self.refusal is None

    @property
    def last_result(self) -> Attempt | None:
        return next((a for a in self.attempts if a.status == Attempt.Status.SUBMITTED), None)


def exams_for(user, now: datetime | None = None) -> list[ExamStatus]:
    """The active exams of the programmes the trainee is enrolled in, each with its state."""
    from courses import api as courses_api

    now = now or timezone.now()
    programme_ids = {e.training_class.programme_id for e in courses_api.active_enrolments(user)}
    close_expired(now, user=user)
    out = []
    for blueprint in (Blueprint.objects.filter(programme_id__in=programme_ids, is_active=True)
                      .select_related("programme").order_by("programme__name", "pk")):
        attempts = list(_attempts_of(user, blueprint).order_by("-number"))
        opened = next((a for a in attempts if a.status == Attempt.Status.OPEN), None)
        out.append(ExamStatus(blueprint=blueprint, open_attempt=opened, attempts=attempts,
                              refusal=None if opened else refusal(user, blueprint, now),
                              attempts_left=attempts_left(user, blueprint),
                              passed=any(a.status == Attempt.Status.SUBMITTED and a.passed for a in attempts)))
    return out
