"""Bad input for the public certificate verification: the JSON API (one number, a list, a scan payload) and
the pages (by number, the QR's /v/<payload>, a pasted or uploaded list). Nothing crashes (the answer is 200,
or 400/404 with a message in Chinese), and nothing stored changes."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from certificates.models import Certificate
from lms.models import AuditLog
from tests.certificates.test_verification import world, world_once  # noqa: F401

from .conftest import FUZZ, assert_chinese_message, assert_unchanged, binary_junk, not_what_they_claim, snapshot

pytestmark = pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning")
TABLES = (Certificate, AuditLog)

# What people type for a number, and what scripts send: digits with the wrong length or check digit, full-width
# digits, letters, spaces and dashes, very long input, control characters, path and markup characters.
number_text = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"[0-9０-９ \-]{0,30}", fullmatch=True),
    st.from_regex(r"330106\d{13}", fullmatch=True),
    st.sampled_from(["", " ", "0" * 19, "9" * 400, "<script>", "../../etc/passwd", "%00", "３３０１０６", "null"]),
)
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                          lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                      max_size=5),
                          max_leaves=20)


@pytest.fixture
def public(world, settings):  # noqa: F811
    """The limits per address are for real employers (tests/certificates test them): off for fuzzing."""
    settings.LMS_VERIFY_RATE_LIMITS = False
    return Client()


def _check_json(resp, *, quoted: str = ""):
    assert resp.status_code in (200, 400, 404), resp.status_code
    assert resp["Content-Type"].startswith("application/json")
    body = json.loads(resp.content)
    if resp.status_code != 200:
        assert body.get("problem")
        assert_chinese_message(body["message"], quoted=quoted)
    return body


@FUZZ
@given(number=number_text)
def test_api_one_number_answers_any_input(public, number):
    before = snapshot(*TABLES, media=False)
    path = "/api/v1/certificates/" + quote(number, safe="") + "/"
    resp = public.get(path)
    if resp.status_code == 404 and not resp["Content-Type"].startswith("application/json"):
        assert "/" in number or not number  # not this route at all (a slash in the number): the 404 page
    else:
        body = _check_json(resp, quoted=number)
        assert body["found"] == (resp.status_code == 200)
    assert_unchanged(before, snapshot(*TABLES, media=False))


@FUZZ
@given(body=st.one_of(json_value.map(lambda v: json.dumps(v).encode()),
                      st.lists(number_text, max_size=30).map(lambda ns: json.dumps({"numbers": ns}).encode()),
                      st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()), max_size=10)
                      .map(lambda ns: json.dumps({"numbers": ns}).encode()),
                      binary_junk))
def test_api_list_answers_any_body(public, body):
    before = snapshot(*TABLES, media=False)
    resp = public.post("/api/v1/certificates/verify/", body, content_type="application/json")
    data = _check_json(resp, quoted=body.decode("utf-8", "replace"))
    if resp.status_code == 200:
        assert data["count"] == len(data["results"])
        for row in data["results"]:
            if not row["found"]:
                assert_chinese_message(row["message"], quoted=str(row.get("input", "")))
    assert_unchanged(before, snapshot(*TABLES, media=False))


def test_api_list_of_too_many_numbers_is_refused_in_chinese(public):
    resp = public.post("/api/v1/certificates/verify/", json.dumps({"numbers": [str(n) for n in range(501)]}),
                       content_type="application/json")
    assert resp.status_code == 400
    assert_chinese_message(json.loads(resp.content)["message"])


@FUZZ
@given(body=st.one_of(json_value.map(lambda v: json.dumps(v).encode()),
                      st.text(max_size=400).map(lambda p: json.dumps({"payload": p}).encode()),
                      st.from_regex(r"(https?://[a-z.]+/v/)?[A-Za-z0-9_\-.|~]{0,300}", fullmatch=True)
                      .map(lambda p: json.dumps({"payload": p}).encode()),
                      binary_junk))
def test_api_scan_answers_any_payload(public, body):
    before = snapshot(*TABLES, media=False)
    resp = public.post("/api/v1/scan/", body, content_type="application/json")
    data = _check_json(resp, quoted=body.decode("utf-8", "replace"))
    if resp.status_code == 200:
        assert data["valid"] is False  # nothing made up here is a genuine certificate
    assert_unchanged(before, snapshot(*TABLES, media=False))


def _alerts(page: str) -> list[str]:
    import html

    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(r'role="alert"[^>]*>(.*?)</', page, flags=re.S)]


@FUZZ
@given(number=number_text)
def test_verify_page_answers_any_number(public, number):
    before = snapshot(*TABLES, media=False)
    resp = public.get("/verify/", {"number": number})
    assert resp.status_code == 200
    assert "Traceback" not in resp.content.decode()
    assert_unchanged(before, snapshot(*TABLES, media=False))


@FUZZ
@given(payload=st.one_of(st.text(max_size=300), st.from_regex(r"[A-Za-z0-9_\-.|~]{1,300}", fullmatch=True)))
def test_scan_page_answers_any_payload(public, payload):
    before = snapshot(*TABLES, media=False)
    resp = public.get("/v/" + quote(payload, safe=""))
    assert resp.status_code in (200, 301, 404)  # 301: to the same path with a slash
    page = resp.content.decode()
    assert "Traceback" not in page
    if resp.status_code == 200:
        assert re.search(r"[\u4e00-\u9fff]", page)
    assert_unchanged(before, snapshot(*TABLES, media=False))


@FUZZ
@given(numbers=st.one_of(st.text(max_size=2000), st.lists(number_text, max_size=40).map("\n".join)))
def test_bulk_page_answers_any_pasted_list(public, numbers):
    before = snapshot(*TABLES, media=False)
    resp = public.post("/verify/bulk/", {"numbers": numbers})
    assert resp.status_code == 200
    for message in _alerts(resp.content.decode()):
        assert_chinese_message(message)
    assert_unchanged(before, snapshot(*TABLES, media=False))


@pytest.mark.parametrize("name,data", not_what_they_claim(["证书编号"]) + [
    ("list.jpg", b"<html><body>3301062026445289919</body></html>"),
    ("huge.txt", b"3301062026445289919\n" * 60_000),
    ("list.csv", "证书编号\n３３０１０６\n".encode("gb18030")),
    ("formula.csv", b"=cmd|' /C calc'!A0\n+1+1\n@SUM(A1)\n"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bulk_page_refuses_or_reads_any_uploaded_file(public, name, data):
    before = snapshot(*TABLES, media=False)
    resp = public.post("/verify/bulk/", {"file": SimpleUploadedFile(name, data)})
    assert resp.status_code == 200
    page = resp.content.decode()
    alerts = _alerts(page)
    assert alerts or "<table" in page, "neither an answer nor a reason"
    for message in alerts:
        assert_chinese_message(message)
    assert_unchanged(before, snapshot(*TABLES, media=False))


@FUZZ
@given(data=binary_junk, name=st.sampled_from(["a.txt", "a.csv", "a.xlsx", "a.pdf", "a"]))
def test_bulk_upload_of_any_bytes(public, data, name):
    before = snapshot(*TABLES, media=False)
    resp = public.post("/verify/bulk/", {"file": SimpleUploadedFile(name, data)})
    assert resp.status_code == 200
    for message in _alerts(resp.content.decode()):
        assert_chinese_message(message)
    assert_unchanged(before, snapshot(*TABLES, media=False))


def test_bulk_xlsx_answer_keeps_formulas_as_text(public):
    """An uploaded list's cells come back in the XLSX answer as text: a typed ``=cmd|…`` is never a formula."""
    from io import BytesIO

    from openpyxl import load_workbook

    typed = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "@A1", "-1+1"]  # no commas: a comma separates numbers
    resp = public.post("/verify/bulk/", {"numbers": "\n".join(typed), "format": "xlsx"})
    assert resp.status_code == 200
    ws = load_workbook(BytesIO(resp.content)).worksheets[0]
    cells = [c for row in ws.iter_rows() for c in row if c.value in typed]
    assert {c.value for c in cells} == set(typed)
    assert all(c.data_type == "s" for c in cells)
