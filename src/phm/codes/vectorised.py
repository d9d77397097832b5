"""Format checks over whole columns (millions of rows) of ICD-10, OPCS-4 and BNF codes.

Each function applies the same rule as its scalar counterpart
(:func:`~phm.codes.icd10.is_icd10_format`, :func:`~phm.codes.opcs4.is_opcs4_format`,
:func:`~phm.codes.bnf.is_bnf_format`): trim ASCII whitespace, upper-case ASCII letters, then match the
module's published pattern. Input may be a pyarrow ``Array``/``ChunkedArray``, a
numpy array of strings or objects, or any sequence of ``str``/``None``. The result
is a numpy ``bool`` array of the same length; nulls and non-strings are ``False``.

With pyarrow installed the regex runs in pyarrow's compiled RE2 engine
(``pyarrow.compute.match_substring_regex``); pyarrow is imported lazily so that
:mod:`phm.codes` itself needs only numpy. Without it, a compiled :mod:`re`
pattern is applied element by element.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from phm.codes._text import clean
from phm.codes.bnf import BNF_PATTERN
from phm.codes.icd10 import ICD10_PATTERN
from phm.codes.opcs4 import OPCS4_PATTERN

__all__ = ["is_bnf_format_array", "is_icd10_format_array", "is_opcs4_format_array"]


def _with_pyarrow(values: Any, pattern: str) -> np.ndarray | None:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a project dependency
        return None
    if isinstance(values, pa.ChunkedArray | pa.Array):
        arr = values
    else:
        try:
            arr = pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None  # non-string elements: fall back to the element-wise path
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        if not pa.types.is_null(arr.type):
            return None
        return np.zeros(len(arr), dtype=bool)
    normalised = pc.ascii_upper(pc.ascii_trim_whitespace(arr))
    matched = pc.fill_null(pc.match_substring_regex(normalised, pattern), False)
    return np.asarray(matched.to_numpy(zero_copy_only=False), dtype=bool)


def _with_re(values: Any, pattern: str) -> np.ndarray:
    compiled = re.compile(pattern[1:-1])  # drop ^…$: fullmatch anchors both ends

    def check(value: object) -> bool:
        return isinstance(value, str) and compiled.fullmatch(clean(value)) is not None

    items = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
    return np.fromiter((check(v) for v in items), dtype=bool, count=len(items))


def _match(values: Any, pattern: str) -> np.ndarray:
    result = _with_pyarrow(values, pattern)
    return _with_re(values, pattern) if result is None else result


def is_icd10_format_array(values: Any) -> np.ndarray:
    """Vectorised :func:`~phm.codes.icd10.is_icd10_format`."""
    return _match(values, ICD10_PATTERN)


def is_opcs4_format_array(values: Any) -> np.ndarray:
    """Vectorised :func:`~phm.codes.opcs4.is_opcs4_format`."""
    return _match(values, OPCS4_PATTERN)


def is_bnf_format_array(values: Any) -> np.ndarray:
    """Vectorised :func:`~phm.codes.bnf.is_bnf_format`."""
    return _match(values, BNF_PATTERN)
