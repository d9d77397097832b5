"""Programme budgeting on a whole synthetic ICB against England (issue 14 acceptance): the six
largest programmes with a cited national share are within 25% of England, and "other" holds
under 5% of admitted, outpatient and A&E cost.

National shares: :func:`phm.refdata.pb_england_shares` (PCT programme budgeting 2012-13 and
earlier English shares, with their sources). "Other" (23) is left out of the six: nationally it
holds GMS/PMS and spend the returns could not allocate, which phm places apart (23A) or by rule.
NHS cost is every setting but adult social care, which is council, not NHS, spend.

Like for like: England's shares are of all PCT spend, about £2,350 a head at 2024 prices; phm
costs about £1,630 a head, because dental, pharmacy, ophthalmic, continuing healthcare,
ambulance, specialised and running costs are not settings phm holds. Taken literally, phm's
shares of hospital-heavy programmes therefore run about a third above England's (cancer 8.2%
against 6.0% on this ICB) while their mix is right. The test compares each programme's share of
the six programmes' total, in phm and in England, which removes the difference in scope; the
literal shares are printed by ``phm build``'s spend tables and quoted in docs/model.md.
"""

from __future__ import annotations

import duckdb
import pytest

from phm import refdata

pytestmark = pytest.mark.xdist_group("cips20k")


def _six_largest():
    t = [
        r
        for r in refdata.pb_england_shares().to_pylist()
        if r["share"] is not None and r["programme"] != "other"
    ]
    return sorted(t, key=lambda r: -r["share"])[:6]


@pytest.fixture(scope="module")
def shares(icb20k_clean):
    _, wh = icb20k_clean
    with duckdb.connect(str(wh), read_only=True) as c:
        rows = c.sql(
            "select programme, sum(cost) from activity where setting <> 'social_care' group by 1"
        ).fetchall()
        acute = c.sql(
            "select sum(cost) filter (where programme = 'other') / sum(cost) from activity "
            "where setting in ('apc', 'op', 'ecds')"
        ).fetchone()[0]
    cost = dict(rows)
    six = [r["programme"] for r in _six_largest()]
    total = sum(cost.get(p, 0.0) for p in six)
    return {p: cost.get(p, 0.0) / total for p in six}, acute


def test_the_six_largest_programmes_are_the_ones_cited():
    assert [r["programme"] for r in _six_largest()] == [
        "mental_health",
        "circulation",
        "cancers_tumours",
        "respiratory",
        "gastro_intestinal",
        "genito_urinary",
    ]


@pytest.mark.parametrize("row", _six_largest(), ids=lambda r: r["programme"])
def test_programme_share_is_within_25_percent_of_england(shares, row):
    england = row["share"] / sum(r["share"] for r in _six_largest())
    got = shares[0][row["programme"]]
    assert abs(got / england - 1) <= 0.25, (
        f"{row['programme']}: {got:.3f} of the six vs England {england:.3f}"
    )


def test_other_holds_under_5_percent_of_admitted_outpatient_and_ae_cost(shares):
    assert shares[1] < 0.05
