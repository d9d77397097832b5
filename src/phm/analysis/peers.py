"""Similar areas ("peers"): for each ICB, place, PCN and practice, the areas most like it.

Method (in the spirit of NHS RightCare's "Similar 10"; Dropkin, *RightCare: wrong answers*,
J Public Health 2018;40(3):e367-e374 describes it as the nearest CCGs on equally weighted
demographic and deprivation indicators):

1. each characteristic is standardised over the areas of the level: z = (x - mean) / sd
   (population standard deviation; a characteristic that does not vary is left out);
2. the distance between two areas is the Euclidean distance between their z vectors, every
   characteristic weighted equally;
3. an area's peers are the ``k`` nearest other areas (default 10), nearer first, ties broken by
   area code, so the choice is deterministic.

ICBs are standardised over all 42 ICBs of England on the published characteristics of
:mod:`phm.refdata.characteristics` (IMD 2025 score and share of LSOAs in the most deprived
10%, share aged 0-15 and 60+, allocation need index). ``basis = 'england'`` rows are each
warehouse ICB's similar 10 of all England; ``basis = 'warehouse'`` rows are its nearest
among the ICBs held in this warehouse, whose figures can be compared. The exact variable list
NHS England uses for ICB comparators is not published with the RightCare packs phm can cite:
UNVERIFIED, so peer groups are phm's documented choice, not RightCare's own.

Places, PCNs and practices are compared with the areas of their level in their own ICB
(``basis = 'icb'``; standardised over those), so a comparison never needs another ICB's
practice-level figures, on the share of registered people aged 65+ and in the most deprived national quintile
(Core20, from ``dash_summary``) and the allocation need index (NHS England 2025/26 practice
weighted populations, summed over member practices).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from phm.analysis._common import table

S, I64, F64 = pa.string(), pa.int64(), pa.float64()
K = 10
LOCAL_VARIABLES = ("share_65_plus", "share_core20", "need_index")
PEERS_TYPES = {"level": S, "area_code": S, "basis": S, "rank": I64, "peer_code": S, "distance": F64}
PROFILE_TYPES = {"level": S, "area_code": S, "variable": S, "value": F64, "z": F64}


def comparable_basis(level: str) -> str:
    """The ``dash_peers`` basis whose peers' figures this warehouse holds: ICBs in the
    warehouse for an ICB, areas of its own ICB for a place, PCN or practice."""
    return "warehouse" if level == "icb" else "icb"


def standardise(values: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """z-scores of each column over the rows, and the columns kept (those that vary)."""
    x = np.asarray(values, dtype=float)
    kept, cols = [], []
    for j in range(x.shape[1]):
        v = x[:, j]
        known = v[np.isfinite(v)]
        if known.size < 2 or known.std() == 0:
            continue
        kept.append(j)
        cols.append(np.where(np.isfinite(v), (v - known.mean()) / known.std(), 0.0))  # missing: at the mean
    z = np.column_stack(cols) if cols else np.zeros((x.shape[0], 0))
    return z, kept


def nearest(codes: Sequence[str], values: np.ndarray, k: int = K,
            candidates: Sequence[str] | None = None) -> list[tuple[str, int, str, float]]:
    """``(area, rank, peer, distance)`` for every area in ``codes``: its ``k`` nearest others
    among ``candidates`` (default: all), by Euclidean distance of z-scores (see the module)."""
    codes = list(codes)
    z, _ = standardise(values)
    wanted = set(candidates) if candidates is not None else None
    allowed = np.array([wanted is None or c in wanted for c in codes], dtype=bool)
    names = np.array(codes, dtype=object)
    rank_of_code = np.argsort(np.argsort(names, kind="stable"), kind="stable")  # ties: by code
    out = []
    for i, area in enumerate(codes):
        d = np.round(np.sqrt(((z - z[i]) ** 2).sum(axis=1)), 12)  # rounded: equal distances tie exactly
        ok = allowed.copy()
        ok[i] = False
        idx = np.flatnonzero(ok)
        order = idx[np.lexsort((rank_of_code[idx], d[idx]))][:k]
        out += [(area, r + 1, codes[j], float(d[j])) for r, j in enumerate(order)]
    return out


def icb_peers(warehouse_icbs: Sequence[str], k: int = K) -> tuple[pa.Table, pa.Table]:
    """``(dash_peers rows, dash_peer_profile rows)`` at ICB level (see the module)."""
    from phm.refdata.characteristics import (
        PEER_VARIABLES,
        england_characteristics,
        icb_characteristics,
    )

    ch = icb_characteristics()
    codes = ch["icb_code"].to_pylist()
    x = np.column_stack([ch[v].to_numpy(zero_copy_only=False) for v in PEER_VARIABLES])
    here = [c for c in warehouse_icbs if c in codes]
    rows = {k_: [] for k_ in PEERS_TYPES}
    for basis, cand in (("england", None), ("warehouse", here)):
        for area, rank, peer, dist in nearest(codes, x, k, cand):
            if area in here:
                _add(rows, level="icb", area_code=area, basis=basis, rank=rank, peer_code=peer, distance=dist)
    z, kept = standardise(x)
    profile = {k_: [] for k_ in PROFILE_TYPES}
    mean, sd = x.mean(axis=0), x.std(axis=0)  # the 42 ICBs' characteristics are all known
    for i, area in enumerate(codes):
        for jj, j in enumerate(kept):
            _add(profile, level="icb", area_code=area, variable=PEER_VARIABLES[j], value=float(x[i, j]),
                 z=float(z[i, jj]))
    eng = england_characteristics()
    for j in kept:
        v = PEER_VARIABLES[j]
        _add(profile, level="england", area_code="ENG", variable=v, value=eng[v], z=float((eng[v] - mean[j]) / sd[j]))
    return table(rows, PEERS_TYPES), table(profile, PROFILE_TYPES)


def need_index(areas: pa.Table, level: str) -> dict[str, float]:
    """Each ``level`` area's allocation need index: the NHS England 2025/26 weighted population
    over the published registered population, summed over the area's practices in
    ``dash_areas`` (practices without published figures are left out)."""
    from phm.refdata import practices

    p = practices()
    wp = dict(zip(p["practice_code"].to_pylist(), p["final_wp"].to_pylist(), strict=True))
    reg = dict(zip(p["practice_code"].to_pylist(), p["registered_population"].to_pylist(), strict=True))
    need_w: dict[str, float] = {}
    need_p: dict[str, float] = {}
    seen: set[tuple[str, str]] = set()
    for r in areas.to_pylist():
        c, pr = r[f"{level}_code"], r["practice_code"]
        if c is None or wp.get(pr) is None or not reg.get(pr) or (c, pr) in seen:
            continue
        seen.add((c, pr))
        need_w[c] = need_w.get(c, 0.0) + wp[pr]
        need_p[c] = need_p.get(c, 0.0) + reg[pr]
    return {c: need_w[c] / need_p[c] for c in need_w if need_p[c]}


def local_characteristics(summary: pa.Table, areas: pa.Table, level: str, fy: int) -> tuple[list[str], np.ndarray]:
    """Codes and :data:`LOCAL_VARIABLES` of the ``level`` areas in ``dash_summary`` for ``fy``."""
    need = need_index(areas, level)
    codes, values = [], []
    for r in summary.to_pylist():
        if r["level"] != level or r["fy"] != fy or not r["persons"]:
            continue
        codes.append(r["area_code"])
        values.append([r["age65plus"] / r["persons"], r["core20"] / r["persons"], need.get(r["area_code"], np.nan)])
    order = np.argsort(codes, kind="stable")
    return [codes[i] for i in order], np.array([values[i] for i in order], dtype=float).reshape(len(codes), 3)


def peer_tables(summary: pa.Table, areas: pa.Table, k: int = K) -> dict[str, pa.Table]:
    """``dash_peers`` and ``dash_peer_profile`` for every level, from ``dash_summary`` (its
    latest year) and ``dash_areas``."""
    fy = max(summary["fy"].to_pylist(), default=None)
    icbs = sorted({c for c in areas["icb_code"].to_pylist() if c})
    peers_t, profile_t = icb_peers(icbs, k)
    peers = [peers_t]
    profile = [profile_t]
    for level in ("place", "pcn", "practice"):
        codes, x = local_characteristics(summary, areas, level, fy)
        icb_of = _icb_of(areas, level)
        rows = {k_: [] for k_ in PEERS_TYPES}
        prof = {k_: [] for k_ in PROFILE_TYPES}
        for icb in sorted({icb_of.get(c) or "" for c in codes}):  # peers within the area's own ICB
            mine = [i for i, c in enumerate(codes) if (icb_of.get(c) or "") == icb]
            if len(mine) < 2:
                continue
            group, xg = [codes[i] for i in mine], x[mine]
            for area, rank, peer, dist in nearest(group, xg, k):
                _add(rows, level=level, area_code=area, basis="icb", rank=rank, peer_code=peer, distance=dist)
            z, kept = standardise(xg)
            for i, area in enumerate(group):
                for jj, j in enumerate(kept):
                    _add(prof, level=level, area_code=area, variable=LOCAL_VARIABLES[j], value=float(xg[i, j]),
                         z=float(z[i, jj]))
        peers.append(table(rows, PEERS_TYPES))
        profile.append(table(prof, PROFILE_TYPES))
    return {"dash_peers": pa.concat_tables(peers), "dash_peer_profile": pa.concat_tables(profile)}


def _icb_of(areas: pa.Table, level: str) -> dict[str, str]:
    """Each ``level`` area's ICB along the area tree, as the dashboard's access rules walk it
    (practice -> PCN -> place -> ICB, the first row of each code naming its parent): a PCN or
    place is in one ICB even when a member practice's own ICB code says otherwise (practices
    that moved between the 2023-24 structures and the 2025/26 allocations)."""
    up: dict[tuple[str, str], tuple[str, str]] = {}
    for r in areas.to_pylist():
        chain = [("practice", r["practice_code"]), ("pcn", r["pcn_code"]), ("place", r["place_code"]),
                 ("icb", r["icb_code"])]
        for (lv, c), parent in itertools.pairwise(chain):
            if c is not None and parent[1] is not None:
                up.setdefault((lv, c), parent)
    out = {}
    for lv, c in up:
        if lv == level:
            node = (lv, c)
            while node[0] != "icb" and node in up:
                node = up[node]
            out[c] = node[1] if node[0] == "icb" else ""
    return out


def _add(out: dict[str, list], **row) -> None:
    for k_, v in row.items():
        out[k_].append(v)
