"""Indicator values by area and period, with confidence limits: the table ``ind_values``.

One row per indicator x level x area x period. Levels: ``provider`` (readmissions: the
provider of the index spell), ``practice``, ``pcn``, ``place``, ``icb`` (the person's
registration in the financial year of the event, from ``person_year``), and for the
Core20PLUS5 view of the population rates (ACSC, frequent attenders) ``imd_quintile`` (IMD
2025, 1 = most deprived) and ``ethnic_group``.
Periods: the financial year (``period`` ``2024/25``, ``month`` null) and each month
(``period`` ``2024-05``).

The engine aggregates the patient rows to strata (one query per indicator); the statistics
are computed here on those small tables (:mod:`phm.stats`), as in :mod:`phm.analysis`.

- **Readmissions**: ``value`` is the indirectly standardised percentage (ISR x the reference
  crude %), ``ratio`` the ISR (observed / expected) with Byar's limits (exact Poisson below 10
  readmissions; PHE Technical Guide *Confidence intervals*), ``crude`` with Wilson limits.
  A provider's figures hold every index discharge; an area's those of people registered in it
  that year. The reference is the warehouse's rates by stratum in the same financial year (as NHS OF 3b
  standardises each reporting year; England's stratum rates are not published):
  ``reference`` says so.
- **ACSC**: ``value`` is the directly standardised rate per 100,000 person-years (European
  Standard Population 2013, 19 age bands, each sex weighted by half the band's weight:
  UNVERIFIED combination), Dobson et al. (1991) limits, NaN below 10 admissions (PHE
  *Technical Guide: Calculating directly standardised rates*); ``crude`` with Byar's / exact
  limits. A month's rate is annualised: its person-years are the year's times the month's share
  of the days the year covers (the latest year ends at the extract date).
"""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from phm import refdata, stats
from phm.analysis._common import DAYS_PER_YEAR, ESP_BANDS, PER_100K, empty_like, table
from phm.warehouse import fetch

S, I64, F64 = pa.string(), pa.int64(), pa.float64()
TYPES = {
    "indicator": S, "level": S, "area_code": S, "period": S, "fy": I64, "month": S,
    "numerator": I64, "denominator": F64, "value": F64, "lower": F64, "upper": F64,
    "crude": F64, "crude_lower": F64, "crude_upper": F64,
    "expected": F64, "ratio": F64, "ratio_lower": F64, "ratio_upper": F64,
    "unit": S, "reference": S,
}
AREA_LEVELS = {"practice": "practice_code", "pcn": "pcn_code", "place": "place_code", "icb": "icb_code"}
EQUITY_LEVELS = {"imd_quintile": "imd2025_quintile", "ethnic_group": "ethnic_group"}
READMISSION_STRATA = ("age_band", "sex", "method_group", "case_group")


def fy_label(fy: int) -> str:
    return f"{fy}/{(fy + 1) % 100:02d}"


def _area_of(events, person_year, fy_col: str = "fy", keep_all: bool = False):
    """``events`` (with ``person_id`` and ``fy_col``) with the person's registration that year
    (``keep_all``: events of people not registered that year too, with null areas)."""
    py = person_year.select("person_id", "fy", "practice_code", "pcn_code", "place_code", "icb_code",
                            "imd2025_quintile", "ethnic_group", "age_band", "sex", "exposure_days")
    py = py.rename(_py_person="person_id", _py_fy="fy", _py_sex="sex", _py_age_band="age_band")
    on = (events.person_id == py._py_person) & (events[fy_col] == py._py_fy)
    j = events.left_join(py, on) if keep_all else events.join(py, on)
    j = j.drop("_py_person", "_py_fy")
    if keep_all:  # a person-year kept for its cost alone (no days registered) is in no area
        here = (j.exposure_days > 0).coalesce(False)
        j = j.mutate(**{c: ibis.ifelse(here, j[c], ibis.null(j[c].type()))
                        for c in ("practice_code", "pcn_code", "place_code", "icb_code")})
    return j


def _text(column) -> pa.Array:
    """A key column as text, null as ``""`` (an area code of nobody's: unregistered)."""
    return pc.fill_null(pc.cast(column, pa.string()), "")


def _keys(t: pa.Table, columns: list[str]) -> pa.Array:
    return pc.binary_join_element_wise(*[_text(t.column(c)) for c in columns], "\x1f")


def _sums(t: pa.Table, keys: list[str], values: list[str]) -> pa.Table:
    return t.group_by(keys, use_threads=False).aggregate([(v, "sum") for v in values])


# -- readmissions -------------------------------------------------------------------------


def readmission_values(index, person_year) -> pa.Table:
    """``ind_values`` rows of ``readmission_30d`` from :func:`.readmission.index_discharges`."""
    t = index.filter(index.excluded.isnull())
    t = _area_of(t, person_year, keep_all=True)  # a provider's figures include every patient
    t = t.mutate(month=t.discharge_date.strftime("%Y-%m"), _r=t.readmitted.cast("int64"))
    keys = ["provider_code", *AREA_LEVELS.values(), "fy", "month", *READMISSION_STRATA]
    st = fetch(t.group_by(keys).aggregate(n=t.count(), r=t._r.sum()))
    if st.num_rows == 0:
        return empty_like(TYPES)
    st = st.set_column(st.schema.get_field_index("n"), "n", pc.cast(st.column("n"), F64))
    st = st.set_column(st.schema.get_field_index("r"), "r", pc.cast(st.column("r"), F64))
    # the reference: the warehouse's rate in each stratum of the same year
    ref = _sums(st, ["fy", *READMISSION_STRATA], ["n", "r"])
    ref_key, st_key = _keys(ref, ["fy", *READMISSION_STRATA]), _keys(st, ["fy", *READMISSION_STRATA])
    rate = ref.column("r_sum").to_numpy() / ref.column("n_sum").to_numpy()
    at = _index(st_key, ref_key)
    st = st.append_column("e", pa.array(st.column("n").to_numpy() * rate[at], F64))
    by_fy = _sums(st, ["fy"], ["n", "r"])
    crude_ref = dict(zip(by_fy.column("fy").to_pylist(),
                         (by_fy.column("r_sum").to_numpy() / by_fy.column("n_sum").to_numpy()).tolist(), strict=True))
    parts = []
    for level, column in {"provider": "provider_code", **AREA_LEVELS}.items():
        for monthly in (False, True):
            g = _sums(st, [column, "fy"] + (["month"] if monthly else []), ["n", "r", "e"])
            if level != "provider":  # areas are where people were registered: not the unregistered
                g = g.filter(pc.is_valid(g.column(column)))
            parts.append(_readmission_rows(level, g, column, monthly, crude_ref))
    return pa.concat_tables(parts)


def observed_expected(o: np.ndarray, n: np.ndarray, e: np.ndarray) -> dict[str, np.ndarray]:
    """The columns an observed/expected indicator shares (readmissions, SHMI): the crude
    percentage ``100 o / n`` with Wilson limits, and the ratio ``o / e`` with the count's
    Poisson limits (Byar's at 10 or more, exact below; PHE Technical Guide: Confidence
    intervals) over ``e``; the ratio is NaN where nothing is expected."""
    lo, hi = stats.wilson_ci(o, n)
    rl, ru = stats.poisson_ci(o)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio, rl, ru = (np.where(e > 0, x / e, np.nan) for x in (o, rl, ru))
    return {"numerator": o.astype(np.int64), "denominator": n,
            "crude": 100 * o / n, "crude_lower": 100 * lo, "crude_upper": 100 * hi,
            "expected": e, "ratio": ratio, "ratio_lower": rl, "ratio_upper": ru}


def _readmission_rows(level: str, g: pa.Table, column: str, monthly: bool, crude_ref: dict) -> pa.Table:
    o, n, e = (g.column(f"{c}_sum").to_numpy() for c in ("r", "n", "e"))
    fy = g.column("fy").to_numpy()
    c = np.array([crude_ref[f] for f in fy.tolist()], dtype=float)
    oe = observed_expected(o, n, e)
    month = g.column("month").to_pylist() if monthly else [None] * g.num_rows
    cols = {
        "indicator": ["readmission_30d"] * g.num_rows, "level": [level] * g.num_rows,
        "area_code": g.column(column).to_pylist(),
        "period": [m or fy_label(f) for m, f in zip(month, fy.tolist(), strict=True)], "fy": fy, "month": month,
        "value": 100 * oe["ratio"] * c, "lower": 100 * oe["ratio_lower"] * c, "upper": 100 * oe["ratio_upper"] * c,
        **oe,
        "unit": ["%"] * g.num_rows,
        "reference": [f"warehouse {fy_label(f)} ({100 * crude_ref[f]:.2f}%)" for f in fy.tolist()],
    }
    return table({k: cols[k] for k in TYPES}, TYPES)  # in TYPES' order


# -- ACSC ---------------------------------------------------------------------------------

CELLS = [(b, s) for b in ESP_BANDS for s in ("1", "2")]  # age band x sex


def _esp_weights() -> np.ndarray:
    esp = refdata.esp2013()
    w = dict(zip(esp["age_band"].to_pylist(), esp["esp2013"].to_pylist(), strict=True))
    return np.array([w[b] / 2.0 for b, _ in CELLS])


def _index(values, universe) -> np.ndarray:
    """Position of each of ``values`` in ``universe`` (-1 where absent or null)."""
    return pc.fill_null(pc.index_in(values, value_set=universe), -1).to_numpy().astype(np.int64)


def _cell(t: pa.Table, band: str, sex: str) -> np.ndarray:
    """Index into :data:`CELLS` of each row (-1 for an unknown band or sex)."""
    b = _index(t.column(band), pa.array(ESP_BANDS))
    s = _index(t.column(sex), pa.array(["1", "2"]))
    return np.where((b >= 0) & (s >= 0), b * 2 + s, -1)


def acsc_values(admissions, person_year, lists) -> pa.Table:
    """``ind_values`` rows of ``acsc_<list>`` for each of ``lists`` from
    :func:`.acsc.acsc_admissions`: admissions of people registered in the year of admission."""
    from phm.model.common import fy_expr

    a = admissions.mutate(fy=fy_expr(admissions.admission_date),
                          month=admissions.admission_date.strftime("%Y-%m"))
    a = _area_of(a, person_year)
    a = a.filter(a.exposure_days > 0)
    levels = {**AREA_LEVELS, **EQUITY_LEVELS}
    cols = list(dict.fromkeys([*levels.values(), "fy", "month", "_py_age_band", "_py_sex"]))
    num = fetch(a.group_by(cols).aggregate(**{lst: a[f"acsc_{lst}"].cast("int64").sum() for lst in lists}))
    py = person_year.filter(person_year.exposure_days > 0)
    pcols = list(dict.fromkeys([*levels.values(), "fy", "age_band", "sex"]))
    den = fetch(py.group_by(pcols).aggregate(person_years=py.exposure_days.sum().cast("float64") / DAYS_PER_YEAR))
    b = fetch(person_year.group_by("fy").aggregate(s=person_year.fy_start.min(), e=person_year.fy_end.max()))
    share = _month_shares(dict(zip(b.column("fy").to_pylist(), zip(b.column("s").to_pylist(), b.column("e").to_pylist(),
                                                                   strict=True), strict=True)))
    parts = [_acsc_level(level, column, num, den, lists, share) for level, column in levels.items()]
    return pa.concat_tables(parts) if parts else empty_like(TYPES)


def _month_shares(bounds: dict) -> dict[int, np.ndarray]:
    """For each financial year, the share of its covered days (fy_start to fy_end: the extract
    date in the latest year) that fall in each of its 12 months (April first)."""
    import calendar
    import datetime as dt

    out = {}
    for fy, (start, end) in bounds.items():
        total = (end - start).days + 1
        days = []
        for m in range(12):
            month = (m + 3) % 12 + 1
            year = fy + (1 if month < 4 else 0)
            first = dt.date(year, month, 1)
            last = dt.date(year, month, calendar.monthrange(year, month)[1])
            days.append(max(0, (min(last, end) - max(first, start)).days + 1))
        out[fy] = np.array(days, float) / total
    return out


def _acsc_level(level: str, column: str, num: pa.Table, den: pa.Table, lists, share: dict) -> pa.Table:
    """Yearly and monthly DSRs of every list for the areas of one level, as matrices (area-year
    x age band-sex) filled with ``np.add.at``."""
    dk = _keys(den, [column, "fy"])
    universe = pc.unique(dk)
    ay_den = _index(dk, universe)
    n_ay = len(universe)
    cells_den = _cell(den, "age_band", "sex")
    pop = np.zeros((n_ay, len(CELLS)))
    ok = cells_den >= 0
    np.add.at(pop, (ay_den[ok], cells_den[ok]), den.column("person_years").to_numpy()[ok])
    parts = universe.to_pylist()
    area = [p.split("\x1f")[0] or None for p in parts]
    fy = np.array([int(p.split("\x1f")[1]) for p in parts])
    ay_num = _index(_keys(num, [column, "fy"]), universe)
    cells_num = _cell(num, "_py_age_band", "_py_sex")
    month = np.array([int(m[5:7]) for m in num.column("month").to_pylist()], dtype=np.int64)
    fm = (month - 4) % 12  # month of the financial year, 0 = April
    keep = (cells_num >= 0) & (ay_num >= 0)
    # months with an admission anywhere in the year: a month nobody was admitted in is not shown
    seen = np.zeros((int(fy.max() - fy.min() + 1) if n_ay else 0, 12), bool)
    if n_ay:
        seen[fy[ay_num[keep]] - fy.min(), fm[keep]] = True
    w = _esp_weights()
    out = []
    for lst in lists:
        cnt = num.column(lst).to_numpy(zero_copy_only=False).astype(float)
        year = np.zeros_like(pop)
        np.add.at(year, (ay_num[keep], cells_num[keep]), cnt[keep])
        mon = np.zeros((n_ay, 12, len(CELLS)))
        np.add.at(mon, (ay_num[keep], fm[keep], cells_num[keep]), cnt[keep])
        out.append(_dsr_table(f"acsc_{lst}", level, area, fy, None, np.where(pop > 0, year, 0.0), pop, w))
        rows_ay, rows_m = np.nonzero(seen[fy - fy.min()]) if n_ay else (np.array([], int), np.array([], int))
        labels = [_month_label(int(fy[i]), int(m)) for i, m in zip(rows_ay, rows_m, strict=True)]
        # a month's person-years: the year's times the month's share of the days the year covers
        # (the latest year ends at the extract date, so its months are not twelfths)
        p = pop[rows_ay] * np.array([share[int(fy[i])][m] for i, m in zip(rows_ay, rows_m, strict=True)])[:, None]
        out.append(_dsr_table(f"acsc_{lst}", level, [area[i] for i in rows_ay], fy[rows_ay], labels,
                              np.where(p > 0, mon[rows_ay, rows_m], 0.0), p, w))
    return pa.concat_tables(out)


def _month_label(fy: int, m: int) -> str:
    month = (m + 3) % 12 + 1
    return f"{fy + (1 if month < 4 else 0)}-{month:02d}"


def _dsr_table(indicator, level, area, fy, month, o, p, w) -> pa.Table:
    n = len(area)
    keep = p.sum(axis=1) > 0
    if not keep.all():
        area = [a for a, k in zip(area, keep, strict=True) if k]
        month = None if month is None else [m for m, k in zip(month, keep, strict=True) if k]
        fy, o, p, n = fy[keep], o[keep], p[keep], int(keep.sum())
    value, lower, upper = stats.dsr_many(o, p, w, multiplier=PER_100K) if n else (np.array([]),) * 3
    total, ptot = o.sum(axis=1), p.sum(axis=1)
    cl, cu = stats.poisson_ci(total) if n else (np.array([]), np.array([]))
    scale = PER_100K / ptot if n else np.array([])
    month = month or [None] * n
    nan = np.full(n, np.nan)
    return table({
        "indicator": [indicator] * n, "level": [level] * n, "area_code": area,
        "period": [m or fy_label(int(f)) for m, f in zip(month, fy, strict=True)], "fy": fy, "month": month,
        "numerator": total.astype(np.int64), "denominator": ptot,
        "value": value, "lower": lower, "upper": upper,
        "crude": total * scale, "crude_lower": np.asarray(cl) * scale, "crude_upper": np.asarray(cu) * scale,
        "expected": nan, "ratio": nan, "ratio_lower": nan, "ratio_upper": nan,
        "unit": ["per 100,000 person-years"] * n, "reference": ["ESP2013"] * n,
    }, TYPES)


__all__ = ["TYPES", "acsc_values", "fy_label", "observed_expected", "readmission_values"]
