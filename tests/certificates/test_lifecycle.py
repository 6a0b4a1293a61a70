"""A certificate's life after issue (certificates/lifecycle.py): revocation with its reason, visible at once;
re-issue after a name correction under the same number with the history kept; renewal through the
refresher programme, linked both ways, validity running on from the old expiry; expiry reminders in the
app, by e-mail and by text message, each once.

Certificates are made directly here (no exams): their issue is tested in test_issue.py."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from certificates import api, lifecycle
from certificates.issuing import division_code
from certificates.models import Certificate, CertificateRevision, CertificateRule, Reminder
from courses.models import Enrolment, Programme
from exams.models import Blueprint
from lms import api as lms_api
from lms import sms
from lms.models import AuditLog, Organisation
from tests.courses.study_support import make_class, make_programme
from tests.exams.practical_support import passed_theory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """The assertions read the English messages (pages are asked for in English too)."""
    from django.utils import translation

    with translation.override("en"):
        yield

TODAY = timezone.localdate()


def days(n: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=n)


@dataclass
class World:
    admin: object  # 西湖区
    other_admin: object  # 北仑区
    programme: Programme  # 救护员取证
    refresher: Programme  # 复训, renews it
    refresher_blueprint: Blueprint
    refresher_class: object
    base: Organisation
    holder: object  # e-mail and mobile number on record
    bare: object  # neither


@pytest.fixture
def world(regions, make_person) -> World:
    xihu = regions["xihu"]
    base = lms_api.create_organisation(None, name="西湖区培训基地", kind=Organisation.Kind.TRAINING_BASE, region=xihu)
    programme = make_programme(code="lc-first-aider")
    CertificateRule.objects.create(programme=programme, title="救护员证", validity_years=3)
    refresher = Programme.objects.create(code="lc-refresher", name="救护员复训", kind=Programme.Kind.REFRESHER,
                                         required_class_hours=Decimal(8), theory_exam_required=True)
    CertificateRule.objects.create(programme=refresher, title="救护员证", renews=programme)
    blueprint = Blueprint.objects.create(programme=refresher, name="复训理论考试", time_limit_s=1800)
    klass = make_class(refresher, base, name="复训一班")
    holder = make_person(xihu, username="chizheng", real_name="张持证", phone="13700000021")
    holder.email = "zhang@example.com"
    holder.save(update_fields=["email"])
    bare = make_person(xihu, username="wuhao", real_name="吴号")
    for person in (holder, bare):
        Enrolment.objects.create(user=person, training_class=klass, source=Enrolment.Source.ADMIN)
    return World(admin=make_person(xihu, roles=(), admin_of=xihu, username="xihu-admin"),
                 other_admin=make_person(regions["beilun"], roles=(), admin_of=regions["beilun"], username="bl-admin"),
                 programme=programme, refresher=refresher, refresher_blueprint=blueprint, refresher_class=klass,
                 base=base, holder=holder, bare=bare)


def make_certificate(world: World, holder=None, *, expires_in: int, **fields) -> Certificate:
    holder = holder or world.holder
    expires = days(expires_in)
    issued = expires - datetime.timedelta(days=3 * 365 - 1)
    region = world.base.region
    return Certificate.objects.create(
        number=api.next_number(division_code(region), issued.year), holder=holder, programme=world.programme,
        region=region, issuer=world.base, title="救护员证", holder_name=holder.real_name,
        id_card_masked=holder.id_card_masked, programme_name=world.programme.name, issuer_name=world.base.name,
        class_hours=Decimal(16), instructor_names="王老师", examiner_name="李考官", issued_on=issued,
        expires_on=expires, **fields)


def test_revocation_needs_a_reason_and_the_region_and_shows_at_once_everywhere(world):
    from certificates import verification

    cert = make_certificate(world, expires_in=500)
    with pytest.raises(ValidationError) as refused:
        lifecycle.revoke(world.admin, cert, reason="  ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        lifecycle.revoke(world.other_admin, cert, reason="证件冒用")
    with pytest.raises(PermissionDenied):
        lifecycle.revoke(world.holder, cert, reason="证件冒用")
    assert Certificate.objects.get(pk=cert.pk).status() == Certificate.Status.VALID
    assert not AuditLog.objects.filter(action="certificates.revoke").exists()

    lifecycle.revoke(world.admin, cert, reason="证件冒用，经核实撤销")
    fresh = Certificate.objects.get(pk=cert.pk)
    assert fresh.status() == Certificate.Status.REVOKED and fresh.revoked_by == world.admin
    assert fresh.revoked_reason == "证件冒用，经核实撤销" and fresh.revoked_at is not None
    found = verification.verify_number(cert.number)  # the public verification reads the row
    assert found.status == Certificate.Status.REVOKED and found.revoked_reason == "证件冒用，经核实撤销"
    entry = AuditLog.objects.get(action="certificates.revoke", object_id=str(cert.pk))
    assert entry.actor == world.admin and entry.after["reason"] == "证件冒用，经核实撤销"
    with pytest.raises(ValidationError, match="already revoked"):
        lifecycle.revoke(world.admin, fresh, reason="再次撤销")
    assert AuditLog.objects.filter(action="certificates.revoke").count() == 1
    # a revoked certificate is neither corrected nor renewed
    with pytest.raises(ValidationError):
        lifecycle.correct_name(world.admin, fresh, new_name="张持正", reason="错字更正")
    assert lifecycle.renewal_check(fresh).reasons == ["A revoked certificate cannot be renewed."]


def test_a_name_correction_reissues_the_same_number_with_its_history(world, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    cert = make_certificate(world, expires_in=800)
    Certificate.objects.filter(pk=cert.pk).update(pdf="certificates/x.pdf", pdf_revision=1)
    cert.refresh_from_db()
    assert cert.pdf_is_current
    for bad in ("张", "张持证3", "Zhang  <b>", "x" * 65):
        with pytest.raises(ValidationError) as refused:
            lifecycle.correct_name(world.admin, cert, new_name=bad, reason="错字更正")
        assert "new_name" in refused.value.message_dict, bad
    with pytest.raises(ValidationError):
        lifecycle.correct_name(world.admin, cert, new_name="张持证", reason="错字更正")  # the same name
    with pytest.raises(ValidationError):
        lifecycle.correct_name(world.admin, cert, new_name="张持正", reason="")
    with pytest.raises(PermissionDenied):
        lifecycle.correct_name(world.other_admin, cert, new_name="张持正", reason="错字更正")
    assert not CertificateRevision.objects.exists()

    number = cert.number
    with django_capture_on_commit_callbacks(execute=True):
        done = lifecycle.correct_name(world.admin, cert, new_name="张持正", reason="身份证核对：错字更正")
    assert done.number == number and done.revision == 2 and done.holder_name == "张持正"
    assert not done.pdf_is_current  # the PDF of revision 1 no longer is the certificate
    history = CertificateRevision.objects.get(certificate=cert)
    assert history.revision == 1 and history.holder_name == "张持证" and history.reason == "身份证核对：错字更正"
    assert history.fields["holder_name"] == "张持证" and history.fields["number"] == number
    assert history.fields["expires_on"] == cert.expires_on.isoformat() and history.fields["examiner_name"] == "李考官"
    assert history.replaced_by == world.admin
    queued = [t.args_kwargs["args"] for t in DBTaskResult.objects.filter(task_path__endswith="render_certificate_pdf")]
    assert queued == [[cert.pk]]
    assert AuditLog.objects.filter(action="certificates.correct_name", object_id=str(cert.pk)).exists()
    # a transcribed name with the middle dot, typed with another dot
    done = lifecycle.correct_name(world.admin, done, new_name="阿依古丽•买买提", reason="少数民族姓名更正")
    assert done.holder_name == "阿依古丽·买买提" and done.revision == 3
    assert list(done.revisions.values_list("revision", flat=True)) == [1, 2]


def test_renewal_through_the_refresher_programme(world, django_capture_on_commit_callbacks):
    old = make_certificate(world, expires_in=100)
    check = lifecycle.renewal_check(old)
    assert not check.eligible and check.in_window
    assert any("theory exam of 救护员复训" in r for r in check.reasons)
    with pytest.raises(ValidationError):
        lifecycle.renew(world.admin, old)
    early = make_certificate(world, world.bare, expires_in=lifecycle.RENEW_FROM_DAYS_BEFORE + 20)
    assert any("Renewal opens on" in r for r in lifecycle.renewal_check(early).reasons)

    passed_theory(world.holder, world.refresher_blueprint, days_ago=2)
    with pytest.raises(PermissionDenied):
        lifecycle.renew(world.other_admin, old)
    # renewed from the certificate's staff page, which offers it now
    admin = Client()
    admin.cookies["django_language"] = "en"
    admin.force_login(world.admin)
    detail = reverse("certificates:detail", args=[old.pk])
    assert reverse("certificates:renew", args=[old.pk]) in admin.get(detail).content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin.post(reverse("certificates:renew", args=[old.pk]))
    assert callbacks  # the new certificate's PDF is queued after the commit
    old.refresh_from_db()
    new = old.renewed_by
    assert response.status_code == 302 and response["Location"] == reverse("certificates:detail", args=[new.pk])
    page = admin.get(response["Location"]).content.decode()
    assert old.number in page and new.number in page  # linked both ways
    assert new.number in admin.get(detail).content.decode()
    assert new.renews == old and old.renewed_by == new and new.number != old.number
    assert new.source == Certificate.Source.RENEWAL and new.programme == world.programme  # the renewed 救护员证
    assert new.issued_on == TODAY and new.issued_by.pk == world.admin.pk
    # renewed 100 days early: the new validity starts the day after the old expiry (3 years)
    assert new.expires_on == api.expiry_for(old.expires_on + datetime.timedelta(days=1), 3)
    assert new.programme_name == "救护员复训" and new.class_hours == Decimal(8) and new.title == "救护员证"
    assert new.holder_name == "张持证" and new.issuer == world.base and new.training_class == world.refresher_class
    assert new.theory_attempt is not None and new.status() == Certificate.Status.VALID
    assert AuditLog.objects.filter(action="certificates.renew", object_id=str(old.pk)).exists()
    assert AuditLog.objects.get(action="certificates.issue", object_id=str(new.pk)).after["renews"] == old.number
    with pytest.raises(ValidationError, match="Already renewed"):
        lifecycle.renew(world.admin, old)

    # In the grace period after expiry: valid from the renewal day. The refresher course already used for
    # one renewal does not renew another certificate; an exception on the allowlist waives the theory exam.
    lapsed = make_certificate(world, world.bare, expires_in=-30)
    Certificate.objects.filter(pk=early.pk).update(revoked_at=timezone.now(), revoked_reason="测试")
    passed_theory(world.bare, world.refresher_blueprint, days_ago=1)
    renewed = lifecycle.renew(world.admin, lapsed)
    assert renewed.expires_on == api.expiry_for(TODAY, 3)
    too_late = make_certificate(world, world.holder, expires_in=-(lifecycle.RENEW_GRACE_DAYS + 1))
    reasons = lifecycle.renewal_check(too_late).reasons
    assert any("full course" in r for r in reasons) and any("already renewed certificate" in r for r in reasons)
    api.grant_exception(world.admin, world.holder, world.refresher, waives=["theory", "window"],
                        reason="复训理论纸质考试合格")
    late = lifecycle.renew(world.admin, too_late)
    assert late.exception is not None and late.renews == too_late


class GatewayDown(sms.BaseSmsBackend):
    def send_messages(self, messages):
        raise ConnectionError(f"gateway down, could not reach {messages[0].to}")


def test_expiry_reminders_in_the_app_by_email_and_text_once_each(world, settings, make_person, regions):
    settings.LMS_SMS_BACKEND = "lms.sms.LocmemBackend"
    sms.outbox.clear()
    at_85 = make_certificate(world, expires_in=85)  # the holder: e-mail and phone
    at_25 = make_certificate(world, world.bare, expires_in=25)  # no e-mail, no phone: in the app only
    far = make_certificate(world, expires_in=120)
    gone = make_certificate(world, expires_in=-1)
    revoked = make_certificate(world, expires_in=20, revoked_at=timezone.now(), revoked_reason="撤销")
    renewed = make_certificate(world, expires_in=20)
    make_certificate(world, world.bare, expires_in=2000, renews=renewed, source=Certificate.Source.RENEWAL)

    counts = lifecycle.send_expiry_reminders(TODAY)
    assert counts == {"certificates": 2, "app": 2, "email": 1, "sms": 1, "failed": 0}
    rows = {(r.certificate_id, r.days_before, r.channel): r.outcome for r in Reminder.objects.all()}
    assert rows == {(at_85.pk, 90, "app"): "sent", (at_85.pk, 90, "email"): "sent", (at_85.pk, 90, "sms"): "sent",
                    (at_25.pk, 30, "app"): "sent"}  # found at 25 days: the 30-day reminder only
    assert not Reminder.objects.filter(certificate__in=[far, gone, revoked, renewed]).exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["zhang@example.com"]
    assert at_85.number in mail.outbox[0].body and at_85.expires_on.strftime("%Y-%m-%d") in mail.outbox[0].subject
    assert len(sms.outbox) == 1 and sms.outbox[0].to == "13700000021" and at_85.number in sms.outbox[0].body

    assert lifecycle.send_expiry_reminders(TODAY)["app"] == 0  # run twice: nothing twice
    call_command("send_expiry_reminders", today=TODAY.isoformat(), verbosity=0)
    call_command("send_expiry_reminders_loop", once=True, verbosity=0)  # what lms.serving runs every hour
    assert Reminder.objects.count() == 4 and len(mail.outbox) == 1 and len(sms.outbox) == 1

    # 60 days later the first certificate reaches the 30-day mark, the one at 120 days the 90-day mark, and
    # the one at 25 days has expired
    later = lifecycle.send_expiry_reminders(days(60))
    assert later == {"certificates": 2, "app": 2, "email": 2, "sms": 2, "failed": 0}
    assert Reminder.objects.filter(certificate=at_85, days_before=30).count() == 3
    assert Reminder.objects.filter(certificate=far, days_before=90).count() == 3
    # the holder adds an e-mail address: the current mark reaches it on the next run
    world.bare.email = "wu@example.com"
    world.bare.save(update_fields=["email"])
    assert lifecycle.send_expiry_reminders(TODAY)["email"] == 1

    # in the app: on the holder's dashboard until read, and only theirs
    client = Client()
    client.cookies["django_language"] = "en"
    client.force_login(world.holder)
    page = client.get(reverse("lms:dashboard")).content.decode()
    assert at_85.number in page and "my/certificates/" in page
    reminder = Reminder.objects.get(certificate=at_85, days_before=90, channel="app")
    with pytest.raises(PermissionDenied):
        lifecycle.mark_reminder_read(world.bare, reminder)
    mine = client.get("/my/certificates/").content.decode()
    assert at_85.number in mine and at_25.number not in mine
    assert client.post(f"/my/certificates/reminders/{reminder.pk}/read/").status_code == 302
    reminder.refresh_from_db()
    assert reminder.read_at is not None
    other = Reminder.objects.get(certificate=at_25, channel="app")
    assert client.post(f"/my/certificates/reminders/{other.pk}/read/").status_code == 404
    # still unread: the 30-day one of the same certificate and the 90-day one of the other
    assert {(r.certificate_id, r.days_before) for r in lifecycle.unread_reminders(world.holder)} == {
        (at_85.pk, 30), (far.pk, 90)}
    Certificate.objects.filter(pk=far.pk).update(revoked_at=timezone.now(), revoked_reason="撤销")
    assert lifecycle.unread_reminders(world.holder).count() == 1  # a revoked (or renewed) one no longer warns

    # The SMS gateway is down: the reason is kept (the number masked) and the next run sends it.
    soon = make_certificate(world, expires_in=10)
    settings.LMS_SMS_BACKEND = "tests.certificates.test_lifecycle.GatewayDown"
    assert lifecycle.send_expiry_reminders(TODAY)["failed"] == 1
    failed = Reminder.objects.get(certificate=soon, channel="sms")
    assert failed.outcome.startswith("failed: ") and "137****0021" in failed.outcome
    assert "13700000021" not in failed.outcome
    settings.LMS_SMS_BACKEND = "lms.sms.LocmemBackend"
    assert lifecycle.send_expiry_reminders(TODAY) == {"certificates": 3, "app": 0, "email": 0, "sms": 1, "failed": 0}
    assert Reminder.objects.get(certificate=soon, channel="sms").outcome == "sent"
