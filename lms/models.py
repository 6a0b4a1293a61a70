"""The core every app leans on: users and roles, regions, organisations, audit log.

Writes go through ``lms.api``; models here hold data and read-only helpers.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node

from . import protection


class Role(models.TextChoices):
    TRAINEE = "trainee", _("Trainee")
    INSTRUCTOR = "instructor", _("Instructor")
    EXAMINER = "examiner", _("Examiner")
    INSPECTOR = "inspector", _("Inspector")
    REGION_ADMIN = "region_admin", _("Region admin")
    # 单位管理员: a school's, employer's or training base's admin, scoped by RoleAssignment.organisation;
    # manages that organisation's classes and their rosters (courses.permissions).
    ORG_ADMIN = "org_admin", _("Organisation admin")
    SYSTEM_ADMIN = "system_admin", _("System admin")


class Region(MP_Node):
    """Province → city → county, as a materialised path (one prefix query per subtree)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County")

    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    code = models.CharField(
        _("division code"), max_length=12, blank=True, help_text=_("Administrative division code (GB/T 2260), if known")
    )

    node_order_by = ["code", "name"]  # siblings in 区划代码 order (see api.import_regions)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        indexes = [models.Index(fields=["level"])]

    def __str__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        return "".join(a.name for a in self.get_ancestors()) + self.name

    def population(self, year: int | None = None) -> RegionPopulation | None:
        qs = self.populations.all()
        if year is not None:
            qs = qs.filter(year=year)
        return qs.order_by("-year").first()


class RegionPopulation(models.Model):
    """The population of a region in a year: the denominator of 普及率 and 每百人救护员数.

    The targets count registered (户籍) population; the census publishes resident (常住)
    population. ``basis`` says which one a figure is and every page that shows the figure names
    it; ``is_demo`` marks made-up figures (demo data) so that nobody takes them for statistics.
    """

    class Basis(models.TextChoices):
        REGISTERED = "registered", _("Registered population")
        RESIDENT = "resident", _("Resident population")

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="populations", verbose_name=_("region"))
    year = models.PositiveSmallIntegerField(_("year"))
    population = models.PositiveIntegerField(_("population"))
    basis = models.CharField(_("basis"), max_length=16, choices=Basis.choices, default=Basis.REGISTERED)
    is_demo = models.BooleanField(_("demo figure"), default=False,
                                  help_text=_("A made-up figure for the demo, not a statistic"))
    source = models.CharField(_("source"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("population figure")
        verbose_name_plural = _("population figures")
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="uniq_region_population_year")]

    def __str__(self) -> str:
        return f"{self.region} {self.year}: {self.population} ({self.basis})"


class Organisation(models.Model):
    class Kind(models.TextChoices):
        TRAINING_BASE = "training_base", _("Training base")
        EXAM_SITE = "exam_site", _("Exam site")
        EMPLOYER = "employer", _("Employer")
        SCHOOL = "school", _("School")
        STUDIO = "studio", _("Master-instructor studio")
        RED_CROSS = "red_cross", _("Red Cross branch")

    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("region"))
    address = models.CharField(_("address"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="uniq_organisation_name_in_region")]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person. ID-card and phone numbers are stored encrypted with a search digest and a masked copy."""

    real_name = models.CharField(_("real name"), max_length=64, blank=True)
    photo = models.ImageField(_("photo"), upload_to="photos/%Y/", blank=True)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="people", verbose_name=_("region")
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="people",
        verbose_name=_("organisation"),
    )
    id_card_protected = models.TextField(blank=True, editable=False)
    id_card_digest = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    id_card_masked = models.CharField(_("ID-card number"), max_length=18, blank=True, editable=False)
    phone_protected = models.TextField(blank=True, editable=False)
    phone_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_masked = models.CharField(_("mobile number"), max_length=11, blank=True, editable=False)
    # Set when the person's account was anonymised (lms.privacy): irreversible, the row stays for the
    # exam records and audit rows that point to it.
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True, editable=False)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name if self.anonymised_at is not None else (self.real_name or self.username)

    @property
    def display_name(self) -> str:
        if self.anonymised_at is not None:
            from django.utils.translation import gettext

            return gettext("Deleted user #%(id)s") % {"id": self.pk}
        return self.real_name or self.get_full_name() or self.username

    # Protected fields: set through these, never by assigning the columns directly.
    def set_id_card(self, value: str | None) -> None:
        if not value:
            self.id_card_protected, self.id_card_digest, self.id_card_masked = "", None, ""
            return
        value = protection.normalize_id_card(value)
        self.id_card_protected = protection.encrypt(value, "id_card")
        self.id_card_digest = protection.digest(value, "id_card")
        self.id_card_masked = protection.mask_id_card(value)

    def set_phone(self, value: str | None) -> None:
        if not value:
            self.phone_protected, self.phone_digest, self.phone_masked = "", "", ""
            return
        value = protection.normalize_phone(value)
        self.phone_protected = protection.encrypt(value, "phone")
        self.phone_digest = protection.digest(value, "phone")
        self.phone_masked = protection.mask_phone(value)

    @property
    def role_set(self) -> set[str]:
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            cached = set(self.role_assignments.values_list("role", flat=True))
            if self.is_superuser:
                cached.add(Role.SYSTEM_ADMIN)
            self._role_cache = cached
        return cached

    def has_role(self, role: str) -> bool:
        return self.is_authenticated and role in self.role_set


class RoleAssignment(models.Model):
    """One role held by a user; a region admin's role carries the region it administers."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="role_assignments",
        verbose_name=_("region"),
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="role_assignments",
        verbose_name=_("organisation"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "region"], name="uniq_role_per_region"),
            models.CheckConstraint(
                condition=~models.Q(role="region_admin") | models.Q(region__isnull=False),
                name="region_admin_has_region",
            ),
            models.CheckConstraint(
                condition=~models.Q(role="org_admin") | models.Q(organisation__isnull=False),
                name="org_admin_has_organisation",
            ),
        ]

    def __str__(self) -> str:
        where = f" · {self.region}" if self.region_id else (f" · {self.organisation}" if self.organisation_id else "")
        return f"{self.user} · {self.get_role_display()}" + where


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("The audit log is append-only.")

    def delete(self):
        raise PermissionDenied("The audit log is append-only.")


class AuditLog(models.Model):
    """Append-only record of every state-changing operation."""

    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_repr = models.CharField(max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("The audit log is append-only.")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_repr} {self.action} {self.object_repr}"


class OneTimeCode(models.Model):
    """A six-digit code sent to a person's phone or e-mail, e.g. to reset a password.

    Only a keyed, salted digest of the code is stored (``salted_hmac`` with the site's secret key:
    a copy of the database alone does not allow trying the million codes). A code is live until
    it expires, is used once, or has taken too many wrong tries. Issued through ``lms.api``.
    """

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "password_reset", _("Password reset")
        REGISTRATION = "registration", _("Registration")

    class Channel(models.TextChoices):
        SMS = "sms", _("Text message")
        EMAIL = "email", _("E-mail")

    # None for a registration code until the account exists (lms.registration sets it then).
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_codes", null=True, blank=True)
    # Registration: the keyed digest (protection.digest) of the number the code was sent to; never the number.
    phone_digest = models.CharField(max_length=64, blank=True, db_index=True)
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    salt = models.CharField(max_length=32)
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [models.Index(fields=["user", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.user} · {self.created_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def digest_of(salt: str, code: str) -> str:
        from django.utils.crypto import salted_hmac

        return salted_hmac("lms.OneTimeCode", f"{salt}:{code}", algorithm="sha256").hexdigest()

    def matches(self, code: str) -> bool:
        from django.utils.crypto import constant_time_compare

        return constant_time_compare(self.code_digest, self.digest_of(self.salt, code))

    def is_live(self, now, max_failures: int) -> bool:
        return self.used_at is None and now < self.expires_at and self.failed_attempts < max_failures


class PrivacyConsent(models.Model):
    """A person's agreement to one version of the privacy notice (个人信息保护告知), recorded at sign-in.

    ``sensitive`` is the separate consent (单独同意, PIPL art. 29) to the processing of sensitive
    personal information: the ID-card number and the photo. Written by ``lms.api.record_privacy_consent``.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="privacy_consents")
    version = models.CharField(_("notice version"), max_length=32)
    sensitive = models.BooleanField(_("separate consent to sensitive information"), default=False)
    agreed_at = models.DateTimeField(_("agreed at"), auto_now_add=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("privacy consent")
        verbose_name_plural = _("privacy consents")
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="uniq_privacy_consent_version")]

    def __str__(self) -> str:
        return f"{self.user} · {self.version} · {self.agreed_at:%Y-%m-%d %H:%M}"
