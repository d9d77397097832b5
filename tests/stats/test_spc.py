"""Tests for phm.stats.spc.

XmR vectors typed in as literals from nhs-r-community/NHSRplotthedots@050b07d
(050b07d7eacc011767532732f69b8fd7d6a28fd3, MIT), tests/testthat/test-ptd_spc_standard.R
and its snapshot tests/testthat/_snaps/ptd_spc_standard.md (cases r1, r2, r3):
y = R ``set.seed(123); rnorm(20)`` written to 8 d.p.; r2/r3 set point 15 to 10.
Special-cause rule tests are small hand-built cases from the NHS England
*Making Data Count* rule definitions.
"""

from __future__ import annotations

import numpy as np
import pytest

from phm.stats.spc import XmRLimits, special_cause, xmr_limits

# fmt: off
Y = [
    -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774,
    1.71506499, 0.46091621, -1.26506123, -0.68685285, -0.44566197,
    1.2240818, 0.35981383, 0.40077145, 0.11068272, -0.55584113,
    1.78691314, 0.49785048, -1.96661716, 0.7013559, -0.47279141,
]
# fmt: on
Y_OUTLIER = [*Y[:14], 10.0, *Y[15:]]


@pytest.mark.parametrize(
    "y, screen, expected",
    [
        (Y, True, (0.1416238, -3.01138, 3.294627)),  # r1
        (Y, False, (0.1416238, -3.01138, 3.294627)),  # r1: no MR screened out anyway
        (Y_OUTLIER, True, (0.6694159, -2.383666, 3.722497)),  # r2
        (Y_OUTLIER, False, (0.6694159, -4.596625, 5.935457)),  # r3
    ],
)
def test_xmr_limits_vectors(y, screen, expected):
    got = xmr_limits(y, screen_moving_ranges=screen)
    assert isinstance(got, XmRLimits)
    assert tuple(got) == pytest.approx(expected, rel=1e-6)


def test_xmr_limits_constant_series():
    assert tuple(xmr_limits([2.0, 2.0, 2.0])) == (2.0, 2.0, 2.0)


@pytest.mark.parametrize("bad", [[1.0], [], [1.0, np.nan, 2.0], [[1, 2], [3, 4]], ["a", "b"]])
def test_xmr_limits_invalid(bad):
    with pytest.raises(ValueError):
        xmr_limits(bad)


LIM = XmRLimits(0.0, -3.0, 3.0)  # sigma = 1, 2-sigma lines at +/-2


def test_outside_limits():
    sc = special_cause([0.5, -0.5, 3.5, -0.5, -3.2, 3.0], LIM)
    assert sc.outside_limits.tolist() == [False, False, True, False, True, False]


def test_shift_run_of_seven():
    y = [-0.5] + [0.5, 0.2] * 3 + [0.4] + [-0.3]
    sc = special_cause(y, LIM)
    assert sc.shift.tolist() == [False] + [True] * 7 + [False]
    below = special_cause([-v for v in y], LIM)
    assert below.shift.tolist() == sc.shift.tolist()


def test_shift_six_or_broken_by_mean_not_flagged():
    assert not special_cause([0.5, 0.2] * 3 + [-0.5], LIM).shift.any()
    assert not special_cause([0.5, 0.2, 0.5, 0.0, 0.2, 0.5, 0.2, 0.5], LIM).shift.any()


def test_trend_of_seven():
    up = [-0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.1]
    assert special_cause(up, LIM).trend.tolist() == [True] * 7 + [False]
    down = [0.0] + [-v for v in up[:7]]
    assert special_cause(down, LIM).trend.tolist() == [False] + [True] * 7


def test_trend_six_or_tied_not_flagged():
    assert not special_cause([-0.5, -0.3, -0.1, 0.1, 0.3, 0.5, 0.0], LIM).trend.any()
    assert not special_cause([-0.6, -0.4, -0.2, -0.2, 0.2, 0.4, 0.6], LIM).trend.any()


def test_two_of_three_beyond_two_sigma():
    sc = special_cause([0.0, 2.5, 0.0, 2.2, 0.0, 0.0], LIM)
    assert sc.two_of_three.tolist() == [False, True, False, True, False, False]
    low = special_cause([-2.5, -2.1, 0.0], LIM)
    assert low.two_of_three.tolist() == [True, True, False]


def test_two_of_three_not_flagged():
    assert not special_cause([2.5, 0.0, 0.0, 2.5], LIM).two_of_three.any()  # 4 apart
    assert not special_cause([2.5, -2.5, 0.0], LIM).two_of_three.any()  # opposite sides
    assert not special_cause([2.5, 1.9, 0.0], LIM).two_of_three.any()


def test_any_and_default_limits():
    y = [1.5, -0.5] * 5 + [9.0]  # alternates about the mean (~1.27): no run
    sc = special_cause(y)
    assert sc.outside_limits[-1] and sc.any[-1]
    assert sc.any.sum() == 1


@pytest.mark.parametrize(
    "y, kwargs",
    [
        ([1.0], {}),
        ([1.0, np.inf], {}),
        ([1.0, 2.0, 3.0], {"run_length": 1}),
        ([1.0, 2.0, 3.0], {"run_length": 7.5}),
        ([1.0, 2.0, 3.0], {"limits": XmRLimits(2.0, 3.0, 4.0)}),
        ([1.0, 2.0, 3.0], {"limits": (2.0, 1.0, np.nan)}),
    ],
)
def test_special_cause_invalid(y, kwargs):
    with pytest.raises(ValueError):
        special_cause(y, **kwargs)
