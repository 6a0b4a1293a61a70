"""In a real browser: no page, of the site or of the Wagtail admin, makes the browser contact a host
other than the site's own, and none breaks the Content-Security-Policy (the room console's
WebSocket still connects under it)."""

import json
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT

pytestmark = pytest.mark.browser

DEMO_IDS = r"""
import json, django
django.setup()
from lms.models import User
from content.models import HomePage
admin = User.objects.get(username="admin")
admin.email = "admin@example.org"  # so that a Gravatar avatar would be asked for, were it enabled
admin.save(update_fields=["email"])
print(json.dumps({"home": HomePage.objects.first().pk, "trainee": User.objects.get(username="trainee").pk}))
"""


@pytest.fixture(scope="module")
def demo_ids(live_server_proc):
    out = subprocess.run([sys.executable, "-c", DEMO_IDS], cwd=ROOT, env=live_server_proc.env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Watch:
    """Every request, WebSocket and CSP complaint of one browser context."""

    def __init__(self, context, site: str):
        self.site = urlsplit(site).netloc
        self.foreign: list[str] = []
        self.sockets: list[str] = []
        self.violations: list[str] = []
        self.documents: list = []
        context.on("request", self._request)
        context.on("page", self._page)

    def _request(self, request):
        if request.url.startswith(("data:", "blob:")):
            return
        if urlsplit(request.url).netloc != self.site:
            self.foreign.append(request.url)

    def _page(self, page):
        page.on("websocket", lambda ws: self.sockets.append(ws.url))
        page.on("console", lambda m: self.violations.append(f"{page.url}: {m.text}")
                if "Content Security Policy" in m.text else None)
        page.on("response", lambda r: self.documents.append(r) if r.request.resource_type == "document" else None)

    def assert_clean(self):
        assert self.foreign == [], self.foreign
        assert all(urlsplit(url).netloc == self.site for url in self.sockets), self.sockets
        assert self.violations == [], self.violations
        assert self.documents and all("content-security-policy" in r.headers for r in self.documents)


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _log_in(page, base: str, login: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", login)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")


def test_site_and_wagtail_admin_stay_on_the_site_and_within_the_policy(browser, live_server_proc, demo_ids):
    base = live_server_proc.url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    watch = Watch(context, base)
    page = context.new_page()

    for path in ("/", "/login/", "/admin/login/", "/no-such-page/"):
        _visit(page, base + path)

    _log_in(page, base, "admin")
    for path in ("/dashboard/", "/people/", f"/people/{demo_ids['trainee']}/", "/regions/", "/organisations/",
                 "/rooms/", "/rooms/1/setup/",
                 # the Wagtail admin: the dashboard (where the update check ran), listings, the editor
                 "/admin/", "/admin/pages/", f"/admin/pages/{demo_ids['home']}/edit/", "/admin/images/",
                 "/admin/images/multiple/add/", "/admin/documents/", "/admin/users/", "/admin/reports/site-history/"):
        _visit(page, base + path)
    _visit(page, base + "/admin/")
    assert page.locator('[data-controller~="w-upgrade"]').count() == 0

    # the editor's live preview frames the page (frame-ancestors 'self' for it, 'none' elsewhere)
    _visit(page, base + f"/admin/pages/{demo_ids['home']}/edit/")
    page.locator('[data-side-panel-toggle="preview"]').first.click()
    page.wait_for_function("() => { const f = document.querySelector('iframe[data-w-preview-target=\"iframe\"]');"
                           " return f && f.contentDocument && f.contentDocument.querySelector('.hero'); }",
                           timeout=20000)

    # the room console: its live WebSocket connects under connect-src 'self'
    _visit(page, base + "/rooms/1/")
    page.wait_for_selector("[data-socket-status][data-state=ok]", timeout=20000)
    assert any(urlsplit(url).path.startswith("/ws/") for url in watch.sockets), watch.sockets
    context.close()
    watch.assert_clean()


def test_trainee_pages_and_error_pages_stay_within_the_policy(browser, live_server_proc):
    base = live_server_proc.url
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    watch = Watch(context, base)
    page = context.new_page()
    _log_in(page, base, "trainee")
    for path in ("/dashboard/", "/my/recordings/", "/people/", "/rooms/999/"):
        _visit(page, base + path)
    _visit(page, base + "/people/")
    assert "此页面仅供地区管理员和系统管理员使用。" in page.inner_text("main")
    page.get_by_role("link", name="返回我的工作台").click()
    page.wait_for_url("**/dashboard/")
    context.close()
    watch.assert_clean()
