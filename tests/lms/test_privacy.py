"""Personal-data rights: consent to the privacy notice, the export of one's data, anonymisation, declarations."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from lms import api, privacy
from lms.models import AuditLog, OneTimeCode, PrivacyConsent, Role, User
from manikin import api as manikin_api

PASSWORD = "pw-Secret-123"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


@pytest.fixture(autouse=True)
def _consent_asked(settings, tmp_path):
    settings.LMS_PRIVACY_CONSENT_REQUIRED = True
    settings.PRIVACY_NOTICE_VERSION = "2026-11"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"privacy-{tmp_path.name}"}}


def consent(user, version="2026-11"):
    PrivacyConsent.objects.create(user=user, version=version, sensitive=True)


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def people(regions, make_person):
    trainee = make_person(regions["xihu"], username="zhang", real_name="张伟", id_card="11010519491231002X",
                          phone="13700004444")
    User.objects.filter(pk=trainee.pk).update(email="zhang@example.org")
    trainee.refresh_from_db()
    trainee.photo.save("zhang.png", ContentFile(PNG), save=True)
    other = make_person(regions["xihu"], username="li", real_name="李娜", id_card="110105194912310038",
                        phone="13700005555")
    xihu_admin = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xihu_admin",
                             real_name="西湖管理员")
    sc_admin = make_person(regions["shangcheng"], roles=(), admin_of=regions["shangcheng"], username="sc_admin",
                           real_name="上城管理员")
    sysadmin = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="root", real_name="系统管理员")
    sysadmin.is_staff = sysadmin.is_superuser = True
    sysadmin.save()
    examiner = make_person(regions["xihu"], roles=(Role.EXAMINER,), username="exam", real_name="考官甲")
    for p in (trainee, other, xihu_admin, sc_admin, sysadmin, examiner):
        consent(p)
    return {"trainee": trainee, "other": other, "xihu_admin": xihu_admin, "sc_admin": sc_admin,
            "sysadmin": sysadmin, "examiner": examiner}


@pytest.fixture
def recordings(people, regions):
    """A scored-or-running recording of each trainee at an exam site in 西湖区, started by the examiner."""
    org = api.create_organisation(None, name="考点", kind="exam_site", region=regions["xihu"])
    room = manikin_api.create_room(None, organisation=org, name="考场一")
    station, _token = manikin_api.create_station(None, room=room, name="工位1")
    m1 = manikin_api.assign_manikin(None, station=station, address="F0:0D:00:00:00:01", label="A")
    m2 = manikin_api.assign_manikin(None, station=station, address="F0:0D:00:00:00:02", label="B")
    mine = manikin_api.start_recording(people["sysadmin"], m1, trainee=people["trainee"])
    theirs = manikin_api.start_recording(people["sysadmin"], m2, trainee=people["other"])
    return {"mine": mine, "theirs": theirs}


# ---------------------------------------------------------------- consent


@pytest.mark.django_db
def test_a_person_without_consent_is_sent_to_the_notice_and_agreeing_is_recorded(regions, make_person):
    person = make_person(regions["xihu"], username="new")
    c = client_for(person)
    resp = c.get("/dashboard/")
    assert resp.status_code == 302 and resp["Location"] == reverse("lms:privacy_notice") + "?next=%2Fdashboard%2F"
    page = c.get(resp["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "个人信息保护告知" in body and "身份证件号码" in body and "保存多久" in body and "您的权利" in body
    # the general agreement alone is not enough: the separate consent to sensitive information is required
    resp = c.post(reverse("lms:privacy_notice"), {"agree": "on", "next": "/dashboard/"},
                  REMOTE_ADDR="10.1.2.3")
    assert resp.status_code == 200 and not PrivacyConsent.objects.filter(user=person).exists()
    resp = c.post(reverse("lms:privacy_notice"), {"agree": "on", "sensitive": "on", "next": "/dashboard/"},
                  REMOTE_ADDR="10.1.2.3")
    assert resp.status_code == 302 and resp["Location"] == "/dashboard/"
    consent_row = PrivacyConsent.objects.get(user=person)
    assert (consent_row.version, consent_row.sensitive, consent_row.ip) == ("2026-11", True, "10.1.2.3")
    assert AuditLog.objects.filter(action="privacy.consent", object_id=str(person.pk)).count() == 1
    assert c.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_a_new_notice_version_asks_again(regions, make_person, settings):
    person = make_person(regions["xihu"])
    consent(person)
    c = client_for(person)
    assert c.get("/dashboard/").status_code == 200
    settings.PRIVACY_NOTICE_VERSION = "2027-03"
    resp = c.get("/dashboard/")
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("lms:privacy_notice"))
    assert "告知内容已更新" in c.get(resp["Location"]).content.decode()
    c.post(reverse("lms:privacy_notice"), {"agree": "on", "sensitive": "on"})
    assert set(person.privacy_consents.values_list("version", flat=True)) == {"2026-11", "2027-03"}
    assert c.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_exempt_pages_json_requests_and_declining(regions, make_person):
    person = make_person(regions["xihu"])
    c = client_for(person)
    for path in (reverse("lms:privacy_notice"), reverse("lms:password_change"), reverse("lms:healthz"),
                 reverse("lms:password_reset"), "/static/lms/site.css"):
        assert c.get(path).status_code == 200, path
    # a request for JSON gets JSON, not a redirect to a page
    resp = c.get("/my/recordings/", HTTP_ACCEPT="application/json")
    assert resp.status_code == 403 and resp.json()["error"] == "privacy_consent_required"
    assert resp.json()["notice_url"] == reverse("lms:privacy_notice")
    # a POST elsewhere is refused the same way (redirected, nothing done)
    assert c.post(reverse("lms:my_data"), {"fmt": "json", "password": PASSWORD}).status_code == 302
    # declining signs out
    resp = c.post(reverse("lms:privacy_notice"), {"decline": "1"})
    assert resp.status_code == 302
    assert c.get("/dashboard/")["Location"].startswith(reverse("lms:login"))
    assert not PrivacyConsent.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_every_page_of_the_product_waits_for_consent(regions, make_person):
    """Every named route but the exempt ones, asked for by a signed-in person without consent: the notice."""
    from tests.test_authorization_matrix import HTTP_ROUTES

    person = make_person(regions["xihu"])
    c = client_for(person)
    exempt = {"lms:privacy_notice", "lms:logout", "lms:healthz", "lms:password_change", "lms:password_reset",
              "lms:password_reset_verify", "set_language", "django.conf.urls.i18n"}
    checked = 0
    for key, route in HTTP_ROUTES.items():
        if key in exempt or ":" not in key or route.arguments and not all(
                a in ("pk", "room_id", "manikin_id", "recording_id", "token", "payload") for a in route.arguments):
            continue
        kwargs = {a: "1" if a == "payload" else 1 for a in route.arguments}
        path = reverse(key, kwargs=kwargs)
        resp = c.get(path)
        assert resp.status_code == 302 and resp["Location"].startswith(reverse("lms:privacy_notice")), key
        checked += 1
    assert checked >= 10


@pytest.mark.django_db
def test_only_the_current_version_can_be_agreed_to(regions, make_person):
    person = make_person(regions["xihu"])
    with pytest.raises(ValidationError):
        api.record_privacy_consent(person, version="2020-01", sensitive=True)
    with pytest.raises(ValidationError):
        api.record_privacy_consent(person, version="2026-11", sensitive=False)
    assert not PrivacyConsent.objects.exists()


# ---------------------------------------------------------------- export


def _export(user, fmt: str, password: str = PASSWORD):
    return client_for(user).post(reverse("lms:my_data"), {"fmt": fmt, "password": password})


@pytest.mark.django_db
def test_the_json_export_holds_every_declaration_for_the_person_and_nothing_of_others(people, recordings):
    trainee, other = people["trainee"], people["other"]
    api.update_person_contact(people["xihu_admin"], other, phone="13700009999")  # audit rows about another person
    api.request_password_reset("zhang")
    resp = _export(trainee, "json")
    assert resp.status_code == 200 and resp["Content-Disposition"].startswith('attachment; filename="my-data-')
    doc = json.loads(resp.content)
    sections = {s["key"]: s for s in doc["sections"]}
    assert set(sections) == {d.key for d in privacy.declarations()}
    profile = sections["lms.profile"]["rows"][0]
    assert (profile["username"], profile["real_name"], profile["email"]) == ("zhang", "张伟", "zhang@example.org")
    assert profile["id_card"] == "11010519491231002X" and profile["phone"] == "13700004444"  # own, in clear
    assert profile["photo"] == reverse("lms:person_photo", args=[trainee.pk])
    assert [r["role"] for r in sections["lms.roles"]["rows"]] == ["学员"]
    assert sections["lms.consents"]["rows"][0]["version"] == "2026-11"
    assert len(sections["lms.one_time_codes"]["rows"]) == 1
    assert {r["action"] for r in sections["lms.audit"]["rows"]} >= {"person.create", "auth.reset_code_sent"}
    recs = sections["manikin.recordings"]["rows"]
    assert [r["recording"] for r in recs] == [recordings["mine"].pk]
    text = resp.content.decode()
    for foreign in ("李娜", "110105194912310038", "13700005555", "13700009999", "西湖管理员", "xihu_admin", "root"):
        assert foreign not in text, foreign
    # audited, without the content
    record = AuditLog.objects.get(action="privacy.export")
    assert record.actor_id == trainee.pk and record.after["format"] == "json"
    assert record.after["rows"]["manikin.recordings"] == 1
    assert "11010519491231002X" not in json.dumps(record.after)


@pytest.mark.django_db
def test_the_staff_export_names_no_trainee(people, recordings):
    doc = json.loads(_export(people["sysadmin"], "json").content)
    text = json.dumps(doc, ensure_ascii=False)
    rows = {s["key"]: s["rows"] for s in doc["sections"]}["manikin.recordings"]
    assert len(rows) == 2 and all("score" not in r and "trainee" not in r for r in rows)
    for foreign in ("张伟", "李娜", "11010519491231002X", "13700004444", "zhang"):
        assert foreign not in text, foreign


@pytest.mark.django_db
def test_the_xlsx_export_has_a_sheet_per_declaration_and_no_formulas(people, recordings):
    from openpyxl import load_workbook

    trainee = people["trainee"]
    User.objects.filter(pk=trainee.pk).update(first_name='=HYPERLINK("http://evil.example","x")')
    resp = _export(trainee, "xlsx")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(resp.content))
    assert len(wb.sheetnames) == 1 + len(privacy.declarations())
    profile = wb[str(dict((d.key, d.title) for d in privacy.declarations())["lms.profile"])]
    header = [c.value for c in profile[1]]
    values = dict(zip(header, [c.value for c in profile[2]]))
    assert values["real_name"] == "张伟" and values["id_card"] == "11010519491231002X"
    cell = profile.cell(row=2, column=header.index("first_name") + 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")  # text, never a formula
    every_value = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    assert "李娜" not in every_value and "110105194912310038" not in every_value


@pytest.mark.django_db
def test_the_export_needs_the_password_and_is_rate_limited(people, settings):
    settings.LMS_PRIVACY_EXPORTS_PER_HOUR = 2
    trainee = people["trainee"]
    resp = _export(trainee, "json", password="wrong")
    assert resp.status_code == 200 and "密码不正确" in resp.content.decode()
    assert not AuditLog.objects.filter(action="privacy.export").exists()
    assert _export(trainee, "json").status_code == 200
    resp = _export(trainee, "json")
    assert resp.status_code == 429
    assert AuditLog.objects.filter(action="privacy.export_refused").count() == 1
    assert AuditLog.objects.filter(action="privacy.export").count() == 1


@pytest.mark.django_db
def test_my_data_page_lists_the_declarations(people):
    body = client_for(people["trainee"]).get(reverse("lms:my_data")).content.decode()
    for d in privacy.declarations():
        assert str(d.title) in body


# ---------------------------------------------------------------- anonymisation


def _anonymise(actor, person, reason="已离职（2026-10-31）", confirm=None):
    return client_for(actor).post(reverse("lms:person_anonymise", args=[person.pk]),
                                  {"reason": reason, "confirm_name": person.display_name if confirm is None else confirm})


@pytest.mark.django_db
def test_anonymisation_erases_what_it_says_and_keeps_the_exam_records(people, recordings):
    trainee, admin = people["trainee"], people["xihu_admin"]
    api.request_password_reset("zhang")
    photo_path = trainee.photo.path
    trainee_client = client_for(trainee)
    assert trainee_client.get("/dashboard/").status_code == 200
    digest_before = trainee.id_card_digest
    resp = _anonymise(admin, trainee)
    assert resp.status_code == 302 and resp["Location"] == reverse("lms:person", args=[trainee.pk])
    p = User.objects.get(pk=trainee.pk)
    assert p.username == f"deleted-{p.pk}" and p.real_name == f"已注销用户 #{p.pk}"
    assert p.display_name == f"已注销用户 #{p.pk}" or p.display_name.endswith(f"#{p.pk}")
    assert (p.email, p.first_name, p.last_name) == ("", "", "")
    assert (p.id_card_protected, p.id_card_digest, p.id_card_masked) == ("", None, "")
    assert (p.phone_protected, p.phone_digest, p.phone_masked) == ("", "", "")
    assert not p.photo and not __import__("os").path.exists(photo_path)
    assert not p.is_active and not p.has_usable_password() and p.anonymised_at is not None
    assert not p.role_assignments.exists() and not OneTimeCode.objects.filter(user=p).exists()
    assert PrivacyConsent.objects.get(user=p).ip is None
    # kept: the exam record, still the same person's
    rec = recordings["mine"].__class__.objects.get(pk=recordings["mine"].pk)
    assert rec.trainee_id == p.pk
    # the ID-card number is free again: the person may be registered anew if they come back
    assert digest_before and not User.objects.filter(id_card_digest=digest_before).exists()
    # audited with the reason, without the name
    record = AuditLog.objects.get(action="privacy.anonymise")
    assert record.actor_id == admin.pk and record.object_id == str(p.pk)
    assert record.after["reason"] == "已离职（2026-10-31）"
    assert "张伟" not in json.dumps(record.after, ensure_ascii=False) and "张伟" not in record.object_repr
    assert record.after["counts"]["lms.roles"]["role_assignments"] == 1
    assert record.after["sessions_ended"] >= 1
    # the old session is over, and nobody can sign in as them
    assert trainee_client.get("/dashboard/")["Location"].startswith(reverse("lms:login"))
    for username in ("zhang", p.username):
        resp = Client().post(reverse("lms:login"), {"username": username, "password": PASSWORD})
        assert resp.status_code == 200 and "_auth_user_id" not in Client().session
    # the person page says so, and offers no second anonymisation
    body = client_for(admin).get(reverse("lms:person", args=[p.pk])).content.decode()
    assert "张伟" not in body and f"#{p.pk}" in body
    with pytest.raises(ValidationError):
        api.anonymise_person(admin, p, reason="again", confirm_name=p.display_name)


@pytest.mark.django_db
def test_anonymisation_is_refused_outside_the_region_and_without_reason_or_confirmation(people):
    trainee = people["trainee"]
    fields = [f.attname for f in User._meta.concrete_fields if f.name != "last_login"]  # signing in sets it
    before = User.objects.filter(pk=trainee.pk).values(*fields).get()
    # another county's admin does not even see the person
    assert _anonymise(people["sc_admin"], trainee).status_code == 404
    with pytest.raises(PermissionDenied):
        api.anonymise_person(people["sc_admin"], trainee, reason="x", confirm_name="张伟")
    # no reason, wrong name: the form again, nothing changes
    resp = _anonymise(people["xihu_admin"], trainee, reason="")
    assert resp.status_code == 200 and "请填写原因" in resp.content.decode()
    resp = _anonymise(people["xihu_admin"], trainee, confirm="张")
    assert resp.status_code == 200 and "请按显示的姓名输入" in resp.content.decode()
    # an examiner does not see the person; nobody anonymises themselves; a region admin not a system admin
    assert _anonymise(people["examiner"], trainee).status_code == 404
    assert _anonymise(trainee, trainee).status_code == 403
    assert _anonymise(people["xihu_admin"], people["xihu_admin"]).status_code == 403
    with pytest.raises(PermissionDenied):
        api.anonymise_person(people["xihu_admin"], people["sysadmin"], reason="x", confirm_name="系统管理员")
    with pytest.raises(PermissionDenied):
        api.anonymise_person(people["sysadmin"], people["sysadmin"], reason="x", confirm_name="系统管理员")
    assert User.objects.filter(pk=trainee.pk).values(*fields).get() == before
    assert not AuditLog.objects.filter(action="privacy.anonymise").exists()
    assert trainee.role_assignments.exists()


@pytest.mark.django_db
def test_a_system_admin_may_anonymise_a_region_admin(people):
    api.anonymise_person(people["sysadmin"], people["sc_admin"], reason="调离", confirm_name="上城管理员")
    p = User.objects.get(pk=people["sc_admin"].pk)
    assert p.anonymised_at and not p.role_assignments.exists()


@pytest.mark.django_db
def test_a_region_admin_cannot_anonymise_the_admin_of_a_wider_region(people, regions, make_person):
    city_admin = make_person(regions["xihu"], roles=(), admin_of=regions["hz"], username="hz", real_name="杭州管理员")
    assert not api.can_anonymise(people["xihu_admin"], city_admin)
    with pytest.raises(PermissionDenied):
        api.anonymise_person(people["xihu_admin"], city_admin, reason="x", confirm_name="杭州管理员")


@pytest.mark.django_db
def test_the_confirmation_page_lists_what_is_erased_and_kept(people):
    body = client_for(people["xihu_admin"]).get(
        reverse("lms:person_anonymise", args=[people["trainee"].pk])).content.decode()
    assert "不可撤销" in body and "张伟" in body
    for d in privacy.declarations():
        for what, _why in d.kept:
            assert str(what) in body


# ---------------------------------------------------------------- declarations


def test_every_model_with_personal_data_is_declared():
    """A model of a project app with a foreign key to the user model, or a field named like personal data
    (name, phone, id_card, email, address, photo, ip…), must be in an app's privacy declaration (its
    ``<app>/privacy.py``) or declared not personal with the reason: see docs/privacy.md."""
    needing = privacy.models_needing_declaration()
    assert "manikin.recording" in needing and "lms.user" in needing
    covered = privacy.declared_models() | set(privacy.not_personal_models())
    missing = {m: why for m, why in needing.items() if m not in covered}
    assert not missing, (f"models holding personal data without a privacy declaration: {missing}; add a "
                         "Declaration (or not_personal) in the app's privacy.py, see docs/privacy.md")


def test_declarations_name_real_models_and_say_what_they_keep():
    from django.apps import apps

    for d in privacy.declarations():
        for label in d.models:
            apps.get_model(label)  # raises for a model that does not exist
        assert d.export is not None and str(d.title) and str(d.holds)
        for what, why in d.kept:
            assert str(what) and str(why), d.key
