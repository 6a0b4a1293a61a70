"""Unannounced quality inspections (飞行检查).

- A **checklist** (``Checklist``) is data: versioned items grouped under the 四统一 points (syllabus,
  instructor standard, assessment, certificate), attendance, manikin use and safety.
- A **plan** (``InspectionPlan``) draws classes of a region and period at random, weighted by risk, from a
  recorded seed: the population with every class's weight and risk factors is kept, so the draw can be
  reproduced (``inspections.planning``).
- An **inspection** (``Inspection``) is one class visited by one inspector from outside the class's
  organisation and studio. It is secret until it starts: only its planners (the region's admins) and its
  inspector see it (``inspections.permissions``).
- The inspector files the checklist on a phone (answers, attendance against the roster, photos, notes),
  kept on the phone while the network is down and sent when it is back; every submission carries the
  phone's id so a repeat changes nothing.
- **Findings** (``Finding``) carry a severity, a rectification deadline and follow-ups (``FollowUp``);
  they feed the instructors' annual assessment.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Checklist(models.Model):
    """A version of the inspection checklist. ``items``: [{"code", "group", "text", "kind"}], kind "yesno"."""

    class Group(models.TextChoices):
        SYLLABUS = "syllabus", _("One syllabus (统一大纲)")
        INSTRUCTOR = "instructor", _("One instructor standard (统一师资标准)")
        ASSESSMENT = "assessment", _("One assessment (统一考核)")
        CERTIFICATE = "certificate", _("One certificate (统一证书)")
        ATTENDANCE = "attendance", _("Attendance")
        MANIKINS = "manikins", _("Manikin use")
        SAFETY = "safety", _("Safety")

    name = models.CharField(_("name"), max_length=128)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    items = models.JSONField(_("items"), default=list)
    is_active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inspection checklist")
        verbose_name_plural = _("inspection checklists")
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="uniq_checklist_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def clean(self):
        from django.core.exceptions import ValidationError

        from .planning import checklist_item_errors

        errors = checklist_item_errors(self.items)
        if errors:
            raise ValidationError({"items": errors})


class InspectionPlan(models.Model):
    """A draw of classes to inspect in a region and period, reproducible from ``seed`` and ``population``."""

    region = models.ForeignKey("lms.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    name = models.CharField(_("name"), max_length=128)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    sample_size = models.PositiveSmallIntegerField(_("classes to inspect"),
                                                   validators=[MinValueValidator(1), MaxValueValidator(500)])
    seed = models.CharField(_("seed"), max_length=64)
    weights = models.JSONField(default=dict)  # the risk weights used: {"new_instructor": 2.0, ...}
    # [{"class": id, "weight": w, "factors": {...}}], sorted by class id: the population of the draw
    population = models.JSONField(default=list)
    drawn = models.JSONField(default=list)  # class ids in draw order
    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("checklist"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inspection plan")
        verbose_name_plural = _("inspection plans")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")),
                                              name="inspection_plan_period")]

    def __str__(self) -> str:
        return self.name


class Inspection(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        SUBMITTED = "submitted", pgettext_lazy("inspection status", "Submitted")
        CLOSED = "closed", _("Closed")

    plan = models.ForeignKey(InspectionPlan, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="inspections")
    training_class = models.ForeignKey("courses.TrainingClass", on_delete=models.PROTECT,
                                       related_name="+", verbose_name=_("class"))
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="inspections", verbose_name=_("inspector"))
    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED)
    # The day the visit is planned for (secret like the rest): the inspector may start it on or after it.
    scheduled_on = models.DateField(_("planned for"), null=True, blank=True)
    # When the visit happened: set when the inspector opens the checklist on site. Before it the
    # inspection is secret from everyone but its planners and its inspector.
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    submitted_at = models.DateTimeField(pgettext_lazy("inspection", "submitted at"), null=True, blank=True)
    answers = models.JSONField(default=dict)  # {item code: {"ok": bool|None, "note": str}}
    present = models.JSONField(default=list)  # enrolment ids found present
    roster_size = models.PositiveIntegerField(default=0)  # active enrolments when the attendance was taken
    manikins_in_use = models.PositiveSmallIntegerField(null=True, blank=True,
                                                       validators=[MaxValueValidator(200)])
    trainees_per_manikin = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True, max_length=4000)
    # The last change the phone sent (its id), so that a repeat after a dropped connection changes nothing.
    last_client_change = models.UUIDField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.training_class} · {self.get_status_display()}"


class ChecklistChange(models.Model):
    """A change of the checklist the phone sent and the server applied, by the phone's id: a repeat is a no-op."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="changes")
    client_id = models.UUIDField()
    body = models.JSONField(default=dict)  # what was applied (answers, attendance, manikins, notes)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["applied_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["inspection", "client_id"], name="uniq_checklist_change")]


def photo_path(instance, filename: str) -> str:
    return f"inspections/{instance.inspection_id}/{uuid.uuid4().hex}{filename[filename.rfind('.'):]}"


class InspectionPhoto(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="photos")
    client_id = models.UUIDField()  # made by the phone: a photo sent twice is stored once
    item_code = models.CharField(max_length=40, blank=True)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    file = models.FileField(upload_to=photo_path)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    taken_at = models.DateTimeField(null=True, blank=True)  # the phone's clock, as sent
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inspection", "client_id"], name="uniq_inspection_photo")]


class RejectedUpload(models.Model):
    """A photo or a checklist change the server refused, kept with its reason (nothing is silently lost)."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="rejected_uploads")
    kind = models.CharField(max_length=16)  # "photo" | "checklist"
    client_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField()
    detail = models.JSONField(default=dict)  # file name, declared type and size; never the content
    received_at = models.DateTimeField(auto_now_add=True)


class Finding(models.Model):
    class Severity(models.TextChoices):
        MINOR = "minor", _("Minor")
        MAJOR = "major", _("Major")
        CRITICAL = "critical", pgettext_lazy("finding severity", "Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open: to be rectified")
        RECTIFIED = "rectified", _("Rectified: awaiting verification")
        VERIFIED = "verified", _("Verified as rectified")

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="findings")
    client_id = models.UUIDField(null=True, blank=True)
    item_code = models.CharField(_("checklist item"), max_length=40, blank=True)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    description = models.TextField(_("description"), max_length=2000)
    deadline = models.DateField(_("rectify by"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["deadline", "pk"]
        constraints = [models.UniqueConstraint(fields=["inspection", "client_id"], name="uniq_finding_client_id")]


class FollowUp(models.Model):
    class Kind(models.TextChoices):
        RECTIFICATION = "rectification", _("Rectification reported")
        VERIFIED = "verified", _("Verified")
        REOPENED = "reopened", _("Not rectified: reopened")

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="follow_ups")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    note = models.TextField(_("note"), max_length=2000)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
