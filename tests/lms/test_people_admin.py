"""People administration: region admins register and edit people in their subtree, with checked numbers,
grantable roles and photos stripped of metadata; the Wagtail user editor sends them here."""

from __future__ import annotations

import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image, PngImagePlugin

from lms import api, photos
from lms.models import AuditLog, Organisation, Role, RoleAssignment, User
from lms.protection import id_card_check_char


def id_card(first17: str) -> str:
    return first17 + id_card_check_char(first17)


GOOD_ID = id_card("33010619900307123")
OTHER_ID = id_card("33010619851111002")
WRONG_CHECK = GOOD_ID[:17] + ("0" if GOOD_ID[17] != "0" else "1")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture
def world(regions, make_person):
    w = dict(regions)
    w["xihu_org"] = Organisation.objects.create(name="西湖考点", kind=Organisation.Kind.EXAM_SITE, region=regions["xihu"])
    w["beilun_org"] = Organisation.objects.create(name="北仑考点", kind=Organisation.Kind.EXAM_SITE,
                                                  region=regions["beilun"])
    w["hz_admin"] = make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz_admin")
    w["xihu_admin"] = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xihu_admin")
    w["sys"] = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys")
    w["sys"].is_staff = w["sys"].is_superuser = True
    w["sys"].save()
    w["xihu_trainee"] = make_person(regions["xihu"], username="xihu_trainee", real_name="西湖学员")
    w["beilun_trainee"] = make_person(regions["beilun"], username="bl_trainee", real_name="北仑学员")
    return w


def client_for(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


def form_data(world, **overrides):
    data = {"real_name": "新学员", "id_card": GOOD_ID, "phone": "13912345678", "region": world["xihu"].pk,
            "organisation": world["xihu_org"].pk, "roles": [Role.TRAINEE], "username": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def png_with_metadata(size=(40, 30)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 40))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location 30.25N 120.16E")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (30, 15, 0)}  # GPS IFD: latitude
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info, exif=exif)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (50, 40), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x8825] = {2: (30, 15, 0)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, comment=b"where I was")
    return out.getvalue()


# ------------------------------------------------------------------ create and edit in the subtree


def test_region_admin_registers_a_person_in_their_subtree(world):
    c = client_for(world["hz_admin"])
    assert c.get(reverse("lms:person_new")).status_code == 200
    before = User.objects.count()
    r = c.post(reverse("lms:person_new"), form_data(world, roles=[Role.TRAINEE, Role.EXAMINER]))
    assert r.status_code == 302, r.content.decode()[:2000]
    assert User.objects.count() == before + 1
    p = User.objects.get(real_name="新学员")
    assert r["Location"] == reverse("lms:person", args=[p.pk])
    assert p.region == world["xihu"] and p.organisation == world["xihu_org"]
    assert p.id_card_masked == GOOD_ID[:3] + "*" * 11 + GOOD_ID[-4:] and p.phone_masked == "139****5678"
    assert GOOD_ID not in p.id_card_protected and p.has_usable_password() is False
    assert p.username.startswith("p") and len(p.username) == 9  # generated, without personal data
    assert set(p.role_assignments.values_list("role", flat=True)) == {Role.TRAINEE, Role.EXAMINER}
    page = c.get(r["Location"]).content.decode()
    assert "忘记密码？" in page and p.phone_masked in page  # the success message: how to set a password
    assert p.username in page


def test_region_admin_edits_a_person_in_their_subtree(world):
    c = client_for(world["hz_admin"])
    p = world["xihu_trainee"]
    p.set_id_card(GOOD_ID)
    p.save()
    r = c.get(reverse("lms:person_edit", args=[p.pk]))
    assert r.status_code == 200
    page = r.content.decode()
    assert GOOD_ID not in page and p.id_card_masked in page  # only the masked number is shown
    r = c.post(reverse("lms:person_edit", args=[p.pk]), form_data(
        world, real_name="西湖学员改", id_card="", phone="13800001111", region=world["shangcheng"].pk,
        organisation="", roles=[Role.INSTRUCTOR], username="xihu_trainee"))
    assert r.status_code == 302, r.content.decode()[:2000]
    p.refresh_from_db()
    assert p.real_name == "西湖学员改" and p.region == world["shangcheng"] and p.organisation is None
    assert p.id_card_masked.endswith(GOOD_ID[-4:])  # empty: unchanged
    assert p.phone_masked == "138****1111"
    assert set(p.role_assignments.values_list("role", flat=True)) == {Role.INSTRUCTOR}


def test_user_set_login_name_is_kept_and_must_be_free(world):
    c = client_for(world["hz_admin"])
    r = c.post(reverse("lms:person_new"), form_data(world, username="xihu_trainee"))
    assert r.status_code == 200 and "该登录名已被使用。" in r.content.decode()
    assert not User.objects.filter(real_name="新学员").exists()
    r = c.post(reverse("lms:person_new"), form_data(world, username="zhang_san"))
    assert r.status_code == 302
    assert User.objects.filter(username="zhang_san", real_name="新学员").exists()


# ------------------------------------------------------------------ refused outside the subtree


def test_outside_region_organisation_and_person_are_refused(world):
    c = client_for(world["xihu_admin"])
    before = User.objects.count()
    # a region outside the subtree is not a choice (and the api refuses it as well)
    r = c.post(reverse("lms:person_new"), form_data(world, region=world["beilun"].pk, organisation=""))
    assert r.status_code == 200 and User.objects.count() == before
    r = c.post(reverse("lms:person_new"), form_data(world, organisation=world["beilun_org"].pk))
    assert r.status_code == 200 and User.objects.count() == before
    with pytest.raises(PermissionDenied):
        api.create_person(world["xihu_admin"], real_name="某人", region=world["beilun"], phone="13912345678")
    with pytest.raises(ValidationError) as exc:
        api.create_person(world["xihu_admin"], real_name="某人", region=world["xihu"], phone="13912345678",
                          organisation=world["beilun_org"])
    assert "organisation" in exc.value.message_dict
    assert User.objects.count() == before
    # a person in another region: not found
    assert c.get(reverse("lms:person_edit", args=[world["beilun_trainee"].pk])).status_code == 404
    assert c.post(reverse("lms:person_edit", args=[world["beilun_trainee"].pk]),
                  form_data(world)).status_code == 404
    # moving one's own person out of the subtree
    with pytest.raises(PermissionDenied):
        api.update_person(world["xihu_admin"], world["xihu_trainee"], real_name="x", region=world["beilun"])
    # a person who administers a wider region (hz_admin lives in 杭州市, outside 西湖区: not even visible)
    assert c.get(reverse("lms:person_edit", args=[world["hz_admin"].pk])).status_code == 404
    # trainees and other roles: no such pages
    t = client_for(world["xihu_trainee"])
    assert t.get(reverse("lms:person_new")).status_code == 403
    assert t.get(reverse("lms:person_edit", args=[world["xihu_trainee"].pk])).status_code == 403


def test_region_admin_cannot_edit_a_system_admin_or_a_wider_admin_in_their_region(world, make_person):
    wider = make_person(world["xihu"], roles=(), admin_of=world["hz"], username="lives_in_xihu")
    sysadmin_in_xihu = make_person(world["xihu"], roles=(Role.SYSTEM_ADMIN,), username="sys_in_xihu")
    c = client_for(world["xihu_admin"])
    for person in (wider, sysadmin_in_xihu):
        assert c.get(reverse("lms:person_edit", args=[person.pk])).status_code == 403
        with pytest.raises(PermissionDenied):
            api.update_person(world["xihu_admin"], person, real_name="改", region=world["xihu"])
    assert not api.can_edit_person(world["xihu_admin"], wider)
    assert api.can_edit_person(world["hz_admin"], wider)


# ------------------------------------------------------------------ validation: Chinese message, nothing stored


@pytest.mark.parametrize("field,value,message", [
    ("id_card", WRONG_CHECK, "校验位"),
    ("id_card", "33010619900307", "18"),
    ("phone", "1391234567", "11"),
    ("phone", "23912345678", "11"),
])
def test_bad_numbers_show_a_chinese_message_and_store_nothing(world, field, value, message):
    c = client_for(world["hz_admin"])
    users, audits = User.objects.count(), AuditLog.objects.count()
    r = c.post(reverse("lms:person_new"), form_data(world, **{field: value}))
    assert r.status_code == 200
    page = r.content.decode()
    assert message in page and 'class="errorlist"' in page
    assert (User.objects.count(), AuditLog.objects.count()) == (users, audits)


def test_wrong_check_digit_message_is_the_protection_one(world):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        api.create_person(world["hz_admin"], real_name="某人", region=world["xihu"], id_card=WRONG_CHECK)
    assert "校验位" in " ".join(exc.value.message_dict["id_card"])


def test_duplicate_id_card_is_refused_with_a_clear_message(world):
    api.update_person_contact(world["hz_admin"], world["xihu_trainee"], id_card=GOOD_ID)
    c = client_for(world["hz_admin"])
    users = User.objects.count()
    r = c.post(reverse("lms:person_new"), form_data(world))
    assert r.status_code == 200
    assert "该身份证号已登记过。" in r.content.decode()
    assert User.objects.count() == users
    # editing another person to the same number is refused too
    other = world["beilun_trainee"]
    with pytest.raises(ValidationError) as exc:
        api.update_person(world["sys"], other, real_name=other.real_name, region=other.region, id_card=GOOD_ID)
    assert "id_card" in exc.value.message_dict
    other.refresh_from_db()
    assert other.id_card_masked == ""


# ------------------------------------------------------------------ roles


def test_role_grant_rules(world):
    c = client_for(world["xihu_admin"])
    page = c.get(reverse("lms:person_new")).content.decode()
    assert 'value="region_admin"' in page and 'value="system_admin"' not in page
    users = User.objects.count()
    r = c.post(reverse("lms:person_new"), form_data(world, roles=[Role.SYSTEM_ADMIN]))
    assert r.status_code == 200 and User.objects.count() == users
    with pytest.raises(ValidationError):
        api.create_person(world["xihu_admin"], real_name="某人", region=world["xihu"], roles=[Role.SYSTEM_ADMIN])
    # a region admin appoints a region admin of a region in their subtree
    p = api.create_person(world["xihu_admin"], real_name="副管理员", region=world["xihu"], phone="13600000001",
                          roles=[Role.REGION_ADMIN])
    assert p.role_assignments.get().region == world["xihu"]
    # not of a region outside it: assign_role refuses
    with pytest.raises(PermissionDenied):
        api.assign_role(world["xihu_admin"], p, Role.REGION_ADMIN, region=world["hz"])
    # a system admin may appoint a system admin (and the Django flags follow)
    s = api.create_person(world["sys"], real_name="系统", region=world["zj"], phone="13600000002",
                          roles=[Role.SYSTEM_ADMIN])
    assert s.is_superuser and s.is_staff
    # an admin cannot take away their own admin role
    me = world["xihu_admin"]
    with pytest.raises(ValidationError):
        api.update_person(me, me, real_name=me.real_name, region=me.region, roles=[Role.TRAINEE])
    assert me.role_assignments.filter(role=Role.REGION_ADMIN).exists()


def test_roles_assigned_and_revoked_are_audited(world):
    p = world["xihu_trainee"]
    api.update_person(world["xihu_admin"], p, real_name=p.real_name, region=p.region,
                      roles=[Role.EXAMINER])
    assert set(p.role_assignments.values_list("role", flat=True)) == {Role.EXAMINER}
    actions = list(AuditLog.objects.filter(object_id=str(p.pk)).values_list("action", flat=True))
    assert "role.assign" in actions and "role.revoke" in actions and "person.update" in actions


# ------------------------------------------------------------------ photos


def test_png_photo_is_stored_without_metadata(world):
    c = client_for(world["hz_admin"])
    upload = SimpleUploadedFile("me.png", png_with_metadata(), content_type="image/png")
    r = c.post(reverse("lms:person_new"), form_data(world, photo=upload))
    assert r.status_code == 302, r.content.decode()[:2000]
    p = User.objects.get(real_name="新学员")
    assert p.photo.name.endswith(".png") and "me" not in p.photo.name.rsplit("/", 1)[-1]
    served = b"".join(c.get(reverse("lms:person_photo", args=[p.pk])).streaming_content)
    assert b"secret location" not in served and b"SpyCam" not in served
    img = Image.open(io.BytesIO(served))
    assert img.format == "PNG" and img.size == (40, 30)
    assert not img.getexif() and "Comment" not in img.info and "exif" not in img.info


def test_jpeg_photo_is_stored_without_exif(world):
    p = world["xihu_trainee"]
    api.update_person(world["hz_admin"], p, real_name=p.real_name, region=p.region,
                      photo=SimpleUploadedFile("x.jpg", jpeg_with_exif(), content_type="image/jpeg"))
    p.refresh_from_db()
    data = p.photo.read()
    assert b"SpyCam" not in data and b"where I was" not in data
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and not img.getexif()


@pytest.mark.parametrize("name,content,message", [
    ("photo.jpg", b"%PDF-1.4 this is not an image", "JPEG"),
    ("photo.jpg", b"GIF89a" + b"\x00" * 40, "JPEG"),
])
def test_non_images_are_refused(world, name, content, message):
    c = client_for(world["hz_admin"])
    users = User.objects.count()
    r = c.post(reverse("lms:person_new"), form_data(world, photo=SimpleUploadedFile(name, content,
                                                                                    content_type="image/jpeg")))
    assert r.status_code == 200 and message in r.content.decode()
    assert User.objects.count() == users


def test_gif_with_a_jpg_name_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(ValidationError) as exc:
        photos.clean_photo(SimpleUploadedFile("a.jpg", out.getvalue()))
    assert exc.value.code == "photo_format"


def test_oversized_and_over_pixel_photos_are_refused(world, monkeypatch):
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"\x00" * (photos.MAX_BYTES + 10))
    with pytest.raises(ValidationError) as exc:
        photos.clean_photo(big)
    assert exc.value.code == "photo_size"
    # a decompression bomb: a small file that declares a huge image (checked before decoding)
    bomb = io.BytesIO()
    Image.new("L", (6000, 5000)).save(bomb, "PNG", optimize=True)
    assert len(bomb.getvalue()) < photos.MAX_BYTES
    with pytest.raises(ValidationError) as exc:
        photos.clean_photo(SimpleUploadedFile("bomb.png", bomb.getvalue()))
    assert exc.value.code == "photo_pixels"
    # and through the page: nothing changed
    p = world["xihu_trainee"]
    c = client_for(world["hz_admin"])
    r = c.post(reverse("lms:person_edit", args=[p.pk]), form_data(
        world, id_card="", phone="", username=p.username, real_name="不应保存",
        photo=SimpleUploadedFile("bomb.png", bomb.getvalue(), content_type="image/png")))
    assert r.status_code == 200 and "像素" in r.content.decode()
    p.refresh_from_db()
    assert p.real_name == "西湖学员" and not p.photo


# ------------------------------------------------------------------ audit


def test_audit_rows_have_masked_numbers_only(world):
    c = client_for(world["hz_admin"])
    c.post(reverse("lms:person_new"), form_data(world))
    p = User.objects.get(real_name="新学员")
    row = AuditLog.objects.get(action="person.create", object_id=str(p.pk))
    assert row.actor == world["hz_admin"]
    assert row.after["id_card"] == p.id_card_masked and row.after["phone"] == "139****5678"
    c.post(reverse("lms:person_edit", args=[p.pk]), form_data(world, id_card=OTHER_ID, phone="13700002222",
                                                              username=p.username))
    row = AuditLog.objects.get(action="person.update", object_id=str(p.pk))
    assert row.before["id_card"] == p.id_card_masked and row.after["id_card"].endswith(OTHER_ID[-4:])
    assert row.before["phone"] == "139****5678" and row.after["phone"] == "137****2222"
    for r in AuditLog.objects.filter(object_id=str(p.pk)):
        text = f"{r.before} {r.after} {r.object_repr}"
        assert GOOD_ID not in text and OTHER_ID not in text and "13912345678" not in text
        assert "13700002222" not in text


# ------------------------------------------------------------------ list, wagtail


def test_people_list_shows_roles_and_an_add_button(world):
    c = client_for(world["hz_admin"])
    page = c.get(reverse("lms:people")).content.decode()
    assert "<th>角色</th>" in page and '<span class="tag">学员</span>' in page
    assert '<span class="tag">地区管理员</span>' in page
    assert reverse("lms:person_new") in page
    assert 'class="mono nowrap"' in page


def test_wagtail_user_editor_sends_admins_to_the_people_pages(world):
    c = client_for(world["sys"])
    p = world["xihu_trainee"]
    r = c.get(reverse("wagtailusers_users:edit", args=[p.pk]))
    assert r.status_code == 302 and r["Location"] == reverse("lms:person_edit", args=[p.pk])
    # a POST there cannot bypass the checks: nothing changes
    r = c.post(reverse("wagtailusers_users:edit", args=[p.pk]),
               {"username": p.username, "first_name": "绕过", "last_name": "", "email": "",
                "is_active": "on", "is_superuser": "on"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.first_name == "" and not p.is_superuser
    users = User.objects.count()
    r = c.post(reverse("wagtailusers_users:add"), {"username": "bypass", "password1": "Xx-123456789",
                                                  "password2": "Xx-123456789"})
    assert r.status_code == 302 and r["Location"] == reverse("lms:person_new")
    assert User.objects.count() == users
    assert c.get(reverse("wagtailusers_users:delete", args=[p.pk])).status_code == 302
    assert User.objects.filter(pk=p.pk).exists()


def test_a_new_person_sets_a_password_through_the_reset_by_text_message(world, settings):
    settings.LMS_SMS_BACKEND = "lms.sms.LocmemBackend"
    from lms import sms

    sms.outbox.clear()
    p = api.create_person(world["xihu_admin"], real_name="新人", region=world["xihu"], phone="13911112222",
                          id_card=GOOD_ID)
    assert not p.has_usable_password()
    code_id = api.request_password_reset("13911112222")
    assert code_id is not None and len(sms.outbox) == 1
    code = re.search(r"\b(\d{6})\b", sms.outbox[0].body).group(1)
    api.reset_password(code_id, code=code, new_password="Fresh-Pass-2026")
    p.refresh_from_db()
    assert p.check_password("Fresh-Pass-2026")


def test_an_anonymised_account_is_not_edited(world):
    p = world["xihu_trainee"]
    api.anonymise_person(world["xihu_admin"], p, reason="已离开", confirm_name=p.real_name)
    p.refresh_from_db()
    assert not api.can_edit_person(world["xihu_admin"], p)
    c = client_for(world["xihu_admin"])
    assert c.get(reverse("lms:person_edit", args=[p.pk])).status_code == 403
    with pytest.raises(ValidationError):
        api.update_person(world["xihu_admin"], p, real_name="复活", region=p.region)
