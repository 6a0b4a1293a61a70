import shutil

import pytest

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
