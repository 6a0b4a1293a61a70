"""Public real-name registration (实名注册): a member of the public opens their own account.

Two steps, both on ``/register/`` (``lms.registration_views``):

1. :func:`send_registration_code` — the person's mobile number; a 6-digit code goes to it through the
   SMS backend (``lms.sms``). Stored as a ``OneTimeCode`` (purpose ``registration``, no user yet) with
   a salted, keyed digest of the code and the keyed digest of the number (never the number).
   Limits: ``LMS_REGISTRATION_REQUESTS_PER_IP`` requests per IP address and
   ``LMS_REGISTRATION_CODES_PER_PHONE`` codes per number in ``LMS_RESET_WINDOW_S``; a new code ends
   the number's earlier ones. Codes expire after ``LMS_RESET_CODE_TTL_S`` and burn after
   ``LMS_RESET_CODE_MAX_TRIES`` wrong tries, like the password-reset codes.
2. :func:`register` — the code, real name, ID-card number (format and check digit), an optional
   login name, password (Django's validators), agreement to the privacy notice and the separate
   consent to the ID-card number and photo (``lms.api.record_privacy_consent``), and optionally a
   class code (``courses.api.enrol_with_code``). Checked in that order: the fields, then the code,
   then whether the ID-card number is already registered — so that the answer "already registered"
   (which says "sign in or reset your password") needs a phone that received a code, and burns that
   code. Everything is stored in one transaction (account, consent, enrolment, the code used) or
   nothing is; audited as ``auth.register``.

The account's region: the region of the class's organisation when a class code is given, otherwise
the county (or city, or province) the ID-card number's first six digits name (区划代码), if known.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from . import api, audit, protection, ratelimit, sms
from .models import OneTimeCode, Region, Role, User

log = logging.getLogger("lms.registration")

PURPOSE = OneTimeCode.Purpose.REGISTRATION


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def send_registration_code(phone: str) -> int:
    """Send a registration code to ``phone``; returns the code's id (kept in the requester's session).

    ``ValidationError`` for a malformed number; ``api.TooManyAttempts`` beyond the limits (nothing sent).
    """
    try:
        phone = protection.normalize_phone(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    window = settings.LMS_RESET_WINDOW_S
    masked, digest = protection.mask_phone(phone), protection.digest(phone, "phone")
    ip = audit.current_ip() or "unknown"
    if ratelimit.hit("register-ip", ip, window_s=window) > _setting("LMS_REGISTRATION_REQUESTS_PER_IP", 10):
        audit.record(None, "auth.register_refused", object_type="lms.user", object_repr=masked,
                     after={"reason": "ip_limit"})
        raise api.TooManyAttempts(_("Too many registration codes requested from your network. "
                                    "Please try again in an hour."))
    now = timezone.now()
    recent = OneTimeCode.objects.filter(purpose=PURPOSE, phone_digest=digest,
                                        created_at__gte=now - timedelta(seconds=window)).count()
    if recent >= _setting("LMS_REGISTRATION_CODES_PER_PHONE", 3):
        audit.record(None, "auth.register_refused", object_type="lms.user", object_repr=masked,
                     after={"reason": "phone_limit"})
        raise api.TooManyAttempts(_("%(n)s codes have already been sent to this number in the last hour. "
                                    "Please use the last one, or try again later.") % {"n": recent})
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    ttl = settings.LMS_RESET_CODE_TTL_S
    with transaction.atomic():
        OneTimeCode.objects.filter(purpose=PURPOSE, phone_digest=digest, used_at__isnull=True,
                                   expires_at__gt=now).update(expires_at=now)
        otc = OneTimeCode.objects.create(
            user=None, phone_digest=digest, purpose=PURPOSE, channel=OneTimeCode.Channel.SMS, salt=salt,
            code_digest=OneTimeCode.digest_of(salt, code), expires_at=now + timedelta(seconds=ttl))
        audit.record(None, "auth.register_code_sent", object_type="lms.user", object_repr=masked,
                     after={"to": masked, "code": otc.pk})
    body = _("Red Cross First-Aid Training: your verification code is %(code)s. It confirms your mobile number "
             "for registration and is valid for %(minutes)s minutes. If you did not ask for it, ignore this "
             "message.") % {"code": code, "minutes": max(1, ttl // 60)}
    try:
        sms.send_sms(phone, body)
    except Exception:  # the gateway is down: the person asks again
        log.exception("could not send registration code %s", otc.pk)
    return otc.pk


def region_of_id_card(id_card: str) -> Region | None:
    """The region the ID-card number's 区划代码 names (county, else city, else province), if it is known."""
    code = id_card[:6]
    for candidate in (code, code[:4] + "00", code[:2] + "0000"):
        region = Region.objects.filter(code=candidate).first()
        if region is not None:
            return region
    return None


def _class_for_code(class_code: str):
    from courses import api as courses_api
    from courses.models import TrainingClass

    normalised = courses_api.normalise_class_code(class_code)
    if not normalised:
        return None
    return TrainingClass.objects.filter(code__iexact=normalised).select_related("training_base__region").first()


class _EnrolmentFailed(Exception):
    def __init__(self, error: ValidationError):
        self.error = error


def register(code_id: int | None, *, phone: str, code: str, real_name: str, id_card: str, password: str,
             agree_notice: bool, agree_sensitive: bool, username: str = "", class_code: str = "",
             notice_version: str | None = None) -> User:
    """Open the account of a person who confirmed ``phone`` with ``code`` (see the module docstring).

    ``code_id`` and ``phone`` come from :func:`send_registration_code` (kept in the session).
    ``ValidationError`` keyed by field on any problem; nothing is stored then, except that a wrong
    code counts as a try and the code of an already registered ID-card number is used up.
    """
    errors: dict[str, list[str]] = {}
    real_name = (real_name or "").strip()
    if not real_name:
        errors["real_name"] = [_("Please enter your real name as on your ID card.")]
    elif len(real_name) > 64:
        errors["real_name"] = [_("The name is longer than 64 characters.")]
    try:
        id_card = protection.normalize_id_card(id_card)
    except ValidationError as exc:
        errors["id_card"] = exc.messages
    username = (username or "").strip()
    if username:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            errors["username"] = [_("A login name has letters, digits and @ . + - _ only.")]
        else:
            if len(username) > 150:
                errors["username"] = [_("The login name is too long.")]
            elif User.objects.filter(username__iexact=username).exists():
                errors["username"] = [_("This login name is taken.")]
    try:
        password_validation.validate_password(password, User(username=username, real_name=real_name))
    except ValidationError as exc:
        errors["password"] = exc.messages
    if not agree_notice:
        errors["agree_notice"] = [_("Please read and agree to the privacy notice.")]
    if not agree_sensitive:
        errors["agree_sensitive"] = [_("Please also agree to the processing of your ID-card number and photo: "
                                       "the exams and certificates are in your real name.")]
    training_class = None
    if (class_code or "").strip():
        training_class = _class_for_code(class_code)
        if training_class is None:
            errors["class_code"] = [_("No class has this code. Check it with your training base, or leave it "
                                      "empty and enrol later.")]
    if errors:
        raise ValidationError(errors)

    wrong = ValidationError({"code": [_("The code is wrong or no longer valid. Check it, or ask for a new code.")]})
    code = (code or "").strip()
    if code_id is None:
        raise wrong
    max_tries = settings.LMS_RESET_CODE_MAX_TRIES
    digest = protection.digest(protection.normalize_phone(phone), "phone")
    with transaction.atomic():
        otc = OneTimeCode.objects.select_for_update().filter(pk=code_id, purpose=PURPOSE, phone_digest=digest).first()
        live = otc is not None and otc.is_live(timezone.now(), max_tries)
        right = live and otc.matches(code)
        if live and not right:
            OneTimeCode.objects.filter(pk=otc.pk).update(failed_attempts=F("failed_attempts") + 1)
            tries = otc.failed_attempts + 1
            audit.record(None, "auth.register_code_burnt" if tries >= max_tries else "auth.register_code_wrong",
                         object_type="lms.user", object_repr=protection.mask_phone(phone),
                         after={"code": otc.pk, "failed_attempts": tries})
    if not right:
        raise wrong

    if User.objects.filter(id_card_digest=protection.digest(id_card, "id_card")).exists():
        OneTimeCode.objects.filter(pk=otc.pk).update(used_at=timezone.now())
        audit.record(None, "auth.register_duplicate", object_type="lms.user",
                     object_repr=protection.mask_id_card(id_card), after={"code": otc.pk})
        raise ValidationError({"id_card": [ValidationError(
            _("An account with this ID-card number already exists. Please sign in, or set a new password with "
              "“Forgotten your password?”."), code="already_registered")]})

    region = training_class.training_base.region if training_class is not None else region_of_id_card(id_card)
    try:
        with transaction.atomic():
            otc = OneTimeCode.objects.select_for_update().get(pk=otc.pk)
            if not otc.is_live(timezone.now(), max_tries):  # used meanwhile by another request
                raise wrong
            person = api.create_person(None, username=username, real_name=real_name, region=region,
                                       password=password, id_card=id_card, phone=phone, roles=[Role.TRAINEE])
            api.record_privacy_consent(person, version=notice_version or settings.PRIVACY_NOTICE_VERSION,
                                       sensitive=True)
            enrolled = None
            if training_class is not None:
                from courses import api as courses_api

                try:
                    enrolled = courses_api.enrol_with_code(person, class_code)
                except ValidationError as exc:
                    raise _EnrolmentFailed(exc) from None
            otc.used_at = timezone.now()
            otc.user = person
            otc.save(update_fields=["used_at", "user"])
            audit.record(person, "auth.register", person, after={
                "code": otc.pk, "region": region.pk if region else None,
                "class": enrolled.training_class_id if enrolled else None})
    except _EnrolmentFailed as failed:
        raise ValidationError({"class_code": failed.error.messages}) from None
    return person
