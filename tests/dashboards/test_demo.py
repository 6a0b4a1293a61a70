"""The dashboards' demo data on a small region tree (load_demo itself is not run here): the plans' targets,
awareness records in the demo counties that exist, within the size budget, summary cells rebuilt, and a second
run that adds nothing."""

import io

import pytest

from courses.models import AwarenessRecord
from dashboards import demo
from dashboards.models import Cell, Target
from lms import api as lms_api


@pytest.fixture
def tree(regions):
    lms_api.import_regions(None, [lms_api.RegionRow(province="浙江省", city="衢州市", county="柯城区", code="330802",
                                                    year=2020, population=379364)])
    return regions


def test_the_demo_adds_targets_and_awareness_records_once(tree):
    out = io.StringIO()
    demo.load(out)
    assert out.getvalue().startswith("dashboards: ")
    targets = {(t.region.name, t.indicator, t.year_to): t for t in Target.objects.select_related("region")}
    plan = targets[("浙江省", "awareness_pct", 2025)]
    assert (plan.year_from, plan.value) == (2021, 40) and "十四五" in plan.source
    assert targets[("浙江省", "first_aiders_per_100", 2025)].value == 2
    assert "衢州市" not in targets and "衢州" in targets[("衢州市", "new_certificates_pct", 2025)].source
    # assumptions say so
    assert "演示假设" in targets[("杭州市", "new_certificates_pct", 2025)].source
    assert "演示假设" in targets[("浙江省", "awareness_pct", 2030)].source
    records = AwarenessRecord.objects.all()
    n = records.count()
    assert 15_000 <= n <= 20_000
    assert set(records.values_list("region__name", flat=True).distinct()) == {"西湖区", "上城区", "北仑区", "柯城区"}
    years = sorted({d.year for d in records.values_list("held_on", flat=True).distinct()})
    assert len(years) == 6
    per_year = [records.filter(region__name="柯城区", held_on__year=y).count() for y in years[:-1]]
    assert per_year == sorted(per_year)  # growing (the current year is not over)
    assert records.values("group").distinct().count() >= 8
    assert Cell.objects.exists()
    demo.load(io.StringIO())
    assert AwarenessRecord.objects.count() == n and Target.objects.count() == len(targets)
