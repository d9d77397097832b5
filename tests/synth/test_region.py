"""``phm synth --icb A,B,C`` (or a region code) writes several ICBs into one extract (issue 17,
part 2): each ICB's people registered with its own practices and living in its own LSOAs, in
proportion to the ICBs' published registered populations, with one number space and one
record-identifier space for the whole extract."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from phm.errors import UserError
from phm.refdata import icb_lsoas, icb_practices, practices
from phm.synth.config import SynthConfig
from phm_testing import synth

ICBS = ("QWU", "QHM", "QE1")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("region"), "--persons", "3000", "--years", "1", "--seed", "2",
                 "--icb", ",".join(ICBS))


def test_persons_are_shared_by_registered_population(region):
    m = json.loads((region / "manifest.json").read_text())
    sizes = m["icbs"]
    assert list(sizes) == sorted(ICBS) and sum(sizes.values()) == 3000  # json sorts the keys
    pop = {c: float(np.nansum(icb_practices(c)["registered_population"].to_numpy(zero_copy_only=False))) for c in ICBS}
    for c in ICBS:  # largest remainder: within one person of the exact share
        assert abs(sizes[c] - 3000 * pop[c] / sum(pop.values())) < 1
    assert m["config"]["icb"] == "QWU,QHM,QE1"


def test_each_icbs_people_are_registered_and_live_in_that_icb(region):
    from phm.codes import is_valid_nhs_number

    p = pq.read_table(region / "patients.parquet").to_pylist()
    real = [r for r in p if r["nhs_number"] and is_valid_nhs_number(r["nhs_number"])]  # not the planted ghosts
    icb_of_practice = dict(zip(practices()["practice_code"].to_pylist(), practices()["icb_code"].to_pylist(), strict=True))
    lsoas = {c: set(icb_lsoas(c)["lsoa21_code"].to_pylist()) for c in ICBS}
    planted_bad = {None, "E0100000", "E01099999"}  # lsoa_missing / lsoa_invalid
    counts = dict.fromkeys(ICBS, 0)
    for r in real:
        c = icb_of_practice[r["practice_code"]]
        counts[c] += 1
        assert r["lsoa"] in lsoas[c] or r["lsoa"] in planted_bad, (c, r["lsoa"])
    assert counts == json.loads((region / "manifest.json").read_text())["icbs"]


def test_one_number_space_and_one_record_space(region):
    p = pq.read_table(region / "patients.parquet")
    numbers = [x for x in p["nhs_number"].to_pylist() if x and len(x) == 10 and x != "9999999999"]
    assert len(set(numbers)) > 2990  # ghosts repeat a few real people's rows with bad numbers
    for name, key in (("op_attendances", "attendance_id"), ("ecds_attendances", "attendance_id"),
                      ("deaths", "death_registration_id")):
        t = pq.read_table(region / f"{name}.parquet")
        ids = t[key].to_pylist()
        dup_rows = len(ids) - len(set(ids))
        assert dup_rows < 0.01 * len(ids), name  # only the planted exact and near duplicates repeat
    ecds = pq.read_table(region / "ecds_attendances.parquet")
    providers = set(pc.unique(ecds["provider_code"]).to_pylist())
    assert {"QHMA1", "QE1A1"} <= providers and "SYA01" not in providers  # each ICB its own trusts


def test_a_region_code_means_its_icbs(tmp_path):
    kw = dict(persons=1000, years=1, start="2022-04", seed=1, fmt="parquet", defects="none", out=tmp_path, force=False)
    midlands = sorted(set(practices().filter(pc.equal(practices()["region_code"], "Y60"))["icb_code"].to_pylist()))
    assert SynthConfig.from_cli(icb="Y60", **kw).icbs == tuple(midlands) and len(midlands) == 11
    assert SynthConfig.from_cli(icb="qwu, QHM,QWU", **kw).icbs == ("QWU", "QHM")
    with pytest.raises(UserError, match="unknown ICB code"):
        SynthConfig.from_cli(icb="QWU,XXX", **kw)
