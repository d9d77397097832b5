"""Disclosure control across every served table at once (phm.web.links, issue 12).

- every declared relation (phm.web.datasets.RELATIONS) holds on the analyst's exact data, so
  the additive structure the protection works on is the real one;
- a cell shown in two tables is withheld in both or neither;
- no relation is left with a lone withheld cell, and the withheld counts of a relation with a
  primary ``*`` hide at least 8;
- hand-built: the differencing the issue found (summary spend minus the released settings)
  no longer recovers a withheld setting's spend.
"""

from __future__ import annotations

import math

import pytest

from phm.disclosure import SUPPRESSED, round_money
from phm.web.datasets import DATASETS, RELATIONS, Bands, Same, Sum
from phm.web.links import protect_all

S = SUPPRESSED
ALL = ("level", "area_code", "fy")


def flat(dashboard, name: str, controlled: bool) -> list[dict]:
    s = dashboard.served[name]
    index = s.protected if controlled else s.raw
    return [r for rows in index.values() for r in rows]


def _key(r, names):
    return (r["level"], r["area_code"], r["fy"], *(r[k] for k in names))


def _close(a, b) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


def _relation_pairs(dashboard, rel, controlled):
    """What a relation says is equal: (copy, original) pairs for a Same; (total, [parts]) for a
    Sum (the total None when no row of its dataset matches)."""
    only = dict(rel.only)
    keep = [k for k, _ in rel.only]

    def kept(name):
        return [r for r in flat(dashboard, name, controlled) if all(r[k] in only[k] for k in keep)]

    if isinstance(rel, Same):
        (a, ca), (b, cb) = (x.split(".") for x in (rel.cells, rel.of))
        other: dict = {}
        for r in flat(dashboard, b, controlled):
            other.setdefault(_key(r, rel.on), r[cb])
        return [(r[ca], other.get(_key(r, rel.on))) for r in kept(a)]
    (a, ca), (b, cb) = (x.split(".") for x in (rel.parts, rel.total))
    rename = dict(rel.rename)
    matched = [k for k in rel.by if rename.get(k, k) in DATASETS[b].key_names]
    where = dict(rel.where)
    totals: dict = {}
    for r in flat(dashboard, b, controlled):
        if all(r[k] == v for k, v in where.items()):
            totals.setdefault(_key(r, [rename.get(k, k) for k in matched]), r[cb])
    sums: dict = {}
    for r in kept(a):
        sums.setdefault(_key(r, rel.by), []).append(r[ca])
    out = []
    for k, parts in sums.items():
        total_key = k[:3] + tuple(v for n, v in zip(rel.by, k[3:], strict=True) if n in matched)
        out.append((totals.get(total_key), parts))
    return out


def _rel_id(r) -> str:
    if isinstance(r, Bands):
        return f"Bands:{r.bands}~{r.count}"
    if isinstance(r, Same):
        return f"Same:{r.cells}->{r.of}"
    return f"Sum:{r.parts}{'<=' if r.sense == '<=' else '->'}{r.total}:{'/'.join(k for k, _ in r.only)}"


@pytest.mark.parametrize("rel", [r for r in RELATIONS if not isinstance(r, Bands)], ids=_rel_id)
def test_every_declared_relation_holds_on_the_exact_data(dashboard, rel):
    pairs = _relation_pairs(dashboard, rel, controlled=False)
    assert pairs, "the relation matched no rows"
    if isinstance(rel, Same):
        bad = [(a, b) for a, b in pairs if b is None or not _close(a, b)]
    elif rel.sense == "<=":  # a bound: the parts add up to at most the total
        bad = [(t, sum(p)) for t, p in pairs if t is not None and sum(p) > float(t) + 1e-6]
        assert any(t is not None for t, _ in pairs), "no part matched a total"
    else:  # a total with no row is a group with no one in it (dash_ineq has no zero rows)
        bad = [(t, sum(p)) for t, p in pairs if not _close(t or 0, sum(p))]
    assert not bad, f"{len(bad)} of {len(pairs)} do not hold, e.g. {bad[:3]}"


def test_age_band_bounds_hold_on_the_exact_data(dashboard):
    """Bands: each minimum-age count lies between the bands from that age and the bands
    reaching it (checked by building the protection's own bounds on the raw cells)."""
    from phm.web import links

    (rel,) = [r for r in RELATIONS if isinstance(r, Bands)]
    raw = {n: [r for rows in s.raw.values() for r in rows] for n, s in dashboard.served.items()}
    t, n = {}, 0
    for name in ("pyramid", "prevalence"):
        rows = raw[name]
        col = rel.bands.split(".")[1] if name == "pyramid" else rel.count.split(".")[1]
        t[name] = links._Table(name, rows, list(DATASETS[name].key_names), {col: [r[col] for r in rows]}, {},
                               {col: n})
        n += len(rows)
    values = [v for name in ("pyramid", "prevalence") for v in next(iter(t[name].raw.values()))]
    bounds = links._bands(t, rel)
    assert len(bounds) > 100
    bad = [(total, parts) for total, parts, sense in bounds
           if sum(values[i] for i in parts) > sum(values[i] for i in total) + 1e-6]
    assert not bad, bad[:3]


@pytest.mark.parametrize(
    "rel", [r for r in RELATIONS if isinstance(r, Same)], ids=lambda r: r.cells
)
def test_a_value_shown_twice_is_withheld_in_both_or_neither(dashboard, rel):
    pairs = _relation_pairs(dashboard, rel, controlled=True)
    assert all(a == b for a, b in pairs), [p for p in pairs if p[0] != p[1]][:5]


@pytest.mark.parametrize(
    "rel", [r for r in RELATIONS if isinstance(r, Sum) and r.sense == "="], ids=_rel_id
)
def test_no_margin_has_a_lone_withheld_cell(dashboard, rel):
    lone = []
    for total, parts in _relation_pairs(dashboard, rel, controlled=True):
        cells = [total, *parts]
        withheld = sum(v == S for v in cells)
        others = [v for v in cells if v not in (S, 0, None)]
        if withheld == 1 and others:
            lone.append(cells)
    assert not lone, lone[:3]


def test_money_released_to_non_analysts_is_rounded_and_has_eight_people(dashboard):
    """A sweep of the real served tables: every released £ value is the rounded exact value of
    a cell that passes the magnitude rule (8+ people, p% rule)."""
    from phm.disclosure import Kind, money_sensitive

    checked = 0
    for name, d in DATASETS.items():
        money = [c for c in d.measures if c.kind is Kind.MONEY]
        if not money:
            continue
        raw = {_key(r, d.key_names): r for r in dashboard._read(d)}
        for r in flat(dashboard, name, controlled=True):
            exact = raw[_key(r, d.key_names)]
            for c in money:
                if r[c.name] in (S, None):
                    continue
                checked += 1
                assert r[c.name] == round_money(exact[c.name]), (name, c.name, r)
                if not c.order_statistic:
                    assert not money_sensitive(exact[c.name], *(exact[s] for s in c.support)), (
                        name,
                        r,
                    )
    assert checked > 100


# ---- hand-built ---------------------------------------------------------------------------


def _summary(area, level, persons, spend, people=None):
    people = persons if people is None else people
    return {
        "level": level,
        "area_code": area,
        "area_name": f"Area {area}",
        "fy": 2024,
        "persons": persons,
        "person_years": float(persons),
        "spend": spend,
        "spend_people": people,
        "spend_top1": spend / max(people, 1),
        "spend_top2": spend / max(people, 1),
        "emergency_admissions": 0,
        "ae_attendances": 0,
        "ltc2plus": 0,
        "hri": 0,
        "core20": 0,
        "age65plus": 0,
        "deaths": 0,
    }


def _setting(area, level, setting, population, users, spend, people):
    return {
        "level": level,
        "area_code": area,
        "area_name": f"Area {area}",
        "fy": 2024,
        "setting": setting,
        "setting_name": setting.title(),
        "population": population,
        "users": users,
        "spend": spend,
        "spend_people": people,
        "spend_top1": spend / max(people, 1),
        "spend_top2": spend / max(people, 1) if people > 1 else 0.0,
        "access_index": None,
        "intensity_index": None,
        "spend_per_head_index": None,
    }


def test_summary_spend_minus_released_settings_no_longer_recovers_a_withheld_setting():
    """The issue's attack: practice spend less its released settings gave one person's social
    care spend to the penny. Now social care (1 person) is withheld and so is a second setting,
    and the released values are rounded."""
    settings = [
        ("gp", 900, 210_000.0, 900),
        ("apc", 80, 400_000.0, 80),
        ("social_care", 1, 25_000.0, 1),
    ]
    tables = {
        "summary": [_summary("P1", "practice", 1000, 635_000.0)],
        "settings": [_setting("P1", "practice", s, 1000, u, sp, n) for s, u, sp, n in settings],
    }
    out, stats = protect_all(tables, lambda a: None)
    spend = {r["setting"]: r["spend"] for r in out["settings"]}
    assert spend["social_care"] == S
    assert sum(v == S for v in spend.values()) == 2  # gp (the smallest sufficient) too
    assert out["summary"][0]["spend"] == 635_000
    assert stats["primary"] == 2 and stats["secondary"] == 1
    assert out["settings"][0]["population"] == 1000  # the same cell as summary.persons


def test_a_value_withheld_in_one_table_is_withheld_where_it_is_shown_again():
    tables = {
        "summary": [
            _summary("P1", "practice", 1000, 635_000.0),
            _summary("P2", "practice", 3, 1_000.0, 3),
            _summary("N", "pcn", 1003, 636_000.0),
        ],
        "settings": [_setting("P2", "practice", "gp", 3, 3, 1_000.0, 3)],
    }
    parent = {("practice", "P1"): ("pcn", "N"), ("practice", "P2"): ("pcn", "N")}.get
    out, _ = protect_all(tables, parent)
    persons = {r["area_code"]: r["persons"] for r in out["summary"]}
    assert persons == {"P1": S, "P2": S, "N": 1005}  # P1 withheld so P2 is not alone under N
    assert out["settings"][0]["population"] == S
