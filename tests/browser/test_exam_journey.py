"""In a real browser, on a phone (390 px): a trainee whose theory is done goes from 我的学习 to the
exam, answers (each answer saved at once, "已保存"), loses the connection (the answer waits and is
sent when it is back), reloads (the same attempt, every answer), submits with confirmation and
sees the result."""

import json
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT

pytestmark = pytest.mark.browser

USERNAME = "exam_journey"
PREPARE = f"""
import json
from content.course.load import DEMO_CLASS_CODE
from courses.models import Programme, TrainingClass
from exams.demo_attempts import _person, complete_theory
user = _person({USERNAME!r}, "钱考生", "13700008889")
complete_theory(user, Programme.objects.get(code="first-aider"), TrainingClass.objects.get(code=DEMO_CLASS_CODE))
print(json.dumps({{"user": user.pk}}))
"""


def server_shell(server, code: str) -> str:
    return subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env,
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]


def test_take_lose_and_resume_and_submit_the_exam_on_a_phone(browser, live_server_proc):
    server = live_server_proc
    json.loads(server_shell(server, PREPARE))
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors, saved = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Answers go over the exam socket (/ws/exams/attempts/<id>/) while it is open: keep what it answers.
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: saved.append(frame))
            if "/ws/exams/attempts/" in ws.url else None)
    page.goto(server.url + "/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")

    page.goto(server.url + "/study/")
    page.get_by_role("link", name="参加理论考试").first.click()
    page.wait_for_url("**/exams/")
    assert "救护员取证理论考试" in page.locator("main").inner_text()
    page.get_by_role("button", name="开始考试").click()
    page.wait_for_url("**/exams/attempts/*/")
    questions = page.locator("fieldset.question")
    assert questions.count() == 50
    timer = page.locator("#time-left")
    assert ":" in timer.inner_text() and timer.inner_text().startswith(("44:", "45:"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone

    save_state = page.locator("#save-state")
    page.wait_for_timeout(500)  # the socket opens
    questions.nth(0).locator("label.option").first.click()
    expect(save_state).to_contain_text("已保存")
    assert any('"type":"saved"' in f and '"position":1' in f for f in saved)  # saved over the socket

    # The connection drops: the answer waits, and is sent when it is back.
    context.set_offline(True)
    questions.nth(1).locator("label.option").nth(1).click()
    expect(save_state).not_to_contain_text("已保存")
    context.set_offline(False)
    expect(save_state).to_contain_text("已保存", timeout=30000)

    # A reload: the same attempt, both answers checked.
    url = page.url
    page.reload()
    assert page.url == url
    assert page.locator("fieldset.question").nth(0).locator("input").first.is_checked()
    assert page.locator("fieldset.question").nth(1).locator("input").nth(1).is_checked()

    # Answer the rest, each saved.
    for i in range(2, 50):
        page.locator("fieldset.question").nth(i).locator("label.option").first.click()
    expect(save_state).to_contain_text("已保存", timeout=30000)
    assert page.locator("#answered").inner_text() == "50"

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="交卷").click()
    page.wait_for_url("**/result/")
    result = page.locator("main").inner_text()
    assert "%" in result and ("通过" in result or "合格" in result)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not errors
    context.close()
