import shutil

import pytest

from lms.liveserver import LiveServer, prepare_database, server_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def live_server_proc(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("live")
    env = server_env(var_dir)
    prepare_database(var_dir, env)
    server = LiveServer(var_dir, env).start()
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
