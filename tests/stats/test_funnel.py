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
- Rate funnels: PHEindicatormethods@093fd28 tests/testthat/
  testdata_funnel_rate_input_funnels.csv (columns ev, rate) and
  testdata_funnel_rate_outputs.csv / _outputs_2.csv / _outputs_3.csv, which
  tests/testthat/testFunnels.R builds with calculate_funnel_limits(statistic = "rate",
  multiplier = 1e5, years_of_data = 3) for rate_type "dsr", "crude" (largest ev set
  to 5) and "crude" (largest ev set to 0 events with a denominator supplied).
- Overdispersion: FunnelPlotR@9020d49 tests/testthat/test-classes_methods.R (phi of a
  six-unit standardised-ratio funnel). FunnelPlotR's tests publish no tau2 or
  adjusted limits, so those are checked against the formula worked by hand in the
  test (stated in each test's docstring) and against properties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from phm.stats.funnel import (
    overdispersed_proportion_limits,
    overdispersed_ratio_limits,
    overdispersion,
    proportion_limits,
    rate_funnel_baseline,
    rate_limit_points,
    rate_limits,
    ratio_limits,
)

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


# ---- rate funnels: PHEindicatormethods calculate_funnel_limits(statistic = "rate") -------

# PHEindicatormethods@093fd28 tests/testthat/testdata_funnel_rate_input_funnels.csv
# columns ev (events) and rate (per 100,000), 50 areas.
# fmt: off
RATE_EV = [414, 462, 178, 525, 194, 937, 817, 117, 298, 228, 243, 13, 373, 664, 601, 602,
           767, 708, 90, 952, 347, 648, 988, 354, 839, 25, 518, 425, 648, 765, 210, 931,
           589, 592, 554, 870, 372, 843, 142, 543, 489, 620, 774, 904, 936, 841, 22, 922,
           955, 308]
RATE_RATE = [184, 102, 83, 118, 121, 125, 112, 190, 146, 140, 87, 70, 90, 139, 109, 65, 165,
             143, 55, 135, 135, 88, 167, 99, 83, 53, 62, 118, 176, 101, 71, 138, 74, 84, 161,
             79, 189, 170, 159, 113, 191, 116, 200, 171, 128, 134, 185, 100, 123, 155]
# fmt: on


def _crude_with_five():
    """testFunnels.R test 2: the largest ev (988) replaced by 5 events, same rate."""
    ev = [5 if e == max(RATE_EV) else e for e in RATE_EV]
    return ev, list(RATE_RATE)


def _crude_with_zero_and_pop():
    """testFunnels.R test 3: pop = 1e5 * ev / rate; largest ev set to 0 events and rate 0;
    keep areas with pop > max(pop) / 2; pop passed as the denominator."""
    pop = [1e5 * e / r for e, r in zip(RATE_EV, RATE_RATE, strict=True)]
    top = max(RATE_EV)
    rows = [
        (0 if e == top else e, 0 if e == top else r, p)
        for e, r, p in zip(RATE_EV, RATE_RATE, pop, strict=True)
        if p > max(pop) / 2
    ]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


# Column `baseline` of testdata_funnel_rate_outputs.csv / _2.csv / _3.csv.
BASELINE_DSR = 116.1720835
BASELINE_CRUDE_5 = 114.8591735
BASELINE_CRUDE_0 = 95.60285106

# Rows (Events, lower_2s_population_1_year, lower_2s_limit, upper_2s_population_1_year,
# upper_2s_limit, lower_3s_population_1_year, lower_3s_limit, upper_3s_population_1_year,
# upper_3s_limit) of the three output files (years_of_data = 3, per 100,000).
# fmt: off
RATE_OUT_DSR = [
    (1, 1598.675694, 20.85059119, 7.264481402, 4588.535848, 2649.348525, 12.58170943, 0.287087625, 116108.569),
    (2, 2072.984403, 32.15975314, 69.49732367, 959.2695538, 3221.906682, 20.69168143, 13.02722321, 5117.48863),
    (10, 5276.757672, 63.17010446, 1375.943768, 242.2579623, 6924.776769, 48.13632908, 849.4639547, 392.4043292),
    (30, 12288.34267, 81.37793899, 5807.727562, 172.1843853, 14657.31486, 68.22532023, 4553.350694, 219.6184891),
    (151, 50814.51335, 99.05306578, 36691.61384, 137.1793935, 55367.30719, 90.90803922, 33242.59456, 151.4121686),
    (1360, 411529.9259, 110.158048, 369759.5622, 122.6021934, 424043.2424, 106.9073359, 358342.3275, 126.5084525),
]
RATE_OUT_CRUDE_5 = [
    (1, 1616.949526, 20.61494982, 7.347518827, 4536.678859, 2679.632184, 12.4395182, 0.290369211, 114796.3768),
    (2, 2096.679871, 31.79630214, 70.2917202, 948.4284419, 3258.735028, 20.45783597, 13.17613227, 5059.653722),
    (10, 5337.07421, 62.45619233, 1391.671639, 239.5201023, 7003.931164, 47.59232002, 859.1738425, 387.9696015),
    (30, 12428.80587, 80.45825241, 5874.113407, 170.2384565, 14824.85685, 67.45427696, 4605.398252, 217.1364875),
    (151, 51395.35403, 97.9336251, 37111.02122, 135.629071, 56000.18906, 89.88064893, 33622.57756, 149.7009955),
    (1344, 411466.9163, 108.8787415, 369466.4508, 121.2559352, 424051.9679, 105.6474286, 357990.2328, 125.143079),
]
RATE_OUT_CRUDE_0 = [
    (286, 111970.3773, 85.14156661, 88494.9416, 107.727438, 119317.6437, 79.89877305, 82485.29064, 115.5761622),
    (420, 161136.6465, 86.88278122, 132767.3125, 105.4476418, 169892.3497, 82.40512316, 125347.486, 111.6895157),
    (635, 239312.4349, 88.44783464, 204514.1978, 103.497297, 249919.4903, 84.6939414, 195241.4632, 108.4127639),
    (1119, 413702.6663, 90.16137202, 367628.0403, 101.4612486, 427558.6565, 87.23949201, 355104.4927, 105.0395046),
]
# fmt: on

# PHEindicatormethods finds the Poisson means by bisection on v = mu / (1 + E + mu),
# stopping once the step is below 1e-7 (poisson_funnel in R/utils.R). At 1 event the
# upper-limit mean is small (0.025 / 0.001), so the bisection's absolute error in v is
# 3.6e-6 / 4.7e-5 of the result; phm uses the exact chi-square quantile instead.
_BISECTION_GAP = pytest.mark.xfail(
    strict=True,
    reason="PHEindicatormethods' bisection (step 1e-7) is off by >1e-6 relative at 1 event",
)
# The tabulated populations carry that bisection error; inverting at them (rate_limits)
# amplifies it at 1 and 2 events (up to 6e-6 and 1.02e-6 relative).
_POPULATION_GAP = pytest.mark.xfail(
    strict=True,
    reason="tabulated populations at 1-2 events carry PHEindicatormethods' bisection error",
)


def _rate_cases(mark_small_events):
    cases = []
    for baseline, rows, label in [
        (BASELINE_DSR, RATE_OUT_DSR, "dsr"),
        (BASELINE_CRUDE_5, RATE_OUT_CRUDE_5, "crude5"),
        (BASELINE_CRUDE_0, RATE_OUT_CRUDE_0, "crude0"),
    ]:
        for row in rows:
            marks = mark_small_events(row[0])
            cases.append(pytest.param(baseline, row, marks=marks, id=f"{label}-E{row[0]}"))
    return cases


def test_rate_funnel_baseline_dsr():
    # testFunnels.R "confidence limits calculate correctly for rates (dsr)"
    got = rate_funnel_baseline(RATE_EV, RATE_RATE, "dsr", multiplier=1e5)
    assert got == pytest.approx(BASELINE_DSR, rel=1e-6)


def test_rate_funnel_baseline_crude_with_small_count():
    ev, rate = _crude_with_five()
    got = rate_funnel_baseline(ev, rate, "crude", multiplier=1e5)
    assert got == pytest.approx(BASELINE_CRUDE_5, rel=1e-6)


def test_rate_funnel_baseline_crude_with_zero_events_and_population():
    ev, rate, pop = _crude_with_zero_and_pop()
    assert ev.count(0) == 1 and len(ev) == 18
    got = rate_funnel_baseline(ev, rate, "crude", multiplier=1e5, populations=pop)
    assert got == pytest.approx(BASELINE_CRUDE_0, rel=1e-6)


def test_rate_funnel_baseline_dsr_skips_zero_event_areas():
    # A DSR area with no events adds nothing to either sum (its rate is ignored).
    base = rate_funnel_baseline(RATE_EV, RATE_RATE, "dsr", multiplier=1e5)
    more = rate_funnel_baseline([*RATE_EV, 0], [*RATE_RATE, float("nan")], "dsr", 1e5)
    assert more == pytest.approx(base, rel=1e-12)


@pytest.mark.parametrize(
    "baseline, row",
    _rate_cases(lambda events: [_BISECTION_GAP] if events == 1 else []),
)
def test_rate_limit_points_match_phe(baseline, row):
    events, *expected = row
    p2 = rate_limit_points(events, baseline, 0.95, multiplier=1e5, years_of_data=3)
    p3 = rate_limit_points(events, baseline, 0.998, multiplier=1e5, years_of_data=3)
    assert list(p2) + list(p3) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "baseline, row",
    _rate_cases(lambda events: [_POPULATION_GAP] if events <= 2 else []),
)
def test_rate_limits_at_tabulated_populations(baseline, row):
    _, pl2, l2, pu2, u2, pl3, l3, pu3, u3 = row
    kw = {"multiplier": 1e5, "years_of_data": 3}
    got = [
        rate_limits(pl2, baseline, 0.95, **kw)[0],
        rate_limits(pu2, baseline, 0.95, **kw)[1],
        rate_limits(pl3, baseline, 0.998, **kw)[0],
        rate_limits(pu3, baseline, 0.998, **kw)[1],
    ]
    assert got == pytest.approx([l2, u2, l3, u3], rel=1e-6)


def test_rate_limits_invert_rate_limit_points():
    events = np.array([0.5, 1, 2, 7, 10, 55, 300, 5000], dtype=float)
    for conf in (0.95, 0.998):
        pts = rate_limit_points(events, 80.0, conf, multiplier=1e5, years_of_data=2)
        lo = rate_limits(pts.lower_population, 80.0, conf, multiplier=1e5, years_of_data=2)[0]
        up = rate_limits(pts.upper_population, 80.0, conf, multiplier=1e5, years_of_data=2)[1]
        np.testing.assert_allclose(lo, pts.lower, rtol=1e-9)
        np.testing.assert_allclose(up, pts.upper, rtol=1e-9)


def test_rate_limits_shape_and_properties():
    pops = np.array([50.0, 500.0, 5e3, 5e4, 5e5, 5e7])
    lo, up = rate_limits(pops, 120.0, 0.95)
    assert isinstance(lo, np.ndarray) and lo.shape == pops.shape
    assert np.all(lo <= 120.0) and np.all(up >= 120.0)
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(up) <= 0)  # the funnel narrows
    assert lo[0] == 0.0  # expected count 0.06 < -ln(0.025): no count is significantly low
    scalar = rate_limits(5e3, 120.0, 0.95)
    assert isinstance(scalar[0], float) and scalar == pytest.approx((lo[2], up[2]), rel=1e-12)


def test_rate_limits_years_of_data_scales_population():
    assert rate_limits(1000, 90.0, 0.95, years_of_data=3) == pytest.approx(
        rate_limits(3000, 90.0, 0.95), rel=1e-12
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: rate_limits(0, 100.0),
        lambda: rate_limits(-5, 100.0),
        lambda: rate_limits([100, np.nan], 100.0),
        lambda: rate_limits(100, 0.0),
        lambda: rate_limits(100, -1.0),
        lambda: rate_limits(100, 100.0, conf=95),
        lambda: rate_limits(100, 100.0, multiplier=0),
        lambda: rate_limits(100, 100.0, years_of_data=0),
        lambda: rate_limit_points(0, 100.0),
        lambda: rate_limit_points(5, "x"),
        lambda: rate_funnel_baseline([10, 20], [100, 200], "smr"),
        lambda: rate_funnel_baseline([10, 20], [100], "dsr"),
        lambda: rate_funnel_baseline([10, -1], [100, 200], "dsr"),
        lambda: rate_funnel_baseline([10, 20], [100, 0], "crude"),
        lambda: rate_funnel_baseline([10, 20], [100, np.nan], "dsr"),
        lambda: rate_funnel_baseline([10, 0], [100, 0], "crude"),
        lambda: rate_funnel_baseline([10, 0], [100, 0], "crude", populations=[1000, 0]),
        lambda: rate_funnel_baseline([10, 0], [100, 0], "crude", populations=[1000]),
        lambda: rate_funnel_baseline([0, 0], [0, 0], "dsr"),
        lambda: rate_funnel_baseline([10, 20], [100, 200], "dsr", multiplier=-1),
    ],
)
def test_rate_funnel_invalid(call):
    with pytest.raises(ValueError):
        call()


# ---- overdispersion: Spiegelhalter (2005), FunnelPlotR ---------------------------------

# FunnelPlotR@9020d49 tests/testthat/test-classes_methods.R: funnel_plot(dt, num, denom,
# group) with defaults (data_type "SR", sr_method "SHMI", trim_by 0.1, i.e. log z-scores
# and SHMI truncation) gives round(phi, 6) == 2.948033.
OD_NUM = [100, 150, 180, 80, 120, 225]
OD_DEN = [108, 112, 165, 95, 100, 220]
OD_PHI_SHMI = 2.948033


def _hand_tau2(phi, units, weights):
    """tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w)), written out."""
    sw = sum(weights)
    sw2 = sum(w * w for w in weights)
    return max(0.0, (units * phi - (units - 1)) / (sw - sw2 / sw))


def _hand_quantile(sorted_values, p):
    """R type-7 quantile: linear interpolation at h = (n - 1) p."""
    h = (len(sorted_values) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def test_overdispersion_phi_matches_funnelplotr_shmi():
    od = overdispersion(OD_NUM, OD_DEN, statistic="ratio", trim=0.1, method="truncate")
    assert od.phi == pytest.approx(OD_PHI_SHMI, rel=1e-6)
    assert od.n_used == 6  # floor(rank * 10 / 7) is 1..8 for ranks 1..6: nothing truncated


def test_overdispersion_tau2_shmi_by_hand():
    """tau2 has no published FunnelPlotR vector: worked by hand from the formula."""
    z = [math.sqrt(e) * math.log(o / e) for o, e in zip(OD_NUM, OD_DEN, strict=True)]
    phi = sum(v * v for v in z) / 6
    tau2 = _hand_tau2(phi, 6, [float(e) for e in OD_DEN])  # w = 1 / s^2 = E
    od = overdispersion(OD_NUM, OD_DEN, statistic="ratio", trim=0.1, method="truncate")
    assert od.phi == pytest.approx(phi, rel=1e-12)
    assert od.tau2 == pytest.approx(tau2, rel=1e-12)
    assert od.tau2 > 0


def test_overdispersion_winsorised_ratio_by_hand():
    """No published vector for winsorised phi: worked by hand (R type-7 quantiles)."""
    z = [math.sqrt(e) * math.log(o / e) for o, e in zip(OD_NUM, OD_DEN, strict=True)]
    lz = _hand_quantile(sorted(z), 0.1)
    uz = _hand_quantile(sorted(z), 0.9)
    zw = [min(max(v, lz), uz) for v in z]
    phi = sum(v * v for v in zw) / 6
    od = overdispersion(OD_NUM, OD_DEN)  # defaults: ratio, trim 0.1, winsorise
    assert od.phi == pytest.approx(phi, rel=1e-12)
    assert od.phi < OD_PHI_SHMI  # the two extreme z-scores were pulled in
    assert od.tau2 == pytest.approx(_hand_tau2(phi, 6, [float(e) for e in OD_DEN]), rel=1e-12)


def test_overdispersion_proportion_by_hand():
    """No published vector for proportions: worked by hand on the arcsine scale."""
    x = [12, 30, 45, 8, 60, 22, 90, 15, 33, 51]
    n = [40, 100, 120, 50, 150, 60, 200, 70, 90, 110]
    centre = math.asin(math.sqrt(sum(x) / sum(n)))
    z = [
        (math.asin(math.sqrt(xi / ni)) - centre) * 2 * math.sqrt(ni)
        for xi, ni in zip(x, n, strict=True)
    ]
    lz, uz = _hand_quantile(sorted(z), 0.1), _hand_quantile(sorted(z), 0.9)
    zw = [min(max(v, lz), uz) for v in z]
    phi = sum(v * v for v in zw) / 10
    tau2 = _hand_tau2(phi, 10, [4.0 * ni for ni in n])  # w = 1 / s^2 = 4n
    od = overdispersion(x, n, statistic="proportion")
    assert od.phi == pytest.approx(phi, rel=1e-12)
    assert od.tau2 == pytest.approx(tau2, rel=1e-12)
    assert od.n_used == 10


def test_overdispersion_truncation_drops_tails():
    # 20 units, k = 10: floor(rank * 10 / 21) is 0 for ranks 1-2 and 9 for ranks 19-20.
    o = [50 + 3 * i for i in range(20)]
    e = [80.0] * 20
    od = overdispersion(o, e, method="truncate")
    assert od.n_used == 16
    z = sorted(math.sqrt(80.0) * math.log(v / 80.0) for v in o)[2:18]
    assert od.phi == pytest.approx(sum(v * v for v in z) / 16, rel=1e-12)


def test_overdispersion_none_when_underdispersed():
    od = overdispersion([100, 200, 300, 150], [100, 200, 300, 150])  # every O = E: z = 0
    assert od.phi == 0.0 and od.tau2 == 0.0


def test_overdispersion_trim_zero_is_plain_phi():
    z = [math.sqrt(e) * math.log(o / e) for o, e in zip(OD_NUM, OD_DEN, strict=True)]
    od = overdispersion(OD_NUM, OD_DEN, trim=0.0)
    assert od.phi == pytest.approx(sum(v * v for v in z) / 6, rel=1e-12)


def test_overdispersed_ratio_limits_formula_and_properties():
    """Limits exp(-/+ z sqrt(1/E + tau2)) worked by hand; tau2 = 0 gives exp(-/+ z/sqrt E)."""
    z95 = st.norm.ppf(0.975)
    lo, up = overdispersed_ratio_limits(50, 0.02, 0.95)
    assert (lo, up) == pytest.approx(
        (math.exp(-z95 * math.sqrt(1 / 50 + 0.02)), math.exp(z95 * math.sqrt(1 / 50 + 0.02))),
        rel=1e-12,
    )
    e = np.array([5.0, 50.0, 500.0, 5e6])
    lo0, up0 = overdispersed_ratio_limits(e, 0.0, 0.998)
    z3 = st.norm.ppf(0.999)
    np.testing.assert_allclose(lo0, np.exp(-z3 / np.sqrt(e)), rtol=1e-12)
    np.testing.assert_allclose(up0, np.exp(z3 / np.sqrt(e)), rtol=1e-12)
    lo1, up1 = overdispersed_ratio_limits(e, 0.05, 0.998)
    assert np.all(lo1 < lo0) and np.all(up1 > up0)  # tau2 > 0 widens the funnel
    # as E grows the limits tend to exp(-/+ z tau), not to 1
    assert up1[-1] == pytest.approx(math.exp(z3 * math.sqrt(1 / 5e6 + 0.05)), rel=1e-12)


def test_overdispersed_proportion_limits_formula_and_clipping():
    """sin^2(arcsin(sqrt t) -/+ z sqrt(1/(4n) + tau2)) worked by hand, clipped to [0, 1]."""
    z95 = st.norm.ppf(0.975)
    t, n, tau2 = 0.3, 200, 0.001
    half = z95 * math.sqrt(1 / (4 * n) + tau2)
    centre = math.asin(math.sqrt(t))
    expected = (math.sin(centre - half) ** 2, math.sin(centre + half) ** 2)
    assert overdispersed_proportion_limits(n, t, tau2, 0.95) == pytest.approx(expected, rel=1e-12)
    lo, up = overdispersed_proportion_limits([2, 10, 1000], 0.05, 0.0, 0.998)
    assert lo[0] == 0.0 and lo[1] == 0.0 and lo[2] > 0.0  # angle below 0 -> 0, not sin^2
    lo, up = overdispersed_proportion_limits([2, 1000], 0.97, 0.0001, 0.95)
    assert up[0] == 1.0 and up[1] < 1.0
    lo0, up0 = overdispersed_proportion_limits([50, 500], 0.4, 0.0)
    lo1, up1 = overdispersed_proportion_limits([50, 500], 0.4, 0.01)
    assert np.all(lo1 < lo0) and np.all(up1 > up0)


def test_od_pipeline_flags_fewer_outliers():
    # With overdispersion the adjusted limits are wider than the tau2 = 0 limits.
    od = overdispersion(OD_NUM, OD_DEN, method="truncate")
    ratio = np.array(OD_NUM) / np.array(OD_DEN)
    lo0, up0 = overdispersed_ratio_limits(OD_DEN, 0.0)
    lo, up = overdispersed_ratio_limits(OD_DEN, od.tau2)
    assert ((ratio < lo) | (ratio > up)).sum() < ((ratio < lo0) | (ratio > up0)).sum()


@pytest.mark.parametrize(
    "call",
    [
        lambda: overdispersion(OD_NUM, OD_DEN, statistic="rate"),
        lambda: overdispersion(OD_NUM, OD_DEN, method="trim"),
        lambda: overdispersion(OD_NUM, OD_DEN, trim=0.5),
        lambda: overdispersion(OD_NUM, OD_DEN, trim=-0.1),
        lambda: overdispersion(OD_NUM, OD_DEN, trim="x"),
        lambda: overdispersion(OD_NUM, OD_DEN, trim=0.0, method="truncate"),
        lambda: overdispersion([10], [12]),
        lambda: overdispersion([10, 0], [12, 5]),
        lambda: overdispersion([10, 5], [12, 0]),
        lambda: overdispersion([10, 5], [12]),
        lambda: overdispersion([10, 60], [12, 50], statistic="proportion"),
        lambda: overdispersion([10, 5, 7], [0, 50, 9], statistic="proportion"),
        lambda: overdispersion([10, 20], [12, 18], method="truncate", trim=0.4),
        lambda: overdispersed_ratio_limits(0, 0.01),
        lambda: overdispersed_ratio_limits(10, -0.01),
        lambda: overdispersed_ratio_limits(10, np.inf),
        lambda: overdispersed_ratio_limits(10, "x"),
        lambda: overdispersed_ratio_limits(10, 0.01, conf=1.5),
        lambda: overdispersed_proportion_limits(10, 50.0, 0.01),
        lambda: overdispersed_proportion_limits(0, 0.5, 0.01),
        lambda: overdispersed_proportion_limits(10, 0.5, -1),
    ],
)
def test_overdispersion_invalid(call):
    with pytest.raises(ValueError):
        call()
