"""Certificate number sequences (certificates.api.next_number): every number given once, also with
parallel issuers on PostgreSQL; each (region, year) sequence has its own key; a full sequence refuses."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from certificates import api
from certificates.models import NumberSequence
from certificates.numbering import NumberFormat, damm_valid, diagnose

pytestmark = pytest.mark.django_db


def test_numbers_are_valid_unique_and_not_consecutive():
    numbers = [api.next_number("330106", 2026) for _ in range(50)]
    assert len(set(numbers)) == 50 and all(damm_valid(n) and n.startswith("3301062026") for n in numbers)
    fmt = NumberFormat.parse(api.DEFAULT_FORMAT)
    assert all(diagnose(n, fmt) is None for n in numbers)
    serials = [int(n[10:18]) for n in numbers]
    assert sorted(serials) != list(range(serials[0], serials[0] + 50))  # not walkable one by one
    row = NumberSequence.objects.get(region_code="330106", year=2026)
    assert row.next_value == 50 and len(row.key) == 64


def test_each_region_and_year_has_its_own_sequence_and_key():
    a = api.next_number("330106", 2026)
    b = api.next_number("330106", 2027)
    c = api.next_number("330205", 2026)
    assert a[:10] == "3301062026" and b[:10] == "3301062027" and c[:10] == "3302052026"
    assert NumberSequence.objects.count() == 3
    assert len(set(NumberSequence.objects.values_list("key", flat=True))) == 3


def test_a_full_sequence_refuses_and_hands_out_nothing_twice():
    spec = "{region:6}{year:2}{serial:4}{check}"
    api.next_number("330106", 2026, spec)
    NumberSequence.objects.filter(spec=spec).update(next_value=9999)
    last = api.next_number("330106", 2026, spec)
    assert damm_valid(last)
    with pytest.raises(api.NumbersExhausted):
        api.next_number("330106", 2026, spec)
    assert NumberSequence.objects.get(spec=spec).next_value == 10000


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="row locks are a PostgreSQL matter; SQLite serialises write transactions")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the migrated content types stay for later tests
def test_parallel_issuers_never_get_the_same_number():
    issuers, each = 6, 40
    barrier = threading.Barrier(issuers)
    results, errors = [], []

    def issue():
        try:
            barrier.wait()
            for _ in range(each):
                results.append(api.next_number("330106", 2026))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=issue) for _ in range(issuers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == issuers * each and len(set(results)) == issuers * each
    assert NumberSequence.objects.get(region_code="330106", year=2026).next_value == issuers * each
