"""Certificates (救护员证 and the other programmes' certificates): the rules per programme, the
certificates themselves with their revisions, eligibility exceptions, class issue jobs, signing keys,
expiry reminders and the number sequences numbers are drawn from (``certificates/numbering.py`` says how
a number is made from one).

Who may write what, and how, is in ``certificates/api.py``; nothing here is written by another app.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _new_key() -> str:
    return secrets.token_hex(32)


class NumberSequence(models.Model):
    """One (region, year) sequence of a number format. Its permutation key is made once with the row and
    never changes: the printed serials of one sequence are a permutation of its counter under one key,
    so they never collide, whatever happens to the settings or the other sequences."""

    spec = models.CharField(_("number format"), max_length=100)
    region_code = models.CharField(_("division code"), max_length=12)
    year = models.PositiveSmallIntegerField(_("year"))
    next_value = models.PositiveBigIntegerField(default=0)
    key = models.CharField(max_length=64, default=_new_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("certificate number sequence")
        verbose_name_plural = _("certificate number sequences")
        constraints = [models.UniqueConstraint(fields=["spec", "region_code", "year"], name="uniq_number_sequence")]

    def __str__(self) -> str:
        return f"{self.spec} · {self.region_code} · {self.year}"


class CertificateRule(models.Model):
    """What a programme's certificate is: data, edited by system admins in the Wagtail admin.

    A programme without a rule (or with ``certifies`` off) issues no certificate (普及 gives an attendance
    record, not a certificate)."""

    programme = models.OneToOneField("courses.Programme", on_delete=models.CASCADE, related_name="certificate_rule",
                                     verbose_name=_("programme"))
    certifies = models.BooleanField(_("issues certificates"), default=True)
    title = models.CharField(_("certificate title"), max_length=64, default="救护员证",
                             help_text=_("Printed on the certificate, e.g. 救护员证"))
    validity_years = models.PositiveSmallIntegerField(_("validity (years)"), default=3,
                                                      validators=[MinValueValidator(1), MaxValueValidator(10)])
    number_format = models.CharField(_("number format"), max_length=100, default="{region:6}{year:4}{serial:8}{check}",
                                     help_text=_("Fields {region:N}, {year:4}, {serial:N} and a final {check}"))
    window_days = models.PositiveSmallIntegerField(
        _("exam window (days)"), default=180,
        help_text=_("The practical exam must be passed within this many days of the theory exam"))
    issue_within_days = models.PositiveSmallIntegerField(
        _("issue within (days)"), default=365,
        help_text=_("A certificate is issued no later than this many days after the practical exam"))
    auto_issue = models.BooleanField(_("issue when the practical result is signed"), default=False)
    renews = models.ForeignKey("courses.Programme", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="renewed_by_rules", verbose_name=_("renews the certificate of"),
                               help_text=_("For a refresher programme: the programme whose certificate it renews"))
    reminder_days = models.JSONField(_("reminders (days before expiry)"), default=list, blank=True,
                                     help_text=_("e.g. [90, 30]"))

    class Meta:
        verbose_name = _("certificate rule")
        verbose_name_plural = _("certificate rules")

    def clean(self):
        from django.core.exceptions import ValidationError

        from .numbering import FormatError, NumberFormat

        errors = {}
        try:
            NumberFormat.parse(self.number_format)
        except FormatError as exc:
            errors["number_format"] = [_("This number format cannot be used: %(reason)s") % {"reason": exc}]
        days = self.reminder_days
        if not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 730
                                                 for d in days):
            errors["reminder_days"] = [_("A list of whole days between 1 and 730, e.g. [90, 30].")]
        if self.renews_id is not None and self.renews_id == self.programme_id:
            errors["renews"] = [_("A programme cannot renew its own certificate.")]
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return f"{self.programme} · {self.title}"


class CertificateQuerySet(models.QuerySet):
    def current(self, today=None):
        """Not revoked and not yet expired."""
        today = today or timezone.localdate()
        return self.filter(revoked_at__isnull=True, expires_on__gte=today)


class Certificate(models.Model):
    """One certificate. The printed fields are kept as they were printed (a later change of the person's
    record does not change a certificate); a name correction makes a new revision of the same number
    (``CertificateRevision`` keeps every earlier one)."""

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")

    class Source(models.TextChoices):
        SINGLE = "single", _("Issued one by one")
        CLASS = "class", _("Issued for a class")
        AUTO = "auto", _("Issued when the practical result was signed")
        RENEWAL = "renewal", _("Renewal")

    number = models.CharField(_("certificate number"), max_length=32, unique=True)
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates",
                               verbose_name=_("holder"))
    programme = models.ForeignKey("courses.Programme", on_delete=models.PROTECT, related_name="certificates",
                                  verbose_name=_("programme"))
    training_class = models.ForeignKey("courses.TrainingClass", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="certificates", verbose_name=_("class"))
    region = models.ForeignKey("lms.Region", on_delete=models.PROTECT, related_name="certificates",
                               verbose_name=_("issuing region"))
    issuer = models.ForeignKey("lms.Organisation", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="certificates_issued", verbose_name=_("issuing organisation"))
    # Printed fields, as printed (revision ``revision``).
    title = models.CharField(_("certificate title"), max_length=64)
    holder_name = models.CharField(_("holder's name"), max_length=64)
    id_card_masked = models.CharField(_("ID-card number"), max_length=18, blank=True)
    programme_name = models.CharField(_("programme"), max_length=128)
    class_hours = models.DecimalField(_("class hours"), max_digits=5, decimal_places=1, default=0)
    issuer_name = models.CharField(_("issuing organisation"), max_length=128)
    instructor_names = models.CharField(_("instructors"), max_length=255, blank=True)
    examiner_name = models.CharField(_("examiner"), max_length=64, blank=True)
    issued_on = models.DateField(_("issued on"))
    expires_on = models.DateField(_("expires on"))
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    # Evidence
    theory_attempt = models.ForeignKey("exams.Attempt", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+")
    practical_result = models.ForeignKey("exams.PracticalResult", on_delete=models.PROTECT, null=True, blank=True,
                                         related_name="+")
    exception = models.ForeignKey("EligibilityException", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="certificates")
    renews = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="renewed_by",
                                  verbose_name=_("renews"))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.SINGLE)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Revocation
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_reason = models.TextField(_("reason for revocation"), blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    # The rendered, signed PDF of the current revision (a background task makes it).
    pdf = models.FileField(_("PDF"), upload_to="certificates/%Y/", blank=True)
    pdf_revision = models.PositiveSmallIntegerField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_on", "-pk"]
        indexes = [
            models.Index(fields=["holder", "programme"]),
            models.Index(fields=["expires_on"]),
            models.Index(fields=["region", "issued_on"]),
            # renewals by region: the dashboards' live certificates of a region and month (dashboards.facts)
            models.Index(fields=["region"], condition=models.Q(renews__isnull=False), name="certificate_renewal_region"),
        ]

    def __str__(self) -> str:
        return f"{self.number} · {self.holder_name}"

    def status(self, today=None) -> str:
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_on < (today or timezone.localdate()):
            return self.Status.EXPIRED
        return self.Status.VALID

    @property
    def pdf_is_current(self) -> bool:
        return bool(self.pdf) and self.pdf_revision == self.revision


class CertificateRevision(models.Model):
    """The printed fields of an earlier revision of a number (a name correction re-issues the certificate
    under the same number: the number's history stays readable)."""

    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="revisions")
    revision = models.PositiveSmallIntegerField()
    holder_name = models.CharField(max_length=64)
    id_card_masked = models.CharField(max_length=18, blank=True)
    fields = models.JSONField(default=dict)  # every printed field of that revision
    reason = models.TextField()
    replaced_at = models.DateTimeField(auto_now_add=True)
    replaced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["certificate", "revision"]
        constraints = [models.UniqueConstraint(fields=["certificate", "revision"], name="uniq_certificate_revision")]


class EligibilityException(models.Model):
    """The allowlist: a person may be certified although a rule is not met, with the recorded reason
    (e.g. a theory exam taken on paper at a site without network)."""

    class Waives(models.TextChoices):
        THEORY = "theory", _("The online theory exam")
        PRACTICAL = "practical", _("The practical exam on record")
        WINDOW = "window", _("The exam window")

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("person"))
    programme = models.ForeignKey("courses.Programme", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("programme"))
    waives = models.JSONField(_("rules waived"), default=list)  # values of Waives
    reason = models.TextField(_("reason"))
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("eligibility exception")
        verbose_name_plural = _("eligibility exceptions")
        ordering = ["-granted_at"]


class IssueJob(models.Model):
    """A class issued in one action: a background task works through its roster; the page shows the
    progress (``done`` of ``total``) and, at the end, who was issued and who was not, with the reason."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    training_class = models.ForeignKey("courses.TrainingClass", on_delete=models.PROTECT, related_name="issue_jobs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    # [{"person": id, "name": "…", "outcome": "issued"|"already"|"not_eligible"|"error", "number": "…",
    #   "reasons": ["…"]}]
    rows = models.JSONField(default=list)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The class's certificates as one PDF and as a zip, made after the job (certificates.pdf).
    bundle_pdf = models.FileField(upload_to="certificates/classes/", blank=True)
    bundle_zip = models.FileField(upload_to="certificates/classes/", blank=True)

    class Meta:
        ordering = ["-requested_at"]


class SigningKey(models.Model):
    """A key the site signs with. ``purpose`` ``payload``: Ed25519 for the QR payloads and the Open Badges
    credentials (public keys published as a JWKS); ``document``: the PDF signing key with its X.509
    certificate (PAdES). Keys are rotated, never deleted: a retired key signs nothing new and still
    verifies what it signed."""

    class Purpose(models.TextChoices):
        PAYLOAD = "payload", _("QR payloads and credentials (Ed25519)")
        DOCUMENT = "document", _("PDF signatures (PAdES)")

    kid = models.CharField(_("key id"), max_length=32, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    algorithm = models.CharField(max_length=16)  # "Ed25519", "ECDSA-P256"
    public_key = models.TextField()  # base64url of the raw key (Ed25519) or PEM (document keys)
    private_key_protected = models.TextField(editable=False)  # PEM, encrypted with lms.protection
    certificate_pem = models.TextField(blank=True)  # document keys: the X.509 certificate
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.kid


class Reminder(models.Model):
    """An expiry reminder sent (once per certificate, days-before mark and channel) by the scheduled task;
    ``app`` reminders show on the holder's dashboard until read."""

    class Channel(models.TextChoices):
        APP = "app", _("In the app")
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("Text message")

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    sent_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True)  # "sent", or why not (no e-mail address, …)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.UniqueConstraint(fields=["certificate", "days_before", "channel"],
                                               name="uniq_reminder")]
