"""Summary tables of the region dashboards, and the targets they are read against.

The dashboards never count millions of rows while a page waits. Each fact (an awareness record, a
certificate, a graded theory attempt, a signed practical result, an exam recording, a class) belongs to one
region and one month; ``Cell`` holds the counts of one (region, month), ``CertificateCell`` the first-aider
certificates of one (region, issue month) by the days they were valid for their holder. A saved or deleted fact marks its
cells in ``DirtyCell`` in the same transaction (``dashboards.signals``); every read first recomputes the
marked cells from the facts (``dashboards.facts.refresh``), so the figures stay exact as records arrive.
Regions above a cell are sums over the subtree (materialised path prefix).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Cell(models.Model):
    """The counts of one region and month (the month's first day). Rows with nothing in them are not kept."""

    region = models.ForeignKey("lms.Region", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    awareness = models.PositiveIntegerField(default=0)  # people reached (person-times)
    certificates_new = models.PositiveIntegerField(default=0)  # first-aider certificates issued (kind first_aider)
    certificates_renewed = models.PositiveIntegerField(default=0)  # issued by a refresher (kind refresher)
    theory_graded = models.PositiveIntegerField(default=0)  # graded theory attempts (submitted, not voided)
    theory_passed = models.PositiveIntegerField(default=0)
    practical_results = models.PositiveIntegerField(default=0)  # signed results, the latest version per booking
    practical_passed = models.PositiveIntegerField(default=0)
    classes = models.PositiveIntegerField(default=0)  # classes starting in the month, not cancelled
    cpr_n = models.PositiveIntegerField(default=0)  # scored exam recordings
    # {"depth_mm": [...], "rate_cpm": [...], "recoil_pct": [...], "ccf_pct": [...]}: counts per bin
    # (dashboards.facts.BINS) and {"depth_mm": sum, ...} for the means
    cpr_hist = models.JSONField(default=dict)
    cpr_sums = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "month"], name="uniq_dashboard_cell")]
        indexes = [models.Index(fields=["month"], name="dashboard_cell_month")]


class CertificateCell(models.Model):
    """First-aider certificates (not revoked) of one region and issue month by the days they stood for their
    holder (``facts.cell_days``): valid on a day D = issued in a month up to D's and ``expires_on`` on or after
    D; expired on D = ``expires_on`` before D and not renewed by D; expiring = valid and not renewed."""

    region = models.ForeignKey("lms.Region", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # the issue month
    expires_on = models.DateField()  # the last day: the expiry, or the day before an earlier renewal
    renewed_on = models.DateField(null=True)  # the issue day of the renewal that replaced it (not revoked)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "month", "expires_on", "renewed_on"],
                                               name="uniq_dashboard_certificate_cell")]
        indexes = [models.Index(fields=["expires_on"], name="dashboard_cert_expiry")]


class DirtyCell(models.Model):
    """A (region, month) whose facts changed since its cells were computed. One row per mark (no unique
    key): a refresh deletes exactly the rows it read, so a mark made meanwhile is never lost."""

    region_id = models.IntegerField()
    month = models.DateField()


class Target(models.Model):
    """A target of the plans, as data: for a region (and the regions below it, unless they have their own),
    an indicator, the plan period and the value to reach by its end."""

    class Indicator(models.TextChoices):
        AWARENESS_PCT = "awareness_pct", _("Awareness rate (普及率): people reached since the period began, in percent of the population")
        PER_100 = "first_aiders_per_100", _("Certified first-aiders per 100 people at the end of the period")
        NEW_CERTIFICATES_PCT = "new_certificates_pct", _("New certificates over the period, in percent of the population")
        NEW_CERTIFICATES = "new_certificates", _("New certificates per year")

    region = models.ForeignKey("lms.Region", on_delete=models.CASCADE, related_name="dashboard_targets",
                               verbose_name=_("region"))
    indicator = models.CharField(_("indicator"), max_length=32, choices=Indicator.choices)
    year_from = models.PositiveSmallIntegerField(_("from year"))
    year_to = models.PositiveSmallIntegerField(_("to year"))
    value = models.DecimalField(_("target value"), max_digits=12, decimal_places=2)
    source = models.CharField(_("source"), max_length=255, blank=True,
                              help_text=_("The plan or document that sets the target"))

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(fields=["region", "indicator", "year_to"], name="uniq_dashboard_target"),
            models.CheckConstraint(condition=models.Q(year_to__gte=models.F("year_from")),
                                   name="dashboard_target_period"),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="dashboard_target_value"),
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.get_indicator_display()} {self.year_from}–{self.year_to}: {self.value}"
