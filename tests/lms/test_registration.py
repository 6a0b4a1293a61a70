"""Public real-name registration: phone confirmed by an SMS code, ID-card check digit, one account per
ID-card number, consent recorded, optional enrolment with a class code, nothing stored on failure."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from courses.models import Enrolment, Programme, TrainingClass
from lms import api, protection, sms
from lms.models import AuditLog, OneTimeCode, Organisation, PrivacyConsent, Role, User

PHONE = "13912345678"
PASSWORD = "First-Aid-2026!"


def id_card(serial: int = 1, region: str = "330106") -> str:
    first17 = f"{region}19950505{serial:03d}"
    return first17 + protection.id_card_check_char(first17)


@pytest.fixture(autouse=True)
def _sms_to_memory(settings):
    settings.LMS_SMS_BACKEND = "lms.sms.LocmemBackend"
    sms.outbox.clear()
    cache.clear()
    yield
    sms.outbox.clear()
    cache.clear()


def last_code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)


def send(client, phone=PHONE):
    return client.post("/register/", {"action": "send_code", "phone": phone})


def details(**overrides):
    data = {"action": "register", "code": last_code() if sms.outbox else "000000", "real_name": "林小红",
            "id_card": id_card(), "username": "", "password": PASSWORD, "password2": PASSWORD, "class_code": "",
            "agree_notice": "on", "agree_sensitive": "on"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_login_page_links_to_registration(client, db):
    assert 'href="/register/"' in client.get("/login/").content.decode()


def test_the_whole_flow(client, regions):
    resp = send(client)
    assert resp.status_code == 302 and resp["Location"] == "/register/"
    assert len(sms.outbox) == 1 and sms.outbox[0].to == PHONE and "验证码" in sms.outbox[0].body
    otc = OneTimeCode.objects.get()
    assert otc.user is None and otc.purpose == "registration"
    assert otc.phone_digest == protection.digest(PHONE, "phone") and last_code() not in otc.code_digest
    page = client.get("/register/").content.decode()
    assert "139****5678" in page and PHONE not in page
    resp = client.post("/register/", details(username="linxh"))
    assert resp.status_code == 302 and resp["Location"] == "/dashboard/"
    person = User.objects.get(username="linxh")
    assert person.real_name == "林小红" and person.check_password(PASSWORD)
    assert person.id_card_digest == protection.digest(id_card(), "id_card")
    assert person.phone_digest == protection.digest(PHONE, "phone")
    assert person.has_role(Role.TRAINEE)
    assert person.region == regions["zj"]  # from the ID-card number: the fixture knows only 浙江省's code, 330000
    assert PrivacyConsent.objects.get(user=person).sensitive
    otc.refresh_from_db()
    assert otc.used_at is not None and otc.user == person
    assert AuditLog.objects.filter(action="auth.register", actor=person).exists()
    assert client.get("/dashboard/").status_code == 200  # signed in


def test_a_generated_login_name_is_shown(client, db):
    send(client)
    resp = client.post("/register/", details(), follow=True)
    person = User.objects.get(real_name="林小红")
    assert person.username.startswith("p") and person.username in resp.content.decode()


def test_wrong_check_digit_is_refused_and_nothing_stored(client, db):
    send(client)
    good = id_card()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    resp = client.post("/register/", details(id_card=bad))
    assert resp.status_code == 200 and "校验位" in resp.content.decode()
    assert bad not in resp.content.decode()  # never echoed
    assert not User.objects.filter(real_name="林小红").exists()
    assert OneTimeCode.objects.get().failed_attempts == 0  # the code was not even tried


def test_wrong_code_counts_and_burns(client, db, settings):
    send(client)
    right = last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(settings.LMS_RESET_CODE_MAX_TRIES):
        resp = client.post("/register/", details(code=wrong))
        assert "验证码有误" in resp.content.decode() or "验证码" in resp.content.decode()
    assert OneTimeCode.objects.get().failed_attempts == settings.LMS_RESET_CODE_MAX_TRIES
    resp = client.post("/register/", details(code=right))  # burnt: the right code no longer works
    assert resp.status_code == 200 and not User.objects.filter(real_name="林小红").exists()


def test_expired_code(client, db):
    send(client)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    resp = client.post("/register/", details())
    assert resp.status_code == 200 and not User.objects.filter(real_name="林小红").exists()


def test_a_new_code_ends_the_earlier_one(client, db):
    send(client)
    first = last_code()
    client.post("/register/", {"action": "resend"})
    assert len(sms.outbox) == 2
    if first != last_code():
        resp = client.post("/register/", details(code=first))
        assert not User.objects.filter(real_name="林小红").exists() and resp.status_code == 200


def test_an_id_card_already_registered_gets_a_clear_message_and_no_second_account(client, regions, make_person):
    make_person(regions["xihu"], real_name="林小红", id_card=id_card())
    send(client)
    resp = client.post("/register/", details())
    page = resp.content.decode()
    assert resp.status_code == 200 and "已注册" in page and 'href="/login/"' in page and "/password-reset/" in page
    assert User.objects.filter(id_card_digest=protection.digest(id_card(), "id_card")).count() == 1
    assert OneTimeCode.objects.get().used_at is not None  # the code is used up: no probing with it


def test_consent_is_required(client, db):
    send(client)
    resp = client.post("/register/", details(agree_sensitive=None))
    assert resp.status_code == 200 and "身份证号和照片" in resp.content.decode()
    resp = client.post("/register/", details(agree_notice=None))
    assert "个人信息保护告知" in resp.content.decode()
    assert not User.objects.filter(real_name="林小红").exists() and not PrivacyConsent.objects.exists()


def test_passwords_must_match_and_pass_the_validators(client, db):
    send(client)
    resp = client.post("/register/", details(password2="Something-else-1"))
    assert "不一致" in resp.content.decode()
    resp = client.post("/register/", details(password="123", password2="123"))
    assert resp.status_code == 200 and not User.objects.filter(real_name="林小红").exists()


@pytest.fixture
def open_class(regions):
    base = api.create_organisation(None, name="西湖培训基地", kind=Organisation.Kind.TRAINING_BASE,
                                   region=regions["xihu"])
    programme = Programme.objects.create(code="fa", name="救护员取证", kind=Programme.Kind.FIRST_AIDER)
    today = timezone.localdate()
    return TrainingClass.objects.create(programme=programme, name="十二月救护员班", training_base=base,
                                        starts_on=today, ends_on=today + timedelta(days=30), capacity=2)


def test_enrol_with_a_class_code(client, open_class, regions):
    send(client)
    code = open_class.code.lower()[:4] + " " + open_class.code.lower()[4:]
    resp = client.post("/register/", details(class_code=code))
    assert resp.status_code == 302 and resp["Location"] == "/study/"
    person = User.objects.get(real_name="林小红")
    assert Enrolment.objects.get(user=person).training_class == open_class
    assert person.region == regions["xihu"]  # the class's region


def test_an_unknown_or_full_class_code_stores_nothing(client, open_class, regions, make_person):
    send(client)
    resp = client.post("/register/", details(class_code="ZZZZ9999"))
    assert resp.status_code == 200 and "班级码" in resp.content.decode()
    assert not User.objects.filter(real_name="林小红").exists()
    for n in (1, 2):
        Enrolment.objects.create(user=make_person(regions["xihu"]), training_class=open_class)
    resp = client.post("/register/", details(class_code=open_class.code))
    assert resp.status_code == 200 and "满" in resp.content.decode()
    assert not User.objects.filter(real_name="林小红").exists() and not PrivacyConsent.objects.exists()
    assert OneTimeCode.objects.get().used_at is None  # the code still works: fix the class code and retry
    resp = client.post("/register/", details(class_code=""))
    assert resp.status_code == 302 and User.objects.filter(real_name="林小红").exists()


def test_code_requests_are_rate_limited(db, settings):
    settings.LMS_REGISTRATION_CODES_PER_PHONE = 2
    c = Client()
    assert send(c).status_code == 302
    c.post("/register/", {"action": "restart"})
    assert send(c).status_code == 302
    c.post("/register/", {"action": "restart"})
    resp = send(c)
    assert resp.status_code == 429 and len(sms.outbox) == 2
    settings.LMS_REGISTRATION_REQUESTS_PER_IP = 3
    resp = send(Client(), phone="13812345678")
    assert resp.status_code == 429  # the 4th request from this address


def test_bad_phone_number(client, db):
    resp = send(client, phone="12345")
    assert resp.status_code == 200 and "11" in resp.content.decode()
    assert not sms.outbox and not OneTimeCode.objects.exists()


def test_signed_in_people_are_sent_on(client, regions, make_person):
    client.force_login(make_person(regions["xihu"]))
    assert client.get("/register/")["Location"] == "/dashboard/"
