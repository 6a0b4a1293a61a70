"""Region tree and its XLSX import: all rows or none, with messages naming the row."""

import io

import pytest
from django.core.exceptions import ValidationError
from openpyxl import Workbook

from lms import api
from lms.models import AuditLog, Region, RegionPopulation


def xlsx(rows):
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


HEADER = ["省", "市", "县", "区划代码", "年份", "户籍人口", "来源"]


@pytest.mark.django_db
def test_import_builds_the_tree_and_populations():
    counts = api.import_regions_xlsx(None, xlsx([
        HEADER,
        ["浙江省", None, None, "330000", 2023, 50421000, "统计年鉴"],
        ["浙江省", "杭州市", None, "330100", 2023, "8,600,000", "统计年鉴"],
        ["浙江省", "杭州市", "西湖区", None, 2023, 700000, None],
        [None, None, None, None, None, None, None],
    ]))
    assert counts == {"regions_created": 3, "populations_created": 3, "populations_updated": 0}
    xihu = Region.objects.get(name="西湖区")
    assert xihu.level == "county" and xihu.get_parent().name == "杭州市"
    assert xihu.full_name == "浙江省杭州市西湖区"
    assert Region.objects.get(name="杭州市").population(2023).population == 8600000
    # importing again updates instead of duplicating
    counts = api.import_regions_xlsx(None, xlsx([HEADER, ["浙江省", "杭州市", None, None, 2023, 8700000, None]]))
    assert counts == {"regions_created": 0, "populations_created": 0, "populations_updated": 1}
    assert Region.objects.filter(name="杭州市").count() == 1
    assert AuditLog.objects.filter(action="region.import").count() == 2


GOOD_ROW = ["浙江省", "宁波市", None, None, 2023, 1, None]


@pytest.mark.django_db
@pytest.mark.parametrize("rows,row_number", [
    ([HEADER, GOOD_ROW, ["浙江省", "杭州市", None, None, "两千", 1, None]], "3"),  # year not a number
    ([HEADER, GOOD_ROW, ["浙江省", None, "西湖区", None, None, None, None]], "3"),  # county without city
    ([HEADER, GOOD_ROW, ["浙江省", "杭州市", None, None, 2023, None, None]], "3"),  # year without population
    ([HEADER, GOOD_ROW, ["浙江省", "杭州市", None, None, 1800, 5, None]], "3"),  # year out of range
    ([["名称", "人口"], ["浙江省", 1]], None),  # no 省 column
    ([HEADER], None),  # no data rows
    ([], None),  # empty workbook
])
def test_bad_workbooks_store_nothing(rows, row_number):
    with pytest.raises(ValidationError) as exc:
        api.import_regions_xlsx(None, xlsx(rows))
    assert exc.value.messages and all(exc.value.messages)
    if row_number:
        assert any(row_number in m for m in exc.value.messages)
    assert Region.objects.count() == 0 and RegionPopulation.objects.count() == 0


@pytest.mark.django_db
def test_not_a_workbook():
    with pytest.raises(ValidationError) as exc:
        api.import_regions_xlsx(None, io.BytesIO(b"not a zip"))
    assert exc.value.messages


def test_import_page_shows_row_errors(regions, make_person, client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from lms.models import Role

    sysadmin = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,))
    client.force_login(sysadmin)
    before = Region.objects.count()
    data = xlsx([HEADER, ["浙江省", "温州市", None, None, "x", 1, None]]).getvalue()
    resp = client.post("/regions/", {"file": SimpleUploadedFile("r.xlsx", data)})
    assert resp.status_code == 200
    assert "2" in resp.content.decode() and Region.objects.count() == before
    good = xlsx([HEADER, ["浙江省", "温州市", None, "330300", 2020, 9572903, "七普"]]).getvalue()
    resp = client.post("/regions/", {"file": SimpleUploadedFile("r.xlsx", good)})
    assert resp.status_code == 302
    assert Region.objects.filter(name="温州市", code="330300").exists()


@pytest.mark.django_db
def test_import_command(tmp_path):
    from django.core.management import CommandError, call_command

    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx([HEADER, ["浙江省", "舟山市", "岱山县", None, 2022, 180000, "年鉴"]]).getvalue())
    call_command("import_regions", str(good), stdout=open("/dev/null", "w"))
    assert Region.objects.get(name="岱山县").population(2022).population == 180000
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([HEADER, ["浙江省", None, "某县", None, None, None, None]]).getvalue())
    with pytest.raises(CommandError):
        call_command("import_regions", str(bad))
    assert not Region.objects.filter(name="某县").exists()


@pytest.mark.django_db
def test_the_population_column_header_or_a_basis_column_says_what_the_figure_counts():
    api.import_regions_xlsx(None, xlsx([
        ["省", "市", "区划代码", "年份", "常住人口"],
        ["浙江省", None, "330000", 2020, 64567588],
        ["浙江省", "杭州市", "330100", 2020, 11936010],
    ]))
    assert {p.basis for p in RegionPopulation.objects.all()} == {RegionPopulation.Basis.RESIDENT}
    api.import_regions_xlsx(None, xlsx([
        ["省", "市", "年份", "人口", "口径"],
        ["浙江省", "杭州市", 2023, 8600000, "户籍"],
        ["浙江省", "宁波市", 2023, 6200000, "常住"],
    ]))
    assert Region.objects.get(name="杭州市").population(2023).basis == RegionPopulation.Basis.REGISTERED
    assert Region.objects.get(name="宁波市").population(2023).basis == RegionPopulation.Basis.RESIDENT
    # A bare 人口 column without 口径 does not say what it counts: the row is refused, nothing stored.
    before = RegionPopulation.objects.count()
    with pytest.raises(ValidationError) as exc:
        api.import_regions_xlsx(None, xlsx([["省", "市", "年份", "人口"], ["浙江省", "温州市", 2023, 9000000]]))
    assert "2" in exc.value.messages[0] and "户籍" in exc.value.messages[0]
    assert RegionPopulation.objects.count() == before and not Region.objects.filter(name="温州市").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["3301", "33010A", "3301060"])
def test_a_malformed_division_code_is_refused(code):
    with pytest.raises(ValidationError) as exc:
        api.import_regions_xlsx(None, xlsx([HEADER, ["浙江省", "杭州市", None, code, 2023, 1, None]]))
    assert any(code in m for m in exc.value.messages)
    assert Region.objects.count() == 0


@pytest.mark.django_db
def test_siblings_are_listed_in_division_code_order_even_when_codes_come_later():
    # Imported by name first (西湖区 < 上城区 < 滨江区 in no particular code order), codes added by a second import.
    api.import_regions_xlsx(None, xlsx([HEADER] + [["浙江省", "杭州市", n, None, None, None, None]
                                                   for n in ("西湖区", "滨江区", "上城区")]))
    api.import_regions_xlsx(None, xlsx([HEADER] + [["浙江省", "杭州市", n, c, None, None, None]
                                                   for n, c in (("西湖区", "330106"), ("滨江区", "330108"),
                                                                ("上城区", "330102"))]))
    hz = Region.objects.get(name="杭州市")
    assert [r.name for r in hz.get_children()] == ["上城区", "西湖区", "滨江区"]
    assert [r.name for r in Region.objects.filter(level="county").order_by("path")] == ["上城区", "西湖区", "滨江区"]
