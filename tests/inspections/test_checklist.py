"""On site: start on or after the planned day, checklist changes from the phone (idempotent, validated, refused
changes kept), photos (type, size, metadata stripped), submission."""

from __future__ import annotations

import datetime
import io
import json
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inspections import api
from inspections.models import ChecklistChange, InspectionPhoto, RejectedUpload

from .conftest import all_answers, client_for, plan_one

pytestmark = pytest.mark.django_db


def _jpeg_with_gps(size=(64, 48)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (120.0, 9.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_start_sync_and_submit(world):
    _plan, inspection = plan_one(world)
    with pytest.raises(PermissionDenied):
        api.start_inspection(world.planner, inspection)
    inspection.scheduled_on = world.today + datetime.timedelta(days=1)
    inspection.save(update_fields=["scheduled_on"])
    with pytest.raises(ValidationError):  # not before the planned day
        api.start_inspection(world.inspector, inspection)
    inspection.scheduled_on = world.today
    inspection.save(update_fields=["scheduled_on"])
    inspection = api.start_inspection(world.inspector, inspection)
    assert inspection.status == "in_progress" and inspection.started_at and inspection.roster_size == 2

    c = client_for(world.inspector)
    url = f"/inspections/{inspection.pk}/checklist/changes/"
    page = c.get(f"/inspections/{inspection.pk}/checklist/")
    assert page.status_code == 200 and "checklist.js" in page.content.decode() and "学员0" in page.content.decode()
    cid = str(uuid.uuid4())
    change = {"id": cid, "body": {"answers": {"syl.outline": {"ok": True, "note": "教材齐全"}},
                                   "present": [world.enrolments[0].pk], "manikins_in_use": 2, "notes": "现场有序"}}
    r = c.post(url, json.dumps(change), content_type="application/json")
    assert r.status_code == 200 and r.json()["repeat"] is False
    again = c.post(url, json.dumps({**change, "body": {"notes": "不同的内容"}}), content_type="application/json")
    assert again.status_code == 200 and again.json()["repeat"] is True  # the same id: nothing changes
    inspection.refresh_from_db()
    assert inspection.notes == "现场有序" and inspection.present == [world.enrolments[0].pk]
    assert inspection.trainees_per_manikin == pytest.approx(0.5) and ChecklistChange.objects.count() == 1

    stored = (inspection.answers, inspection.present, inspection.manikins_in_use, inspection.notes)
    bad_bodies = [
        {"answers": {"nope": {"ok": True}}},
        {"answers": {"syl.outline": {"ok": "yes"}}},
        {"answers": {"syl.outline": {"note": "x" * 501}}},
        {"present": [world.enrolments[0].pk, 999999]},
        {"present": [world.enrolments[0].pk, world.enrolments[0].pk]},
        {"manikins_in_use": -1},
        {"manikins_in_use": 2.5},
        {"manikins_in_use": True},
        {"notes": 5},
        {"answers": {"syl.outline": {"ok": False}}, "colour": "red"},  # one bad part: the whole change refused
    ]
    for body in bad_bodies:
        r = c.post(url, json.dumps({"id": str(uuid.uuid4()), "body": body}), content_type="application/json")
        assert r.status_code == 400 and r.json()["rejected"] and r.json()["error"], body
    r = c.post(url, "not json", content_type="application/json")
    assert r.status_code == 400
    inspection.refresh_from_db()
    assert (inspection.answers, inspection.present, inspection.manikins_in_use, inspection.notes) == stored
    rejected = RejectedUpload.objects.filter(kind="checklist")
    assert rejected.count() == len(bad_bodies) + 1 and all(r.reason for r in rejected)
    assert rejected.filter(detail__body__manikins_in_use=-1).exists()  # what the phone sent is kept
    r = c.post(url, json.dumps({"id": str(uuid.uuid4()), "body": {"notes": 5}}), content_type="application/json")
    assert "notes" in r.json()["error"].lower()  # a clear message (in English here)

    # anyone else: 404 (the trainee, the instructor) or 401 (signed out)
    assert client_for(world.instructor).post(url, json.dumps(change), content_type="application/json").status_code == 404
    from django.test import Client

    assert Client().post(url, json.dumps(change), content_type="application/json").status_code == 401

    with pytest.raises(ValidationError):  # not every item answered
        api.submit_inspection(world.inspector, inspection)
    api.save_checklist_change(world.inspector, inspection, client_id=uuid.uuid4(),
                              body={"answers": all_answers(world.checklist)})
    inspection = api.submit_inspection(world.inspector, inspection)
    assert inspection.status == "submitted"
    late = c.post(url, json.dumps({"id": str(uuid.uuid4()), "body": {"notes": "迟到的修改"}}),
                  content_type="application/json")
    assert late.status_code == 400 and RejectedUpload.objects.filter(detail__body__notes="迟到的修改").exists()


def test_photos_are_checked_and_stripped(world, settings):
    _plan, inspection = plan_one(world)
    inspection = api.start_inspection(world.inspector, inspection)
    c = client_for(world.inspector)
    url = f"/inspections/{inspection.pk}/photos/"
    raw = _jpeg_with_gps()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the upload does carry a GPS position
    cid = str(uuid.uuid4())
    r = c.post(url, {"client_id": cid, "item_code": "man.hygiene", "caption": "模拟人",
                     "photo": SimpleUploadedFile("p.jpg", raw, content_type="image/jpeg")})
    assert r.status_code == 200, r.content
    again = c.post(url, {"client_id": cid, "photo": SimpleUploadedFile("p.jpg", raw, content_type="image/jpeg")})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"] and InspectionPhoto.objects.count() == 1
    photo = InspectionPhoto.objects.get()
    stored = photo.file.read()
    img = Image.open(io.BytesIO(stored))
    assert img.format == "JPEG" and not img.getexif() and b"PhoneMaker" not in stored and "exif" not in img.info
    assert photo.size_bytes == len(stored) and photo.item_code == "man.hygiene"
    assert c.get(f"/inspections/photos/{photo.pk}/").status_code == 200
    assert client_for(world.instructor).get(f"/inspections/photos/{photo.pk}/").status_code == 404

    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    big = b"\xff\xd8" + b"0" * (5 * 1024 * 1024 + 10)
    for name, data, ctype in (("a.gif", gif.getvalue(), "image/gif"), ("b.jpg", b"not an image", "image/jpeg"),
                              ("c.jpg", big, "image/jpeg")):
        r = c.post(url, {"client_id": str(uuid.uuid4()), "photo": SimpleUploadedFile(name, data, content_type=ctype)})
        assert r.status_code == 400 and r.json()["error"], name
    assert InspectionPhoto.objects.count() == 1
    rejected = RejectedUpload.objects.filter(kind="photo").order_by("pk")
    assert [r.detail["name"] for r in rejected] == ["a.gif", "b.jpg", "c.jpg"]
    assert all(r.reason and set(r.detail) == {"name", "content_type", "size"} for r in rejected)  # never the content
    assert rejected.last().detail["size"] == len(big)
