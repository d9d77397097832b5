"""Populations and standard populations."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from phm.refdata._io import lookup, read_csv
from phm.refdata.deprivation import iod2019_population
from phm.refdata.geography import lsoa11_to_lsoa21, lsoa21_icb

S, F64 = pa.string(), pa.float64()

AGES_90_PLUS = 90  # single-year tables stop at 90, which means 90 and over


@lru_cache(maxsize=1)
def esp2013() -> pa.Table:
    """European Standard Population 2013: 19 five-year bands, 0-4 to 90+, total 100,000.

    Columns: ``age_band`` ("0-4" ... "90+"), ``age_lower`` (int16), ``esp2013`` (float64).
    Source: Eurostat ESP2013 via ukhsa-collaboration/PHEindicatormethods (``esp2013``).
    """
    return read_csv(
        "population/esp2013.csv", {"age_band": S, "age_lower": pa.int16(), "esp2013": F64}
    )


def _population20() -> pa.Table:
    ages = [str(a) for a in range(AGES_90_PLUS)] + ["90+"]
    types: dict[str, pa.DataType] = {"ltla21_code": S, "ltla21_name": S}
    types.update(dict.fromkeys(ages, F64))
    return read_csv("population/population20_ltla21.csv.gz", types)


@lru_cache(maxsize=1)
def england_population_by_age() -> pa.Table:
    """England resident population by single year of age, mid-2020 (91 rows).

    Columns: ``age`` (int16, 0..90 where 90 means 90 and over), ``persons`` (float64).
    The sum over the 309 English LTLAs (codes starting ``E``). Source: ONS mid-2020
    population estimates (persons) by LTLA 2021, via humaniverse/demographr
    (``population20_ltla21``). Mid-2020 predates the Census 2021 rebase.
    """
    table = _population20()
    england = table.filter(pc.starts_with(table["ltla21_code"], "E"))
    ages = list(range(AGES_90_PLUS + 1))
    names = [str(a) for a in range(AGES_90_PLUS)] + ["90+"]
    persons = [pc.sum(england[n]).as_py() for n in names]
    return pa.table(
        {"age": pa.array(ages, pa.int16()), "persons": pa.array(persons, F64)},
    )


@lru_cache(maxsize=1)
def england_sex_by_broad_age() -> pa.Table:
    """England Census 2021 population by sex and broad age group (8 rows).

    Columns: ``sex`` ("female" | "male"), ``age_group`` ("younger" | "working_age" |
    "older" | "total"), ``persons`` (float64): the sum over English LTLAs (codes
    starting ``E``). Source: ONS Census 2021 by LTLA 2021, via humaniverse/demographr
    (``age_gender21_ltla21_ew``).

    Caution: the source does not define its groups, and younger + working_age + older
    is only about 91% of the total. "younger" matches ages 0-15 and "working_age"
    16-64, but "older" is about 10% of the population, consistent with 65-74 rather
    than 65+. Use "total" for totals and treat "older" with care.
    """
    groups = ("younger", "working_age", "older")
    cols = ["ltla21_code", "total_females", "total_males"]
    cols += [f"{g}_{s}" for s in ("females", "males") for g in groups]
    types: dict[str, pa.DataType] = dict.fromkeys(cols, F64)
    types["ltla21_code"] = S
    table = read_csv("population/age_gender21_ltla21_ew.csv", types)
    england = table.filter(pc.starts_with(table["ltla21_code"], "E"))
    sex, group, persons = [], [], []
    for s in ("female", "male"):
        for g in (*groups, "total"):
            sex.append(s)
            group.append(g)
            persons.append(pc.sum(england[f"{g}_{s}s"]).as_py())
    return pa.table(
        {"sex": pa.array(sex, S), "age_group": pa.array(group, S), "persons": persons},
        schema=pa.schema([("sex", S), ("age_group", S), ("persons", F64)]),
    )


@lru_cache(maxsize=1)
def lsoa21_population() -> pa.Table:
    """Resident population estimate by LSOA 2021 (England, 33,755 rows).

    Columns: ``lsoa21_code``, ``population`` (float64; fractional where apportioned),
    in the order of :func:`phm.refdata.lsoa21_icb`.

    Source: derived here, as no LSOA21 population file was available: the IoD2019 population
    denominators (ONS mid-2015, excluding prisoners, by LSOA 2011) are carried to
    LSOA 2021 with the ONS LSOA11-to-LSOA21 lookup. Each LSOA11's population is divided
    equally among all of its lookup pairs, then summed per LSOA21. This gives:
    ``U`` (unchanged) copied; ``S`` (split) divided equally among the children;
    ``M`` (merged) summed; ``X`` (irregular) apportioned equally across all pairs.
    The England total is preserved exactly (54,728,204). Equal splitting
    ignores where people live within the old LSOA, and the vintage is mid-2015:
    good enough for weighting and shares, not for small-area counts.
    """
    t = lsoa21_denominators()
    return t.select(["lsoa21_code", "population"])


@lru_cache(maxsize=1)
def lsoa21_denominators() -> pa.Table:
    """The IoD2019 population denominators carried to LSOA 2021 as :func:`lsoa21_population`
    describes: ``lsoa21_code, population, population_0_15, population_60_plus`` (float64), in
    the order of :func:`phm.refdata.lsoa21_icb`."""
    columns = ("population", "population_0_15", "population_60_plus")
    pairs = lsoa11_to_lsoa21()
    pairs = pairs.filter(pc.starts_with(pairs["lsoa11_code"], "E"))
    pop = iod2019_population().select(["lsoa11_code", *columns])
    n_pairs = pc.cast(lookup(pairs["lsoa11_code"], pairs.group_by("lsoa11_code").aggregate(
        [("lsoa21_code", "count")]), "lsoa11_code")["lsoa21_code_count"], F64)
    src = lookup(pairs["lsoa11_code"], pop, "lsoa11_code")
    contrib = pa.table({"lsoa21_code": pairs["lsoa21_code"], **{c: pc.divide(src[c], n_pairs) for c in columns}})
    summed = contrib.group_by("lsoa21_code").aggregate([(c, "sum") for c in columns])
    order = lsoa21_icb()["lsoa21_code"]
    matched = lookup(order, summed, "lsoa21_code")
    if matched["population_sum"].null_count:
        raise RuntimeError("lsoa21_population: some English LSOA21s have no LSOA11 parent")
    return pa.table({"lsoa21_code": order, **{c: matched[f"{c}_sum"] for c in columns}})
