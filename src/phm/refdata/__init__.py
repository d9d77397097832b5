"""National reference data shipped with phm, with its provenance.

Every loader reads a file under ``phm/refdata/data/`` with explicit column types,
returns an immutable :class:`pyarrow.Table` and is cached (``functools.lru_cache``),
so repeated calls are free. :func:`provenance` lists, for every shipped file, its
source (repository@commit:path), publisher, licence, vintage and what was converted.
Rebuild the data with ``python -m phm.refdata._build <drop directory>``.

This layer imports only :mod:`phm.errors` (and, in future, :mod:`phm.codes`).
"""

from __future__ import annotations

from phm.refdata._provenance import Provenance, provenance
from phm.refdata.codelists import (
    Condition,
    bnf,
    condition_codelists,
    conditions,
    ethnic_categories,
    icd10,
    normalise_icd10,
    opcs4,
)
from phm.refdata.costs import hrg_trimpoints, ncc_unit_costs, pb_england_shares
from phm.refdata.deprivation import imd2019, imd2025, iod2019_population
from phm.refdata.geography import lsoa11_geography, lsoa11_to_lsoa21, lsoa21_icb, lsoa21_lad
from phm.refdata.icb import check_icb, icb_lsoas, icb_practices, icbs, known_icb_codes
from phm.refdata.population import (
    england_population_by_age,
    england_sex_by_broad_age,
    esp2013,
    lsoa21_population,
)
from phm.refdata.practices import practice_structures, practices
from phm.refdata.prevalence import england_prevalence

__all__ = [
    "Condition",
    "Provenance",
    "bnf",
    "check_icb",
    "condition_codelists",
    "conditions",
    "england_population_by_age",
    "england_prevalence",
    "england_sex_by_broad_age",
    "esp2013",
    "ethnic_categories",
    "hrg_trimpoints",
    "icb_lsoas",
    "icb_practices",
    "icbs",
    "icd10",
    "imd2019",
    "imd2025",
    "iod2019_population",
    "known_icb_codes",
    "lsoa11_geography",
    "lsoa11_to_lsoa21",
    "lsoa21_icb",
    "lsoa21_lad",
    "lsoa21_population",
    "ncc_unit_costs",
    "normalise_icd10",
    "opcs4",
    "pb_england_shares",
    "practice_structures",
    "practices",
    "provenance",
]
