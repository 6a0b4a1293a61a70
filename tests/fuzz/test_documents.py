"""Bad uploads of documents (lesson videos, captions, handouts) through the Wagtail admin's upload page: a file
whose content is not what its extension says, an empty or oversized one, random bytes under every allowed
extension. Refused with a message in Chinese (``content.documents``), and no document row and no file stored;
a real MP4, WebM, WebVTT, PDF and XLSX are accepted."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from wagtail.documents import get_document_model
from wagtail.models import Collection

from content import documents
from lms.models import User

from .conftest import FUZZ, assert_chinese_message, assert_unchanged, rolled_back, snapshot, xlsx_bytes

Document = get_document_model()

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
WEBM = b"\x1a\x45\xdf\xa3" + b"\x9f\x42\x86\x81\x01" + b"\x00" * 64
VTT = "WEBVTT\n\n00:00.000 --> 00:02.000\n检查环境是否安全\n".encode()


@pytest.fixture
def editor(db):
    user = User.objects.create_superuser("doc_editor", password="x-Pass-2026!")
    from wagtail.users.models import UserProfile

    UserProfile.get_for_user(user).__class__.objects.filter(user=user).update(preferred_language="zh-hans")
    client = Client()
    client.force_login(user)
    return client


def upload(client, name: str, data: bytes):
    root = Collection.get_first_root_node()
    return client.post(reverse("wagtaildocs:add"), {
        "title": "课件", "collection": root.pk, "file": SimpleUploadedFile(name, data),
    })


def file_errors(response) -> list[str]:
    form = response.context["form"]
    return [str(e) for e in form.errors.get("file", [])]


BAD = [
    ("page.mp4", b"<!doctype html><html><script>alert(1)</script></html>"),
    ("sheet.webm", b"PK\x03\x04" + b"\x00" * 100),
    ("captions.vtt", "1\n00:00:00,000 --> 00:00:02,000\n字幕\n".encode()),  # SubRip, not WebVTT
    ("captions-gbk.vtt", "WEBVTT\n\n00:00.000 --> 00:02.000\n检查环境\n".encode("gbk")),
    ("handout.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    ("roster.xlsx", b"<html>not a workbook</html>"),
    ("notes.txt", b"text\x00with NUL bytes"),
    ("empty.mp4", b""),
]


@pytest.mark.django_db
@pytest.mark.parametrize("name,data", BAD, ids=[n for n, _d in BAD])
def test_a_document_that_is_not_what_its_extension_says_is_refused_in_chinese(editor, name, data):
    before = snapshot(Document)
    response = upload(editor, name, data)
    assert response.status_code == 200
    errors = file_errors(response)
    assert errors, f"{name} was accepted"
    assert_chinese_message(errors[0])
    assert_unchanged(before, snapshot(Document))


@pytest.mark.django_db
def test_an_oversized_video_is_refused_before_anything_is_stored(editor, settings, monkeypatch):
    monkeypatch.setattr(documents, "VIDEO_MAX_BYTES", 1024)
    before = snapshot(Document)
    response = upload(editor, "lesson.mp4", MP4 + b"\x00" * 2048)
    errors = file_errors(response)
    assert errors and "1.0 KB" in errors[0].replace("\xa0", " ")
    assert_chinese_message(errors[0])
    assert_unchanged(before, snapshot(Document))


@pytest.mark.django_db
@pytest.mark.parametrize("name,data", [("lesson.mp4", MP4), ("lesson.webm", WEBM), ("captions.vtt", VTT),
                                       ("handout.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
                                       ("roster.xlsx", xlsx_bytes([["张三"]], header=("姓名",)))])
def test_real_documents_are_accepted(editor, name, data):
    response = upload(editor, name, data)
    assert response.status_code == 302, file_errors(response) if response.status_code == 200 else response
    assert Document.objects.filter(file__contains=name.rsplit(".", 1)[0]).count() == 1


@pytest.mark.django_db
@FUZZ
@given(ext=st.sampled_from(["mp4", "webm", "vtt", "pdf", "xlsx", "docx", "pptx", "zip"]),
       junk=st.binary(min_size=1, max_size=512))
def test_random_bytes_under_any_extension_are_refused_or_are_what_they_claim(editor, ext, junk):
    with rolled_back():
        before = snapshot(Document, media=False)
        response = upload(editor, f"junk.{ext}", junk)
        assert response.status_code in (200, 302)
        if response.status_code == 200:
            errors = file_errors(response)
            assert errors
            assert_chinese_message(errors[0])
            assert_unchanged(before, snapshot(Document, media=False))
        else:  # accepted only when the bytes start as the extension's format does
            assert junk[4:8] == b"ftyp" or junk.startswith((b"\x1a\x45\xdf\xa3", b"%PDF-", b"PK\x03\x04", b"WEBVTT"))
