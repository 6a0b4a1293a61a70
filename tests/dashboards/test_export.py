"""The XLSX export of the region dashboards: rows in the offices' order (counties, the city's subtotal, …, the
total), subtotals and totals that are the sums of their rows, ratios recomputed from the sums and rounded down,
and a region admin's export holding only their own subtree."""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.core.exceptions import PermissionDenied
from openpyxl import load_workbook

from courses.models import AwarenessRecord, Programme, TrainingClass
from dashboards import api as dashboards
from dashboards import export
from lms import api as lms_api
from lms.models import Organisation, Region, Role

YEAR = 2024
TODAY = dt.date(2026, 6, 1)  # the year exported is past: figures as of its last day
KEYS = [c[0] for c in export.columns()]
HEADER_ROW = 3


def col(key: str) -> int:
    return KEYS.index(key)


def floor(numerator, denominator, scale=100, places=1) -> float:
    q = Decimal(1).scaleb(-places)
    return float((Decimal(numerator) * scale / Decimal(denominator)).quantize(q, rounding=ROUND_FLOOR))


@pytest.fixture
def tree(db, make_person):
    """浙江省 → 杭州市 (西湖区 3,000, 上城区 2,000), 宁波市 (北仑区 1,500); city and province figures are the sums."""
    lms_api.import_regions(None, [
        lms_api.RegionRow(province="浙江省", code="330000"),
        lms_api.RegionRow(province="浙江省", city="杭州市", code="330100"),
        lms_api.RegionRow(province="浙江省", city="杭州市", county="西湖区", code="330106", year=2020, population=3000),
        lms_api.RegionRow(province="浙江省", city="杭州市", county="上城区", code="330102", year=2020, population=2000),
        lms_api.RegionRow(province="浙江省", city="宁波市", code="330200"),
        lms_api.RegionRow(province="浙江省", city="宁波市", county="北仑区", code="330206", year=2020, population=1500,
                          is_demo=True),
    ])
    r = {x.name: x for x in Region.objects.all()}
    awareness = {("西湖区", 2023): 10, ("西湖区", YEAR): 37, ("上城区", YEAR): 11, ("北仑区", YEAR): 7,
                 ("杭州市", YEAR): 5}  # 杭州市 itself: recorded on the city, not a county
    AwarenessRecord.objects.bulk_create([
        AwarenessRecord(region=r[name], held_on=dt.date(year, 5, 1 + i % 20), source=AwarenessRecord.Source.SESSION)
        for (name, year), n in awareness.items() for i in range(n)])
    base_xh = lms_api.create_organisation(None, name="西湖基地", kind=Organisation.Kind.TRAINING_BASE, region=r["西湖区"])
    base_bl = lms_api.create_organisation(None, name="北仑基地", kind=Organisation.Kind.TRAINING_BASE, region=r["北仑区"])
    lms_api.create_organisation(None, name="西湖工作室", kind=Organisation.Kind.STUDIO, region=r["西湖区"])
    programme = Programme.objects.create(code="fa", name="救护员", kind=Programme.Kind.FIRST_AIDER)
    for base, day in ((base_xh, dt.date(YEAR, 4, 1)), (base_xh, dt.date(YEAR, 9, 1)), (base_bl, dt.date(YEAR, 6, 1))):
        TrainingClass.objects.create(programme=programme, name=f"班{day}", training_base=base, starts_on=day,
                                     ends_on=day + dt.timedelta(days=3))
    from certificates.models import Certificate

    holder = make_person(r["西湖区"])
    for n, (region, base, issued, expires) in enumerate([
            ("西湖区", base_xh, dt.date(YEAR, 3, 10), dt.date(YEAR + 3, 3, 9)),
            ("西湖区", base_xh, dt.date(YEAR, 3, 10), dt.date(YEAR + 3, 3, 9)),
            ("西湖区", base_xh, dt.date(2021, 1, 5), dt.date(YEAR, 1, 4)),  # expired before the year's end
            ("北仑区", base_bl, dt.date(YEAR, 6, 1), dt.date(YEAR + 3, 5, 31))]):
        Certificate.objects.create(
            number=f"T{n:04d}", holder=holder, programme=programme, region=r[region], issuer=base, title="救护员证",
            holder_name=holder.real_name, programme_name=programme.name, issuer_name=base.name, issued_on=issued,
            expires_on=expires)
    dashboards.rebuild()
    return r


def read(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    rows = [list(row) for row in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]
    bold = [ws.cell(row=i, column=1).font.bold for i in range(HEADER_ROW + 1, ws.max_row + 1)]
    return wb, ws, rows, bold


def test_a_province_export_lists_counties_subtotals_and_the_total_in_order(tree, make_person):
    admin = make_person(tree["浙江省"], roles=(Role.SYSTEM_ADMIN,))
    wb, ws, rows, bold = read(export.workbook(admin, tree["浙江省"], YEAR, today=TODAY))
    names = [row[col("region")] for row in rows]
    assert names[:2] == ["上城区", "西湖区"]  # in 区划代码 order (330102, 330106)
    assert "杭州市" in names[2] and "杭州市" in names[3]  # the city's own records, then its subtotal
    assert names[4] == "北仑区" and "宁波市" in names[5] and "浙江省" in names[6] and len(rows) == 7
    assert bold == [False, False, False, True, False, True, True]
    assert ws.freeze_panes == "B4"
    assert ws.cell(row=5, column=col("population") + 1).number_format == "#,##0"
    assert ws.cell(row=5, column=col("awareness_pct") + 1).number_format == "0.0"
    assert ws.cell(row=5, column=col("per_100") + 1).number_format == "0.00"


def test_subtotals_and_totals_are_sums_and_ratios_are_recomputed_and_rounded_down(tree, make_person):
    admin = make_person(tree["浙江省"], roles=(Role.SYSTEM_ADMIN,))
    _wb, _ws, rows, _bold = read(export.workbook(admin, tree["浙江省"], YEAR, today=TODAY))
    by_name = {row[col("region")]: row for row in rows}
    shangcheng, xihu, beilun = by_name["上城区"], by_name["西湖区"], by_name["北仑区"]
    hz_direct, hz, nb, zj = rows[2], rows[3], rows[5], rows[6]
    counts = ("awareness", "awareness_cumulative", "certified", "certificates_new", "expired", "classes",
              "studios", "training_bases")
    for key in counts:
        i = col(key)
        assert hz[i] == (xihu[i] or 0) + (shangcheng[i] or 0) + (hz_direct[i] or 0), key
        assert nb[i] == beilun[i], key
        assert zj[i] == hz[i] + nb[i], key
    i = col
    assert (xihu[i("awareness")], xihu[i("awareness_cumulative")], hz[i("awareness")], zj[i("awareness")]) == \
        (37, 47, 53, 60)
    assert (xihu[i("certified")], xihu[i("expired")], xihu[i("certificates_new")]) == (2, 1, 2)
    assert (xihu[i("classes")], beilun[i("classes")], xihu[i("studios")], zj[i("training_bases")]) == (2, 1, 1, 2)
    assert [r[i("population")] for r in (xihu, shangcheng, hz, beilun, nb, zj)] == [3000, 2000, 5000, 1500, 1500, 6500]
    assert hz_direct[i("population")] is None and hz_direct[i("awareness_pct")] is None
    # ratios: from the row's own sums, rounded down; never an average of the rows' ratios
    assert xihu[i("awareness_pct")] == floor(47, 3000) == 1.5
    assert shangcheng[i("awareness_pct")] == floor(11, 2000) == 0.5
    assert hz[i("awareness_pct")] == floor(63, 5000) == 1.2
    assert beilun[i("awareness_pct")] == floor(7, 1500) == 0.4
    assert zj[i("awareness_pct")] == floor(70, 6500) == 1.0
    assert xihu[i("per_100")] == floor(2, 3000, places=2) == 0.06
    assert hz[i("per_100")] == floor(2, 5000, places=2) == 0.04
    assert zj[i("per_100")] == floor(3, 6500, places=2) == 0.04
    assert xihu[i("expiring")] is None  # a past year: nothing is "expiring"
    assert xihu[i("theory_pct")] is None and xihu[i("theory_graded")] == 0


def test_the_notes_name_the_day_the_viewer_and_warn_of_demo_figures(tree, make_person):
    from dashboards.targets import save_target

    admin = make_person(tree["杭州市"], roles=(), admin_of=tree["浙江省"])
    save_target(admin, region=tree["浙江省"], indicator="awareness_pct", year_from=2021, year_to=2025, value=40,
                source="浙江省红十字事业发展“十四五”规划")
    wb, _ws, _rows, _bold = read(export.workbook(admin, tree["浙江省"], YEAR, today=TODAY))
    notes = "\n".join(str(v) for row in wb.worksheets[1].iter_rows(values_only=True) for v in row if v)
    assert f"{YEAR}-12-31" in notes and "浙江省" in notes
    assert admin.display_name in notes
    assert "40 %" in notes and "十四五" in notes and "1.0" in notes  # the target, its source and the total's rate
    demo_warning = [row for row in wb.worksheets[1].iter_rows(values_only=True) if row[0] and "演示" in str(row[1])]
    assert demo_warning  # 北仑区's figure is a demo figure


def test_a_county_admin_exports_only_their_county(tree, make_person):
    county_admin = make_person(tree["西湖区"], roles=(), admin_of=tree["西湖区"])
    _wb, ws, rows, bold = read(export.workbook(county_admin, tree["西湖区"], YEAR, today=TODAY))
    assert len(rows) == 1 and "西湖区" in rows[0][col("region")] and bold == [True]
    assert rows[0][col("awareness")] == 37 and rows[0][col("population")] == 3000
    text = " ".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v)
    assert "上城区" not in text and "北仑区" not in text
    with pytest.raises(PermissionDenied):
        export.workbook(county_admin, tree["杭州市"], YEAR, today=TODAY)
    with pytest.raises(PermissionDenied):
        export.workbook(county_admin, tree["上城区"], YEAR, today=TODAY)
    trainee = make_person(tree["西湖区"])
    with pytest.raises(PermissionDenied):
        export.workbook(trainee, tree["西湖区"], YEAR, today=TODAY)


def test_a_city_export_holds_its_counties_then_its_total(tree, make_person):
    city_admin = make_person(tree["杭州市"], roles=(), admin_of=tree["杭州市"])
    _wb, _ws, rows, bold = read(export.workbook(city_admin, tree["杭州市"], YEAR, today=TODAY))
    assert [r[col("region")] for r in rows][:2] == ["上城区", "西湖区"] and len(rows) == 4
    assert bold == [False, False, False, True] and rows[3][col("awareness")] == 53
