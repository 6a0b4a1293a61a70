"""Fault: the server (every process) SIGKILLed and started again during a theory exam, in a real browser
(Playwright, Debian's Chromium). The trainee answers ten questions (stored), the server dies, she answers
ten more (the exam page keeps them and sends them again with back-off: exams/static/exams/exam.js), the
server comes back: all twenty answers are stored, and the same attempt goes on. Then the server dies again and
the tab is closed with three answers unsent: the page opened afterwards sends them from the browser's storage."""

from __future__ import annotations

import time

import pytest

from lms.liveserver import LiveServer
from manikin.tests_support import manage_shell
from tests.browser.conftest import CHROMIUM, log_in

from .support import report

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# The demo trainee 张伟 has the theory of the demo class done (as exams.demo_attempts does for its trainees).
PREPARE = """
from content.course.load import DEMO_CLASS_CODE
from courses.models import Programme, TrainingClass
from exams.demo_attempts import complete_theory
from lms.models import User
complete_theory(User.objects.get(username="trainee"), Programme.objects.get(code="first-aider"),
                TrainingClass.objects.get(code=DEMO_CLASS_CODE))
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                                              "--disable-background-networking", "--disable-sync"])
        yield b
        b.close()


def answer(page, position: int) -> int:
    """Choose the first option of question ``position``; the option's value (its displayed position)."""
    option = page.locator(f'fieldset.question[data-position="{position}"] input').first
    option.check()
    return int(option.get_attribute("value"))


def test_server_killed_during_a_theory_exam_keeps_every_answer(demo_db, browser):
    env = demo_db.env()
    manage_shell(env, PREPARE)
    server = LiveServer(demo_db.var_dir, env).start()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        log_in(page, server, "trainee")
        page.goto(server.url + "/exams/")
        page.locator('form[action$="/start/"] button[type=submit]').first.click()
        page.wait_for_url("**/exams/attempts/*/")
        attempt_url = page.url
        positions = [int(p) for p in page.locator("fieldset.question").evaluate_all(
            "els => els.map(e => e.getAttribute('data-position'))")]
        assert len(positions) >= 24
        chosen: dict[int, list[int]] = {}
        for position in positions[:10]:
            chosen[position] = [answer(page, position)]
        page.wait_for_selector("#save-state.saved", timeout=30000)

        server.stop(kill=True)  # SIGKILL of nginx, WSGI, ASGI and Redis: the page's socket drops
        killed_at = time.monotonic()
        for position in positions[10:20]:
            chosen[position] = [answer(page, position)]
        page.wait_for_selector("#save-state.failed", timeout=30000)  # kept in the page, being retried
        assert page.locator("#answered").inner_text() == "20"

        server.start()
        up_at = time.monotonic()
        page.wait_for_selector("#save-state.saved", timeout=60000)
        saved_at = time.monotonic()
        report("server SIGKILLed and restarted during a theory exam", saved_at - killed_at,
               f"server back after {up_at - killed_at:.2f} s; the page's ten unsent answers stored "
               f"{saved_at - up_at:.2f} s later (exam.js retries after 1, 2, 4 s, then every 5 s)")

        state = page.request.get(attempt_url + "state/").json()
        assert state["status"] == "open"
        assert {int(k): v for k, v in state["answers"].items()} == chosen  # every answer, as given
        # The same attempt goes on: another answer is stored, and a reload shows all of them.
        chosen[positions[20]] = [answer(page, positions[20])]
        page.wait_for_selector("#save-state.saved", timeout=30000)
        page.reload()
        assert page.url == attempt_url
        checked = page.locator("fieldset.question input:checked").evaluate_all(
            "els => els.map(e => [parseInt(e.name.slice(1)), parseInt(e.value)])")
        assert {p: [v] for p, v in checked} == chosen
        state = page.request.get(attempt_url + "state/").json()
        assert state["status"] == "open" and state["answered"] == 21
        assert not errors

        # Again, and this time the tab is closed while the server is away (a reload into an error page, a
        # laptop's battery): the unsent answers wait in the browser's storage, and the exam page opened
        # after the server is back puts them back on the page and sends them.
        server.stop(kill=True)
        killed_at = time.monotonic()
        for position in positions[21:24]:
            chosen[position] = [answer(page, position)]
        page.wait_for_selector("#save-state.failed", timeout=30000)
        page.close()
        server.start()
        up_at = time.monotonic()
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(attempt_url)
        page.wait_for_selector("#save-state.saved", timeout=60000)
        saved_at = time.monotonic()
        report("server SIGKILLed during a theory exam, the tab closed meanwhile", saved_at - killed_at,
               f"server back after {up_at - killed_at:.2f} s; the three answers kept in the browser's storage "
               f"stored {saved_at - up_at:.2f} s after")
        state = page.request.get(attempt_url + "state/").json()
        assert state["status"] == "open" and state["answered"] == 24
        assert {int(k): v for k, v in state["answers"].items()} == chosen
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('lms-exam-unsaved:')).length") == 0
        assert not errors
    finally:
        context.close()
        server.stop()
