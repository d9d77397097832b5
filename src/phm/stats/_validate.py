"""Shared input checks for :mod:`phm.stats` (every failure is a ``ValueError``)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats as _st


def check_conf(conf: float) -> float:
    """Return ``conf`` as a float, or raise if it is not strictly inside (0, 1)."""
    try:
        c = float(conf)
    except (TypeError, ValueError):
        raise ValueError(f"conf must be a number in (0, 1), got {conf!r}") from None
    if not (0.0 < c < 1.0):
        raise ValueError(f"conf must be strictly between 0 and 1 (e.g. 0.95), got {conf!r}")
    return c


def z_value(conf: float) -> float:
    """Two-sided standard-normal quantile for confidence level ``conf``."""
    return _z(check_conf(conf))


@lru_cache(maxsize=64)
def _z(conf: float) -> float:
    # a handful of levels (95%, 99.8%) asked for thousands of times: scipy.stats' ppf costs
    # a fraction of a millisecond a call
    return float(_st.norm.ppf(0.5 + conf / 2.0))


def as_nonneg(values, name: str) -> np.ndarray:
    """``values`` as a float array; raise on non-numeric, non-finite or negative entries."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains missing or non-finite values")
    if np.any(arr < 0):
        raise ValueError(f"{name} must not be negative")
    return arr


def as_bands(values, name: str) -> np.ndarray:
    """A non-empty 1-D array of non-negative values (one entry per age band)."""
    arr = as_nonneg(values, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence (one value per age band)")
    return arr


def check_lengths(**arrays: np.ndarray) -> None:
    """Raise if the 1-D arrays given by keyword differ in length."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise ValueError(f"mismatched lengths (age bands must align): {detail}")


def check_zero_pop(counts: np.ndarray, pops: np.ndarray, cname: str, pname: str) -> None:
    """Raise if any band has zero population but a positive count."""
    bad = (pops == 0) & (counts > 0)
    if np.any(bad):
        idx = np.flatnonzero(bad).tolist()
        raise ValueError(f"{pname} is zero in band(s) {idx} where {cname} has events")


def scalar_or_array(arr: np.ndarray):
    """Return a Python float for 0-d arrays, otherwise the array."""
    return float(arr) if np.ndim(arr) == 0 else arr


def positive_float(value, name: str) -> float:
    """``value`` as a finite float > 0, or raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def as_positive(values, name: str) -> np.ndarray:
    """``values`` as a float array of finite values > 0, or raise."""
    arr = as_nonneg(values, name)
    if np.any(arr == 0):
        raise ValueError(f"{name} must be positive (greater than zero)")
    return arr


def as_vector(values, name: str, min_len: int = 1) -> np.ndarray:
    """A 1-D array of at least ``min_len`` finite, non-negative values."""
    arr = as_nonneg(values, name)
    if arr.ndim != 1 or arr.size < min_len:
        raise ValueError(f"{name} must be a 1-D sequence of at least {min_len} value(s)")
    return arr
