"""ODS organisation codes and ONS LSOA codes."""

from __future__ import annotations

import pytest

from phm.codes import (
    LSOA_VINTAGES,
    ODS_KINDS,
    PRACTICE_DEFAULT_CODES,
    InvalidCode,
    is_lsoa_code,
    is_ods_code,
    parse_lsoa,
    parse_ods_code,
)

# Real examples from NHS England GP practice / PCN / sub-ICB / ICB structures 2023-24.
GOOD = {
    "practice": ["M84001", "A81001", "Y02625", "V81997", "V81998", "V81999"],
    "trust": ["RKB", "RXH", "TAD", "NT4", "R0A"],
    "site": ["RKB01", "RXH01", "R0A07"],
    "icb": ["QWU", "QHM", "QE1"],
    "sub_icb": ["05A", "16C", "X2C4Y"],
    "pcn": ["U89141", "U07032"],
    "region": ["Y63"],
}
BAD = {
    "practice": ["M8400", "M840011", "884001", "M8400A"],
    "trust": ["QWU", "RK", "RKB01", "R-B"],
    "site": ["RKB0", "RKB011", "0RKB1"],
    "icb": ["RKB", "QW", "QWUX"],
    "sub_icb": ["5A", "05AA", "A05", "X2C4"],
    "pcn": ["U8914", "U891412", "V89141", "U"],
    "region": ["Y6", "Z63", "Y633"],
}


@pytest.mark.parametrize(("kind", "code"), [(k, c) for k, cs in GOOD.items() for c in cs])
def test_good_codes(kind: str, code: str) -> None:
    assert is_ods_code(code, kind)
    assert is_ods_code(code)  # any kind
    assert parse_ods_code(f" {code.lower()} ", kind) == code


@pytest.mark.parametrize(("kind", "code"), [(k, c) for k, cs in BAD.items() for c in cs])
def test_bad_codes(kind: str, code: str) -> None:
    assert not is_ods_code(code, kind)
    with pytest.raises(InvalidCode, match="is not in the expected format") as err:
        parse_ods_code(code, kind)
    assert err.value.rule == "format"


def test_reason_text() -> None:
    with pytest.raises(InvalidCode) as err:
        parse_ods_code("M8400", "practice")
    assert str(err.value) == (
        "ODS GP practice code 'M8400' is not in the expected format: "
        "a letter and five digits, e.g. 'M84001'"
    )
    with pytest.raises(InvalidCode, match="ODS sub-ICB code is empty"):
        parse_ods_code("  ", "sub_icb")


def test_any_kind() -> None:
    for code in ["RKB", "M84001", "X2C4Y"]:
        assert is_ods_code(code)
    for code in ["RK", "M840011", "RK-B", ""]:
        assert not is_ods_code(code)
    assert not is_ods_code(None)


def test_practice_defaults_and_kinds() -> None:
    assert PRACTICE_DEFAULT_CODES == {
        "V81997": "No registered GP practice",
        "V81998": "GP practice code not applicable",
        "V81999": "GP practice code not known",
    }
    assert set(ODS_KINDS) == {"practice", "trust", "site", "icb", "sub_icb", "pcn", "region"}


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown ODS code kind 'ccg'"):
        is_ods_code("05A", "ccg")


@pytest.mark.parametrize("code", ["E01000001", "W01000001", " e01033764 ", "E01035722"])
def test_lsoa_good(code: str) -> None:
    assert is_lsoa_code(code)
    for vintage in LSOA_VINTAGES:
        assert is_lsoa_code(code, vintage=vintage)
    assert parse_lsoa(code) == code.strip().upper()


@pytest.mark.parametrize(
    ("code", "rule", "reason"),
    [
        ("", "empty", "LSOA code is empty"),
        ("E02000001", "prefix", "must start with 'E01' \\(England\\) or 'W01' \\(Wales\\)"),
        ("S01006506", "prefix", "must start with 'E01'"),
        ("E0100001", "format", "followed by six digits"),
        ("E010000012", "format", "followed by six digits"),
        ("E0100000A", "format", "followed by six digits"),
    ],
)
def test_lsoa_bad(code: str, rule: str, reason: str) -> None:
    assert not is_lsoa_code(code)
    with pytest.raises(InvalidCode, match=reason) as err:
        parse_lsoa(code)
    assert err.value.rule == rule


def test_lsoa_vintage_is_checked() -> None:
    assert LSOA_VINTAGES == (2011, 2021)
    with pytest.raises(ValueError, match="vintage must be 2011, 2021"):
        is_lsoa_code("E01000001", vintage=2001)
