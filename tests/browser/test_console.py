"""In a real browser: the room console updates live while a simulated bridge streams."""

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
    page.wait_for_url("**/recordings/*/")
    body = page.inner_text("main")
    assert "心肺复苏成绩" in body and "按压次数" in body
    assert "按压后胸廓未充分回弹" in body  # the leaning profile is told what to correct
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / "result.png"), full_page=True)
    context.close()
