"""What the peer scripts share: the inputs an analyst would be handed with the extracts.

The peers (:mod:`pandas_peer`, :mod:`polars_peer`) compute phm's core outputs from the raw
parquet ICB with one dataframe library each. They are benchmarks, not part of phm: they
show what an analyst's script doing the same core work costs, so that ``make bench`` can
print phm's ratio to it. Like an analyst, they are handed the lookup tables and constants
(unit costs, programme maps, code lists, price index, registers, the pseudonymisation key);
this module reads those from phm's shipped reference data, so both sides price and place
every contact from the same tables. Everything a peer *computes* (spells, costs, programme
placement, person-years, registers, prevalence) is its own code.

The outputs, one parquet file each in the output folder (:data:`OUTPUTS`), are compared
with phm's marts by :mod:`check`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
from pathlib import Path

import pyarrow as pa

from phm.model.spells import FIRST_EPISODE

OUTPUTS = {
    # the person spine: every registered person, users of services or not
    "person": ["person_id", "sex", "date_of_birth", "date_of_death", "practice_code"],
    # continuous inpatient spells (NHS Digital method, as phm.model.spells)
    "spells": [
        "cips_id",
        "person_id",
        "admission_date",
        "discharge_date",
        "provider_spells",
        "emergency",
        "cost",
        "fy",
    ],
    # person x financial year: exposure, counts and ICB cost by setting and programme of care
    "person_year": None,  # columns: person_year_columns()
    # recorded prevalence by practice in the last year, with 95% Wilson limits
    "prevalence": [
        "practice_code",
        "condition",
        "register",
        "denominator",
        "prevalence",
        "lower",
        "upper",
    ],
}
# the episode columns the peers read, and those a provider spell takes from its first episode
# (phm.model.spells.FIRST_EPISODE: the method, not code the peers share)
DIAGNOSES = [f"diag_{i:02d}" for i in range(1, 21)]
SPELL_HEAD = [*FIRST_EPISODE, "practice_code", *DIAGNOSES]
EPISODE_COLUMNS = [
    "episode_id",
    "provider_code",
    "spell_id",
    "episode_order",
    "admission_date",
    "discharge_date",
    "episode_start",
    "episode_end",
    "discharge_method",
    "discharge_destination",
    "episode_status",
    "hrg_code",
    "cost",
    *SPELL_HEAD,
]
EPISODE_DATES = ("admission_date", "discharge_date", "episode_start", "episode_end")
# what the peers read of each other dataset: (columns, activity dates: null after the extract date)
READS = {
    "patients": (
        [
            "sex",
            "date_of_birth",
            "practice_code",
            "registration_start",
            "registration_end",
            "date_of_death",
        ],
        (),
    ),
    "deaths": (["date_of_death"], ("date_of_death",)),
    "op_attendances": (
        [
            "appointment_date",
            "treatment_function_code",
            "first_attendance",
            "attendance_status",
            "hrg_code",
            "cost",
        ],
        ("appointment_date",),
    ),
    "mh_contacts": (
        ["contact_date", "team_type", "contact_type", "inpatient", "cost"],
        ("contact_date",),
    ),
    "gp_appointments": (
        ["appointment_date", "hcp_type", "appointment_mode", "appointment_status"],
        ("appointment_date",),
    ),
    "prescriptions": (["month", "bnf_code", "items", "net_ingredient_cost"], ("month",)),
    "social_care": (["service_id", "service_type", "start_date", "end_date", "weekly_cost"], ()),
}
SETTINGS = ("apc", "op", "ecds", "community", "mh", "gp", "prescribing", "social_care")
Z95 = 1.959963984540054


def person_year_columns() -> list[str]:
    return [
        "person_id",
        "fy",
        "exposure_days",
        *[f"n_{s}" for s in SETTINGS],
        *[f"cost_{s}" for s in SETTINGS],
        *[f"cost_prog_{p}" for p in programme_ids()],
        "cost_total",
        "cost_nhse",
        "cost_private",
        "emergency_admissions",
    ]


def programme_ids() -> list[str]:
    from phm.model import definitions

    return definitions.programmes()["id"].to_pylist()


def condition_ids() -> list[str]:
    from phm import refdata

    return [c.id for c in refdata.conditions()]


class Inputs:
    """The extract folder's window and the lookup tables, as Arrow tables and plain values."""

    def __init__(self, src: Path) -> None:
        from phm.model import costing, funding, programme, registers
        from phm.model.common import Window
        from phm.model.refs import reference_tables

        manifest = json.loads((Path(src) / "manifest.json").read_text())
        self.src = Path(src)
        self.window = Window.ending(dt.date.fromisoformat(manifest["extract_date"]), 3)
        self.refs: dict[str, pa.Table] = reference_tables(self.window)
        self.key = os.environ["PHM_PSEUDO_KEY"].strip().encode()
        self.pod_unit_cost = {r["pod"]: r["pod_unit_cost"] for r in costing.ncc_pod_costs().to_pylist()}
        self.default_cost = {(r["setting"], r["pod"]): r["unit_cost"] for r in costing.setting_costs().to_pylist()}
        self.default_year = {r["setting"]: r["price_year"] for r in costing.setting_costs().to_pylist()}
        self.ncc_year = costing.NCC_PRICE_YEAR
        self.level = {y: costing.price_level(y) for y in range(2000, 2040)}  # None outside the index
        self.nhse = set(funding.nhse_commissioners())
        self.other_pbc, self.gms_pbc = programme.OTHER, programme.GMS
        self.programme_code = {r["id"]: r["code"] for r in _programmes()}
        self.registers = {r["condition"]: r for r in registers.register_definitions()}
        self.conditions = condition_ids()
        self.programmes = programme_ids()

    def path(self, dataset: str) -> Path:
        return self.src / f"{dataset}.parquet"

    def person_id(self, nhs_number: str | None) -> int | None:
        """phm's pseudonym of a valid NHS number (keyed HMAC-SHA256, first 64 bits), else None."""
        if nhs_number is None or not valid_nhs_number(nhs_number):
            return None
        d = hmac.digest(self.key, nhs_number.encode("ascii"), "sha256")
        return int.from_bytes(d[:8], "big", signed=True)

    def restate_factor(self, price_year: int | None, fy: int | None) -> float | None:
        """Prices of ``price_year`` restated to the year ``fy`` (None: leave the cost as it is)."""
        if price_year is None:
            return None
        base = self.level.get(price_year)
        level = self.year_level(fy)
        return 1.0 if base is None or level is None else level / base

    def year_level(self, fy: int | None) -> float | None:
        """The price level of a year of the window (1.0 where the index has no figure), else None."""
        if fy not in self.window.years:
            return None
        level = self.level.get(fy)
        return 1.0 if level is None else level


def _programmes() -> list[dict]:
    from phm.model import definitions

    return definitions.programmes().to_pylist()


def valid_nhs_number(s: str) -> bool:
    """Ten digits, not all the same, with a valid modulus 11 check digit."""
    if len(s) != 10 or not s.isdigit() or len(set(s)) == 1:
        return False
    total = sum(int(c) * (10 - i) for i, c in enumerate(s[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(s[9])
