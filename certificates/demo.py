"""Demo data of the certificates app, made through the public functions (``certificates.api``):

- the rules: 救护员取证 issues the 救护员证 (3 years, issued by itself when the practical result is signed,
  reminders 90 and 30 days before expiry); 救护员复训 renews it;
- 孙悦 (login ``exam_done``), whose practical exam was passed on appeal: her 救护员证, issued by the
  county admin from her real exam records;
- 西湖区救护员培训班（2023年秋，演示）, a class that ended before the system took over its records: its
  trainees' certificates were issued on the allowlist (the exams were on paper, the reason recorded),
  each on its historical date, so that every status and step of a certificate's life can be seen:
  one about to expire with its reminders (李娜, login ``holder``), one expired, one revoked with its
  reason, one re-issued after a name correction, one renewed through the refresher, and valid ones;
- the expiry reminders sent by the scheduled run, and every certificate's PDF rendered and signed.

Made once: nothing is added when the 2023 class exists.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

CLASS_NAME = "西湖区救护员培训班（2023年秋，演示）"
# username (None: no login), real name, phone, birth date, issued (days before today), what happens next
PEOPLE = [
    ("holder", "李娜", "13700009001", "19880312", 3 * 365 - 19, "expiring"),
    (None, "陈建国", "13700009002", "19750708", 3 * 365 + 100, "expired"),
    (None, "周海燕", "13700009003", "19920115", 2 * 365, "revoked"),
    (None, "王晓明", "13700009004", "19990521", 365, "corrected"),
    (None, "赵雪", "13700009005", "19860903", 3 * 365 - 60, "renewed"),
    (None, "刘洋", "13700009006", "20010630", 3 * 365 - 150, "valid"),
    (None, "黄丽", "13700009007", "19950218", 400, "valid"),
    (None, "吴刚", "13700009008", "19830427", 3 * 365 - 200, "valid"),
]
COLOURS = [(180, 150, 130), (120, 140, 170), (150, 170, 140), (170, 130, 150)]
REASON_PAPER = "2023年秋季班的理论与实操考核在系统上线前以纸质记录完成，考核合格，记录存档于培训基地（演示数据）。"
REASON_REVOKE = "复核发现持证人未实际参加实操考核，培训基地已确认，证书撤销。"
REASON_NAME = "持证人身份证上的姓名为“王小明”，报名时录入有误，凭身份证更正。"
REASON_REFRESHER = "复训理论与实操在基地线下完成，成绩存档（演示数据）。"


def load(stdout=None) -> None:
    from courses.models import Programme, TrainingClass
    from lms.models import User

    from exams.demo_practical import DONE

    from . import pdf
    from .models import CertificateRule

    write = stdout.write if stdout else (lambda s: None)
    first_aider = Programme.objects.get(code="first-aider")
    refresher = Programme.objects.get(code="refresher")
    CertificateRule.objects.update_or_create(programme=first_aider, defaults={
        "certifies": True, "title": "救护员证", "validity_years": 3, "auto_issue": True, "reminder_days": [90, 30]})
    # The refresher issues no certificate of its own: it renews the 救护员证.
    CertificateRule.objects.update_or_create(programme=refresher, defaults={
        "certifies": False, "title": "救护员证", "validity_years": 3, "renews": first_aider})
    if TrainingClass.objects.filter(name=CLASS_NAME).exists():
        write("certificates: the demo certificates exist\n")
        return

    with transaction.atomic():  # all or nothing: a failed load leaves no half-made class behind
        made, by_fate, reminders, corrected, renewed, old = _make(first_aider, refresher)
    for cert in made:
        pdf.render_and_store(cert.pk)
    done = User.objects.get(username=DONE[0])
    revoked = by_fate["revoked"][0]
    write(f"certificates: {len(made)} certificates (PDFs signed), {reminders.get('app', 0)} in-app reminder(s)\n")
    if made and made[0].holder_id == done.pk:
        write(f"  {done.username} ({done.real_name}): {made[0].number} (issued on her appeal's result)\n")
    write(f"  holder (李娜): {by_fate['expiring'][0].number}, expires {by_fate['expiring'][0].expires_on} "
          "(reminders sent)\n")
    write(f"  revoked: {revoked.number}; renamed (r{corrected.revision}): {corrected.number}; "
          f"renewed: {old.number} → {renewed.number}; expired: {by_fate['expired'][0].number}\n")
    write("  verify any of them at /verify/ (no login needed)\n")


def _make(first_aider, refresher):
    from django.conf import settings

    from courses.models import Enrolment, TrainingClass
    from lms import api as lms_api
    from lms.demo import DEMO_PASSWORD, _demo_id_card, _region
    from lms.models import Organisation, PrivacyConsent, Role, User

    from content.course.load import DEMO_TRAINING_BASE
    from exams.demo_practical import DONE, _photo

    from . import api
    from .models import Certificate

    admin = User.objects.get(username="xihu_admin")
    made = []
    done = User.objects.get(username=DONE[0])
    if api.eligibility(done, first_aider).eligible:
        made.append(api.issue(admin, done, first_aider))

    today = timezone.localdate()
    xihu = _region("浙江省", "杭州市", "西湖区")
    base = Organisation.objects.get(name=DEMO_TRAINING_BASE)
    started = datetime.date(today.year - 3, 9, 1)
    klass = TrainingClass.objects.create(
        programme=first_aider, name=CLASS_NAME, training_base=base, venue="杭州市西湖区文三路（演示地址）培训基地二楼教室",
        starts_on=started, ends_on=started + datetime.timedelta(days=20), capacity=40,
        status=TrainingClass.Status.FINISHED)
    instructor = User.objects.filter(username="instructor").first()
    if instructor is not None:
        klass.instructors.add(instructor)
    refresher_class = TrainingClass.objects.create(
        programme=refresher, name="西湖区救护员复训班（演示）", training_base=base, starts_on=today - datetime.timedelta(days=30),
        ends_on=today - datetime.timedelta(days=28), status=TrainingClass.Status.FINISHED)
    if instructor is not None:
        refresher_class.instructors.add(instructor)

    by_fate: dict[str, list] = {}
    for serial, (username, name, phone, birth, days_ago, fate) in enumerate(PEOPLE, start=401):
        person = lms_api.create_person(
            None, username=username or "", real_name=name, region=xihu,
            password=DEMO_PASSWORD if username else None, phone=phone, roles=[Role.TRAINEE],
            id_card=_demo_id_card("330106", birth, serial), photo=_photo(COLOURS[serial % len(COLOURS)]))
        if username:
            person.email = f"{username}@example.org"
            person.save(update_fields=["email"])
            PrivacyConsent.objects.get_or_create(user=person, version=settings.PRIVACY_NOTICE_VERSION,
                                                 defaults={"sensitive": True})
        # A class of the past: its roster is a record (courses.api.enrol takes no one into a finished class).
        Enrolment.objects.create(user=person, training_class=klass, source=Enrolment.Source.ADMIN,
                                 status=Enrolment.Status.COMPLETED)
        api.grant_exception(admin, person, first_aider, waives=["theory", "practical", "window"], reason=REASON_PAPER)
        issued_on = today - datetime.timedelta(days=days_ago)
        cert = api.issue(admin, person, first_aider, training_class=klass, today=issued_on)
        Certificate.objects.filter(pk=cert.pk).update(source=Certificate.Source.CLASS)
        by_fate.setdefault(fate, []).append(cert)
        made.append(cert)

    api.revoke(admin, by_fate["revoked"][0], reason=REASON_REVOKE)
    corrected = api.correct_name(admin, by_fate["corrected"][0], new_name="王小明", reason=REASON_NAME)
    old = by_fate["renewed"][0]
    Enrolment.objects.create(user=old.holder, training_class=refresher_class, source=Enrolment.Source.ADMIN,
                             status=Enrolment.Status.COMPLETED)
    api.grant_exception(admin, old.holder, refresher, waives=["theory", "practical"], reason=REASON_REFRESHER)
    renewed = api.renew(admin, old)
    made.append(renewed)
    reminders = api.send_expiry_reminders()
    return made, by_fate, reminders, corrected, renewed, old
