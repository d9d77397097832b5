"""Tests for phm.stats.sii (slope / relative index of inequality).

Inputs and expected numbers are typed in as literals (PHEindicatormethods is GPL-3; no
files copied). Source: ukhsa-collaboration/PHEindicatormethods@093fd28
(093fd288d8f8949dbcfbed70049dbbf385b6141d) tests/testthat/testdata_SII.xlsx (sheet
testdata_SII; columns Population, Value, LowerCL, UpperCL of RecordNo 1-20, 61-70 and
71-110, and the expected sii, rii, Intercept, sii_lowercl_1 ... of the first record of
each test), as used by tests/testthat/testSII.R.

The point estimates are deterministic and are compared at rtol 1e-6. PHE's confidence
limits are percentiles of an R Monte-Carlo simulation (R's random stream; testSII.R
itself only checks them to a 5% tolerance); a numpy-seeded simulation cannot reproduce
them to 1e-6, so that comparison is a strict xfail, and the simulation is checked
instead against the exact normal sampling distribution of the untransformed SII.
"""

from __future__ import annotations

import math
from dataclasses import astuple

import numpy as np
import pytest
from scipy import stats as st

from phm.stats import SIIResult, relative_ranks, sii

# Quantiles ordered most deprived (quantile 1) to least deprived, as in the sheet.
# fmt: off
DATA = {
    "normal_1": {  # rows 1-10
        "pop": [7291, 7997, 6105, 7666, 5790, 6934, 5918, 5974, 7147, 7534],
        "value": [75.9334590103081, 78.3442382727843, 83.8360631041654, 83.6375399664931, 80.4655031529559, 81.1156759857022, 81.6930835718562, 84.1900062060987, 80.5955641081472, 86.2894349578624],
        "lcl": [72.7220530546453, 75.2509802190802, 80.8697295124759, 80.157578356036, 77.1308785969275, 78.0499986811178, 79.011578491948, 81.4457282769343, 75.827185168894, 83.2190593454592],
        "ucl": [79.1448649659708, 81.4374963264884, 86.8023966958549, 87.1175015769501, 83.8001277089842, 84.1813532902866, 84.3745886517644, 86.9342841352631, 85.3639430474004, 89.3598105702656],
    },
    "normal_2": {  # rows 11-20
        "pop": [21675, 20065, 19750, 24713, 20112, 19618, 22408, 19752, 18939, 19312],
        "value": [70.54853186, 71.57155734, 72.48698671, 73.51985519, 73.14605425, 76.15898712, 78.65444871, 80.56476961, 80.85486627, 79.9711253],
        "lcl": [70.09853186, 71.12155734, 72.03698671, 73.06985519, 72.69605425, 75.70898712, 78.20444871, 80.11476961, 80.40486627, 79.5211253],
        "ucl": [70.99853186, 72.14, 73.21, 73.7, 75.8, 78.76, 79.77, 81.21, 81.30486627, 80.9],
    },
    "rate_1": {  # rows 71-80
        "pop": [279012, 255993, 236961, 214315, 192812, 183546, 168593, 164822, 154836, 138165],
        "value": [5.892219689475721, 4.7345044591063035, 3.827634083245766, 3.8681380211371112, 3.6771570234217785, 3.1436261209723995, 3.1258711808912585, 2.942568346458604, 2.82879950399132, 2.7648101907140012],
        "lcl": [5.614959662410748, 4.475920770781004, 3.586926055445024, 3.6140791140579505, 3.4166969870147965, 2.8977176350029272, 2.870493809285979, 2.6924041297904315, 2.57630573787527, 2.501420619088458],
        "ucl": [6.183085357576154, 5.0079519402470885, 4.0844291026854505, 4.1399822998098585, 3.9573934822289045, 3.4103317188858107, 3.4038909874130083, 3.2159015715579464, 3.1059621495836955, 3.05584866618335],
    },
    "rate_2": {  # rows 81-90
        "pop": [13837, 14519, 14940, 14599, 12311, 21675, 20065, 19750, 24713, 20112],
        "value": [4.89675, 4.5678, 4.67666, 4.35666, 3.9, 3.8, 3.5, 3.2, 3.21, 2.8],
        "lcl": [4.77675, 4.4478, 4.55666, 4.23666, 3.78, 3.6799999999999997, 3.38, 3.08, 3.09, 2.6799999999999997],
        "ucl": [4.97675, 4.6478, 4.75666, 4.43666, 3.98, 3.88, 3.58, 3.2800000000000002, 3.29, 2.88],
    },
    "prop_1": {  # rows 91-100
        "pop": [34353, 32112, 27715, 25372, 23889, 23260, 23180, 24193, 23609, 24488],
        "value": [0.21212121212121202, 0.214281265570503, 0.204077214504781, 0.19186504808450303, 0.174808489262841, 0.16663800515907098, 0.156039689387403, 0.146571322283305, 0.140370197805921, 0.120875530872264],
        "lcl": [0.207830499225555, 0.209827711465288, 0.19937351725899902, 0.187066648694241, 0.170044640703038, 0.16190410576997, 0.151425075468518, 0.142170753783533, 0.13599767093637602, 0.11685200990738201],
        "ucl": [0.216476300812899, 0.218803170788612, 0.208862933590925, 0.19675673996565, 0.17967690552753499, 0.17148199783416998, 0.160768288675927, 0.151084110529924, 0.144859737537153, 0.125017980504761],
    },
    "prop_2": {  # rows 101-110
        "pop": [36111, 31803, 26681, 24184, 23023, 21506, 22197, 23679, 23271, 23464],
        "value": [0.12079421782836301, 0.117410307203723, 0.11363891908099401, 0.105896460469732, 0.10007383920427401, 0.09411327071514931, 0.08730909582376001, 0.0836606275602855, 0.0797559193846418, 0.0696812137742925],
        "lcl": [0.117473271937339, 0.11391851782536101, 0.109886239767609, 0.102080757108839, 0.09626388594689321, 0.0902830437346462, 0.0836665612937408, 0.08020120762600881, 0.0763441201710209, 0.0664933849950753],
        "ucl": [0.12419583434331499, 0.120994510822713, 0.117502836842961, 0.10983734511402099, 0.104017228033421, 0.09808847293030461, 0.09109444792373561, 0.0872551115710111, 0.0833064392278473, 0.0730099206057122],
    },
}
# fmt: on

# Expected point estimates: (id, dataset, n quantiles, value_type, transform, multiplier,
# sii, rii, intercept or None). RecordNo in the id; rows 246/256/266/276/286/296 repeat
# rows 1/11/71/81/91/101 with intercept = TRUE, so their Intercept is checked here too.
# fmt: off
POINT_CASES = [
    ("r1+r246", "normal_1", 10, "normal", False, 1, 6.934616473668819, 1.0888180804446217, 78.07663078231671),
    ("r11+r256", "normal_2", 10, "normal", False, 1, 12.547846636351798, 1.180885620848795, 69.36895579356593),
    ("r61-quintiles", "normal_1", 5, "normal", False, 1, 7.919334147100874, 1.1037116952527257, None),
    ("r66-quintiles", "normal_2", 5, "normal", False, 1, 3.6215563376545648, 1.0513892712719326, None),
    ("r71+r266", "rate_1", 10, "rate", False, 1, -3.2752012326471758, 0.40600068953980034, 5.513813189631011),
    ("r81+r276", "rate_2", 10, "rate", False, 1, -2.287678902778742, 0.5352517697987614, 4.922404764808173),
    ("r91+r286", "prop_1", 10, "proportion", False, 1, -0.10720032333730493, 0.5334015306465507, 0.22974855336720032),
    ("r101+r296", "prop_2", 10, "proportion", False, 1, -0.0581854710713103, 0.5470128461555435, 0.12844839103602843),
    ("r111-x100", "prop_1", 10, "proportion", False, 100, -10.720032333730494, 0.5334015306465507, None),
    ("r121-x100", "prop_2", 10, "proportion", False, 100, -5.81854710713103, 0.5470128461555435, None),
    ("r131-x-100", "prop_1", 10, "proportion", False, -100, 10.720032333730494, 1.874760274474414, None),
    ("r141-x-100", "prop_2", 10, "proportion", False, -100, 5.81854710713103, 1.8281106321873277, None),
    ("r306-log", "rate_1", 10, "rate", True, 1, -3.15590713895456, 0.4418848436076823, 5.65458060546947),
    ("r316-log", "rate_2", 10, "rate", True, 1, -2.2954691808474057, 0.5446144759737053, 5.040716183843519),
    ("r326-logit", "prop_1", 10, "proportion", True, 1, -0.1096462611125906, 0.5341775743253946, 0.2353821007088711),
    ("r336-logit", "prop_2", 10, "proportion", True, 1, -0.05970061643992898, 0.5472074426131981, 0.1318498183461289),
    ("r346-logit-x-1", "prop_1", 10, "proportion", True, -1, 0.1096462611125906, 1.8720366560930344, 0.2353821007088711),
    ("r356-logit-x-1", "prop_2", 10, "proportion", True, -1, 0.05970061643992898, 1.827460524338784, 0.1318498183461289),
    ("r386-log-x-1", "rate_1", 10, "rate", True, -1, 3.15590713895456, 2.2630330378288055, 5.65458060546947),
    ("r396-log-x-1", "rate_2", 10, "rate", True, -1, 2.2954691808474057, 1.8361612555599447, 5.040716183843519),
]

# Simulated limits (sii_lowercl_1, sii_uppercl_1, rii_lowercl_1, rii_uppercl_1), 95%,
# 100,000 repetitions: (id, dataset, value_type, transform, multiplier, limits).
CI_CASES = [
    ("r1", "normal_1", "normal", False, 1, (3.127594617650817, 10.7586873680794, 1.0383690591642838, 1.1412993360251238)),
    ("r71", "rate_1", "rate", False, 1, (-3.5868233016744155, -2.9653170017272723, 0.36888170199068804, 0.44624776652446996)),
    ("r131", "prop_1", "proportion", False, -100, (10.21798062145461, 11.22085722098469, 1.8176733941416052, 1.933759757083172)),
    ("r306", "rate_1", "rate", True, 1, (-3.4809615490242884, -2.833237344763632, 0.4082744080360723, 0.4785663265006931)),
    ("r346", "prop_1", "proportion", True, -1, (0.10443087776045443, 0.11490838449464633, 1.8176063925941832, 1.9285161359197882)),
]
# fmt: on


def _run(dataset, n=10, **kwargs):
    d = DATA[dataset]
    kwargs.setdefault("repetitions", 1000)  # point estimates do not depend on it
    return sii(d["value"][:n], d["pop"][:n], lower_cl=d["lcl"][:n], upper_cl=d["ucl"][:n], **kwargs)


@pytest.mark.parametrize(
    "dataset, n, value_type, transform, mult, exp_sii, exp_rii, exp_icpt",
    [pytest.param(*c[1:], id=c[0]) for c in POINT_CASES],
)
def test_sii_point_estimates_match_phe(
    dataset, n, value_type, transform, mult, exp_sii, exp_rii, exp_icpt
):
    r = _run(dataset, n, value_type=value_type, transform=transform, multiplier=mult)
    assert isinstance(r, SIIResult)
    assert r.sii == pytest.approx(exp_sii, rel=1e-6)
    assert r.rii == pytest.approx(exp_rii, rel=1e-6)
    if exp_icpt is not None:
        assert r.intercept == pytest.approx(exp_icpt, rel=1e-6)


@pytest.mark.xfail(
    strict=True,
    reason="PHE limits are R Monte-Carlo percentiles (R's RNG stream); a numpy-seeded "
    "simulation agrees only to Monte-Carlo error (~0.1-2%), not to rtol 1e-6",
)
@pytest.mark.parametrize(
    "dataset, value_type, transform, mult, limits",
    [pytest.param(*c[1:], id=c[0]) for c in CI_CASES],
)
def test_sii_limits_match_phe_simulation(dataset, value_type, transform, mult, limits):
    r = _run(
        dataset, value_type=value_type, transform=transform, multiplier=mult, repetitions=100000
    )
    got = (r.sii_lower, r.sii_upper, r.rii_lower, r.rii_upper)
    assert got == pytest.approx(limits, rel=1e-6)


def test_sii_simulated_limits_match_exact_normal_limits():
    """Untransformed SII = sum c_i Y_i is exactly normal under the simulation, with
    c_i = a_i (b_i - b_bar) / sum a (b - b_bar)^2 (weighted least squares written out);
    the simulated 2.5/97.5% order statistics must lie within 5 Monte-Carlo standard
    errors (sqrt(p (1 - p) / R) / phi(z) * sd) of sii -/+ 1.96 sd. Seeded: deterministic."""
    d = DATA["normal_1"]
    pop = np.array(d["pop"], dtype=float)
    a = pop / pop.sum()
    b = np.cumsum(a) - a / 2
    b_bar = (a * b).sum()
    c = a * (b - b_bar) / (a * (b - b_bar) ** 2).sum()
    se = (np.array(d["ucl"]) - np.array(d["lcl"])) / (2 * st.norm.ppf(0.975))
    sd = math.sqrt(((c * se) ** 2).sum())
    z = st.norm.ppf(0.975)
    reps = 100000
    mcse = math.sqrt(0.025 * 0.975 / reps) / st.norm.pdf(z) * sd
    r = _run("normal_1", repetitions=reps, seed=20240601)
    assert r.sii == pytest.approx(float((c * np.array(d["value"])).sum()), rel=1e-12)
    assert abs(r.sii_lower - (r.sii - z * sd)) < 5 * mcse
    assert abs(r.sii_upper - (r.sii + z * sd)) < 5 * mcse
    # PHE's published limits (row 1) are likewise Monte-Carlo estimates of these exact
    # limits: a statistical consistency check, not a match (see the xfail above)
    assert abs(3.127594617650817 - (r.sii - z * sd)) < 5 * mcse
    assert abs(10.7586873680794 - (r.sii + z * sd)) < 5 * mcse


def test_sii_seed_makes_limits_reproducible():
    r1 = _run("rate_1", value_type="rate", seed=7)
    r2 = _run("rate_1", value_type="rate", seed=7)
    r3 = _run("rate_1", value_type="rate", seed=8)
    assert r1 == r2
    assert (r1.sii_lower, r1.sii_upper) != (r3.sii_lower, r3.sii_upper)
    assert r1.sii == r3.sii


@pytest.mark.parametrize(
    "dataset, value_type, transform",
    [("normal_1", "normal", False), ("rate_1", "rate", False), ("prop_1", "proportion", True)],
)
def test_sii_limits_bracket_estimates_and_widen_with_conf(dataset, value_type, transform):
    kw = {"value_type": value_type, "transform": transform, "repetitions": 20000}
    r95 = _run(dataset, conf=0.95, **kw)
    r998 = _run(dataset, conf=0.998, **kw)
    for r in (r95, r998):
        assert r.sii_lower < r.sii < r.sii_upper
        assert r.rii_lower < r.rii < r.rii_upper
    assert r998.sii_lower < r95.sii_lower and r998.sii_upper > r95.sii_upper


def test_sii_se_equals_limits_route():
    d = DATA["prop_2"]
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    se = [
        (logit(u) - logit(lo)) / (2 * st.norm.ppf(0.975))
        for lo, u in zip(d["lcl"], d["ucl"], strict=True)
    ]
    by_se = sii(d["value"], d["pop"], se=se, value_type="proportion", repetitions=5000)
    by_cl = _run("prop_2", value_type="proportion", repetitions=5000)
    # same seed, same draws: equal up to rounding of the derived standard errors
    assert astuple(by_se) == pytest.approx(astuple(by_cl), rel=1e-12)


@pytest.mark.parametrize("value_type, transform", [("normal", False), ("rate", True)])
def test_sii_order_convention(value_type, transform):
    # Reversing the order (least deprived first) flips the sign of the SII and inverts
    # the RII: the SII is always "least deprived end minus most deprived end".
    d = DATA["normal_1" if value_type == "normal" else "rate_1"]
    kw = {"value_type": value_type, "transform": transform, "repetitions": 1000}
    fwd = sii(d["value"], d["pop"], lower_cl=d["lcl"], upper_cl=d["ucl"], **kw)
    rev = sii(
        d["value"][::-1], d["pop"][::-1], lower_cl=d["lcl"][::-1], upper_cl=d["ucl"][::-1], **kw
    )
    assert rev.sii == pytest.approx(-fwd.sii, rel=1e-10)
    assert rev.rii == pytest.approx(1 / fwd.rii, rel=1e-10)


def test_relative_ranks():
    # PHEindicatormethods docs: 12% then 10% of the population -> ranks 0.06, 0.17.
    b = relative_ranks([12, 10, 78])
    np.testing.assert_allclose(b, [0.06, 0.17, 0.61], rtol=1e-12)


# ---- invalid inputs (cf. testSII.R "errors are generated ...") -------------------------

V = DATA["normal_1"]["value"]
P = DATA["normal_1"]["pop"]
SE = [1.5] * 10


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"values": V, "populations": P}, "either se, or both"),
        ({"values": V, "populations": P, "lower_cl": V}, "either se, or both"),
        ({"values": V, "populations": P, "se": SE, "value_type": "ratio"}, "value_type"),
        ({"values": V, "populations": P, "se": SE, "value_type": "rate", "transform": True},
         "not se"),
        ({"values": V, "populations": P, "lower_cl": V, "upper_cl": V, "transform": True},
         "transform=True needs value_type"),
        ({"values": V, "populations": P, "se": SE, "repetitions": 999}, "repetitions"),
        ({"values": V, "populations": P, "se": SE, "repetitions": 1500.0}, "repetitions"),
        ({"values": V, "populations": P, "se": SE, "conf": 95}, "conf"),
        ({"values": V, "populations": P, "se": SE, "multiplier": 0}, "multiplier"),
        ({"values": V, "populations": P, "se": SE, "multiplier": "x"}, "multiplier"),
        ({"values": V[:4], "populations": P[:4], "se": SE[:4]}, "between 5 and 100"),
        ({"values": [1.0] * 101, "populations": [5] * 101, "se": [1] * 101}, "between 5 and 100"),
        ({"values": V, "populations": [*P[:9], -7534], "se": SE}, "populations must all be positive"),
        ({"values": V, "populations": [*P[:9], 0], "se": SE}, "populations must all be positive"),
        ({"values": V, "populations": P[:9], "se": SE}, "mismatched lengths"),
        ({"values": V, "populations": P, "se": SE[:9]}, "mismatched lengths"),
        ({"values": V, "populations": P, "se": [*SE[:9], -1]}, "se must not be negative"),
        ({"values": V, "populations": P, "se": [*SE[:9], np.nan]}, "se contains missing"),
        ({"values": [*V[:9], None], "populations": P, "se": SE}, "values contains missing"),
        ({"values": V, "populations": P, "se": SE, "value_type": "proportion"}, "between 0 and 1"),
        ({"values": [-1.0, *V[1:]], "populations": P, "se": SE, "value_type": "rate"},
         "positive"),
        ({"values": V, "populations": P, "lower_cl": DATA["normal_1"]["ucl"],
          "upper_cl": DATA["normal_1"]["lcl"]}, "upper_cl must not be below"),
    ],
)  # fmt: skip
def test_sii_invalid_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sii(**kwargs)


def test_rii_is_undefined_not_a_crash_when_every_group_is_zero():
    # a small area: every quintile's value 0, so the fitted line starts at 0 and the RII (a
    # ratio to that intercept) has no value; the SII (a difference) is still 0
    r = sii(np.zeros(5), np.full(5, 100.0), value_type="normal", se=np.full(5, 1.0), repetitions=1000, seed=1)
    assert r.sii == 0.0
    assert math.isnan(r.rii) and math.isnan(r.rii_lower) and math.isnan(r.rii_upper)
