"""Similar areas (issue 17, part 3): the nearest-neighbour method checked against distances
computed by hand on a small table, its determinism, and the published ICB characteristics it
runs on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phm.analysis.peers import nearest, standardise
from phm.refdata.characteristics import PEER_VARIABLES, england_characteristics, icb_characteristics

# Four areas, two characteristics. By hand: x1 mean 2.5, population sd sqrt(1.25); x2 mean 15,
# sd 5. z1 = (-1.3416, -0.4472, 0.4472, 1.3416), z2 = (-1, -1, 1, 1).
CODES = ["A", "B", "C", "D"]
X = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 20.0], [4.0, 20.0]])
HAND = {  # distance between z vectors, worked on paper
    ("A", "B"): 1 / math.sqrt(1.25),                  # 0.894427
    ("A", "C"): math.sqrt((2 / math.sqrt(1.25)) ** 2 + 4),  # sqrt(3.2 + 4) = 2.683282
    ("A", "D"): math.sqrt((3 / math.sqrt(1.25)) ** 2 + 4),  # sqrt(7.2 + 4) = 3.346640
    ("B", "C"): math.sqrt((1 / math.sqrt(1.25)) ** 2 + 4),  # sqrt(0.8 + 4) = 2.190890
}


def test_standardise_is_z_scores_with_the_population_sd():
    z, kept = standardise(X)
    assert kept == [0, 1]
    assert z[:, 0] == pytest.approx([-1.341641, -0.447214, 0.447214, 1.341641], abs=1e-6)
    assert z[:, 1] == pytest.approx([-1, -1, 1, 1])


def test_distances_and_order_match_the_hand_computation():
    got = {(a, p): (r, d) for a, r, p, d in nearest(CODES, X, k=3)}
    assert HAND[("A", "B")] == pytest.approx(0.894427, abs=1e-6)
    for (a, p), d in HAND.items():
        assert got[(a, p)][1] == pytest.approx(d, abs=1e-9)
    assert [p for a, _, p, _ in nearest(CODES, X, k=2) if a == "A"] == ["B", "C"]
    assert [p for a, _, p, _ in nearest(CODES, X, k=3) if a == "B"] == ["A", "C", "D"]


def test_ties_go_to_the_lower_code_and_row_order_does_not_matter():
    codes = ["Z", "A", "M", "Q"]
    x = np.array([[0.0], [1.0], [-1.0], [5.0]])  # A and M are equally far from Z
    assert [p for a, _, p, _ in nearest(codes, x, k=2) if a == "Z"] == ["A", "M"]
    perm = [3, 1, 0, 2]
    again = nearest([codes[i] for i in perm], x[perm], k=2)
    assert sorted(again) == sorted(nearest(codes, x, k=2))


def test_a_characteristic_that_does_not_vary_is_left_out():
    x = np.column_stack([X, np.full(4, 7.0)])
    assert standardise(x)[1] == [0, 1]
    assert nearest(CODES, x, k=3) == nearest(CODES, X, k=3)


def test_peers_come_only_from_the_candidates():
    got = [p for a, _, p, _ in nearest(CODES, X, k=10, candidates=["C", "D"]) if a == "A"]
    assert got == ["C", "D"]


def test_published_icb_characteristics():
    t = icb_characteristics()
    assert t.num_rows == 42
    assert all(t[c].null_count == 0 for c in t.column_names)
    row = next(r for r in t.to_pylist() if r["icb_code"] == "QWU")
    # MHCLG IoD2025 ICB summaries, NHS Coventry and Warwickshire (E54000018): average score 19.975,
    # 8.08% of LSOAs in the most deprived 10% nationally
    assert row["imd_score"] == 19.975 and row["imd_most_deprived_10pc"] == 0.0808
    assert row["region_code"] == "Y60"
    eng = england_characteristics()
    assert eng["need_index"] == pytest.approx(1.0, abs=1e-9)  # weighted populations sum to the registered
    assert eng["imd_most_deprived_10pc"] == pytest.approx(0.10, abs=0.001)  # a decile is a tenth
    assert 0.15 < eng["share_0_15"] < 0.25 and 0.2 < eng["share_60_plus"] < 0.3
    assert set(PEER_VARIABLES) <= set(t.column_names)
