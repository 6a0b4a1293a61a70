"""In a real browser, on a phone (390 × 844): the demo inspector 赵敏 opens her planned, unannounced inspection,
starts it on site, answers the 四统一 checklist group by group, takes attendance against the roster, counts the
manikins, attaches a photo (a JPEG carrying a GPS position), loses the network (the changes and a note are kept
on the phone, and a reload still shows the checklist), gets it back (everything is sent), submits and records a
finding. The server's state is checked at the end: answers, attendance, notes, the photo stored without its
metadata, the finding."""

import io
import json

import pytest
from PIL import Image
from playwright.sync_api import expect

from lms.demo import DEMO_PASSWORD
from tests.browser.test_exam_journey import server_shell

pytestmark = pytest.mark.browser

PREPARE = """
import json
from inspections import demo
from inspections.models import Inspection
demo.load()
i = Inspection.objects.filter(inspector__username="inspector", status="planned").order_by("pk").first()
print(json.dumps({"id": i.pk, "class": i.training_class.name, "items": len(i.checklist.items),
                  "roster": i.training_class.enrolments.exclude(status="withdrawn").count()}))
"""

CHECK = """
import io, json
from PIL import Image
from inspections.models import Inspection
i = Inspection.objects.get(pk=%d)
photos = list(i.photos.all())
img = Image.open(io.BytesIO(photos[0].file.read())) if photos else None
print(json.dumps({"status": i.status, "answers": i.answers, "present": i.present, "manikins": i.manikins_in_use,
                  "notes": i.notes, "photos": len(photos), "exif": bool(img and img.getexif()),
                  "gps_bytes": bool(photos and b"GPS" in photos[0].file.open("rb").read()),
                  "findings": [[f.severity, f.description, str(f.deadline)] for f in i.findings.all()],
                  "rejected": i.rejected_uploads.count(), "changes": i.changes.count()}))
"""


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (120.0, 9.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_an_inspector_files_the_checklist_on_a_phone_through_a_network_drop(browser, live_server_proc, tmp_path):
    server = live_server_proc
    data = json.loads(server_shell(server, PREPARE))
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server.url + "/login/")
    page.fill("#id_username", "inspector")
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/dashboard/")

    # Her inspections, the planned one, started on site.
    page.goto(server.url + "/inspections/")
    page.locator(f"a[href='/inspections/{data['id']}/']").click()
    page.wait_for_url(f"**/inspections/{data['id']}/")
    assert data["class"] in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "inspection-planned.png"), full_page=True)
    page.locator("#start-inspection").click()
    page.wait_for_url(f"**/inspections/{data['id']}/checklist/")
    status = page.locator("#sync-status")

    # Every group: every item meets the standard but one.
    tabs = page.locator("button.group-tab")
    for n in range(tabs.count()):
        tabs.nth(n).click()
        section = page.locator("section.group:not([hidden])")
        for button in section.locator("button.answer-ok").all():
            button.click()
    # Attendance against the roster, the manikins in use.
    page.locator("button.group-tab[data-group=attendance]").click()
    roster = page.locator("input.present")
    assert roster.count() == data["roster"] > 0
    roster.first.check()
    page.locator("button.group-tab[data-group=manikins]").click()
    page.locator("section.group[data-group=manikins] button.answer-not-ok").first.click()
    page.fill("#manikins-in-use", "2")
    # A photo (with a GPS position in its EXIF), kept in IndexedDB and sent.
    page.locator("button.group-tab[data-group=photos]").click()
    page.set_input_files("#photo-input", files=[{"name": "site.jpg", "mimeType": "image/jpeg",
                                                  "buffer": _jpeg_with_gps()}])
    expect(page.locator("#photo-list li.sent")).to_have_count(1, timeout=15000)
    expect(status).to_have_attribute("data-state", "sent", timeout=15000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "inspection-checklist-sent.png"), full_page=True)

    # The network drops: changes and a note stay on the phone.
    context.set_offline(True)
    page.locator("button.group-tab[data-group=safety]").click()
    page.locator("section.group[data-group=safety] button.answer-not-ok").first.click()
    page.locator("button.group-tab[data-group=photos]").click()
    page.fill("#notes", "断网时记录：安全出口被杂物堵塞")
    expect(status).to_have_attribute("data-state", "offline")
    assert int(status.get_attribute("data-pending")) >= 2
    kept = page.evaluate(f"JSON.parse(localStorage.getItem('inspection-checklist:{data['id']}'))")
    assert kept["state"]["notes"] == "断网时记录：安全出口被杂物堵塞" and len(kept["queue"]) >= 2
    expect(page.locator("#submit-checklist")).to_be_disabled()
    page.screenshot(path=str(tmp_path / "inspection-offline.png"), full_page=True)
    # A reload without network still shows the checklist (service worker) with what the phone kept.
    page.reload()
    expect(page.locator("#notes")).to_be_attached()
    page.locator("button.group-tab[data-group=photos]").click()
    expect(page.locator("#notes")).to_have_value("断网时记录：安全出口被杂物堵塞")
    expect(status).to_have_attribute("data-state", "offline")

    # Back online: everything is sent.
    context.set_offline(False)
    expect(status).to_have_attribute("data-state", "sent", timeout=20000)
    page.screenshot(path=str(tmp_path / "inspection-back-online.png"), full_page=True)

    # Submit, then a finding with its deadline.
    submit = page.locator("#submit-checklist")
    expect(submit).to_be_enabled()
    submit.click()
    page.wait_for_url(f"**/inspections/{data['id']}/")
    page.select_option("#id_severity", "major")
    assert page.input_value("#id_deadline")  # 30 days ahead by default
    page.fill("#id_description", "安全出口被杂物堵塞，须立即清理")
    page.locator("#add-finding").click()
    page.wait_for_url(f"**/inspections/{data['id']}/*")
    expect(page.locator("#findings")).to_contain_text("安全出口被杂物堵塞，须立即清理")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "inspection-finding.png"), full_page=True)

    state = json.loads(server_shell(server, CHECK % data["id"]))
    assert state["status"] == "submitted"
    answers = state["answers"]
    assert len(answers) == data["items"] and all(a["ok"] in (True, False) for a in answers.values())
    assert sum(1 for a in answers.values() if a["ok"] is False) == 2  # a manikin item and a safety item
    assert len(state["present"]) == 1 and state["manikins"] == 2
    assert state["notes"] == "断网时记录：安全出口被杂物堵塞"
    assert state["photos"] == 1 and not state["exif"] and not state["gps_bytes"]
    assert state["findings"][0][:2] == ["major", "安全出口被杂物堵塞，须立即清理"]
    assert state["rejected"] == 0
    assert not errors, errors
    context.close()
