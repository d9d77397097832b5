"""Indicators against the planted truth (issue 18) on the 20,000-person synthetic ICB.

The synthetic ICB plants a 30-day readmission probability for every index emergency stay
(age and long-term conditions), with the odds doubled at one trust (``readmission_odds_ratio``
in ``synth/data/providers.csv``: RLT). The indicator counts every emergency admission within
0-29 days, so the expectation for each measured index stay is its planted probability plus,
otherwise, the chance of an unrelated emergency admission in the 30 days (its planted index
rate, ``truth/person_year.parquet``). The planted probability is taken where the plant could
act (``readmission_probability_effective``: the 29 days after discharge before death, the end of
registration or the extract).
"""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import duckdb
import pytest

pytestmark = pytest.mark.xdist_group("cips20k")


def _measured_against_truth(d, wh):
    with duckdb.connect() as c:
        c.sql(f"ATTACH '{wh}' AS w (READ_ONLY)")
        return c.sql(f"""
            WITH truth AS (
                SELECT s.provider_code || ':' || s.spell_id AS cips_id, s.is_index_emergency,
                       coalesce(s.readmission_probability_effective, 0) AS p, py.emergency_rate_index AS lam
                FROM '{d}/truth/spells.parquet' s
                JOIN '{d}/truth/person_year.parquet' py
                  ON py.nhs_number = s.nhs_number
                 AND py.year = CAST(year(s.discharge_date - INTERVAL 3 MONTH) AS VARCHAR) || '/'
                              || lpad(CAST((year(s.discharge_date - INTERVAL 3 MONTH) + 1) % 100 AS VARCHAR), 2, '0')
                WHERE s.admission_method LIKE '2%' AND NOT s.is_transfer_in)
            SELECT r.provider_code, count(*) AS n, sum(r.readmitted::INT) AS o,
                   sum(t.p + (1 - t.p) * (1 - exp(-t.lam * 30 / 365.25))) AS e,
                   sum((t.p + (1 - t.p) * (1 - exp(-t.lam * 30 / 365.25)))
                       * (1 - t.p - (1 - t.p) * (1 - exp(-t.lam * 30 / 365.25)))) AS v,
                   avg(CASE WHEN t.is_index_emergency THEN t.p END) AS planted
            FROM w.ind_readmissions r JOIN truth t USING (cips_id)
            WHERE r.excluded IS NULL AND r.method_group = 'emergency'
            GROUP BY 1 ORDER BY 1""").fetchall()


def test_planted_readmission_rates_are_recovered_by_provider(icb20k_clean):
    d, wh = icb20k_clean
    planted = json.loads((d / "truth" / "readmission_by_provider.json").read_text())["by_provider"]
    assert planted["RLT"]["planted_odds_ratio"] == 2.0
    rows = [r for r in _measured_against_truth(d, wh) if r[1] >= 100]
    assert {r[0] for r in rows} >= {"RKB", "RJC", "RLT"}
    # simultaneous 95% intervals over the trusts tested (Bonferroni): each within its interval
    crit = NormalDist().inv_cdf(1 - 0.025 / len(rows))
    for provider, n, o, e, v, _ in rows:
        z = (o - e) / math.sqrt(v)
        assert abs(z) < crit, f"{provider}: {o} readmitted of {n}, planted expectation {e:.1f} (z {z:.2f})"
    by = {r[0]: r for r in rows}
    assert by["RLT"][5] > 1.5 * by["RKB"][5]  # the plant is there: doubled odds
    assert by["RLT"][2] / by["RLT"][1] > by["RKB"][2] / by["RKB"][1]  # and the indicator sees it



def test_planted_excess_mortality_is_flagged_and_no_more_others_than_chance(icb20k_clean):
    """SHMI (issue 18): the synthetic ICB plants excess deaths after discharge at one trust
    (``post_discharge_death_multiplier``, ``truth/mortality_by_provider.json``). Over the three
    years pooled it must be banded "higher than expected" (above the upper 95% funnel limit).
    The other trusts, under no plant, are each flagged (either way) with chance 5%; no more of
    them may be flagged than the 99th centile of Binomial(trusts, 0.05) allows."""
    from scipy.stats import binom

    d, wh = icb20k_clean
    truth = json.loads((d / "truth" / "mortality_by_provider.json").read_text())
    assert truth["planted"] == ["RJC"] and truth["by_provider"]["RJC"]["planted_excess_deaths"] > 20
    with duckdb.connect(str(wh), read_only=True) as c:
        rows = c.sql("SELECT provider_code, fy, observed, expected, shmi, lower_limit, upper_limit, band "
                     "FROM ind_shmi").fetchall()
    pooled = {r[0]: r for r in rows if r[1] is None}
    assert pooled["RJC"][7] == 1 and pooled["RJC"][4] > pooled["RJC"][6], pooled["RJC"]
    others = [r for p, r in pooled.items() if p != "RJC" and r[3] >= 10]
    flagged = [r for r in others if r[7] != 2]
    assert len(others) >= 2
    assert len(flagged) <= binom.ppf(0.99, len(others), 0.05), flagged
    # every year on its own points the same way
    assert all(r[4] > 1 for r in rows if r[0] == "RJC")


def test_planted_acsc_admissions_are_recovered_with_their_deprivation_gradient(icb20k_clean):
    """ACSC (issue 18): the synthetic ICB labels each emergency stay drawn from an ACSC group
    (``truth/spells.parquet`` ``acsc``: chronic, acute, vaccine_preventable). The indicator must
    count (nearly) every one in its list, each year's planted count must lie within the 95%
    interval of the measured one, and the deprivation gradient planted in emergency admissions
    must show: chronic ACSC admissions per person-year higher in IMD quintile 1 than 5."""
    from phm.stats import poisson_ci

    d, wh = icb20k_clean
    with duckdb.connect() as c:
        c.sql(f"ATTACH '{wh}' AS w (READ_ONLY)")
        stays = f"(SELECT * FROM '{d}/truth/spells.parquet' WHERE admission_method LIKE '2%' AND acsc <> '')"
        share = dict(c.sql(f"""
            SELECT t.acsc, avg(CASE t.acsc WHEN 'chronic' THEN a.acsc_chronic WHEN 'acute' THEN a.acsc_acute
                                    ELSE a.acsc_vaccine_preventable END::INT)
            FROM {stays} t LEFT JOIN w.ind_acsc_admissions a USING (provider_code, spell_id)
            GROUP BY 1""").fetchall())
        planted = c.sql(f"""
            SELECT acsc, year(admission_date - INTERVAL 3 MONTH) AS fy, count(*) FROM {stays}
            WHERE NOT is_transfer_in GROUP BY 1, 2""").fetchall()
        measured = {(r[0].removeprefix("acsc_"), r[1]): r[2] for r in c.sql(
            "SELECT indicator, fy, numerator FROM w.ind_values WHERE level = 'icb' AND month IS NULL "
            "AND indicator IN ('acsc_chronic', 'acsc_acute', 'acsc_vaccine_preventable')").fetchall()}
        quint = dict((r[0], (r[1], r[2])) for r in c.sql(
            "SELECT area_code, sum(numerator), sum(denominator) FROM w.ind_values WHERE level = 'imd_quintile' "
            "AND month IS NULL AND indicator = 'acsc_chronic' GROUP BY 1").fetchall())
    assert set(share) == {"chronic", "acute", "vaccine_preventable"}
    assert all(v >= 0.98 for v in share.values()), share
    checked = 0
    for label, fy, n in planted:
        if (label, fy) in measured:
            lo, hi = poisson_ci(measured[label, fy])
            assert lo <= n <= hi, (label, fy, n, measured[label, fy])
            checked += 1
    assert checked >= 6
    (o1, p1), (o5, p5) = quint["1"], quint["5"]
    log_rr, se = math.log((o1 / p1) / (o5 / p5)), math.sqrt(1 / o1 + 1 / o5)
    assert log_rr - 1.96 * se > 0, (o1, p1, o5, p5)


def test_planted_frequent_attenders_are_recovered_each_year(icb20k_clean):
    """Frequent A&E attenders (5+ a year) and high intensity users (adults, more than 20): the
    synthetic ICB plants each person-year's A&E rate (``truth/person_year.parquet`` ``ae_rate``,
    frequent attenders among them) and adds an attendance for every emergency admission through
    A&E (method 21). The planted expectation of each cohort's size in a year is therefore the sum
    over registered person-years of P(Poisson(rate x exposure) >= threshold - admissions via A&E);
    each measured count must lie within its simultaneous 95% interval (Bonferroni)."""
    from scipy.stats import poisson

    d, wh = icb20k_clean
    with duckdb.connect() as c:
        c.sql(f"ATTACH '{wh}' AS w (READ_ONLY)")
        t = c.sql(f"""
            WITH k AS (
                SELECT nhs_number, CAST(year(admission_date - INTERVAL 3 MONTH) AS VARCHAR) || '/'
                       || lpad(CAST((year(admission_date - INTERVAL 3 MONTH) + 1) % 100 AS VARCHAR), 2, '0') AS year,
                       count(*) AS k
                FROM '{d}/truth/spells.parquet' WHERE admission_method = '21' AND NOT is_transfer_in GROUP BY 1, 2)
            SELECT py.year, py.ae_rate * py.exposure_days / 365.25 AS mu, py.age_at_year_start AS age,
                   coalesce(k.k, 0) AS k
            FROM '{d}/truth/person_year.parquet' py LEFT JOIN k USING (nhs_number, year)
            WHERE py.exposure_days > 0""").fetchnumpy()
        measured = {(r[0], r[1]): r[2] for r in c.sql(
            "SELECT indicator, period, numerator FROM w.ind_values WHERE level = 'icb' AND month IS NULL "
            "AND indicator IN ('frequent_ae_attenders', 'high_intensity_users')").fetchall()}
    years = sorted(set(t["year"].tolist()))
    crit = NormalDist().inv_cdf(1 - 0.025 / (2 * len(years)))
    for year in years:
        m = t["year"] == year
        for name, p in (("frequent_ae_attenders", poisson.sf(4 - t["k"][m], t["mu"][m])),
                        ("high_intensity_users", poisson.sf(20 - t["k"][m], t["mu"][m]) * (t["age"][m] >= 18))):
            e, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
            z = (measured[name, year] - e) / sd
            assert abs(z) < crit, f"{name} {year}: measured {measured[name, year]}, planted {e:.1f} (z {z:.2f})"


def test_planted_ebi_rates_are_recovered_by_provider(icb20k_clean):
    """Evidence-Based Interventions (issue 18): the synthetic ICB draws each elective stay's trust
    first and scales the weight of the low-priority groups there (``ebi_multiplier``: doubled at
    RKB), so every stay has a known chance of being each intervention; ``truth/ebi_expected.parquet``
    sums it over the stays the indicator can count (finished, no cancer coded). Per trust, over
    the interventions phm codes, the measured count must lie within its simultaneous 95%
    interval (Bonferroni; variance at most the expectation, a sum of Bernoullis); per stay, the
    indicator must name the planted intervention (>= 98% found, <= 1% not planted); and the
    doubled trust must show the higher rate."""
    from phm.indicators.ebi import not_coded

    d, wh = icb20k_clean
    truth = json.loads((d / "truth" / "ebi_by_provider.json").read_text())
    assert truth["planted"] == ["RKB"] and truth["by_provider"]["RKB"]["planted_multiplier"] == 2.0
    skip = "', '".join(not_coded())
    with duckdb.connect() as c:
        c.sql(f"ATTACH '{wh}' AS w (READ_ONLY)")
        expected = {r[0]: (r[1], r[2]) for r in c.sql(f"""
            SELECT provider_code, sum(expected), sum(DISTINCT stays) FROM (
                SELECT provider_code, year, first(stays) AS stays, sum(expected) AS expected
                FROM '{d}/truth/ebi_expected.parquet' WHERE intervention NOT IN ('{skip}') GROUP BY 1, 2)
            GROUP BY 1""").fetchall()}
        stays = dict(c.sql(f"""SELECT provider_code, sum(stays) FROM (SELECT DISTINCT provider_code, year, stays
                               FROM '{d}/truth/ebi_expected.parquet') GROUP BY 1""").fetchall())
        measured = dict(c.sql("SELECT area_code, sum(spells) FROM w.ind_ebi WHERE level = 'provider' "
                              "GROUP BY 1").fetchall())
        found, extra, planted_n, measured_n = c.sql(f"""
            WITH t AS (SELECT s.provider_code, s.spell_id, s.ebi_intervention FROM '{d}/truth/spells.parquet' s
                       JOIN '{d}/truth/persons.parquet' p USING (nhs_number)
                       JOIN '{d}/truth/cips.parquet' c USING (stay)
                       WHERE s.ebi_intervention NOT IN ('', '{skip}') AND NOT p.cancer
                         AND c.discharge_date IS NOT NULL),
                 m AS (SELECT provider_code, spell_id, intervention FROM w.ind_ebi_spells)
            SELECT count(*) FILTER (WHERE t.ebi_intervention = m.intervention),
                   count(*) FILTER (WHERE t.spell_id IS NULL OR t.ebi_intervention <> m.intervention),
                   (SELECT count(*) FROM t), (SELECT count(*) FROM m)
            FROM m FULL JOIN t USING (provider_code, spell_id)""").fetchone()
    tested = {p: e for p, (e, _) in expected.items() if e >= 20}
    assert {"RKB", "RJC", "RLT"} <= set(tested)
    crit = NormalDist().inv_cdf(1 - 0.025 / len(tested))
    for p, e in tested.items():
        z = (measured.get(p, 0) - e) / math.sqrt(e)
        assert abs(z) < crit, f"{p}: measured {measured.get(p, 0)} EBI spells, planted {e:.1f} (z {z:.2f})"
    # the plant is found per stay (finished stays of people without cancer, which the rules exclude)
    assert found >= 0.98 * planted_n and extra <= 0.01 * measured_n, (found, extra, planted_n, measured_n)
    # and the doubled trust stands out: its share of countable elective stays above the other
    # trusts' pooled share (two-proportion z-test, one-sided 2.5%)
    n1, x1 = stays["RKB"], measured["RKB"]
    n0 = sum(stays[p] for p in tested if p != "RKB")
    x0 = sum(measured.get(p, 0) for p in tested if p != "RKB")
    pooled = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    assert z > NormalDist().inv_cdf(0.975), (x1, n1, x0, n0, z)
