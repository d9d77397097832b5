"""Planted truth: what the analytics should recover, written to ``DIR/truth/``.

``cips.parquet`` holds one row per true continuous inpatient stay and ``cips.json`` their count
and bed days (issue 13); ``resubmitted_episodes.parquet`` the episodes of the refreshed extract.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from phm.synth import model
from phm.synth.config import SynthConfig
from phm.synth.definitions import activity_sources, condition_ids, conditions
from phm.synth.population import Population


class TruthWriter:
    def __init__(self, cfg: SynthConfig, pop: Population, directory: Path) -> None:
        self.cfg, self.pop, self.dir = cfg, pop, Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.parts: dict[str, list[pa.Table]] = {}

    def chunk_truth(self, ch, spells: pa.Table, stats: dict, lam_ae, frequent, tables) -> dict[str, pa.Table]:
        cfg = self.cfg
        bounds = np.asarray(cfg.fy_bounds())
        K = cfg.years
        start, length = ch.exposure
        lam_em = stats["lam_em"]
        p_r = stats["p_readmit"]
        lam_index = lam_em / (1 + p_r[:, None])
        # Emergency admissions observed (admission method 2x) per person-year, and the
        # extra planted spells (terminal / death within 30 days) which are part of the expectation.
        person = stats["spell_person"]
        fy = np.searchsorted(bounds, stats["spell_adm"], side="right") - 1
        emerg = np.char.startswith(stats["spell_method"].astype(str), "2")
        observed = np.zeros((ch.n, K), np.int32)
        extra = np.zeros((ch.n, K), np.int32)
        np.add.at(observed, (person[emerg], fy[emerg]), 1)
        ex = emerg & stats["spell_extra"]
        np.add.at(extra, (person[ex], fy[ex]), 1)
        n = ch.n
        expected = lam_em * length / 365.25 + extra
        labels = np.asarray(cfg.fy_labels(), dtype=object)
        person_year = pa.table({
            "nhs_number": ch.nhs_str.take(pa.array(np.repeat(np.arange(n), K))),
            "year": pa.array(np.tile(labels, n), pa.string()),
            "age_at_year_start": pa.array((ch.age0[:, None] + np.arange(K)[None, :]).ravel().astype(np.int16)),
            "imd_decile": pa.array(np.repeat(ch.decile, K).astype(np.int8)),
            "exposure_days": pa.array(length.ravel().astype(np.int32)),
            "emergency_rate_index": pa.array(lam_index.ravel()),
            "emergency_rate_total": pa.array(lam_em.ravel()),
            "p_emergency_admission_12m": pa.array((1 - np.exp(-lam_index)).ravel()),
            "expected_emergency_admissions": pa.array(expected.ravel()),
            "observed_emergency_admissions": pa.array(observed.ravel()),
            "ae_rate": pa.array(lam_ae.ravel()),
        })
        ids = condition_ids()
        persons = {
            "nhs_number": ch.nhs_str, "age_at_start": pa.array(ch.age0.astype(np.int16)),
            "sex": pa.array(np.where(ch.male, "1", "2")), "imd_decile": pa.array(ch.decile.astype(np.int8)),
            "frailty": pa.array(ch.frailty), "frequent_attender_planted": pa.array(frequent),
            "died": pa.array(ch.death_day >= 0),
            "death_place": pa.array(ch.death_place.astype(str)),
            "exposure_days": pa.array(length.sum(axis=1).astype(np.int32)),
        }
        for j, cid in enumerate(ids):
            persons[cid] = pa.array(ch.cond[:, j])
            persons[f"p_{cid}"] = pa.array(ch.cond_prob[:, j])
        ae = tables["ecds_attendances"]
        return {"person_year": person_year, "persons": pa.table(persons), "spells": spells, "cips": stats["cips"],
                "ae_counts": ae.group_by("nhs_number").aggregate([("attendance_id", "count")]),
                "ebi_expected": self._ebi_expected(stats["ebi_planted"])}

    def _ebi_expected(self, eb: dict) -> pa.Table:
        """The planted chance of each EBI intervention summed over the elective stays an EBI
        indicator can count (finished, person without a cancer diagnosis; the groups' ages are
        within the rules'), by trust, financial year and intervention: ``expected`` is the
        planted number of such procedures, ``stays`` the stays it is summed over."""
        fy = np.searchsorted(np.asarray(self.cfg.fy_bounds()), eb["adm"], side="right") - 1
        ok = ~eb["open"] & ~eb["cancer"] & (fy >= 0) & (fy < self.cfg.years)
        labels = self.cfg.fy_labels()
        out = {"provider_code": [], "year": [], "intervention": [], "expected": [], "stays": []}
        for code in sorted(set(eb["provider"][ok].tolist())):
            for k in range(self.cfg.years):
                m = ok & (eb["provider"] == code) & (fy == k)
                if not m.any():
                    continue
                sums = eb["p"][m].sum(axis=0)
                for name, e in zip(eb["intervention"], sums.tolist(), strict=True):
                    for c, v in (("provider_code", code), ("year", labels[k]), ("intervention", name),
                                 ("expected", e), ("stays", int(m.sum()))):
                        out[c].append(v)
        return pa.table({"provider_code": pa.array(out["provider_code"], pa.string()),
                         "year": pa.array(out["year"], pa.string()),
                         "intervention": pa.array(out["intervention"], pa.string()),
                         "expected": pa.array(out["expected"], pa.float64()),
                         "stays": pa.array(out["stays"], pa.int64())})

    def add(self, parts: dict[str, pa.Table]) -> None:
        for k, v in parts.items():
            self.parts.setdefault(k, []).append(v)

    def _write(self, name: str) -> pa.Table:
        table = pa.concat_tables(self.parts[name])
        pq.write_table(table, self.dir / f"{name}.parquet", compression="zstd")
        return table

    def finish(self, defects: dict, calibration_extra: dict) -> None:
        persons = self._write("persons")
        py = self._write("person_year")
        spells = self._write("spells")
        cips = self._write("cips")
        if "resubmitted_episodes" in self.parts:
            self._write("resubmitted_episodes")
        ae = pa.concat_tables(self.parts["ae_counts"])
        # Frequent attenders: planted people and everyone with 5+ attendances in the window.
        fa = ae.rename_columns(["nhs_number", "attendances"])
        pq.write_table(fa.sort_by("nhs_number"), self.dir / "ae_attendances_per_person.parquet")
        self._json("defects.json", defects)
        self._json("cips.json", self._cips_summary(cips))
        self._json("calibration.json", {**self._calibration(persons), **calibration_extra})
        self._json("deprivation_gradient.json", self._gradient(py))
        self._json("readmission_by_provider.json", self._readmission(spells))
        self._json("mortality_by_provider.json", self._mortality(spells))
        self._json("ebi_by_provider.json", self._ebi(self._write("ebi_expected"), spells))

    @staticmethod
    def _cips_summary(cips: pa.Table) -> dict:
        """The true continuous inpatient spells the model must recover: every stay with a finished
        episode (regular attendances one each), and the bed days of the closed ones."""
        closed = cips.filter(pc.is_valid(cips["discharge_date"]))
        return {
            "continuous_inpatient_spells": cips.num_rows,
            "closed": closed.num_rows,
            "open_at_extract": cips.num_rows - closed.num_rows,
            "bed_days": int(pc.sum(closed["los_days"]).as_py() or 0),
            "regular_attendances": int(pc.sum(cips["regular_attender"]).as_py() or 0),
            "with_transfers": int(pc.sum(pc.greater(cips["provider_spells"], 1)).as_py() or 0),
        }

    def _json(self, name: str, obj) -> None:
        (self.dir / name).write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")

    def _calibration(self, persons: pa.Table) -> dict:
        age = persons["age_at_start"].to_numpy()
        out = {}
        for c in conditions():
            denom = age >= c.denominator_min_age
            has = persons[c.id].to_numpy(zero_copy_only=False)[denom]
            p = persons[f"p_{c.id}"].to_numpy()[denom]
            out[c.id] = {
                "national_target": c.target_prevalence, "target_source": c.target_source,
                "target_confidence": c.target_confidence,
                "denominator_min_age": c.denominator_min_age,
                "model_national_prevalence": model.model_national_prevalence(c.id),
                "icb_expected_prevalence": float(p.mean()) if p.size else 0.0,
                "icb_expected_sd": float(np.sqrt((p * (1 - p)).sum()) / max(p.size, 1)),
                "icb_observed_prevalence": float(has.mean()) if has.size else 0.0,
                "denominator": int(denom.sum()), "register": int(has.sum()),
            }
        return {"conditions": out, "activity_targets": activity_sources(),
                "base_rates": self.pop.base, "death_base_hazard": self.pop.death_base}

    @staticmethod
    def _readmission(spells: pa.Table) -> dict:
        """Planted 30-day readmission (issue 18) by the trust of the index emergency stay: the
        odds ratio planted there (``providers.csv``), the index stays and their mean planted
        probability, and how many were readmitted by the plant (a further emergency admission
        by chance is not counted here: the indicator counts it too)."""
        from phm.synth.definitions import providers

        odds = {r["provider_code"]: float(r.get("readmission_odds_ratio") or 1.0) for r in providers()}
        idx = spells.filter(spells["is_index_emergency"])
        prov = idx["provider_code"].to_numpy(zero_copy_only=False)
        p = idx["readmission_probability"].to_numpy()
        out = {}
        for code in sorted(set(prov.tolist())):
            m = prov == code
            out[code] = {"planted_odds_ratio": odds.get(code, 1.0), "index_emergency_stays": int(m.sum()),
                         "mean_planted_probability": float(p[m].mean())}
        return {"by_provider": out, "readmissions_planted": int(pc.sum(spells["is_readmission"]).as_py() or 0)}

    @staticmethod
    def _mortality(spells: pa.Table) -> dict:
        """Planted excess mortality after discharge (issue 18, SHMI) by trust: the multiplier
        planted there (``providers.csv`` ``post_discharge_death_multiplier``), the stays ending in
        death (terminal), the stays discharged in the 30 days before a death elsewhere, and how
        many of those the plant added (their number times ``1 - 1/multiplier``, in expectation)."""
        from phm.synth.definitions import providers
        from phm.synth.hospital import POST_DEATH_SHARE

        mult = {r["provider_code"]: float(r.get("post_discharge_death_multiplier") or 1.0) for r in providers()
                if r["role"] in ("acute", "acute_out_of_area")}
        prov = spells["provider_code"].to_numpy(zero_copy_only=False)
        term = spells["is_terminal"].to_numpy(zero_copy_only=False)
        post = spells["is_death_within_30_days"].to_numpy(zero_copy_only=False)
        out = {}
        for code in sorted(set(prov.tolist())):
            m = prov == code
            k = mult.get(code, 1.0)
            out[code] = {"planted_multiplier": k, "stays": int(m.sum()), "died_in_hospital": int(term[m].sum()),
                         "died_within_30_days_of_discharge": int(post[m].sum()),
                         "planted_excess_deaths": float(post[m].sum() * (1 - 1 / k))}
        return {"by_provider": out, "post_death_share": POST_DEATH_SHARE,
                "planted": sorted(c for c, v in out.items() if v["planted_multiplier"] > 1)}

    @staticmethod
    def _ebi(expected: pa.Table, spells: pa.Table) -> dict:
        """Planted Evidence-Based Interventions (issue 18) by trust: the multiplier planted on the
        EBI groups' weight (``providers.csv`` ``ebi_multiplier``), the countable elective stays
        (summed over years), the planted expected number of each intervention among them
        (``ebi_expected.parquet`` has it by year) and the stays labelled with it."""
        from phm.synth.definitions import providers

        mult = {r["provider_code"]: float(r.get("ebi_multiplier") or 1.0) for r in providers()
                if r["role"] in ("acute", "acute_out_of_area")}
        e = expected.group_by(["provider_code", "intervention"]).aggregate([("expected", "sum")]).to_pylist()
        stays = {(r["provider_code"], r["year"]): r["stays"] for r in expected.select(
            ["provider_code", "year", "stays"]).to_pylist()}
        lab = spells.filter(pc.not_equal(spells["ebi_intervention"], "")).group_by(
            ["provider_code", "ebi_intervention"]).aggregate([("spell_id", "count")]).to_pylist()
        labelled = {(r["provider_code"], r["ebi_intervention"]): r["spell_id_count"] for r in lab}
        out: dict[str, dict] = {}
        for r in sorted(e, key=lambda r: (r["provider_code"], r["intervention"])):
            code = r["provider_code"]
            o = out.setdefault(code, {"planted_multiplier": mult.get(code, 1.0), "by_intervention": {},
                                      "countable_elective_stays": sum(v for (c, _), v in stays.items() if c == code)})
            o["by_intervention"][r["intervention"]] = {
                "expected": round(r["expected_sum"], 3), "labelled": labelled.get((code, r["intervention"]), 0)}
        for o in out.values():
            o["expected"] = round(sum(v["expected"] for v in o["by_intervention"].values()), 3)
        return {"by_provider": out, "planted": sorted(c for c, v in out.items() if v["planted_multiplier"] != 1)}

    def _gradient(self, py: pa.Table) -> dict:
        dec = py["imd_decile"].to_numpy()
        exp = py["expected_emergency_admissions"].to_numpy()
        obs = py["observed_emergency_admissions"].to_numpy()
        days = py["exposure_days"].to_numpy()
        out = {"conditional_rate_ratio_decile1_vs_decile10": model.DEPRIVATION_RATIO["emergency"], "by_decile": {}}
        for d in range(1, 11):
            m = dec == d
            if m.any():
                py_years = days[m].sum() / 365.25
                out["by_decile"][str(d)] = {"person_years": float(py_years), "expected": float(exp[m].sum()),
                                            "observed": int(obs[m].sum()),
                                            "expected_rate_per_1000": float(1000 * exp[m].sum() / py_years)}
        b = out["by_decile"]
        if "1" in b and "10" in b:
            out["planted_crude_ratio_decile1_vs_decile10"] = b["1"]["expected_rate_per_1000"] / b["10"]["expected_rate_per_1000"]
        return out
