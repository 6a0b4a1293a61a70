"""In a real browser on a tablet (820 × 1180), against the demo server with a simulated bridge: the
examiner's morning. Check 吴敏 in (photo taken there, identity confirmed), record her CPR on the room
console with a virtual manikin, fill the checklist while the tablet's link is down (kept in the
browser, sent when it is back), sign the result, and find it frozen with its hash verified."""

import io
import re
import subprocess
import sys

import pytest
from PIL import Image

from lms.demo import DEMO_PASSWORD
from lms.liveserver import ROOT
from manikin.tests_support import manage_shell

pytestmark = pytest.mark.browser
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def station_4_bridge(live_server_proc, tmp_path):
    """The bridge laptop of 4号工位 (考场二, the demo's exam room), streaming two virtual manikins."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "manikin.simulate", "--count", "2", "--profile", "good",
         "--token", "demo-station-4-token", "--server", live_server_proc.ws_url,
         "--spool", str(tmp_path / "spool.sqlite3"), "--duration", "90"],
        cwd=ROOT, env=live_server_proc.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(10)


def test_the_examiners_flow_on_a_tablet(browser, live_server_proc, station_4_bridge, tmp_path):
    server = live_server_proc
    face = tmp_path / "face.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (300, 400), (190, 160, 140)).save(buf, "JPEG")
    face.write_bytes(buf.getvalue())

    context = browser.new_context(viewport=TABLET, locale="zh-CN", has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/login/")
    page.fill("#id_username", "examiner")
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")

    # The session of the day, and 吴敏 in slot 2.
    page.goto(server.url + "/exams/practical/")
    page.get_by_role("link", name="考场二").first.click()
    page.wait_for_url("**/practical/sessions/*/")
    assert "1 × 8" in page.inner_text("main")
    page.get_by_role("link", name="吴敏").click()
    page.wait_for_url("**/practical/bookings/*/")
    booking_url = page.url

    # Check-in: the masked ID number is shown; she has no photo yet, so the examiner takes one.
    checkin = page.locator("form.pe-checkin")
    assert re.search(r"330\*{11}\d{3}[\dX]", checkin.inner_text())
    page.set_input_files("#photo", str(face))
    page.get_by_label("我已核对本人与照片、身份证号，人证一致。").check()
    page.get_by_role("button", name="签到").click()
    page.wait_for_load_state("load")
    assert "已签到" in page.locator(".pe-head").inner_text()
    assert "4号工位" in page.locator(".pe-head").inner_text()

    # The CPR item, from the room console: choose her on the first manikin of 4号工位, start, stop.
    page.get_by_role("link", name="打开考场控制台").click()
    page.wait_for_selector("[data-socket-status][data-state=ok]")
    tile = page.locator("section.tile", has_text="4号工位").first
    box = tile.locator("[role=combobox]")
    box.click()
    box.press_sequentially("吴敏", delay=30)
    tile.locator("[role=option]", has_text="吴敏").first.wait_for()
    box.press("ArrowDown")
    box.press("Enter")
    tile.locator("form[data-start] button").click()
    page.wait_for_load_state("load")
    tile = page.locator("section.tile", has_text="4号工位").first
    count = tile.locator('[data-field="count"]')
    page.wait_for_function("el => parseInt(el.textContent) >= 15", arg=count.element_handle(), timeout=30000)
    tile.locator("form[data-stop] button").click()
    page.wait_for_url("**#manikin-*")

    # Back to her page: the CPR score is there; the checklist is filled while the link is down.
    page.goto(booking_url)
    assert "模拟人心肺复苏" in page.inner_text("main")
    page.locator("#pe-cpr .pe-big").wait_for()
    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")  # the emulation has reached the page: no tick slips out
    for key in ("scene_safety", "responsiveness", "call_for_help", "breathing_check", "aed_clear"):
        page.locator(f'input[data-item="{key}"]').check()
    banner = page.locator("#pe-link")
    banner.wait_for(state="visible", timeout=10000)
    assert "连接已断开" in banner.inner_text()
    assert "尚未发送的勾选：5 条" in page.locator("#pe-queue").inner_text()
    queued = page.evaluate("() => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
                           ".find(k => k.startsWith('pe-queue-')))).length")
    assert queued == 5
    context.set_offline(False)
    page.wait_for_function("() => document.querySelector('#pe-queue').textContent.includes('所有勾选已保存到服务器')",
                           timeout=20000)
    assert page.locator("#pe-link").is_hidden()
    booking_id = booking_url.rstrip("/").rsplit("/", 1)[-1]
    stored = manage_shell(server.env, "from exams.models import ChecklistEntry; "
                                      f"print(ChecklistEntry.objects.filter(booking_id={booking_id}).count())")
    assert stored.strip().splitlines()[-1] == "5"  # each tick once, none lost, none twice

    # Sign: an explicit confirmation; the result is frozen, its hash verified on the page.
    page.reload()
    page.get_by_label("我签署本成绩。成绩及其证据随即固化；之后的任何更改都是附有原因的新版本。").check()
    page.get_by_role("button", name="签署成绩").click()
    page.wait_for_load_state("load")
    result = page.locator("section", has_text="已签署的成绩")
    assert "v1" in result.inner_text() and "已核验" in result.inner_text() and "SHA-256" in result.inner_text()
    assert "未完成的关键项" in result.inner_text()  # 5 cycles take two minutes: her short run is incomplete
    page.screenshot(path=str(tmp_path / "practical-signed.png"), full_page=True)
    out = manage_shell(server.env, "from django.core.management import call_command; "
                                   "call_command('verify_practical_results')")
    assert "verified" in out
    assert not errors
    context.close()
