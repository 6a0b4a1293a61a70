"""The region dashboards' pages (dashboards.views): who may open which region, the drill-down and the
breadcrumb within the viewer's scope, a known figure from hand-made facts shown rounded down, the year
asked for, the targets, the counties' coverage, the charts' data and the export route's checks.

The world: 浙江省 → 杭州市 (西湖区, 上城区), 宁波市 (北仑区) (tests/conftest.py ``regions``) with an admin of
each level, a system admin and a trainee. Pages are read in English (the msgids)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from courses.models import AwarenessRecord
from dashboards import facts
from dashboards.models import Target
from lms import api as lms_api
from lms.models import Organisation, RegionPopulation, Role

THIS_YEAR = timezone.localdate().year
LAST_YEAR = THIS_YEAR - 1


@pytest.fixture
def people(regions, make_person):
    return {
        "county": make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xihu-admin"),
        "city": make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz-admin"),
        "province": make_person(regions["zj"], roles=(), admin_of=regions["zj"], username="zj-admin"),
        "system": make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,), username="sys"),
        "trainee": make_person(regions["xihu"], username="trainee"),
    }


@pytest.fixture
def en(client):
    client.cookies["django_language"] = "en"
    return client


def page(region, year=None):
    url = reverse("dashboards:region", args=[region.pk])
    return url if year is None else f"{url}?year={year}"


# ------------------------------------------------------------------ the start page


def test_the_start_page_sends_each_viewer_where_their_dashboards_begin(en, regions, people, make_person):
    resp = en.get(reverse("dashboards:index"))
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("lms:login"))

    en.force_login(people["trainee"])
    assert en.get(reverse("dashboards:index")).status_code == 403

    en.force_login(people["county"])  # one region: straight to it
    resp = en.get(reverse("dashboards:index"))
    assert resp.status_code == 302 and resp["Location"] == page(regions["xihu"])

    two = make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="two-regions")
    lms_api.assign_role(None, two, Role.REGION_ADMIN, region=regions["beilun"])
    en.force_login(two)
    html = en.get(reverse("dashboards:index")).content.decode()
    assert f'href="{page(regions["xihu"])}"' in html and f'href="{page(regions["beilun"])}"' in html
    assert f'href="{page(regions["zj"])}"' not in html

    en.force_login(people["system"])  # the provinces
    html = en.get(reverse("dashboards:index")).content.decode()
    assert f'href="{page(regions["zj"])}"' in html and f'href="{page(regions["hz"])}"' not in html


# ------------------------------------------------------------------ scoping

SCOPE = {
    # viewer: the regions they may open; every other region is refused (403)
    "county": {"xihu"},
    "city": {"hz", "xihu", "shangcheng"},
    "province": {"zj", "hz", "xihu", "shangcheng", "nb", "beilun"},
    "system": {"zj", "hz", "xihu", "shangcheng", "nb", "beilun"},
    "trainee": set(),
}


@pytest.mark.parametrize("viewer", list(SCOPE))
def test_each_viewer_opens_exactly_their_subtree_and_its_export(client, regions, people, viewer):
    client.force_login(people[viewer])
    for name, region in regions.items():
        expected = 200 if name in SCOPE[viewer] else 403
        assert client.get(page(region)).status_code == expected, (viewer, name)
    # the export makes the same checks before anything else (403 outside, without touching the workbook)
    outside = next((r for n, r in regions.items() if n not in SCOPE[viewer]), None)
    if outside is not None:
        assert client.get(reverse("dashboards:export", args=[outside.pk])).status_code == 403


def test_an_unknown_region_is_404_and_a_signed_out_visitor_is_sent_to_log_in(client, regions, people):
    resp = client.get(page(regions["xihu"]))
    assert resp.status_code == 302 and resp["Location"].startswith(reverse("lms:login") + "?next=")
    client.force_login(people["system"])
    assert client.get(reverse("dashboards:region", args=[999999])).status_code == 404
    assert client.get(reverse("dashboards:export", args=[999999])).status_code == 404


def test_the_drill_down_shows_the_children_only_and_links_them_with_the_same_year(en, regions, people):
    en.force_login(people["province"])
    html = en.get(page(regions["zj"], LAST_YEAR)).content.decode()
    drill = html[html.index('class="drill"'):]
    drill = drill[:drill.index("</table>")]
    assert f'href="{page(regions["hz"], LAST_YEAR)}"' in drill and f'href="{page(regions["nb"], LAST_YEAR)}"' in drill
    assert "西湖区" not in drill  # grandchildren are one click further

    en.force_login(people["city"])
    html = en.get(page(regions["hz"])).content.decode()
    drill = html[html.index('class="drill"'):]
    drill = drill[:drill.index("</table>")]
    assert f'href="{page(regions["xihu"], THIS_YEAR)}"' in drill
    assert f'href="{page(regions["shangcheng"], THIS_YEAR)}"' in drill
    assert "北仑区" not in html and "宁波市" not in html

    # a county has nothing below it: its own figures only, no empty table
    html = en.get(page(regions["xihu"])).content.decode()
    assert 'class="drill"' not in html and 'data-tile="population"' in html


def test_the_breadcrumb_links_only_the_regions_above_that_the_viewer_may_open(en, regions, people):
    en.force_login(people["county"])
    html = en.get(page(regions["xihu"])).content.decode()
    crumbs = html[html.index('class="crumbs'):html.index("</nav>", html.index('class="crumbs'))]
    assert page(regions["hz"]) not in crumbs and page(regions["zj"]) not in crumbs
    assert "西湖区" in crumbs

    en.force_login(people["city"])
    html = en.get(page(regions["xihu"], LAST_YEAR)).content.decode()
    crumbs = html[html.index('class="crumbs'):html.index("</nav>", html.index('class="crumbs'))]
    assert f'href="{page(regions["hz"], LAST_YEAR)}"' in crumbs and page(regions["zj"]) not in crumbs


# ------------------------------------------------------------------ figures


def _tile(html: str, key: str) -> str:
    start = html.index(f'data-tile="{key}"')
    return html[start:html.index("</li>", start)]


def _awareness(region, day: dt.date, n: int) -> None:
    AwarenessRecord.objects.bulk_create([AwarenessRecord(region=region, held_on=day, source="session")
                                         for _ in range(n)])
    facts.mark([(region.pk, day)])  # bulk inserts send no post_save


def test_the_awareness_rate_from_hand_made_facts_is_shown_rounded_down_with_its_terms(en, regions, people):
    xihu = regions["xihu"]
    RegionPopulation.objects.create(region=xihu, year=LAST_YEAR, population=3000, is_demo=True,
                                    basis=RegionPopulation.Basis.REGISTERED)
    _awareness(xihu, dt.date(LAST_YEAR, 3, 14), 2000)  # 2000 / 3000 = 66.666…%: 66.6 %, never 66.7 %
    en.force_login(people["city"])
    html = en.get(page(xihu, LAST_YEAR)).content.decode()
    tile = _tile(html, "awareness_pct")
    assert "66.6%" in tile and "66.7%" not in html
    assert "2,000" in tile and "3,000" in tile  # numerator and denominator
    population = _tile(html, "population")
    assert "3,000" in population and "registered (户籍)" in population and "demo figure" in population
    assert "2,000" in _tile(html, "awareness")

    # the city adds up its counties: 2000 of (3000 + 上城区's 900,000) = 0.2215…%: 0.2 %
    html = en.get(page(regions["hz"], LAST_YEAR)).content.decode()
    assert "0.2%" in _tile(html, "awareness_pct") and "903,000" in _tile(html, "population")
    data = json.loads(re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', html,
                                re.S).group(1))
    assert data["trend"]["years"] == list(range(LAST_YEAR - 4, LAST_YEAR + 1))
    assert data["trend"]["awareness"][-1] == 2000 and data["trend"]["awareness_pct"][-1] == 0.2
    assert set(data["cpr"]) == {"depth_mm", "rate_cpm", "recoil_pct", "ccf_pct"}
    assert data["cpr"]["depth_mm"]["in_target"].count(True) == 2  # the 50–55 and 55–60 mm bins


def test_a_ratio_without_a_denominator_shows_a_dash_and_the_reason(en, regions, people, make_person):
    RegionPopulation.objects.filter(region__in=[regions["shangcheng"]]).delete()
    en.force_login(people["city"])
    html = en.get(page(regions["shangcheng"])).content.decode()
    tile = _tile(html, "awareness_pct")
    assert "—" in tile and "No population figure" in tile
    assert "—" in _tile(html, "per_100") and "No graded theory attempt" in _tile(html, "theory")


def test_targets_show_actual_and_target_and_where_they_are_inherited_from(en, regions, people):
    Target.objects.create(region=regions["zj"], indicator=Target.Indicator.AWARENESS_PCT, year_from=LAST_YEAR,
                          year_to=LAST_YEAR + 4, value=Decimal("40.00"), source="十四五规划")
    Target.objects.create(region=regions["xihu"], indicator=Target.Indicator.NEW_CERTIFICATES, year_from=LAST_YEAR,
                          year_to=LAST_YEAR + 4, value=Decimal("1500"))
    RegionPopulation.objects.create(region=regions["xihu"], year=LAST_YEAR, population=3000)
    _awareness(regions["xihu"], dt.date(LAST_YEAR, 5, 1), 1199)  # 39.966…%: 39.9 % of 40 %, not met
    en.force_login(people["county"])
    html = en.get(page(regions["xihu"], LAST_YEAR)).content.decode()
    start = html.index('data-target="awareness_pct"')
    target = html[start:html.index("</li>", start)]
    assert "39.9%" in target and "40%" in target and "inherited from 浙江省" in target and "not met yet" in target
    assert "39.9%" in _tile(html, "awareness_pct") and "40.0%" not in target  # never rounded up to the mark
    start = html.index('data-target="new_certificates"')
    own = html[start:html.index("</li>", start)]
    assert "1,500 certificates" in own and "inherited" not in own
    data = json.loads(re.search(r'id="dashboard-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["trend"]["target_awareness_pct"] == 40.0
    assert data["trend"]["target_certificates_new"] == [None, None, None, None, 1500.0]


def test_counties_without_a_studio_or_a_training_base_are_listed_first(en, regions, people):
    lms_api.create_organisation(None, name="西湖区培训基地", kind=Organisation.Kind.TRAINING_BASE, region=regions["xihu"])
    lms_api.create_organisation(None, name="西湖区名师工作室", kind=Organisation.Kind.STUDIO, region=regions["xihu"])
    lms_api.create_organisation(None, name="上城区培训基地", kind=Organisation.Kind.TRAINING_BASE,
                                region=regions["shangcheng"])
    en.force_login(people["province"])
    html = en.get(page(regions["hz"])).content.decode()
    assert 'data-coverage-lacking="1"' in html
    lacking = html[html.index('class="lacking-list"'):]
    lacking = lacking[:lacking.index("</ul>")]
    assert "上城区" in lacking and "西湖区" not in lacking and "no studio" in lacking
    table = html[html.index('class="coverage"'):]
    assert table.index("上城区") < table.index("西湖区")  # the lacking one first
    html = en.get(page(regions["xihu"])).content.decode()
    assert "data-coverage-lacking" not in html and "The county has a studio and a training base." in html


# ------------------------------------------------------------------ the year asked for


@pytest.mark.parametrize("year", ["1999", str(THIS_YEAR + 1), "abc", "2024.5", "-2024", "99999999999999999999", "²⁰²⁴",
                                  "２０２４"])
def test_a_year_outside_the_dashboards_is_explained_never_a_server_error(en, regions, people, year):
    en.force_login(people["province"])
    for url in (page(regions["zj"]), reverse("dashboards:export", args=[regions["zj"].pk])):
        resp = en.get(url, {"year": year})
        assert resp.status_code == 400
        assert f"choose a year from 2000 to {THIS_YEAR}" in resp.content.decode()


def test_the_year_defaults_to_this_one_and_the_selector_offers_the_years(en, regions, people):
    en.force_login(people["province"])
    html = en.get(page(regions["zj"])).content.decode()
    assert f'<option value="{THIS_YEAR}" selected>' in html and '<option value="2021">' in html
    assert 'data-tile="expiring"' in html  # expiring certificates: the current year only
    resp = en.get(page(regions["zj"], 2003))  # a year before the selector's first is still offered as chosen
    html = resp.content.decode()
    assert resp.status_code == 200 and '<option value="2003" selected>' in html
    assert 'data-tile="expiring"' not in html


# ------------------------------------------------------------------ the page itself


def test_the_page_has_no_inline_script_and_every_chart_a_name_and_a_table(en, regions, people):
    from instructors.models import Tier

    Tier.objects.create(code="t1", name="普及师资", rank=1)
    en.force_login(people["province"])
    html = en.get(page(regions["zj"])).content.decode()
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "echarts-6.1.0/echarts.min.js" in html and "dashboards/dashboard.js" in html
    charts = re.findall(r'<div class="chart[^"]*" data-chart="[^"]+"[^>]*>', html)
    assert len(charts) == 8  # three trends, four CPR measures, the tiers
    for tag in charts:
        assert 'role="img"' in tag and "aria-labelledby=" in tag
    assert html.count("<details><summary>") >= 7  # the figures of each chart as a table
    assert "person-times (人次)" in html  # how awareness is counted
    assert f'href="{reverse("dashboards:export", args=[regions["zj"].pk])}?year={THIS_YEAR}"' in html


def test_the_role_dashboard_leads_region_admins_to_their_dashboard(en, regions, people):
    en.force_login(people["county"])
    html = en.get(reverse("lms:dashboard")).content.decode()
    assert f'href="{page(regions["xihu"])}"' in html and f'href="{reverse("dashboards:index")}"' in html
    en.force_login(people["trainee"])
    html = en.get(reverse("lms:dashboard")).content.decode()
    assert reverse("dashboards:index") not in html


def test_the_export_answers_an_xlsx_named_after_the_region_and_year(client, regions, people):
    client.force_login(people["county"])
    resp = client.get(reverse("dashboards:export", args=[regions["xihu"].pk]), {"year": LAST_YEAR})
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert resp.content[:2] == b"PK"  # a zip: the workbook itself is tests/dashboards/test_export.py's
    disposition = resp["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=utf-8''" in disposition
    assert "%E8%A5%BF%E6%B9%96%E5%8C%BA" in disposition and f"-{LAST_YEAR}-" in disposition  # 西湖区
    assert disposition.endswith(".xlsx")
    from urllib.parse import unquote
    assert unquote(disposition).endswith(f"西湖区-{LAST_YEAR}-应急救护培训指标.xlsx")  # in the reader's language
