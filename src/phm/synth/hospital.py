"""Admitted patient care: stays (emergency, elective, maternity, regular attendances) built
into provider spells and episodes, with the awkwardness of real HES/SUS APC.

Emergency admissions follow a Poisson process whose rate is the person's true
emergency rate; a share are readmissions within 30 days (the planted readmission
probability); people who die in hospital have a terminal spell.

Real-HES quirks planted (issue 13), each with its truth in ``truth/cips.parquet`` (one row per
true continuous inpatient stay: admission, discharge, open or not, provider spells):

- transfers between trusts: simple (admitted the same day or 1 day later, method 81), chained
  A -> B -> C (2B then 81) and nested (a 1-day transfer out to another trust and back inside a
  longer stay); only for stays that overlap no other stay of the person (+/- 2 days), so the
  true stays are unambiguous;
- emergency admission methods 2A and 2D besides 21-28; admission method 99 (not known) on 0.5% of
  elective stays;
- regular day and night attenders (patient classification 3/4: chemotherapy sessions), never
  part of a continuous stay; mother and baby using delivery facilities only (classification 5);
- stays still in progress at the extract date: the final episode is unfinished (EPISTAT 1, no
  discharge); episode order 99 on some multi-episode spells;
- private patients (administrative category 02, commissioner VPP00) and NHS England-
  commissioned (specialised) stays (commissioner 13R); everything else is commissioned by the
  ICB (its code);
- up to 20 diagnoses (the person's long-term conditions after the primary) and up to 24
  procedures (secondary procedures of the group);
- a refreshed extract (:func:`resubmission`): some episodes sent again, later, under another
  file name, with their discharge date corrected; the first file holds the wrong date.
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

TRANSFER_SHARE = 0.03  # simple transfers (of isolated emergency stays of 3+ days)
CHAIN_SHARE = 0.01  # A -> B -> C (isolated emergency stays of 6+ days)
NESTED_SHARE = 0.01  # a 1-day transfer out and back inside the stay (6+ days)
UNGROUPABLE_SHARE = 0.01  # episodes with HRG UZ01Z: costed by the setting default
REGULAR_ATTENDER_SHARE = 0.003  # persons with a course of regular day/night sessions
EPIORDER_99_SHARE = 0.05  # multi-episode spells sent with episode order 99
PRIVATE_SHARE = 0.02  # elective stays of private patients
SPECIALISED_SHARE = 0.05  # stays commissioned by NHS England
NHSE_COMMISSIONER, PRIVATE_COMMISSIONER = "13R", "VPP00"
STATUS_DIAGNOSES = np.array(["Z880", "Z921", "Z966", "Y831", "Y848", "Z867", "Z864", "Z950", "Z951", "Z961",
                             "Z853", "Z922", "Z924", "Z888"], dtype=object)
SECONDARY_PROCEDURES = np.array(["Z942", "Z943", "Z941", "Y981", "Y532", "Y534", "Y735", "Y902", "Y141", "Y762"], dtype=object)
METHOD_NOT_KNOWN_SHARE = 0.005  # elective stays sent with admission method 99
FERTILITY_KNOTS = ([15, 16, 20, 25, 30, 35, 40, 45, 46], [0, 0.01, 0.05, 0.08, 0.10, 0.07, 0.02, 0.003, 0])
N_DIAG = 20
POST_DEATH_SHARE = 0.15  # of deaths outside hospital, the share discharged in the 30 days before
N_OPER = 24


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
    # the trust of each index stay, drawn now because the planted readmission odds depend on it
    idx_prov = prov.acute_for(rng, ch.lad, idx_p)
    p_index = model.with_odds_ratio(p_readmit[idx_p], np.array([prov.readmission_odds.get(c, 1.0)
                                                                 for c in idx_prov.tolist()]))

    spells: list[dict[str, np.ndarray]] = []

    def add(person, adm, los, kind, method, group, flags: dict[str, np.ndarray] | None = None):
        n = person.size
        dis = np.minimum(adm + los, np.maximum(ch.t1[person] - 1, adm))
        # still in hospital at the extract date (registered to the end): the stay is open
        still_in = (adm + los > W - 1) & (ch.t1[person] >= W)
        dis = np.minimum(dis, W - 1)
        rec = {"person": person, "adm": adm, "dis": dis, "kind": np.full(n, kind, dtype=object),
               "method": method, "group": group, "terminal": np.zeros(n, bool),
               "post_death": np.zeros(n, bool), "readmission": np.zeros(n, bool),
               "index": np.zeros(n, bool), "p_readmit": np.full(n, np.nan), "open": still_in,
               "fixed_provider": np.full(n, "", dtype=object)}
        rec.update(flags or {})
        spells.append(rec)
        return rec

    def em_group(person):
        w = group_weights(em_groups, ch.age0[person], ch.male[person], ch.cond[person])
        return choose_rows(rng, w)

    def em_method(n):
        other = np.array(["22", "23", "24", "28", "2A", "2D"], dtype=object)
        return np.where(rng.random(n) < 0.7, "21", rng.choice(other, n))

    # Index emergency admissions.
    idx = add(idx_p, idx_day, _los(rng, ch.age0[idx_p], "emergency"), "emergency",
              em_method(idx_p.size), em_group(idx_p), {"index": np.ones(idx_p.size, bool),
                                                       "p_readmit": p_index, "fixed_provider": idx_prov})
    # Readmissions within 1-29 days of an index discharge.
    back = rng.random(idx_p.size) < p_index
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
    term["open"] = np.zeros(in_hosp.size, bool)
    # Of those who die elsewhere, POST_DEATH_SHARE were discharged in the 30 days before; more
    # often from a trust planted with excess mortality (post_discharge_death_multiplier).
    out_of_hosp = died[ch.death_place[died] != "hospital"]
    out_prov = prov.acute_for(rng, ch.lad, out_of_hosp)
    boost = np.array([prov.post_death_multiplier.get(c, 1.0) for c in out_prov.tolist()])
    chosen = rng.random(out_of_hosp.size) < np.minimum(POST_DEATH_SHARE * boost, 1.0)
    other, other_prov = out_of_hosp[chosen], out_prov[chosen]
    dis = ch.death_day[other] - rng.integers(1, 30, other.size)
    los = _los(rng, ch.age0[other], "emergency")
    adm = dis - los
    ok = adm >= ch.t0[other]
    pdd = add(other[ok], adm[ok], los[ok], "emergency", em_method(int(ok.sum())), em_group(other[ok]),
              {"post_death": np.ones(int(ok.sum()), bool), "fixed_provider": other_prov[ok]})
    pdd["dis"] = dis[ok].astype(np.int64)
    pdd["open"] = np.zeros(int(ok.sum()), bool)

    # Elective admissions: day case or ordinary. The trust is drawn first: its planted
    # ebi_multiplier (providers.csv) scales the weight of the low-priority (EBI) groups, so each
    # stay has a known probability of being each EBI intervention (truth/ebi_expected.parquet).
    el_p, el_day = ch.events(rng, ch.rate("elective"))
    el_prov = prov.acute_for(rng, ch.lad, el_p)
    w = group_weights(el_groups, ch.age0[el_p], ch.male[el_p], ch.cond[el_p])
    is_ebi = np.array([bool(x.ebi) for x in el_groups])
    w[:, is_ebi] *= np.array([prov.ebi_multiplier.get(c, 1.0) for c in el_prov.tolist()])[:, None]
    g = choose_rows(rng, w)
    keep = g >= 0
    el_p, el_day, g, el_prov, w = el_p[keep], el_day[keep], g[keep], el_prov[keep], w[keep]
    dc_share = np.array([x.daycase_share for x in el_groups])[g]
    daycase = rng.random(g.size) < dc_share
    los = np.where(daycase, 0, _los(rng, ch.age0[el_p], "ordinary"))
    method = rng.choice(np.array(["11", "12", "13"], dtype=object), g.size, p=[0.7, 0.2, 0.1])
    el = add(el_p, el_day, los, "elective", method, g, {"fixed_provider": el_prov})
    el["daycase"] = daycase
    ebi_planted = {"provider": el_prov, "adm": el_day, "open": el["open"],
                   "cancer": ch.cond[el_p, condition_ids().index("cancer")],
                   "p": w[:, is_ebi] / w.sum(axis=1)[:, None],
                   "intervention": [x.ebi for x in el_groups if x.ebi]}

    # Maternity: deliveries to women 16-45.
    fert = np.interp(age_k, *FERTILITY_KNOTS) * (~ch.male)[:, None]
    ages, persons = model.england_structure()
    eng = (persons * (1 - model.male_share(ages)) * np.interp(ages, *FERTILITY_KNOTS)).sum() / persons.sum()
    m_p, m_day = ch.events(rng, fert * activity_targets()["births"] / eng)
    add(m_p, m_day, _los(rng, ch.age0[m_p], "maternity"), "maternity",
        np.full(m_p.size, "31", dtype=object), rng.choice(3, m_p.size, p=[0.65, 0.2, 0.15]))

    # Regular day (and some night) attenders: a course of weekly chemotherapy sessions.
    ra = np.flatnonzero((rng.random(ch.n) < REGULAR_ATTENDER_SHARE) & (ch.t1 - ch.t0 > 60))
    n_sess = rng.integers(6, 25, ra.size)
    ra_p = np.repeat(ra, n_sess)
    first = ch.t0[ra] + rng.integers(0, np.maximum(ch.t1[ra] - ch.t0[ra] - 7 * n_sess, 1))
    ra_day = np.repeat(first, n_sess) + 7 * (np.arange(ra_p.size) - np.repeat(np.cumsum(n_sess) - n_sess, n_sess))
    keep = ra_day < np.minimum(ch.t1[ra_p], W)
    ra_p, ra_day = ra_p[keep], ra_day[keep]
    night = np.repeat(rng.random(ra.size) < 0.1, n_sess)[keep]
    reg = add(ra_p, ra_day, night.astype(np.int64), "regular", np.full(ra_p.size, "11", dtype=object),
              np.zeros(ra_p.size, np.int64))
    reg["night"] = night

    s = {k: np.concatenate([r.get(k, np.zeros(r["person"].size, bool)) for r in spells]) for k in
         ("person", "adm", "dis", "kind", "method", "group", "terminal", "post_death", "readmission", "index", "p_readmit",
          "open", "night", "fixed_provider")}
    s["daycase"] = np.concatenate([r.get("daycase", np.zeros(r["person"].size, bool)) for r in spells])
    order = np.lexsort((s["adm"], s["person"]))
    s = {k: v[order] for k, v in s.items()}
    drawn = prov.acute_for(rng, ch.lad, s["person"])
    s["provider"] = np.where(s["fixed_provider"] != "", s["fixed_provider"], drawn)
    episodes, truth, stats = _episodes(ch, rng, s, prov, costs, ltc)
    stats["ebi_planted"] = ebi_planted
    via = s["method"] == "21"
    stats["via_ae"] = (s["person"][via], s["adm"][via], s["provider"][via])
    return episodes, truth, stats


def _other_trust(rng, prov: Providers, current: np.ndarray) -> np.ndarray:
    """A receiving trust for a transfer: out of area if there is one, never the sending trust."""
    pool = np.asarray(prov.out_of_area + prov.acute, dtype=object)
    pick = pool[rng.integers(0, len(pool), current.size)]
    same = pick == current
    return np.where(same, pool[(np.searchsorted(pool, pick) + 1) % len(pool)] if len(pool) > 1 else pick, pick)


def _isolated(s) -> np.ndarray:
    """Stays (sorted by person, admission) that no other stay of the person, regular sessions
    aside, comes within 2 days of: only these are transferred, so each true stay is unambiguous."""
    n = s["person"].size
    ok = s["kind"] != "regular"
    idx = np.flatnonzero(ok)
    person, adm, dis = s["person"][idx], s["adm"][idx], s["dis"][idx]
    big = int(max(dis.max(initial=0), adm.max(initial=0))) + 10
    run = np.maximum.accumulate(person.astype(np.int64) * big + dis) - person.astype(np.int64) * big
    same_prev = np.r_[False, person[1:] == person[:-1]]
    prev_max = np.r_[0, run[:-1]]
    near_prev = same_prev & (prev_max >= adm - 2)
    same_next = np.r_[person[1:] == person[:-1], False]
    next_adm = np.r_[adm[1:], 0]
    near_next = same_next & (next_adm <= dis + 2)
    out = np.zeros(n, bool)
    out[idx] = ~near_prev & ~near_next
    return out


def _provider_spells(ch: Chunk, rng, s, prov: Providers) -> dict[str, np.ndarray]:
    """Each stay as one or more provider spells: transfers simple, chained and nested."""
    n = s["person"].size
    los = s["dis"] - s["adm"]
    u = rng.random(n)
    can = (s["kind"] == "emergency") & ~s["terminal"] & ~s["open"] & _isolated(s)
    simple = can & (los >= 3) & (u < TRANSFER_SHARE)
    chain = can & (los >= 6) & (u >= TRANSFER_SHARE) & (u < TRANSFER_SHARE + CHAIN_SHARE)
    nested = can & (los >= 6) & (u >= TRANSFER_SHARE + CHAIN_SHARE) & (u < TRANSFER_SHARE + CHAIN_SHARE + NESTED_SHARE)
    final_dest = np.where(s["terminal"], "79", "19")
    classification = np.where(s["daycase"], "2", "1")
    classification = np.where((s["kind"] == "maternity") & (rng.random(n) < 0.1), "5", classification)
    classification = np.where(s["kind"] == "regular", np.where(s["night"], "4", "3"), classification)
    v = rng.random(n)
    private = (s["kind"] == "elective") & (v < PRIVATE_SHARE)
    nhse = ~private & (s["kind"] != "maternity") & (v >= PRIVATE_SHARE) & (v < PRIVATE_SHARE + SPECIALISED_SHARE)
    admincat = np.where(private, "02", "01")
    commissioner = np.where(private, PRIVATE_COMMISSIONER, np.where(nhse, NHSE_COMMISSIONER, ch.cfg.icb))

    # the stay's first spell ends where it hands over (simple and chained transfers)
    mid = s["adm"] + los // 2
    t1, t2 = s["adm"] + los // 3, s["adm"] + (2 * los) // 3
    gap = np.where(rng.random(n) < 0.1, 1, 0)  # the receiving trust admits the next day
    first_dis = np.where(simple, mid, np.where(chain, t1, s["dis"]))
    # admission method not known (99) on a few elective stays, as real extracts have
    method = np.where((s["kind"] == "elective") & (rng.random(n) < METHOD_NOT_KNOWN_SHARE), "99", s["method"])
    parts = [dict(stay=np.arange(n), provider=s["provider"], adm=s["adm"], dis=first_dis, method=method,
                  source=np.full(n, "19", dtype=object), dest=np.where(simple | chain, "51", final_dest),
                  dis_method=np.where(s["terminal"], "4", "1"), classification=classification,
                  transfer_in=np.zeros(n, bool), open=s["open"])]

    def part(sel, provider, adm, dis, method, dest):
        i = np.flatnonzero(sel)
        k = i.size
        parts.append(dict(stay=i, provider=provider[i] if provider.size == n else provider, adm=adm[i], dis=dis[i],
                          method=np.full(k, method, dtype=object), source=np.full(k, "51", dtype=object),
                          dest=dest[i] if isinstance(dest, np.ndarray) else np.full(k, dest, dtype=object),
                          dis_method=np.full(k, "1", dtype=object), classification=np.full(k, "1", dtype=object),
                          transfer_in=np.ones(k, bool), open=np.zeros(k, bool)))

    other = _other_trust(rng, prov, s["provider"])
    third = _other_trust(rng, prov, other)
    part(simple, other, mid + gap, s["dis"], "81", final_dest)
    part(chain, other, t1, t2, "2B", "51")
    part(chain, third, t2, s["dis"], "81", final_dest)
    k = s["adm"] + 1 + (rng.random(n) * np.maximum(los - 3, 1)).astype(np.int64)
    part(nested, other, k, k + 1, "81", "51")
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    out["person"] = s["person"][out["stay"]]
    out["dis_dest"] = out.pop("dest")
    out["admincat"], out["commissioner"] = admincat[out["stay"]], commissioner[out["stay"]]
    return out


def _codes(kind, group, rng, em_groups, el_groups):
    """Primary diagnosis, procedure, HRG root, TFC, ACSC and EBI for each spell."""
    n = kind.size
    dx = np.empty(n, dtype=object)
    op = np.full(n, None, dtype=object)
    op2 = np.full(n, None, dtype=object)
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
            if g.opcs4_secondary:
                op2[m] = np.asarray(g.opcs4_secondary, dtype=object)[(u[m] * len(g.opcs4_secondary) * 3).astype(int)
                                                                     % len(g.opcs4_secondary)]
            root[m], tfc[m], acsc[m], ebi[m], grp[m] = g.hrg_root, g.tfc, g.acsc, g.ebi, g.id
    reg = kind == "regular"  # chemotherapy session
    dx[reg], root[reg], tfc[reg], grp[reg] = "Z511", "SB15", "370", "regular_chemotherapy"
    mat = kind == "maternity"
    mat_dx = np.array(["O800", "O821", "O820"], dtype=object)
    mat_op = np.array(["R249", "R182", "R179"], dtype=object)
    mat_root = np.array(["NZ30", "NZ50", "NZ50"], dtype=object)
    dx[mat], op[mat], root[mat] = mat_dx[group[mat]], mat_op[group[mat]], mat_root[group[mat]]
    tfc[mat], grp[mat] = "501", np.array(["normal_delivery", "emergency_caesarean", "elective_caesarean"], dtype=object)[group[mat]]
    return dx, op, op2, root, tfc, acsc, ebi, grp


def _episodes(ch: Chunk, rng, s, prov: Providers, costs: Costs, ltc):
    n = s["person"].size
    dx, op, op2, root, tfc, acsc, ebi, grp = _codes(s["kind"], s["group"], rng, emergency_groups(), elective_groups())
    age = ch.age0[s["person"]]
    tfc = np.where((s["kind"] == "emergency") & (age < 16), "420", tfc)

    spell = _provider_spells(ch, rng, s, prov)
    m = spell["person"].size
    seq = np.arange(m, dtype=np.int64) + ch.index * 10_000_000
    spell_id = np.char.add("S", np.char.zfill(seq.astype(str), 11)).astype(object)
    st = spell["stay"]
    for k, v in (("dx", dx), ("op", op), ("op2", op2), ("root", root), ("tfc", tfc)):
        spell[k] = v[st]
    spell["kind"], spell["daycase"] = s["kind"][st], s["daycase"][st] & ~spell["transfer_in"]

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
    # still in hospital at the extract date: the final episode is unfinished, with no end
    unfinished = last & spell["open"][e_sp]
    # episode order 99 ("not known") on some multi-episode spells: every episode of the spell
    order = np.where(((n_ep > 1) & (rng.random(m) < EPIORDER_99_SHARE))[e_sp], 99, order)

    # Diagnoses: primary, then the person's long-term conditions (HES style), up to 20.
    cond_codes = np.array([c.icd10_hes for c in conditions()], dtype=object)
    diag = [spell["dx"][e_sp]]
    ids = condition_ids()
    has = ch.cond[e_person]
    rank = np.cumsum(has, axis=1) * has  # 1-based position among the person's conditions
    n_ltc = has.sum(axis=1)
    # then status and history codes (not condition, Charlson or frailty codes): 0-2, a few up to 20
    n_status = np.where(rng.random(e_sp.size) < 0.3, rng.integers(1, 3, e_sp.size), 0)
    n_status = np.where(rng.random(e_sp.size) < 0.003, N_DIAG, n_status)
    status = rng.choice(STATUS_DIAGNOSES, (e_sp.size, N_DIAG))
    for k in range(1, N_DIAG):
        col = np.full(e_sp.size, None, dtype=object)
        for j in range(len(ids)):
            col = np.where(rank[:, j] == k, cond_codes[j], col)
        col = np.where((k > n_ltc) & (k <= n_ltc + n_status), status[:, k], col)
        diag.append(col)
    # Procedures: the main one, then 0-3 secondary (site, approach, imaging); a few use all 24.
    has_op = spell["op"][e_sp] != None  # noqa: E711
    op2_first = spell["op2"][e_sp]
    has_op2 = op2_first != None  # noqa: E711
    n_extra = np.where(has_op, rng.integers(0, 4, e_sp.size), 0)
    n_extra = np.where(has_op & (rng.random(e_sp.size) < 0.002), N_OPER - 1, n_extra)
    n_extra = np.where(has_op2, np.maximum(n_extra, 1), n_extra)
    # HRG and cost.
    pod = np.where(spell["kind"][e_sp] == "elective", np.where(spell["daycase"][e_sp], "DC", "EL"),
                   np.where(slos[e_sp] <= 1, "NES", "NEL"))
    pod = np.where(spell["kind"][e_sp] == "regular", "RDN", pod)
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
    cost = np.where(plics & ~unfinished, np.round(unit * rng.lognormal(0, 0.2, e_sp.size), 2), np.nan)

    e_seq = np.arange(e_sp.size, dtype=np.int64) + ch.index * 10_000_000
    done = last & ~unfinished
    cols = {
        "episode_id": pa.array(np.char.add("E", np.char.zfill(e_seq.astype(str), 11))),
        "nhs_number": ch.nhs_str.take(pa.array(e_person)),
        "provider_code": pa.array(spell["provider"][e_sp], pa.string()),
        "spell_id": pa.array(spell_id[e_sp], pa.string()),
        "episode_order": pa.array(order.astype(np.int8)),
        "admission_date": ch.date(spell["adm"][e_sp]),
        "discharge_date": pa.compute.if_else(pa.array(done), ch.date(spell["dis"][e_sp]), pa.scalar(None, pa.date32())),
        "episode_start": ch.date(cut),
        "episode_end": pa.compute.if_else(pa.array(unfinished), pa.scalar(None, pa.date32()), ch.date(cut_end)),
        "admission_method": pa.array(spell["method"][e_sp], pa.string()),
        "admission_source": pa.array(spell["source"][e_sp], pa.string()),
        "discharge_method": pa.array(np.where(done, spell["dis_method"][e_sp], None), pa.string()),
        "discharge_destination": pa.array(np.where(done, spell["dis_dest"][e_sp], None), pa.string()),
        "patient_classification": pa.array(spell["classification"][e_sp], pa.string()),
        "episode_status": pa.array(np.where(unfinished, "1", "3"), pa.string()),
        "episode_type": pa.array(np.where(spell["kind"][e_sp] == "maternity", "2", "1"), pa.string()),
        "administrative_category": pa.array(spell["admincat"][e_sp], pa.string()),
        "commissioner_code": pa.array(spell["commissioner"][e_sp], pa.string()),
        "treatment_function_code": pa.array(e_tfc, pa.string()),
    }
    for k in range(N_DIAG):
        cols[f"diag_{k + 1:02d}"] = pa.array(diag[k], pa.string())
    cols["opertn_01"] = pa.array(spell["op"][e_sp], pa.string())
    extra = rng.choice(SECONDARY_PROCEDURES, (e_sp.size, N_OPER - 1))
    extra[:, 0] = np.where(has_op2 & (order == 1), op2_first, extra[:, 0])
    for k in range(2, N_OPER + 1):
        cols[f"opertn_{k:02d}"] = pa.array(np.where(n_extra >= k - 1, extra[:, k - 2], None), pa.string())
    cols["hrg_code"] = pa.array(hrg, pa.string())
    cols["cost"] = pa.array(cost, pa.float64(), from_pandas=True)
    cols["practice_code"] = ch.practice_codes.take(pa.array(e_person))
    cols["lsoa"] = ch.lsoa_str.take(pa.array(e_person))
    episodes = pa.table(cols)

    # Truth: one row per provider spell (flags of the stay on its first spell).
    reach = np.clip((np.minimum(ch.t1[s["person"]], ch.cfg.window_days) - s["dis"] - 1) / 29.0, 0.0, 1.0)
    base = ~spell["transfer_in"]
    flag = lambda a, fill: np.where(base, a[st], fill)  # noqa: E731
    truth = pa.table({
        "spell_id": pa.array(spell_id, pa.string()),
        "nhs_number": ch.nhs_str.take(pa.array(spell["person"])),
        "provider_code": pa.array(spell["provider"], pa.string()),
        "admission_date": ch.date(spell["adm"]),
        "discharge_date": ch.date(spell["dis"]),
        "admission_method": pa.array(spell["method"], pa.string()),
        "kind": pa.array(spell["kind"], pa.string()),
        "group": pa.array(grp[st], pa.string()),
        "acsc": pa.array(acsc[st], pa.string()),
        "ebi_intervention": pa.array(ebi[st], pa.string()),
        "is_index_emergency": pa.array(flag(s["index"], False)),
        "is_readmission": pa.array(flag(s["readmission"], False)),
        "readmission_probability": pa.array(np.where(base, s["p_readmit"][st], np.nan), from_pandas=True),
        # the chance the plant could place a readmission (days 1-29 after discharge, before the
        # person's registration ends, dies or the extract ends): the probability the plant realises
        "readmission_probability_effective": pa.array(np.where(base, (s["p_readmit"] * reach)[st], np.nan),
                                                      from_pandas=True),
        "is_terminal": pa.array(flag(s["terminal"], False)),
        "is_death_within_30_days": pa.array(flag(s["post_death"], False)),
        "is_transfer_in": pa.array(spell["transfer_in"]),
        "stay": pa.array(st + ch.index * 10_000_000),
    })
    # Truth: one row per true continuous inpatient stay that has a finished episode.
    finished_stay = np.zeros(n, bool)
    finished_stay[st[e_sp[~unfinished]]] = True
    keep = np.flatnonzero(finished_stay)
    cips = pa.table({
        "stay": pa.array(keep + ch.index * 10_000_000),
        "nhs_number": ch.nhs_str.take(pa.array(s["person"][keep])),
        "kind": pa.array(s["kind"][keep], pa.string()),
        "admission_date": ch.date(s["adm"][keep]),
        "discharge_date": pa.compute.if_else(pa.array(s["open"][keep]), pa.scalar(None, pa.date32()),
                                             ch.date(s["dis"][keep])),
        "los_days": pa.array(np.where(s["open"][keep], np.nan, s["dis"][keep] - s["adm"][keep]), from_pandas=True).cast(pa.int64()),
        "provider_spells": pa.array(np.bincount(st, minlength=n)[keep].astype(np.int64)),
        "regular_attender": pa.array(s["kind"][keep] == "regular"),
    })
    stats = {"lam_em": ch.rate("emergency"), "p_readmit": model.readmission_probability(ch.age0, ltc),
             "spell_person": s["person"], "spell_adm": s["adm"], "spell_method": s["method"],
             "spell_extra": s["terminal"] | s["post_death"], "cips": cips}
    return episodes, truth, stats
