"""Making Data Count: an XmR chart's point types, variation and assurance icons, rebasing and
the short-series warning, as NHS England's *Making Data Count* guidance specifies them.

Sources
-------
- NHS England / NHS Improvement, *Making Data Count: Getting started* and *Strengthening your
  decisions* (2019; revised 2021): the XmR chart, the four special-cause rules, the variation
  icons (common cause; special cause of improvement, of concern, or neither, high or low) and
  the assurance icons (the process will consistently pass, consistently fail, or hit and miss
  a target), and rebasing the limits at a documented change in the process.
- Implementation reference, followed rule for rule: nhs-r-community NHSRplotthedots 0.2.0
  (commit 050b07d, MIT): ``ptd_spc_standard`` (limits per rebase group, ``close_to_limits``
  between 2/3 of the way to a limit and the limit), ``ptd_special_cause_type`` (precedence:
  outside the limits, then a 7-point trend, then 2 of 3 close to a limit with all three on one
  side of the mean, then 7 points on one side of the mean), ``ptd_point_type``,
  ``ptd_get_icons`` / ``ptd_calculate_assurance_type`` (icons from the last point and the last
  group's limits) and ``ptd_add_short_group_warnings`` (a group of fewer than 13 points).

Limits come from :func:`phm.stats.spc.xmr_limits` (mean +/- 2.66 x mean moving range, moving
ranges of 3.267 x the mean or more screened out), per rebase group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from phm.stats.spc import LIMIT_FACTOR, xmr_limits

IMPROVEMENT = {"increase": 1, "decrease": -1, "neutral": 0}
#: fewer points than this in a group: limits are not yet reliable (NHSRplotthedots default)
SHORT_GROUP = 13
RUN = 7  # points in a trend or on one side of the mean

VARIATION_TEXT = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation: improvement (higher)",
    "improvement_low": "Special cause variation: improvement (lower)",
    "concern_high": "Special cause variation: concern (higher)",
    "concern_low": "Special cause variation: concern (lower)",
    "neutral_high": "Special cause variation: higher (neither improvement nor concern)",
    "neutral_low": "Special cause variation: lower (neither improvement nor concern)",
}
ASSURANCE_TEXT = {
    "pass": "The process will consistently meet the target",
    "fail": "The process will consistently fail the target",
    "inconsistent": "The process will hit and miss the target",
}


@dataclass(frozen=True)
class Chart:
    """An XmR chart of one series: per point the centre line and limits of its rebase group,
    the special-cause type and the point type; for the chart the variation icon (last point),
    the assurance icon (last group's limits against ``target``; None without a target or for a
    neutral measure) and whether the last group is short (under :data:`SHORT_GROUP` points)."""

    values: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    group: np.ndarray  # rebase group of each point, from 0
    special_cause: list[str]  # "Above UCL", "7 Point Trend (Increasing)", ..., "Common Cause"
    point_type: list[str]  # common_cause, special_cause_improvement / _concern / _neutral_high / _neutral_low
    variation: str  # a key of VARIATION_TEXT
    assurance: str | None  # a key of ASSURANCE_TEXT
    short: bool


def _seven_one_side(rel: np.ndarray) -> np.ndarray:
    """``ptd_seven_point_one_side_mean``: 1 at a point that ends 7 on one side of the mean."""
    out = np.zeros(rel.size)
    for i in range(RUN - 1, rel.size):
        w = rel[i - RUN + 1 : i + 1]
        if rel[i] != 0 and np.all(w == rel[i]):
            out[i] = 1
    return out


def _part_of_seven(v: np.ndarray) -> np.ndarray:
    """``ptd_part_of_seven_trend``: a point is part of a run when it or one of the next 6 ends one."""
    padded = np.concatenate([v, np.zeros(RUN - 1)])
    return np.array([float(np.any(np.abs(padded[i : i + RUN]) == 1)) for i in range(v.size)])


def _seven_trend(y: np.ndarray) -> np.ndarray:
    """``ptd_seven_point_trend``: +1 / -1 at a point ending 7 points each higher / lower."""
    out = np.zeros(y.size)
    for i in range(RUN - 1, y.size):
        d = np.sign(np.diff(y[i - RUN + 1 : i + 1]))
        if np.all(d == 1):
            out[i] = 1
        elif np.all(d == -1):
            out[i] = -1
    return out


def _two_in_three(close: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """``ptd_two_in_three``: 1 at a point in a window of 3 with 2+ close-to-limit points and
    all three on one side of the mean (``ptd_part_of_two_in_three`` then keeps the close ones)."""
    vp = np.concatenate([[0, 0], close, [0, 0]])
    rp = np.concatenate([[0, 0], rel, [0, 0]])
    return np.array([float(any(vp[i + s : i + s + 3].sum() >= 2 and abs(rp[i + s : i + s + 3].sum()) == 3
                               for s in range(3))) for i in range(close.size)])


def special_cause_types(y: np.ndarray, mean: float, lower: float, upper: float) -> list[str]:
    """``ptd_special_cause_type`` for one rebase group (limits of that group)."""
    amr = (upper - mean) / LIMIT_FACTOR
    outside = (y > upper) | (y < lower)
    rel = np.sign(y - mean)
    close = (~outside & ((y < mean - 2 * amr * LIMIT_FACTOR / 3) | (y > mean + 2 * amr * LIMIT_FACTOR / 3))).astype(float)
    trend = _part_of_seven(_seven_trend(y))
    two = (_two_in_three(close, rel) == 1) & (close == 1)  # ptd_part_of_two_in_three
    side = _part_of_seven(_seven_one_side(rel))
    sdy = np.sign(np.diff(y))
    # a point in a trend takes the direction of the step after it, the last the step before
    nxt = np.append(trend[1:], 0)
    direction = np.where((nxt != 0) & (trend != 0), np.append(sdy, sdy[-1:] if sdy.size else [0]),
                         np.concatenate([[0], sdy]))
    out = []
    for i in range(y.size):
        where = "Above" if rel[i] > 0 else "Below"
        if outside[i]:
            out.append("Above UCL" if rel[i] == 1 else "Below LCL")
        elif trend[i]:
            out.append(f"7 Point Trend ({'In' if direction[i] == 1 else 'De'}creasing)")
        elif two[i]:
            out.append(f"2 in 3 {where} CL")
        elif side[i]:
            out.append(f"7 Points {where} CL")
        else:
            out.append("Common Cause")
    return out


def point_type(special: str, improvement: int) -> str:
    """``ptd_point_type``: the special-cause type oriented by the improvement direction."""
    v = 1 if any(w in special for w in ("Above", "Increasing")) else -1 if any(
        w in special for w in ("Below", "Decreasing")) else 0
    if improvement == 0:
        return "special_cause_neutral_high" if v > 0 else "special_cause_neutral_low" if v < 0 else "common_cause"
    v *= improvement
    return "special_cause_improvement" if v > 0 else "special_cause_concern" if v < 0 else "common_cause"


def variation_icon(last_point_type: str, improvement: int) -> str:
    """The variation icon of ``ptd_get_icons`` from the last point's type."""
    if last_point_type == "common_cause":
        return "common_cause"
    if last_point_type.startswith("special_cause_neutral_"):
        return last_point_type.removeprefix("special_cause_")
    good = last_point_type == "special_cause_improvement"
    high = (improvement > 0) == good  # improvement when increasing is high; concern then is low
    return f"{'improvement' if good else 'concern'}_{'high' if high else 'low'}"


def assurance_icon(target: float | None, lower: float, upper: float, improvement: int) -> str | None:
    """``ptd_calculate_assurance_type`` against the last group's limits; None without a target
    or for a neutral measure."""
    if target is None or improvement == 0:
        return None
    if target > upper:
        return "fail" if improvement > 0 else "pass"
    if target < lower:
        return "pass" if improvement > 0 else "fail"
    return "inconsistent"


def chart(values: Sequence[float], improvement: str = "neutral", rebase: Sequence[int] = (),
          target: float | None = None) -> Chart:
    """The Making Data Count reading of a series. ``improvement``: ``increase``, ``decrease`` or
    ``neutral`` (:data:`IMPROVEMENT`); ``rebase``: indices of the points that start a new
    group (a documented change in the process); ``target``: for the assurance icon.
    Raises ``ValueError`` for an unknown direction, a rebase index out of range, or a group of
    fewer than 2 points (no moving range)."""
    if improvement not in IMPROVEMENT:
        raise ValueError(f"improvement must be one of {', '.join(IMPROVEMENT)}, not {improvement!r}")
    imp = IMPROVEMENT[improvement]
    y = np.asarray(values, dtype=float)
    starts = sorted({0, *(int(i) for i in rebase)})
    if any(i < 0 or i >= y.size for i in starts[1:]):
        raise ValueError(f"rebase points must be within the series of {y.size} points")
    bounds = [*starts, y.size]
    group = np.zeros(y.size, dtype=int)
    mean, lower, upper = (np.zeros(y.size) for _ in range(3))
    special: list[str] = []
    for g, (a, b) in enumerate(pairwise(bounds)):
        if b - a < 2:
            raise ValueError(f"rebase group {g + 1} has {b - a} point; an XmR chart needs at least 2")
        lim = xmr_limits(y[a:b])
        group[a:b], mean[a:b], lower[a:b], upper[a:b] = g, lim.mean, lim.lower, lim.upper
        special += special_cause_types(y[a:b], lim.mean, lim.lower, lim.upper)
    types = [point_type(s, imp) for s in special]
    return Chart(y, mean, lower, upper, group, special, types, variation_icon(types[-1], imp),
                 assurance_icon(target, lower[-1], upper[-1], imp), int(y.size - starts[-1]) < SHORT_GROUP)
