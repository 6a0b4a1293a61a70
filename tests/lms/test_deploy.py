"""Deployment hardening: production settings pass `check --deploy`, HTTPS wiring, file modes,
no-store on personal pages, the Content-Security-Policy, no foreign hosts in the Wagtail admin,
and the branded error pages."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.http import Http404
from django.test import Client

from lms import errors
from lms.security import ADMIN_CSP_REPLACE

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-Secret-123"


def _env(var_dir: Path, **extra: str) -> dict:
    """The environment of a fresh process on its own SQLite file, none of the caller's overrides."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "LMS_", "FIELD_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"))}
    env.update({"DJANGO_SETTINGS_MODULE": "lms.settings", "LMS_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _production_env(var_dir: Path) -> dict:
    return _env(
        var_dir,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="lms.example.org",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://lms.example.org",
        DJANGO_HTTPS="1",
        DJANGO_TRUST_X_FORWARDED_PROTO="1",
    )


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


# --- production settings ---------------------------------------------------------------------------

@pytest.mark.embedded_defaults
def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    out = _manage(_production_env(tmp_path / "var"), "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout, out.stdout + out.stderr
    assert "WARNING" not in out.stdout + out.stderr
    # the switch is what does it: without DJANGO_HTTPS the same environment fails the check
    env = _production_env(tmp_path / "var")
    del env["DJANGO_HTTPS"]
    out = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in out.stderr, check


PROBE = r"""
import json, django
django.setup()
from django.conf import settings
from django.test import Client
c = Client(HTTP_HOST="lms.example.org")
plain_login = c.get("/login/")
plain_health = c.get("/healthz")
secure_login = c.get("/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "redirect": [plain_login.status_code, plain_login.headers.get("Location")],
    "healthz": plain_health.status_code,
    "secure_status": secure_login.status_code,
    "hsts": secure_login.headers.get("Strict-Transport-Security"),
    "csrf_cookie_secure": bool(secure_login.cookies["csrftoken"]["secure"]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
}))
"""


@pytest.mark.embedded_defaults
def test_https_switch_redirects_sets_hsts_and_secure_cookies_but_spares_healthz(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=_production_env(tmp_path / "var"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["redirect"] == [301, "https://lms.example.org/login/"]
    assert got["healthz"] == 200  # load balancers probe over plain HTTP
    assert got["secure_status"] == 200  # the proxy said https: no redirect loop
    assert got["hsts"] == "max-age=31536000; includeSubDomains"
    assert got["csrf_cookie_secure"] and got["session_cookie_secure"]
    # the embedded default (`make demo` on http://127.0.0.1:8000) still serves plain HTTP
    env = _production_env(tmp_path / "var")
    del env["DJANGO_HTTPS"]
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["redirect"] == [200, None] and got["hsts"] is None
    assert not got["csrf_cookie_secure"] and not got["session_cookie_secure"]


# --- file modes --------------------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


OPEN_AND_WRITE = r"""
import django, os
django.setup()
from django.db import connection
with connection.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS probe (x int)")
    c.execute("INSERT INTO probe VALUES (1)")
    name = str(connection.settings_dict["NAME"])
    print({s: oct(os.stat(name + s).st_mode & 0o777) for s in ("", "-wal", "-shm") if os.path.exists(name + s)})
"""


@pytest.mark.embedded_defaults
def test_fresh_var_dir_database_and_secrets_are_private(tmp_path):
    var = tmp_path / "fresh" / "var"
    env = _env(var)
    out = _manage(env, "migrate", "--noinput", "-v", "0")
    assert out.returncode == 0, out.stderr
    assert _mode(var) == 0o700
    assert _mode(var / "db.sqlite3") == 0o600
    assert _mode(var / "secrets.json") == 0o600
    # while a connection is open, SQLite's -wal and -shm files exist: same mode as the database
    out = subprocess.run([sys.executable, "-c", OPEN_AND_WRITE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    modes = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 (our own printout)
    assert set(modes) == {"", "-wal", "-shm"} and set(modes.values()) == {"0o600"}, modes


@pytest.mark.embedded_defaults
def test_existing_loose_var_dir_and_database_are_tightened(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    db_file = var / "db.sqlite3"
    db_file.touch()
    db_file.chmod(0o644)
    out = subprocess.run([sys.executable, "-c", OPEN_AND_WRITE], cwd=ROOT, env=_env(var), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert _mode(var) == 0o700
    assert _mode(db_file) == 0o600


def test_uploaded_photos_are_private(settings, tmp_path, regions, make_person):
    settings.MEDIA_ROOT = tmp_path / "media"
    person = make_person(regions["xihu"])
    person.photo.save("p.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=True)
    path = Path(person.photo.path)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


# --- Cache-Control: no-store -----------------------------------------------------------------------

@pytest.fixture
def hz_admin(regions, make_person):
    return make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz_admin")


def _login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_pages_with_personal_data_are_not_stored(settings, tmp_path, client, regions, make_person, hz_admin):
    settings.MEDIA_ROOT = tmp_path / "media"
    trainee = make_person(regions["xihu"], real_name="王小明", phone="13900001111")
    trainee.photo.save("p.png", ContentFile(b"\x89PNG\r\n\x1a\n"), save=True)
    _login(client, hz_admin)
    for path in ("/dashboard/", "/people/", f"/people/{trainee.pk}/", f"/people/{trainee.pk}/photo/",
                 "/regions/", "/organisations/", "/rooms/", "/my/recordings/", "/people/999999/"):
        resp = client.get(path)
        assert resp.status_code in (200, 403, 404), (path, resp.status_code)
        cache_control = resp.headers.get("Cache-Control", "")
        assert "no-store" in cache_control and "max-age=300" not in cache_control, (path, cache_control)
    # static files stay cacheable (WhiteNoise answers before the middleware)
    resp = client.get("/static/lms/site.css")
    assert resp.status_code == 200 and "no-store" not in resp.headers.get("Cache-Control", "")




# --- Content-Security-Policy -----------------------------------------------------------------------

def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_site_pages_carry_a_strict_policy(client, regions, hz_admin):
    for path in ("/login/", "/healthz"):
        csp = _directives(client.get(path).headers["Content-Security-Policy"])
        assert csp["default-src"] == ["'self'"]
        assert csp["script-src"] == ["'self'"]
        assert csp["style-src"] == ["'self'"]
        assert csp["connect-src"] == ["'self'"]
        assert csp["object-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert csp["form-action"] == ["'self'"]
    _login(client, hz_admin)
    assert "unsafe-inline" not in _directives(client.get("/dashboard/").headers["Content-Security-Policy"])["script-src"]


def test_a_view_that_lets_its_own_site_frame_it_gets_frame_ancestors_self(rf):
    """Wagtail's preview (X-Frame-Options: SAMEORIGIN) is framed by the editor; other pages by nobody."""
    from django.http import HttpResponse

    from lms.security import ContentSecurityPolicyMiddleware

    def framed(request):
        response = HttpResponse("preview")
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response

    csp = _directives(ContentSecurityPolicyMiddleware(framed)(rf.get("/"))["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'self'"] and csp["script-src"] == ["'self'"]
    csp = _directives(ContentSecurityPolicyMiddleware(lambda r: HttpResponse("x"))(rf.get("/"))
                      ["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'none'"]


@pytest.fixture
def system_admin(regions, make_person):
    user = make_person(regions["zj"], roles=(), username="sysadmin")
    user.email = "sysadmin@example.org"
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def test_wagtail_admin_gets_its_allowances_and_nothing_foreign(client, system_admin):
    # The sign-in page of the admin keeps the strict policy.
    login_csp = _directives(client.get("/admin/login/").headers["Content-Security-Policy"])
    assert login_csp["script-src"] == ["'self'"]
    _login(client, system_admin)
    resp = client.get("/admin/")
    assert resp.status_code == 200
    csp = _directives(resp.headers["Content-Security-Policy"])
    assert csp["script-src"] == ADMIN_CSP_REPLACE["script-src"]
    assert csp["default-src"] == csp["connect-src"] == csp["form-action"] == ["'self'"]
    assert not any("." in source and "://" in source for sources in csp.values() for source in sources)
    html = resp.content.decode()
    assert "w-upgrade" not in html  # no update check against releases.wagtail.org
    assert "gravatar" not in html  # no avatar from gravatar.com (this admin has an e-mail address)
    assert "w-whats-new" not in html


# --- error pages -------------------------------------------------------------------------------------

def test_forbidden_page_shows_the_reason_in_chinese_and_a_way_back(client, regions, make_person, hz_admin):
    trainee = make_person(regions["xihu"])
    _login(client, trainee)
    resp = client.get("/people/")
    assert resp.status_code == 403
    html = resp.content.decode()
    assert "此页面仅供地区管理员和系统管理员使用。" in html
    assert 'href="/dashboard/"' in html and "返回我的工作台" in html
    assert "红十字应急救护培训" in html  # the site's frame
    client.logout()
    _login(client, hz_admin)  # 杭州市's admin on the province's dashboard
    resp = client.get(f"/dashboards/{regions['zj'].pk}/")
    assert resp.status_code == 403 and "该地区不在您的管辖范围内。" in resp.content.decode()


def test_unknown_address_gives_the_branded_404(client, db):
    resp = client.get("/no/such/page/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "页面不存在" in html and 'href="/dashboard/"' in html
    assert "Resolver404" not in html and "tried" not in html


def test_404_in_english_for_those_who_chose_english(client, db):
    client.cookies["django_language"] = "en"
    html = client.get("/no/such/page/").content.decode()
    assert "Page not found" in html and "Back to my dashboard" in html


def test_a_person_outside_ones_region_is_not_found_without_details(client, regions, make_person, hz_admin):
    other = make_person(regions["beilun"])
    _login(client, hz_admin)
    resp = client.get(f"/people/{other.pk}/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "页面不存在" in html and "DoesNotExist" not in html and "Http404" not in html


def test_reasons_are_shown_only_from_product_code():
    def raise_in(module: str, exc: Exception) -> Exception:
        try:
            exec("def f(e):\n    raise e\nf(exc)", {"__name__": module, "exc": exc})  # noqa: S102
        except Exception as caught:  # noqa: BLE001
            return caught
        raise AssertionError

    assert errors.reason_for(raise_in("lms.views", PermissionDenied("只给管理员"))) == "只给管理员"
    assert errors.reason_for(raise_in("manikin.views", Http404("找不到考场"))) == "找不到考场"
    # Django's and Wagtail's messages are for developers (model names, file paths)
    assert errors.reason_for(raise_in("django.shortcuts", Http404("No User matches the given query."))) == ""
    assert errors.reason_for(raise_in("wagtail.utils.sendfile", Http404('"/srv/x" does not exist'))) == ""
    assert errors.reason_for(raise_in("lms.views", Http404())) == ""
    assert errors.reason_for(None) == ""


@pytest.mark.urls("tests.lms.urls_errors")
def test_server_error_page_is_branded_and_says_nothing_technical(db):
    client = Client(raise_request_exception=False)
    resp = client.get("/boom/")
    assert resp.status_code == 500
    html = resp.content.decode()
    assert "出错了" in html and 'href="/dashboard/"' in html
    assert "secret detail" not in html and "Traceback" not in html and "RuntimeError" not in html


@pytest.mark.urls("tests.lms.urls_errors")
def test_get_object_or_404_does_not_leak_the_model_name(client, db):
    resp = client.get("/missing/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "页面不存在" in html and "matches the given query" not in html


def test_expired_form_gets_a_plain_chinese_explanation(db):
    client = Client(enforce_csrf_checks=True)
    resp = client.post("/login/", {"username": "x", "password": "y"})
    assert resp.status_code == 403
    html = resp.content.decode()
    assert "表单已过期" in html and 'href="/dashboard/"' in html
    assert "CSRF" not in html
