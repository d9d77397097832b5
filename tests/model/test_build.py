"""``phm build`` on a 10,000-person synthetic ICB: counts, reconciliation and planted truths."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from phm.build import MARTS, analysis_window
from phm.cli import main
from phm.ingest.pseudonym import PseudonymKey
from phm.model import costing, definitions
from phm.model.activity import SETTINGS, value_sets
from phm.warehouse import connect
from phm_testing import TEST_KEY

pytestmark = pytest.mark.xdist_group("ingest")


@pytest.fixture(scope="module")
def wh(icb10k_built):
    with connect(icb10k_built, read_only=True) as w:
        yield w


def one(wh, sql: str):
    return wh.raw.execute(sql).fetchall()


def test_every_mart_is_built(wh):
    assert set(MARTS) <= set(wh.list_tables())


def test_person_count_equals_the_registered_population(wh, icb10k):
    truth = pq.read_table(icb10k / "truth" / "persons.parquet").num_rows
    (valid,), = one(wh, "select count(distinct person_id) from raw_patients where person_id is not null")
    (persons, distinct), = one(wh, "select count(*), count(distinct person_id) from person")
    assert persons == distinct == valid == truth
    (no_activity,), = one(wh, "select count(*) from person p where not exists (select 1 from activity a where a.person_id = p.person_id)")
    assert no_activity > 0  # people who used no service are in the spine too


def test_every_activity_row_has_a_cost_a_source_and_a_programme(wh):
    programmes = set(definitions.programmes()["id"].to_pylist())
    rows = one(wh, "select setting, cost_source, programme, count(*), count(cost), min(cost), count(programme_rule) "
                   "from activity group by all")
    assert {r[0] for r in rows} == set(SETTINGS)
    for setting, source, programme, n, costed, low, ruled in rows:
        assert costed == n and ruled == n and low >= 0, (setting, source)
        assert source in (*costing.SOURCES, "mixed"), source
        assert programme in programmes, programme


def test_phm_labels_are_stored_as_categories_and_read_back_as_strings(wh):
    """The low-cardinality labels of activity are DuckDB ENUMs (a fraction of the cost of
    writing repeated strings); every value the build wrote is in its value set (a value
    outside it would fail the build), and readers see plain strings."""
    types = dict(one(wh, "select column_name, data_type from information_schema.columns "
                         "where table_name = 'activity'"))
    sets = value_sets(analysis_window(wh))
    for col, values in sets.items():
        assert types[col].startswith("ENUM("), col
        got = {r[0] for r in one(wh, f"select distinct {col}::VARCHAR from activity")} - {None}
        assert got <= set(values), col
    assert wh.to_arrow("activity").schema.field("setting").type == "string"
    a = wh.table("activity")
    assert a.schema()["programme"].is_string()


def test_person_year_cost_equals_activity_cost_to_the_penny(wh):
    (act,), = one(wh, "select sum(cost) from activity")
    (py,), = one(wh, "select sum(cost_total + cost_nhse + cost_private) from person_year")
    assert act > 1e6
    assert abs(act - py) < 0.005
    # ICB-commissioned spend by setting and programme; NHS England and private patients apart
    for funder, col in (("icb", "cost_total"), ("nhse", "cost_nhse"), ("private", "cost_private")):
        (a,), = one(wh, f"select coalesce(sum(cost), 0) from activity where funder = '{funder}'")
        (p,), = one(wh, f"select sum({col}) from person_year")
        assert abs(a - p) < 0.005, funder
    by_setting = dict(one(wh, "select setting, sum(cost) from activity where funder = 'icb' group by 1"))
    cols = ", ".join(f"sum(cost_{s})" for s in SETTINGS)
    (sums,) = one(wh, f"select {cols} from person_year")
    for s, v in zip(SETTINGS, sums, strict=True):
        assert abs(by_setting[s] - v) < 0.005, s
    by_prog = dict(one(wh, "select programme, sum(cost) from activity where funder = 'icb' group by 1"))
    ids = definitions.programmes()["id"].to_pylist()
    (psums,) = one(wh, "select " + ", ".join(f"sum(cost_prog_{p})" for p in ids) + " from person_year")
    for p, v in zip(ids, psums, strict=True):
        assert abs(by_prog.get(p, 0.0) - v) < 0.005, p


def test_every_raw_row_is_in_activity_or_unlinked_with_a_reason(wh):
    counted = dict(one(wh, "select setting, count(*) from (select setting from activity union all "
                           "select setting from activity_unlinked) group by 1"))
    (apc,), = one(wh, "select count(*) from (select distinct provider_code, spell_id from raw_apc_episodes)")
    assert counted["apc"] == apc
    for setting, table, key in [("op", "op_attendances", "provider_code, attendance_id"),
                                ("ecds", "ecds_attendances", "provider_code, attendance_id"),
                                ("community", "community_contacts", "provider_code, contact_id"),
                                ("mh", "mh_contacts", "provider_code, contact_id")]:
        (n,), = one(wh, f"select count(*) from (select distinct {key} from raw_{table})")
        assert counted[setting] == n, setting
    for setting, table in [("gp", "gp_appointments"), ("prescribing", "prescriptions")]:
        (n,), = one(wh, f"select count(*) from raw_{table}")
        assert counted[setting] == n, setting
    (services,), = one(wh, "select count(*) from (select distinct la_code, service_id from raw_social_care)")
    (placed,), = one(wh, "select count(distinct regexp_extract(activity_id, '^social_care:([^:]+:[^:]+)', 1)) from "
                         "(select activity_id from activity where setting = 'social_care' union all "
                         "select activity_id from activity_unlinked where setting = 'social_care')")
    assert placed == services
    reasons = {r for (r,) in one(wh, "select distinct unlinked_reason from activity_unlinked")}
    assert reasons <= {"no valid NHS number", "person not on the registered list", "no valid activity date",
                       "outside the analysis window", "spell in progress: no finished episode"}
    assert "no valid NHS number" in reasons and "person not on the registered list" in reasons


def _truth_ids(icb10k):
    key = PseudonymKey(TEST_KEY.encode(), "test")
    t = pq.read_table(icb10k / "truth" / "persons.parquet").to_pandas()
    t["person_id"] = [key.digest(n) for n in t.nhs_number]
    return t


def test_qof_registers_recover_the_planted_registers(wh, icb10k):
    """The QOF register rules (phm.model.registers) applied to the synthetic GP record give back
    the planted registers, person by person, in the last year, although the record also holds
    resolved histories, re-diagnoses, coded but untreated people and palliative care codes
    (phm.synth.registers). Planted = the planted condition and old enough on the year end.
    Asthma may be a little larger: a coded, untreated person who had an acute salbutamol
    inhaler is on the QOF register, as QOF counts any asthma drug."""
    from phm.model.registers import register_definitions

    truth = _truth_ids(icb10k).set_index("person_id")
    conds = [c.id for c in __import__("phm.refdata", fromlist=["conditions"]).conditions()]
    cols = ", ".join(f"cond_{c}" for c in conds)
    py = wh.raw.execute(f"select person_id, age_year_end, {cols} from person_year where fy = "
                        "(select max(fy) from person_year) and exposure_days > 0").df().set_index("person_id")
    j = py.join(truth[conds].add_suffix("_planted"), how="inner")
    assert len(j) == len(py)
    floors = {r["condition"]: int(r["min_age"]) for r in register_definitions()}
    for c in conds:
        planted = j[f"{c}_planted"].astype(bool) & (j.age_year_end >= floors[c])
        got = j[f"cond_{c}"].astype(bool)
        missed, extra = int((planted & ~got).sum()), int((got & ~planted).sum())
        assert missed <= max(2, 0.02 * planted.sum()), (c, missed, int(planted.sum()))
        assert extra <= (0.10 if c == "asthma" else 0.02) * planted.sum() + 2, (c, extra, int(planted.sum()))


def test_resolved_histories_stay_off_the_register(wh):
    """Someone whose latest asthma, depression or hypertension code is followed by a resolved code
    is coded with the condition but not on its register (the synthetic ICB plants about 5%, 4%
    and 1% of the eligible population with such a history)."""
    n = one(wh, """select count(*) from person_year p join person_condition c
                   on p.person_id = c.person_id and c.condition = 'asthma' and c.first_gp_date <= p.fy_end
                   where p.fy = (select max(fy) from person_year) and not p.cond_asthma and p.age_year_end >= 6""")
    assert n[0][0] > 0.02 * one(wh, "select count(*) from person_year where fy = (select max(fy) from person_year)")[0][0]


def test_hospital_only_conditions_come_from_planted_hospital_events(wh, icb10k):
    """Diagnoses first coded in hospital (not in the GP record) are incident events the synthetic
    ICB planted (a stroke or heart attack admission), never conditions the person was not given."""
    truth = _truth_ids(icb10k)
    rows = one(wh, "select person_id, condition from person_condition where first_gp_date is null")
    planted = {(p, c) for c in ("chd", "stroke_tia") for p in truth.person_id[truth[c]]}
    assert rows, "expected some hospital-only diagnoses"
    incident = [(p, c) for p, c in rows if (p, c) not in planted]
    by_cond = {}
    for _, c in incident:
        by_cond[c] = by_cond.get(c, 0) + 1
    assert set(by_cond) <= {"chd", "stroke_tia", "ckd", "dementia", "copd", "asthma", "diabetes", "epilepsy",
                            "heart_failure", "hypertension", "atrial_fibrillation", "cancer", "depression",
                            "osteoporosis", "rheumatoid_arthritis", "smi", "learning_disability", "pad"}
    # hospital-only diagnoses are a small share of each register: not shown to exceed 15% (the 95%
    # Wilson lower limit of the share is below it). A bound on the planted process, not on one draw:
    # at 10,000 people a register of ~240 moves the share by +/- 4 points from seed to seed.
    from phm.stats import wilson_ci

    totals = dict(one(wh, "select condition, count(*) from person_condition group by 1"))
    for c, k in by_cond.items():
        lower, _ = wilson_ci(k, totals[c])
        assert lower < 0.15, (c, k, totals[c])


def test_deprivation_gradient_is_within_ci_of_the_planted_ratio(wh, icb10k):
    """Emergency admissions per person-year, IMD 2025 decile 1 against decile 10: the planted crude
    ratio lies in the exact 95% interval of the observed rate ratio (conditional binomial method,
    Breslow & Day 1987, vol. II section 2.6)."""
    planted = json.loads((icb10k / "truth" / "deprivation_gradient.json").read_text())
    rows = dict((d, (o, e)) for d, o, e in one(
        wh, "select imd2025_decile, sum(emergency_admissions), sum(exposure_days) / 365.25 from person_year "
            "where imd2025_decile in (1, 10) group by 1"))
    (o1, t1), (o10, t10) = rows[1], rows[10]
    n = o1 + o10
    lo_p = sps.beta.ppf(0.025, o1, o10 + 1)
    hi_p = sps.beta.ppf(0.975, o1 + 1, o10)
    ratio = lambda p: p / (1 - p) * t10 / t1  # noqa: E731
    observed = (o1 / t1) / (o10 / t10)
    assert n > 100
    assert ratio(lo_p) <= planted["planted_crude_ratio_decile1_vs_decile10"] <= ratio(hi_p), observed
    assert observed > 1.3


def test_high_resource_individuals_are_the_fewest_people_holding_half_of_spend(wh):
    for _fy, hri_cost, total, hri_n, min_hri, max_other in one(
            wh, "select fy, sum(cost_total) filter (where hri), sum(cost_total), count(*) filter (where hri), "
                "min(cost_total) filter (where hri), max(cost_total) filter (where not hri) from person_year group by 1"):
        assert hri_cost >= 0.5 * total
        assert hri_cost - min_hri < 0.5 * total  # without the cheapest HRI, under half
        assert min_hri >= max_other
        assert hri_n > 0


def test_segments_cover_every_person_year(wh):
    allowed = set(__import__("phm.model.segments", fromlist=["x"]).segment_definitions()["segment"].to_pylist())
    got = dict(one(wh, "select segment, count(*) from person_year group by 1"))
    assert set(got) <= allowed and None not in got
    assert {"healthy", "chronic_conditions", "end_of_life"} <= set(got)


def test_comorbidity_scores_are_consistent(wh):
    ((bad_cms, bad_ltc, max_ch),) = one(wh, "select count(*) filter (where cms < 0 or (ltc_count = 0 and cms > 0)), "
                                            "count(*) filter (where ltc_count > 18), max(charlson) from person_year")
    assert bad_cms == 0 and bad_ltc == 0 and 0 < max_ch <= 29


def test_build_twice_gives_the_same_marts(icb10k_built, tmp_path, capsys):
    import shutil

    from phm.warehouse import table_checksum

    copy = tmp_path / "again.duckdb"
    shutil.copy(icb10k_built, copy)
    with connect(icb10k_built, read_only=True) as w:
        before = {m: table_checksum(w, m) for m in MARTS}
    timings = tmp_path / "timings.json"
    assert main(["build", "--warehouse", str(copy), "--force", "--profile", "--timings-json", str(timings)]) == 0
    with connect(copy, read_only=True) as w:
        assert {m: table_checksum(w, m) for m in MARTS} == before
        counts = {m: w.to_arrow(m).num_rows for m in MARTS}
    # --profile: seconds, rows and peak memory of every step, each mart with its row count
    err = capsys.readouterr().err
    assert "phm build: where the time goes" in err
    # off a terminal, a plain line as each step starts and ends (issue 16: never minutes of silence)
    assert "build: activity: started" in err and "build: activity: done in" in err
    steps = {s["step"]: s for s in json.loads(timings.read_text())["steps"]}
    assert {m: steps[m]["rows"] for m in MARTS} == counts
    assert {"reference tables", "analysis", "build_meta and commit"} <= set(steps)
    assert all(s["seconds"] > 0 and s["peak_gb"] > 0.05 for s in steps.values())


def test_a_build_with_nothing_new_is_skipped_and_says_so(icb10k_built, tmp_path, capsys, monkeypatch):
    """Same loads, same window, same phm: rebuilding would give the same marts, so the build
    says they are current and leaves them; a new load or another method rebuilds."""
    import shutil

    from phm import build as build_mod
    from phm.warehouse.ledger import fingerprint, read_ledger

    copy = tmp_path / "current.duckdb"
    shutil.copy(icb10k_built, copy)
    with connect(copy, read_only=True) as w:
        before = w.to_arrow("build_meta")
    assert main(["build", "--warehouse", str(copy)]) == 0
    assert "the marts are current" in capsys.readouterr().err
    with connect(copy, read_only=True) as w:
        assert w.to_arrow("build_meta").equals(before)
        window, led = build_mod.analysis_window(w), fingerprint(read_ledger(w))
        assert build_mod.current_build(w, window, led)
        assert not build_mod.current_build(w, window, "another load ledger")
        assert not build_mod.current_build(w, build_mod.analysis_window(w, years=2), led)
        monkeypatch.setattr(build_mod, "method_fingerprint", lambda: "another method")
        assert not build_mod.current_build(w, window, led)


def test_build_without_ingest_is_a_clear_error(tmp_path, capsys):
    assert main(["build", "--warehouse", str(tmp_path / "none.duckdb")]) != 0
    err = capsys.readouterr().err
    assert "no warehouse" in err and "Traceback" not in err


def test_python_api_gives_ibis_marts(icb10k_built):
    import phm

    with phm.connect(icb10k_built) as icb:
        py = icb.person_year
        by_segment = py.group_by("segment").aggregate(n=py.count()).to_pyarrow()
        n = sum(by_segment["n"].to_pylist())
        assert n > 10_000
        assert icb["person"].count().to_pyarrow().as_py() > 9_000
        assert icb.build_info["window_last_fy"] == "2024"
        with pytest.raises(AttributeError, match="no table 'nope'"):
            _ = icb.nope
    assert np.isfinite(n)


def test_a_build_in_parts_of_the_population_gives_the_same_marts(icb10k_built, tmp_path, monkeypatch):
    """A large population's dash_monthly is computed in slices of person_id (phm.model.parts):
    10,000 people in parts of 3,000 (four parts) give the marts and analysis tables of the
    one-pass build."""
    import shutil

    from phm.analysis import TABLES
    from phm.model import parts
    from phm.warehouse.base import normalise
    from phm_testing import assert_same_tables

    copy = tmp_path / "parts.duckdb"
    shutil.copy(icb10k_built, copy)
    monkeypatch.setenv("PHM_PERSONS_PER_PART", "3000")
    assert parts.part_count(10_000) == 4
    assert main(["build", "--warehouse", str(copy), "--force"]) == 0
    names = (*MARTS, *TABLES)
    got = {}
    for path in (icb10k_built, copy):
        with connect(path, read_only=True) as w:
            got[path] = {m: normalise(w.to_arrow(m)) for m in names}
            assert not [t for t in w.list_tables() if t.startswith("_")], "scratch tables left behind"
    whole, sliced = got[icb10k_built], got[copy]
    assert sliced["dash_monthly"].num_rows > 100
    assert_same_tables(whole, sliced, ("whole", "parts"))


def test_parts_cover_every_person_id_once():
    from phm.model import parts

    for k in (1, 2, 3, 7):
        b = parts.bounds(k)
        assert len(b) == k and b[0][0] is None and b[-1][1] is None
        assert all(b[i][1] == b[i + 1][0] for i in range(k - 1))  # adjacent, no gap, no overlap
    _, hi = parts.bounds(2)[0]
    assert hi == 0  # two equal halves of the signed 64-bit range
    import ibis
    import pyarrow as pa

    t = ibis.memtable(pa.table({"person_id": pa.array([-(2**63), -1, 0, 5, 2**63 - 1, None], pa.int64())}))
    seen = sorted(v for cut in parts.slicers(3) for v in cut(t).person_id.to_pyarrow().to_pylist())
    assert seen == [-(2**63), -1, 0, 5, 2**63 - 1]  # each once; a missing id in no part


def test_hri_from_the_narrow_ranking_is_the_window_over_the_year():
    """person_year marks High Resource Individuals from the last HRI of each year's ranking
    (hri_cut on three columns) instead of a window over the 150-column mart: same flags, ties
    on cost broken by person_id, zero cost never HRI, each year on its own."""
    import ibis
    import pyarrow as pa

    from phm.model.person_year import hri_cut, hri_flag, with_hri

    t = ibis.memtable(pa.table({
        "person_id": pa.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], pa.int64()),
        "fy": pa.array([2024] * 7 + [2023] * 3, pa.int64()),
        # 2024: total 100; 40, then 20 and 20 (a tie, broken by person_id), then 10, 10, 0, 0
        "cost_total": [40.0, 20.0, 20.0, 10.0, 10.0, 0.0, 0.0, 5.0, 5.0, 0.0],
    }))
    want = t.mutate(hri=hri_flag(t)).order_by("person_id").hri.to_pyarrow().to_pylist()
    got = with_hri(t, hri_cut(t)).order_by("person_id").hri.to_pyarrow().to_pylist()
    # 2024: 40 (0 before), 20 (person 2: 40 before < 50); person 3 has 60 before: not HRI.
    # 2023: person 8 (0 before < 5), person 9 has 5 before, not < 5.
    assert want == [True, True, False, False, False, False, False, True, False, False]
    assert got == want
