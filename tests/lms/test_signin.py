"""Sign-in throttling and lockout (django-axes) on /login/ and Wagtail's /admin/login/; sessions; password change."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client

from lms import signin
from lms.models import AuditLog, Role

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def person(regions, make_person):
    return make_person(regions["xihu"], username="zhangsan", password=PASSWORD)


@pytest.fixture
def sysadmin(regions, make_person):
    user = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="root", password=PASSWORD)
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def login(client, username, password, path="/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_then_the_right_one_is_refused(person, client):
    for i in range(40):
        resp = login(client, "zhangsan", f"wrong-{i}")
        assert resp.status_code == (200 if i < 4 else 429), i
    resp = login(client, "zhangsan", PASSWORD)
    assert resp.status_code == 429
    assert not signed_in(client)
    assert client.get("/dashboard/").status_code == 302
    html = resp.content.decode()
    assert "登录已暂停" in html and "15 分钟" in html  # the branded Chinese page, not axes' bare text
    assert 'class="topbar"' in html and "/password-reset/" in html


def test_the_wagtail_admin_login_is_throttled_too(sysadmin, client):
    for i in range(5):
        login(client, "root", f"wrong-{i}", path="/admin/login/")
    resp = login(client, "root", PASSWORD, path="/admin/login/")
    assert resp.status_code == 429
    assert "登录已暂停" in resp.content.decode()
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_the_site_and_the_admin_share_one_count(sysadmin, client):
    for i in range(3):
        login(client, "root", f"wrong-{i}")
    for i in range(2):
        login(client, "root", f"wrong-admin-{i}", path="/admin/login/")
    assert login(client, "root", PASSWORD).status_code == 429
    assert not signed_in(client)


def test_the_lock_is_per_login_name_and_address(person, regions, make_person, client):
    make_person(regions["xihu"], username="lisi", password=PASSWORD)
    for i in range(5):
        login(client, "zhangsan", f"wrong-{i}")
    assert login(client, "zhangsan", PASSWORD).status_code == 429
    # Another person at the same address (a classroom behind one NAT) is not locked out.
    other = Client()
    assert login(other, "lisi", PASSWORD).status_code == 302
    # The same person from another address is not locked out either.
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    assert login(elsewhere, "zhangsan", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(person, client):
    for i in range(5):
        login(client, "zhangsan", f"wrong-{i}")
    assert login(client, "zhangsan", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert login(client, "zhangsan", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_successful_sign_in_resets_the_count(person, client):
    for i in range(4):
        login(client, "zhangsan", f"wrong-{i}")
    assert login(client, "zhangsan", PASSWORD).status_code == 302
    client.post("/logout/")
    for i in range(4):
        assert login(client, "zhangsan", f"again-{i}").status_code == 200
    assert login(client, "zhangsan", PASSWORD).status_code == 302


def test_lockouts_are_audited(person, client):
    for i in range(6):
        login(client, "zhangsan", f"wrong-{i}")
    login(client, "zhangsan", PASSWORD)
    locks = list(AuditLog.objects.filter(action="auth.locked_out").order_by("id"))
    assert locks[0].object_repr == "zhangsan" and locks[0].after == {"failures": 5}
    assert all(r.after == {"refused": True} for r in locks[1:]) and len(locks) == 3
    assert AuditLog.objects.filter(action="auth.login_failed").count() == 7
    assert not AuditLog.objects.filter(action="auth.login").exists()


# ------------------------------------------------------------------ sessions


def test_the_session_cookie_ends_with_the_browser_and_lasts_eight_hours_on_the_server(person, client, settings):
    resp = login(client, "zhangsan", PASSWORD)
    cookie = resp.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert client.session.get_expiry_age() == 8 * 3600


def _age_session(client, **seconds_ago):
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_an_idle_session_is_signed_out(person, client, settings):
    login(client, "zhangsan", PASSWORD)
    _age_session(client, **{signin.SEEN_AT: settings.LMS_SESSION_IDLE_S - 30})
    assert client.get("/dashboard/").status_code == 200  # still inside the idle limit
    _age_session(client, **{signin.SEEN_AT: settings.LMS_SESSION_IDLE_S + 1})
    resp = client.get("/dashboard/", follow=True)
    assert resp.redirect_chain[-1][0].startswith("/login/")
    assert "未操作" in resp.content.decode()
    assert not signed_in(client)
    assert AuditLog.objects.get(action="auth.session_timeout").after == {"reason": "idle"}


def test_a_session_ends_at_its_maximum_age_even_when_active(person, client, settings):
    login(client, "zhangsan", PASSWORD)
    _age_session(client, **{signin.SIGNED_IN_AT: settings.SESSION_COOKIE_AGE + 1, signin.SEEN_AT: 5})
    assert client.get("/dashboard/").status_code == 302
    assert AuditLog.objects.get(action="auth.session_timeout").after == {"reason": "max_age"}


# ------------------------------------------------------------------ password change


def test_the_dashboard_links_to_the_password_page(person, client):
    client.force_login(person)
    assert 'href="/account/password/"' in client.get("/dashboard/").content.decode()
    html = client.get("/account/password/").content.decode()
    assert "修改密码" in html and 'name="old_password"' in html


def change(client, old, new, new2=None):
    return client.post("/account/password/", {"old_password": old, "new_password": new,
                                               "new_password2": new if new2 is None else new2})


def test_password_change_keeps_this_session_and_ends_the_others(person, client):
    login(client, "zhangsan", PASSWORD)
    other = Client()
    login(other, "zhangsan", PASSWORD)
    resp = change(client, PASSWORD, "New-Secret-456")
    assert resp.status_code == 302 and resp["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert other.get("/dashboard/").status_code == 302
    person.refresh_from_db()
    assert person.check_password("New-Secret-456")
    assert AuditLog.objects.filter(action="auth.password_change", actor=person).count() == 1


def test_password_change_checks_the_current_password_and_the_validators(person, client):
    client.force_login(person)
    html = change(client, "not-it", "New-Secret-456").content.decode()
    assert "当前密码不正确" in html
    assert "两次输入的新密码不一致" in change(client, PASSWORD, "New-Secret-456", "New-Secret-457").content.decode()
    assert change(client, PASSWORD, "12345678").status_code == 200  # a common password: refused
    assert change(client, PASSWORD, "short").status_code == 200
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert AuditLog.objects.filter(action="auth.password_change_failed").count() == 1


def test_wrong_current_passwords_are_limited(person, client):
    client.force_login(person)
    for i in range(5):
        change(client, f"guess-{i}", "New-Secret-456")
    resp = change(client, PASSWORD, "New-Secret-456")
    assert resp.status_code == 429
    assert "密码错误次数过多" in resp.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
