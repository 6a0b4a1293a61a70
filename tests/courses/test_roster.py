"""Roster import: every kind of bad row with its row number and reason, nothing stored on failure,
good rows only on request, idempotent re-import, CSV encodings, a class of 200, and who may import."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from openpyxl import Workbook

from courses.models import Enrolment, Programme, RosterImport, TrainingClass
from courses.roster import import_roster
from lms import api as lms_api
from lms import protection
from lms.models import AuditLog, Organisation, Role, User
from tests.instructors.support import in_good_standing

HEADER = ["姓名", "身份证号", "手机号", "单位"]


def id_card(n: int, region: str = "330106") -> str:
    first17 = f"{region}19900101{n:03d}"[:17] if n < 1000 else f"{region}1990{n:07d}"[:17]
    return first17 + protection.id_card_check_char(first17)


def wrong_check_digit(n: int) -> str:
    good = id_card(n)
    return good[:17] + ("0" if good[17] != "0" else "1")


def phone(n: int) -> str:
    return f"139{n:08d}"


def csv_bytes(rows, encoding="utf-8", header=HEADER) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def orgs(regions):
    school = lms_api.create_organisation(None, name="西湖中学", kind=Organisation.Kind.SCHOOL, region=regions["xihu"])
    employer = lms_api.create_organisation(None, name="西湖物流公司", kind=Organisation.Kind.EMPLOYER,
                                           region=regions["xihu"])
    other = lms_api.create_organisation(None, name="北仑港务公司", kind=Organisation.Kind.EMPLOYER,
                                        region=regions["beilun"])
    return {"school": school, "employer": employer, "other": other}


@pytest.fixture
def programme(db):
    return Programme.objects.create(code="first-aider", name="救护员取证", kind=Programme.Kind.FIRST_AIDER)


def make_class(programme, org, capacity=50, name="西湖中学救护员班"):
    return TrainingClass.objects.create(programme=programme, name=name, training_base=org,
                                        starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 20), capacity=capacity)


@pytest.fixture
def klass(programme, orgs):
    return make_class(programme, orgs["school"])


@pytest.fixture
def org_admin(regions, orgs, make_person):
    person = make_person(regions["xihu"], roles=(), username="school_admin")
    lms_api.assign_role(None, person, Role.ORG_ADMIN, organisation=orgs["school"])
    return person


def run(actor, klass, data, name="roster.csv", **kw):
    return import_roster(actor, klass, io.BytesIO(data), file_name=name, **kw)


GOOD = [
    ["张三", id_card(1), phone(1), "西湖中学"],
    ["李四", id_card(2), phone(2), ""],
    ["王五", id_card(3), phone(3), "西湖中学"],
]


def test_a_good_roster_creates_people_and_enrols_them(org_admin, klass, orgs):
    result = run(org_admin, klass, csv_bytes(GOOD))
    assert result.outcome == RosterImport.Outcome.IMPORTED
    assert (result.rows_total, result.rows_bad, result.people_created, result.enrolments_created) == (3, 0, 3, 3)
    assert klass.enrolments.filter(source=Enrolment.Source.ROSTER).count() == 3
    zhang = User.objects.get(real_name="张三")
    assert zhang.id_card_digest == protection.digest(id_card(1), "id_card")
    assert zhang.id_card_masked == protection.mask_id_card(id_card(1))
    assert id_card(1) not in zhang.id_card_protected  # encrypted
    assert zhang.has_role(Role.TRAINEE) and not zhang.has_usable_password()
    assert zhang.organisation == orgs["school"] and zhang.region == orgs["school"].region
    assert User.objects.get(real_name="李四").organisation == orgs["school"]  # blank: the school's cohort
    # nothing in clear in the stored rows or the audit
    stored = str(result.rows)
    assert id_card(1) not in stored and phone(1) not in stored and protection.mask_phone(phone(1)) in stored
    audit = AuditLog.objects.get(action="roster.import")
    assert audit.actor == org_admin and audit.after["enrolments_created"] == 3
    assert id_card(1) not in str(audit.after)


def test_every_kind_of_bad_row_comes_back_with_its_row_and_reason_and_nothing_is_stored(
        org_admin, klass, programme, orgs):
    rows = [
        ["张三", id_card(1), phone(1), ""],                   # row 2: good
        ["", id_card(2), phone(2), ""],                       # row 3: no name
        ["王五", wrong_check_digit(3), phone(3), ""],         # row 4: check digit
        ["赵六", "12345", phone(4), ""],                      # row 5: ID format
        ["钱七", id_card(5), "1234567", ""],                  # row 6: phone format
        ["孙八", id_card(1), phone(6), ""],                   # row 7: duplicate of row 2
        ["周九", id_card(7), phone(7), "不存在的单位"],        # row 8: unknown organisation
        ["吴十", id_card(8), phone(8), "西湖物流公司"],        # row 9: organisation outside the admin's scope
        ["郑一", id_card(9), "", ""],                         # row 10: phone missing
    ]
    people_before = User.objects.count()
    result = run(org_admin, klass, csv_bytes(rows))
    assert result.outcome == RosterImport.Outcome.REJECTED
    assert (result.rows_total, result.rows_bad, result.people_created, result.enrolments_created) == (9, 8, 0, 0)
    assert User.objects.count() == people_before and not Enrolment.objects.exists()
    reasons = {r["row"]: " ".join(r["reasons"]) for r in result.rows if r["status"] == "bad"}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 10}
    assert "姓名" in reasons[3] or "名字" in reasons[3]
    assert "校验位" in reasons[4]
    assert "18" in reasons[5]
    assert "11" in reasons[6] and "手机" in reasons[6]
    assert "第 2 行" in reasons[7] or "第2行" in reasons[7]
    assert "不存在的单位" in reasons[8] and "单位" in reasons[8]
    assert "西湖物流公司" in reasons[9]
    assert "手机" in reasons[10]
    assert next(r for r in result.rows if r["row"] == 2)["status"] == "ok"
    # kept, masked
    kept = RosterImport.objects.get()
    assert kept.outcome == "rejected"
    assert wrong_check_digit(3) not in str(kept.rows) and id_card(1) not in str(kept.rows)


def test_class_full_rows_are_bad_and_good_rows_only_imports_the_rest(org_admin, programme, orgs):
    klass = make_class(programme, orgs["school"], capacity=2)
    rows = [["张三", id_card(1), phone(1), ""], ["李四", id_card(2), phone(2), ""], ["王五", id_card(3), phone(3), ""]]
    result = run(org_admin, klass, csv_bytes(rows))
    assert result.outcome == "rejected"
    bad = [r for r in result.rows if r["status"] == "bad"]
    assert [r["row"] for r in bad] == [4] and "满" in bad[0]["reasons"][0]
    assert not Enrolment.objects.exists() and not User.objects.filter(real_name="张三").exists()
    partial = run(org_admin, klass, csv_bytes(rows), good_rows_only=True)
    assert partial.outcome == RosterImport.Outcome.PARTIAL
    assert (partial.people_created, partial.enrolments_created, partial.rows_bad) == (2, 2, 1)
    assert set(klass.enrolments.values_list("user__real_name", flat=True)) == {"张三", "李四"}
    assert not User.objects.filter(real_name="王五").exists()


def test_reimporting_the_same_roster_changes_nothing(org_admin, klass):
    run(org_admin, klass, csv_bytes(GOOD))
    people, enrolments = User.objects.count(), Enrolment.objects.count()
    again = run(org_admin, klass, csv_bytes(GOOD))
    assert again.outcome == "imported" and (again.people_created, again.enrolments_created) == (0, 0)
    assert {r["status"] for r in again.rows} == {"unchanged"}
    assert (User.objects.count(), Enrolment.objects.count()) == (people, enrolments)


def test_an_existing_person_is_enrolled_not_created_again(org_admin, klass, regions, make_person):
    known = make_person(regions["xihu"], real_name="张三", id_card=id_card(1), phone=phone(1))
    result = run(org_admin, klass, csv_bytes(GOOD[:1]))
    assert (result.people_created, result.enrolments_created) == (0, 1)
    assert klass.enrolments.get().user == known
    assert result.rows[0]["status"] == "enrolled"
    assert User.objects.filter(real_name="张三").count() == 1


def test_a_full_class_does_not_count_people_already_in_it(org_admin, programme, orgs):
    klass = make_class(programme, orgs["school"], capacity=3)
    run(org_admin, klass, csv_bytes(GOOD))
    result = run(org_admin, klass, csv_bytes(GOOD))  # everyone is in: no place needed
    assert result.outcome == "imported" and result.rows_bad == 0


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(org_admin, klass, encoding):
    result = run(org_admin, klass, csv_bytes(GOOD, encoding=encoding))
    assert result.outcome == "imported" and result.people_created == 3
    assert set(User.objects.filter(real_name__in=["张三", "李四", "王五"]).values_list("real_name", flat=True)) == {
        "张三", "李四", "王五"}


def test_xlsx_with_numbers_stored_as_numbers(org_admin, klass):
    rows = [["张三", id_card(1), int(phone(1)), "西湖中学"], ["李四", id_card(2), phone(2), None]]
    result = run(org_admin, klass, xlsx_bytes(rows), name="花名册.xlsx")
    assert result.outcome == "imported" and result.people_created == 2 and result.file_name == "花名册.xlsx"


def test_an_organisation_admin_enrols_a_class_of_200_in_one_go(org_admin, programme, orgs):
    klass = make_class(programme, orgs["school"], capacity=200, name="2026级高一救护员班")
    rows = [[f"学生{i:03d}", id_card(i), phone(i), "西湖中学"] for i in range(1, 201)]
    result = run(org_admin, klass, xlsx_bytes(rows), name="高一.xlsx")
    assert result.outcome == "imported" and (result.people_created, result.enrolments_created) == (200, 200)
    assert klass.enrolments.count() == 200
    assert User.objects.filter(organisation=orgs["school"], role_assignments__role=Role.TRAINEE).count() == 200


@pytest.mark.parametrize("data, message", [
    (b"", "空"),
    (b"%PDF-1.4 something", "CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    ("姓名,电话\n张三,13900000001\n".encode(), "身份证号"),
    ("姓名,身份证号,手机号\n".encode(), "没有"),
])
def test_files_that_are_not_rosters_are_refused_and_nothing_stored(org_admin, klass, data, message):
    with pytest.raises(ValidationError) as exc:
        run(org_admin, klass, data)
    assert message in " ".join(exc.value.messages)
    assert not RosterImport.objects.exists() and not Enrolment.objects.exists()


def test_too_large_and_too_many_rows(org_admin, klass, settings, monkeypatch):
    from courses import roster

    monkeypatch.setattr(roster, "MAX_FILE_BYTES", 100)
    with pytest.raises(ValidationError) as exc:
        run(org_admin, klass, csv_bytes(GOOD))
    assert "MB" in exc.value.messages[0]
    monkeypatch.setattr(roster, "MAX_FILE_BYTES", 5 * 1024 * 1024)
    monkeypatch.setattr(roster, "MAX_ROWS", 2)
    with pytest.raises(ValidationError) as exc:
        run(org_admin, klass, csv_bytes(GOOD))
    assert "2" in exc.value.messages[0]
    assert not RosterImport.objects.exists()


def test_who_may_import(klass, programme, orgs, regions, make_person):
    other_admin = make_person(regions["beilun"], roles=())
    lms_api.assign_role(None, other_admin, Role.ORG_ADMIN, organisation=orgs["other"])
    trainee = make_person(regions["xihu"])
    for actor in (other_admin, trainee):
        with pytest.raises(PermissionDenied):
            run(actor, klass, csv_bytes(GOOD))
    assert not RosterImport.objects.exists()
    county_admin = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"])
    # a region admin may name any organisation of their subtree
    rows = GOOD + [["赵六", id_card(4), phone(4), "西湖物流公司"]]
    assert run(county_admin, klass, csv_bytes(rows)).outcome == "imported"
    assert User.objects.get(real_name="赵六").organisation == orgs["employer"]
    ningbo_admin = make_person(regions["nb"], roles=(), admin_of=regions["nb"])
    with pytest.raises(PermissionDenied):
        run(ningbo_admin, klass, csv_bytes(GOOD))


def test_the_pages_of_another_organisations_class_are_not_found(klass, programme, orgs, regions, make_person):
    other_admin = make_person(regions["beilun"], roles=(), username="port_admin")
    lms_api.assign_role(None, other_admin, Role.ORG_ADMIN, organisation=orgs["other"])
    client = Client()
    client.force_login(other_admin)
    assert client.get(f"/classes/{klass.pk}/").status_code == 404
    upload = io.BytesIO(csv_bytes(GOOD))
    upload.name = "roster.csv"
    assert client.post(f"/classes/{klass.pk}/roster/", {"file": upload}).status_code == 404
    assert client.get("/classes/").status_code == 200
    assert klass.name not in client.get("/classes/").content.decode()
    assert not RosterImport.objects.exists()


def test_upload_page_shows_bad_rows_and_imports_the_good_ones(klass, org_admin):
    client = Client()
    client.force_login(org_admin)
    rows = [["张三", id_card(1), phone(1), ""], ["王五", wrong_check_digit(3), phone(3), ""]]
    upload = io.BytesIO(csv_bytes(rows))
    upload.name = "roster.csv"
    resp = client.post(f"/classes/{klass.pk}/roster/", {"file": upload})
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "校验位" in page and wrong_check_digit(3) not in page
    assert not Enrolment.objects.exists()
    rejected = RosterImport.objects.get()
    resp = client.post(f"/classes/{klass.pk}/roster/", {"good_rows_of": rejected.pk})
    assert resp.status_code == 302
    assert klass.enrolments.get().user.real_name == "张三"
    assert RosterImport.objects.latest("pk").outcome == "partial"


def test_a_region_admin_grants_the_organisation_admin_role(regions, orgs, make_person):
    county_admin = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"])
    assert Role.ORG_ADMIN in lms_api.grantable_roles(county_admin)
    person = lms_api.create_person(county_admin, real_name="何老师", region=regions["xihu"], id_card=id_card(900),
                                   phone=phone(900), organisation=orgs["school"], roles=[Role.ORG_ADMIN])
    assignment = person.role_assignments.get(role=Role.ORG_ADMIN)
    assert assignment.organisation == orgs["school"] and assignment.region is None
    with pytest.raises(ValidationError):  # an organisation admin needs an organisation
        lms_api.create_person(county_admin, real_name="无单位", region=regions["xihu"], roles=[Role.ORG_ADMIN])
    with pytest.raises(PermissionDenied):  # not an organisation outside the admin's region
        lms_api.assign_role(county_admin, person, Role.ORG_ADMIN, organisation=orgs["other"])
    # the organisation admin manages the school's classes only, and grants nothing
    from courses import permissions

    assert lms_api.grantable_roles(person) == []
    assert permissions.is_class_admin(person)
    assert set(permissions.class_organisations(person)) == {orgs["school"]}


def test_the_class_page_lists_the_enrolled_with_masked_numbers(org_admin, klass):
    run(org_admin, klass, csv_bytes(GOOD))
    client = Client()
    client.force_login(org_admin)
    page = client.get(f"/classes/{klass.pk}/").content.decode()
    assert "张三" in page and klass.code in page
    assert protection.mask_id_card(id_card(1)) in page and protection.mask_phone(phone(1)) in page
    assert id_card(1) not in page and phone(1) not in page
    listing = client.get("/classes/").content.decode()
    assert klass.name in listing
    old = klass.code
    assert client.post(f"/classes/{klass.pk}/rotate-code/").status_code == 302
    klass.refresh_from_db()
    assert klass.code != old and AuditLog.objects.filter(action="class.rotate_code").exists()


def test_an_organisation_admin_opens_a_class_at_their_organisation_only(org_admin, programme, orgs, regions,
                                                                         make_person):
    instructor = make_person(regions["xihu"], roles=(Role.INSTRUCTOR,))
    far_instructor = make_person(regions["beilun"], roles=(Role.INSTRUCTOR,))
    in_good_standing(instructor, far_instructor, programmes=[programme])
    client = Client()
    client.force_login(org_admin)
    data = {"name": "高二救护员班", "programme": programme.pk, "training_base": orgs["school"].pk,
            "starts_on": "2026-12-01", "ends_on": "2026-12-20", "theory_deadline": "2026-12-10", "capacity": "60",
            "venue": "体育馆", "schedule": "", "instructors": [instructor.pk]}
    resp = client.post("/classes/new/", data)
    assert resp.status_code == 302
    created = TrainingClass.objects.get(name="高二救护员班")
    assert created.training_base == orgs["school"] and list(created.instructors.all()) == [instructor]
    resp = client.post("/classes/new/", {**data, "name": "别人的班", "training_base": orgs["employer"].pk})
    assert resp.status_code == 200 and not TrainingClass.objects.filter(name="别人的班").exists()
    resp = client.post("/classes/new/", {**data, "name": "远方师资班", "instructors": [far_instructor.pk]})
    assert resp.status_code == 200 and not TrainingClass.objects.filter(name="远方师资班").exists()
    resp = client.post("/classes/new/", {**data, "name": "日期反了", "ends_on": "2026-11-01"})
    assert resp.status_code == 200 and "结束日期" in resp.content.decode()


def test_an_id_card_number_excel_turned_into_a_number_gets_a_hint(org_admin, klass):
    rows = [["张三", float(id_card(1)[:15] + "000"), phone(1), ""]]  # what Excel keeps of 18 digits: 15
    result = run(org_admin, klass, xlsx_bytes(rows), name="花名册.xlsx")
    assert result.outcome == "rejected"
    assert any("文本" in reason for reason in result.rows[0]["reasons"])
