"""SNOMED CT identifiers: length, partition identifier and Verhoeff check digit (TIG)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from phm.codes import (
    SCTID_PARTITIONS,
    InvalidCode,
    is_valid_sctid,
    parse_sctid,
    sctid_partition,
    verhoeff_check_digit,
)

FAST = settings(max_examples=100, deadline=None, database=None)

REAL_CONCEPTS = {
    "38341003": "Hypertensive disorder, systemic arterial",
    "73211009": "Diabetes mellitus",
    "195967001": "Asthma",
    "13645005": "Chronic obstructive lung disease",
    "22298006": "Myocardial infarction",
    # UK extension (namespace 1000000), from the NHS Digital primary care domain refsets
    "1239331000000100": "Significant intellectual disability",
    "1064811000000103": "Moderate acute exacerbation of asthma",
    # 18 digits: US extension (namespace 1000119)
    "985355341000119101": "Malignant melanoma of skin of left wrist",
}


def test_verhoeff_textbook_example() -> None:
    assert verhoeff_check_digit("236") == 3  # 2363 is Verhoeff's worked example
    assert verhoeff_check_digit("0") == 4


@pytest.mark.parametrize("sctid", sorted(REAL_CONCEPTS))
def test_real_concept_ids_are_valid(sctid: str) -> None:
    assert is_valid_sctid(sctid)
    assert parse_sctid(sctid) == sctid
    assert verhoeff_check_digit(sctid[:-1]) == int(sctid[-1])


def test_partitions() -> None:
    assert sctid_partition("38341003") == "00"
    assert sctid_partition("1239331000000100") == "10"
    assert SCTID_PARTITIONS["00"] == "concept"
    assert set(SCTID_PARTITIONS) == {f"{a}{b}" for a in "01" for b in "012345"}
    description = "123456" + "01"
    assert is_valid_sctid(description + str(verhoeff_check_digit(description)))


def test_ints_and_whitespace() -> None:
    assert parse_sctid(73211009) == "73211009"
    assert parse_sctid(" 73211009\n") == "73211009"
    assert not is_valid_sctid(True)
    assert not is_valid_sctid(None)


def _with_check(body: str) -> str:
    return body + str(verhoeff_check_digit(body))


@pytest.mark.parametrize(
    ("raw", "rule", "reason"),
    [
        ("", "empty", "SNOMED CT identifier is empty"),
        ("38341004", "check_digit", "fails the Verhoeff check (expected check digit 3, got 4)"),
        ("38341030", "check_digit", "fails the Verhoeff check"),  # last two digits swapped
        ("73121009", "check_digit", "fails the Verhoeff check"),  # 1 and 2 swapped
        ("1239331000000101", "check_digit", "fails the Verhoeff check"),
        ("3834-1003", "non_digit", "must contain only digits"),
        ("J44.1", "non_digit", "must contain only digits"),
        ("038341003", "leading_zero", "must not start with 0"),
        ("10003", "length", "has 5 digits; an SCTID has 6 to 18"),
        ("1" * 19, "length", "has 19 digits"),
        (_with_check("3834106"), "partition", "partition identifier '06'"),
        (_with_check("3834120"), "partition", "partition identifier '20'"),
        (_with_check("1234510"), "namespace", "seven-digit namespace"),
    ],
)
def test_rejected_with_reason(raw: str, rule: str, reason: str) -> None:
    assert not is_valid_sctid(raw)
    with pytest.raises(InvalidCode) as err:
        parse_sctid(raw)
    assert err.value.rule == rule
    assert reason in str(err.value)


def test_verhoeff_rejects_non_digits() -> None:
    with pytest.raises(InvalidCode, match="string of digits"):
        verhoeff_check_digit("12a")
    with pytest.raises(InvalidCode):
        verhoeff_check_digit("")


def _valid_sctids() -> st.SearchStrategy[str]:
    def build(item: int, partition: str, namespace: int) -> str:
        body = str(item) + (f"{namespace:07d}" if partition[0] == "1" else "") + partition
        return _with_check(body)

    return st.builds(
        build,
        st.integers(100, 10**8 - 1),
        st.sampled_from(sorted(SCTID_PARTITIONS)),
        st.integers(0, 10**7 - 1),
    )


@FAST
@given(sctid=_valid_sctids())
def test_generated_sctids_are_valid(sctid: str) -> None:
    assert is_valid_sctid(sctid)


@FAST
@given(
    sctid=st.one_of(_valid_sctids(), st.sampled_from(sorted(REAL_CONCEPTS))),
    data=st.data(),
)
def test_any_single_digit_change_fails_verhoeff(sctid: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(sctid) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != sctid[position]]))
    changed = sctid[:position] + digit + sctid[position + 1 :]
    assert verhoeff_check_digit(changed[:-1]) != int(changed[-1])
    assert not is_valid_sctid(changed)


@FAST
@given(
    sctid=st.one_of(_valid_sctids(), st.sampled_from(sorted(REAL_CONCEPTS))),
    data=st.data(),
)
def test_adjacent_transposition_fails_verhoeff(sctid: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(sctid) - 2))
    a, b = sctid[position], sctid[position + 1]
    assume(a != b)
    swapped = sctid[:position] + b + a + sctid[position + 2 :]
    assert verhoeff_check_digit(swapped[:-1]) != int(swapped[-1])
    assert not is_valid_sctid(swapped)
