"""Tests for phm.stats intervals against PHEindicatormethods public test vectors.

Expected numbers are typed in as literals (PHEindicatormethods is GPL-3; no files copied).
Source: ukhsa-collaboration/PHEindicatormethods@093fd28 (093fd288d8f8949dbcfbed70049dbbf385b6141d),
tests/testthat/testdata_Byars_Wilson.xlsx sheet testdata_B_W and
tests/testthat/testdata_Rate.xlsx sheet testdata_Rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from phm.stats import byars_ci, crude_rate, exact_poisson_ci, wilson_ci

# ukhsa-collaboration/PHEindicatormethods@093fd28 tests/testthat/testdata_Byars_Wilson.xlsx
# sheet testdata_B_W, rows method == "Byars": (x, conf, lower, upper); lower None = NA.
# (The sheet has no x=10 row at 95%; x=10 is covered at 99.8%.)
BYARS = [
    (65, 0.95, 50.163187710459454, 82.84913854593984),
    (1045, 0.95, 982.5932018073325, 1110.33121298565),
    (1, 0.95, 0.01307213290150435, 5.5637555824752605),
    (65, 0.998, 42.8802614714802, 94.00029084431802),
    (1045, 0.998, 947.9407035610374, 1148.806160988033),
    (10, 0.998, 2.916318374695686, 24.193724927880535),
    (1, 0.998, None, 9.362180217908362),  # NA row: Byar's lower < 0
]

# Same sheet, rows method == "Wilson": (x, n, conf, lower, upper) as proportions.
WILSON = [
    (65, 100, 0.95, 0.5525444329688797, 0.7363575175690247),
    (1045, 5000, 0.95, 0.19795549880013297, 0.22049130373189027),
    (0.445, 1, 0.95, 0.04381744772058822, 0.9334621276979156),
    (65, 100, 0.998, 0.4954946574070431, 0.7783540614089697),
    (1045, 5000, 0.998, 0.19179381799015244, 0.22731562902525818),
    (0.445, 1, 0.998, 0.019347006132900975, 0.9702259947019541),
]

# ukhsa-collaboration/PHEindicatormethods@093fd28 tests/testthat/testdata_Rate.xlsx
# sheet testdata_Rate, multiplier 100 rows Area1..Area4:
# (count, pop, value, lower95, upper95, lower99.8, upper99.8); Exact for x<10, Byars for x>=10.
# fmt: off
RATES = [
    (1, 100, 1.0, 0.025317807984289897, 5.571643390938898, 0.0010005003335835344, 9.233413476451585),
    (5, 100, 5.0, 1.62348639011842, 11.668332079322669, 0.739371731917839, 16.454745203680105),
    (20, 100, 20.0, 12.211428834875937, 30.889880369197066, 8.922802365144193, 38.08503562504191),
    (65, 100, 65.0, 50.163187710459454, 82.84913854593984, 42.8802614714802, 94.00029084431802),
]

# fmt: on


@pytest.mark.parametrize(("x", "conf", "lower", "upper"), BYARS)
def test_byars_ci_matches_phe(x, conf, lower, upper):
    lo, up = byars_ci(x, conf)
    if lower is None:
        assert math.isnan(lo)
    else:
        assert lo == pytest.approx(lower, rel=1e-6)
    assert up == pytest.approx(upper, rel=1e-6)


def test_byars_ci_vectorised():
    lo, up = byars_ci(np.array([65, 1045]), 0.95)
    assert lo == pytest.approx([50.163187710459454, 982.5932018073325], rel=1e-6)
    assert up == pytest.approx([82.84913854593984, 1110.33121298565], rel=1e-6)


def test_byars_zero_count_lower_is_nan():
    lo, up = byars_ci(0)
    assert math.isnan(lo) and up > 0


@pytest.mark.parametrize(("x", "n", "conf", "lower", "upper"), WILSON)
def test_wilson_ci_matches_phe(x, n, conf, lower, upper):
    lo, up = wilson_ci(x, n, conf)
    assert lo == pytest.approx(lower, rel=1e-6)
    assert up == pytest.approx(upper, rel=1e-6)


@pytest.mark.parametrize(("count", "pop", "value", "l95", "u95", "l998", "u998"), RATES)
def test_crude_rate_matches_phe(count, pop, value, l95, u95, l998, u998):
    r95 = crude_rate(count, pop, 0.95, multiplier=100)
    r998 = crude_rate(count, pop, 0.998, multiplier=100)
    assert r95.value == pytest.approx(value, rel=1e-6)
    assert (r95.lower, r95.upper) == pytest.approx((l95, u95), rel=1e-6)
    assert (r998.lower, r998.upper) == pytest.approx((l998, u998), rel=1e-6)


def test_exact_poisson_ci_count_one():
    # Rate sheet Area1 (x=1, pop=100, per 100) => exact count limits equal the rate limits.
    lo, up = exact_poisson_ci(1, 0.95)
    assert (lo, up) == pytest.approx((0.025317807984289897, 5.571643390938898), rel=1e-6)
    assert exact_poisson_ci(0, 0.95)[0] == 0.0


@pytest.mark.parametrize("conf", [0, 1, 95, -0.5, 1.0001])
def test_conf_out_of_range_raises(conf):
    for call in (
        lambda: byars_ci(10, conf),
        lambda: wilson_ci(1, 10, conf),
        lambda: exact_poisson_ci(1, conf),
        lambda: crude_rate(1, 10, conf),
    ):
        with pytest.raises(ValueError, match="conf"):
            call()


def test_invalid_interval_inputs_raise():
    with pytest.raises(ValueError, match="negative"):
        byars_ci(-1)
    with pytest.raises(ValueError, match="negative"):
        wilson_ci(-1, 10)
    with pytest.raises(ValueError, match="exceed"):
        wilson_ci(11, 10)
    with pytest.raises(ValueError, match="positive"):
        wilson_ci(0, 0)
    with pytest.raises(ValueError, match="population"):
        crude_rate(5, 0)
    with pytest.raises(ValueError, match="negative"):
        crude_rate(5, -10)
