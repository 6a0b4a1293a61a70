import shutil

import pytest

from lms.demo import DEMO_PASSWORD
from lms.liveserver import LiveDatabase, LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def live_server_proc(tmp_path_factory):
    """One demo server for the browser journeys, on the test run's database (PostgreSQL when DATABASE_URL is set)."""
    var_dir = tmp_path_factory.mktemp("live")
    with LiveDatabase(var_dir) as db:
        db.prepare()
        server = LiveServer(var_dir, db.env()).start()
        yield server
        server.stop()


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running while it is open,
    # which the asyncio tests of other modules must not find.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # a phone
    pg = context.new_page()
    yield pg
    context.close()


def log_in(page, server, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login page (agreeing to the privacy notice if it is asked first); ends on the dashboard."""
    page.goto(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("load")
    if "/privacy/" in page.url:  # the first sign-in may ask for the privacy notice first
        for box in page.locator("form.privacy-consent input[type=checkbox]").all():
            box.check()
        page.locator("form.privacy-consent button.primary").click()
    page.wait_for_url("**/dashboard/")
