"""Who pays for a contact: the ICB, NHS England, or nobody in the NHS (a private patient).

- **private**: administrative category 02 (private patient; NHS Data Dictionary, ADMINISTRATIVE
  CATEGORY CODE) or commissioner ``VPP00`` (the Data Dictionary's default commissioner code
  for private patients and overseas visitors liable to charge). Not NHS spend.
- **nhse**: the commissioner is NHS England: one of its commissioning hub codes (specialised
  and directly commissioned services; NHS Data Dictionary, ORGANISATION CODE (CODE OF
  COMMISSIONER): "one of the Specialised Commissioning Hub ORGANISATION CODES should be used"),
  or ``YDD82`` (funded directly by the National Commissioning Group). Which codes are hubs is
  data: ``definitions/nhse_commissioners.csv`` (the 13x/14x ODS codes; the full list is
  published by ODS as "Provider to commissioning hub mapping" and is UNVERIFIED here; a code
  outside it counts as ICB-commissioned; ``phm build`` prints the NHS England share).
- **icb**: anything else, including a missing commissioner (the ICB is the default responsible
  commissioner under NHS England's "Who Pays?").

Activity keeps every row whoever pays; spend tables report ICB-commissioned spend, with NHS
England-commissioned and private activity apart.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import ibis

FUNDERS = ("icb", "nhse", "private")
PRIVATE_COMMISSIONER = "VPP00"


@lru_cache(maxsize=1)
def nhse_commissioners() -> tuple[str, ...]:
    """ODS codes of NHS England as commissioner (``definitions/nhse_commissioners.csv``)."""
    with resources.files("phm.model").joinpath("definitions/nhse_commissioners.csv").open(encoding="utf-8") as f:
        return tuple(sorted(r["code"] for r in csv.DictReader(f)))


def funder(administrative_category, commissioner_code):
    """``icb``, ``nhse`` or ``private`` from an (already 2-character) administrative category and
    a commissioner code (expressions)."""
    com = commissioner_code.upper()
    return ibis.cases(
        ((administrative_category == "02") | (com == PRIVATE_COMMISSIONER), "private"),
        (com.isin(nhse_commissioners()) | (com.substr(0, 3).isin(nhse_commissioners()) & (com.length() == 5)), "nhse"),
        else_="icb",
    )
