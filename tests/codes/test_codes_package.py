"""The phm.codes package surface: exports, and no dependencies on the rest of phm."""

from __future__ import annotations

import subprocess
import sys

import phm.codes

REQUIRED = {
    "InvalidCode",
    "normalise_nhs_number",
    "nhs_check_digit",
    "is_valid_nhs_number",
    "parse_nhs_number",
    "nhs_check_digits_array",
    "valid_nhs_number_array",
    "NHS_TEST_RANGE",
    "parse_icd10",
    "is_icd10_format",
    "icd10_to_hes",
    "icd10_to_dotted",
    "parse_opcs4",
    "is_opcs4_format",
    "verhoeff_check_digit",
    "is_valid_sctid",
    "parse_sctid",
    "parse_bnf",
    "is_bnf_format",
    "is_ods_code",
    "parse_ods_code",
    "PRACTICE_DEFAULT_CODES",
    "is_lsoa_code",
    "parse_lsoa",
    "is_icd10_format_array",
    "is_opcs4_format_array",
}


def test_required_names_are_exported() -> None:
    assert set(phm.codes.__all__) >= REQUIRED
    for name in phm.codes.__all__:
        assert getattr(phm.codes, name) is not None
    assert issubclass(phm.codes.InvalidCode, ValueError)


def test_imports_only_stdlib_numpy_and_itself() -> None:
    script = (
        "import sys, phm.codes\n"
        "bad = sorted(m for m in sys.modules if m.startswith('phm') and m != 'phm'"
        " and not m.startswith('phm.codes'))\n"
        "print(bad, 'pyarrow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[] False"
