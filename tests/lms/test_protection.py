"""ID-card and phone numbers: validated, stored encrypted, searchable by exact value, shown masked."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from lms import api, protection
from lms.models import User

VALID_ID = "11010519491231002X"  # the GB 11643 example number, check digit X


def test_check_digit_of_the_standard_example():
    assert protection.id_card_check_char(VALID_ID[:17]) == "X"
    assert protection.normalize_id_card(" 11010519491231002x ") == VALID_ID


@pytest.mark.parametrize("bad", ["", "123", "110105194912310021", "1101051949123100XX", "A1010519491231002X"])
def test_bad_id_cards_are_refused_with_a_message(bad):
    with pytest.raises(ValidationError) as exc:
        protection.normalize_id_card(bad)
    assert exc.value.messages and exc.value.messages[0]


@pytest.mark.parametrize("raw,clean", [("138 0013 8000", "13800138000"), ("+8613800138000", "13800138000")])
def test_phone_normalisation(raw, clean):
    assert protection.normalize_phone(raw) == clean


@pytest.mark.parametrize("bad", ["12800138000", "1380013800", "phone"])
def test_bad_phones_are_refused(bad):
    with pytest.raises(ValidationError):
        protection.normalize_phone(bad)


def test_masks():
    assert protection.mask_id_card(VALID_ID) == "110***********002X"
    assert protection.mask_phone("13800138000") == "138****8000"


def test_ciphertext_is_randomised_and_bound_to_its_purpose():
    a, b = protection.encrypt(VALID_ID, "id_card"), protection.encrypt(VALID_ID, "id_card")
    assert a != b
    assert protection.decrypt(a, "id_card") == VALID_ID
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):  # a ciphertext made for one purpose does not open for another
        protection.decrypt(a, "phone")


def test_stored_columns_never_hold_the_clear_value(regions, make_person):
    person = make_person(regions["xihu"], id_card=VALID_ID, phone="13800138000")
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM lms_user WHERE id = %s", [person.pk])
        row = " ".join(str(v) for v in cur.fetchone())
    assert VALID_ID not in row and "13800138000" not in row
    assert VALID_ID[:3] + "*" in row  # only the masked copy is readable


def test_exact_search_by_id_card_and_phone(regions, make_person):
    admin = make_person(regions["zj"], roles=(), admin_of=regions["zj"])
    person = make_person(regions["xihu"], id_card=VALID_ID, phone="13800138000")
    make_person(regions["xihu"], phone="13900139000")
    assert api.search_people_by_number(admin, kind="id_card", number=VALID_ID.lower()) == [person]
    assert api.search_people_by_number(admin, kind="phone", number="138-0013-8000") == [person]
    with pytest.raises(ValidationError):  # not a whole number: refused, not searched
        api.search_people_by_number(admin, kind="id_card", number="110105194912310")


def test_reveal_is_audited_and_limited(regions, make_person):
    admin = make_person(regions["hz"], roles=(), admin_of=regions["hz"])
    outsider = make_person(regions["beilun"], roles=(), admin_of=regions["beilun"])
    person = make_person(regions["xihu"], id_card=VALID_ID)
    assert api.reveal_id_card(admin, person) == VALID_ID
    from lms.models import AuditLog

    assert AuditLog.objects.filter(action="person.reveal_id_card", actor=admin, object_id=str(person.pk)).count() == 1
    from django.core.exceptions import PermissionDenied
    with pytest.raises(PermissionDenied):
        api.reveal_id_card(outsider, person)


def test_duplicate_id_card_is_refused_and_nothing_changes(regions, make_person):
    make_person(regions["xihu"], id_card=VALID_ID)
    before = User.objects.count()
    with pytest.raises(ValidationError) as exc:
        make_person(regions["xihu"], id_card=VALID_ID)
    assert "id_card" in exc.value.message_dict
    assert User.objects.count() == before
