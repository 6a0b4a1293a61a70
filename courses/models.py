"""Programmes, classes (培训班), enrolment and study progress.

A **programme** (普及, 救护员取证, 师资, 复训) is a menu of modules, each a Wagtail ``ModulePage``
of the course site (``content``) with its credits and class hours. It is taken one of three ways
(``Programme.Mode``): 菜单式 (the trainee chooses modules until the credits are reached),
分段型 (segments in order: a segment opens when the one before is finished) or 积分制 (credits
accumulate, also across classes of the same programme).

A **class** (``TrainingClass``, 培训班) runs a programme at a training base: schedule, venue,
instructors, capacity and a class code that trainees enrol with. ``Enrolment`` ties a person to
a class; a roster import (``RosterImport``) keeps every uploaded file's rows with their fate.

Progress (time on task, videos watched, practice answers) is kept per person and lesson page;
how it is counted is documented in ``courses/api.py``. Page references point at
``wagtailcore.Page`` so that this app's migrations do not depend on the content app's page
models; ``courses.api`` checks the page types.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

CLASS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones
CLASS_CODE_LENGTH = 8


def new_class_code() -> str:
    return "".join(secrets.choice(CLASS_CODE_ALPHABET) for _ in range(CLASS_CODE_LENGTH))


class Programme(models.Model):
    class Kind(models.TextChoices):
        AWARENESS = "awareness", _("Awareness (普及)")
        FIRST_AIDER = "first_aider", _("Certified first-aider (救护员取证)")
        INSTRUCTOR = "instructor", _("Instructor (师资)")
        REFRESHER = "refresher", _("Refresher (复训)")

    class Mode(models.TextChoices):
        MENU = "menu", _("Menu: choose modules (菜单式)")
        SEGMENTED = "segmented", _("Segments in order (分段型)")
        CREDITS = "credits", _("Credits accumulate (积分制)")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.SEGMENTED)
    description = models.TextField(_("description"), blank=True)
    course_page = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("course page"), help_text=_("The course on the course site that holds this programme's theory"),
    )
    required_credits = models.DecimalField(_("required credits"), max_digits=5, decimal_places=1, default=0,
                                           validators=[MinValueValidator(0)])
    required_class_hours = models.DecimalField(_("required class hours"), max_digits=5, decimal_places=1, default=0,
                                               validators=[MinValueValidator(0)],
                                               help_text=_("Class hours of the whole programme, theory and practice"))
    theory_exam_required = models.BooleanField(_("theory exam"), default=True,
                                               help_text=_("Finishing the theory unlocks an online theory exam"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class ProgrammeModule(models.Model):
    """One module of a programme's menu: a ``content.ModulePage`` with its credits and class hours."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="modules",
                                  verbose_name=_("programme"))
    module_page = models.ForeignKey("wagtailcore.Page", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("module page"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    segment = models.PositiveSmallIntegerField(_("segment"), default=1,
                                               help_text=_("分段型: segments are taken in order"))
    required = models.BooleanField(_("required"), default=True,
                                   help_text=_("菜单式: optional modules count towards the credits when chosen"))
    credits = models.DecimalField(_("credits"), max_digits=4, decimal_places=1, default=1,
                                  validators=[MinValueValidator(0)])
    class_hours = models.DecimalField(_("class hours"), max_digits=4, decimal_places=1, default=1,
                                      validators=[MinValueValidator(0)],
                                      help_text=_("Online study time this module asks for (1 class hour = 45 minutes)"))

    class Meta:
        verbose_name = _("programme module")
        verbose_name_plural = _("programme modules")
        ordering = ["programme", "segment", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["programme", "module_page"], name="uniq_programme_module")]

    def __str__(self) -> str:
        return f"{self.programme} · {self.module_page.title}"


class TrainingClass(models.Model):
    """A class (培训班): a programme run at a training base, with its schedule, venue and class code."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open for enrolment")
        CLOSED = "closed", _("Enrolment closed")
        CANCELLED = "cancelled", _("Cancelled")
        FINISHED = "finished", _("Finished")

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="classes",
                                  verbose_name=_("programme"))
    name = models.CharField(_("name"), max_length=128)
    code = models.CharField(_("class code"), max_length=16, unique=True, default=new_class_code)
    training_base = models.ForeignKey("lms.Organisation", on_delete=models.PROTECT, related_name="classes",
                                      verbose_name=_("training base"))
    venue = models.CharField(_("venue"), max_length=255, blank=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    theory_deadline = models.DateField(_("theory deadline"), null=True, blank=True,
                                       help_text=_("The online theory is to be finished by this day"))
    schedule = models.TextField(_("schedule"), blank=True, help_text=_("Sessions, one per line"))
    capacity = models.PositiveIntegerField(_("capacity"), default=50, validators=[MinValueValidator(1)])
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="classes_taught",
                                         verbose_name=_("instructors"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        ordering = ["-starts_on", "name"]
        constraints = [models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")),
                                              name="class_ends_after_start")]

    def __str__(self) -> str:
        return self.name


class Enrolment(models.Model):
    class Source(models.TextChoices):
        CODE = "code", _("Class code")
        ROSTER = "roster", _("Roster import")
        ADMIN = "admin", _("Added by an admin")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        COMPLETED = "completed", _("Completed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments",
                             verbose_name=_("trainee"))
    training_class = models.ForeignKey(TrainingClass, on_delete=models.CASCADE, related_name="enrolments",
                                       verbose_name=_("class"))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.CODE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    chosen_modules = models.ManyToManyField(ProgrammeModule, blank=True, related_name="+",
                                            verbose_name=_("chosen modules"),
                                            help_text=_("菜单式: the optional modules the trainee chose"))
    enrolled_at = models.DateTimeField(auto_now_add=True)
    roster_import = models.ForeignKey("RosterImport", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="enrolments")

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["-enrolled_at"]
        constraints = [models.UniqueConstraint(fields=["user", "training_class"], name="uniq_enrolment")]

    def __str__(self) -> str:
        return f"{self.user} · {self.training_class}"


class RosterImport(models.Model):
    """One uploaded roster (XLSX or CSV) for a class, kept with every row's outcome and reason."""

    class Outcome(models.TextChoices):
        REJECTED = "rejected", _("Rejected: nothing imported")
        IMPORTED = "imported", _("Imported")
        PARTIAL = "partial", _("Good rows imported, bad rows left out")

    training_class = models.ForeignKey(TrainingClass, on_delete=models.CASCADE, related_name="roster_imports",
                                       verbose_name=_("class"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                    related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(max_length=64)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    rows_total = models.PositiveIntegerField(default=0)
    rows_bad = models.PositiveIntegerField(default=0)
    people_created = models.PositiveIntegerField(default=0)
    enrolments_created = models.PositiveIntegerField(default=0)
    # [{"row": 7, "status": "bad"|"created"|"enrolled"|"unchanged", "reasons": [...], "name": masked...}]
    # ID-card and phone numbers are never stored here in clear: masked only.
    rows = models.JSONField(default=list)

    class Meta:
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")
        ordering = ["-uploaded_at"]


class LessonProgress(models.Model):
    """A person's study of one lesson page: time on task (seconds, credited by the server), completion."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lesson_progress")
    lesson = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+")
    seconds_on_task = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_credited_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson"], name="uniq_lesson_progress")]


class StudyClock(models.Model):
    """One per person: the server time up to which study time has been credited.

    Time is credited against this one clock, whatever the lesson or tab, so two tabs at once or a
    replayed heartbeat never earn more than the real time that passed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_clock")
    credited_until = models.DateTimeField(null=True, blank=True)
    last_lesson = models.ForeignKey("wagtailcore.Page", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")


class VideoProgress(models.Model):
    """Which seconds of a lesson video a person actually played (merged ranges, seconds)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_progress")
    lesson = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+")
    video_key = models.CharField(max_length=64)  # the StreamField block id
    duration_s = models.FloatField(default=0)
    played_ranges = models.JSONField(default=list)  # [[start_s, end_s], ...], merged, sorted
    played_s = models.FloatField(default=0)
    watched_at = models.DateTimeField(null=True, blank=True)  # when played_s first reached 90 % of duration_s
    # The server time of the last accepted report: new seconds are credited only as fast as real time allows.
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson", "video_key"], name="uniq_video_progress")]


class QuestionAnswer(models.Model):
    """A practice question answered in a lesson: the first answer counts, later tries are counted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practice_answers")
    lesson = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+")
    question_key = models.CharField(max_length=64)  # the StreamField block id
    choice = models.JSONField(default=list)
    correct = models.BooleanField()
    tries = models.PositiveSmallIntegerField(default=1)
    answered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lesson", "question_key"], name="uniq_practice_answer")]


class AwarenessRecord(models.Model):
    """One person reached by awareness training (普及培训), counted as a person-time (人次) as the plans'
    statistics count them: someone trained twice counts twice. No personal data: a mass session at a school
    is recorded by its headcount per key group (``courses.awareness``), an awareness class by one record per
    enrolment that finished. The region is where the training was held (the organisation's region).
    """

    class Source(models.TextChoices):
        CLASS = "class", _("Awareness class")
        SESSION = "session", _("Mass session (headcount)")
        GENERATED = "generated", _("Generated (benchmark data)")

    class Group(models.TextChoices):
        PUBLIC = "public", _("General public")
        STUDENTS = "students", _("Students")
        TEACHERS = "teachers", _("School doctors and teachers")
        POLICE = "police", _("Traffic police")
        FIREFIGHTERS = "firefighters", _("Firefighters and rescue teams")
        DRIVERS = "drivers", _("Drivers")
        ELDERLY_CARE = "elderly_care", _("Elderly-care staff")
        COURIERS = "couriers", _("Couriers")
        VOLUNTEERS = "volunteers", _("Volunteers")

    region = models.ForeignKey("lms.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    held_on = models.DateField(_("held on"))
    group = models.CharField(_("group"), max_length=16, choices=Group.choices, default=Group.PUBLIC)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    organisation = models.ForeignKey("lms.Organisation", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("organisation"))
    training_class = models.ForeignKey(TrainingClass, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="awareness_records", verbose_name=_("class"))
    enrolment = models.OneToOneField(Enrolment, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="awareness_record")
    session_key = models.CharField(max_length=32, blank=True)  # the rows of one headcount entry share it

    class Meta:
        verbose_name = _("awareness training record")
        verbose_name_plural = _("awareness training records")
        indexes = [models.Index(fields=["region", "held_on"], name="awareness_region_day"),
                   # the sessions list (courses.views_awareness): the few headcount rows among millions
                   models.Index(fields=["held_on", "session_key"], name="awareness_sessions",
                                condition=models.Q(source="session"))]
