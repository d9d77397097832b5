"""OPCS-4: chapter letters A–H, J–Z (no I); dotted and compact forms."""

from __future__ import annotations

import string

import pytest

from phm.codes import OPCS4, InvalidCode, is_opcs4_format, parse_opcs4


@pytest.mark.parametrize(
    ("raw", "category", "subcode", "dotted", "compact"),
    [
        ("W37.1", "W37", "1", "W37.1", "W371"),
        ("W371", "W37", "1", "W37.1", "W371"),
        ("W37", "W37", "", "W37", "W37"),
        (" k40.1 ", "K40", "1", "K40.1", "K401"),
        ("O01.1", "O01", "1", "O01.1", "O011"),
        ("Y53.9", "Y53", "9", "Y53.9", "Y539"),
        ("Z94.2", "Z94", "2", "Z94.2", "Z942"),
    ],
)
def test_accepted(raw: str, category: str, subcode: str, dotted: str, compact: str) -> None:
    code = parse_opcs4(raw)
    assert (code.category, code.subcode, code.dotted, code.compact) == (
        category,
        subcode,
        dotted,
        compact,
    )
    assert code.chapter == category[0]
    assert is_opcs4_format(raw)
    assert str(code) == dotted


def test_every_chapter_letter_but_i() -> None:
    for letter in string.ascii_uppercase:
        assert is_opcs4_format(f"{letter}01.1") is (letter != "I")
    assert parse_opcs4("W37.1") == parse_opcs4("W371") == OPCS4("W37", "1")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "OPCS-4 code is empty"),
        ("I10.1", "OPCS-4 has no chapter I"),
        ("137.1", "must start with a chapter letter"),
        ("W3", "two digits after the chapter letter"),
        ("W3A", "two digits after the chapter letter"),
        ("W37.", "not in a recognised form"),
        ("W37.12", "not in a recognised form"),
        ("W3712", "not in a recognised form"),
        ("W37X", "not in a recognised form"),
        ("-", "must start with a chapter letter"),
        ("&", "must start with a chapter letter"),
    ],
)
def test_rejected_with_reason(raw: str, reason: str) -> None:
    assert not is_opcs4_format(raw)
    with pytest.raises(InvalidCode, match=reason) as err:
        parse_opcs4(raw)
    assert err.value.system == "OPCS-4"


def test_non_strings() -> None:
    assert not is_opcs4_format(None)
    with pytest.raises(TypeError):
        parse_opcs4(371)  # type: ignore[arg-type]
