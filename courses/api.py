"""Public functions of the courses app: enrolment, honest study progress, credits and the exam hook.

Other apps call these, never ``courses.models`` for writes. Each state-changing operation is one
function (validation, permission, transaction, audit). Errors are ``ValidationError`` (bad input,
a message in the user's language) or ``PermissionDenied`` (not allowed); either way nothing is
stored. Every function that depends on the time takes ``now=`` (tests pass it instead of sleeping).

How progress is counted (also in ``docs/study.md``)
===================================================

**Time on task** comes from heartbeats. ``study.js`` sends one when a lesson page opens, one every
``HEARTBEAT_INTERVAL_S`` (15 s) while ``document.visibilityState`` is ``"visible"``, and one with
``visible=false`` when the page is hidden. The server never reads a time from the client: it keeps
one ``StudyClock`` per person (not per lesson, not per tab) holding the server time up to which
study has been credited. A heartbeat at server time ``now``, under a row lock on that clock:

- ``elapsed = now - credited_until``;
- a *visible* heartbeat credits ``elapsed`` seconds to its lesson when ``0 < elapsed <=
  HEARTBEAT_MAX_GAP_S`` (40 s: one lost heartbeat plus network jitter); a longer gap means the
  person was away (page hidden, computer asleep, network down) and credits nothing: the clock
  restarts;
- a *hidden* heartbeat credits nothing, nor does the *start* beat a page sends when it opens or
  becomes visible again (the time before it was not spent on this page);
- either way ``credited_until`` becomes ``now`` (never earlier than it was).

So credited time never exceeds real elapsed time: two tabs at once share one clock (each beat
only earns the time since the previous beat of either tab); a tab left open in the background
sends no visible beats; a replayed heartbeat, whether it claims to come from the past or the
future, is just one more beat at the server's ``now`` and earns at most the time since the last
one; a heartbeat for a lesson the person may not study (not enrolled, or a locked segment) is
refused with 403 and changes nothing, not even the clock. PostgreSQL: the clock row is locked with
``SELECT ... FOR UPDATE`` so concurrent heartbeats cannot both credit the same seconds; SQLite
serialises write transactions.

**Videos**: the client posts the ranges it actually played (``study.js`` follows ``timeupdate``
between seeks; a seek starts a new range, so jumping ahead plays nothing). The server clamps each
range to ``[0, duration_s]`` where ``duration_s`` comes from the video block of the page's
StreamField (the client's idea of the duration is ignored), merges the ranges with those stored,
and ``played_s`` is the total length of the union: seconds played twice count once. A video is
*watched* when ``played_s >= VIDEO_WATCHED_SHARE`` (90 %) of its duration.

**Practice questions**: an answer is checked against the page's question block (by block id); the
first answer is kept (right or wrong) and later tries are counted; the reply carries the correct
choices and the explanation, which the page itself never contains.

**A lesson is complete** when (1) its time on task reaches ``LESSON_TIME_SHARE`` (50 %) of its
``estimated_minutes``, but never more than ``LESSON_TIME_REQUIRED_MAX_S`` (20 minutes: a long
estimate does not make a lesson impossible to finish in one sitting), (2) every video of the
lesson is watched and (3) every practice question has been answered. Completion is recorded
once (``LessonProgress.completed_at``) and kept when an editor later changes the page. Time shown
as study time is counted per lesson up to ``LESSON_TIME_COUNTED_SHARE`` (150 %) of its estimate:
a lesson left open on screen does not inflate the hours.

**A module is complete** when every live lesson of its module page is complete (a module without
lessons is never complete). Its credits and class hours (``ProgrammeModule``) are earned then.
Progress belongs to the person, not the class: a lesson studied once is never studied again for
another class.

**Programme modes**:

- 菜单式 (menu): every module of the programme may be studied; the theory is complete when every
  *required* module is complete and the credits of the completed modules (required, and optional
  ones the trainee chose or finished) reach ``required_credits``.
- 分段型 (segments): modules are grouped in ``segment`` 1, 2, …; the lessons of a segment open only
  when every required module of every earlier segment is complete. The server enforces it: the
  heartbeat, video, answer and state endpoints answer 403 for a locked lesson, and the study page
  shows it locked. The theory is complete when every required module is complete and the credits
  reach ``required_credits``.
- 积分制 (credits): only credits count: the theory is complete when the credits of the completed
  modules of the programme reach ``required_credits``, whichever modules and in whichever of the
  person's classes of the programme they were earned (a class that finished or was left still
  counts).

Hook for the theory exam (next issue)
=====================================

- ``theory_complete(user, programme)``: the theory part of ``programme`` is complete for ``user``
  (the rules above).
- ``theory_exam_unlocked(user, programme)``: the person may start the programme's online theory
  exam: the programme has one (``theory_exam_required``), the person has an active enrolment in one
  of its classes, and the theory is complete. The exam app must call it (on the server) before it
  opens an attempt, and may show its result on the exam's start page.
- ``theory_completed`` (a ``django.dispatch.Signal``, sent after the commit with ``user`` and
  ``programme``) fires when a lesson completion makes a programme's theory complete: the exam app
  may connect to it to notify the trainee or prepare a paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from lms import audit

from .models import (
    Enrolment,
    LessonProgress,
    Programme,
    ProgrammeModule,
    QuestionAnswer,
    StudyClock,
    TrainingClass,
    VideoProgress,
)
from .permissions import can_manage_class

HEARTBEAT_INTERVAL_S = 15  # the client's beat while the page is visible
HEARTBEAT_MAX_GAP_S = 40  # a visible beat credits the time since the last beat only up to this
VIDEO_WATCHED_SHARE = 0.9
VIDEO_MAX_PLAYBACK_RATE = 2.0  # the fastest playback the player offers
VIDEO_FIRST_REPORT_S = 15.0  # a first report covers at most this long of playing
VIDEO_REPORT_SLACK_S = 2.0
LESSON_TIME_SHARE = 0.5
LESSON_TIME_REQUIRED_MAX_S = 20 * 60
LESSON_TIME_COUNTED_SHARE = 1.5
CLASS_HOUR_MINUTES = 45
MAX_RANGES = 500  # ranges in one video post
MAX_CHOICES = 20

theory_completed = Signal()  # sent with user=, programme= after the commit that completed the theory

STUDY_CLASS_STATUSES = (TrainingClass.Status.OPEN, TrainingClass.Status.CLOSED)
STEPLEN = 4  # treebeard's path step of Wagtail pages (Page.steplen)


# ---------------------------------------------------------------- lesson pages


def _lesson_model():
    from content.models import LessonPage  # the content app owns the pages; imported late

    return LessonPage


def get_lesson(lesson_id, *, body: bool = True) -> Any | None:
    """The live ``content.LessonPage`` with this id, or None (``body=False``: its StreamField is loaded
    only if used, which a heartbeat rarely needs)."""
    if isinstance(lesson_id, bool):
        return None
    try:
        lesson_id = int(lesson_id)
    except (TypeError, ValueError):
        return None
    qs = _lesson_model().objects.live().filter(pk=lesson_id)
    return (qs if body else qs.defer("body")).first()


@dataclass
class LessonBlocks:
    videos: dict[str, float] = field(default_factory=dict)  # block id -> duration_s
    questions: dict[str, Any] = field(default_factory=dict)  # block id -> StructValue


def lesson_blocks(lesson) -> LessonBlocks:
    """The lesson's video and practice-question blocks, by block id, in page order."""
    out = LessonBlocks()
    for block in lesson.body:
        if block.block_type == "video":
            try:
                duration = float(block.value.get("duration_s") or 0)
            except (TypeError, ValueError):
                duration = 0.0
            out.videos[str(block.id)] = duration if math.isfinite(duration) and duration > 0 else 0.0
        elif block.block_type == "question":
            out.questions[str(block.id)] = block.value
    return out


def required_seconds(lesson) -> int:
    """Time on task a lesson asks for: 50 % of its estimate, at most 20 minutes."""
    return _required_seconds(lesson.estimated_minutes)


def _required_seconds(estimated_minutes) -> int:
    estimate_s = max(int(estimated_minutes or 0), 0) * 60
    return min(math.ceil(estimate_s * LESSON_TIME_SHARE), LESSON_TIME_REQUIRED_MAX_S)


def counted_seconds(seconds_on_task: int, estimated_minutes: int) -> int:
    """Study time of one lesson as shown and summed: at most 150 % of its estimate."""
    cap = math.ceil(max(int(estimated_minutes or 0), 1) * 60 * LESSON_TIME_COUNTED_SHARE)
    return min(int(seconds_on_task), cap)


def _parent_path(page) -> str:
    return page.path[: -page.steplen]


def _lessons_by_module(module_pages) -> dict[int, list]:
    """Live lessons of each module page (page id -> lessons in tree order), in one query."""
    module_pages = list(module_pages)
    out: dict[int, list] = {m.pk: [] for m in module_pages}
    if not module_pages:
        return out
    by_path = {m.path: m.pk for m in module_pages}
    q = Q()
    for m in module_pages:
        q |= Q(path__startswith=m.path, depth=m.depth + 1)
    steplen = module_pages[0].steplen
    for lesson in _lesson_model().objects.live().filter(q).order_by("path"):
        out[by_path[lesson.path[:-steplen]]].append(lesson)
    return out


def programme_modules(programme: Programme) -> list[ProgrammeModule]:
    return list(programme.modules.select_related("module_page").order_by("segment", "order", "pk"))


def lessons_of(programme: Programme) -> list:
    """Every live lesson of the programme, in module order then page-tree order."""
    pms = programme_modules(programme)
    lessons = _lessons_by_module([pm.module_page for pm in pms])
    return [lesson for pm in pms for lesson in lessons[pm.module_page_id]]


# ---------------------------------------------------------------- completion, modules, credits


def _completed_lesson_ids(user, lesson_ids) -> set[int]:
    return set(LessonProgress.objects.filter(user=user, lesson_id__in=list(lesson_ids), completed_at__isnull=False)
               .values_list("lesson_id", flat=True))


@dataclass
class ModuleStatus:
    module: ProgrammeModule
    lessons: list
    completed: set[int]
    locked: bool = False
    chosen: bool = False

    @property
    def lessons_total(self) -> int:
        return len(self.lessons)

    @property
    def lessons_complete(self) -> int:
        return sum(1 for lesson in self.lessons if lesson.pk in self.completed)

    @property
    def complete(self) -> bool:
        return bool(self.lessons) and self.lessons_complete == self.lessons_total

    @property
    def percent(self) -> int:
        return int(100 * self.lessons_complete / self.lessons_total) if self.lessons else 0

    @property
    def title(self) -> str:
        return self.module.module_page.title


def module_statuses(user, programme: Programme) -> list[ModuleStatus]:
    """Every module of the programme with the person's progress and (分段型) whether it is locked."""
    pms = programme_modules(programme)
    lessons = _lessons_by_module([pm.module_page for pm in pms])
    done = _completed_lesson_ids(user, [lesson.pk for ls in lessons.values() for lesson in ls])
    statuses = [ModuleStatus(pm, lessons[pm.module_page_id], done) for pm in pms]
    if programme.mode == Programme.Mode.SEGMENTED:
        for status in statuses:
            status.locked = any(not other.complete for other in statuses
                                if other.module.segment < status.module.segment and other.module.required)
    return statuses


def _credits(statuses: list[ModuleStatus]) -> tuple[Decimal, Decimal]:
    credits = sum((s.module.credits for s in statuses if s.complete), Decimal(0))
    hours = sum((s.module.class_hours for s in statuses if s.complete), Decimal(0))
    return credits, hours


def _theory_complete_from(programme: Programme, statuses: list[ModuleStatus]) -> bool:
    if not statuses:
        return False
    credits, _hours = _credits(statuses)
    if programme.mode == Programme.Mode.CREDITS:
        return credits >= programme.required_credits and credits > 0
    return all(s.complete for s in statuses if s.module.required) and credits >= programme.required_credits


def theory_complete(user, programme: Programme) -> bool:
    """The theory part of ``programme`` is complete for ``user`` (see the module docstring for each mode)."""
    if user is None or not user.is_authenticated:
        return False
    return _theory_complete_from(programme, module_statuses(user, programme))


def theory_exam_unlocked(user, programme: Programme) -> bool:
    """The hook for the online theory exam: the programme has one, the person is actively enrolled in
    one of its classes and has completed its theory. Call it before opening an exam attempt."""
    if not programme.theory_exam_required or user is None or not user.is_authenticated:
        return False
    enrolled = Enrolment.objects.filter(user=user, training_class__programme=programme,
                                        status=Enrolment.Status.ACTIVE).exists()
    return enrolled and theory_complete(user, programme)


# ---------------------------------------------------------------- who may study what


def active_enrolments(user):
    return (Enrolment.objects.filter(user=user, status=Enrolment.Status.ACTIVE,
                                     training_class__status__in=STUDY_CLASS_STATUSES)
            .select_related("training_class__programme", "training_class__training_base"))


def classes_attended(user):
    """Every class ``user`` was ever enrolled in (any status), with its instructors and training base:
    what the practical exam's 考培分离 rule checks an examiner against."""
    return (TrainingClass.objects.filter(enrolments__user=user).distinct()
            .select_related("training_base", "programme").prefetch_related("instructors"))


def class_of(user, programme: Programme) -> TrainingClass | None:
    """The class of ``programme`` that ``user`` took (not withdrawn), the latest first: the class a
    certificate names (its training base issues it, its instructors are printed)."""
    return (TrainingClass.objects.filter(programme=programme, enrolments__user=user)
            .exclude(enrolments__user=user, enrolments__status=Enrolment.Status.WITHDRAWN)
            .select_related("training_base__region").order_by("-starts_on", "-pk").first())


@dataclass
class LessonAccess:
    allowed: bool
    locked: bool
    module: ProgrammeModule | None
    reason: str = ""


def lesson_access(user, lesson) -> LessonAccess:
    """Whether ``user`` may study ``lesson``: enrolled (actively, in a running class) in a programme
    whose module holds it, and (分段型) the module's segment is open."""
    if user is None or not user.is_authenticated:
        return LessonAccess(False, False, None, _("Please log in first."))
    pms = list(ProgrammeModule.objects.filter(
        module_page__path=_parent_path(lesson),
        programme__classes__enrolments__user=user,
        programme__classes__enrolments__status=Enrolment.Status.ACTIVE,
        programme__classes__status__in=STUDY_CLASS_STATUSES,
    ).select_related("programme", "module_page").distinct())
    if not pms:
        return LessonAccess(False, False, None, _("This lesson is not part of a class you are enrolled in."))
    locked_one = None
    for pm in pms:
        if pm.programme.mode != Programme.Mode.SEGMENTED:
            return LessonAccess(True, False, pm)
        earlier = [s for s in module_statuses(user, pm.programme)
                   if s.module.segment < pm.segment and s.module.required]
        if all(s.complete for s in earlier):
            return LessonAccess(True, False, pm)
        locked_one = pm
    return LessonAccess(False, True, locked_one,
                        _("This lesson opens when you have finished the modules of the previous segment."))


def _studiable_lesson(user, lesson_id, *, body: bool = True):
    """The lesson, or an exception: ``LessonNotFound`` (404) or ``PermissionDenied`` (403)."""
    lesson = get_lesson(lesson_id, body=body)
    if lesson is None:
        raise LessonNotFound(_("This lesson does not exist."))
    access = lesson_access(user, lesson)
    if not access.allowed:
        raise PermissionDenied(access.reason)
    return lesson, access


class LessonNotFound(Exception):
    """No live lesson page with that id (views answer 404)."""


# ---------------------------------------------------------------- lesson completion


def _lesson_is_complete(user, lesson, progress: LessonProgress) -> bool:
    if progress.seconds_on_task < required_seconds(lesson):
        return False
    blocks = lesson_blocks(lesson)
    if blocks.videos:
        watched = set(VideoProgress.objects.filter(user=user, lesson=lesson, video_key__in=list(blocks.videos),
                                                   watched_at__isnull=False).values_list("video_key", flat=True))
        if set(blocks.videos) - watched:
            return False
    if blocks.questions:
        answered = set(QuestionAnswer.objects.filter(user=user, lesson=lesson, question_key__in=list(blocks.questions))
                       .values_list("question_key", flat=True))
        if set(blocks.questions) - answered:
            return False
    return True


def _update_completion(user, lesson, progress: LessonProgress, now: datetime) -> bool:
    """Record the lesson's completion when it is newly complete (inside the caller's transaction)."""
    if progress.completed_at is not None:
        return True
    if not _lesson_is_complete(user, lesson, progress):
        return False
    before = {pm.programme_id: theory_complete(user, pm.programme) for pm in _programme_modules_of(user, lesson)}
    progress.completed_at = now
    progress.save(update_fields=["completed_at"])
    audit.record(user, "courses.lesson_completed", progress, object_repr=lesson.title,
                 after={"lesson": lesson.pk, "seconds_on_task": progress.seconds_on_task})
    for pm in _programme_modules_of(user, lesson):
        if not before.get(pm.programme_id) and theory_complete(user, pm.programme):
            programme = pm.programme
            audit.record(user, "courses.theory_completed", programme, after={"programme": programme.code})
            transaction.on_commit(lambda p=programme: theory_completed.send(sender=Programme, user=user, programme=p))
    return True


def _programme_modules_of(user, lesson) -> list[ProgrammeModule]:
    return list(ProgrammeModule.objects.filter(
        module_page__path=_parent_path(lesson), programme__classes__enrolments__user=user,
        programme__classes__enrolments__status=Enrolment.Status.ACTIVE).select_related("programme").distinct())


def _locked_row(model, **key):
    """The row of ``model`` with ``key``, locked for the transaction (created when missing)."""
    row = model.objects.select_for_update().filter(**key).first()
    if row is None:
        try:
            with transaction.atomic():
                model.objects.create(**key)
        except IntegrityError:  # created by a concurrent request in between: it exists now
            pass
        row = model.objects.select_for_update().get(**key)
    return row


def _progress_for_update(user, lesson) -> LessonProgress:
    return _locked_row(LessonProgress, user=user, lesson_id=lesson.pk)


# ---------------------------------------------------------------- heartbeats


@dataclass(frozen=True)
class StudyLesson:
    """A live lesson a person may study, as the heartbeat needs it (``heartbeat_lesson``)."""

    pk: int
    estimated_minutes: int


@dataclass(frozen=True)
class Beat:
    """One heartbeat: ``user`` on ``lesson`` (already checked by ``heartbeat_lesson``) at server time ``now``."""

    user: Any
    lesson: StudyLesson
    visible: bool
    start: bool
    now: datetime


def heartbeat_lesson(user, lesson_id) -> StudyLesson:
    """The lesson ``lesson_id`` if ``user`` may study it now, else ``LessonNotFound`` or ``PermissionDenied``.

    The access check of a heartbeat, apart from its write: the study socket (``courses.consumers``)
    keeps the result per connection and asks again when the person's access changes."""
    return StudyLesson(*_beat_lesson(user, lesson_id))


def _beat_flags(visible, start) -> None:
    if not isinstance(visible, bool) or not isinstance(start, bool):
        raise ValidationError(_("The heartbeat must say whether the page is visible."))


def record_heartbeat(user, lesson_id, *, visible: bool, start: bool = False,
                     now: datetime | None = None) -> dict[str, int]:
    """Credit time on task for one heartbeat (rules in the module docstring). ``start``: the page has
    just opened or become visible again, so the time before it was not spent on it (credits nothing,
    restarts the clock; a client can only lose time by sending it).

    Returns ``{"credited_s": seconds credited now, "lesson_seconds": the lesson's time on task,
    "complete": whether the lesson is complete}``.
    Raises ``PermissionDenied`` for a lesson the person may not study and ``LessonNotFound``."""
    _beat_flags(visible, start)
    lesson = heartbeat_lesson(user, lesson_id)
    with transaction.atomic():
        return _credit(Beat(user, lesson, visible, start, now or timezone.now()))


def record_heartbeats(beats: list[Beat]) -> list[dict[str, int] | Exception]:
    """Credit several checked heartbeats (``heartbeat_lesson``) in one transaction: the group commit of
    the study socket, which serves every connection of its process. Same rules and result as
    ``record_heartbeat``, one result per beat in order (a malformed beat's result is its
    ``ValidationError``). The batch costs a fixed handful of statements whatever its size (the
    clocks and progress rows it touches are read and locked together, and written back with one
    ``UPDATE`` each); should it fail, each beat is retried in a transaction of its own, so one beat's
    failure costs the others nothing (its result is then the exception)."""
    results: list[dict[str, int] | Exception | None] = [None] * len(beats)
    good = []
    for i, beat in enumerate(beats):
        try:
            _beat_flags(beat.visible, beat.start)
            good.append(i)
        except ValidationError as exc:
            results[i] = exc
    try:
        with transaction.atomic():
            for i, result in zip(good, _credit_all([beats[i] for i in good])):
                results[i] = result
        return results
    except (DatabaseError, ObjectDoesNotExist):
        if len(good) == 1:
            raise
    for i in good:
        try:
            with transaction.atomic():
                results[i] = _credit_all([beats[i]])[0]
        except (DatabaseError, ObjectDoesNotExist) as exc:
            results[i] = exc
    return results


def _credit(beat: Beat) -> dict[str, int]:
    _beat_flags(beat.visible, beat.start)
    return _credit_all([beat])[0]


def _locked_by(model, key_fields: tuple[str, ...], keys: set[tuple], fields: tuple[str, ...], **filters) -> dict:
    """``{key: [pk, *fields]}`` of the rows of ``model`` with these keys, created when missing, locked
    for the transaction in primary-key order (so concurrent transactions never wait on each other in
    a circle)."""
    def fetch():
        rows = model.objects.select_for_update().filter(**filters).order_by("pk").values_list(
            *key_fields, "pk", *fields)
        n = len(key_fields)
        return {tuple(r[:n]): list(r[n:]) for r in rows if tuple(r[:n]) in keys}

    found = fetch()
    if len(found) < len(keys):
        model.objects.bulk_create([model(**dict(zip(key_fields, key))) for key in keys - found.keys()],
                                  ignore_conflicts=True)  # one made by a concurrent request in between stays
        found = fetch()
    return found


def _credit_all(beats: list[Beat]) -> list[dict[str, int]]:
    """The write of heartbeats, in order, inside the caller's transaction (rules in the module docstring)."""
    if not beats:
        return []
    user_ids = {beat.user.pk for beat in beats}
    clocks = _locked_by(StudyClock, ("user_id",), {(u,) for u in user_ids}, ("credited_until",),
                        user_id__in=user_ids)
    pairs = {(beat.user.pk, beat.lesson.pk) for beat in beats}
    progress = _locked_by(LessonProgress, ("user_id", "lesson_id"), pairs, ("seconds_on_task", "completed_at"),
                          user_id__in=user_ids, lesson_id__in={lesson for _u, lesson in pairs})
    results, last_lesson, credited_at = [], {}, {}
    for beat in beats:
        clock, row = clocks[(beat.user.pk,)], progress[(beat.user.pk, beat.lesson.pk)]
        credited_until, credited = clock[1], 0
        if credited_until is not None:
            elapsed = (beat.now - credited_until).total_seconds()
            if beat.visible and not beat.start and 0 < elapsed <= HEARTBEAT_MAX_GAP_S:
                credited = int(elapsed)  # whole seconds; the remainder stays uncredited
        if credited_until is None or beat.now > credited_until:
            # Move the clock by the credited whole seconds when crediting (the fraction carries to the
            # next beat), else to now.
            clock[1] = credited_until + timedelta(seconds=credited) if credited else beat.now
        last_lesson[beat.user.pk] = beat.lesson.pk
        if credited:
            row[1] += credited
            credited_at[(beat.user.pk, beat.lesson.pk)] = beat.now
        results.append({"credited_s": credited, "lesson_seconds": row[1], "complete": row[2] is not None})
    StudyClock.objects.bulk_update(
        [StudyClock(pk=clocks[(u,)][0], user_id=u, credited_until=clocks[(u,)][1], last_lesson_id=last_lesson[u])
         for u in user_ids], ["credited_until", "last_lesson"])
    if credited_at:
        LessonProgress.objects.bulk_update(
            [LessonProgress(pk=progress[key][0], seconds_on_task=progress[key][1], last_credited_at=now)
             for key, now in credited_at.items()], ["seconds_on_task", "last_credited_at"])
    # A lesson whose time is now enough may be complete (its videos and questions decide): rare.
    required = {beat.lesson.pk: _required_seconds(beat.lesson.estimated_minutes) for beat in beats}
    for (user_id, lesson_pk), now in credited_at.items():
        pk, seconds, completed_at = progress[(user_id, lesson_pk)]
        if completed_at is None and seconds >= required[lesson_pk]:
            user = next(beat.user for beat in beats if beat.user.pk == user_id)
            if _update_completion(user, get_lesson(lesson_pk), LessonProgress.objects.get(pk=pk), now):
                for beat, result in zip(beats, results):
                    if (beat.user.pk, beat.lesson.pk) == (user_id, lesson_pk) and beat.now >= now:
                        result["complete"] = True
    return results


def _beat_lesson(user, lesson_id) -> tuple[int, int]:
    """(id, estimated minutes) of a live lesson ``user`` may study, else ``LessonNotFound`` or
    ``PermissionDenied``: two light queries, and the full check (``lesson_access``) only for a lesson
    past the first segment of a 分段型 programme."""
    if isinstance(lesson_id, bool):
        raise LessonNotFound(_("This lesson does not exist."))
    try:
        lesson_pk = int(lesson_id)
    except (TypeError, ValueError):
        raise LessonNotFound(_("This lesson does not exist.")) from None
    row = _lesson_model().objects.live().filter(pk=lesson_pk).values_list("path", "estimated_minutes").first()
    if row is None:
        raise LessonNotFound(_("This lesson does not exist."))
    path, minutes = row
    links = list(ProgrammeModule.objects.filter(
        module_page__path=path[:-STEPLEN],
        programme__classes__enrolments__user=user,
        programme__classes__enrolments__status=Enrolment.Status.ACTIVE,
        programme__classes__status__in=STUDY_CLASS_STATUSES,
    ).values_list("programme_id", "programme__mode", "segment")[:20])
    if not links:
        raise PermissionDenied(_("This lesson is not part of a class you are enrolled in."))
    if any(mode != Programme.Mode.SEGMENTED for _p, mode, _s in links):
        return lesson_pk, minutes
    first_segment = Q()
    for programme_id, _mode, segment in links:
        first_segment |= Q(programme_id=programme_id, segment__lt=segment, required=True)
    if ProgrammeModule.objects.filter(first_segment).values("programme_id").distinct().count() < len(
            {programme_id for programme_id, _m, _s in links}):
        return lesson_pk, minutes  # a programme where the lesson's segment is the first: open
    access = lesson_access(user, get_lesson(lesson_pk, body=False))
    if not access.allowed:
        raise PermissionDenied(access.reason)
    return lesson_pk, minutes


# ---------------------------------------------------------------- videos


def merge_ranges(ranges) -> list[list[float]]:
    """Sorted, non-overlapping union of ``[start, end]`` ranges (touching ranges join)."""
    out: list[list[float]] = []
    for start, end in sorted((float(a), float(b)) for a, b in ranges if b > a):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def _clean_ranges(ranges, duration_s: float) -> list[list[float]]:
    if not isinstance(ranges, list) or len(ranges) > MAX_RANGES:
        raise ValidationError(_("The played ranges are not valid."))
    clean = []
    for item in ranges:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in item)):
            raise ValidationError(_("The played ranges are not valid."))
        start, end = max(0.0, float(item[0])), min(duration_s, float(item[1]))
        if end > start:
            clean.append([round(start, 3), round(end, 3)])
    return clean


def _uncovered(start: float, end: float, covered: list[list[float]]) -> list[list[float]]:
    """The parts of [start, end] outside the merged, sorted ranges ``covered``."""
    out, at = [], start
    for a, b in covered:
        if b <= at or a >= end:
            continue
        if a > at:
            out.append([at, a])
        at = max(at, b)
    if at < end:
        out.append([at, end])
    return out


def _within_real_time(stored: list, new: list, budget_s: float) -> list[list[float]]:
    """The seconds ``new`` adds to ``stored``, in playing order, cut to ``budget_s`` seconds at most."""
    taken: list[list[float]] = []
    left = budget_s
    for a, b in sorted(new):
        for s_, e_ in _uncovered(a, b, merge_ranges(stored + taken)):
            if left <= 0:
                return taken
            piece = min(e_ - s_, left)
            taken.append([round(s_, 3), round(s_ + piece, 3)])
            left -= piece
    return taken


def video_budget_s(last_report_at: datetime | None, now: datetime) -> float:
    """How many new seconds of video a report may add: what real time allows since the last accepted
    report (at up to ``VIDEO_MAX_PLAYBACK_RATE``× speed, plus a little slack for the network); a first
    report at most ``VIDEO_FIRST_REPORT_S`` of playing (study.js reports every 10 s of play)."""
    elapsed = VIDEO_FIRST_REPORT_S if last_report_at is None else max(0.0, (now - last_report_at).total_seconds())
    return elapsed * VIDEO_MAX_PLAYBACK_RATE + VIDEO_REPORT_SLACK_S


def record_video_ranges(user, lesson_id, video_key, ranges, now: datetime | None = None) -> dict[str, Any]:
    """Add the ranges of a lesson video the person played; returns played_s, duration_s, watched.

    Only seconds not played before count, and no faster than real time allows (``video_budget_s``): a
    client that claims the whole video at once gets the first seconds of its claim, not the video."""
    now = now or timezone.now()
    lesson, _access = _studiable_lesson(user, lesson_id)
    blocks = lesson_blocks(lesson)
    key = str(video_key or "")
    if key not in blocks.videos:
        raise ValidationError(_("This video is not part of the lesson."))
    duration = blocks.videos[key]
    clean = _clean_ranges(ranges, duration)
    with transaction.atomic():
        video = _locked_row(VideoProgress, user=user, lesson_id=lesson.pk, video_key=key)
        stored = [r for r in video.played_ranges if r[1] <= duration]
        added = _within_real_time(stored, clean, video_budget_s(video.updated_at, now))
        merged = merge_ranges(stored + added)
        merged = [[a, min(b, duration)] for a, b in merged]
        video.played_ranges = merged
        video.played_s = round(sum(b - a for a, b in merged), 3)
        video.duration_s = duration
        newly_watched = video.watched_at is None and duration > 0 and video.played_s >= VIDEO_WATCHED_SHARE * duration
        if newly_watched:
            video.watched_at = now
        video.updated_at = now  # the next report's budget counts from here
        video.save(update_fields=["played_ranges", "played_s", "duration_s", "watched_at", "updated_at"])
        if newly_watched:
            audit.record(user, "courses.video_watched", video, object_repr=lesson.title,
                         after={"lesson": lesson.pk, "video": key, "played_s": video.played_s})
            _update_completion(user, lesson, _progress_for_update(user, lesson), now)
    return {"played_s": video.played_s, "duration_s": duration, "watched": video.watched_at is not None}


# ---------------------------------------------------------------- practice questions


def correct_choices(question) -> list[int]:
    return [i for i, choice in enumerate(question["choices"]) if choice.get("correct")]


def answer_question(user, lesson_id, question_key, choice, now: datetime | None = None) -> dict[str, Any]:
    """Check a practice answer; the first answer is stored, later tries are counted."""
    now = now or timezone.now()
    lesson, _access = _studiable_lesson(user, lesson_id)
    blocks = lesson_blocks(lesson)
    key = str(question_key or "")
    question = blocks.questions.get(key)
    if question is None:
        raise ValidationError(_("This question is not part of the lesson."))
    n = len(question["choices"])
    if (not isinstance(choice, list) or not choice or len(choice) > MAX_CHOICES
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < n for c in choice)):
        raise ValidationError(_("Choose at least one answer."))
    chosen = sorted(set(choice))
    right = correct_choices(question)
    correct = chosen == right
    with transaction.atomic():
        answer, created = QuestionAnswer.objects.get_or_create(
            user=user, lesson_id=lesson.pk, question_key=key, defaults={"choice": chosen, "correct": correct})
        if created:
            audit.record(user, "courses.question_answered", answer, object_repr=lesson.title,
                         after={"lesson": lesson.pk, "question": key, "correct": correct})
            _update_completion(user, lesson, _progress_for_update(user, lesson), now)
        else:
            QuestionAnswer.objects.filter(pk=answer.pk).update(tries=F("tries") + 1)
    return {"correct": correct, "correct_choices": right, "explanation": str(question["explanation"]),
            "first_try_correct": answer.correct}


# ---------------------------------------------------------------- state of a lesson, summaries


def lesson_state(user, lesson_id) -> dict[str, Any]:
    """The person's progress in one lesson (the lesson page's per-trainee part)."""
    lesson, access = _studiable_lesson(user, lesson_id)
    blocks = lesson_blocks(lesson)
    progress = LessonProgress.objects.filter(user=user, lesson_id=lesson.pk).first()
    seconds = progress.seconds_on_task if progress else 0
    stored = {v.video_key: v for v in VideoProgress.objects.filter(user=user, lesson_id=lesson.pk)}
    videos = {}
    for key, duration in blocks.videos.items():
        v = stored.get(key)
        videos[key] = {"played_s": v.played_s if v else 0.0, "duration_s": duration,
                       "watched": bool(v and v.watched_at)}
    answers = {a.question_key: {"correct": a.correct, "choice": a.choice}
               for a in QuestionAnswer.objects.filter(user=user, lesson_id=lesson.pk, question_key__in=list(blocks.questions))}
    statuses = module_statuses(user, access.module.programme)
    module = next(s for s in statuses if s.module.pk == access.module.pk)
    order = [lesson_ for s in statuses for lesson_ in s.lessons]
    nxt = None
    for i, other in enumerate(order):
        if other.pk == lesson.pk and i + 1 < len(order):
            nxt = order[i + 1]
    return {
        "seconds_on_task": seconds,
        "required_s": required_seconds(lesson),
        "videos": videos,
        "answers": answers,
        "questions_total": len(blocks.questions),
        "complete": bool(progress and progress.completed_at),
        "next_url": nxt.get_url() if nxt is not None else None,
        "module": {"title": module.title, "lessons_total": module.lessons_total,
                   "lessons_complete": module.lessons_complete, "complete": module.complete},
    }


def next_lesson(user, enrolment: Enrolment, statuses: list[ModuleStatus] | None = None):
    """The first lesson not yet complete, in programme order, that the person may study: required
    modules first, then (菜单式) the chosen optional ones, then the other optional ones."""
    programme = enrolment.training_class.programme
    statuses = statuses if statuses is not None else module_statuses(user, programme)
    chosen = set(enrolment.chosen_modules.values_list("pk", flat=True))

    def rank(s: ModuleStatus) -> int:
        if s.module.required:
            return 0
        return 1 if s.module.pk in chosen else 2

    for s in sorted(statuses, key=rank):
        if s.locked:
            continue
        for lesson in s.lessons:
            if lesson.pk not in s.completed:
                return lesson
    return None


@dataclass
class Summary:
    enrolment: Enrolment
    modules: list[ModuleStatus]
    credits: Decimal
    class_hours: Decimal
    seconds_on_task: int
    next_lesson: Any
    theory_complete: bool
    exam_unlocked: bool

    @property
    def programme(self) -> Programme:
        return self.enrolment.training_class.programme

    @property
    def training_class(self) -> TrainingClass:
        return self.enrolment.training_class

    @property
    def minutes_on_task(self) -> int:
        return self.seconds_on_task // 60

    @property
    def deadline(self) -> date | None:
        return self.training_class.theory_deadline

    @property
    def optional_modules(self) -> list[ModuleStatus]:
        """菜单式: the optional modules, each with ``chosen`` set."""
        chosen = set(self.enrolment.chosen_modules.values_list("pk", flat=True))
        out = [s for s in self.modules if not s.module.required]
        for s in out:
            s.chosen = s.module.pk in chosen
        return out

    def days_left(self, today: date | None = None) -> int | None:
        if self.deadline is None:
            return None
        return (self.deadline - (today or timezone.localdate())).days


def progress_summary(user, enrolment: Enrolment) -> Summary:
    """Credits, class hours, time on task, modules and the next lesson of one enrolment."""
    programme = enrolment.training_class.programme
    statuses = module_statuses(user, programme)
    credits, hours = _credits(statuses)
    estimates = {lesson.pk: lesson.estimated_minutes for s in statuses for lesson in s.lessons}
    seconds = sum(counted_seconds(s, estimates[pk]) for pk, s in LessonProgress.objects.filter(
        user=user, lesson_id__in=list(estimates)).values_list("lesson_id", "seconds_on_task"))
    complete = _theory_complete_from(programme, statuses)
    return Summary(
        enrolment=enrolment, modules=statuses, credits=credits, class_hours=hours, seconds_on_task=seconds,
        next_lesson=next_lesson(user, enrolment, statuses), theory_complete=complete,
        exam_unlocked=bool(programme.theory_exam_required and complete and enrolment.status == Enrolment.Status.ACTIVE),
    )


def study_summaries(user) -> list[Summary]:
    return [progress_summary(user, e) for e in active_enrolments(user).order_by("-enrolled_at")]


# ---------------------------------------------------------------- enrolment


def normalise_class_code(code: str) -> str:
    """A class code as typed: case, spaces and dashes do not matter."""
    return "".join(ch for ch in str(code or "") if ch.isalnum()).upper()


def _may_enrol_others(actor, training_class: TrainingClass) -> bool:
    """The system (None) and whoever manages the class: its organisation's admins, region and system admins."""
    return actor is None or can_manage_class(actor, training_class)


def enrol(actor, user, training_class: TrainingClass, *, source: str, roster_import=None) -> tuple[Enrolment, bool]:
    """Enrol ``user`` in ``training_class`` (returns the enrolment and whether it was created or re-activated).

    Idempotent: an active enrolment is returned unchanged. The class must be open (a class whose
    enrolment is closed still takes people added by its admins or a roster) and have a free place
    (capacity counts active enrolments; the class row is locked while counting). ``actor`` None is
    the system; a person enrols themselves; others must manage the class (``courses.permissions``)."""
    if source not in Enrolment.Source.values:
        raise ValidationError(_("Unknown enrolment source."))
    if actor is not None and getattr(actor, "pk", None) != user.pk and not _may_enrol_others(actor, training_class):
        raise PermissionDenied(_("You may not enrol people in this class."))
    if not user.is_active:
        raise ValidationError(_("This account is not active."))
    with transaction.atomic():
        cls = TrainingClass.objects.select_for_update().get(pk=training_class.pk)
        existing = Enrolment.objects.filter(user=user, training_class=cls).first()
        if existing is not None and existing.status == Enrolment.Status.ACTIVE:
            return existing, False
        allowed = {TrainingClass.Status.OPEN} if source == Enrolment.Source.CODE else set(STUDY_CLASS_STATUSES)
        if cls.status not in allowed or cls.ends_on < timezone.localdate():
            if cls.status == TrainingClass.Status.CANCELLED:
                raise ValidationError(_("This class has been cancelled."))
            if cls.status == TrainingClass.Status.FINISHED or cls.ends_on < timezone.localdate():
                raise ValidationError(_("This class has already finished."))
            raise ValidationError(_("Enrolment for this class is closed."))
        if existing is not None and existing.status == Enrolment.Status.COMPLETED:
            return existing, False
        taken = Enrolment.objects.filter(training_class=cls, status=Enrolment.Status.ACTIVE).count()
        if taken >= cls.capacity:
            raise ValidationError(_("This class is full (%(capacity)s places).") % {"capacity": cls.capacity})
        if existing is not None:  # withdrawn earlier: back in
            existing.status = Enrolment.Status.ACTIVE
            existing.source = source
            existing.roster_import = roster_import or existing.roster_import
            existing.save(update_fields=["status", "source", "roster_import"])
            enrolment = existing
        else:
            enrolment = Enrolment.objects.create(user=user, training_class=cls, source=source,
                                                 roster_import=roster_import)
        audit.record(actor, "courses.enrolled", enrolment,
                     after={"user": user.pk, "class": cls.pk, "class_code": cls.code, "source": source,
                            "roster_import": roster_import.pk if roster_import else None})
    return enrolment, True


def enrol_with_code(user, code: str) -> Enrolment:
    """A person enrols themselves with a class code (case, spaces and dashes tolerated)."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied(_("Please log in first."))
    normalised = normalise_class_code(code)
    if not normalised:
        raise ValidationError(_("Enter the class code your training base gave you."))
    training_class = TrainingClass.objects.filter(code__iexact=normalised).select_related("training_base").first()
    if training_class is None:
        raise ValidationError(_("No class has the code “%(code)s”. Check it with your training base.")
                              % {"code": normalised[:16]})
    enrolment, _created = enrol(user, user, training_class, source=Enrolment.Source.CODE)
    return enrolment


def choose_modules(user, enrolment: Enrolment, module_ids) -> list[ProgrammeModule]:
    """菜单式: the optional modules the trainee chooses to take (their own enrolment only)."""
    if enrolment.user_id != user.pk:
        raise PermissionDenied(_("This is not your enrolment."))
    programme = enrolment.training_class.programme
    if programme.mode != Programme.Mode.MENU:
        raise ValidationError(_("Modules are chosen only in menu-style programmes."))
    try:
        ids = {int(i) for i in module_ids}
    except (TypeError, ValueError):
        raise ValidationError(_("Choose modules of this programme.")) from None
    modules = list(programme.modules.filter(pk__in=ids, required=False))
    if len(modules) != len(ids):
        raise ValidationError(_("Choose modules of this programme."))
    with transaction.atomic():
        enrolment.chosen_modules.set(modules)
        audit.record(user, "courses.modules_chosen", enrolment, after={"modules": sorted(m.pk for m in modules)})
    return modules


def __getattr__(name: str):
    """``import_roster`` lives in ``courses.roster`` (roster import); re-exported here, imported late."""
    if name == "import_roster":
        from .roster import import_roster

        return import_roster
    raise AttributeError(name)
