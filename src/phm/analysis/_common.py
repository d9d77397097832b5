"""What the analysis modules share: the year, the population, areas, and rolling up strata.

Every function here either builds a portable Ibis expression (no raw SQL, so DuckDB and
Spark run the same thing) or works on the small Arrow tables those expressions return.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa

from phm.model.activity import SETTINGS
from phm.model.common import ESP_BANDS
from phm.warehouse import fetch

LEVELS = {"practice": "practice_code", "pcn": "pcn_code", "place": "place_code", "icb": "icb_code"}
DAYS_PER_YEAR = 365.25
PER_100K = 100_000.0
Z95 = 1.959963984540054  # two-sided 95% standard-normal quantile
S, I64, F64, BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()

__all__ = ["DAYS_PER_YEAR", "ESP_BANDS", "LEVELS", "PER_100K", "SETTINGS", "Z95"]


def resolve_fy(person_year, fy: int | None) -> int:
    """``fy`` itself, or the latest financial year in ``person_year``."""
    if fy is not None:
        return int(fy)
    latest = fetch(person_year.fy.max().name("fy").as_table()).column(0)[0].as_py()
    if latest is None:
        raise ValueError("person_year has no rows: there is no financial year to analyse")
    return int(latest)


def year(person_year, fy: int | None):
    """``(rows of the year, fy)``."""
    f = resolve_fy(person_year, fy)
    return person_year.filter(person_year.fy == f), f


def registered(t):
    """1 for a person registered (and alive) for at least one day of the year, else 0."""
    return (t.exposure_days > 0).cast("int64")


def as_int(expr):
    """An integer count column (the marts hold some counts as DECIMAL(38,0))."""
    return expr.coalesce(0).cast("int64")


def as_float(expr):
    return expr.coalesce(0).cast("float64")


def level_columns(level: str | Sequence[str]) -> list[tuple[str, str]]:
    """``[(level name, column)]`` for one level name or several."""
    names = [level] if isinstance(level, str) else list(level)
    bad = [n for n in names if n not in LEVELS]
    if bad:
        raise ValueError(f"unknown level {bad[0]!r}; choose from {', '.join(LEVELS)}")
    return [(n, LEVELS[n]) for n in names]


def strata(t, keys: Sequence[str], extra: Sequence[str], aggs: dict) -> pa.Table:
    """Aggregate ``t`` by ``keys`` + ``extra`` in the engine and fetch the (small) result."""
    cols = list(dict.fromkeys([*keys, *extra]))
    return fetch(t.group_by(cols).aggregate(**aggs))


def _sort_key(v):
    return (v is None, v if not isinstance(v, bool) else not v)


def group_labels(column: str, values: Iterable) -> list[str | None]:
    """Display labels: ``core20`` as Core20 / Rest of ICB, deciles as text, missing as Unknown
    (inequality dimensions) or null (areas)."""
    out = []
    for v in values:
        if column == "core20":
            out.append("Core20" if v else "Rest of ICB")
        elif v is None:
            out.append("Unknown" if column not in LEVELS.values() else None)
        else:
            out.append(str(v))
    return out


def rollup(
    t: pa.Table, key: str, by: Sequence[str], measures: Sequence[str], top2: Sequence[str] = ()
):
    """Sum ``measures`` of a fetched strata table into ``groups x cells`` matrices.

    Returns ``(groups, cells, {measure: matrix})``: ``groups`` are the distinct values of
    ``key`` (sorted, missing last), ``cells`` the distinct tuples of the ``by`` columns
    (e.g. age band x sex), ``matrix[g, c]`` the measure summed over rows of group ``g`` and
    cell ``c``. With ``by=()`` there is one cell. For each name ``m`` in ``top2`` the
    strata's ``m_top1`` and ``m_top2`` (the two largest single contributions of a stratum)
    are merged exactly, not summed (:func:`merge_top2`), into matrices of the same names.
    """
    gvals = t.column(key).to_pylist()
    groups = sorted(set(gvals), key=_sort_key)
    gi = {g: i for i, g in enumerate(groups)}
    cvals = (
        list(zip(*[t.column(b).to_pylist() for b in by], strict=True)) if by else [()] * t.num_rows
    )
    cells = sorted(set(cvals), key=lambda c: tuple(_sort_key(x) for x in c))
    ci = {c: i for i, c in enumerate(cells)}
    rows = np.array([gi[g] for g in gvals], dtype=np.int64)
    cols = np.array([ci[c] for c in cvals], dtype=np.int64)
    shape = (len(groups), len(cells))
    target = rows * len(cells) + cols
    out = {}
    for m in measures:  # bincount adds in row order, as np.add.at does, only faster
        values = np.asarray(t.column(m).to_numpy(zero_copy_only=False), dtype=float)
        out[m] = np.bincount(target, weights=values, minlength=shape[0] * shape[1]).reshape(shape)
    for m in top2:
        first, second = merge_top2(
            target, shape[0] * shape[1], _floats(t, f"{m}_top1"), _floats(t, f"{m}_top2")
        )
        out[f"{m}_top1"], out[f"{m}_top2"] = first.reshape(shape), second.reshape(shape)
    return groups, cells, out


def _floats(t: pa.Table, name: str) -> np.ndarray:
    values = np.asarray(t.column(name).to_numpy(zero_copy_only=False), dtype=float)
    return np.nan_to_num(values, nan=0.0)


def merge_top2(
    target: np.ndarray, n: int, top1: np.ndarray, top2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second-largest values of each of ``n`` targets, from parts' top-2s.

    Part ``i`` (e.g. a stratum) has its two largest single contributions ``top1[i] >=
    top2[i]`` (0 where it has fewer than one or two) and belongs to target ``target[i]``.
    Top-2 is mergeable: the two largest contributions of a union of disjoint parts are the
    two largest of the parts' top-2s, so this is exact. Ties stay: two parts' equal largest
    give ``first == second``. A target with no part has ``(0, 0)``.
    """
    idx = np.concatenate([target, target]).astype(np.int64)
    vals = np.concatenate([top1, top2]).astype(float)
    first, second = np.zeros(n), np.zeros(n)
    if not len(idx):
        return first, second
    order = np.lexsort((-vals, idx))  # by target, then largest value first
    idx, vals = idx[order], vals[order]
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    first[idx[starts]] = vals[starts]
    nxt = starts + 1
    has_two = nxt < len(idx)
    has_two[has_two] = idx[nxt[has_two]] == idx[starts[has_two]]
    second[idx[starts[has_two]]] = vals[nxt[has_two]]
    return first, second


def band_matrix(cells: Sequence[tuple], mats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Re-index ``groups x (age_band,)`` matrices onto the 19 ESP2013 bands in order."""
    idx = {b: i for i, b in enumerate(ESP_BANDS)}
    out = {}
    for m, mat in mats.items():
        full = np.zeros((mat.shape[0], len(ESP_BANDS)))
        for j, (band,) in enumerate(cells):
            if band in idx:  # a missing age band (no date of birth) cannot be standardised
                full[:, idx[band]] += mat[:, j]
        out[m] = full
    return out


def ratio_se(total_y: np.ndarray, total_x: np.ndarray, sum_y2, sum_xy, sum_x2, n) -> np.ndarray:
    """Standard error of the ratio estimator ``R = sum(y) / sum(x)`` over ``n`` units.

    ``v(R) = n / (n - 1) * sum((y_i - R x_i)^2) / sum(x)^2``, expanded in the sums the engine
    returns (Cochran WG, *Sampling Techniques*, 3rd ed., Wiley 1977, section 6.3: the
    variance of a ratio estimate; the usual large-sample approximation).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        r = total_y / total_x
        ss = sum_y2 - 2.0 * r * sum_xy + r * r * sum_x2
        v = np.where(n > 1, n / (n - 1.0), np.nan) * np.maximum(ss, 0.0) / total_x**2
    return np.sqrt(v)


def table(columns: dict[str, list | np.ndarray], types: dict[str, pa.DataType]) -> pa.Table:
    """An Arrow table with the plain types the warehouse takes (NaN floats stay NaN)."""
    arrays = {}
    for name, values in columns.items():
        typ = types[name]
        if isinstance(values, np.ndarray):
            values = values.tolist()
        arrays[name] = pa.array(values, type=typ)
    return pa.table(arrays)


def plain(t: pa.Table) -> pa.Table:
    """``t`` with nullable fields of plain types: int64 for integers, float64 for decimals
    and floats, string for strings (engines differ in widths and nullability)."""
    fields = []
    for f in t.schema:
        typ = f.type
        if pa.types.is_integer(typ):
            typ = pa.int64()
        elif pa.types.is_floating(typ) or pa.types.is_decimal(typ):
            typ = pa.float64()
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            typ = pa.string()
        fields.append(pa.field(f.name, typ, nullable=True))
    return t.cast(pa.schema(fields))


def empty_like(types: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({n: pa.array([], type=t) for n, t in types.items()})


def col(t, name: str):
    """``t[name]``, or a clear error naming the mart column the analysis needs."""
    if name not in t.columns:
        raise ValueError(f"the table has no column {name!r}, which this analysis needs")
    return t[name]
