"""SHMI statistics: the case-mix model, expected deaths, the ratio and its banding.

Method: NHS England, *Summary Hospital-level Mortality Indicator (SHMI) - indicator
specification* v1.60 (June 2026), as described on the SHMI publication pages ("142 [now 144]
statistical models, each corresponding to a different diagnosis group ... constructed using a
3 year dataset and includes the following risk-adjustment variables: age, gender, method and
month of admission, Charlson comorbidity index, year index"; the SHMI is "the ratio between the
actual number of patients who die following hospitalisation at the trust and the number that
would be expected to die"). Sources: ``docs/research/indicators-shmi.md``.

1. The engine aggregates ``ind_shmi_spells`` (in-scope spells) to cells of provider, month of
   discharge and the case-mix variables (one query); nothing patient-level leaves it.
2. One logistic regression per diagnosis group (scikit-learn, categorical variables one-hot
   encoded, fitted on the cells with their deaths and survivals as weights, which is the same
   likelihood as one row per spell; a light ridge penalty, ``C = 10``, keeps coefficients finite
   where a category has no deaths), over every year of the warehouse with ``year_index`` as a
   variable. A group with no deaths (or no survivors) takes its crude rate. The reference is
   therefore the warehouse's own case-mix model, not England's (England's coefficients are
   published monthly but phm does not ship them): ``reference`` says so.
3. Expected deaths E = the sum of the predicted probabilities; SHMI = O / E, with Byar's limits
   on O (exact Poisson below 10) divided by E (the ratio's 95% confidence interval).
4. Banding, for each financial year and for all years pooled: the 95% control limits of the overdispersed funnel,
   ``exp(-/+ 1.96 sqrt(1/E + tau2))`` with ``tau2`` from the 10% trimmed z-scores
   ``sqrt(E) ln(O/E)`` (Spiegelhalter 2005; :func:`phm.stats.overdispersion`,
   ``method="truncate"``, ``statistic="ratio"``). SHMI estimates ``tau2`` over about 120
   trusts; the trim only removes a trust at each end from 10 providers, so with fewer
   providers (one ICB's) phm sets ``tau2 = 0`` and says so in ``overdispersion``. A provider
   with no deaths has no log z-score and is left out of the estimate. Band 1 "higher than
   expected" above the upper limit, 3 "lower than expected" below the lower, else 2.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from phm import stats
from phm.analysis._common import table
from phm.indicators.mortality import INVALID
from phm.indicators.values import TYPES, fy_label, observed_expected
from phm.warehouse import fetch

FEATURES = ("age_band", "sex", "method", "admission_month", "charlson_group", "year_index")
CELL = ("diagnosis_group", "age_band", "sex", "method", "admission_month", "charlson_group", "fy")
MIN_OVERDISPERSION_UNITS = 10
PENALTY_C = 10.0
BANDS = {1: "higher than expected", 2: "as expected", 3: "lower than expected"}
S, I64, F64 = pa.string(), pa.int64(), pa.float64()
SHMI_TYPES = {
    "provider_code": S, "period": S, "fy": I64, "spells": I64, "observed": I64, "expected": F64,
    "shmi": F64, "lower_limit": F64, "upper_limit": F64, "band": I64, "banding": S, "tau2": F64,
    "overdispersion": S, "died_in_hospital": I64, "died_after_discharge": I64, "reference": S,
}
GROUP_TYPES = {"provider_code": S, "fy": I64, "diagnosis_group": S, "spells": I64, "observed": I64,
               "expected": F64, "ratio": F64}


def shmi_cells(spells) -> pa.Table:
    """The in-scope spells aggregated to provider x month x case-mix cell: ``n`` spells, ``d``
    deaths, ``h`` of them in hospital."""
    t = spells.filter(spells.excluded.isnull())
    keys = ["provider_code", "month", *CELL]
    cells = fetch(t.group_by(keys).aggregate(
        n=t.count(), d=t.died.cast("int64").sum(), h=t.died_in_hospital.cast("int64").sum()))
    return cells.sort_by([(k, "ascending") for k in keys])  # the same fit on every engine


def expected_deaths(cells: pa.Table) -> np.ndarray:
    """The expected deaths of each row of ``cells`` (its spells times the modelled probability)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    df = cells.to_pandas()
    df["year_index"] = (df["fy"] - df["fy"].min() + 1).astype(str)
    df["admission_month"] = df["admission_month"].astype(str)
    out = np.zeros(len(df))
    for group, g in df.groupby("diagnosis_group", sort=True):
        n, d = g["n"].to_numpy(float), g["d"].to_numpy(float)
        if d.sum() == 0 or d.sum() == n.sum():
            out[g.index.to_numpy()] = n * d.sum() / n.sum()
            continue
        feats = [f for f in FEATURES if not (f == "charlson_group" and group == INVALID)]
        enc = OneHotEncoder(handle_unknown="ignore")
        x = enc.fit_transform(g[feats].astype(str))
        died, lived = d > 0, n - d > 0
        xs = sparse.vstack([x[died], x[lived]]).tocsr()
        y = np.r_[np.ones(died.sum()), np.zeros(lived.sum())]
        w = np.r_[d[died], (n - d)[lived]]
        model = LogisticRegression(C=PENALTY_C, max_iter=2000).fit(xs, y, sample_weight=w)
        out[g.index.to_numpy()] = n * model.predict_proba(x)[:, 1]
    return out


def shmi_tables(spells) -> dict[str, pa.Table]:
    """``ind_shmi`` (the SHMI by provider and financial year, banded), ``ind_shmi_groups`` (by
    diagnosis group) and the ``shmi`` rows of ``ind_values`` (yearly and monthly ratios with
    confidence limits)."""
    cells = shmi_cells(spells)
    if not cells.num_rows:
        empty = {"ind_shmi": SHMI_TYPES, "ind_shmi_groups": GROUP_TYPES, "values": TYPES}
        return {k: table({c: [] for c in v}, v) for k, v in empty.items()}
    cells = cells.append_column("e", pa.array(expected_deaths(cells)))
    year = _sums(cells, ["provider_code", "fy"])
    month = _sums(cells, ["provider_code", "fy", "month"])
    groups = _sums(cells, ["provider_code", "fy", "diagnosis_group"])
    o, e = (groups.column(c).to_numpy().astype(float) for c in ("d", "e"))
    ind_groups = table({"provider_code": groups.column("provider_code").to_pylist(),
                        "fy": groups.column("fy").to_pylist(),
                        "diagnosis_group": groups.column("diagnosis_group").to_pylist(),
                        "spells": groups.column("n").to_pylist(), "observed": o.astype(np.int64),
                        "expected": e, "ratio": np.where(e > 0, o / np.where(e > 0, e, 1), np.nan)}, GROUP_TYPES)
    return {"ind_shmi": banded(year), "ind_shmi_groups": ind_groups,
            "values": pa.concat_tables([_values(year, False), _values(month, True)])}


def _sums(cells: pa.Table, keys: list[str]) -> pa.Table:
    g = cells.group_by(keys).aggregate([(c, "sum") for c in ("n", "d", "h", "e")])
    g = g.rename_columns([c.removesuffix("_sum") for c in g.column_names])
    return g.sort_by([(k, "ascending") for k in keys])


def banded(year: pa.Table) -> pa.Table:
    """``ind_shmi`` from provider x year sums (``n``, ``d``, ``h``, ``e``): each financial year,
    then every year pooled (``fy`` null; SHMI's model is fitted over three years, and one ICB's
    trusts have too few deaths in one year to band any but a large excess)."""
    years = sorted(set(year.column("fy").to_pylist()))
    parts = [_band(year.filter(pc.equal(year["fy"], fy)), fy_label(fy), fy) for fy in years]
    pooled = _sums(year, ["provider_code"])
    parts.append(_band(pooled, f"{fy_label(years[0])} to {fy_label(years[-1])}", None))
    return pa.concat_tables(parts)


def _band(g: pa.Table, period: str, fy: int | None) -> pa.Table:
    o, e = g.column("d").to_numpy().astype(float), g.column("e").to_numpy().astype(float)
    tau2, how = overdispersion(o, e)
    ok = e > 0
    lo, hi = np.full(e.size, np.nan), np.full(e.size, np.nan)
    if ok.any():
        lo[ok], hi[ok] = stats.overdispersed_ratio_limits(e[ok], tau2)
    ratio = np.where(ok, o / np.where(ok, e, 1), np.nan)
    band = np.where(ratio > hi, 1, np.where(ratio < lo, 3, 2))
    k = g.num_rows
    return table({
        "provider_code": g.column("provider_code").to_pylist(), "period": [period] * k, "fy": [fy] * k,
        "spells": g.column("n").to_pylist(), "observed": o.astype(np.int64), "expected": e, "shmi": ratio,
        "lower_limit": lo, "upper_limit": hi, "band": band.astype(np.int64),
        "banding": [BANDS[int(b)] for b in band], "tau2": [tau2] * k, "overdispersion": [how] * k,
        "died_in_hospital": g.column("h").to_pylist(),
        "died_after_discharge": (o - g.column("h").to_numpy()).astype(np.int64),
        "reference": ["warehouse case-mix model"] * k,
    }, SHMI_TYPES)


def overdispersion(observed: np.ndarray, expected: np.ndarray) -> tuple[float, str]:
    """``tau2`` for the funnel over the providers of one year, and how it was set."""
    use = (observed > 0) & (expected > 0)
    n = int(use.sum())
    if n < MIN_OVERDISPERSION_UNITS:
        return 0.0, (f"not estimated: {n} providers with deaths, fewer than {MIN_OVERDISPERSION_UNITS} "
                     "(SHMI estimates it over every English trust); tau2 = 0")
    od = stats.overdispersion(observed[use], expected[use], statistic="ratio", method="truncate", trim=0.1)
    return od.tau2, f"estimated over {od.n_used} of {n} providers after the 10% trim (phi {od.phi:.3f})"


def _values(g: pa.Table, monthly: bool) -> pa.Table:
    o, n, e = (g.column(c).to_numpy().astype(float) for c in ("d", "n", "e"))
    fy = g.column("fy").to_pylist()
    oe = observed_expected(o, n, e)
    month = g.column("month").to_pylist() if monthly else [None] * g.num_rows
    k = g.num_rows
    cols = {
        "indicator": ["shmi"] * k, "level": ["provider"] * k, "area_code": g.column("provider_code").to_pylist(),
        "period": [m or fy_label(f) for m, f in zip(month, fy, strict=True)], "fy": fy, "month": month,
        "value": oe["ratio"], "lower": oe["ratio_lower"], "upper": oe["ratio_upper"], **oe,
        "unit": ["ratio"] * k, "reference": ["warehouse case-mix model"] * k,
    }
    return table({k: cols[k] for k in TYPES}, TYPES)  # in TYPES' order


__all__ = ["BANDS", "GROUP_TYPES", "SHMI_TYPES", "banded", "expected_deaths", "overdispersion", "shmi_cells",
           "shmi_tables"]
