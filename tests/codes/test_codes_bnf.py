"""BNF codes: NHSBSA hierarchy from chapter (2) to presentation (15)."""

from __future__ import annotations

import pytest

from phm.codes import BNF_LEVELS, BNFCode, InvalidCode, is_bnf_format, parse_bnf

# Examples from NHSBSA "BNF Code Information" (November 2024 release).
HIERARCHY = [
    ("02", "chapter"),
    ("0205", "section"),
    ("020505", "paragraph"),
    ("0205051", "subparagraph"),
    ("0205051R0", "chemical"),
    ("0205051R0AA", "product"),
    ("0205051R0AAAAAA", "presentation"),
]


@pytest.mark.parametrize(("raw", "level"), HIERARCHY)
def test_levels(raw: str, level: str) -> None:
    code = parse_bnf(raw)
    assert code.level == level
    assert code.chapter == "02"
    assert is_bnf_format(raw)
    assert str(code) == raw


def test_prefix_properties() -> None:
    code = parse_bnf("0205051R0AAAAAA")
    assert (code.chapter, code.section, code.paragraph, code.subparagraph) == (
        "02",
        "0205",
        "020505",
        "0205051",
    )
    assert (code.chemical, code.product, code.presentation) == (
        "0205051R0",
        "0205051R0AA",
        "0205051R0AAAAAA",
    )
    section = parse_bnf("0205")
    assert section.paragraph is None and section.chemical is None and section.presentation is None
    assert parse_bnf(" 0205051r0aaaaaa ") == BNFCode("0205051R0AAAAAA")
    assert list(BNF_LEVELS.values()) == [level for _, level in HIERARCHY]


@pytest.mark.parametrize(
    "raw",
    [
        "0205051R0AAAAAA",  # Ramipril 1.25mg capsules
        "0101010A0AAAAAA",  # Alexitol sodium 360mg tablets
        "010101000BBAJA0",  # chemical substance with digits in positions 8-9
        "1803000A0AAAAAA",  # chapter 18, preparations used in diagnosis
        "190100000AAAAAA",  # chapter 19, ethanol 100% injection
    ],
)
def test_real_presentations(raw: str) -> None:
    assert parse_bnf(raw).level == "presentation"


def test_appliances_have_eleven_digit_presentations() -> None:
    code = parse_bnf("20010000101")  # Absorbent cotton BP 1988
    assert code.is_appliance
    assert code.level == "presentation"
    assert code.product == code.presentation == "20010000101"
    assert parse_bnf("2301").level == "section"
    assert not parse_bnf("0205051R0AA").is_appliance


@pytest.mark.parametrize(
    ("raw", "rule", "reason"),
    [
        ("", "empty", "BNF code is empty"),
        ("020", "length", "has 3 characters; a BNF code has 2, 4, 6, 7, 9, 11 or 15"),
        ("0205051R0AAAAA", "length", "has 14 characters"),
        ("00", "chapter", "chapter '00'; BNF chapters are 01–15 and 18–23"),
        ("16", "chapter", "chapter '16'"),
        ("1701", "chapter", "chapter '17'"),
        ("24", "chapter", "chapter '24'"),
        ("02A5", "format", "digits in its first seven characters"),
        ("0205051R0AA-AAA", "format", "only letters A–Z and digits"),
    ],
)
def test_rejected_with_reason(raw: str, rule: str, reason: str) -> None:
    assert not is_bnf_format(raw)
    with pytest.raises(InvalidCode, match=reason) as err:
        parse_bnf(raw)
    assert err.value.rule == rule


def test_non_strings() -> None:
    assert not is_bnf_format(205)
    with pytest.raises(TypeError):
        parse_bnf(205)  # type: ignore[arg-type]
