"""Region admins import population figures for their own subtree: existing regions only, all rows or none,
every bad row named with its number and reason. System admins keep the full import (tests/lms/test_regions.py)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from lms import api
from lms.models import AuditLog, Region, RegionPopulation, Role
from tests.lms.test_regions import xlsx

HEADER = ["省", "市", "县", "区划代码", "年份", "户籍人口", "来源"]


@pytest.fixture
def city_admin(regions, make_person):
    return make_person(regions["hz"], roles=(), admin_of=regions["hz"])


def figures():
    return {(p.region.name, p.year): (p.population, p.basis) for p in RegionPopulation.objects.select_related("region")}


def test_a_region_admin_imports_figures_for_regions_of_their_subtree(regions, city_admin):
    counts = api.import_regions_xlsx(city_admin, xlsx([
        HEADER,
        ["浙江省", "杭州市", None, None, 2023, 12_000_000, "杭州统计年鉴2024"],
        ["浙江省", "杭州市", "西湖区", "", 2023, 1_100_000, None],
        ["浙江省", "杭州市", "西湖区", None, 2020, 1_050_000, None],  # an earlier year, updated
    ]))
    assert counts == {"regions_created": 0, "populations_created": 2, "populations_updated": 1}
    got = figures()
    assert got[("杭州市", 2023)] == (12_000_000, "registered") and got[("西湖区", 2020)][0] == 1_050_000
    assert got[("西湖区", 2023)] == (1_100_000, "registered")
    entry = AuditLog.objects.get(action="region.population_import")
    assert entry.actor == city_admin and entry.after["populations_created"] == 2


def test_every_bad_row_is_reported_and_nothing_is_stored(regions, city_admin):
    before, regions_before = figures(), Region.objects.count()
    with pytest.raises(ValidationError) as exc:
        api.import_regions_xlsx(city_admin, xlsx([
            HEADER,
            ["浙江省", "杭州市", "西湖区", None, 2023, 1_100_000, None],  # good
            ["浙江省", "杭州市", "滨江区", None, 2023, 500_000, None],  # a new region
            ["浙江省", "宁波市", "北仑区", None, 2023, 800_000, None],  # outside 杭州市
            ["浙江省", None, None, None, 2023, 65_000_000, None],  # above 杭州市
            ["浙江省", "杭州市", "上城区", None, None, None, None],  # no figure
            ["浙江省", "杭州市", "上城区", "330199", 2023, 1, None],  # a different division code
            ["江苏省", "南京市", None, None, 2023, 9_000_000, None],  # another province, unknown
        ]))
    messages = exc.value.messages
    assert len(messages) == 6
    for line, word in ((3, "滨江区"), (4, "北仑区"), (5, "浙江省"), (6, None), (7, "330199"), (8, "江苏省南京市")):
        matching = [m for m in messages if str(line) in m]
        assert matching, (line, messages)
        if word:
            assert any(word in m for m in matching), (line, word, messages)
    assert not any("2" in m.split(":")[0] for m in messages)  # row 2 is good
    assert figures() == before and Region.objects.count() == regions_before
    assert not AuditLog.objects.filter(action="region.population_import").exists()


def test_the_county_admin_cannot_reach_the_city_and_others_cannot_import(regions, make_person):
    county_admin = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"])
    with pytest.raises(ValidationError) as exc:
        api.import_regions(county_admin, [api.RegionRow(province="浙江省", city="杭州市", year=2023, population=1,
                                                         line=2)])
    assert "2" in exc.value.messages[0] and "杭州市" in exc.value.messages[0]
    api.import_regions(county_admin, [api.RegionRow(province="浙江省", city="杭州市", county="西湖区", year=2023,
                                                    population=1_200_000, basis="resident", line=2)])
    assert figures()[("西湖区", 2023)] == (1_200_000, "resident")
    trainee = make_person(regions["xihu"])
    with pytest.raises(PermissionDenied):
        api.import_regions(trainee, [api.RegionRow(province="浙江省", city="杭州市", county="西湖区", year=2024,
                                                   population=1)])


def test_a_system_admin_still_adds_regions(regions, make_person):
    sysadmin = make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,))
    counts = api.import_regions_xlsx(sysadmin, xlsx([HEADER, ["浙江省", "杭州市", "滨江区", "330108", 2023, 500_000,
                                                              None]]))
    assert counts["regions_created"] == 1 and Region.objects.filter(name="滨江区", code="330108").exists()


def test_the_page_takes_a_region_admins_figures_and_lists_every_year(regions, city_admin, client):
    client.force_login(city_admin)
    bad = xlsx([HEADER, ["浙江省", "宁波市", "北仑区", None, 2023, 800_000, None]]).getvalue()
    resp = client.post("/regions/", {"file": SimpleUploadedFile("p.xlsx", bad)})
    body = resp.content.decode()
    assert resp.status_code == 200 and "北仑区" in body  # the row's reason, not the region's row
    assert ("北仑区", 2023) not in figures()
    good = xlsx([HEADER, ["浙江省", "杭州市", "西湖区", None, 2023, 1_100_000, None],
                 ["浙江省", "杭州市", "西湖区", None, 2024, 1_120_000, None]]).getvalue()
    resp = client.post("/regions/", {"file": SimpleUploadedFile("p.xlsx", good)})
    assert resp.status_code == 302
    body = client.get("/regions/").content.decode()
    assert "1,120,000" in body  # the latest year
    assert "2023: 1,100,000" in body and "2020: 1,000,000" in body  # the earlier ones
    assert "北仑区" not in body
