"""Instructors (救护师资): tiers, profiles, trainees' feedback, the annual assessment, studios (名师工作室).

- A **tier** (``Tier``, e.g. 普及师资 / 救护员师资 / 导师) is data: its rank, the programmes it may teach and
  examine, and the instructor programme whose certificate qualifies for it (issued by the certificates app).
- A **profile** (``InstructorProfile``) is a person's standing as an instructor: tier, status (active or
  suspended, with the reason), home training base. A person may be put on a class or a practical exam
  only in good standing (``instructors.standing``): registered, not suspended, qualification certificate
  current, tier allowing the programme.
- The **teaching record** is not stored: it is computed from classes, exams and feedback when asked
  (``instructors.record``), so it accumulates on its own and is never out of date.
- **Feedback** (``ClassFeedback``) is anonymous to the instructor: the answer row does not point to the
  trainee; a separate receipt (``FeedbackReceipt``) records only that an enrolment has answered.
- The **annual assessment** (``AssessmentRule``, ``Assessment``, ``StandingChange``): rules as data, a
  proposal per instructor and year with its reasons, a region admin's decision, the history kept.
- A **studio** (``Studio``, 名师工作室): a head instructor, members, the classes it runs (those held at the
  studio's organisation), showcase courses (Wagtail course pages) and a public page.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Tier(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=64)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("1 is the first tier; promotion moves to the next higher rank"))
    teaches = models.ManyToManyField("courses.Programme", blank=True, related_name="+",
                                     verbose_name=_("may teach"))
    examines = models.ManyToManyField("courses.Programme", blank=True, related_name="+",
                                      verbose_name=_("may examine"))
    qualification = models.ForeignKey(
        "courses.Programme", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("qualifying programme"),
        help_text=_("The instructor programme whose current certificate this tier requires"))
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("instructor tier")
        verbose_name_plural = _("instructor tiers")
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name


class InstructorProfile(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("instructor status", "Active")
        SUSPENDED = "suspended", _("Suspended")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="instructor_profile", verbose_name=_("instructor"))
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="profiles", verbose_name=_("tier"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(_("reason for the status"), blank=True)
    training_base = models.ForeignKey("lms.Organisation", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", verbose_name=_("home training base"))
    instructor_since = models.DateField(_("instructor since"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("instructor profile")
        verbose_name_plural = _("instructor profiles")
        indexes = [models.Index(fields=["status", "tier"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.tier}"


class FeedbackReceipt(models.Model):
    """That an enrolment has rated its class: no answer, no time (so no link to the ``ClassFeedback`` row)."""

    enrolment = models.OneToOneField("courses.Enrolment", on_delete=models.CASCADE, related_name="feedback_receipt")


class ClassFeedback(models.Model):
    """One trainee's rating of a finished class, with nothing that points back to the trainee."""

    training_class = models.ForeignKey("courses.TrainingClass", on_delete=models.CASCADE,
                                       related_name="feedback", verbose_name=_("class"))
    overall = models.PositiveSmallIntegerField(_("overall"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    clarity = models.PositiveSmallIntegerField(_("clear teaching"),
                                               validators=[MinValueValidator(1), MaxValueValidator(5)])
    practice = models.PositiveSmallIntegerField(_("hands-on practice"),
                                                validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), blank=True, max_length=500)
    submitted_on = models.DateField()  # a day, not a time: a timestamp would match the receipt's enrolment

    class Meta:
        verbose_name = _("class feedback")
        verbose_name_plural = _("class feedback")
        constraints = [
            models.CheckConstraint(condition=models.Q(overall__gte=1, overall__lte=5, clarity__gte=1, clarity__lte=5,
                                                      practice__gte=1, practice__lte=5),
                                   name="feedback_scores_1_to_5"),
        ]


class AssessmentRule(models.Model):
    """The annual assessment's thresholds for a year (and optionally one tier): data, edited in the admin.

    Figures are over the classes an instructor taught that ended in the year. See
    ``instructors.assessment`` for how a proposal follows from them."""

    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("tier"), help_text=_("Empty: every tier without a rule of its own"))
    min_hours = models.DecimalField(_("minimum class hours taught"), max_digits=6, decimal_places=1, default=16,
                                    validators=[MinValueValidator(0)])
    pass_rate_min_pct = models.DecimalField(
        _("lowest pass rate (%)"), max_digits=5, decimal_places=1, default=70,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Practical-exam pass rate of the instructor's trainees; below it the instructor is demoted"))
    pass_rate_max_pct = models.DecimalField(
        _("highest credible pass rate (%)"), max_digits=5, decimal_places=1, default=100,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Above it the results are not credible and the instructor is kept, not promoted"))
    min_feedback = models.DecimalField(_("lowest feedback score (1–5)"), max_digits=3, decimal_places=2, default=3.5,
                                       validators=[MinValueValidator(1), MaxValueValidator(5)])
    min_feedback_responses = models.PositiveSmallIntegerField(
        _("feedback answers needed"), default=5,
        help_text=_("With fewer answers the feedback score is not used"))
    max_major_findings = models.PositiveSmallIntegerField(
        _("most major findings"), default=0,
        help_text=_("Major inspection findings allowed in the year before demotion; a critical finding suspends"))
    refresher = models.ForeignKey(
        "courses.Programme", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("refresher programme"),
        help_text=_("A class of this programme must have been attended in the year (empty: not required)"))
    promote_min_hours = models.DecimalField(_("class hours for promotion"), max_digits=6, decimal_places=1,
                                            default=48, validators=[MinValueValidator(0)])
    promote_min_feedback = models.DecimalField(_("feedback score for promotion"), max_digits=3, decimal_places=2,
                                               default=4.5, validators=[MinValueValidator(1), MaxValueValidator(5)])
    promote_min_cpr_pct = models.DecimalField(
        _("trainees' CPR quality for promotion (%)"), max_digits=5, decimal_places=1, default=80,
        validators=[MinValueValidator(0), MaxValueValidator(100)])
    promote_min_years = models.PositiveSmallIntegerField(_("years in the tier before promotion"), default=2)

    class Meta:
        verbose_name = _("assessment rule")
        verbose_name_plural = _("assessment rules")
        ordering = ["-year", "tier__rank"]
        constraints = [
            models.UniqueConstraint(fields=["year", "tier"], name="uniq_assessment_rule_year_tier"),
            models.UniqueConstraint(fields=["year"], condition=models.Q(tier__isnull=True),
                                    name="uniq_assessment_rule_year_default"),
        ]

    def __str__(self) -> str:
        every = _("every tier")
        return f"{self.year} · {self.tier or every}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if (self.pass_rate_min_pct is not None and self.pass_rate_max_pct is not None
                and self.pass_rate_min_pct > self.pass_rate_max_pct):
            raise ValidationError({"pass_rate_max_pct": [_("The highest pass rate cannot be below the lowest.")]})


class Outcome(models.TextChoices):
    PROMOTE = "promote", _("Promote")
    KEEP = "keep", _("Keep")
    DEMOTE = "demote", _("Demote")
    SUSPEND = "suspend", _("Suspend")


class Assessment(models.Model):
    """One instructor's assessment for one year: the figures and criteria as computed, the proposal with its
    reasons, and the region admin's decision. Recomputed while proposed; final once decided."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        CONFIRMED = "confirmed", _("Confirmed")
        OVERRIDDEN = "overridden", _("Overridden")

    profile = models.ForeignKey(InstructorProfile, on_delete=models.PROTECT, related_name="assessments",
                                verbose_name=_("instructor"))
    year = models.PositiveSmallIntegerField(_("year"))
    rule = models.ForeignKey(AssessmentRule, on_delete=models.PROTECT, related_name="assessments")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier assessed"))
    figures = models.JSONField(default=dict)  # the teaching record of the year, as computed
    criteria = models.JSONField(default=list)  # [{"code", "value", "threshold", "ok", "effect"}]
    proposal = models.CharField(_("proposal"), max_length=16, choices=Outcome.choices)
    reasons = models.JSONField(default=list)  # the proposal's reasons, in the words of the criteria
    computed_at = models.DateTimeField()
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PROPOSED)
    decision = models.CharField(_("decision"), max_length=16, choices=Outcome.choices, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("annual assessment")
        verbose_name_plural = _("annual assessments")
        ordering = ["-year", "profile_id"]
        constraints = [models.UniqueConstraint(fields=["profile", "year"], name="uniq_assessment_profile_year")]

    def __str__(self) -> str:
        return f"{self.profile.user} · {self.year}"


class StandingChange(models.Model):
    """Every change of an instructor's tier or status, with its reason: the history of a standing."""

    profile = models.ForeignKey(InstructorProfile, on_delete=models.CASCADE, related_name="changes")
    from_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]


class Studio(models.Model):
    """A master-instructor studio (名师工作室): its classes are those held at ``organisation``."""

    name = models.CharField(_("name"), max_length=128)
    slug = models.SlugField(_("web address"), max_length=64, unique=True)
    organisation = models.OneToOneField("lms.Organisation", on_delete=models.PROTECT, related_name="studio",
                                        verbose_name=_("organisation"),
                                        help_text=_("The studio's organisation (kind: studio): its classes are held there"))
    head = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studios_headed",
                             verbose_name=_("head instructor"))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="StudioMembership", related_name="studios",
                                     verbose_name=_("members"))
    introduction = models.TextField(_("introduction"), blank=True)
    established_on = models.DateField(_("established on"))
    is_public = models.BooleanField(_("shown publicly"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("studio")
        verbose_name_plural = _("studios")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def region(self):
        return self.organisation.region


class StudioMembership(models.Model):
    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="studio_memberships")
    joined_on = models.DateField(_("joined on"))

    class Meta:
        verbose_name = _("studio member")
        verbose_name_plural = _("studio members")
        constraints = [models.UniqueConstraint(fields=["studio", "user"], name="uniq_studio_member")]


class StudioShowcase(models.Model):
    """A showcase course (名师精品课) of a studio: a course page of the course site."""

    studio = models.ForeignKey(Studio, on_delete=models.CASCADE, related_name="showcase")
    page = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("course page"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    blurb = models.CharField(_("one-line description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("showcase course")
        verbose_name_plural = _("showcase courses")
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["studio", "page"], name="uniq_studio_showcase")]
