"""Tests for phm.stats.funnel against public funnel-plot test vectors.

Expected numbers are typed in as literals (no files copied):
- Proportion limits: ukhsa-collaboration/PHEindicatormethods@093fd28
  (093fd288d8f8949dbcfbed70049dbbf385b6141d, GPL-3), tests/testthat/
  testdata_funnel_prop_outputs.csv (columns Population, Lower2s0025limit,
  Upper2s0025limit, Lower3s0001limit, Upper3s0001limit, Baseline = 80.642448); the
  pooled baseline comes from testdata_funnel_prop_inputs.csv (303 areas; sums of the
  numerator and denominator columns transcribed below).
- Ratio limits: nhs-r-community/FunnelPlotR@9020d49
  (9020d4972873d863e10b8a16555975f0e322adfc, MIT), tests/testthat/test-poisson_limits.R.
"""

from __future__ import annotations

import numpy as np
import pytest

from phm.stats.funnel import proportion_limits, ratio_limits

# Sums over the 303 rows of testdata_funnel_prop_inputs.csv.
SUM_NUMERATOR = 10325813.8504
SUM_DENOMINATOR = 12804440
BASELINE = SUM_NUMERATOR / SUM_DENOMINATOR

# testdata_funnel_prop_outputs.csv: (Population, L2s, U2s, L3s, U3s), in percent.
PROP_ROWS = [
    (1, 3.204264, 100, 0, 100),
    (2, 25.885383, 100, 0, 100),
    (3, 35.933491, 100, 10.150815, 100),
    (10, 56.154344, 100, 42.03259, 100),
    (18, 62.390093, 98.894803, 51.864359, 100),
    (41, 68.548635, 92.73626, 61.574398, 99.710497),
    (68, 71.251689, 90.033207, 65.836243, 95.448652),
    (72486, 80.354822, 80.930074, 80.188954, 81.095941),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]

# FunnelPlotR test-poisson_limits.R: (expected, ll95, ul95, ll998, ul998), target 1.
RATIO_ROWS = [
    (15, 0.5596924, 1.649348, 0.3862650, 2.082907),
    (20, 0.6108260, 1.544419, 0.4479107, 1.902094),
    (30, 0.6746958, 1.427562, 0.5289724, 1.702771),
]


def test_pooled_baseline_matches_vectors():
    assert BASELINE * 100 == pytest.approx(80.642448, rel=1e-6)  # noqa: SIM300


@pytest.mark.parametrize("n, l2, u2, l3, u3", PROP_ROWS)
def test_proportion_limits_scalar(n, l2, u2, l3, u3):
    lo2, up2 = proportion_limits(n, BASELINE, 0.95)
    lo3, up3 = proportion_limits(n, BASELINE, 0.998)
    assert isinstance(lo2, float)
    got = [lo2 * 100, up2 * 100, lo3 * 100, up3 * 100]
    assert got == pytest.approx([l2, u2, l3, u3], rel=1e-6, abs=1e-12)


def test_proportion_limits_array():
    n = np.array([r[0] for r in PROP_ROWS])
    lo, up = proportion_limits(n, BASELINE, 0.95)
    assert isinstance(lo, np.ndarray) and lo.shape == n.shape
    np.testing.assert_allclose(lo * 100, [r[1] for r in PROP_ROWS], rtol=1e-6)
    np.testing.assert_allclose(up * 100, [r[2] for r in PROP_ROWS], rtol=1e-6)


def test_proportion_limits_are_wilson_inversion():
    # At the limits, the target is an end point of the Wilson interval of the limit.
    from phm.stats import wilson_ci

    n, t = 250, 0.3
    lo, up = proportion_limits(n, t, 0.95)
    assert wilson_ci(up * n, n, 0.95)[0] == pytest.approx(t, rel=1e-12)
    assert wilson_ci(lo * n, n, 0.95)[1] == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0, "target": 0.5},
        {"n": -5, "target": 0.5},
        {"n": [10, np.nan], "target": 0.5},
        {"n": "abc", "target": 0.5},
        {"n": 10, "target": 80.6},
        {"n": 10, "target": -0.1},
        {"n": 10, "target": "x"},
        {"n": 10, "target": 0.5, "conf": 95},
        {"n": 10, "target": 0.5, "conf": 0},
    ],
)
def test_proportion_limits_invalid(kwargs):
    with pytest.raises(ValueError):
        proportion_limits(**kwargs)


@pytest.mark.parametrize("e, ll95, ul95, ll998, ul998", RATIO_ROWS)
def test_ratio_limits_scalar(e, ll95, ul95, ll998, ul998):
    got = list(ratio_limits(e, 0.95)) + list(ratio_limits(e, 0.998))
    assert got == pytest.approx([ll95, ul95, ll998, ul998], rel=1e-6)


def test_ratio_limits_array():
    e = np.array([r[0] for r in RATIO_ROWS], dtype=float)
    lo, up = ratio_limits(e, 0.998)
    np.testing.assert_allclose(lo, [r[3] for r in RATIO_ROWS], rtol=1e-6)
    np.testing.assert_allclose(up, [r[4] for r in RATIO_ROWS], rtol=1e-6)


@pytest.mark.parametrize(
    "expected, conf", [(0, 0.95), (-1, 0.95), (np.inf, 0.95), ([5, None], 0.95), (10, 1.0)]
)
def test_ratio_limits_invalid(expected, conf):
    with pytest.raises(ValueError):
        ratio_limits(expected, conf)
