"""Certificate numbers (certificates/numbering.py): the Damm check digit catches every single mistyped
digit and every swap of two neighbours; serials are permuted one to one, so numbers stay unique while
consecutive ones look unrelated; formats are data and bad specs are refused with the reason."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.numbering import FormatError, NumberFormat, damm_digit, damm_valid, diagnose, normalise, permute

KEY = b"test-key-0123456789abcdef"
FMT = NumberFormat.parse("{region:6}{year:4}{serial:8}{check}")


def test_every_single_digit_error_and_neighbour_swap_is_caught_exhaustively():
    """All 4-digit bodies: each single substitution and each adjacent transposition breaks the check."""
    for body in map("".join, itertools.product("0123456789", repeat=4)):
        number = body + damm_digit(body)
        assert damm_valid(number)
        for i in range(len(number)):
            for d in "0123456789":
                if d != number[i]:
                    assert not damm_valid(number[:i] + d + number[i + 1:])
        for i in range(len(number) - 1):
            if number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2:]
                assert not damm_valid(swapped)


@settings(max_examples=300)
@given(st.text("0123456789", min_size=18, max_size=18), st.integers(0, 18), st.integers(1, 9))
def test_long_numbers_too(body, position, shift):
    number = body + damm_digit(body)
    i = position % len(number)
    typo = number[:i] + str((int(number[i]) + shift) % 10) + number[i + 1:]
    assert damm_valid(number) and not damm_valid(typo)


def test_the_permutation_is_one_to_one_and_keyed():
    width = 4
    image = [permute(s, width, KEY) for s in range(10 ** width)]
    assert sorted(image) == list(range(10 ** width))  # a bijection of the whole space
    assert image != list(range(10 ** width))
    assert image != [permute(s, width, b"another key") for s in range(10 ** width)]
    # neighbours in the sequence are far apart in print
    gaps = [abs(image[i + 1] - image[i]) for i in range(1000)]
    assert sum(g > 100 for g in gaps) > 900


def test_a_number_has_the_formats_fields_and_its_check_digit():
    number = FMT.make(region="330106", year=2026, sequence=0, key=KEY)
    assert len(number) == FMT.length == 19
    assert number.startswith("3301062026") and damm_valid(number)
    numbers = {FMT.make(region="330106", year=2026, sequence=s, key=KEY) for s in range(2000)}
    assert len(numbers) == 2000
    assert FMT.capacity() == 10 ** 8
    short = NumberFormat.parse("{year:2}{region:4}{serial:6}{check}")
    assert short.make(region="3301", year=2026, sequence=5, key=KEY)[:6] == "263301"


def test_diagnose_says_what_kind_of_error():
    good = FMT.make(region="330106", year=2026, sequence=42, key=KEY)
    assert diagnose(good, FMT) is None
    assert diagnose(good[:6] + " " + good[6:10] + "-" + good[10:], FMT) is None
    assert normalise(" 3301 0620-26 ") == "3301062026"
    assert diagnose(good[:-1], FMT) == "length"
    assert diagnose(good[:5] + "A" + good[6:], FMT) == "digits"
    swapped = good[:11] + good[12] + good[11] + good[13:]
    if swapped != good:
        assert diagnose(swapped, FMT) == "check"


@pytest.mark.parametrize("spec, why", [
    ("{region:6}{year:4}{check}", "serial"),
    ("{region:6}{serial:8}", "check"),
    ("NO{serial:8}{check}", "unexpected text"),
    ("{serial}{check}", "width"),
    ("{year:3}{serial:8}{check}", "2 or 4"),
    ("{serial:8}{serial:8}{check}", "once"),
    ("{serial:2}{check}", "width"),
])
def test_bad_formats_are_refused_with_the_reason(spec, why):
    with pytest.raises(FormatError) as refused:
        NumberFormat.parse(spec)
    assert why in str(refused.value)
