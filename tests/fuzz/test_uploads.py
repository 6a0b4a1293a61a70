"""Bad uploads of photos: the ID photo (``lms.photos.clean_photo``, the person form, the practical exam's
check-in) and the inspector's phone photos. Wrong type (HTML named .jpg, a PDF, a GIF), too large, truncated,
a decompression bomb: refused with a message in Chinese, and no row and no file stored; an inspection keeps
each refused photo's reason (``RejectedUpload``, by design), never the photo."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from inspections import api as inspections_api
from inspections.models import Inspection, InspectionPhoto, RejectedUpload
from lms import photos
from lms.models import AuditLog, Role, RoleAssignment, User
from tests.inspections.conftest import plan_one, world  # noqa: F401

from .conftest import (FUZZ, FUZZ_FEW, assert_chinese_message, assert_unchanged, binary_junk, form_errors,
                       jpeg_bytes, png_bomb, png_bytes, rolled_back, snapshot)


def bad_photos() -> list[tuple[str, bytes, str]]:
    """(name, bytes, content type): what a photo field must refuse."""
    from PIL import Image

    gif, bmp, tiff = io.BytesIO(), io.BytesIO(), io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    Image.new("RGB", (8, 8)).save(tiff, "TIFF")
    jpeg = jpeg_bytes((64, 64))
    return [
        ("page.jpg", b"<!doctype html><html><body onload=alert(1)></body></html>", "image/jpeg"),
        ("doc.jpg", b"%PDF-1.4\n1 0 obj<<>>endobj\n", "image/jpeg"),
        ("anim.jpg", gif.getvalue(), "image/jpeg"),
        ("bitmap.png", bmp.getvalue(), "image/png"),
        ("scan.jpg", tiff.getvalue(), "image/jpeg"),
        ("cut.jpg", jpeg[: len(jpeg) // 2], "image/jpeg"),
        ("header-only.jpg", jpeg[:20], "image/jpeg"),
        ("bomb.png", png_bomb(), "image/png"),
        ("huge.jpg", b"\xff\xd8\xff\xe0" + b"0" * (photos.MAX_BYTES + 10), "image/jpeg"),
        ("empty.png", b"", "image/png"),
        ("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        ("sheet.jpg", b"PK\x03\x04" + b"\x00" * 100, "image/jpeg"),
    ]


BAD_PHOTOS = bad_photos()
IDS = [name for name, _data, _ctype in BAD_PHOTOS]


@pytest.mark.parametrize("name,data,ctype", [p for p in BAD_PHOTOS if p[1]], ids=[i for i, p in zip(IDS, BAD_PHOTOS)
                                                                                  if p[1]])
def test_clean_photo_refuses_what_is_not_a_small_jpeg_or_png(name, data, ctype):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        photos.clean_photo(SimpleUploadedFile(name, data, content_type=ctype))
    for message in exc.value.messages:
        assert_chinese_message(message)


@FUZZ
@given(data=binary_junk, prefix=st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", png_bytes()[:33]]))
def test_clean_photo_of_any_bytes_is_refused_in_chinese(data, prefix):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        photos.clean_photo(SimpleUploadedFile("p.jpg", prefix + data, content_type="image/jpeg"))
    for message in exc.value.messages:
        assert_chinese_message(message)


@FUZZ_FEW
@given(cut=st.integers(min_value=1, max_value=400), flip=st.integers(min_value=0, max_value=10_000),
       kind=st.sampled_from(["png", "jpeg"]))
def test_clean_photo_of_damaged_images_never_crashes(cut, flip, kind):
    """A real image cut short or with a byte changed: stored re-encoded, or refused in Chinese; nothing else."""
    data = bytearray(png_bytes((40, 30)) if kind == "png" else jpeg_bytes((40, 30)))
    data[flip % len(data)] ^= 0x5A
    data = bytes(data[: max(1, len(data) - cut)])
    with translation.override("zh-hans"):
        try:
            stored = photos.clean_photo(SimpleUploadedFile("p", data))
        except ValidationError as exc:
            for message in exc.messages:
                assert_chinese_message(message)
        else:
            assert stored.name.endswith((".png", ".jpg"))


# ---------------------------------------------------------------- the person form


PEOPLE_TABLES = (User, RoleAssignment, AuditLog)


@pytest.mark.parametrize("name,data,ctype", BAD_PHOTOS, ids=IDS)
def test_person_form_refuses_bad_photos_and_stores_nothing(regions, make_person, name, data, ctype):
    admin = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="fuzz_xihu_admin")
    someone = make_person(regions["xihu"], username="fuzz_someone")
    client = Client()
    client.force_login(admin)
    before = snapshot(*PEOPLE_TABLES)
    new = client.post("/people/new/", {"real_name": "王小明", "id_card": "11010519491231002X",
                                       "phone": "13912345678", "region": regions["xihu"].pk, "roles": [Role.TRAINEE],
                                       "photo": SimpleUploadedFile(name, data, content_type=ctype)})
    edit = client.post(f"/people/{someone.pk}/edit/", {
        "real_name": someone.real_name, "username": someone.username, "region": regions["xihu"].pk,
        "roles": [Role.TRAINEE], "photo": SimpleUploadedFile(name, data, content_type=ctype)})
    for resp in (new, edit):
        assert resp.status_code == 200  # the form again, with its errors
        errors = form_errors(resp.content.decode(), classes=("errorlist",))
        assert errors or not data, "no message"  # an empty file is "no photo chosen": nothing to refuse
        for message in errors:
            assert_chinese_message(message)
    if data:
        assert_unchanged(before, snapshot(*PEOPLE_TABLES))


# ---------------------------------------------------------------- the inspector's phone


@pytest.fixture
def inspection(world):  # noqa: F811
    _plan, inspection = plan_one(world)
    return inspections_api.start_inspection(world.inspector, inspection), world


def _photo_post(client, inspection, name, data, ctype, **extra):
    fields = {"client_id": str(uuid.uuid4()), **extra}
    if name is not None:
        fields["photo"] = SimpleUploadedFile(name, data, content_type=ctype)
    return client.post(f"/inspections/{inspection.pk}/photos/", fields)


@pytest.mark.parametrize("name,data,ctype", BAD_PHOTOS, ids=IDS)
def test_inspection_photo_refused_with_its_reason_kept(inspection, name, data, ctype):
    inspection, w = inspection
    client = Client()
    client.force_login(w.inspector)
    before = snapshot(InspectionPhoto, Inspection)
    rejected = RejectedUpload.objects.count()
    resp = _photo_post(client, inspection, name, data, ctype)
    assert resp.status_code == 400
    assert resp.json()["rejected"] is True
    assert_chinese_message(resp.json()["error"])
    assert_unchanged(before, snapshot(InspectionPhoto, Inspection))
    kept = RejectedUpload.objects.order_by("-pk")
    assert kept.count() == rejected + 1 and kept[0].kind == "photo"
    assert_chinese_message(kept[0].reason)


@FUZZ
@given(data=binary_junk, client_id=st.one_of(st.just("uuid"), st.text(max_size=40)),
       item_code=st.text(max_size=20), caption=st.text(max_size=600), taken_at=st.text(max_size=30))
def test_inspection_photo_endpoint_with_any_fields(inspection, data, client_id, item_code, caption, taken_at):
    inspection, w = inspection
    client = Client()
    client.force_login(w.inspector)
    with rolled_back():
        before = snapshot(InspectionPhoto, Inspection)
        fields = {"client_id": str(uuid.uuid4()) if client_id == "uuid" else client_id, "item_code": item_code,
                  "caption": caption, "taken_at": taken_at,
                  "photo": SimpleUploadedFile("p.jpg", data, content_type="image/jpeg")}
        resp = client.post(f"/inspections/{inspection.pk}/photos/", fields)
        assert resp.status_code == 400, resp.content
        assert_chinese_message(resp.json()["error"], quoted=item_code)
        assert_unchanged(before, snapshot(InspectionPhoto, Inspection))
