"""NHS number: NHS Data Dictionary modulus 11 rules, masking and vectorised checks."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from phm.codes import (
    NHS_TEST_RANGE,
    InvalidCode,
    is_test_nhs_number,
    is_valid_nhs_number,
    mask_nhs_number,
    nhs_check_digit,
    nhs_check_digits_array,
    normalise_nhs_number,
    parse_nhs_number,
    valid_nhs_number_array,
)

FAST = settings(max_examples=120, deadline=None, database=None)
TEN_DIGITS = re.compile(r"[0-9]{10}")


def test_standard_example_computes() -> None:
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299; 299 % 11 = 2; 11 - 2 = 9
    assert nhs_check_digit("943476591") == 9
    assert parse_nhs_number("9434765919") == "9434765919"


@pytest.mark.parametrize("number", ["9434765919", "9000000009", "4010232137"])
def test_published_examples_are_valid(number: str) -> None:
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize(
    "raw", ["943 476 5919", "943-476-5919", " 9434765919\t", "943 - 476 - 5919", 9434765919]
)
def test_spaces_hyphens_and_ints_are_normalised(raw: str | int) -> None:
    assert normalise_nhs_number(raw) == "9434765919"
    assert parse_nhs_number(raw) == "9434765919"


@pytest.mark.parametrize("raw", [None, "", "   ", " - "])
def test_empty_normalises_to_none_and_is_rejected(raw: str | None) -> None:
    assert normalise_nhs_number(raw) is None
    assert not is_valid_nhs_number(raw)
    with pytest.raises(InvalidCode, match="NHS number is empty") as err:
        parse_nhs_number(raw)
    assert err.value.rule == "empty"


def test_integers_are_zero_padded() -> None:
    assert normalise_nhs_number(123) == "0000000123"
    assert normalise_nhs_number(np.int64(9434765919)) == "9434765919"
    assert not is_valid_nhs_number(-9434765919)  # the minus sign is not stripped from an int


def test_wrong_types() -> None:
    with pytest.raises(TypeError):
        normalise_nhs_number(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        normalise_nhs_number(9434765919.0)  # type: ignore[arg-type]
    assert not is_valid_nhs_number(9434765919.0)


@pytest.mark.parametrize("number", ["9990000018", "9990000026", "9998765439", "9997654323"])
def test_test_range_numbers(number: str) -> None:
    assert is_valid_nhs_number(number)
    assert is_test_nhs_number(number)
    assert NHS_TEST_RANGE[0] <= int(number) <= NHS_TEST_RANGE[1]


def test_test_range_excludes_real_and_invalid_numbers() -> None:
    assert not is_test_nhs_number("9434765919")
    assert not is_test_nhs_number("9990000017")
    assert NHS_TEST_RANGE == (9990000000, 9999999999)


@pytest.mark.parametrize("digit", "0123456789")
def test_repeated_digits_pass_modulus_11_but_are_rejected(digit: str) -> None:
    number = digit * 10
    assert nhs_check_digit(number[:9]) == int(digit)  # passes the check by construction
    assert not is_valid_nhs_number(number)
    with pytest.raises(InvalidCode, match="one digit repeated ten times") as err:
        parse_nhs_number(number)
    assert err.value.rule == "repeated_digits"
    assert number not in str(err.value)


def test_check_digit_ten_has_no_valid_number() -> None:
    assert nhs_check_digit("999000000") is None
    for last in "0123456789":
        assert not is_valid_nhs_number("999000000" + last)
    with pytest.raises(InvalidCode, match="give check digit 10") as err:
        parse_nhs_number("9990000000")
    assert err.value.rule == "check_digit"


def test_check_digit_eleven_becomes_zero() -> None:
    first9 = next(f"{n:09d}" for n in range(10**8, 10**9) if nhs_check_digit(f"{n:09d}") == 0)
    weighted = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1), strict=True))
    assert weighted % 11 == 0
    assert is_valid_nhs_number(first9 + "0")


@pytest.mark.parametrize(
    ("raw", "rule", "message"),
    [
        (
            "9434765918",
            "check_digit",
            "NHS number '*******918' fails the modulus 11 check (expected check digit 9, got 8)",
        ),
        ("943476591", "length", "NHS number '******591' has 9 digits; it must have exactly 10"),
        ("94347659190", "length", "has 11 digits; it must have exactly 10"),
        ("94347659X9", "non_digit", "not a digit (position 9)"),
        ("9434765919.0", "non_digit", "not a digit (position 11)"),
    ],
)
def test_reasons(raw: str, rule: str, message: str) -> None:
    with pytest.raises(InvalidCode) as err:
        parse_nhs_number(raw)
    assert err.value.rule == rule
    assert err.value.system == "NHS number"
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_nhs_check_digit_rejects_bad_input_without_echoing_it() -> None:
    for bad in ["94347659", "9434765919", "94347659X", ""]:
        with pytest.raises(InvalidCode, match="nine digits") as err:
            nhs_check_digit(bad)
        assert "94347659" not in str(err.value)


def test_mask() -> None:
    assert mask_nhs_number("9434765919") == "*******919"
    assert mask_nhs_number("12") == "**"
    assert len(mask_nhs_number("9" * 200)) == 23


def _ten_digit_strings() -> st.SearchStrategy[str]:
    return st.integers(0, 10**10 - 1).map(lambda n: f"{n:010d}")


@FAST
@given(
    number=_ten_digit_strings(),
    style=st.sampled_from(["plain", "spaced", "hyphen", "int", "extra", "letter"]),
)
def test_error_messages_never_contain_a_full_nhs_number(number: str, style: str) -> None:
    raw: str | int = {
        "plain": number,
        "spaced": f"{number[:3]} {number[3:6]} {number[6:]}",
        "hyphen": f"{number[:3]}-{number[3:6]}-{number[6:]}",
        "int": int(number),
        "extra": number + "7",
        "letter": number[:5] + "A" + number[5:],
    }[style]
    try:
        parse_nhs_number(raw)
    except InvalidCode as err:
        message = str(err)
        assert TEN_DIGITS.search(message) is None, message
        if len(str(raw)) >= 10:
            assert str(raw) not in message
        assert number[:6] not in message


@FAST
@given(st.lists(st.integers(0, 10**9 - 1), max_size=50))
def test_array_check_digits_agree_with_scalar(values: list[int]) -> None:
    got = nhs_check_digits_array(np.array(values, dtype=np.int64))
    assert got.dtype in (np.int8, np.int16)
    expected = [nhs_check_digit(f"{v:09d}") for v in values]
    assert got.tolist() == [-1 if e is None else e for e in expected]


@FAST
@given(st.lists(st.integers(-5, 10**10 + 5), max_size=50))
def test_array_validity_agrees_with_scalar(values: list[int]) -> None:
    got = valid_nhs_number_array(np.array(values, dtype=np.int64))
    assert got.dtype == np.bool_
    assert got.tolist() == [is_valid_nhs_number(v) for v in values]


@FAST
@given(
    first9=st.integers(0, 10**9 - 1),
    position=st.integers(0, 9),
    new_digit=st.integers(0, 9),
)
def test_any_single_digit_change_is_detected(first9: int, position: int, new_digit: int) -> None:
    head = f"{first9:09d}"
    check = nhs_check_digit(head)
    assume(check is not None)
    number = head + str(check)
    assume(is_valid_nhs_number(number))  # excludes the ten repeated-digit numbers
    assume(int(number[position]) != new_digit)
    changed = number[:position] + str(new_digit) + number[position + 1 :]
    assert not is_valid_nhs_number(changed)
    assert not valid_nhs_number_array(np.array([int(changed)]))[0]


def test_arrays_reject_repeated_digits_and_out_of_range() -> None:
    repeated = np.array([int(d * 10) for d in "0123456789"], dtype=np.int64)
    assert not valid_nhs_number_array(repeated).any()
    values = np.array([9434765919, -9434765919, 19434765919, 9434765918], dtype=np.int64)
    assert valid_nhs_number_array(values).tolist() == [True, False, False, False]
    assert valid_nhs_number_array(np.array([9434765919], dtype=np.uint64)).tolist() == [True]


def test_check_digit_array_rejects_out_of_range_without_values() -> None:
    with pytest.raises(InvalidCode, match="2 of 3 values") as err:
        nhs_check_digits_array(np.array([943476591, 9434765919, -1]))
    assert "9434765919" not in str(err.value)
    with pytest.raises(TypeError):
        nhs_check_digits_array(np.array([1.5]))
