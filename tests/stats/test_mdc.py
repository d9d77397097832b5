"""Tests for phm.stats.mdc (Making Data Count point types, icons, rebasing, short groups).

Rule vectors transcribed from nhs-r-community/NHSRplotthedots@050b07d (MIT),
tests/testthat/test-ptd_calculate_point_type.R (``ptd_seven_point_one_side_mean``,
``ptd_part_of_seven_trend``, ``ptd_seven_point_trend``, ``ptd_two_in_three``) and
tests/testthat/_snaps/ptd_spc.md (the rnorm(20) series: 20 common-cause points; with a target
of 0.5 inside the limits). Whole-series cases are hand-built from the NHS England *Making Data
Count* rules: a point beyond a limit, 7 points on one side of the mean, a 7-point trend.
"""

from __future__ import annotations

import numpy as np
import pytest

from phm.stats import mdc

# fmt: off
Y = [
    -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774,
    1.71506499, 0.46091621, -1.26506123, -0.68685285, -0.44566197,
    1.2240818, 0.35981383, 0.40077145, 0.11068272, -0.55584113,
    1.78691314, 0.49785048, -1.96661716, 0.7013559, -0.47279141,
]
# fmt: on


def a(*v):
    return np.array(v, dtype=float)


def test_seven_point_one_side_mean_vectors():
    assert list(mdc._seven_one_side(a(*[1] * 6))) == [0] * 6
    assert list(mdc._seven_one_side(a(*[1] * 6, -1))) == [0] * 7
    assert list(mdc._seven_one_side(a(*[1] * 8, -1))) == [0, 0, 0, 0, 0, 0, 1, 1, 0]
    assert list(mdc._seven_one_side(a(*[-1] * 8, 1))) == [0, 0, 0, 0, 0, 0, 1, 1, 0]


def test_part_of_seven_vectors():
    assert list(mdc._part_of_seven(a(*[0] * 6))) == [0] * 6
    assert list(mdc._part_of_seven(a(*[0] * 6, 1, 0))) == [1] * 7 + [0]
    assert list(mdc._part_of_seven(a(*[0] * 7, 1, 0))) == [0] + [1] * 7 + [0]
    assert list(mdc._part_of_seven(a(*[0] * 6, -1, 0))) == [1] * 7 + [0]


def test_seven_point_trend_vectors():
    assert list(mdc._seven_trend(a(*range(1, 7)))) == [0] * 6
    assert list(mdc._seven_trend(a(1, 2, 3, 3, 4, 5, 6))) == [0] * 7
    assert list(mdc._seven_trend(a(*range(1, 8)))) == [0] * 6 + [1]
    assert list(mdc._seven_trend(a(2, *range(1, 8), 3))) == [0] * 7 + [1, 0]
    assert list(mdc._seven_trend(a(*range(7, 0, -1)))) == [0] * 6 + [-1]
    assert list(mdc._seven_trend(a(2, *range(7, 0, -1), 3))) == [0] * 7 + [-1, 0]


def test_two_in_three_vectors():
    for close in ((1, 0, 1), (0, 1, 1), (1, 1, 0)):
        assert list(mdc._two_in_three(a(*close), a(1, 1, 1))) == [1, 1, 1]
        assert list(mdc._two_in_three(a(*close), a(1, -1, 1))) == [0, 0, 0]  # opposite sides
    assert list(mdc._two_in_three(a(0, 0, 1, 0, 1, 0, 0), a(*[1] * 7))) == [0, 0, 1, 1, 1, 0, 0]
    assert list(mdc._two_in_three(a(0, 0, 1, 1, 0, 0, 0), a(*[1] * 7))) == [0, 1, 1, 1, 1, 0, 0]
    assert list(mdc._two_in_three(a(0, 0, 1, 0, 1, 0, 0), a(1, -1, 1, -1, 1, -1, 1))) == [0] * 7


def test_point_type_is_oriented_by_the_improvement_direction():
    assert mdc.point_type("Above UCL", 1) == "special_cause_improvement"
    assert mdc.point_type("Above UCL", -1) == "special_cause_concern"
    assert mdc.point_type("7 Point Trend (Decreasing)", -1) == "special_cause_improvement"
    assert mdc.point_type("2 in 3 Below CL", 0) == "special_cause_neutral_low"
    assert mdc.point_type("Common Cause", 1) == "common_cause"


def test_rnorm_series_is_common_cause_and_a_target_inside_the_limits_is_hit_and_miss():
    """_snaps/ptd_spc.md: mean 0.142, limits -3.01 / 3.29, 20 common-cause points; target 0.5."""
    c = mdc.chart(Y, "increase", target=0.5)
    assert c.mean[0] == pytest.approx(0.1416238) and c.lower[0] == pytest.approx(-3.01138, abs=1e-5)
    assert c.point_type == ["common_cause"] * 20
    assert c.variation == "common_cause" and c.assurance == "inconsistent" and not c.short


def test_a_point_above_the_upper_limit():
    y = [10, 11, 9, 10, 11, 10, 9, 10, 11, 10, 9, 10, 11, 30]
    up = mdc.chart(y, "increase")
    assert up.special_cause[-1] == "Above UCL" and up.point_type[-1] == "special_cause_improvement"
    assert up.variation == "improvement_high"
    down = mdc.chart(y, "decrease")
    assert down.variation == "concern_high" and down.point_type[-1] == "special_cause_concern"
    assert mdc.chart(y, "neutral").variation == "neutral_high"


def test_seven_points_below_the_mean():
    y = [20, 22, 19, 21, 20, 22, 21, 20, 15, 16, 15, 16, 15, 16, 15]
    c = mdc.chart(y, "decrease")  # mean 18.2; 15 is within 2/3 of the way to the lower limit, 16 not
    assert c.special_cause == ["7 Points Above CL"] * 8 + ["2 in 3 Below CL", "7 Points Below CL"] * 3 + [
        "2 in 3 Below CL"]
    assert all(t == "special_cause_improvement" for t in c.point_type[-7:])
    assert c.variation == "improvement_low"
    assert mdc.chart(y, "increase").variation == "concern_low"


def test_a_seven_point_trend():
    y = [50, 51, 49, 50, 51, 50, 49, 50, 51, 52, 53, 54, 55, 56]
    c = mdc.chart(y, "decrease")  # 49 to 56: 8 points rising; a point beyond a limit takes precedence
    assert c.special_cause == ["7 Points Below CL"] * 6 + ["7 Point Trend (Increasing)"] * 6 + ["Above UCL"] * 2
    assert c.variation == "concern_high"


def test_assurance_from_the_target_and_the_limits():
    y = [10, 11, 9, 10, 11, 10, 9, 10, 11, 10, 9, 10, 11, 10]
    assert mdc.chart(y, "increase", target=5).assurance == "pass"
    assert mdc.chart(y, "increase", target=20).assurance == "fail"
    assert mdc.chart(y, "decrease", target=5).assurance == "fail"
    assert mdc.chart(y, "neutral", target=5).assurance is None
    assert mdc.chart(y, "increase").assurance is None


def test_rebasing_gives_each_group_its_own_limits_and_short_groups_are_flagged():
    y = [10, 11, 9, 10, 11, 10, 9, 10, 11, 10, 9, 10, 11, 10, 20, 21, 19, 20, 21, 20]
    whole = mdc.chart(y, "increase")
    rebased = mdc.chart(y, "increase", rebase=[14])
    assert list(rebased.group) == [0] * 14 + [1] * 6
    assert rebased.mean[0] == pytest.approx(np.mean(y[:14])) and rebased.mean[-1] == pytest.approx(np.mean(y[14:]))
    assert rebased.point_type[-1] == "common_cause" and whole.point_type[-1] != "common_cause"
    assert rebased.short and not whole.short  # 6 points since the change: limits not yet reliable


@pytest.mark.parametrize("kw, message", [
    ({"improvement": "up"}, "improvement must be one of"),
    ({"rebase": [25]}, "within the series"),
    ({"rebase": [19]}, "needs at least 2"),
])
def test_bad_arguments_say_what_is_wrong(kw, message):
    with pytest.raises(ValueError, match=message):
        mdc.chart(Y, **kw)
