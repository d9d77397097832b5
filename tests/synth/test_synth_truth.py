"""The planted truth is in the data (issue 2 acceptance)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import stats as st

from phm.codes import is_bnf_format, is_valid_nhs_number, is_valid_sctid
from phm.refdata import bnf, condition_codelists, icd10, opcs4
from phm.synth.definitions import conditions
from phm.synth.model import model_national_prevalence
from phm.synth.run import DATASETS

from .conftest import read_json
from .detect import detect, read


def _tables(d, fmt):
    """Each dataset's rows; the refreshed APC extract's rows join the first file's (a
    resubmitted record is a near duplicate on the natural key)."""
    out = {n: read(d / f"{n}.{fmt}", fmt) for n in DATASETS}
    refresh = d / f"apc_episodes-2025-04-refresh.{fmt}"
    if refresh.exists():
        out["apc_episodes"] = pa.concat_tables([out["apc_episodes"], read(refresh, fmt).cast(out["apc_episodes"].schema)])
    return out


def test_all_canonical_datasets_and_truth_written(icb20k):
    man = read_json(icb20k / "manifest.json")
    assert sorted(man["files"]) == sorted([*(f"{n}.parquet" for n in DATASETS), "apc_episodes-2025-04-refresh.parquet"])
    for f in ("defects.json", "calibration.json", "deprivation_gradient.json", "persons.parquet",
              "person_year.parquet", "spells.parquet", "ae_attendances_per_person.parquet", "cips.parquet",
              "cips.json"):
        assert (icb20k / "truth" / f).is_file(), f
    assert man["files"]["patients.parquet"]["rows"] >= 20000


def _assert_detected_equals_truth(directory, fmt):
    extract = dt.date.fromisoformat(read_json(directory / "manifest.json")["extract_date"])
    found = detect(_tables(directory, fmt), extract)
    truth = read_json(directory / "truth" / "defects.json")
    for name in DATASETS:
        assert dict(found[name]) == {k: v for k, v in truth[name].items() if v}, name
    return truth


def test_defect_counts_found_equal_truth(icb20k):
    truth = _assert_detected_equals_truth(icb20k, "parquet")
    kinds = {k for v in truth.values() for k in v}
    assert kinds >= {"nhs_invalid_check_digit", "nhs_repeated_digits", "nhs_missing", "lsoa_invalid",
                     "lsoa_missing", "discharge_before_admission", "future_date", "sentinel_date_null",
                     "sentinel_date_invalid", "unknown_icd10", "unknown_opcs4", "exact_duplicate",
                     "near_duplicate", "activity_after_death", "unregistered_person",
                     "ethnicity_not_stated", "ethnicity_not_known"}


def test_csv_excel_damage_counts(icb_csv):
    truth = _assert_detected_equals_truth(icb_csv, "csv")
    assert truth["ecds_attendances"]["excel_nhs_scientific"] > 0
    assert truth["op_attendances"]["excel_leading_zero_lost"] > 0
    assert truth["op_attendances"]["excel_date_ddmmyyyy"] > 0


def test_no_defects_mode_is_clean(tmp_path):
    from phm.cli import main

    assert main(["synth", "--out", str(tmp_path), "--persons", "3000", "--defects", "none"]) == 0
    truth = read_json(tmp_path / "truth" / "defects.json")
    extract = dt.date.fromisoformat(read_json(tmp_path / "manifest.json")["extract_date"])
    found = detect(_tables(tmp_path, "parquet"), extract)
    for name in DATASETS:
        planted = {k: v for k, v in truth[name].items() if not k.startswith("ethnicity")}
        assert planted == {}, name
        assert {k: v for k, v in found[name].items() if not k.startswith("ethnicity")} == {}, name


def test_nhs_numbers_in_test_range(icb20k):
    for name in DATASETS:
        col = pq.read_table(icb20k / f"{name}.parquet", columns=["nhs_number"])["nhs_number"]
        vals = [v for v in col.to_pylist() if v and is_valid_nhs_number(v)]
        assert all(v.startswith("999") for v in vals), name


@pytest.mark.parametrize("condition", [c.id for c in conditions()])
def test_calibration_reproduces_national_prevalence(condition):
    target = next(c for c in conditions() if c.id == condition).target_prevalence
    assert model_national_prevalence(condition) == pytest.approx(target, rel=1e-6)


def test_prevalence_matches_calibration_within_tolerance(icb20k):
    cal = read_json(icb20k / "truth" / "calibration.json")["conditions"]
    persons = pq.read_table(icb20k / "truth" / "persons.parquet")
    for cid, c in cal.items():
        # Realised register size against the planted probabilities: within 4 sd.
        expected = c["icb_expected_prevalence"] * c["denominator"]
        sd = c["icb_expected_sd"] * c["denominator"]
        assert abs(c["register"] - expected) <= 4 * sd + 1, cid
        # And the ICB is plausibly like England: within 40% of the national figure.
        assert c["icb_observed_prevalence"] == pytest.approx(c["national_target"], rel=0.4), cid
    assert persons.num_rows == 20000


def test_gp_register_codes_match_conditions(icb20k):
    """Each person with a condition has a GP diagnosis code from that condition's code list."""
    ev = pq.read_table(icb20k / "gp_events.parquet", columns=["nhs_number", "snomed_code"])
    cl = condition_codelists()
    lists = {}
    for cond, vocab, code in zip(cl["condition"].to_pylist(), cl["vocabulary"].to_pylist(), cl["code"].to_pylist(), strict=True):
        if vocab == "SNOMED":
            lists.setdefault(cond, set()).add(code)
    persons = pq.read_table(icb20k / "truth" / "persons.parquet")
    codes_by_person: dict[str, set] = {}
    for n, c in zip(ev["nhs_number"].to_pylist(), ev["snomed_code"].to_pylist(), strict=True):
        codes_by_person.setdefault(n, set()).add(c)
    for cid in ("diabetes", "copd", "dementia"):
        has = persons.filter(pc.equal(persons[cid], True))["nhs_number"].to_pylist()
        found = sum(1 for n in has if codes_by_person.get(n, set()) & lists[cid])
        assert found == len(has), cid


def test_deprivation_gradient_matches_planted_ratio(icb20k):
    g = read_json(icb20k / "truth" / "deprivation_gradient.json")["by_decile"]
    d1, d10 = g["1"], g["10"]
    observed = (d1["observed"] / d1["person_years"]) / (d10["observed"] / d10["person_years"])
    planted = (d1["expected"] / d1["person_years"]) / (d10["expected"] / d10["person_years"])
    # Exact conditional CI for the ratio of two Poisson rates (binomial on O1/(O1+O10)).
    o1, o10 = d1["observed"], d10["observed"]
    lo_p, hi_p = st.beta.ppf(0.025, o1, o10 + 1), st.beta.ppf(0.975, o1 + 1, o10)
    scale = d10["person_years"] / d1["person_years"]
    lo, hi = lo_p / (1 - lo_p) * scale, hi_p / (1 - hi_p) * scale
    assert lo <= planted <= hi, (observed, planted, lo, hi)
    assert planted > 1.3  # a real gradient was planted


def test_every_code_valid_except_planted(icb20k):
    icd = set(icd10()["code_hes"].to_pylist())
    ops = set(opcs4()["code_compact"].to_pylist())
    bnfs = set(bnf()["presentation_code"].to_pylist())
    defects = read_json(icb20k / "truth" / "defects.json")
    apc = pq.read_table(icb20k / "apc_episodes.parquet")
    bad_dx = sum(1 for c in apc["diag_01"].to_pylist() if c not in icd)
    assert bad_dx == defects["apc_episodes"]["unknown_icd10"]
    for k in range(2, 7):
        assert all(c is None or c in icd for c in apc[f"diag_{k:02d}"].to_pylist())
    bad_op = sum(1 for c in apc["opertn_01"].to_pylist() if c is not None and c not in ops)
    assert bad_op == defects["apc_episodes"]["unknown_opcs4"]
    rx = pq.read_table(icb20k / "prescriptions.parquet", columns=["bnf_code"])["bnf_code"].unique().to_pylist()
    assert all(c in bnfs and is_bnf_format(c) for c in rx)
    gp = pq.read_table(icb20k / "gp_events.parquet", columns=["snomed_code"])["snomed_code"].unique().to_pylist()
    assert all(is_valid_sctid(c) for c in gp)
    death = pq.read_table(icb20k / "deaths.parquet")["underlying_cause"].unique().to_pylist()
    assert all(c in icd for c in death)


def test_planted_frequent_attenders_and_readmissions(icb20k):
    persons = pq.read_table(icb20k / "truth" / "persons.parquet", columns=["nhs_number", "frequent_attender_planted"])
    ae = pq.read_table(icb20k / "truth" / "ae_attendances_per_person.parquet")
    counts = dict(zip(ae["nhs_number"].to_pylist(), ae["attendances"].to_pylist(), strict=True))
    planted = persons.filter(persons["frequent_attender_planted"])["nhs_number"].to_pylist()
    assert len(planted) > 20
    assert np.median([counts.get(n, 0) for n in planted]) >= 15  # 6-24 a year over 3 years
    spells = pq.read_table(icb20k / "truth" / "spells.parquet")
    idx = spells.filter(spells["is_index_emergency"])
    readm = spells.filter(spells["is_readmission"]).num_rows
    expected = float(pc.sum(idx["readmission_probability"]).as_py())
    assert abs(readm - expected) < 4 * np.sqrt(expected)
    assert spells.filter(pc.not_equal(spells["acsc"], "")).num_rows > 100
    assert spells.filter(pc.not_equal(spells["ebi_intervention"], "")).num_rows > 10
