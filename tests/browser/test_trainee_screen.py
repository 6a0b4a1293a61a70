"""In a real browser: the trainee screen switches to the result the moment the recording stops.

Two screens of one manikin while a simulated bridge streams: the examiner's (a second display facing the
trainee) and the trainee's own phone. The examiner starts a recording, compressions stream, the examiner
stops it: both screens show 合格 or 不合格 with the score (never "reconnecting"), neither shows the
examiner's name, a logout button or the site's navigation. The examiner's screen then goes live again
when the next recording starts, and the trainee's screen when the next recording is theirs.
"""

import subprocess
import sys

import pytest

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT

pytestmark = pytest.mark.browser

STATION = "1号工位"


@pytest.fixture
def simulated_bridge(live_server_proc, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "manikin.simulate", "--count", "1", "--profile", "good",
         "--token", "demo-station-1-token", "--server", live_server_proc.ws_url,
         "--spool", str(tmp_path / "spool.sqlite3"), "--duration", "120"],
        cwd=ROOT, env=live_server_proc.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(10)


def person_id(server, username: str) -> int:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         f"from lms.models import User; print(User.objects.get(username={username!r}).pk)"],
        cwd=ROOT, env=server.env, check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


def log_in(browser, server, username, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")
    return context, page


def start_recording(console, server, manikin_id: int, trainee_id: int) -> None:
    """The examiner starts a recording from the console (the start form's POST, with its CSRF token)."""
    console.goto(f"{server.url}/rooms/1/")
    token = console.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    standard = console.locator(f'section.tile[data-manikin="{manikin_id}"] [name=standard_id]')
    data = {"csrfmiddlewaretoken": token, "trainee": str(trainee_id)}
    if standard.count():
        data["standard_id"] = standard.first.input_value()
    response = console.request.post(f"{server.url}/manikins/{manikin_id}/start/", form=data,
                                    headers={"Referer": f"{server.url}/rooms/1/"})
    assert response.ok


def stop_recording(console, server, recording_id: str) -> None:
    console.goto(f"{server.url}/recordings/{recording_id}/")
    token = console.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    response = console.request.post(f"{server.url}/recordings/{recording_id}/stop/",
                                    form={"csrfmiddlewaretoken": token},
                                    headers={"Referer": f"{server.url}/rooms/1/"})
    assert response.ok


def assert_bare(page):
    """Shown to the trainee: no examiner's name, no logout, no site navigation."""
    html = page.content()
    assert "李强" not in html  # the demo examiner
    assert "/logout/" not in html and "退出" not in page.inner_text("body")
    assert page.locator("header.topbar, nav.nav").count() == 0


def wait_for_result(page):
    page.wait_for_selector("[data-result-panel]:not([hidden]) [data-verdict]", timeout=30000)
    verdict = page.locator("[data-result-panel] [data-verdict]").inner_text()
    assert verdict in ("合格", "不合格")
    assert page.locator("[data-result-panel] [data-score]").inner_text().count(".") == 1  # one decimal
    assert page.locator("[data-live-socket]").is_hidden()
    # not "reconnecting" (a socket that dropped at the stop may take a moment to reconnect or to give up)
    page.wait_for_function("!document.body.innerText.includes('重新连接')", timeout=15000)
    return verdict


def test_trainee_screen_switches_to_the_result_when_the_recording_stops(browser, live_server_proc,
                                                                        simulated_bridge):
    server = live_server_proc
    trainee_id = person_id(server, "trainee")
    ex_ctx, console = log_in(browser, server, "examiner", {"width": 1280, "height": 800})
    tr_ctx, phone = log_in(browser, server, "trainee", {"width": 390, "height": 844})
    try:
        console.goto(f"{server.url}/rooms/1/")
        tile = console.locator("section.tile", has_text=STATION).first
        tile.wait_for(timeout=60000)
        manikin_id = int(tile.get_attribute("data-manikin"))
        screen_url = f"{server.url}/manikins/{manikin_id}/live/"

        # the examiner's screen facing the trainee: waiting for a recording, connected
        screen = ex_ctx.new_page()
        screen.goto(screen_url)
        screen.wait_for_selector("[data-socket-status][data-state=ok]")
        assert screen.locator("body").get_attribute("data-mode") == "result"
        assert_bare(screen)

        start_recording(console, server, manikin_id, trainee_id)
        screen.wait_for_selector("[data-live-socket]:not([hidden])", timeout=30000)  # live, no reload
        phone.goto(screen_url)
        phone.wait_for_selector("[data-socket-status][data-state=ok]")
        assert phone.locator("body").get_attribute("data-mode") == "live"
        for page in (screen, phone):
            count = page.locator('[data-field="count"]').element_handle()
            page.wait_for_function("el => parseInt(el.textContent) >= 10", arg=count, timeout=60000)
        assert_bare(phone)
        recording_id = phone.locator("section.tile").get_attribute("data-recording")
        assert recording_id

        stop_recording(console, server, recording_id)
        verdicts = {wait_for_result(page) for page in (screen, phone)}
        assert len(verdicts) == 1  # the same result on both
        assert phone.locator("[data-result-panel] a", has_text="查看详情").get_attribute("href") \
            == f"/recordings/{recording_id}/"
        for page in (screen, phone):
            assert_bare(page)
        # the trainee's socket was refused after the stop (4403): the phone says neither "reconnecting"
        # nor anything but the result; the examiner's screen stays connected
        assert screen.locator("[data-socket-status]").get_attribute("data-state") == "ok"

        # the next recording on this manikin, again the trainee's: both screens go live again by themselves
        start_recording(console, server, manikin_id, trainee_id)
        screen.wait_for_selector("[data-live-socket]:not([hidden])", timeout=30000)
        phone.wait_for_selector("[data-live-socket]:not([hidden])", timeout=60000)  # the phone's poll (backoff up to 20 s)
        phone.wait_for_selector("[data-socket-status][data-state=ok]", timeout=30000)
        second = phone.locator("section.tile").get_attribute("data-recording")
        assert second != recording_id
        stop_recording(console, server, second)
        for page in (screen, phone):
            wait_for_result(page)
            assert page.locator("[data-result-panel] [data-recording]").get_attribute("data-recording") == second
    finally:
        ex_ctx.close()
        tr_ctx.close()
