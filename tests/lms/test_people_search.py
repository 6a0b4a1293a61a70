"""Exact ID-card and mobile-number search: POST only, never echoed, audited, rate-limited, admins only."""

import re

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.test import Client

from lms import api, protection
from lms.models import AuditLog, Role

VALID_ID = "11010519491231002X"
PHONE = "13800138000"


def id_number(first17: str) -> str:
    return first17 + protection.id_card_check_char(first17)


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # rate-limit counters live in the cache (a Redis db of its own under REDIS_URL)
    yield
    cache.clear()


@pytest.fixture
def world(regions, make_person):
    return {
        **regions,
        "admin": make_person(regions["xihu"], roles=(), admin_of=regions["xihu"], username="xihu_admin"),
        "admin2": make_person(regions["hz"], roles=(), admin_of=regions["hz"], username="hz_admin"),
        "target": make_person(regions["xihu"], real_name="王目标", id_card=VALID_ID, phone=PHONE),
        "other": make_person(regions["xihu"], real_name="李其他", phone="13900139000"),
        "trainee": make_person(regions["xihu"], username="trainee"),
    }


def search(client, number=VALID_ID, kind="id_card"):
    return client.post("/people/", {"kind": kind, "number": number})


def assert_number_not_in(html: str, number: str = VALID_ID):
    assert number not in html
    assert number.lower() not in html


def test_exact_search_is_a_post_that_finds_the_person_and_shows_only_the_masked_number(world, client):
    client.force_login(world["admin"])
    resp = search(client)
    html = resp.content.decode()
    assert resp.status_code == 200
    assert "王目标" in html and "李其他" not in html
    assert "110***********002X" in html
    assert_number_not_in(html)
    # The number box is empty again, and the language switch's next is the bare path.
    box = re.search(r'<input[^>]*name="number"[^>]*>', html).group(0)
    assert "value=" not in box
    assert 'name="next" type="hidden" value="/people/"' in html


def test_search_by_mobile_number(world, client):
    client.force_login(world["admin"])
    html = search(client, "138 0013 8000", kind="phone").content.decode()
    assert "王目标" in html and "李其他" not in html
    assert_number_not_in(html, PHONE)
    assert "138****8000" in html


def test_search_is_audited_without_the_number(world, client):
    client.force_login(world["admin"])
    search(client)
    nobody = id_number("33010619800101001")
    search(client, nobody)
    first, second = AuditLog.objects.filter(action="person.search_number").order_by("id")
    assert first.actor == world["admin"]
    assert first.ip == "127.0.0.1"
    assert first.after["kind"] == "id_card" and first.after["matched"] == 1
    assert first.after["people"] == [world["target"].pk]
    assert first.after["masked"] == "110***********002X"
    assert first.after["digest"] == world["target"].id_card_digest  # ties the search to the person
    assert VALID_ID not in str(first.after) and VALID_ID not in first.object_repr
    assert second.after["matched"] == 0 and second.after["people"] == []
    assert nobody not in str(second.after) and nobody not in second.object_repr


def test_get_with_a_number_in_the_address_does_nothing(world, client):
    client.force_login(world["admin"])
    html = client.get("/people/", {"id_card": VALID_ID, "phone": PHONE}).content.decode()
    assert "王目标" in html and "李其他" in html  # the plain list: no exact-number filter applied
    assert not AuditLog.objects.filter(action__startswith="person.search_number").exists()
    assert_number_not_in(html)
    assert_number_not_in(html, PHONE)


def test_pager_and_language_switch_never_copy_the_query_string(world, client, make_person):
    for i in range(51):
        make_person(world["xihu"], real_name=f"测试批量{i}")
    client.force_login(world["admin"])
    html = client.get("/people/", {"name": "测试", "id_card": VALID_ID}).content.decode()
    assert 'href="?name=' in html and "page=2" in html  # the name search pages on
    assert_number_not_in(html)
    assert "id_card=" not in html
    assert 'name="next" type="hidden" value="/people/"' in html


def test_the_eleventh_search_in_ten_minutes_is_refused_and_not_done(world, client):
    client.force_login(world["admin"])
    for _ in range(10):
        assert search(client).status_code == 200
    resp = search(client)
    html = resp.content.decode()
    assert resp.status_code == 429
    assert "按身份证号或手机号查询" in html and "稍后再试" in html
    assert "王目标" not in html  # no search was done
    assert AuditLog.objects.filter(action="person.search_number").count() == 10
    refused = AuditLog.objects.get(action="person.search_number_refused")
    assert refused.actor == world["admin"] and VALID_ID not in str(refused.after)
    # The limit is per person: another admin may still search.
    other = Client()
    other.force_login(world["admin2"])
    assert "王目标" in search(other).content.decode()


def test_the_limit_is_configurable(world, client, settings):
    settings.LMS_NUMBER_SEARCH_LIMIT = 2
    client.force_login(world["admin"])
    assert search(client).status_code == 200
    assert search(client, PHONE, kind="phone").status_code == 200
    assert search(client).status_code == 429


def test_a_malformed_number_is_refused_not_echoed_and_not_counted(world, client, settings):
    settings.LMS_NUMBER_SEARCH_LIMIT = 1
    client.force_login(world["admin"])
    html = search(client, "110105194912310021").content.decode()  # wrong check digit
    assert "校验" in html
    assert "110105194912310021" not in html
    assert not AuditLog.objects.filter(action="person.search_number").exists()
    assert search(client).status_code == 200  # the one allowed search is still there


def test_search_needs_csrf(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["admin"])
    assert search(client).status_code == 403
    assert not AuditLog.objects.filter(action="person.search_number").exists()


def test_only_region_and_system_admins_may_search(world, client, make_person):
    client.force_login(world["trainee"])
    assert search(client).status_code == 403
    instructor = make_person(world["xihu"], roles=(Role.INSTRUCTOR,))
    with pytest.raises(PermissionDenied):
        api.search_people_by_number(instructor, kind="id_card", number=VALID_ID)
    sysadmin = make_person(world["zj"], roles=(Role.SYSTEM_ADMIN,))
    assert api.search_people_by_number(sysadmin, kind="id_card", number=VALID_ID) == [world["target"]]
    assert not AuditLog.objects.filter(action="person.search_number", actor=instructor).exists()


def test_search_stays_inside_the_admins_region(world, client, make_person):
    number = id_number("33020619900101123")
    make_person(world["beilun"], real_name="北仑某人", id_card=number)
    client.force_login(world["admin"])
    html = search(client, number).content.decode()
    assert "北仑某人" not in html
    assert AuditLog.objects.get(action="person.search_number").after["matched"] == 0


def test_no_log_line_holds_the_number(world, client, settings, caplog):
    settings.LMS_NUMBER_SEARCH_LIMIT = 1
    client.force_login(world["admin"])
    with caplog.at_level("DEBUG"):
        search(client)
        search(client, PHONE, kind="phone")  # refused: Django logs the 429
    assert "/people/" in caplog.text  # the refusal was logged, by its path only
    assert VALID_ID not in caplog.text and PHONE not in caplog.text
