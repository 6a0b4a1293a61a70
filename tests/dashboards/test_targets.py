"""Targets as data: who may set them (region admins in their subtree, system admins), what is refused (with a
message, nothing stored), one per region, indicator and end year, an audit record for each change, and the
pages scoped to the viewer's regions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dashboards import targets
from dashboards.models import Target
from lms.models import AuditLog, Role

AWARENESS = Target.Indicator.AWARENESS_PCT


def good(region, **changes):
    values = {"region": region, "indicator": AWARENESS, "year_from": 2021, "year_to": 2025, "value": "40",
              "source": "浙江省红十字事业发展“十四五”规划"}
    values.update(changes)
    return values


@pytest.fixture
def admins(regions, make_person):
    return {
        "county": make_person(regions["xihu"], roles=(), admin_of=regions["xihu"]),
        "city": make_person(regions["hz"], roles=(), admin_of=regions["hz"]),
        "system": make_person(regions["zj"], roles=(Role.SYSTEM_ADMIN,)),
        "trainee": make_person(regions["xihu"]),
    }


def test_region_admins_set_targets_in_their_subtree_only(regions, admins):
    t = targets.save_target(admins["city"], **good(regions["xihu"]))
    assert (t.region, t.value, t.year_from, t.year_to) == (regions["xihu"], Decimal("40.00"), 2021, 2025)
    assert targets.save_target(admins["city"], **good(regions["hz"])).region == regions["hz"]
    for who, where in (("city", "beilun"), ("city", "zj"), ("county", "hz"), ("county", "shangcheng"),
                       ("trainee", "xihu")):
        with pytest.raises(PermissionDenied):
            targets.save_target(admins[who], **good(regions[where], year_to=2030))
    assert targets.save_target(admins["system"], **good(regions["beilun"])).region == regions["beilun"]
    # a county admin may neither change nor delete the city's target, nor move their own elsewhere
    city_target = Target.objects.get(region=regions["hz"])
    with pytest.raises(PermissionDenied):
        targets.save_target(admins["county"], target=city_target, **good(regions["xihu"], year_to=2026))
    with pytest.raises(PermissionDenied):
        targets.delete_target(admins["county"], city_target)
    own = targets.save_target(admins["county"], **good(regions["xihu"], indicator=Target.Indicator.PER_100, value=2))
    with pytest.raises(PermissionDenied):
        targets.save_target(admins["county"], target=own, **good(regions["shangcheng"]))
    assert Target.objects.count() == 4


@pytest.mark.parametrize("changes,field", [
    ({"year_from": 1999}, "year_from"),
    ({"year_to": 2101}, "year_to"),
    ({"year_from": "二〇二一"}, "year_from"),
    ({"year_from": 2025, "year_to": 2021}, "year_to"),
    ({"value": "-1"}, "value"),
    ({"value": "abc"}, "value"),
    ({"value": "NaN"}, "value"),
    ({"value": "40.123"}, "value"),
    ({"value": "100.01"}, "value"),  # a percentage
    ({"indicator": Target.Indicator.PER_100, "value": "101"}, "value"),
    ({"indicator": Target.Indicator.NEW_CERTIFICATES, "value": "100000001"}, "value"),
    ({"indicator": Target.Indicator.NEW_CERTIFICATES, "value": "10.5"}, "value"),
    ({"indicator": "speed"}, "indicator"),
    ({"region": None}, "region"),
    ({"source": "x" * 256}, "source"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_stored(regions, admins, changes, field):
    with pytest.raises(ValidationError) as exc:
        targets.save_target(admins["system"], **{**good(regions["hz"]), **changes})
    assert field in exc.value.message_dict and all(exc.value.message_dict[field])
    assert not Target.objects.exists() and not AuditLog.objects.filter(action__startswith="dashboards.").exists()


def test_the_limits_themselves_are_accepted(regions, admins):
    ind = Target.Indicator
    for indicator, value, year_to in ((ind.AWARENESS_PCT, "100", 2025), (ind.PER_100, "100", 2025),
                                      (ind.NEW_CERTIFICATES_PCT, "0", 2025),
                                      (ind.NEW_CERTIFICATES, "100000000", 2100)):
        targets.save_target(admins["system"], **good(regions["hz"], indicator=indicator, value=value,
                                                     year_from=2000, year_to=year_to))
    assert Target.objects.count() == 4


def test_one_target_per_region_indicator_and_end_year_with_a_clear_message(regions, admins):
    first = targets.save_target(admins["city"], **good(regions["hz"]))
    with pytest.raises(ValidationError) as exc:
        targets.save_target(admins["city"], **good(regions["hz"], year_from=2023, value="50"))
    message = " ".join(exc.value.message_dict["year_to"])
    assert "杭州市" in message and "2025" in message
    assert Target.objects.get().value == Decimal("40.00")
    # another end year, another region or another indicator is a new target; saving a target onto itself is fine
    targets.save_target(admins["city"], **good(regions["hz"], year_from=2026, year_to=2030))
    targets.save_target(admins["city"], **good(regions["xihu"]))
    targets.save_target(admins["city"], **good(regions["hz"], indicator=Target.Indicator.PER_100, value=2))
    assert targets.save_target(admins["city"], target=first, **good(regions["hz"], value="45")).value == 45
    assert Target.objects.count() == 4


def test_every_change_is_audited(regions, admins):
    t = targets.save_target(admins["city"], **good(regions["hz"]))
    targets.save_target(admins["city"], target=t, **good(regions["hz"], value="42.5"))
    targets.delete_target(admins["city"], t)
    entries = list(AuditLog.objects.filter(action__startswith="dashboards.target.").order_by("pk"))
    assert [e.action for e in entries] == ["dashboards.target.create", "dashboards.target.update",
                                           "dashboards.target.delete"]
    assert all(e.actor == admins["city"] for e in entries)
    assert entries[1].before["value"] == "40.00" and entries[1].after["value"] == "42.50"
    assert not Target.objects.exists()


# ------------------------------------------------------------------ pages


def test_the_list_shows_the_viewers_targets_and_regions_only(regions, admins, client):
    targets.save_target(admins["system"], **good(regions["xihu"], source="西湖区计划"))
    targets.save_target(admins["system"], **good(regions["shangcheng"], source="上城区计划"))
    targets.save_target(admins["system"], **good(regions["beilun"], source="北仑区计划"))
    client.force_login(admins["county"])
    body = client.get("/dashboards/targets/").content.decode()
    assert "西湖区计划" in body and "上城区计划" not in body and "北仑区计划" not in body
    client.force_login(admins["city"])
    body = client.get("/dashboards/targets/").content.decode()
    assert "西湖区计划" in body and "上城区计划" in body and "北仑区计划" not in body
    client.force_login(admins["system"])
    body = client.get("/dashboards/targets/").content.decode()
    assert all(s in body for s in ("西湖区计划", "上城区计划", "北仑区计划"))
    client.force_login(admins["trainee"])
    assert client.get("/dashboards/targets/").status_code == 403


def test_add_change_and_delete_through_the_pages(regions, admins, client):
    client.force_login(admins["city"])
    resp = client.post("/dashboards/targets/", {"region": regions["xihu"].pk, "indicator": AWARENESS,
                                                "year_from": 2021, "year_to": 2025, "value": "40", "source": "规划"})
    assert resp.status_code == 302
    t = Target.objects.get()
    # a region outside the city is not a choice: the form again, nothing stored
    resp = client.post("/dashboards/targets/", {"region": regions["beilun"].pk, "indicator": AWARENESS,
                                                "year_from": 2021, "year_to": 2026, "value": "40"})
    assert resp.status_code == 200 and Target.objects.count() == 1
    # a bad value: the form again with the api's message
    resp = client.post(f"/dashboards/targets/{t.pk}/", {"action": "save", "region": regions["xihu"].pk,
                                                        "indicator": AWARENESS, "year_from": 2021, "year_to": 2025,
                                                        "value": "140"})
    assert resp.status_code == 200 and "100" in resp.content.decode()
    t.refresh_from_db()
    assert t.value == 40
    resp = client.post(f"/dashboards/targets/{t.pk}/", {"action": "save", "region": regions["xihu"].pk,
                                                        "indicator": AWARENESS, "year_from": 2021, "year_to": 2025,
                                                        "value": "45.5", "source": "规划"})
    assert resp.status_code == 302
    t.refresh_from_db()
    assert t.value == Decimal("45.5")
    # 西湖区's admin sees the target of 西湖区, not one of 宁波市's 北仑区 (404: its existence is not revealed)
    client.force_login(admins["county"])
    assert client.get(f"/dashboards/targets/{t.pk}/").status_code == 200
    targets.save_target(admins["system"], **good(regions["beilun"]))
    other = Target.objects.get(region=regions["beilun"])
    assert client.get(f"/dashboards/targets/{other.pk}/").status_code == 404
    assert client.post(f"/dashboards/targets/{other.pk}/", {"action": "delete"}).status_code == 404
    client.force_login(admins["city"])
    assert client.post(f"/dashboards/targets/{t.pk}/", {"action": "delete"}).status_code == 302
    assert not Target.objects.filter(pk=t.pk).exists() and Target.objects.filter(pk=other.pk).exists()
