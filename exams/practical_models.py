"""The practical exam (线下考操作): schemes, sessions, examiners, bookings, checklists, signed results.

A **scheme** (``PracticalScheme``, 实操考核方案) is one version of a programme's practical exam: the
CPR item (the manikin standard and the points it carries), the examiner checklist (items, points,
critical items), the pass mark, how long a theory pass stays good for booking, and the retake rules.
A scheme row never changes; a change is version n+1. A session keeps the version it was planned with.

A **session** (``PracticalSession``, 考场场次) is one exam morning or afternoon in one exam room
(``manikin.Room``, its stations): so many slots, so many candidates per slot as the room has
stations. Its examiners (``SessionExaminer``) are assigned by hand or drawn (``ExaminerDraw``, with
the seed that reproduces the draw).

A **booking** (``Booking``) is one candidate's place: slot, station, examiner, check-in, the CPR
recording, and the checklist entries (``ChecklistEntry``, append-only, idempotent by the client's id:
the latest entry of an item counts).

A **result** (``PracticalResult``) is a frozen version: the evidence and the verdict in a canonical
form with its SHA-256, chained to the version before. Rows are never updated or deleted; a change is
a new version with its reason (late evidence, appeal). An **appeal** (``Appeal``) is reviewed by a
second eligible examiner whose decision is a new version.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class FrozenQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("Frozen rows are never changed: make a new version.")

    def delete(self):
        raise PermissionDenied("Frozen rows are never deleted.")


class _Frozen(models.Model):
    """Rows written once: ``save`` of a stored row and ``delete`` are refused (also through querysets)."""

    objects = FrozenQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionDenied("Frozen rows are never changed: make a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("Frozen rows are never deleted.")


class PracticalScheme(_Frozen):
    programme = models.ForeignKey("courses.Programme", on_delete=models.PROTECT, related_name="practical_schemes",
                                  verbose_name=_("programme"))
    version = models.PositiveIntegerField(_("version"), validators=[MinValueValidator(1)])
    name = models.CharField(_("name"), max_length=128)
    cpr_standard_id = models.CharField(_("CPR standard"), max_length=64)
    cpr_points = models.PositiveSmallIntegerField(_("points of the CPR item"), validators=[MaxValueValidator(1000)])
    cpr_must_pass = models.BooleanField(_("the CPR item must pass its standard"), default=True)
    # [{"key": "scene_safety", "title": "…", "skill": "…", "points": 5, "critical": true}, …]
    items = models.JSONField(_("checklist items"), default=list)
    pass_points = models.PositiveSmallIntegerField(_("pass mark (points)"))
    theory_valid_days = models.PositiveSmallIntegerField(
        _("theory pass valid for booking (days)"), default=180, validators=[MinValueValidator(1)])
    retakes_allowed = models.PositiveSmallIntegerField(_("retakes allowed"), default=1)
    retake_wait_days = models.PositiveSmallIntegerField(_("days between sittings"), default=7)
    slot_minutes = models.PositiveSmallIntegerField(_("minutes per slot"), default=20,
                                                    validators=[MinValueValidator(5), MaxValueValidator(240)])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("practical exam scheme")
        verbose_name_plural = _("practical exam schemes")
        ordering = ["programme_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["programme", "version"], name="uniq_practical_scheme_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def max_points(self) -> int:
        return self.cpr_points + sum(int(item["points"]) for item in self.items)

    def as_evidence(self) -> dict:
        return {"programme": self.programme_id, "version": self.version, "name": self.name,
                "cpr_standard_id": self.cpr_standard_id, "cpr_points": self.cpr_points,
                "cpr_must_pass": self.cpr_must_pass, "items": self.items, "pass_points": self.pass_points,
                "retakes_allowed": self.retakes_allowed, "retake_wait_days": self.retake_wait_days}


class PracticalSession(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    programme = models.ForeignKey("courses.Programme", on_delete=models.PROTECT, related_name="practical_sessions",
                                  verbose_name=_("programme"))
    scheme = models.ForeignKey(PracticalScheme, on_delete=models.PROTECT, related_name="sessions",
                               verbose_name=_("scheme"))
    room = models.ForeignKey("manikin.Room", on_delete=models.PROTECT, related_name="practical_sessions",
                             verbose_name=_("exam room"))
    date = models.DateField(_("date"))
    starts_at = models.TimeField(_("first slot starts at"))
    slots = models.PositiveSmallIntegerField(_("slots"), validators=[MinValueValidator(1), MaxValueValidator(48)])
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    examiners = models.ManyToManyField(settings.AUTH_USER_MODEL, through="SessionExaminer",
                                       through_fields=("session", "examiner"), related_name="+",
                                       verbose_name=_("examiners"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("practical exam session")
        verbose_name_plural = _("practical exam sessions")
        ordering = ["-date", "starts_at"]
        indexes = [models.Index(fields=["room", "date"])]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.starts_at:%H:%M} · {self.room}"


class ExaminerDraw(models.Model):
    """A random draw of examiners among the eligible: everything needed to reproduce it."""

    session = models.ForeignKey(PracticalSession, on_delete=models.CASCADE, related_name="draws")
    seed = models.CharField(max_length=64)
    pool = models.JSONField(default=list)  # eligible examiner ids, sorted: the population of the draw
    excluded = models.JSONField(default=list)  # [{"examiner": id, "reason": "…"}]: who could not be drawn, and why
    count = models.PositiveSmallIntegerField()
    drawn = models.JSONField(default=list)  # the ids drawn, in draw order
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    drawn_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-drawn_at"]


class SessionExaminer(models.Model):
    session = models.ForeignKey(PracticalSession, on_delete=models.CASCADE, related_name="session_examiners")
    examiner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="examining")
    draw = models.ForeignKey(ExaminerDraw, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "examiner"], name="uniq_session_examiner")]


class Booking(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CHECKED_IN = "checked_in", _("Checked in")
        ABSENT = "absent", _("Absent")
        CANCELLED = "cancelled", _("Cancelled")

    session = models.ForeignKey(PracticalSession, on_delete=models.PROTECT, related_name="bookings",
                                verbose_name=_("session"))
    candidate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="practical_bookings",
                                  verbose_name=_("candidate"))
    slot = models.PositiveSmallIntegerField(_("slot"), validators=[MinValueValidator(1)])
    station = models.ForeignKey("manikin.Station", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("station"))
    examiner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="practical_candidates", verbose_name=_("examiner"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.BOOKED)
    # The theory pass the booking relied on (None: a programme without a theory exam).
    theory_attempt = models.ForeignKey("exams.Attempt", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", verbose_name=_("theory exam passed"))
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField(auto_now_add=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    cpr_recording = models.ForeignKey("manikin.Recording", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="practical_bookings", verbose_name=_("CPR recording"))

    class Meta:
        verbose_name = _("practical exam booking")
        verbose_name_plural = _("practical exam bookings")
        ordering = ["session_id", "slot", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "candidate"], condition=~models.Q(status="cancelled"),
                                    name="one_live_booking_per_session"),
        ]

    def __str__(self) -> str:
        return f"{self.session} · {self.candidate}"


class ChecklistEntry(models.Model):
    """One tick (or untick) of a checklist item, as the examiner's tablet sent it; the latest counts.

    ``client_id`` is made by the tablet: a resend after a lost link is recognised and stored once."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="checklist_entries")
    item_key = models.CharField(max_length=40)
    done = models.BooleanField()
    client_id = models.UUIDField(unique=True)
    noted_at = models.DateTimeField()  # when the examiner ticked it (the tablet's clock)
    received_at = models.DateTimeField(auto_now_add=True)
    examiner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["booking_id", "noted_at", "id"]


class PracticalResult(_Frozen):
    class Reason(models.TextChoices):
        SIGNED = "signed", _("Signed by the examiner")
        LATE_EVIDENCE = "late_evidence", _("Late evidence")
        APPEAL = "appeal", _("Appeal decision")

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="results")
    number = models.PositiveSmallIntegerField(_("version"), validators=[MinValueValidator(1)])
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    note = models.TextField(_("note"), blank=True)
    evidence = models.JSONField()  # the canonical evidence: samples digest, scorer output, standard, checklist
    cpr_score = models.FloatField(null=True)
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=1)
    max_points = models.PositiveSmallIntegerField(_("maximum points"))
    passed = models.BooleanField(_("passed"))
    critical_missed = models.JSONField(default=list)
    previous_sha256 = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")  # None: the system (late evidence)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("practical exam result")
        verbose_name_plural = _("practical exam results")
        ordering = ["booking_id", "number"]
        constraints = [models.UniqueConstraint(fields=["booking", "number"], name="uniq_practical_result_version")]
        # the dashboards count results by the month signed (unsigned late evidence: made) (dashboards.facts)
        indexes = [models.Index(Coalesce("signed_at", "created_at"), name="practical_result_counted_at")]

    def __str__(self) -> str:
        return f"{self.booking} v{self.number}"


class Appeal(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        UPHELD = "upheld", _("Result upheld")
        CHANGED = "changed", _("Result changed")

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="appeals")
    result = models.ForeignKey(PracticalResult, on_delete=models.PROTECT, related_name="appeals")
    grounds = models.TextField(_("grounds"))
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField(auto_now_add=True)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("reviewer"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decision = models.TextField(_("decision"), blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    new_result = models.ForeignKey(PracticalResult, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-filed_at"]
