"""Password reset by a one-time code sent by SMS or e-mail: hashed, expiring, single-use, rate-limited, no account oracle."""

import os
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from lms import sms
from lms.models import AuditLog, OneTimeCode

PASSWORD = "pw-Secret-123"
NEW = "Brand-New-Pass-77"
PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _sms_to_memory(settings):
    settings.LMS_SMS_BACKEND = "lms.sms.LocmemBackend"
    sms.outbox.clear()
    cache.clear()
    yield
    sms.outbox.clear()
    cache.clear()


@pytest.fixture
def person(regions, make_person):
    return make_person(regions["xihu"], username="zhangsan", password=PASSWORD, phone=PHONE)


def ask(client, identifier):
    return client.post("/password-reset/", {"identifier": identifier})


def last_code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)


def verify(client, code, password=NEW, password2=None):
    return client.post("/password-reset/code/", {"code": code, "new_password": password,
                                                 "new_password2": password if password2 is None else password2})


def test_the_whole_flow_by_login_name(person, client):
    resp = ask(client, "zhangsan")
    assert resp.status_code == 302 and resp["Location"] == "/password-reset/code/"
    assert len(sms.outbox) == 1 and sms.outbox[0].to == PHONE
    assert "验证码" in sms.outbox[0].body
    resp = verify(client, last_code())
    assert resp.status_code == 302 and resp["Location"] == "/login/"
    person.refresh_from_db()
    assert person.check_password(NEW)
    assert client.post("/login/", {"username": "zhangsan", "password": NEW}).status_code == 302
    actions = set(AuditLog.objects.filter(action__startswith="auth.").values_list("action", flat=True))
    assert {"auth.reset_code_sent", "auth.password_reset", "auth.login"} <= actions
    assert AuditLog.objects.get(action="auth.password_reset").actor == person


def test_by_mobile_number_and_by_email(person, regions, make_person, client):
    ask(client, "138-0013-8000")
    assert len(sms.outbox) == 1
    wangwu = make_person(regions["xihu"], username="wangwu", password=PASSWORD)  # no phone: e-mail
    wangwu.email = "wangwu@example.org"
    wangwu.save(update_fields=["email"])
    ask(Client(), "WangWu@Example.org")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["wangwu@example.org"]
    assert re.search(r"\b\d{6}\b", mail.outbox[0].body)


def _page(resp) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", resp.content.decode())


def test_the_answer_is_the_same_whether_or_not_the_account_exists(person):
    known, unknown = Client(), Client()
    a, b = ask(known, "zhangsan"), ask(unknown, "nobody-here")
    assert (a.status_code, a["Location"]) == (b.status_code, b["Location"])
    assert _page(known.get(a["Location"])) == _page(unknown.get(b["Location"]))
    # Wrong codes read the same too.
    assert _page(verify(known, "000000")) == _page(verify(unknown, "000000"))
    assert len(sms.outbox) == 1


def test_the_code_is_stored_hashed_never_in_clear(person, client):
    ask(client, "zhangsan")
    code = last_code()
    row = OneTimeCode.objects.values().get()
    assert code not in " ".join(str(v) for v in row.values())
    assert row["code_digest"] != code and len(row["code_digest"]) == 64
    assert code not in " ".join(str(r.after) for r in AuditLog.objects.all())


def test_the_code_works_once(person, client):
    ask(client, "zhangsan")
    code = last_code()
    assert verify(client, code).status_code == 302
    # The ticket is gone; even with a fresh one the used code is dead.
    assert client.get("/password-reset/code/")["Location"] == "/password-reset/"
    session = client.session
    session["lms_password_reset"] = {"code": OneTimeCode.objects.get().pk}
    session.save()
    resp = verify(client, code, password="Another-Pass-88")
    assert resp.status_code == 200 and "验证码不正确或已失效" in resp.content.decode()
    person.refresh_from_db()
    assert person.check_password(NEW)


def test_the_code_expires(person, client):
    ask(client, "zhangsan")
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert verify(client, last_code()).status_code == 200
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_five_wrong_tries_burn_the_code(person, client):
    ask(client, "zhangsan")
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert verify(client, wrong).status_code == 200
    assert verify(client, code).status_code == 200  # the right code no longer works
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert AuditLog.objects.filter(action="auth.reset_code_wrong").count() == 4
    assert AuditLog.objects.filter(action="auth.reset_code_burnt").count() == 1


def test_a_new_code_ends_the_earlier_one(person, client):
    ask(client, "zhangsan")
    first = last_code()
    ask(client, "zhangsan")
    second = last_code()
    earlier, later = OneTimeCode.objects.order_by("id")
    assert earlier.expires_at <= timezone.now() < later.expires_at
    session = client.session
    session["lms_password_reset"] = {"code": earlier.pk}
    session.save()
    assert verify(client, first).status_code == 200  # refused
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    session["lms_password_reset"] = {"code": later.pk}
    session.save()
    assert verify(client, second).status_code == 302


def test_sending_is_limited_per_person_with_the_same_answer(person):
    for _ in range(3):
        assert ask(Client(), "zhangsan")["Location"] == "/password-reset/code/"
    resp = ask(Client(), "zhangsan")
    assert resp.status_code == 302 and resp["Location"] == "/password-reset/code/"
    assert len(sms.outbox) == 3
    assert AuditLog.objects.filter(action="auth.reset_request", after__reason="person_limit").exists()


def test_requests_are_limited_per_address(person):
    client = Client(REMOTE_ADDR="10.1.1.1")
    for i in range(10):
        assert ask(client, f"someone-{i}").status_code == 302
    resp = ask(client, "zhangsan")
    assert resp.status_code == 429 and "请求过多" in resp.content.decode()
    assert not sms.outbox
    assert ask(Client(REMOTE_ADDR="10.1.1.2"), "zhangsan").status_code == 302  # another address
    assert len(sms.outbox) == 1


def test_password_validators_apply_and_keep_the_code(person, client):
    ask(client, "zhangsan")
    code = last_code()
    resp = verify(client, code, password="12345678")
    assert resp.status_code == 200
    assert verify(client, code, password=NEW, password2="different-1").status_code == 200
    assert verify(client, code).status_code == 302
    person.refresh_from_db()
    assert person.check_password(NEW)


def test_the_persons_other_sessions_end(person, client):
    elsewhere = Client()
    elsewhere.post("/login/", {"username": "zhangsan", "password": PASSWORD})
    assert elsewhere.get("/dashboard/").status_code == 200
    ask(client, "zhangsan")
    verify(client, last_code())
    assert elsewhere.get("/dashboard/").status_code == 302


def test_a_reset_lifts_the_sign_in_lock(person, client):
    for i in range(5):
        client.post("/login/", {"username": "zhangsan", "password": f"wrong-{i}"})
    assert client.post("/login/", {"username": "zhangsan", "password": PASSWORD}).status_code == 429
    ask(client, "zhangsan")
    verify(client, last_code())
    assert client.post("/login/", {"username": "zhangsan", "password": NEW}).status_code == 302


def test_the_code_page_needs_a_request_first(db, client):
    assert client.get("/password-reset/code/")["Location"] == "/password-reset/"
    assert client.post("/password-reset/code/", {"code": "123456"})["Location"] == "/password-reset/"


def test_pages_are_in_chinese_and_linked_from_the_login(db, client):
    assert 'href="/password-reset/"' in client.get("/login/").content.decode()
    html = client.get("/password-reset/").content.decode()
    assert "重设密码" in html and "发送验证码" in html


def test_the_default_sms_backend_writes_a_private_outbox_with_the_number_masked(tmp_path, caplog):
    path = tmp_path / "var" / "sms-outbox.log"
    backend = sms.get_connection("lms.sms.LogFileBackend", path=path)
    with caplog.at_level("INFO", logger="lms.sms"):
        assert backend.send_messages([sms.SmsMessage(to=PHONE, body="验证码 123456")]) == 1
    text = path.read_text()
    assert "138****8000" in text and "验证码 123456" in text and PHONE not in text
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert "138****8000" in caplog.text and PHONE not in caplog.text
