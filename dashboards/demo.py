"""Demo data of the region dashboards (the last step of ``load_demo``; safe to run again; small and fast).

- **Targets** from the plans (``/work/shared/seeds``): 浙江省红十字事业发展“十四五”规划, 专栏2 (应急救护知识普及率
  ≥40 %, 每百人红十字救护员数量 2 名 by 2025); 衢州市红十字事业发展“十四五”规划, 表2 (新增注册救护员占户籍人口比
  ≥2 %, 新增救护普及人数占户籍人口比 ≥20 %, 2021–2025 cumulative); and for 杭州市 a demo assumption (the 2 % of
  衢州's plan) and for 浙江省 2026–2030 targets (普及率 50 %, 3 per 100), all marked as such in their source.
- **Awareness training** (普及培训) over the last six years in 西湖区, 上城区, 北仑区 and 柯城区: mass sessions
  of 20–160 people with a mix of key groups, growing year by year; about 16,500 person-times in all, held at an
  organisation of the county where there is one. The county populations of the demo are themselves demo figures
  (a city's census population split evenly), so the rates read small: a demo, not statistics.

The records are inserted in bulk, then ``dashboards.api.rebuild()`` recomputes the summary cells.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

ZJ_PLAN = "浙江省红十字事业发展“十四五”规划（专栏2）"
QZ_PLAN = "衢州市红十字事业发展“十四五”规划（表2）"
NEXT_PLAN = "演示假设：“十五五”（2026–2030）目标尚未收录，按“十四五”的趋势假设，并非规划指标"
TARGETS = [
    # (region path, indicator, from, to, value, source)
    (("浙江省",), "awareness_pct", 2021, 2025, Decimal(40), ZJ_PLAN + "：应急救护知识普及率≥40%"),
    (("浙江省",), "first_aiders_per_100", 2021, 2025, Decimal(2), ZJ_PLAN + "：每百人红十字救护员数量 2 名"),
    (("浙江省", "衢州市"), "new_certificates_pct", 2021, 2025, Decimal(2),
     QZ_PLAN + "：全市新增注册救护员占户籍人口比达到 2% 以上（“十四五”期间累计数）"),
    (("浙江省", "衢州市"), "awareness_pct", 2021, 2025, Decimal(20),
     QZ_PLAN + "：新增救护普及人数占户籍人口比达到 20% 以上（“十四五”期间累计数）"),
    (("浙江省", "杭州市"), "new_certificates_pct", 2021, 2025, Decimal(2),
     "演示假设：参照衢州市红十字事业发展“十四五”规划的 2%，并非杭州市的规划指标"),
    # the next plan period, so that the current year has targets too: assumptions, said so
    (("浙江省",), "awareness_pct", 2026, 2030, Decimal(50), NEXT_PLAN),
    (("浙江省",), "first_aiders_per_100", 2026, 2030, Decimal(3), NEXT_PLAN),
]

# county path -> person-times over the six years (the last year has the most)
COUNTIES = {
    ("浙江省", "杭州市", "西湖区"): 4500,
    ("浙江省", "杭州市", "上城区"): 3000,
    ("浙江省", "宁波市", "北仑区"): 3000,
    ("浙江省", "衢州市", "柯城区"): 6000,
}
GROUP_WEIGHTS = {  # a typical mix: schools first, then the public and the key trades
    "students": 34, "public": 24, "drivers": 8, "volunteers": 8, "teachers": 6, "elderly_care": 6,
    "couriers": 6, "police": 4, "firefighters": 4,
}
GROWTH = 1.18  # each year about 18 % more than the year before
KEY_PREFIX = "demo-"


def _region(names):
    from lms.models import Region

    node = Region.get_root_nodes().filter(name=names[0]).first()
    for name in names[1:]:
        node = node.get_children().filter(name=name).first() if node is not None else None
    return node


def _organisation(region):
    from lms.models import Organisation

    orgs = list(Organisation.objects.filter(region=region).order_by("pk"))
    order = [Organisation.Kind.SCHOOL, Organisation.Kind.EMPLOYER, Organisation.Kind.TRAINING_BASE,
             Organisation.Kind.RED_CROSS]
    for kind in order:
        for org in orgs:
            if org.kind == kind:
                return org
    return orgs[0] if orgs else None


def _targets() -> int:
    from . import targets
    from .models import Target

    added = 0
    for names, indicator, year_from, year_to, value, source in TARGETS:
        region = _region(names)
        if region is None or Target.objects.filter(region=region, indicator=indicator, year_to=year_to).exists():
            continue
        targets.save_target(None, region=region, indicator=indicator, year_from=year_from, year_to=year_to,
                            value=value, source=source)
        added += 1
    return added


def _records(today: dt.date) -> tuple[list, int]:
    """The awareness records of the demo counties (not yet saved) and the number of counties."""
    from courses.models import AwarenessRecord

    rng = random.Random(2026)
    years = list(range(today.year - 5, today.year + 1))
    shares = [GROWTH ** i for i in range(len(years))]
    groups, weights = list(GROUP_WEIGHTS), list(GROUP_WEIGHTS.values())
    source = AwarenessRecord.Source.SESSION.value
    out, counties = [], 0
    for names, total in COUNTIES.items():
        region = _region(names)
        if region is None:
            continue
        counties += 1
        org = _organisation(region)
        org_id = org.pk if org is not None else None
        code = region.code or str(region.pk)
        for year, share in zip(years, shares):
            n_year = round(total * share / sum(shares))
            last_day = min(dt.date(year, 12, 31), today - dt.timedelta(days=1))
            span = (last_day - dt.date(year, 1, 1)).days
            session = 0
            while n_year > 0:
                size = min(n_year, rng.randint(20, 160))
                n_year -= size
                session += 1
                held_on = dt.date(year, 1, 1) + dt.timedelta(days=rng.randint(0, span))
                key = f"{KEY_PREFIX}{code}-{year}-{session}"[:32]
                out += [AwarenessRecord(region_id=region.pk, held_on=held_on, group=group, source=source,
                                        organisation_id=org_id, session_key=key)
                        for group in rng.choices(groups, weights=weights, k=size)]
    return out, counties


def load(out=None) -> None:
    write = out.write if out else (lambda s: None)
    from courses.models import AwarenessRecord

    from . import api

    today = timezone.localdate()
    with transaction.atomic():
        added_targets = _targets()
        records, counties = [], 0
        if not AwarenessRecord.objects.filter(session_key__startswith=KEY_PREFIX).exists():
            records, counties = _records(today)
            AwarenessRecord.objects.bulk_create(records, batch_size=5000)
        cells = api.rebuild()
    write(f"dashboards: {added_targets} targets, {len(records)} awareness records "
          f"({today.year - 5}–{today.year}) in {counties} counties, {cells} summary cells\n")
