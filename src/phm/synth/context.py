"""What every setting's generator shares: the person chunk, providers, costs, events."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from phm.synth import model
from phm.synth.config import SynthConfig
from phm.synth.definitions import condition_ids, providers
from phm.synth.population import Population, dates_from_days, identifiers

SETTING_DEFAULT_COSTS = {  # used only where no NCC unit cost applies (documented)
    "apc": 1500.0, "op": 160.0, "ecds": 300.0, "community": 80.0, "mh": 280.0, "gp": 42.0,
}


@dataclass
class Chunk:
    """A slice of persons [lo, hi) whose activity is generated together."""

    cfg: SynthConfig
    pop: Population
    lo: int
    hi: int
    index: int

    def __getattr__(self, name: str) -> np.ndarray:  # pop arrays, sliced
        value = getattr(self.pop, name)
        return value[self.lo : self.hi]

    @property
    def n(self) -> int:
        return self.hi - self.lo

    @cached_property
    def nhs_str(self) -> pa.Array:
        """The person identifier each feed carries (NHS number or supplier pseudonym)."""
        return identifiers(self.cfg, self.pop.nhs[self.lo : self.hi])

    @cached_property
    def practice_codes(self) -> pa.Array:
        codes = self.pop.practices["practice_code"].combine_chunks()
        return codes.take(pa.array(self.pop.practice[self.lo : self.hi]))

    @cached_property
    def lsoa_str(self) -> pa.Array:
        codes = self.pop.lsoa_codes["lsoa21_code"].combine_chunks()
        return codes.take(pa.array(self.pop.lsoa[self.lo : self.hi]))

    @cached_property
    def lad(self) -> np.ndarray:
        lad = np.asarray(self.pop.lsoa_codes["ltla24_code"].to_pylist(), dtype=object)
        return lad[self.pop.lsoa[self.lo : self.hi]]

    @cached_property
    def exposure(self) -> tuple[np.ndarray, np.ndarray]:
        """Start day and length in days of each person's exposure in each year (n, K)."""
        b = np.asarray(self.cfg.fy_bounds())
        start = np.maximum(self.t0[:, None], b[None, :-1])
        end = np.minimum(self.t1[:, None], b[None, 1:])
        return start, np.clip(end - start, 0, None)

    def ages_by_year(self) -> np.ndarray:
        return self.age0[:, None].astype(float) + np.arange(self.cfg.years)[None, :]

    def rate(self, setting: str) -> np.ndarray:
        """Annual rate per person per year (n, K) for a setting."""
        ages = self.ages_by_year()
        out = np.empty_like(ages)
        for k in range(ages.shape[1]):
            out[:, k] = self.pop.base[setting] * model.relative_rate(
                setting, ages[:, k], self.male, self.decile, self.cond, self.frailty
            )
        return out

    def events(self, rng: np.random.Generator, annual_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Poisson events over each person's exposure: (local person index, day)."""
        start, length = self.exposure
        counts = rng.poisson(annual_rate * length / 365.25)
        flat = counts.ravel()
        cell = np.repeat(np.arange(flat.size), flat)
        k = start.shape[1]
        person = cell // k
        day = start.ravel()[cell] + (rng.random(cell.size) * length.ravel()[cell]).astype(np.int64)
        order = np.lexsort((day, person))
        return person[order], day[order]

    def date(self, days: np.ndarray) -> pa.Array:
        return dates_from_days(self.cfg.start, days)

    def cond_col(self, condition: str) -> np.ndarray:
        return self.cond[:, condition_ids().index(condition)]


class Providers:
    """The ICB's providers by role, with each person's home acute and community trust."""

    def __init__(self, icb: str, own_codes: bool = False) -> None:
        rows = [r for r in providers() if r["icb"] == icb]
        if not rows:  # an ICB without a provider table: synthetic, clearly non-real codes
            # (in a region each such ICB gets its own, e.g. QHMA1, so two ICBs never share a trust)
            code = (lambda c: icb + c[2] + c[4]) if own_codes else (lambda c: c)
            rows = [
                {"provider_code": code("SYA01"), "role": "acute", "lad_codes": "", "share": "0.9", "plics": "1"},
                {"provider_code": code("SYA02"), "role": "acute_out_of_area", "lad_codes": "", "share": "0.1", "plics": "0"},
                {"provider_code": code("SYM01"), "role": "mental_health", "lad_codes": "", "share": "1", "plics": "0"},
                {"provider_code": code("SYC01"), "role": "community", "lad_codes": "", "share": "1", "plics": "0"},
            ]
        self.rows = rows
        self.acute = [r["provider_code"] for r in rows if r["role"] == "acute"]
        self.out_of_area = [r["provider_code"] for r in rows if r["role"] == "acute_out_of_area"]
        self.mental_health = next(r["provider_code"] for r in rows if r["role"] == "mental_health")
        self.community = [r for r in rows if r["role"] == "community"]
        self.plics = {r["provider_code"] for r in rows if r.get("plics") == "1"}
        self.all_acute = self.acute + self.out_of_area
        # planted (issue 18): odds ratio of a 30-day readmission after an emergency stay here
        self.readmission_odds = {r["provider_code"]: float(r.get("readmission_odds_ratio") or 1.0)
                                 for r in rows if r["role"] in ("acute", "acute_out_of_area")}
        # planted (issue 18): how much more often someone who dies outside hospital was discharged
        # from here in the 30 days before (an excess in mortality after discharge; SHMI must find it)
        self.post_death_multiplier = {r["provider_code"]: float(r.get("post_discharge_death_multiplier") or 1.0)
                                      for r in rows if r["role"] in ("acute", "acute_out_of_area")}
        # planted (issue 18): how much more weight the Evidence-Based Interventions (low-priority)
        # groups get in the elective case mix here
        self.ebi_multiplier = {r["provider_code"]: float(r.get("ebi_multiplier") or 1.0)
                               for r in rows if r["role"] in ("acute", "acute_out_of_area")}

    def home(self, lads: np.ndarray, role_rows: list[dict[str, str]]) -> np.ndarray:
        out = np.full(lads.shape[0], role_rows[0]["provider_code"], dtype=object)
        for r in role_rows:
            for lad in filter(None, r["lad_codes"].split("|")):
                out[lads == lad] = r["provider_code"]
        return out

    def acute_for(self, rng, lads: np.ndarray, person: np.ndarray) -> np.ndarray:
        """Home acute trust 90% of the time; otherwise another acute or out of area."""
        home = self.home(lads, [r for r in self.rows if r["role"] == "acute"])[person]
        other = np.asarray(self.all_acute, dtype=object)[rng.integers(0, len(self.all_acute), person.size)]
        return np.where(rng.random(person.size) < 0.9, home, other)


class Costs:
    """NCC 2024/25 unit costs by department (point of delivery) and currency/HRG."""

    DEPARTMENTS = {
        "NEL": "Non-Elective Inpatient - Long Stay", "NES": "Non-Elective Inpatient - Short Stay",
        "EL": "Elective Inpatients", "DC": "Daycase", "AE": "Emergency Care",
        "RDN": "Regular Day or Night Admissions",
        "CHS": "Community Health Service", "MH": "Mental Health Care Contact",
    }

    def __init__(self) -> None:
        from phm.refdata import ncc_unit_costs

        t = ncc_unit_costs()
        self.unit: dict[tuple[str, str], float] = {}
        self.by_root: dict[tuple[str, str], list[str]] = {}
        for dept, code, cost in zip(t["department_code"].to_pylist(), t["currency_code"].to_pylist(),
                                    t["unit_cost"].to_pylist(), strict=True):
            if cost is None or cost != cost:
                continue
            self.unit[(dept, code)] = float(cost)
            if len(code) == 5:
                self.by_root.setdefault((dept, code[:4]), []).append(code)
        for v in self.by_root.values():
            v.sort()

    def hrg(self, pod: str, root: str, n_ltc: np.ndarray) -> np.ndarray:
        """An HRG of ``root`` costed at ``pod``; each long-term condition one CC band higher (earlier letter)."""
        codes = self.by_root.get((self.DEPARTMENTS[pod], root))
        if not codes:
            codes = self.by_root.get((self.DEPARTMENTS["NEL"], root)) or [root + "Z"]
        idx = np.clip(len(codes) - 1 - n_ltc, 0, len(codes) - 1)
        return np.asarray(codes, dtype=object)[idx]

    def unit_cost(self, pod: np.ndarray, hrg: np.ndarray, default: float) -> np.ndarray:
        keys = list(zip((self.DEPARTMENTS[p] for p in pod), hrg, strict=True))
        return np.array([self.unit.get(k, default) for k in keys])
