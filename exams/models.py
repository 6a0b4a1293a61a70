"""Online theory exams: a versioned question bank, blueprints, attempts and their papers.

A **question** (``Question``) is the stable identity of a bank item (its code, e.g. "JHY-CPR-001",
and the course module it belongs to); its text lives in **versions** (``QuestionVersion``). A
version that any paper used is never changed again: editing such a question makes version n+1
and moves ``Question.current``. Editing an unused version changes it in place. Bank operations
are in ``exams/questions.py``.

A **blueprint** (``Blueprint``, 组卷规则) says how a programme's exam is drawn (``BlueprintRule``:
so many questions of this module and difficulty) and run (time limit, pass mark, attempts,
window, leave limit). A programme has at most one active blueprint. Papers are drawn by
``exams/papers.py``.

An **attempt** (``Attempt``) is one sitting of one trainee: its paper (``PaperItem``: the
question version and the order its options were shown in), the answers saved (``AnswerEvent``,
append-only: the latest counts), the times the trainee left the page (``LeaveEvent``) and the
result. ``Grant`` records extra time or an extra attempt given by an admin.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

CODE_MAX_LENGTH = 32
MAX_OPTIONS = 5  # 选项A…选项E
TRUE_FALSE_OPTIONS = ["正确", "错误"]
MIN_TIME_LIMIT_S = 60
MAX_TIME_LIMIT_S = 4 * 3600


class Difficulty(models.IntegerChoices):
    EASY = 1, _("Easy (易)")
    MEDIUM = 2, _("Medium (中)")
    HARD = 3, _("Hard (难)")


class Kind(models.TextChoices):
    SINGLE = "single", _("Single choice (单选)")
    MULTIPLE = "multiple", _("Multiple choice (多选)")
    TRUE_FALSE = "true_false", _("True or false (判断)")


class Question(models.Model):
    """The stable identity of a bank question; its content is in ``versions`` (``current`` is used for new papers)."""

    code = models.CharField(_("code"), max_length=CODE_MAX_LENGTH, unique=True,
                            help_text=_("Letters, digits and hyphens, e.g. JHY-CPR-001"))
    module = models.ForeignKey("content.ModulePage", on_delete=models.PROTECT, related_name="exam_questions",
                               verbose_name=_("module"))
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("Inactive questions are not drawn for new papers"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    current = models.ForeignKey("QuestionVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("current version"))

    Kind = Kind
    Difficulty = Difficulty

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["code"]
        constraints = [models.UniqueConstraint(Upper("code"), name="uniq_question_code_ci")]

    def __str__(self) -> str:
        return self.code


class QuestionVersion(models.Model):
    """One version of a question's content; immutable once a ``PaperItem`` uses it."""

    Kind = Kind
    Difficulty = Difficulty

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="versions",
                                 verbose_name=_("question"))
    number = models.PositiveIntegerField(_("version"), validators=[MinValueValidator(1)])
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    difficulty = models.PositiveSmallIntegerField(_("difficulty"), choices=Difficulty.choices)
    stem = models.TextField(_("stem"))
    options = models.JSONField(_("options"), default=list,
                               help_text=_("Option texts in their original order"))
    correct = models.JSONField(_("correct answer"), default=list,
                               help_text=_("Sorted 0-based indices of the correct options"))
    explanation = models.TextField(_("explanation"))
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))

    class Meta:
        verbose_name = _("question version")
        verbose_name_plural = _("question versions")
        ordering = ["question", "number"]
        constraints = [
            models.UniqueConstraint(fields=["question", "number"], name="uniq_question_version_number"),
            models.CheckConstraint(condition=models.Q(difficulty__in=[1, 2, 3]), name="question_version_difficulty"),
            models.CheckConstraint(condition=models.Q(kind__in=["single", "multiple", "true_false"]),
                                   name="question_version_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.question.code} v{self.number}"

    @property
    def is_used(self) -> bool:
        """True when any attempt's paper holds this version (it may then never change)."""
        return self.paper_items.exists()


class Blueprint(models.Model):
    """How a programme's theory exam is drawn (``rules``) and run (time, pass mark, attempts, window)."""

    programme = models.ForeignKey("courses.Programme", on_delete=models.PROTECT, related_name="exam_blueprints",
                                  verbose_name=_("programme"))
    name = models.CharField(_("name"), max_length=128)
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("A programme has at most one active blueprint"))
    time_limit_s = models.PositiveIntegerField(
        _("time limit (seconds)"), default=45 * 60,
        validators=[MinValueValidator(MIN_TIME_LIMIT_S), MaxValueValidator(MAX_TIME_LIMIT_S)])
    pass_mark_pct = models.DecimalField(_("pass mark (%)"), max_digits=5, decimal_places=2, default=80,
                                        validators=[MinValueValidator(0), MaxValueValidator(100)])
    attempts_allowed = models.PositiveSmallIntegerField(_("attempts allowed"), default=3,
                                                        validators=[MinValueValidator(1)])
    wait_between_attempts_s = models.PositiveIntegerField(_("wait between attempts (seconds)"), default=0)
    opens_at = models.DateTimeField(_("opens at"), null=True, blank=True,
                                    help_text=_("Empty: open from now on"))
    closes_at = models.DateTimeField(_("closes at"), null=True, blank=True,
                                     help_text=_("Empty: never closes"))
    show_explanations = models.BooleanField(_("show explanations"), default=True,
                                            help_text=_("Show the answers and explanations after submission"))
    leave_limit = models.PositiveSmallIntegerField(
        _("leave limit"), null=True, blank=True,
        help_text=_("Leaving the exam page more often than this submits the attempt; empty: leaves are only recorded"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("exam blueprint")
        verbose_name_plural = _("exam blueprints")
        ordering = ["programme", "-is_active", "name"]
        constraints = [
            models.UniqueConstraint(fields=["programme"], condition=models.Q(is_active=True),
                                    name="one_active_blueprint_per_programme"),
            models.CheckConstraint(condition=models.Q(time_limit_s__gte=MIN_TIME_LIMIT_S,
                                                      time_limit_s__lte=MAX_TIME_LIMIT_S),
                                   name="blueprint_time_limit_range"),
            models.CheckConstraint(condition=models.Q(pass_mark_pct__gte=0, pass_mark_pct__lte=100),
                                   name="blueprint_pass_mark_range"),
            models.CheckConstraint(condition=models.Q(attempts_allowed__gte=1), name="blueprint_attempts_min"),
            models.CheckConstraint(condition=models.Q(opens_at__isnull=True) | models.Q(closes_at__isnull=True)
                                   | models.Q(closes_at__gt=models.F("opens_at")),
                                   name="blueprint_window_order"),
        ]

    def __str__(self) -> str:
        return self.name


class BlueprintRule(models.Model):
    """``count`` questions of ``module`` at ``difficulty``, each worth ``points_each``."""

    blueprint = models.ForeignKey(Blueprint, on_delete=models.CASCADE, related_name="rules",
                                  verbose_name=_("blueprint"))
    module = models.ForeignKey("content.ModulePage", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("module"))
    difficulty = models.PositiveSmallIntegerField(_("difficulty"), choices=Difficulty.choices)
    count = models.PositiveSmallIntegerField(_("number of questions"), validators=[MinValueValidator(1)])
    points_each = models.PositiveSmallIntegerField(_("points each"), default=1, validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("blueprint rule")
        verbose_name_plural = _("blueprint rules")
        ordering = ["blueprint", "module", "difficulty"]
        constraints = [
            models.UniqueConstraint(fields=["blueprint", "module", "difficulty"], name="uniq_blueprint_rule"),
            models.CheckConstraint(condition=models.Q(count__gte=1), name="blueprint_rule_count_min"),
            models.CheckConstraint(condition=models.Q(difficulty__in=[1, 2, 3]), name="blueprint_rule_difficulty"),
        ]

    def __str__(self) -> str:
        return f"{self.blueprint} · {self.module.title} · {self.get_difficulty_display()} × {self.count}"


class Attempt(models.Model):
    """One sitting of one trainee; ``deadline_at`` is on the server clock."""

    class Status(models.TextChoices):
        OPEN = "open", _("In progress")
        SUBMITTED = "submitted", _("Submitted")
        VOIDED = "voided", _("Voided")

    class SubmittedBy(models.TextChoices):
        TRAINEE = "trainee", _("Submitted by the trainee")
        TIME_LIMIT = "time_limit", _("Time limit reached")
        LEAVE_LIMIT = "leave_limit", _("Left the exam page too often")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exam_attempts",
                             verbose_name=_("trainee"))
    blueprint = models.ForeignKey(Blueprint, on_delete=models.PROTECT, related_name="attempts",
                                  verbose_name=_("blueprint"))
    number = models.PositiveSmallIntegerField(_("attempt number"), validators=[MinValueValidator(1)])
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    started_at = models.DateTimeField(_("started at"))
    deadline_at = models.DateTimeField(_("deadline"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.CharField(_("submitted by"), max_length=16, choices=SubmittedBy.choices, blank=True)
    score_points = models.PositiveIntegerField(_("score (points)"), null=True, blank=True)
    max_points = models.PositiveIntegerField(_("maximum points"), null=True, blank=True)
    score_pct = models.DecimalField(_("score (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    passed = models.BooleanField(_("passed"), null=True, blank=True)
    leave_count = models.PositiveIntegerField(_("times left the page"), default=0)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("voided by"))
    void_reason = models.TextField(_("reason for voiding"), blank=True)

    class Meta:
        verbose_name = _("exam attempt")
        verbose_name_plural = _("exam attempts")
        ordering = ["-started_at"]
        # the dashboards count graded attempts by the month submitted (dashboards.facts)
        indexes = [models.Index(fields=["submitted_at"], name="exam_attempt_submitted")]
        constraints = [
            models.UniqueConstraint(fields=["user", "blueprint"], condition=models.Q(status="open"),
                                    name="one_open_attempt_per_user_blueprint"),
            models.UniqueConstraint(fields=["user", "blueprint", "number"], name="uniq_attempt_number"),
            models.CheckConstraint(condition=models.Q(deadline_at__gte=models.F("started_at")),
                                   name="attempt_deadline_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.blueprint} · {self.user} · #{self.number}"


class PaperItem(models.Model):
    """One question of an attempt's paper: the version shown and the order its options were shown in."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="items", verbose_name=_("attempt"))
    position = models.PositiveSmallIntegerField(_("position"), validators=[MinValueValidator(1)])
    version = models.ForeignKey(QuestionVersion, on_delete=models.PROTECT, related_name="paper_items",
                                verbose_name=_("question version"))
    option_order = models.JSONField(_("option order"), default=list,
                                    help_text=_("Displayed position -> original option index"))
    points = models.PositiveSmallIntegerField(_("points"), default=1)

    class Meta:
        verbose_name = _("paper item")
        verbose_name_plural = _("paper items")
        ordering = ["attempt", "position"]
        constraints = [models.UniqueConstraint(fields=["attempt", "position"], name="uniq_paper_item_position")]

    def __str__(self) -> str:
        return f"{self.attempt} · {self.position}"


class AnswerEvent(models.Model):
    """One saved answer (append-only; the latest by ``(saved_at, id)`` counts)."""

    item = models.ForeignKey(PaperItem, on_delete=models.CASCADE, related_name="answers",
                             verbose_name=_("paper item"))
    choice = models.JSONField(_("choice"), default=list, help_text=_("Sorted original option indices"))
    saved_at = models.DateTimeField(_("saved at"))
    client_seq = models.PositiveIntegerField(_("client sequence number"), null=True, blank=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        ordering = ["item", "saved_at", "id"]
        indexes = [models.Index(fields=["item", "saved_at", "id"], name="answer_event_latest")]

    def __str__(self) -> str:
        return f"{self.item} · {self.choice}"


class LeaveEvent(models.Model):
    """The trainee left the exam page (tab hidden, window blurred) and, maybe, came back."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="leaves", verbose_name=_("attempt"))
    left_at = models.DateTimeField(_("left at"))
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    seconds = models.PositiveIntegerField(_("seconds away"), null=True, blank=True)

    class Meta:
        verbose_name = _("page leave")
        verbose_name_plural = _("page leaves")
        ordering = ["attempt", "left_at", "id"]

    def __str__(self) -> str:
        return f"{self.attempt} · {self.left_at:%H:%M:%S}"


class Grant(models.Model):
    """Extra time or an extra attempt given to a trainee for a blueprint by an admin, with the reason."""

    class Kind(models.TextChoices):
        EXTRA_TIME = "extra_time", _("Extra time")
        EXTRA_ATTEMPT = "extra_attempt", _("Extra attempt")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exam_grants",
                             verbose_name=_("trainee"))
    blueprint = models.ForeignKey(Blueprint, on_delete=models.PROTECT, related_name="grants",
                                  verbose_name=_("blueprint"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    extra_time_s = models.PositiveIntegerField(_("extra time (seconds)"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("granted by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    used_by = models.ForeignKey(Attempt, on_delete=models.SET_NULL, null=True, blank=True, related_name="grants_used",
                                verbose_name=_("used by attempt"))

    class Meta:
        verbose_name = _("exam grant")
        verbose_name_plural = _("exam grants")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="extra_time", extra_time_s__gt=0)
                           | models.Q(kind="extra_attempt", extra_time_s__isnull=True)),
                name="grant_extra_time_matches_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.user}"


from .practical_models import (  # noqa: E402,F401  (the practical exam's models, kept in their own module)
    Appeal, Booking, ChecklistEntry, ExaminerDraw, PracticalResult, PracticalScheme, PracticalSession,
    SessionExaminer,
)
