"""ICD-10: WHO dotted form and the HES/NHS Data Dictionary compact form."""

from __future__ import annotations

import pytest

from phm.codes import (
    ICD10,
    InvalidCode,
    icd10_to_dotted,
    icd10_to_hes,
    is_icd10_format,
    parse_icd10,
)


@pytest.mark.parametrize(
    ("raw", "category", "subcode", "dotted", "hes"),
    [
        ("J44.1", "J44", "1", "J44.1", "J441"),
        ("J441", "J44", "1", "J44.1", "J441"),
        ("I10", "I10", "", "I10", "I10X"),
        ("I10X", "I10", "", "I10", "I10X"),
        ("E11.9", "E11", "9", "E11.9", "E119"),
        ("M23.07", "M23", "07", "M23.07", "M230"),
        ("M2307", "M23", "07", "M23.07", "M230"),
        ("M0190", "M01", "90", "M01.90", "M019"),
        ("U07.1", "U07", "1", "U07.1", "U071"),
        ("  j44.1 ", "J44", "1", "J44.1", "J441"),
        ("i10x", "I10", "", "I10", "I10X"),
        ("I10X-", "I10", "", "I10", "I10X"),
    ],
)
def test_accepted_forms(raw: str, category: str, subcode: str, dotted: str, hes: str) -> None:
    code = parse_icd10(raw)
    assert (code.category, code.subcode, code.dotted, code.hes) == (category, subcode, dotted, hes)
    assert is_icd10_format(raw)
    assert icd10_to_dotted(raw) == dotted
    assert icd10_to_hes(raw) == hes
    assert str(code) == dotted


@pytest.mark.parametrize(
    ("raw", "marker", "name", "hes_full"),
    [
        ("G01XD", "D", "dagger", "G01X-D"),
        ("G01XA", "A", "asterisk", "G01X-A"),
        ("A170D", "D", "dagger", "A170-D"),
        ("A170-D", "D", "dagger", "A170-D"),
        ("M2307A", "A", "asterisk", "M2307A"),
        ("J441", "", "", "J441"),
    ],
)
def test_asterisk_and_dagger_markers(raw: str, marker: str, name: str, hes_full: str) -> None:
    code = parse_icd10(raw)
    assert (code.marker, code.marker_name, code.hes_full) == (marker, name, hes_full)
    assert parse_icd10(code.hes_full) == code


def test_round_trip_and_value_semantics() -> None:
    assert parse_icd10("J44.1") == parse_icd10("J441") == ICD10("J44", "1")
    assert {parse_icd10("I10"), parse_icd10("I10X")} == {ICD10("I10")}
    with pytest.raises(AttributeError):
        parse_icd10("I10").category = "I11"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "ICD-10 code is empty"),
        ("   ", "ICD-10 code is empty"),
        ("144", "ICD-10 code '144' must start with a letter A–Z"),
        ("J4", "must start with a letter and two digits"),
        ("JJ4", "must start with a letter and two digits"),
        ("J44.", "one or two digits after the full stop"),
        ("J44.123", "one or two digits after the full stop"),
        ("I10X1", "digit after the 'X' filler"),
        ("J44AD", "not in a recognised form"),
        ("A15-A19", "not in a recognised form"),
        ("G01*", "not in a recognised form"),
        ("J441DD", "not in a recognised form"),
        ("J4411-", "not in a recognised form"),
        ("ı10", "must start with a letter"),
    ],
)
def test_rejected_with_reason(raw: str, reason: str) -> None:
    assert not is_icd10_format(raw)
    with pytest.raises(InvalidCode, match=reason) as err:
        parse_icd10(raw)
    assert err.value.system == "ICD-10"


def test_long_input_is_truncated_in_message() -> None:
    with pytest.raises(InvalidCode) as err:
        parse_icd10("J" * 500)
    assert len(str(err.value)) < 200


def test_non_strings() -> None:
    assert not is_icd10_format(None)
    assert not is_icd10_format(10)
    with pytest.raises(TypeError):
        parse_icd10(None)  # type: ignore[arg-type]
