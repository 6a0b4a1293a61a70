"""In a real browser, on a phone (390 px): an employer checks a certificate by number (sees 有效 and every
printed field, masked), mistypes a digit (the check-digit message), opens what the QR code holds (the
signature verified with the site's key) and checks a list (the table, then the Excel file).

The certificates are made in the demo server's database by the test (``manage.py shell``): two of the demo
trainee 张伟, one valid and one expired, with numbers from the real sequences."""

import io
import json

import pytest
from django.utils import translation
from playwright.sync_api import expect

from tests.browser.test_exam_journey import server_shell

pytestmark = pytest.mark.browser

PREPARE = """
import datetime, json
from django.utils import timezone
from certificates import api, signing
from certificates.issuing import division_code
from certificates.models import Certificate
from courses.models import Programme
from lms.models import Organisation, User

person = User.objects.get(username="trainee")
programme = Programme.objects.get(code="first-aider")
base = Organisation.objects.filter(kind="training_base").order_by("pk").first()
code = division_code(base.region)
today = timezone.localdate()

def make(issued):
    return Certificate.objects.create(
        number=api.next_number(code, issued.year), holder=person, programme=programme, region=base.region,
        issuer=base, title="救护员证", holder_name=person.real_name, id_card_masked=person.id_card_masked,
        programme_name=programme.name, class_hours=programme.required_class_hours, issuer_name=base.name,
        instructor_names="王老师", examiner_name="李考官", issued_on=issued, expires_on=api.expiry_for(issued, 3))

valid = make(today)
expired = make(today.replace(year=today.year - 4))
payload = signing.sign_payload(signing.payload_for(valid))
print(json.dumps({"valid": valid.number, "expired": expired.number, "payload": payload,
                  "kid": signing.parse_payload(payload)[0].kid, "name": person.real_name,
                  "base": base.name}))
"""


def zh(message: str) -> str:
    """What the page shows for an interface string (Chinese, once the catalogue has it)."""
    with translation.override("zh-hans"):
        return translation.gettext(message)


def mistyped(number: str) -> str:
    d = int(number[8])
    return number[:8] + str((d + 3) % 10) + number[9:]


def test_an_employer_checks_a_number_a_scan_and_a_list_on_a_phone(browser, live_server_proc, tmp_path):
    server = live_server_proc
    data = json.loads(server_shell(server, PREPARE))
    number = data["valid"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

    # By number, typed in groups as printed.
    page.goto(server.url + "/verify/")
    page.fill("#verify-number", f"{number[:6]} {number[6:10]} {number[10:18]} {number[18:]}")
    page.locator("form.verify-form button[type=submit]").click()
    badge = page.locator(".status-badge.status-valid")
    expect(badge).to_contain_text(zh("Valid"))
    result = page.locator(".verify-result").inner_text()
    masked = data["name"][0] + "*" * (len(data["name"]) - 1)
    for text in (number, masked, "救护员证", data["base"], "王老师", "李考官"):
        assert text in result, text
    assert data["name"] not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "verify-valid.png"), full_page=True)

    # A digit mistyped: the check digit says so.
    page.fill("#verify-number", mistyped(number))
    page.locator("form.verify-form button[type=submit]").click()
    expect(page.locator(".problem-check")).to_contain_text(zh(
        "This number cannot be right: a digit is mistyped or two neighbouring digits are swapped. Please compare "
        "it with the certificate."))
    page.screenshot(path=str(tmp_path / "verify-mistyped.png"), full_page=True)

    # What the QR code opens.
    page.goto(server.url + "/v/" + data["payload"])
    expect(page.locator(".signature-ok")).to_contain_text(data["kid"])
    expect(page.locator(".status-badge.status-valid")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "verify-scan.png"), full_page=True)

    # A list: pasted, the table, then the Excel file.
    page.goto(server.url + "/verify/bulk/")
    page.fill("#bulk-numbers", "\n".join([number, data["expired"], mistyped(number), number]))
    page.locator("button[name=format][value=html]").click()
    rows = page.locator(".bulk-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_class("row-valid")
    expect(rows.nth(1)).to_have_class("row-expired")
    expect(rows.nth(2)).to_have_class("row-malformed")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "verify-bulk.png"), full_page=True)
    with page.expect_download() as info:
        page.locator("#bulk-download").click()
    path = tmp_path / "verification.xlsx"
    info.value.save_as(path)
    from openpyxl import load_workbook

    sheet = list(load_workbook(io.BytesIO(path.read_bytes())).active.iter_rows(values_only=True))
    assert [r[1] for r in sheet[1:4]] == [number, data["expired"], mistyped(number)]
    assert [r[2] for r in sheet[1:3]] == [zh("Valid"), zh("Expired")]
    assert not errors, errors
    context.close()
