"""Tests for phm.stats.dsr / isr against PHEindicatormethods public test vectors.

Inputs and expected numbers are typed in as literals (PHEindicatormethods is GPL-3; no
files copied). Source: ukhsa-collaboration/PHEindicatormethods@093fd28
(093fd288d8f8949dbcfbed70049dbbf385b6141d) tests/testthat/testdata_DSR_ISR.xlsx,
sheets testdata_multiarea, refdata, testresults_DSR, testresults_ISR, and
testdata_nonindepe (non-independent events; results in rows testdata_nonind_* of
testresults_DSR, checked by tests/testthat/testDSRs.R with calculate_dsr(...,
independent_events = FALSE, eventfreq = freq, ageband = ageband)).
"""

from __future__ import annotations

import math

import pytest

from phm.stats import dsr, dsr_many, dsr_nonindependent, isr

# PHEindicatormethods@093fd28 tests/testthat/testdata_DSR_ISR.xlsx sheet testdata_multiarea
# (19 age bands 0-4 ... 90+; the sheet labels band 12 "55-69", a typo for 55-59).
# fmt: off
POP = [636, 558, 609, 543, 384, 594, 669, 843, 660, 576, 606, 522, 426, 273, 300, 288, 153, 123, 207]
COUNTS = {
    "big": [127, 25, 18, 21, 12, 27, 48, 27, 29, 32, 32, 34, 45, 65, 38, 68, 74, 82, 91],
    "small": [12, 4, 3, 2, 3, 4, 8, 2, 2, 3, 4, 5, 6, 8, 5, 6, 5, 5, 4],
    # testdata_tiny: the 10-14 count cell is blank in the sheet; typed here as 0 (total 9).
    "tiny": [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 2, 3],
}

# European Standard Population 2013, 19 bands (0-4 merged, 90+ merged), Eurostat (2013)
# "Revision of the European Standard Population", public domain; as in
# /work/shared/testvectors/reference-lists/esp2013_19bands.csv (= PHEindicatormethods esp2013).
ESP2013 = [5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000,
           5500, 5000, 4000, 2500, 1500, 1000]

# Sheet testresults_DSR, method Dobson: (area, multiplier, value, l95, u95, l99.8, u99.8)
DSR_EXPECTED = [
    ("big", 100000, 10430.247991469423, 9717.709067985681, 11178.94091547925,
     9323.287880219903, 11620.595999522058),
    ("small", 100000, 1103.212025300104, 877.455767536709, 1367.0882227251795,
     763.6420357939879, 1530.0328948244762),
    ("big", 10000, 1043.0247991469423, 971.770906798568, 1117.894091547925,
     932.3287880219904, 1162.0595999522059),
    ("small", 10000, 110.3212025300104, 87.7455767536709, 136.70882227251795,
     76.36420357939879, 153.00328948244763),
]

# PHEindicatormethods@093fd28 testdata_DSR_ISR.xlsx sheet refdata (refcount, refpop)
REF_COUNTS = [10303, 2824, 0, 3615, 3641, 3490, 3789, 3213, 3031, 2771, 3089, 3490, 3595,
              4745, 5514, 7125, 5694, 6210, 5757]
REF_POPS = [50520, 57173, 60213, 54659, 44345, 50128, 62163, 67423, 62899, 55463, 60479,
            49974, 44140, 40888, 37239, 30819, 18136, 15325, 13918]

# Sheet testresults_ISR, "indirectly standardised ratio x 1":
# (area, observed, value, l95, u95, l99.8, u99.8); expected = 835.8835612311743 for all three.
# big/small use Byars, tiny (observed 9) uses Exact.
EXPECTED_COUNT = 835.8835612311743
ISR_EXPECTED = [
    ("big", 895, 1.0707232939020275, 1.0017147712553987, 1.143233287249895,
     0.9635155619614437, 1.1860070415876287),
    ("small", 91, 0.10886683770400503, 0.08765040101829405, 0.1336657632841891,
     0.07695425528392111, 0.14897920510466744),
    ("tiny", 9, 0.010767049882813684, 0.004923380825095776, 0.02043921455549973,
     0.0029339306550682617, 0.02710589651469021),
]

# fmt: on


@pytest.mark.parametrize(("area", "mult", "value", "l95", "u95", "l998", "u998"), DSR_EXPECTED)
def test_dsr_matches_phe(area, mult, value, l95, u95, l998, u998):
    r95 = dsr(COUNTS[area], POP, ESP2013, conf=0.95, multiplier=mult)
    r998 = dsr(COUNTS[area], POP, ESP2013, conf=0.998, multiplier=mult)
    assert r95.value == pytest.approx(value, rel=1e-6)
    assert (r95.lower, r95.upper) == pytest.approx((l95, u95), rel=1e-6)
    assert r998.value == pytest.approx(value, rel=1e-6)
    assert (r998.lower, r998.upper) == pytest.approx((l998, u998), rel=1e-6)


def test_dsr_tiny_total_is_na():
    # testresults_DSR row testdata_tiny: total_count 9 -> "dsr NA for total count < 10".
    r = dsr(COUNTS["tiny"], POP, ESP2013)
    assert math.isnan(r.value) and math.isnan(r.lower) and math.isnan(r.upper)


def test_dsr_many_gives_each_row_the_phe_values():
    rows = ["big", "small", "tiny"]
    v, lo, hi = dsr_many([COUNTS[a] for a in rows], [POP] * 3, ESP2013)
    expect = {a: (val, l95, u95) for a, mult, val, l95, u95, _, _ in DSR_EXPECTED if mult == 100000}
    for i, a in enumerate(rows[:2]):
        assert (v[i], lo[i], hi[i]) == pytest.approx(expect[a], rel=1e-6)
    assert math.isnan(v[2]) and math.isnan(lo[2]) and math.isnan(hi[2])  # total 9 < 10


def test_dsr_many_refuses_counts_without_population():
    with pytest.raises(ValueError, match="zero population"):
        dsr_many([[1, 0]], [[0, 5]], [1, 1])


def test_dsr_result_is_frozen():
    r = dsr(COUNTS["big"], POP, ESP2013)
    with pytest.raises(AttributeError):
        r.value = 0  # type: ignore[misc]


@pytest.mark.parametrize(("area", "observed", "value", "l95", "u95", "l998", "u998"), ISR_EXPECTED)
def test_isr_matches_phe(area, observed, value, l95, u95, l998, u998):
    for obs in (COUNTS[area], observed):  # per-band array and scalar total
        r95 = isr(obs, POP, REF_COUNTS, REF_POPS, conf=0.95)
        r998 = isr(obs, POP, REF_COUNTS, REF_POPS, conf=0.998)
        assert r95.expected == pytest.approx(EXPECTED_COUNT, rel=1e-6)
        assert r95.value == pytest.approx(value, rel=1e-6)
        assert (r95.lower, r95.upper) == pytest.approx((l95, u95), rel=1e-6)
        assert (r998.lower, r998.upper) == pytest.approx((l998, u998), rel=1e-6)


# ---- invalid inputs (cf. sheets testdata_err1..4 of the same workbook) ----------------


def _with(values, index, new):
    out = list(values)
    out[index] = new
    return out


def test_dsr_negative_count_raises():  # testdata_err1: count -26 in 25-29
    with pytest.raises(ValueError, match="counts must not be negative"):
        dsr(_with(COUNTS["big"], 5, -26), POP, ESP2013)


def test_dsr_negative_population_raises():  # testdata_err3: pop -558 in 5-9
    with pytest.raises(ValueError, match="populations must not be negative"):
        dsr(COUNTS["big"], _with(POP, 1, -558), ESP2013)


def test_dsr_negative_standard_population_raises():  # testdata_err4: stdpop -6000 in 25-29
    with pytest.raises(ValueError, match="standard_populations must not be negative"):
        dsr(COUNTS["big"], POP, _with(ESP2013, 5, -6000))


def test_dsr_zero_population_with_events_raises():  # testdata_err2: Area1 pop 0 in 5-9
    with pytest.raises(ValueError, match="populations is zero in band"):
        dsr(COUNTS["big"], _with(POP, 1, 0), ESP2013)


def test_dsr_zero_population_without_events_is_allowed():
    r = dsr(_with(COUNTS["big"], 1, 0), _with(POP, 1, 0), ESP2013)
    assert r.value > 0 and r.lower < r.value < r.upper


def test_dsr_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="mismatched lengths"):
        dsr(COUNTS["big"][:-1], POP, ESP2013)
    with pytest.raises(ValueError, match="mismatched lengths"):
        dsr(COUNTS["big"], POP, ESP2013[:18])


@pytest.mark.parametrize("conf", [0, 1, 95])
def test_conf_out_of_range_raises(conf):
    with pytest.raises(ValueError, match="conf"):
        dsr(COUNTS["big"], POP, ESP2013, conf=conf)
    with pytest.raises(ValueError, match="conf"):
        isr(COUNTS["big"], POP, REF_COUNTS, REF_POPS, conf=conf)


def test_isr_invalid_inputs_raise():
    with pytest.raises(ValueError, match="observed must not be negative"):
        isr(_with(COUNTS["big"], 5, -26), POP, REF_COUNTS, REF_POPS)
    with pytest.raises(ValueError, match="observed must not be negative"):
        isr(-5, POP, REF_COUNTS, REF_POPS)
    with pytest.raises(ValueError, match="populations must not be negative"):
        isr(COUNTS["big"], _with(POP, 1, -558), REF_COUNTS, REF_POPS)
    with pytest.raises(ValueError, match="ref_counts must not be negative"):
        isr(COUNTS["big"], POP, _with(REF_COUNTS, 0, -1), REF_POPS)
    with pytest.raises(ValueError, match="mismatched lengths"):
        isr(COUNTS["big"], POP[:-1], REF_COUNTS, REF_POPS)
    with pytest.raises(ValueError, match="mismatched lengths"):
        isr(895, POP, REF_COUNTS[:-1], REF_POPS)
    with pytest.raises(ValueError, match="populations is zero in band"):
        isr(COUNTS["big"], _with(POP, 1, 0), REF_COUNTS, REF_POPS)
    with pytest.raises(ValueError, match="ref_populations is zero in band"):
        isr(COUNTS["big"], POP, REF_COUNTS, _with(REF_POPS, 0, 0))


# ---- DSR for non-independent events ---------------------------------------------------

# PHEindicatormethods@093fd28 testdata_DSR_ISR.xlsx sheet testdata_nonindepe: per area,
# columns f1..f4 = persons with 1..4 events in each of the 19 bands (pop = POP above).
# Blank cells are typed as 0 (R's na.zero / na.rm); data-raw/LoadTestdata.R drops f4
# for the dummy, small and tiny areas (blank or all 0 there), so f4 is given for "big" only.
# fmt: off
NONIND = {
    "big": {
        1: [75, 16, 11, 12, 8, 18, 26, 18, 18, 21, 21, 23, 23, 39, 25, 40, 46, 49, 56],
        2: [16, 3, 2, 3, 0, 3, 6, 3, 4, 4, 4, 4, 6, 8, 5, 9, 9, 10, 11],
        3: [4, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 3, 3],
        4: [2, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1],
    },
    "dummy": {
        1: [80, 15, 10, 17, 12, 25, 30, 20, 19, 23, 19, 30, 19, 25, 15, 20, 30, 29, 22],
        2: [10, 5, 1, 2, 0, 1, 9, 2, 5, 3, 5, 2, 7, 14, 10, 18, 16, 19, 21],
        3: [9, 0, 2, 0, 0, 0, 0, 1, 0, 1, 1, 0, 4, 4, 1, 4, 4, 5, 9],
    },
    "small": {
        1: [7, 4, 3, 0, 3, 4, 5, 2, 2, 3, 4, 5, 3, 5, 5, 3, 5, 5, 4],
        2: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        3: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0],
    },
    "tiny": {
        1: [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0],
        2: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        3: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    },
}

# Sheet testresults_DSR, rows testdata_nonind_* (per 100,000, method "Dobson, with
# confidence adjusted for non-independent events"):
# (area, total events, value, l95, u95, l99.8, u99.8)
NONIND_EXPECTED = [
    ("big", 895, 10430.24799147, 9532.94977862, 11373.07483298, 9036.25631357, 11929.24980749),
    ("dummy", 895, 10430.24799147, 9512.29883752, 11394.77359633, 9004.17418121, 11963.74870404),
    ("small", 89, 1082.95419841, 817.68609755, 1393.55884927, 684.16751792, 1585.49645593),
]
# fmt: on


@pytest.mark.parametrize(("area", "total", "value", "l95", "u95", "l998", "u998"), NONIND_EXPECTED)
def test_dsr_nonindependent_matches_phe(area, total, value, l95, u95, l998, u998):
    freq = NONIND[area]
    assert sum(f * sum(x) for f, x in freq.items()) == total
    r95 = dsr_nonindependent(freq, POP, ESP2013, conf=0.95)
    r998 = dsr_nonindependent(freq, POP, ESP2013, conf=0.998)
    assert r95.value == pytest.approx(value, rel=1e-6)
    assert (r95.lower, r95.upper) == pytest.approx((l95, u95), rel=1e-6)
    assert r998.value == pytest.approx(value, rel=1e-6)
    assert (r998.lower, r998.upper) == pytest.approx((l998, u998), rel=1e-6)


def test_dsr_nonindependent_tiny_total_is_na():
    # testresults_DSR row testdata_nonind_tiny: 9 events -> "dsr NA for total count < 10".
    r = dsr_nonindependent(NONIND["tiny"], POP, ESP2013)
    assert math.isnan(r.value) and math.isnan(r.lower) and math.isnan(r.upper)


def test_dsr_nonindependent_widens_dobson_interval():
    # "big" has the same events per band as testdata_multiarea "big" (895 events):
    # same DSR, wider limits than the independent-events DSR.
    events = [sum(f * NONIND["big"][f][i] for f in NONIND["big"]) for i in range(19)]
    assert events == COUNTS["big"]
    ind = dsr(events, POP, ESP2013)
    non = dsr_nonindependent(NONIND["big"], POP, ESP2013)
    assert non.value == pytest.approx(ind.value, rel=1e-12)
    assert non.lower < ind.lower and non.upper > ind.upper


@pytest.mark.parametrize("area", ["big", "small"])
def test_dsr_nonindependent_all_single_events_is_dsr(area):
    single = dsr_nonindependent({1: COUNTS[area]}, POP, ESP2013, conf=0.998, multiplier=10000)
    plain = dsr(COUNTS[area], POP, ESP2013, conf=0.998, multiplier=10000)
    assert (single.value, single.lower, single.upper) == pytest.approx(
        (plain.value, plain.lower, plain.upper), rel=1e-12
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"persons_by_frequency": {}}, "non-empty mapping"),
        ({"persons_by_frequency": [COUNTS["big"]]}, "non-empty mapping"),
        ({"persons_by_frequency": {0: COUNTS["big"]}}, "positive number"),
        ({"persons_by_frequency": {-1: COUNTS["big"]}}, "positive number"),
        ({"persons_by_frequency": {"x": COUNTS["big"]}}, "must be numeric"),
        ({"persons_by_frequency": {1: _with(COUNTS["big"], 3, -1)}}, "must not be negative"),
        ({"persons_by_frequency": {1: COUNTS["big"], 2: COUNTS["big"][:18]}}, "mismatched"),
        ({"persons_by_frequency": {1: COUNTS["big"]}, "populations": _with(POP, 1, 0)},
         "populations is zero in band"),
        ({"persons_by_frequency": {1: COUNTS["big"]}, "standard_populations": [0] * 19},
         "must not all be zero"),
        ({"persons_by_frequency": {1: COUNTS["big"]}, "conf": 95}, "conf"),
    ],
)  # fmt: skip
def test_dsr_nonindependent_invalid(kwargs, match):
    args = {"populations": POP, "standard_populations": ESP2013, **kwargs}
    with pytest.raises(ValueError, match=match):
        dsr_nonindependent(**args)
