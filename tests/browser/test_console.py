"""In a real browser: the room console updates live while a simulated bridge streams."""

import json
import re
import subprocess
import sys

import pytest

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT

pytestmark = pytest.mark.browser


@pytest.fixture
def simulated_bridge(live_server_proc, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "manikin.simulate", "--count", "2", "--profile", "leaning",
         "--token", "demo-station-2-token", "--server", live_server_proc.ws_url,
         "--spool", str(tmp_path / "spool.sqlite3"), "--duration", "60"],
        cwd=ROOT, env=live_server_proc.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(10)


def test_console_shows_live_cpr_and_records_a_score(browser, live_server_proc, simulated_bridge, tmp_path_factory):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server_proc.url + "/login/")
    page.fill("#id_username", "examiner")
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    agree_to_privacy_notice(page)
    page.wait_for_url("**/dashboard/")
    page.get_by_role("link", name="考场一").click()
    page.wait_for_selector("[data-socket-status][data-state=ok]")
    tile = page.locator("section.tile", has_text="2号工位").first
    # the waveform keeps redrawing while samples stream (its rate is measured by `manage.py bench console`)
    page.wait_for_function("el => parseInt(el.dataset.draws || '0') > 20", arg=tile.element_handle(), timeout=20000)
    draws_before = int(tile.get_attribute("data-draws"))
    page.wait_for_function("([el, n]) => parseInt(el.dataset.draws) > n", arg=[tile.element_handle(), draws_before],
                           timeout=10000)
    assert tile.locator('[data-field="state"]').inner_text() == "数据传输中"
    tile.locator("form[data-start] button").click()
    page.wait_for_url("**/rooms/1/")
    tile = page.locator("section.tile", has_text="2号工位").first
    page.wait_for_function("el => /^\\d+$/.test(el.textContent)", arg=tile.locator('[data-field="count"]').element_handle(),
                           timeout=20000)
    page.wait_for_function("el => parseInt(el.textContent) >= 10", arg=tile.locator('[data-field="count"]').element_handle(),
                           timeout=20000)
    assert tile.locator('[data-field="recoil"]').inner_text() in ("充分", "不足")
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / "console.png"), full_page=True)
    tile.locator("form[data-stop] button").click()
    # back on the console: the tile shows the result, its page one click away, and the console one click back
    page.wait_for_url("**/rooms/1/#manikin-*")
    tile = page.locator("section.tile", has_text="2号工位").first
    box = tile.locator("[data-result-box]")
    box.wait_for(state="visible")
    verdict = box.locator('[data-field="verdict"]').inner_text()
    assert verdict in ("合格", "不合格")
    shown = box.locator('[data-field="result-score"]').inner_text()
    assert re.fullmatch(r"\d+\.\d", shown)
    tile.locator("form[data-start]").wait_for(state="visible")
    box.locator("a[data-result]").click()
    page.wait_for_url("**/recordings/*/")
    body = page.inner_text("main")
    assert "心肺复苏成绩" in body and "按压次数" in body
    assert verdict in body and shown in body  # the same result as on the tile
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / "result.png"), full_page=True)
    page.locator("[data-back-to-console]").click()
    page.wait_for_url("**/rooms/1/")
    context.close()


def log_in(browser, server, username, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    agree_to_privacy_notice(page)
    page.wait_for_url("**/dashboard/")
    return context, page


def agree_to_privacy_notice(page):
    """At the first sign-in a person may be asked to agree to the privacy notice first."""
    page.wait_for_load_state("load")
    if "/privacy/" in page.url:
        for box in page.locator("form.privacy-consent input[type=checkbox]").all():
            box.check()
        page.locator("form.privacy-consent button.primary").click()


def test_trainee_picker_is_searched_and_chosen_with_the_keyboard(browser, live_server_proc):
    context, page = log_in(browser, live_server_proc, "examiner", {"width": 768, "height": 1024})
    try:
        page.goto(live_server_proc.url + "/rooms/1/")
        tile = page.locator("section.tile", has_text="3号工位").first
        box = tile.locator("[role=combobox]")
        box.click()
        box.press_sequentially("张伟", delay=30)
        option = tile.locator("[role=option]", has_text="张伟")
        option.first.wait_for()
        assert tile.locator("[role=option]").count() == 1  # only the trainee of that name, among 160 more
        assert box.get_attribute("aria-expanded") == "true"
        box.press("ArrowDown")
        assert tile.locator("[role=option][aria-selected=true]").count() == 1
        assert box.get_attribute("aria-activedescendant") == option.first.get_attribute("id")
        box.press("Enter")
        assert box.get_attribute("aria-expanded") == "false"
        assert box.input_value().startswith("张伟（330")
        assert tile.locator("input[name=trainee]").input_value()
        tile.locator("form[data-start] button").click()
        page.wait_for_url("**/rooms/1/")
        tile = page.locator("section.tile", has_text="3号工位").first
        assert tile.locator('[data-field="trainee"]').inner_text() == "张伟"
        assert re.fullmatch(r"\d\d:\d\d", tile.locator('[data-field="elapsed"]').inner_text())
        tile.locator("form[data-stop] button").click()
        page.wait_for_url("**/rooms/1/#manikin-*")
    finally:
        context.close()


def test_the_console_fits_phone_and_tablet_widths_and_the_tile_shows_numbers_as_everywhere(
        browser, live_server_proc, tmp_path_factory):
    """No horizontal scrolling at 390, 768, 1024 and 1280 px; charts follow their tile's width; and what the
    live stream says is shown in the number formats: a failing 79.95 reads 79.9, never 80."""
    context, page = log_in(browser, live_server_proc, "examiner", {"width": 1280, "height": 900})
    sockets = []

    def route(ws):  # the real server behind it, and a handle to speak to the page as the server would
        ws.connect_to_server()
        sockets.append(ws)

    try:
        page.route_web_socket(re.compile(r"/ws/rooms/"), route)
        page.goto(live_server_proc.url + "/rooms/1/")
        page.wait_for_selector("[data-socket-status][data-state=ok]")
        shots = tmp_path_factory.getbasetemp()
        for width, height in ((390, 844), (768, 1024), (1024, 768), (1280, 900)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_function(
                "w => [...document.querySelectorAll('.chart')].every(c => { const u = c.querySelector('.uplot');"
                " return u && Math.abs(u.getBoundingClientRect().width - c.clientWidth) < 2; })", arg=width)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"overflows at {width} px"
            page.screenshot(path=str(shots / f"console-{width}.png"), full_page=True)

        tile = page.locator("section.tile").first
        manikin = int(tile.get_attribute("data-manikin"))
        sockets[0].send(json.dumps({"type": "live.frames", "items": [{"manikin": manikin, "compressions": [
            {"depth_mm": 49.96, "rate_cpm": 119.6, "recoil_ok": True}], "summary": {
            "count": 1234, "score": 79.95, "ccf": 0.8765, "cycles_done": 3, "cycles_expected": 5}}]}))
        score = tile.locator('[data-field="score"]')
        page.wait_for_function("el => el.textContent !== '—'", arg=score.element_handle())
        assert score.inner_text() == "79.9" and score.get_attribute("data-state") == "low"
        assert tile.locator('[data-field="depth"]').inner_text() == "50.0"
        assert tile.locator('[data-field="depth"]').get_attribute("data-state") == "ok"  # judged as shown
        assert tile.locator('[data-field="rate"]').inner_text() == "120"
        assert tile.locator('[data-field="ccf"]').inner_text() == "87%"
        assert tile.locator('[data-field="cycles"]').inner_text() == "3/5"
        assert tile.locator('[data-field="count"]').inner_text() == "1,234"
        # the stop as the server announces it: the result on the tile, rounded down, with its link
        sockets[0].send(json.dumps({"type": "recording.changed", "manikin": manikin, "recording": {
            "id": 424242, "active": False, "trainee": "张伟", "score": 79.95, "passed": False, "outcome": "scored",
            "feedback": [], "started_at": None}}))
        box = tile.locator("[data-result-box]")
        box.wait_for(state="visible")
        assert box.locator('[data-field="result-score"]').inner_text() == "79.9"
        assert box.locator('[data-field="verdict"]').inner_text() == "不合格"
        assert box.locator("a[data-result]").get_attribute("href") == "/recordings/424242/"
    finally:
        context.close()
