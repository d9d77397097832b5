"""Admitted patient care: spells (emergency, elective, maternity) built into episodes.

Emergency admissions follow a Poisson process whose rate is the person's true
emergency rate; a share are readmissions within 30 days (the planted readmission
probability); people who die in hospital have a terminal spell; some spells are
transferred to another trust (continuous inpatient spell across providers).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from phm.synth import model
from phm.synth.context import SETTING_DEFAULT_COSTS, Chunk, Costs, Providers
from phm.synth.definitions import (
    activity_targets,
    choose_rows,
    condition_ids,
    conditions,
    elective_groups,
    emergency_groups,
    group_weights,
)

TRANSFER_SHARE = 0.03
UNGROUPABLE_SHARE = 0.01  # episodes with HRG UZ01Z: costed by the setting default
FERTILITY_KNOTS = ([15, 16, 20, 25, 30, 35, 40, 45, 46], [0, 0.01, 0.05, 0.08, 0.10, 0.07, 0.02, 0.003, 0])
N_DIAG = 6
N_OPER = 4


def _los(rng, age: np.ndarray, kind: str) -> np.ndarray:
    n = age.size
    if kind == "emergency":
        mean = 1.5 + np.asarray(age, float) / 12.0
        los = rng.geometric(1.0 / mean)
        return np.where(rng.random(n) < 0.3, 0, los)
    if kind == "ordinary":
        return rng.geometric(1.0 / 3.0, n)
    return rng.integers(0, 4, n)  # maternity


def generate(ch: Chunk, rng: np.random.Generator, prov: Providers, costs: Costs) -> tuple[pa.Table, pa.Table, dict]:
    cfg = ch.cfg
    W = cfg.window_days
    ltc = ch.cond.sum(axis=1)
    age_k = ch.ages_by_year()
    em_groups, el_groups = emergency_groups(), elective_groups()

    lam_em = ch.rate("emergency")
    p_readmit = model.readmission_probability(ch.age0, ltc)
    idx_p, idx_day = ch.events(rng, lam_em / (1.0 + p_readmit[:, None]))

    spells: list[dict[str, np.ndarray]] = []

    def add(person, adm, los, kind, method, group, flags: dict[str, np.ndarray] | None = None):
        n = person.size
        dis = np.minimum(adm + los, np.maximum(ch.t1[person] - 1, adm))
        dis = np.minimum(dis, W - 1)
        rec = {"person": person, "adm": adm, "dis": dis, "kind": np.full(n, kind, dtype=object),
               "method": method, "group": group, "terminal": np.zeros(n, bool),
               "post_death": np.zeros(n, bool), "readmission": np.zeros(n, bool),
               "index": np.zeros(n, bool), "p_readmit": np.full(n, np.nan)}
        rec.update(flags or {})
        spells.append(rec)
        return rec

    def em_group(person):
        w = group_weights(em_groups, ch.age0[person], ch.male[person], ch.cond[person])
        return choose_rows(rng, w)

    def em_method(n):
        return np.where(rng.random(n) < 0.7, "21", rng.choice(np.array(["22", "23", "24", "28"], dtype=object), n))

    # Index emergency admissions.
    idx = add(idx_p, idx_day, _los(rng, ch.age0[idx_p], "emergency"), "emergency",
              em_method(idx_p.size), em_group(idx_p), {"index": np.ones(idx_p.size, bool),
                                                       "p_readmit": p_readmit[idx_p]})
    # Readmissions within 1-29 days of an index discharge.
    back = rng.random(idx_p.size) < p_readmit[idx_p]
    r_p = idx_p[back]
    r_day = idx["dis"][back] + rng.integers(1, 30, r_p.size)
    keep = (r_day < ch.t1[r_p]) & (r_day < W)
    r_p, r_day = r_p[keep], r_day[keep]
    same = rng.random(r_p.size) < 0.5
    r_group = np.where(same, idx["group"][back][keep], em_group(r_p))
    add(r_p, r_day, _los(rng, ch.age0[r_p], "emergency"), "emergency", em_method(r_p.size), r_group,
        {"readmission": np.ones(r_p.size, bool)})

    # Deaths: in hospital (terminal spell) and within 30 days of discharge.
    died = np.flatnonzero(ch.death_day >= 0)
    in_hosp = died[ch.death_place[died] == "hospital"]
    los = 1 + rng.geometric(1 / 8.0, in_hosp.size)
    adm = np.maximum(ch.death_day[in_hosp] - los, ch.t0[in_hosp])
    term = add(in_hosp, adm, ch.death_day[in_hosp] - adm, "emergency", em_method(in_hosp.size),
               em_group(in_hosp), {"terminal": np.ones(in_hosp.size, bool)})
    term["dis"] = ch.death_day[in_hosp].astype(np.int64)
    other = died[(ch.death_place[died] != "hospital") & (rng.random(died.size) < 0.15)]
    dis = ch.death_day[other] - rng.integers(1, 30, other.size)
    los = _los(rng, ch.age0[other], "emergency")
    adm = dis - los
    ok = adm >= ch.t0[other]
    pdd = add(other[ok], adm[ok], los[ok], "emergency", em_method(int(ok.sum())), em_group(other[ok]),
              {"post_death": np.ones(int(ok.sum()), bool)})
    pdd["dis"] = dis[ok].astype(np.int64)

    # Elective admissions: day case or ordinary.
    el_p, el_day = ch.events(rng, ch.rate("elective"))
    g = choose_rows(rng, group_weights(el_groups, ch.age0[el_p], ch.male[el_p], ch.cond[el_p]))
    keep = g >= 0
    el_p, el_day, g = el_p[keep], el_day[keep], g[keep]
    dc_share = np.array([x.daycase_share for x in el_groups])[g]
    daycase = rng.random(g.size) < dc_share
    los = np.where(daycase, 0, _los(rng, ch.age0[el_p], "ordinary"))
    method = rng.choice(np.array(["11", "12", "13"], dtype=object), g.size, p=[0.7, 0.2, 0.1])
    el = add(el_p, el_day, los, "elective", method, g)
    el["daycase"] = daycase

    # Maternity: deliveries to women 16-45.
    fert = np.interp(age_k, *FERTILITY_KNOTS) * (~ch.male)[:, None]
    ages, persons = model.england_structure()
    eng = (persons * (1 - model.male_share(ages)) * np.interp(ages, *FERTILITY_KNOTS)).sum() / persons.sum()
    m_p, m_day = ch.events(rng, fert * activity_targets()["births"] / eng)
    add(m_p, m_day, _los(rng, ch.age0[m_p], "maternity"), "maternity",
        np.full(m_p.size, "31", dtype=object), rng.choice(3, m_p.size, p=[0.65, 0.2, 0.15]))

    s = {k: np.concatenate([r.get(k, np.zeros(r["person"].size, bool)) for r in spells]) for k in
         ("person", "adm", "dis", "kind", "method", "group", "terminal", "post_death", "readmission", "index", "p_readmit")}
    s["daycase"] = np.concatenate([r.get("daycase", np.zeros(r["person"].size, bool)) for r in spells])
    order = np.lexsort((s["adm"], s["person"]))
    s = {k: v[order] for k, v in s.items()}
    s["provider"] = prov.acute_for(rng, ch.lad, s["person"])
    episodes, truth, stats = _episodes(ch, rng, s, prov, costs, ltc)
    via = s["method"] == "21"
    stats["via_ae"] = (s["person"][via], s["adm"][via], s["provider"][via])
    return episodes, truth, stats


def _other_trust(rng, prov: Providers, current: np.ndarray) -> np.ndarray:
    """A receiving trust for a transfer: out of area if there is one, never the sending trust."""
    pool = np.asarray(prov.out_of_area + prov.acute, dtype=object)
    pick = pool[rng.integers(0, len(pool), current.size)]
    same = pick == current
    return np.where(same, pool[(np.searchsorted(pool, pick) + 1) % len(pool)] if len(pool) > 1 else pick, pick)


def _codes(kind, group, rng, em_groups, el_groups):
    """Primary diagnosis, procedure, HRG root, TFC, ACSC and EBI for each spell."""
    n = kind.size
    dx = np.empty(n, dtype=object)
    op = np.full(n, None, dtype=object)
    root = np.empty(n, dtype=object)
    tfc = np.empty(n, dtype=object)
    acsc = np.full(n, "", dtype=object)
    ebi = np.full(n, "", dtype=object)
    grp = np.empty(n, dtype=object)
    u = rng.random(n)
    for kname, groups in (("emergency", em_groups), ("elective", el_groups)):
        for j, g in enumerate(groups):
            m = (kind == kname) & (group == j)
            if not m.any():
                continue
            pick = (u[m] * len(g.icd10)).astype(int)
            dx[m] = np.asarray(g.icd10, dtype=object)[pick]
            if g.opcs4:
                op[m] = np.asarray(g.opcs4, dtype=object)[(u[m] * len(g.opcs4) * 7).astype(int) % len(g.opcs4)]
            root[m], tfc[m], acsc[m], ebi[m], grp[m] = g.hrg_root, g.tfc, g.acsc, g.ebi, g.id
    mat = kind == "maternity"
    mat_dx = np.array(["O800", "O821", "O820"], dtype=object)
    mat_op = np.array(["R249", "R182", "R179"], dtype=object)
    mat_root = np.array(["NZ30", "NZ50", "NZ50"], dtype=object)
    dx[mat], op[mat], root[mat] = mat_dx[group[mat]], mat_op[group[mat]], mat_root[group[mat]]
    tfc[mat], grp[mat] = "501", np.array(["normal_delivery", "emergency_caesarean", "elective_caesarean"], dtype=object)[group[mat]]
    return dx, op, root, tfc, acsc, ebi, grp


def _episodes(ch: Chunk, rng, s, prov: Providers, costs: Costs, ltc):
    n = s["person"].size
    dx, op, root, tfc, acsc, ebi, grp = _codes(s["kind"], s["group"], rng, emergency_groups(), elective_groups())
    age = ch.age0[s["person"]]
    tfc = np.where((s["kind"] == "emergency") & (age < 16), "420", tfc)

    # Transfers: the spell continues at another trust (admission method 81).
    los = s["dis"] - s["adm"]
    transfer = (s["kind"] == "emergency") & (los >= 3) & ~s["terminal"] & (rng.random(n) < 0.03)
    mid = s["adm"] + los // 2
    t_idx = np.flatnonzero(transfer)
    first_dis = np.where(transfer, mid, s["dis"])
    to_other = _other_trust(rng, prov, s["provider"][t_idx])

    spell = {
        "person": np.concatenate([s["person"], s["person"][t_idx]]),
        "provider": np.concatenate([s["provider"], to_other]),
        "adm": np.concatenate([s["adm"], mid[t_idx]]),
        "dis": np.concatenate([first_dis, s["dis"][t_idx]]),
        "method": np.concatenate([s["method"], np.full(t_idx.size, "81", dtype=object)]),
        "source": np.concatenate([np.where(s["kind"] == "maternity", "19", "19"), np.full(t_idx.size, "51", dtype=object)]),
        "dis_dest": np.concatenate([np.where(transfer, "51", np.where(s["terminal"], "79", "19")), np.where(s["terminal"][t_idx], "79", "19")]),
        "dis_method": np.concatenate([np.where(s["terminal"], "4", "1"), np.full(t_idx.size, "1", dtype=object)]),
        "classification": np.concatenate([np.where(s["daycase"], "2", "1"), np.full(t_idx.size, "1", dtype=object)]),
        "kind": np.concatenate([s["kind"], s["kind"][t_idx]]),
        "dx": np.concatenate([dx, dx[t_idx]]), "op": np.concatenate([op, op[t_idx]]),
        "root": np.concatenate([root, root[t_idx]]), "tfc": np.concatenate([tfc, tfc[t_idx]]),
        "daycase": np.concatenate([s["daycase"], np.zeros(t_idx.size, bool)]),
        "transfer_in": np.concatenate([np.zeros(n, bool), np.ones(t_idx.size, bool)]),
    }
    m = spell["person"].size
    seq = np.arange(m, dtype=np.int64) + ch.index * 10_000_000
    spell_id = np.char.add("S", np.char.zfill(seq.astype(str), 11)).astype(object)

    # Episodes: 1-3 consultant episodes per spell.
    slos = spell["dis"] - spell["adm"]
    n_ep = 1 + ((spell["kind"] == "emergency") & (slos >= 2) & (rng.random(m) < 0.2)) \
        + ((spell["kind"] == "emergency") & (slos >= 5) & (rng.random(m) < 0.08))
    e_sp = np.repeat(np.arange(m), n_ep)
    first = np.r_[0, np.cumsum(n_ep)[:-1]]
    order = np.arange(e_sp.size) - first[e_sp] + 1
    last = order == n_ep[e_sp]
    cut = spell["adm"][e_sp] + (slos[e_sp] * (order - 1)) // n_ep[e_sp]
    cut_end = np.where(last, spell["dis"][e_sp], spell["adm"][e_sp] + (slos[e_sp] * order) // n_ep[e_sp])
    e_person = spell["person"][e_sp]
    e_age = ch.age0[e_person]
    e_tfc = np.where(order == 1, spell["tfc"][e_sp], np.where(e_age >= 75, "430", "300"))

    # Diagnoses: primary, then the person's long-term conditions (HES style).
    cond_codes = np.array([c.icd10_hes for c in conditions()], dtype=object)
    diag = [spell["dx"][e_sp]]
    ids = condition_ids()
    has = ch.cond[e_person]
    rank = np.cumsum(has, axis=1) * has  # 1-based position among the person's conditions
    for k in range(1, N_DIAG):
        col = np.full(e_sp.size, None, dtype=object)
        for j in range(len(ids)):
            col = np.where(rank[:, j] == k, cond_codes[j], col)
        diag.append(col)
    # HRG and cost.
    pod = np.where(spell["kind"][e_sp] == "elective", np.where(spell["daycase"][e_sp], "DC", "EL"),
                   np.where(slos[e_sp] <= 1, "NES", "NEL"))
    hrg = np.empty(e_sp.size, dtype=object)
    e_ltc = ltc[e_person]
    for r in np.unique(spell["root"][e_sp]):
        for p in np.unique(pod):
            sel = (spell["root"][e_sp] == r) & (pod == p)
            if sel.any():
                hrg[sel] = costs.hrg(p, r, e_ltc[sel])
    hrg = np.where(rng.random(e_sp.size) < UNGROUPABLE_SHARE, "UZ01Z", hrg)
    unit = costs.unit_cost(pod, hrg, SETTING_DEFAULT_COSTS["apc"])
    plics = np.isin(spell["provider"][e_sp], list(prov.plics))
    cost = np.where(plics, np.round(unit * rng.lognormal(0, 0.2, e_sp.size), 2), np.nan)

    e_seq = np.arange(e_sp.size, dtype=np.int64) + ch.index * 10_000_000
    cols = {
        "episode_id": pa.array(np.char.add("E", np.char.zfill(e_seq.astype(str), 11))),
        "nhs_number": ch.nhs_str.take(pa.array(e_person)),
        "provider_code": pa.array(spell["provider"][e_sp], pa.string()),
        "spell_id": pa.array(spell_id[e_sp], pa.string()),
        "episode_order": pa.array(order.astype(np.int8)),
        "admission_date": ch.date(spell["adm"][e_sp]),
        "discharge_date": pa.compute.if_else(pa.array(last), ch.date(spell["dis"][e_sp]), pa.scalar(None, pa.date32())),
        "episode_start": ch.date(cut),
        "episode_end": ch.date(cut_end),
        "admission_method": pa.array(spell["method"][e_sp], pa.string()),
        "admission_source": pa.array(spell["source"][e_sp], pa.string()),
        "discharge_method": pa.array(np.where(last, spell["dis_method"][e_sp], None), pa.string()),
        "discharge_destination": pa.array(np.where(last, spell["dis_dest"][e_sp], None), pa.string()),
        "patient_classification": pa.array(spell["classification"][e_sp], pa.string()),
        "treatment_function_code": pa.array(e_tfc, pa.string()),
    }
    for k in range(N_DIAG):
        cols[f"diag_{k + 1:02d}"] = pa.array(diag[k], pa.string())
    cols["opertn_01"] = pa.array(spell["op"][e_sp], pa.string())
    for k in range(2, N_OPER + 1):
        cols[f"opertn_{k:02d}"] = pa.nulls(e_sp.size, pa.string())
    cols["hrg_code"] = pa.array(hrg, pa.string())
    cols["cost"] = pa.array(cost, pa.float64(), from_pandas=True)
    cols["practice_code"] = ch.practice_codes.take(pa.array(e_person))
    cols["lsoa"] = ch.lsoa_str.take(pa.array(e_person))
    episodes = pa.table(cols)

    # Truth: one row per spell.
    nsp = s["person"].size
    pad = lambda a, fill: np.concatenate([a, np.full(t_idx.size, fill, dtype=a.dtype)])  # noqa: E731
    truth = pa.table({
        "spell_id": pa.array(spell_id, pa.string()),
        "nhs_number": ch.nhs_str.take(pa.array(spell["person"])),
        "provider_code": pa.array(spell["provider"], pa.string()),
        "admission_date": ch.date(spell["adm"]),
        "discharge_date": ch.date(spell["dis"]),
        "admission_method": pa.array(spell["method"], pa.string()),
        "kind": pa.array(spell["kind"], pa.string()),
        "group": pa.array(np.concatenate([grp, grp[t_idx]]), pa.string()),
        "acsc": pa.array(np.concatenate([acsc, acsc[t_idx]]), pa.string()),
        "ebi_intervention": pa.array(np.concatenate([ebi, ebi[t_idx]]), pa.string()),
        "is_index_emergency": pa.array(pad(s["index"], False)),
        "is_readmission": pa.array(pad(s["readmission"], False)),
        "readmission_probability": pa.array(pad(s["p_readmit"], np.nan), from_pandas=True),
        "is_terminal": pa.array(pad(s["terminal"], False)),
        "is_death_within_30_days": pa.array(pad(s["post_death"], False)),
        "is_transfer_in": pa.array(spell["transfer_in"]),
    })
    assert nsp + t_idx.size == truth.num_rows
    stats = {"lam_em": ch.rate("emergency"), "p_readmit": model.readmission_probability(ch.age0, ltc),
             "spell_person": spell["person"], "spell_adm": spell["adm"], "spell_method": spell["method"],
             "spell_extra": np.concatenate([s["terminal"] | s["post_death"], np.zeros(t_idx.size, bool)])}
    return episodes, truth, stats
