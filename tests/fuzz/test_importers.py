"""Bad input for every importer: class rosters (courses), the exam bank's question workbook (exams), regions
and population figures (``manage.py import_regions``, the /regions/ page, a region admin's population import).

Whatever the file, the importer answers with a clear message in Chinese and stores nothing; a roster with bad
rows is kept as a rejected ``RosterImport`` with each row's reasons (by design), with no person or enrolment."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation
from hypothesis import given
from hypothesis import strategies as st

from courses.models import Enrolment, Programme, RosterImport, TrainingClass
from courses.roster import import_roster
from exams.models import Question, QuestionVersion
from exams.xlsx import COLUMNS, import_questions
from lms import api as lms_api
from lms import protection
from lms.models import AuditLog, Organisation, Region, RegionPopulation, Role, User

from .conftest import (FUZZ, FUZZ_FEW, assert_chinese_message, assert_unchanged, bad_cell, binary_junk,
                       form_errors, not_what_they_claim, rolled_back, snapshot, xlsx_bytes)

ROSTER_HEADER = ["姓名", "身份证号", "手机号", "单位"]
REGION_HEADER = ["省", "市", "县", "区划代码", "年份", "户籍人口", "口径", "来源"]
_safe_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
safe_cell = st.one_of(bad_cell.filter(lambda v: not isinstance(v, str) or not re.search(r"[\x00-\x1f]", v)),
                      _safe_text)


def file_id(value) -> str:
    return value if isinstance(value, str) else ""


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_upload_refused(user, url: str, name: str, data: bytes, tables) -> None:
    """``user`` posts the file to the import page at ``url``: the form comes back with its messages, each in
    Chinese, and nothing in ``tables`` (or the media folder) changes."""
    client = signed_in(user)  # signing in is audited: before the snapshot
    before = snapshot(*tables)
    resp = client.post(url, {"file": SimpleUploadedFile(name, data)})
    assert resp.status_code in (200, 400)  # the form with its errors
    errors = form_errors(resp.content.decode())
    assert errors, "no message"
    for message in errors:
        assert_chinese_message(message)
    assert_unchanged(before, snapshot(*tables))


def _id_card(n: int) -> str:
    first17 = f"33010619900101{n:03d}"
    return first17 + protection.id_card_check_char(first17)


# ---------------------------------------------------------------- rosters


ROSTER_TABLES = (User, Enrolment, RosterImport, AuditLog)


@pytest.fixture
def roster_class(regions, make_person):
    school = lms_api.create_organisation(None, name="西湖中学", kind=Organisation.Kind.SCHOOL, region=regions["xihu"])
    programme = Programme.objects.create(code="fuzz-fa", name="救护员取证", kind=Programme.Kind.FIRST_AIDER)
    today = timezone.localdate()
    klass = TrainingClass.objects.create(programme=programme, name="模糊测试班", training_base=school,
                                         starts_on=today - datetime.timedelta(days=1),
                                         ends_on=today + datetime.timedelta(days=10), capacity=30)
    admin = make_person(regions["xihu"], roles=(), username="fuzz_school_admin")
    lms_api.assign_role(None, admin, Role.ORG_ADMIN, organisation=school)
    return klass, admin


@pytest.mark.parametrize("name,data", not_what_they_claim(ROSTER_HEADER), ids=file_id)
def test_roster_page_refuses_files_that_are_not_rosters(roster_class, name, data):
    klass, admin = roster_class
    assert_upload_refused(admin, f"/classes/{klass.pk}/roster/", name, data, ROSTER_TABLES)


@FUZZ
@given(data=binary_junk, name=st.sampled_from(["r.xlsx", "r.csv", "r.txt", "r"]))
def test_roster_any_bytes_are_refused_or_kept_rejected(roster_class, data, name):
    klass, admin = roster_class
    with translation.override("zh-hans"), rolled_back():
        before = snapshot(User, Enrolment, media=False)
        try:
            result = import_roster(admin, klass, io.BytesIO(data), file_name=name)
        except ValidationError as exc:
            for message in exc.messages:
                assert_chinese_message(message)
        else:
            assert result.outcome == RosterImport.Outcome.REJECTED
            for row in result.rows:
                assert row["status"] == "ok" or row["reasons"]
                for reason in row["reasons"]:
                    assert_chinese_message(reason, quoted=row["name"])
        assert_unchanged(before, snapshot(User, Enrolment, media=False))


roster_row = st.lists(safe_cell, min_size=0, max_size=6)


@FUZZ
@given(rows=st.lists(roster_row, min_size=0, max_size=8), as_csv=st.booleans(), at=st.integers(0, 8))
def test_roster_rows_with_bad_cells_import_nothing(roster_class, rows, as_csv, at):
    """Bad rows among good ones: the upload is kept, rejected, each bad row with its reasons; nobody is
    registered or enrolled (all or nothing)."""
    klass, admin = roster_class
    good = [["张三", _id_card(1), "13900000001", ""], ["李四", _id_card(2), "13900000002", ""]]
    bad = ["王五", _id_card(3)[:17] + ("0" if _id_card(3)[17] != "0" else "1"), "13900000003", ""]  # wrong check digit
    table = good + [list(r) for r in rows]
    table.insert(min(at, len(table)), bad)
    if as_csv:
        import csv

        buf = io.StringIO()
        csv.writer(buf).writerows([ROSTER_HEADER] + [["" if c is None else str(c) for c in r] for r in table])
        data, name = buf.getvalue().encode(), "r.csv"
    else:
        data, name = xlsx_bytes(table, header=ROSTER_HEADER), "r.xlsx"
    with translation.override("zh-hans"), rolled_back():
        before = snapshot(User, Enrolment, media=False)
        result = import_roster(admin, klass, io.BytesIO(data), file_name=name)
        assert result.outcome == RosterImport.Outcome.REJECTED and result.rows_bad >= 1
        assert result.people_created == 0 and result.enrolments_created == 0
        for row in result.rows:
            for reason in row["reasons"]:
                assert_chinese_message(reason, quoted=row["name"] + row["organisation"])
        assert_unchanged(before, snapshot(User, Enrolment, media=False))


# ---------------------------------------------------------------- the exam bank


BANK_TABLES = (Question, QuestionVersion, AuditLog)


@pytest.fixture
def bank(exam_course, bank_admin):
    return exam_course, bank_admin


@pytest.mark.parametrize("name,data", not_what_they_claim(COLUMNS), ids=file_id)
def test_bank_import_page_refuses_files_that_are_not_question_workbooks(bank, name, data):
    _course, admin = bank
    assert_upload_refused(admin, "/admin/exam-bank/questions/import/", name, data, BANK_TABLES)


@FUZZ
@given(data=binary_junk)
def test_bank_import_any_bytes_are_refused(bank, data):
    _course, admin = bank
    with translation.override("zh-hans"), rolled_back():
        before = snapshot(*BANK_TABLES, media=False)
        with pytest.raises(ValidationError) as exc:
            import_questions(admin, io.BytesIO(data))
        for message in exc.value.messages:
            assert_chinese_message(message)
        assert_unchanged(before, snapshot(*BANK_TABLES, media=False))


question_row = st.lists(safe_cell, min_size=0, max_size=len(COLUMNS) + 2)


@FUZZ
@given(rows=st.lists(question_row, min_size=0, max_size=6), at=st.integers(0, 6))
def test_bank_rows_with_bad_cells_import_nothing(bank, rows, at):
    course, admin = bank
    slug = course.modules[0].slug
    good = ["FZ-001", slug, "单选", "易", "成人胸外按压的频率是？", "60次", "110次", "", "", "", "B", "每分钟100～120次。", ""]
    bad = ["FZ-002", slug, "填空", "易", "题干", "甲", "乙", "", "", "", "A", "解析", ""]
    table = [good] + [list(r) for r in rows]
    table.insert(min(at, len(table)), bad)
    with translation.override("zh-hans"), rolled_back():
        before = snapshot(*BANK_TABLES, media=False)
        result = import_questions(admin, io.BytesIO(xlsx_bytes(table, header=COLUMNS)))
        assert not result.imported
        assert any(r.bad for r in result.rows)
        for r in result.rows:
            for message in r.errors:
                assert_chinese_message(message, quoted=" ".join(str(c) for c in sum(rows, []) if c is not None))
        assert_unchanged(before, snapshot(*BANK_TABLES, media=False))


# ---------------------------------------------------------------- regions and population


REGION_TABLES = (Region, RegionPopulation, AuditLog)


@pytest.fixture
def region_people(regions, make_person):
    system = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="fuzz_sys")
    city = make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="fuzz_city_admin")
    return {"system": system, "city": city}


@pytest.mark.parametrize("who", ["system", "city"])
@pytest.mark.parametrize("name,data", not_what_they_claim(REGION_HEADER), ids=file_id)
def test_regions_page_refuses_files_that_are_not_region_workbooks(region_people, who, name, data):
    assert_upload_refused(region_people[who], "/regions/", name, data, REGION_TABLES)


@pytest.mark.parametrize("name,data", not_what_they_claim(REGION_HEADER)[:10:3], ids=file_id)
def test_import_regions_command_refuses_bad_files_in_chinese(region_people, tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    before = snapshot(*REGION_TABLES, media=False)
    with translation.override("zh-hans"), pytest.raises(CommandError) as exc:
        call_command("import_regions", str(path), stdout=io.StringIO())
    for line in str(exc.value).splitlines():
        assert_chinese_message(line)
    assert_unchanged(before, snapshot(*REGION_TABLES, media=False))


@FUZZ
@given(data=binary_junk, who=st.sampled_from(["system", "city"]))
def test_region_import_any_bytes_are_refused(region_people, data, who):
    with translation.override("zh-hans"), rolled_back():
        before = snapshot(*REGION_TABLES, media=False)
        with pytest.raises(ValidationError) as exc:
            lms_api.import_regions_xlsx(region_people[who], io.BytesIO(data))
        for message in exc.value.messages:
            assert_chinese_message(message)
        assert_unchanged(before, snapshot(*REGION_TABLES, media=False))


region_row = st.lists(safe_cell, min_size=0, max_size=len(REGION_HEADER) + 1)


@FUZZ
@given(rows=st.lists(region_row, min_size=0, max_size=6), at=st.integers(0, 6),
       who=st.sampled_from(["system", "city"]))
def test_region_rows_with_bad_cells_import_nothing(region_people, rows, at, who):
    """A good row (a new figure for 西湖区), fuzzed rows and one bad row: nothing is stored. For the city admin
    the fuzzed rows are mostly outside their subtree or new regions, refused too."""
    good = ["浙江省", "杭州市", "西湖区", "", 2024, 1100000, "户籍", "统计年鉴"]
    bad = ["浙江省", "杭州市", "西湖区", "", 1800, 5, "户籍", ""]  # a year out of range
    table = [good] + [list(r) for r in rows]
    table.insert(min(at, len(table)), bad)
    with translation.override("zh-hans"), rolled_back():
        before = snapshot(*REGION_TABLES, media=False)
        with pytest.raises(ValidationError) as exc:
            lms_api.import_regions_xlsx(region_people[who], io.BytesIO(xlsx_bytes(table, header=REGION_HEADER)))
        quoted = " ".join(str(c) for c in sum(rows, []) if c is not None)
        for message in exc.value.messages:
            assert_chinese_message(message, quoted=quoted)
        assert_unchanged(before, snapshot(*REGION_TABLES, media=False))


@FUZZ_FEW
@given(province=_safe_text, city=_safe_text, county=_safe_text, code=_safe_text,
       year=st.one_of(st.none(), st.integers(-10**6, 10**6)),
       population=st.one_of(st.none(), st.integers(-10**12, 10**12)),
       basis=st.sampled_from(["registered", "resident", "", "户籍", "other"]))
def test_region_rows_through_the_api_are_all_or_nothing(region_people, province, city, county, code, year,
                                                         population, basis):
    """``lms.api.import_regions`` with any field values next to a known bad row: refused, nothing stored."""
    rows = [lms_api.RegionRow(province=province, city=city, county=county, code=code, year=year,
                              population=population, basis=basis, line=2),
            lms_api.RegionRow(province="浙江省", city="", county="西湖区", line=3)]  # a county without its city
    for who in ("system", "city"):
        with translation.override("zh-hans"), rolled_back():
            before = snapshot(*REGION_TABLES, media=False)
            with pytest.raises(ValidationError) as exc:
                lms_api.import_regions(region_people[who], rows)
            for message in exc.value.messages:
                assert_chinese_message(message, quoted=" ".join(map(str, (province, city, county, code, year,
                                                                            population))))
            assert_unchanged(before, snapshot(*REGION_TABLES, media=False))
