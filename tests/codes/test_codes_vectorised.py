"""Vectorised format checks agree with the scalar ones on every input type."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phm.codes import (
    is_bnf_format,
    is_bnf_format_array,
    is_icd10_format,
    is_icd10_format_array,
    is_opcs4_format,
    is_opcs4_format_array,
)

FAST = settings(max_examples=60, deadline=None, database=None)
PAIRS = [
    (is_icd10_format, is_icd10_format_array),
    (is_opcs4_format, is_opcs4_format_array),
    (is_bnf_format, is_bnf_format_array),
]
ICD10 = ["J44.1", "I10", "I10X", "j441 ", "G01XD", "A170-D", "M23.07", "J44.", "I10X1", "ı10", ""]
OPCS4 = ["W37.1", "W371", "W37", " w37.1", "I10.1", "W37.", "W3712", "O01"]


def test_icd10_examples() -> None:
    got = is_icd10_format_array([*ICD10, None])
    assert got.tolist() == [True] * 7 + [False] * 5


def test_opcs4_examples() -> None:
    got = is_opcs4_format_array(np.array(OPCS4))
    assert got.tolist() == [True, True, True, True, False, False, False, True]


@pytest.mark.parametrize(
    "make",
    [
        list,
        np.array,
        lambda xs: np.array(xs, dtype=object),
        lambda xs: pa.array(xs, type=pa.string()),
        lambda xs: pa.array(xs, type=pa.large_string()),
        lambda xs: pa.chunked_array([xs[:3], xs[3:]], type=pa.string()),
    ],
)
def test_input_types(make: object) -> None:
    values = make(ICD10)  # type: ignore[operator]
    assert is_icd10_format_array(values).tolist() == [is_icd10_format(v) for v in ICD10]


def test_nulls_non_strings_and_empty() -> None:
    assert is_icd10_format_array(pa.array([None, "I10"])).tolist() == [False, True]
    assert is_icd10_format_array(pa.nulls(2)).tolist() == [False, False]
    mixed = np.array(["I10", 5, None, float("nan")], dtype=object)
    assert is_icd10_format_array(mixed).tolist() == [True, False, False, False]
    assert is_opcs4_format_array(pa.array([1, 2])).tolist() == [False, False]
    empty = is_icd10_format_array([])
    assert empty.dtype == np.bool_ and empty.shape == (0,)


CODE_TEXT = st.text(alphabet="AIJMOUWXDZ0123456789.- \tı", max_size=8)


@FAST
@given(st.lists(st.one_of(CODE_TEXT, st.text(max_size=6), st.none()), max_size=20))
def test_agrees_with_scalar(values: list[str | None]) -> None:
    for scalar, vector in PAIRS:
        expected = [scalar(v) for v in values]
        assert vector(values).tolist() == expected
        assert vector(pa.array(values, type=pa.string())).tolist() == expected
