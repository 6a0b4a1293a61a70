"""In a real browser, on a phone (390 px): a trainee enrols with the class code, studies a lesson with
its video and practice question, and sees the time and the lesson's completion grow honestly.

The lesson asks for half its estimated minutes; to keep the journey short the test sets the lesson's
estimate to one minute on the server (30 s of real study, counted from real heartbeats)."""

import json
import subprocess
import sys

import pytest

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT

pytestmark = pytest.mark.browser

LESSON_SLUG = "high-quality-cpr"  # 救护员 course, module 心肺复苏与AED (segment 1): the CPR video and questions


def server_shell(server, code: str) -> str:
    return subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=server.env,
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]


@pytest.fixture
def short_lesson(live_server_proc):
    out = server_shell(live_server_proc, (
        "import json; from content.models import LessonPage; from content.course.load import DEMO_CLASS_CODE; "
        f"l = LessonPage.objects.get(slug={LESSON_SLUG!r}); old = l.estimated_minutes; "
        "LessonPage.objects.filter(pk=l.pk).update(estimated_minutes=1); "
        "print(json.dumps({'id': l.pk, 'url': l.url, 'minutes': old, 'code': DEMO_CLASS_CODE}))"))
    info = json.loads(out)
    yield info
    server_shell(live_server_proc, "from content.models import LessonPage; "
                                   f"LessonPage.objects.filter(pk={info['id']}).update(estimated_minutes={info['minutes']})")


def test_enrol_study_a_lesson_with_its_video_and_question_and_see_the_time_grow(browser, live_server_proc, short_lesson):
    server = live_server_proc
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors, beats = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # The lesson page's heartbeats go over the study socket (/ws/study/): keep what it answers.
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: beats.append(frame)) if ws.url.endswith("/ws/study/") else None)
    page.goto(server.url + "/login/")
    page.fill("#id_username", "trainee_nb")
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")

    # The dashboard's "My training" card leads to enrolment; the code is typed in lower case with a space.
    page.get_by_role("link", name="用班级码报名").first.click()
    page.wait_for_url("**/study/enrol/")
    code = short_lesson["code"].lower()
    page.fill("input[name=code]", code[:4] + " " + code[4:])
    page.get_by_role("button", name="报名", exact=True).click()
    page.wait_for_url("**/study/")
    home = page.locator("main").inner_text()
    assert "西湖区" in home and "理论考试：尚未解锁" in home
    assert page.locator("a.next-lesson").count() == 1
    assert page.locator(".module.locked").count() >= 1  # 分段型: later segments locked

    # The lesson: the progress box is filled by study.js from the server.
    page.goto(server.url + short_lesson["url"])
    progress = page.locator(".lesson-progress")
    progress.locator("dl").wait_for()
    assert "0:00 / 0:30" in progress.inner_text() or "0:0" in progress.inner_text()

    # Seek ahead first: the skipped part does not count.
    video = page.locator("video[data-video-key]").first
    video.scroll_into_view_if_needed()
    page.evaluate("v => { v.muted = true; v.currentTime = 25; return v.play(); }", video.element_handle())
    page.wait_for_function("v => v.ended", arg=video.element_handle(), timeout=20000)
    page.wait_for_timeout(500)
    state = page.evaluate(f"fetch('/study/lessons/{short_lesson['id']}/state/').then(r => r.json())")
    (played,) = state["videos"].values()
    assert 5 <= played["played_s"] <= 8 and played["watched"] is False
    # Then the whole video at 2x (the fastest the player offers and the server credits): watched.
    page.evaluate("v => { v.currentTime = 0; v.playbackRate = 2; return v.play(); }", video.element_handle())
    page.wait_for_function("v => v.ended", arg=video.element_handle(), timeout=30000)
    page.wait_for_timeout(500)
    state = page.evaluate(f"fetch('/study/lessons/{short_lesson['id']}/state/').then(r => r.json())")
    (played,) = state["videos"].values()
    assert played["watched"] is True

    # Every practice question: choose the first choice, check it; the feedback and explanation appear.
    forms = page.locator("form.practice-question")
    assert forms.count() >= 1
    for i in range(forms.count()):
        form = forms.nth(i)
        form.scroll_into_view_if_needed()
        form.locator("input[name=choice]").first.check()
        form.get_by_role("button").click()
        feedback = form.locator(".practice-feedback")
        feedback.locator(".explanation").wait_for()
        text = feedback.inner_text()
        assert ("回答正确" in text or "回答不正确" in text) and "正确答案" in text

    # Heartbeats every 15 s: after 30 s of study the lesson is complete, and the time shown grew.
    page.wait_for_function(
        "() => document.querySelector('.lesson-status.complete') !== null", timeout=75000, polling=1000)
    assert "0:00 /" not in progress.inner_text()
    credited = [json.loads(f) for f in beats if '"type":"beat"' in f]
    assert sum(b["credited_s"] for b in credited) >= 15 and any(b["complete"] for b in credited)

    page.goto(server.url + "/study/")
    body = page.locator("main").inner_text()
    assert "已完成 1 /" in body
    assert "学习时长" in body
    assert not errors
    context.close()


def test_a_lesson_is_usable_with_the_keyboard_alone(browser, live_server_proc):
    """Tab reaches a "skip to the content" link first; a practice question is chosen, sent and answered
    without a mouse, and the answer is announced (aria-live)."""
    server = live_server_proc
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login/")
    page.fill("#id_username", "trainee")
    page.fill("#id_password", DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/")
    page.goto(server.url + "/courses/first-aider-theory/airway-obstruction/heimlich/")
    page.locator(".lesson-progress dl").wait_for()

    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.innerText]")
    assert focused == ["skip-link", "跳到正文"]
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown while focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    # Forward from the start of the content to the first question's first choice.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.name") == "choice":
            break
    assert page.evaluate("() => document.activeElement.closest('form.practice-question') !== null")
    page.keyboard.press("Space")
    assert page.evaluate("() => document.activeElement.checked") is True
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    form = page.locator("form.practice-question").first
    feedback = form.locator(".practice-feedback")
    feedback.locator(".explanation").wait_for()
    assert feedback.get_attribute("aria-live") == "polite" and "正确答案" in feedback.inner_text()
    context.close()
