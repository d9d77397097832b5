"""Published characteristics of each ICB (and England), the inputs to similar-ICB peer groups.

One row per ICB (April 2024 boundaries, 42 rows) from data phm ships, each with its source:

- ``imd_score``: IMD 2025 average score (population-weighted mean of LSOA scores) and
  ``imd_most_deprived_10pc``: proportion of the ICB's LSOAs in England's most deprived 10%
  (MHCLG, English Indices of Deprivation 2025, ICB summaries);
- ``share_0_15`` and ``share_60_plus``: age structure, from the IoD2019 population
  denominators (ONS mid-2015, excluding prisoners) carried from LSOA 2011 to LSOA 2021 and
  summed to ICB (equal split of changed LSOAs, as :func:`phm.refdata.lsoa21_population`);
- ``need_index``: the ICB's weighted population over its registered population (NHS England
  ICB allocations 2025/26, Final WP / Population): above 1, more need per head than England;
- ``registered_population`` (same file) and ``region_code`` (NHS region).

Rurality is not here: no rural-urban classification is shipped (ONS RUC 2021 would be the
source), so peer groups do not use it. The age structure is the 2015 one: the newest
LSOA-level age file phm ships.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from phm.refdata._io import lookup, read_csv
from phm.refdata.deprivation import imd2025
from phm.refdata.geography import lsoa21_icb
from phm.refdata.icb import icbs
from phm.refdata.population import lsoa21_denominators
from phm.refdata.practices import practices

F64 = pa.float64()
S = pa.string()
#: the characteristics peer groups are chosen on (equal weights; see phm.analysis.peers)
PEER_VARIABLES = ("imd_score", "imd_most_deprived_10pc", "share_0_15", "share_60_plus", "need_index")


@lru_cache(maxsize=1)
def icb_characteristics() -> pa.Table:
    """One row per ICB, sorted by ODS code; columns as the module docstring says."""
    ref = icbs()
    imd = read_csv("deprivation/imd2025_england_icb24.csv",
                   {"icb24_code": S, "imd_average_score": F64,
                    "imd_proportion_of_lso_as_in_most_deprived_10_percent_nationally": F64})
    imd_row = lookup(ref["icb_code_ons"], imd, "icb24_code")
    age = lsoa21_denominators()  # in lsoa21_icb's order
    by_icb = pa.table({"icb": lsoa21_icb()["icb24_code_nhs"], "pop": age["population"],
                       "young": age["population_0_15"], "old": age["population_60_plus"]}).group_by("icb").aggregate(
        [("pop", "sum"), ("young", "sum"), ("old", "sum")])
    a = lookup(ref["icb_code"], by_icb, "icb")
    p = practices()
    alloc = p.group_by(["icb_code", "region_code"]).aggregate([("registered_population", "sum"), ("final_wp", "sum")])
    al = lookup(ref["icb_code"], alloc, "icb_code")
    return pa.table({
        "icb_code": ref["icb_code"], "icb_name": ref["icb_name"], "region_code": al["region_code"],
        "registered_population": al["registered_population_sum"],
        "imd_score": imd_row["imd_average_score"],
        "imd_most_deprived_10pc": imd_row["imd_proportion_of_lso_as_in_most_deprived_10_percent_nationally"],
        "share_0_15": pc.divide(a["young_sum"], a["pop_sum"]),
        "share_60_plus": pc.divide(a["old_sum"], a["pop_sum"]),
        "need_index": pc.divide(al["final_wp_sum"], al["registered_population_sum"]),
    })


@lru_cache(maxsize=1)
def england_characteristics() -> dict[str, float]:
    """The same measures for England as a whole (the national reference row)."""
    imd = imd2025()
    age = lsoa21_denominators()
    pop = lookup(imd["lsoa21_code"], age, "lsoa21_code")["population"]
    p = practices()
    deciles = imd["imd_decile"].to_numpy(zero_copy_only=False)
    return {
        "registered_population": float(pc.sum(p["registered_population"]).as_py()),
        "imd_score": float(pc.sum(pc.multiply(imd["imd_score"], pop)).as_py() / pc.sum(pop).as_py()),
        "imd_most_deprived_10pc": float((deciles == 1).mean()),
        "share_0_15": float(pc.sum(age["population_0_15"]).as_py() / pc.sum(age["population"]).as_py()),
        "share_60_plus": float(pc.sum(age["population_60_plus"]).as_py() / pc.sum(age["population"]).as_py()),
        "need_index": float(pc.sum(p["final_wp"]).as_py() / pc.sum(p["registered_population"]).as_py()),
    }
