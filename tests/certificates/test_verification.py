"""Public verification (certificates/verification.py, views_verify.py, the offline command): every status by
number, page and API; a revocation visible at once; each kind of mistyped number with its message; masked
personal data only; the QR payload (valid, altered body or signature, unknown key, rotated keys, a re-issued
card, signed fields that differ from the record); the offline command; bulk verification (paste, uploads,
the XLSX answer); the rate limits.

The certificates are made cheaply (no exams): one issued through ``certificates.api.issue`` on an allowlist
exception, the others as rows with numbers from the real sequences; one setup for the whole module."""

from __future__ import annotations

import datetime
import io
import json
from dataclasses import dataclass, replace

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from certificates import api, signing, verification
from certificates.models import Certificate, CertificateRule
from certificates.numbering import damm_digit
from courses.models import Programme, TrainingClass
from lms import api as lms_api
from lms.models import Organisation, Region, Role
from tests.conftest import FAST_HASHERS

# The lesson-page cache (content.pagecache) keys a GET by its path: a scan's /v/<payload> is longer than memcached
# keys may be, which the test run's local-memory cache warns about (Redis, in production, takes it).
pytestmark = pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning")

ID_CARD = "11010519491231002X"  # a valid check digit (GB 11643)
EN = {"django_language": "en"}


@dataclass
class World:
    admin: object
    programme: object
    valid: Certificate  # issued through certificates.api.issue
    expired: Certificate
    old: Certificate  # expired, renewed by ``renewal``
    renewal: Certificate
    other: Certificate  # for revocation and name correction
    holder_name: str


def _build() -> World:
    lms_api.import_regions(None, [
        lms_api.RegionRow(province="浙江省", code="330000"),
        lms_api.RegionRow(province="浙江省", city="杭州市", code="330100"),
        lms_api.RegionRow(province="浙江省", city="杭州市", county="西湖区", code="330106"),
    ])
    xihu = Region.objects.get(name="西湖区")
    base = Organisation.objects.create(name="西湖区红十字培训基地", kind=Organisation.Kind.TRAINING_BASE, region=xihu)
    admin = lms_api.create_person(None, username="verify_admin", real_name="管理员", region=xihu,
                                  roles=(Role.SYSTEM_ADMIN,))
    holder = lms_api.create_person(None, username="verify_holder", real_name="张三丰", region=xihu, id_card=ID_CARD)
    instructor = lms_api.create_person(None, username="verify_teacher", real_name="王老师", region=xihu,
                                       roles=(Role.INSTRUCTOR,))
    programme = Programme.objects.create(code="jhy-verify", name="救护员取证", kind=Programme.Kind.FIRST_AIDER,
                                         required_class_hours=16)
    CertificateRule.objects.create(programme=programme, title="救护员证", validity_years=3)
    today = timezone.localdate()
    klass = TrainingClass.objects.create(programme=programme, name="验证班", training_base=base,
                                         starts_on=today - datetime.timedelta(days=30), ends_on=today)
    klass.instructors.add(instructor)
    api.grant_exception(admin, holder, programme, waives=["theory", "practical"], reason="纸质考试记录，已复核")
    valid = api.issue(admin, holder, programme, training_class=klass)

    def row(name: str, issued: datetime.date, **extra) -> Certificate:
        person = lms_api.create_person(None, real_name=name, region=xihu)
        fields = dict(holder=person, programme=programme, region=xihu, issuer=base, title="救护员证", holder_name=name,
                      id_card_masked="330***********1234", programme_name=programme.name, class_hours=16,
                      issuer_name=base.name, instructor_names="王老师", examiner_name="李考官", issued_on=issued,
                      expires_on=api.expiry_for(issued, 3))
        fields.update(extra)
        return Certificate.objects.create(number=api.next_number("330106", issued.year), **fields)

    long_ago = today.replace(year=today.year - 4)
    expired = row("李四", long_ago)
    old = row("王五", long_ago)
    renewal = row("王五", today, renews=old)
    other = row("赵六六", today)
    return World(admin=admin, programme=programme, valid=valid, expired=expired, old=old, renewal=renewal,
                 other=other, holder_name="张三丰")


@pytest.fixture(scope="module")
def world_once(django_db_setup, django_db_blocker):
    """The module's certificates, made once inside a transaction rolled back after the module (each test runs
    in a savepoint of it, see tests/conftest.py ``demo_once``)."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(world_once, db):
    cache.clear()  # rate-limit counters and kept bulk answers, before and after: other modules share the cache
    verification.clear_caches()
    for cert in (world_once.valid, world_once.expired, world_once.old, world_once.renewal, world_once.other):
        cert.refresh_from_db()
    yield world_once
    cache.clear()
    verification.clear_caches()


def en_client(client):
    client.cookies.load(EN)
    return client


def wrong_check(number: str) -> str:
    """``number`` with one digit changed (the check digit then fails)."""
    d = int(number[7])
    return number[:7] + str((d + 1) % 10) + number[8:]


def swapped(number: str) -> str:
    for i in range(len(number) - 2):
        if number[i] != number[i + 1]:
            return number[:i] + number[i + 1] + number[i] + number[i + 2:]
    raise AssertionError(number)


def unissued(number: str) -> str:
    """A well-formed number of the same region and year that is not on record."""
    body = number[:10] + "00000000"
    for serial in range(10 ** 8):
        body = number[:10] + f"{serial:08d}"
        candidate = body + damm_digit(body)
        if not Certificate.objects.filter(number=candidate).exists():
            return candidate
    raise AssertionError


# ------------------------------------------------------------------ by number

def test_every_status_by_number_on_the_page_and_the_api_and_a_revocation_shows_at_once(world, client,
                                                                                        django_assert_num_queries):
    valid = world.valid
    verification.formats_in_use()  # the formats are read once a minute per process
    with django_assert_num_queries(1):  # the hot path: one query for a found number
        result = verification.verify_number(valid.number)
    assert result.found and result.valid and result.status == "valid" and result.problem is None
    f = result.fields
    assert f["holder_name"] == "张**" and f["id_card_masked"] == "110***********002X"
    assert (f["title"], f["programme"], f["class_hours"], f["issuer"], f["instructors"], f["revision"]) == (
        "救护员证", "救护员取证", 16.0, "西湖区红十字培训基地", "王老师", 1)
    assert f["issued_on"] == valid.issued_on and f["expires_on"] == valid.expires_on
    # Typed with spaces, dashes and full-width digits: the same number.
    spaced = " ".join([valid.number[:6], valid.number[6:10], valid.number[10:14] + "-" + valid.number[14:]])
    assert verification.verify_number(spaced).number == valid.number
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in valid.number)
    assert verification.verify_number(full_width).valid

    # The page: every printed field, the badge, never the full name or ID-card number.
    en_client(client)
    page = client.get(reverse("certificates:verify"), {"number": spaced})
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store" and "noindex" in page["X-Robots-Tag"]
    assert 'class="status-badge status-valid"' in html and "Valid" in html
    for text in (valid.number, "张**", "110***********002X", "救护员证", "救护员取证", "16", valid.issued_on.isoformat(),
                 valid.expires_on.isoformat(), "西湖区红十字培训基地", "王老师"):
        assert text in html, text
    assert "张三丰" not in html and ID_CARD not in html
    assert client.get(reverse("certificates:verify")).status_code == 200  # the empty form

    # Expired, and renewed: both directions of the renewal link.
    expired = client.get(reverse("certificates:verify"), {"number": world.expired.number})
    assert expired.status_code == 200 and "status-expired" in expired.content.decode()
    assert f"expired on {world.expired.expires_on.isoformat()}" in expired.content.decode()
    old = verification.verify_number(world.old.number)
    assert old.status == "expired" and old.renewed_by == world.renewal.number
    assert verification.verify_number(world.renewal.number).renews == world.old.number
    assert world.renewal.number in client.get(reverse("certificates:verify"),
                                              {"number": world.old.number}).content.decode()

    # The JSON API: 200 with the fields.
    data = client.get(reverse("certificates:api_certificate", args=[valid.number])).json()
    assert data["status"] == "valid" and data["valid"] is True and data["holder_name"] == "张**"
    assert data["id_card_masked"] == "110***********002X" and data["expires_on"] == valid.expires_on.isoformat()
    assert data["revoked_on"] is None and "张三丰" not in json.dumps(data, ensure_ascii=False)
    api_expired = client.get(reverse("certificates:api_certificate", args=[world.old.number]))
    assert api_expired.status_code == 200 and api_expired.json()["status"] == "expired"
    assert api_expired.json()["valid"] is False and api_expired.json()["renewed_by"] == world.renewal.number
    assert api_expired["Cache-Control"] == "no-store"

    # Revoked, seen at once on the page and the API (no cache in between), with the date and reason.
    from certificates import lifecycle

    lifecycle.revoke(world.admin, world.other, reason="证书持有人培训记录造假")
    revoked = client.get(reverse("certificates:verify"), {"number": world.other.number}).content.decode()
    today = timezone.localdate().isoformat()
    assert "status-revoked" in revoked and "证书持有人培训记录造假" in revoked and f"revoked on {today}" in revoked
    data = client.get(reverse("certificates:api_certificate", args=[world.other.number])).json()
    assert (data["status"], data["valid"], data["revoked_on"], data["revoked_reason"]) == (
        "revoked", False, today, "证书持有人培训记录造假")

    # Not found: the same answer whatever the reason; 404.
    missing = unissued(valid.number)
    with translation.override("en"):
        r = verification.verify_number(missing)
        assert r.problem == "not_found" and not r.found and "No certificate with this number" in r.message
        other_region = "110000" + missing[6:-1]
        other_region += damm_digit(other_region)
        assert verification.verify_number(other_region).message == r.message
    page = client.get(reverse("certificates:verify"), {"number": missing})
    assert page.status_code == 200 and "status-notfound" in page.content.decode()
    api_missing = client.get(reverse("certificates:api_certificate", args=[missing]))
    assert api_missing.status_code == 404 and api_missing.json()["problem"] == "not_found"

    # Malformed: each kind says what is wrong; 400.
    cases = {
        valid.number[:-1]: ("length", "19 digits; 18 digits were typed"),
        valid.number + "1": ("length", "19 digits; 20 digits were typed"),
        valid.number[:5] + "O" + valid.number[6:]: ("digits", "“O”"),
        wrong_check(valid.number): ("check", "a digit is mistyped or two neighbouring digits are swapped"),
        swapped(valid.number): ("check", "a digit is mistyped or two neighbouring digits are swapped"),
        "   ": ("empty", "Type the certificate number"),
    }
    with translation.override("en"):
        for typed, (problem, text) in cases.items():
            r = verification.verify_number(typed)
            assert (r.problem, r.found) == (problem, False) and text in r.message, (typed, r)
    page = client.get(reverse("certificates:verify"), {"number": wrong_check(valid.number)})
    assert page.status_code == 200 and "neighbouring digits are swapped" in page.content.decode()
    bad = client.get(reverse("certificates:api_certificate", args=[valid.number[:-1]]))
    assert bad.status_code == 400 and bad.json()["problem"] == "length" and "18 digits" in bad.json()["message"]


def test_a_corrected_name_shows_its_history_without_the_earlier_name(world, client):
    from certificates import lifecycle

    lifecycle.correct_name(world.admin, world.other, new_name="赵陆陆", reason="姓名录入错误，按身份证更正")
    result = verification.verify_number(world.other.number)
    assert result.fields["revision"] == 2 and result.fields["holder_name"] == "赵**"
    assert [(h["revision"], h["reason"]) for h in result.history] == [(1, "姓名录入错误，按身份证更正")]
    html = en_client(client).get(reverse("certificates:verify"), {"number": world.other.number}).content.decode()
    assert "Revision 1, replaced on" in html and "赵六六" not in html and "赵陆陆" not in html


# ------------------------------------------------------------------ the QR payload

def _tamper(text: str, where: str) -> str:
    body, sig = text.split(".")
    if where == "body":  # one character of the signed text changed
        raw = bytearray(signing.b64u_decode(body))
        raw[raw.index(b"|", 10) + 3] ^= 1  # a digit of the number
        return signing.b64u(bytes(raw)) + "." + sig
    raw = bytearray(signing.b64u_decode(sig))
    raw[10] ^= 0x20
    return body + "." + signing.b64u(bytes(raw))


def test_scans_verify_the_signature_and_the_record_and_survive_a_key_rotation(world, client):
    en_client(client)
    cert = world.valid
    payload = signing.sign_payload(signing.payload_for(cert))
    old_kid = payload_kid = signing.parse_payload(payload)[0].kid

    scan = verification.verify_scan(payload)
    assert scan.signature_ok and scan.problem is None and scan.valid and scan.kid == payload_kid
    page = client.get(reverse("certificates:verify_scan", kwargs={"payload": payload}))
    html = page.content.decode()
    assert page.status_code == 200 and f"Signature verified with key {payload_kid}" in html
    assert "status-valid" in html and cert.number in html and "张**" in html and "张三丰" not in html
    assert client.get(f"/v/{payload}/").status_code == 200  # with a final slash too
    whole_url = f"https://lms.example.org/v/{payload}"
    assert verification.verify_scan(whole_url).valid  # a scanned URL pasted whole

    # One character changed in the body, or in the signature: detected.
    for where in ("body", "signature"):
        bad = verification.verify_scan(_tamper(payload, where))
        assert not bad.signature_ok and bad.problem == "tampered" and not bad.valid, where
        page = client.get(reverse("certificates:verify_scan", kwargs={"payload": _tamper(payload, where)}))
        assert page.status_code == 200 and "altered or forged" in page.content.decode()
        assert "signature-bad" in page.content.decode() and cert.number not in page.content.decode()
    assert verification.verify_scan("not-a-payload").problem == "format"
    assert "not a certificate code" in client.get("/v/abc.def").content.decode()

    # Signed by a key the site never had: unknown key.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate()
    forged_body = replace(signing.payload_for(cert), kid="ed20260101-abcdef").body().encode()
    forged = signing.b64u(forged_body) + "." + signing.b64u(stranger.sign(forged_body))
    assert verification.verify_scan(forged).problem == "unknown_key"

    # The site's own key over fields that are not the record's: treated as forged.
    key = signing.active_payload_key()
    lie = signing.sign_payload(replace(signing.payload_for(cert, key), expires_on=datetime.date(2099, 1, 1)), key)
    mismatch = verification.verify_scan(lie)
    assert mismatch.signature_ok and mismatch.problem == "mismatch" and mismatch.mismatched == ["expires_on"]
    assert not mismatch.valid and "forged" in client.get(f"/v/{lie}").content.decode()

    # A key rotation: the old payload still verifies, a new one names the new key (the cache reloads).
    new_key = signing.rotate_payload_key()
    assert verification.verify_scan(payload).valid
    fresh = signing.sign_payload(signing.payload_for(cert))
    assert signing.parse_payload(fresh)[0].kid == new_key.kid != old_kid
    assert verification.verify_scan(fresh).kid == new_key.kid and verification.verify_scan(fresh).valid

    # A card of an earlier revision (the name was corrected since): re-issued, the current fields shown.
    from certificates import lifecycle

    card = signing.sign_payload(signing.payload_for(world.other))
    lifecycle.correct_name(world.admin, world.other, new_name="赵陆陆", reason="姓名录入错误")
    outdated = verification.verify_scan(card)
    assert outdated.signature_ok and outdated.outdated and outdated.problem is None
    assert outdated.current_revision == 2 and "re-issued" in client.get(f"/v/{card}").content.decode()
    # Revoked after printing: the signature holds, the status says revoked.
    lifecycle.revoke(world.admin, Certificate.objects.get(pk=world.other.pk), reason="培训记录不实")
    assert verification.verify_scan(card).verification.status == "revoked"

    # The API.
    data = client.post(reverse("certificates:api_scan"), {"payload": fresh}, content_type="application/json").json()
    assert data["signature"] == "verified" and data["valid"] and data["certificate"]["number"] == cert.number
    tampered = client.post(reverse("certificates:api_scan"), {"payload": _tamper(fresh, "body")},
                           content_type="application/json")
    assert tampered.status_code == 200 and tampered.json()["problem"] == "tampered" and not tampered.json()["valid"]
    assert client.post(reverse("certificates:api_scan"), {"payload": "x"},
                       content_type="application/json").status_code == 400
    assert client.post(reverse("certificates:api_scan"), "[]", content_type="application/json").status_code == 400


def test_the_offline_command_verifies_with_a_jwks_file_and_exits_1_on_tampering(world, tmp_path, capsys,
                                                                                 django_assert_num_queries):
    payload = signing.sign_payload(signing.payload_for(world.valid))
    kid = signing.parse_payload(payload)[0].kid
    keys = tmp_path / "keys.json"
    keys.write_text(signing.dumps_jwks())
    with django_assert_num_queries(0):  # offline: the keys file only
        call_command("verify_certificate_payload", f"https://lms.example.org/v/{payload}", keys=str(keys))
    out = capsys.readouterr().out
    assert f"signature OK (key {kid})" in out and world.valid.number in out and "张**" in out
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_certificate_payload", _tamper(payload, "signature"), keys=str(keys))
    assert exit_info.value.code == 1 and "FAILED (signature)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_certificate_payload", _tamper(payload, "body"), keys=str(keys))
    assert exit_info.value.code == 1
    keys.write_text(json.dumps({"keys": []}))
    with pytest.raises(Exception, match="no Ed25519 key"):
        call_command("verify_certificate_payload", payload, keys=str(keys))
    # Online: the site's keys and the status.
    call_command("verify_certificate_payload", payload)
    assert "status: valid" in capsys.readouterr().out
    from certificates import lifecycle

    lifecycle.revoke(world.admin, world.valid, reason="撤销测试")
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_certificate_payload", payload)
    assert exit_info.value.code == 2 and "status: revoked" in capsys.readouterr().out


# ------------------------------------------------------------------ bulk

def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _read_xlsx(data: bytes) -> list[list]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    assert ws.freeze_panes == "A2"
    return [[c if c is not None else "" for c in row] for row in ws.iter_rows(values_only=True)]


@override_settings(LMS_VERIFY_BULK_LIMIT=100)  # the limits have their own test
def test_bulk_verification_by_paste_and_upload_with_the_xlsx_answer(world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    en_client(client)
    missing = unissued(world.valid.number)
    pasted = "\n".join([world.valid.number, "", world.expired.number + " ", world.valid.number, "  ",
                        wrong_check(world.valid.number), missing, "=HYPERLINK(\"http://evil\")",
                        " ".join([world.old.number[:6], world.old.number[6:]])])
    page = client.post(reverse("certificates:verify_bulk"), {"numbers": pasted})
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert html.count("<tr class=\"row-") == 6 and "1 repeated number was left out" in html
    assert "row-valid" in html and "row-expired" in html and "row-notfound" in html and "row-malformed" in html
    assert "张**" in html and "张三丰" not in html
    rows = page.context["rows"]
    assert [r.status or r.problem for r in rows] == ["valid", "expired", "check", "not_found", "digits", "expired"]
    assert rows[-1].number == world.old.number and rows.duplicates == 1 and rows.blank == 1

    # The answer as XLSX (kept for 15 minutes under a token), read back.
    token = page.context["token"]
    xlsx = client.post(reverse("certificates:verify_bulk_xlsx"), {"token": token})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in xlsx["Content-Disposition"]
    sheet = _read_xlsx(xlsx.content)
    assert sheet[0][:4] == ["Typed", "Certificate number", "Status", "Message"]
    assert [r[2] for r in sheet[1:7]] == ["Valid", "Expired", "Not a valid number", "Not found", "Not a valid number",
                                          "Expired"]
    assert sheet[1][1] == world.valid.number and isinstance(sheet[1][1], str)  # every digit kept, as text
    assert sheet[1][5] == "张**" and sheet[1][6] == "110***********002X" and sheet[1][10] == \
        world.valid.expires_on.isoformat()
    assert sheet[5][0] == '=HYPERLINK("http://evil")'  # typed text stays text, never a formula
    assert "swapped" in sheet[3][3]
    with translation.override("zh-hans"):
        chinese = _read_xlsx(verification.bulk_xlsx(rows))[0][:3]
    with translation.override("zh-hans"):
        assert chinese == [translation.gettext("Typed"), translation.gettext("Certificate number"),
                           translation.gettext("Status")]
    assert client.post(reverse("certificates:verify_bulk_xlsx"), {"token": "gone"}).status_code == 410

    # An XLSX upload with a 证书编号 column, and the XLSX at once (format=xlsx). A number typed into a number
    # cell has lost its last digits (Excel keeps 15): the answer says so.
    upload = _xlsx([["姓名", "证书编号"], ["张三", world.valid.number], ["李四", int(world.expired.number)], ["", ""],
                    ["王五", world.old.number]])
    answer = client.post(reverse("certificates:verify_bulk"), {
        "file": SimpleUploadedFile("list.xlsx", upload), "format": "xlsx"})
    assert answer.status_code == 200
    sheet = _read_xlsx(answer.content)
    assert (sheet[1][2], sheet[3][2]) == ("Valid", "Expired")
    assert sheet[2][2] in ("Not a valid number", "Not found")  # the rounded number's check digit, 1 in 10 right
    assert "Excel keeps only 15 digits" in sheet[2][3]
    # A CSV (GB18030, as Excel in China saves it) and a text file.
    csv = f"证书编号,备注\n{world.valid.number},新员工\n{world.renewal.number},\n".encode("gb18030")
    rows = client.post(reverse("certificates:verify_bulk"), {
        "file": SimpleUploadedFile("list.csv", csv)}).context["rows"]
    assert [r.number for r in rows] == [world.valid.number, world.renewal.number]
    txt = f"{world.valid.number}\r\n{world.expired.number}\r\n".encode()
    assert len(client.post(reverse("certificates:verify_bulk"), {
        "file": SimpleUploadedFile("list.txt", txt)}).context["rows"]) == 2

    # Refused with a clear message: a file of another type, a damaged workbook, too large, too many numbers.
    refusals = [
        (SimpleUploadedFile("scan.pdf", b"%PDF-1.4"), "Upload a list as a text file"),
        (SimpleUploadedFile("list.xlsx", b"not a zip"), "could not be read as an Excel workbook"),
        (SimpleUploadedFile("list.txt", b"PK\x03\x04\x00\x00"), "not a text file"),
        (SimpleUploadedFile("list.txt", b"1" * (1024 * 1024 + 1)), "larger than 1024 KB"),
    ]
    for upload, message in refusals:
        page = client.post(reverse("certificates:verify_bulk"), {"file": upload})
        assert page.status_code == 200 and message in page.content.decode() and "rows" not in page.context, message
    with override_settings(LMS_VERIFY_BULK_MAX_NUMBERS=3):
        page = client.post(reverse("certificates:verify_bulk"), {"numbers": "1\n2\n3\n4"})
        assert "At most 3 numbers" in page.content.decode()
    # A zip bomb: a small workbook that claims to unpack to far more than a list of numbers needs.
    import zipfile

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (30 * 1024 * 1024))
    page = client.post(reverse("certificates:verify_bulk"), {"file": SimpleUploadedFile("b.xlsx", bomb.getvalue())})
    assert "too large once unpacked" in page.content.decode()

    # The API.
    data = client.post(reverse("certificates:api_verify_many"),
                       {"numbers": [world.valid.number, world.valid.number, "", missing, world.old.number[:-1]]},
                       content_type="application/json").json()
    assert (data["count"], data["duplicates"], data["blank"]) == (3, 1, 1)
    assert [r["status"] or r["problem"] for r in data["results"]] == ["valid", "not_found", "length"]
    assert data["summary"] == {"valid": 1, "expired": 0, "revoked": 0, "not_found": 1, "malformed": 1, "limited": 0}
    assert client.post(reverse("certificates:api_verify_many"), {"numbers": "x"},
                       content_type="application/json").status_code == 400
    assert client.get(reverse("certificates:api_verify_many")).status_code == 405


# ------------------------------------------------------------------ rate limits

@override_settings(LMS_VERIFY_LOOKUPS_PER_MINUTE=3, LMS_VERIFY_MISSES_LIMIT=2, LMS_VERIFY_BULK_LIMIT=2)
def test_lookups_misses_and_bulk_requests_are_limited_per_address(world, client):
    en_client(client)
    number = world.valid.number
    url = reverse("certificates:api_certificate", args=[number])
    for _i in range(3):
        assert client.get(url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429 and refused["Retry-After"] == "60" and refused.json()["problem"] == "limited"
    page = client.get(reverse("certificates:verify"), {"number": number})
    assert page.status_code == 429 and "Too many checks from your address" in page.content.decode()
    assert page["Retry-After"] == "60"
    # Another address is not affected; the form itself never counts.
    other = client.get(url, REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 200
    assert client.get(reverse("certificates:verify")).status_code == 200

    # Misses: past the limit every lookup from the address waits, even of a real number.
    cache.clear()
    missing = unissued(number)
    for _i in range(2):
        assert client.get(reverse("certificates:api_certificate", args=[missing])).status_code == 404
    refused = client.get(url)
    assert refused.status_code == 429 and refused["Retry-After"] == "600"
    assert client.get(f"/v/{signing.sign_payload(signing.payload_for(world.valid))}").status_code == 429

    # Bulk: requests per window, and the not-found budget shared with single lookups: past it, nothing more
    # is answered, found or not, so a list of guesses learns nothing.
    cache.clear()
    guesses = [unissued(number)]
    body = guesses[0][:10] + f"{int(guesses[0][10:18]) + 1:08d}"
    guesses.append(body + damm_digit(body))
    body = guesses[0][:10] + f"{int(guesses[0][10:18]) + 2:08d}"
    guesses.append(body + damm_digit(body))
    rows = client.post(reverse("certificates:verify_bulk"), {
        "numbers": "\n".join([*guesses, world.expired.number, wrong_check(number)])}).context["rows"]
    assert [r.status or r.problem for r in rows][:4] == ["not_found", "not_found", "limited", "limited"]
    assert rows[4].problem == "check" and rows.limited == 2  # malformed numbers cost nothing and are answered
    assert client.get(url).status_code == 429  # the misses counted for single lookups too
    assert client.post(reverse("certificates:verify_bulk"), {"numbers": number}).status_code == 200
    refused = client.post(reverse("certificates:verify_bulk"), {"numbers": number})
    assert refused.status_code == 429 and refused["Retry-After"] == "600"
    assert client.post(reverse("certificates:api_verify_many"), {"numbers": [number]},
                       content_type="application/json").status_code == 429

    # Off for benchmarks.
    with override_settings(LMS_VERIFY_RATE_LIMITS=False):
        assert all(client.get(url).status_code == 200 for _i in range(5))


def test_the_api_needs_no_session_and_no_csrf_token(world):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("certificates:api_verify_many"), {"numbers": [world.valid.number]},
                       content_type="application/json").status_code == 200
    response = strict.get(reverse("certificates:api_certificate", args=[world.valid.number]))
    assert response.status_code == 200 and "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    # The bulk page is a form: POST without the CSRF token is refused.
    assert strict.post(reverse("certificates:verify_bulk"), {"numbers": world.valid.number}).status_code == 403

