"""Statistical process control: XmR (individuals) charts and special-cause rules.

Sources
-------
- NHS England / NHS Improvement, *Making Data Count* (2019, "Strengthening your
  decisions" and "Getting started" guides): XmR chart with process limits at
  mean +/- 2.66 x mean moving range, optional screening of moving ranges above
  3.267 x mean moving range, and the special-cause rules (a point outside the
  process limits; a run of 7 points above or below the mean; a run of 7 increasing
  or decreasing points; two out of three points beyond 2 sigma on the same side).
- Implementation reference: nhs-r-community NHSRplotthedots (``ptd_spc``,
  ``ptd_calculate_point_type``).
- Constants: 2.66 = 3 / d2 with d2 = 1.128 (Wheeler DJ, *Understanding Variation*);
  3.267 = D4 for moving ranges of size 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

#: 3 / d2 for moving ranges of two points (d2 = 1.128).
LIMIT_FACTOR = 2.66
#: D4 for moving ranges of two points: upper range limit = 3.267 x mean moving range.
MR_SCREEN_FACTOR = 3.267


class XmRLimits(NamedTuple):
    """Centre line and lower/upper process limits of an XmR chart."""

    mean: float
    lower: float
    upper: float


def _series(values, name: str = "values", min_len: int = 2) -> np.ndarray:
    try:
        y = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence")
    if y.size < min_len:
        raise ValueError(f"{name} needs at least {min_len} points, got {y.size}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains missing or non-finite values")
    return y


def xmr_limits(values, screen_moving_ranges: bool = True) -> XmRLimits:
    """Mean and process limits of an XmR chart (NHS England *Making Data Count*).

    Moving ranges are ``|y[i] - y[i-1]|``. The limits are
    ``mean(y) +/- 2.66 * mean(MR)``. With ``screen_moving_ranges=True`` (the Making
    Data Count / NHSRplotthedots default), moving ranges ``>= 3.267 * mean(MR)`` are
    excluded and the mean moving range is recomputed (once) from the rest before the
    limits are set; the centre line is always the mean of all points.

    Raises ``ValueError`` for fewer than 2 points or missing/non-finite values.
    """
    y = _series(values)
    mr = np.abs(np.diff(y))
    amr = float(mr.mean())
    if screen_moving_ranges:
        kept = mr[mr < MR_SCREEN_FACTOR * amr]
        if kept.size:  # all ranges equal to zero cannot be screened out
            amr = float(kept.mean())
    mean = float(y.mean())
    return XmRLimits(mean, mean - LIMIT_FACTOR * amr, mean + LIMIT_FACTOR * amr)


@dataclass(frozen=True)
class SpecialCause:
    """Boolean flags, one per point, for each Making Data Count special-cause rule."""

    outside_limits: np.ndarray
    shift: np.ndarray
    trend: np.ndarray
    two_of_three: np.ndarray

    @property
    def any(self) -> np.ndarray:
        """Points flagged by at least one rule."""
        return self.outside_limits | self.shift | self.trend | self.two_of_three


def _flag_runs(cond: np.ndarray, run_length: int) -> np.ndarray:
    """Flag every element of each run of consecutive True values of length >= run_length."""
    out = np.zeros(cond.size, dtype=bool)
    start = None
    for i, c in enumerate(np.append(cond, False)):
        if c and start is None:
            start = i
        elif not c and start is not None:
            if i - start >= run_length:
                out[start:i] = True
            start = None
    return out


def special_cause(values, limits: XmRLimits | None = None, run_length: int = 7) -> SpecialCause:
    """Making Data Count special-cause rules for an XmR chart.

    - ``outside_limits``: a point above the upper or below the lower process limit.
    - ``shift``: every point of a run of ``run_length`` (7) or more consecutive points
      all above, or all below, the mean (a point exactly on the mean breaks the run).
    - ``trend``: every point of a run of ``run_length`` (7) or more consecutive points
      each strictly higher (or each strictly lower) than the one before (equal
      neighbouring values break the trend).
    - ``two_of_three``: a point beyond 2 sigma on one side of the mean
      (sigma = (upper - mean) / 3, i.e. 2/3 of the way to the process limit) when at
      least 2 of the 3 points in some window of 3 consecutive points containing it
      are beyond 2 sigma on that same side. Only the points beyond 2 sigma are flagged.

    Source: NHS England *Making Data Count* (2019), special-cause variation rules;
    cf. NHSRplotthedots ``ptd_calculate_point_type``. ``limits`` defaults to
    ``xmr_limits(values)``. Raises ``ValueError`` for invalid series, limits with
    ``lower > mean`` or ``upper < mean``, or ``run_length < 2``.
    """
    y = _series(values)
    if (
        isinstance(run_length, bool)
        or not isinstance(run_length, (int, np.integer))
        or run_length < 2
    ):
        raise ValueError(f"run_length must be an integer >= 2, got {run_length!r}")
    if limits is None:
        limits = xmr_limits(y)
    mean, lower, upper = (float(v) for v in limits)
    if not (np.isfinite(mean) and np.isfinite(lower) and np.isfinite(upper)):
        raise ValueError("limits must be finite numbers (mean, lower, upper)")
    if lower > mean or upper < mean:
        raise ValueError("limits must satisfy lower <= mean <= upper")

    outside = (y > upper) | (y < lower)
    shift = _flag_runs(y > mean, run_length) | _flag_runs(y < mean, run_length)

    d = np.diff(y)
    trend = np.zeros(y.size, dtype=bool)
    for sign in (1.0, -1.0):
        steps = _flag_runs(np.sign(d) == sign, run_length - 1)  # k-1 steps = k points
        trend[:-1] |= steps
        trend[1:] |= steps

    sigma = (upper - mean) / 3.0
    two = np.zeros(y.size, dtype=bool)
    for beyond in (y > mean + 2.0 * sigma, y < mean - 2.0 * sigma):
        for s in range(max(y.size - 2, 0)):
            w = beyond[s : s + 3]
            if w.sum() >= 2:
                two[s : s + 3] |= w
    return SpecialCause(outside, shift, trend, two)
