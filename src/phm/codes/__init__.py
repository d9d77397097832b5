"""Typed, validated NHS and UK health codes.

One module per code system, each citing its published definition:

* :mod:`~phm.codes.nhs_number` – NHS number (NHS Data Dictionary, modulus 11)
* :mod:`~phm.codes.icd10` – ICD-10 diagnoses (WHO; HES form per NHS Data Dictionary)
* :mod:`~phm.codes.opcs4` – OPCS-4 procedures (NHS England)
* :mod:`~phm.codes.snomed` – SNOMED CT identifiers (SNOMED CT TIG: Verhoeff, partitions)
* :mod:`~phm.codes.bnf` – BNF codes (NHSBSA code structure)
* :mod:`~phm.codes.ods` – ODS organisation codes (NHS England ODS)
* :mod:`~phm.codes.lsoa` – LSOA codes (ONS GSS codes)
* :mod:`~phm.codes.vectorised` – column-wide format checks

Every malformed value raises :class:`InvalidCode` (a ``ValueError``) with a
message written for people; NHS numbers in messages are always masked. This
package depends only on the standard library and numpy (pyarrow, if present,
speeds up :mod:`~phm.codes.vectorised`) and imports nothing else from phm.
"""

from phm.codes.bnf import BNF_LEVELS, BNF_PATTERN, BNFCode, is_bnf_format, parse_bnf
from phm.codes.errors import InvalidCode
from phm.codes.icd10 import (
    ICD10,
    ICD10_PATTERN,
    icd10_to_dotted,
    icd10_to_hes,
    is_icd10_format,
    parse_icd10,
)
from phm.codes.lsoa import LSOA_VINTAGES, is_lsoa_code, parse_lsoa
from phm.codes.nhs_number import (
    NHS_TEST_RANGE,
    is_test_nhs_number,
    is_valid_nhs_number,
    mask_nhs_number,
    nhs_check_digit,
    nhs_check_digits_array,
    normalise_nhs_number,
    parse_nhs_number,
    redact_nhs_numbers,
    valid_nhs_number_array,
)
from phm.codes.ods import ODS_KINDS, PRACTICE_DEFAULT_CODES, is_ods_code, parse_ods_code
from phm.codes.opcs4 import OPCS4, OPCS4_PATTERN, is_opcs4_format, parse_opcs4
from phm.codes.snomed import (
    SCTID_PARTITIONS,
    is_valid_sctid,
    parse_sctid,
    sctid_partition,
    verhoeff_check_digit,
)
from phm.codes.vectorised import (
    is_bnf_format_array,
    is_icd10_format_array,
    is_opcs4_format_array,
)

__all__ = [
    "BNF_LEVELS",
    "BNF_PATTERN",
    "ICD10",
    "ICD10_PATTERN",
    "LSOA_VINTAGES",
    "NHS_TEST_RANGE",
    "ODS_KINDS",
    "OPCS4",
    "OPCS4_PATTERN",
    "PRACTICE_DEFAULT_CODES",
    "SCTID_PARTITIONS",
    "BNFCode",
    "InvalidCode",
    "icd10_to_dotted",
    "icd10_to_hes",
    "is_bnf_format",
    "is_bnf_format_array",
    "is_icd10_format",
    "is_icd10_format_array",
    "is_lsoa_code",
    "is_ods_code",
    "is_opcs4_format",
    "is_opcs4_format_array",
    "is_test_nhs_number",
    "is_valid_nhs_number",
    "is_valid_sctid",
    "mask_nhs_number",
    "nhs_check_digit",
    "nhs_check_digits_array",
    "normalise_nhs_number",
    "parse_bnf",
    "parse_icd10",
    "parse_lsoa",
    "parse_nhs_number",
    "parse_ods_code",
    "parse_opcs4",
    "parse_sctid",
    "redact_nhs_numbers",
    "sctid_partition",
    "valid_nhs_number_array",
    "verhoeff_check_digit",
]
