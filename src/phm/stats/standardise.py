"""Directly and indirectly standardised rates/ratios.

Sources
-------
- Directly standardised rate with Dobson et al. confidence limits: Dobson AJ,
  Kuulasmaa K, Eberle E, Scherer J (1991) "Confidence intervals for weighted sums of
  Poisson parameters", Stat Med 10:457-462; Public Health England, *Technical Guide:
  Calculating directly standardised rates* (2017/2018); the CI is built on Byar's
  limits for the total count (Breslow & Day 1987). PHE suppresses DSRs whose total
  count is below 10.
- DSR for non-independent events (a person can contribute more than one event):
  the Dobson variance is replaced by ``sum_f f^2 var_f`` over event frequencies
  ``f``; Fingertips *Public Health Technical Guidance*, DSR chapter, as implemented
  in UKHSA PHEindicatormethods ``calculate_dsr(independent_events = FALSE)``
  (v2.1.0).
- Indirectly standardised ratio (observed / expected) with Byar's limits for
  observed >= 10 and exact Poisson (chi-square) limits for observed < 10: PHE
  Technical Guide *Confidence intervals*; behaviour matches UKHSA PHEindicatormethods
  ``calculate_ISRatio``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_bands, as_nonneg, check_conf, check_lengths, check_zero_pop
from .intervals import Estimate, byars_ci, poisson_ci

DSR_MIN_COUNT = 10


@dataclass(frozen=True)
class ISRResult:
    """Indirectly standardised ratio (x1) with confidence limits and expected count."""

    value: float
    lower: float
    upper: float
    expected: float


def _safe_rate(counts: np.ndarray, pops: np.ndarray) -> np.ndarray:
    """counts / pops with 0/0 taken as 0 (bands already checked for x>0, pop=0)."""
    out = np.zeros_like(counts, dtype=float)
    np.divide(counts, pops, out=out, where=pops > 0)
    return out


def dsr(
    counts, populations, standard_populations, conf: float = 0.95, multiplier: float = 100000
) -> Estimate:
    """Directly standardised rate with Dobson et al. (1991) confidence limits.

    ``DSR = sum(w_i O_i / n_i) / sum(w_i) * multiplier``;
    ``var = sum(w_i^2 O_i / n_i^2) / sum(w_i)^2``;
    limits ``DSR + sqrt(var / O) * (O_{L,U} - O) * multiplier`` where ``O`` is the
    total count and ``O_L, O_U`` are its Byar's limits (Dobson et al. 1991 Stat Med
    10:457-62; PHE "Calculating directly standardised rates"; Byar: Breslow & Day
    1987). Returns NaN for value and limits when the total count is below 10.
    """
    check_conf(conf)
    o = as_bands(counts, "counts")
    n = as_bands(populations, "populations")
    w = as_bands(standard_populations, "standard_populations")
    check_lengths(counts=o, populations=n, standard_populations=w)
    check_zero_pop(o, n, "counts", "populations")
    if w.sum() == 0:
        raise ValueError("standard_populations must not all be zero")
    total = o.sum()
    if total < DSR_MIN_COUNT:
        return Estimate(np.nan, np.nan, np.nan)
    sw = w.sum()
    rate = _safe_rate(o, n)
    value = float((w * rate).sum() / sw)
    var = float((w * w * _safe_rate(o, n * n)).sum() / sw**2)
    o_l, o_u = byars_ci(total, conf)
    k = np.sqrt(var / total)
    return Estimate(
        value=value * multiplier,
        lower=float((value + k * (o_l - total)) * multiplier),
        upper=float((value + k * (o_u - total)) * multiplier),
    )


def dsr_many(counts, populations, standard_populations, conf: float = 0.95, multiplier: float = 100000):
    """:func:`dsr` for many areas at once: ``counts`` and ``populations`` are 2-D (one row per
    area, one column per band), ``standard_populations`` 1-D. Returns ``(value, lower, upper)``
    arrays, NaN where the row's total count is below 10; each row equals :func:`dsr` of it
    (same Dobson et al. 1991 formula, Byar's limits on the total)."""
    check_conf(conf)
    o = np.atleast_2d(np.asarray(counts, dtype=float))
    n = np.atleast_2d(np.asarray(populations, dtype=float))
    w = np.asarray(standard_populations, dtype=float)
    if o.shape != n.shape or o.shape[1] != w.size:
        raise ValueError("counts and populations must have one row per area and one column per standard band")
    if np.any(o < 0) or np.any(n < 0) or np.any(w < 0):
        raise ValueError("counts, populations and standard_populations must not be negative")
    if np.any((o > 0) & (n == 0)):
        raise ValueError("a band has counts but zero population")
    sw = w.sum()
    if sw == 0:
        raise ValueError("standard_populations must not all be zero")
    rate = _safe_rate(o, n)
    value = (w * rate).sum(axis=1) / sw
    var = (w * w * _safe_rate(o, n * n)).sum(axis=1) / sw**2
    total = o.sum(axis=1)
    o_l, o_u = byars_ci(total, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.sqrt(var / total)
    small = total < DSR_MIN_COUNT
    nan = np.full(total.shape, np.nan)
    return (np.where(small, nan, value * multiplier),
            np.where(small, nan, (value + k * (np.asarray(o_l) - total)) * multiplier),
            np.where(small, nan, (value + k * (np.asarray(o_u) - total)) * multiplier))


def _frequency_table(persons_by_frequency) -> tuple[np.ndarray, list[np.ndarray]]:
    """Validate a {frequency: per-band persons} mapping; return frequencies and rows."""
    if not hasattr(persons_by_frequency, "items") or not persons_by_frequency:
        raise ValueError(
            "persons_by_frequency must be a non-empty mapping {event frequency: "
            "per-band counts of persons with that many events}"
        )
    freqs, rows = [], []
    for f, persons in persons_by_frequency.items():
        try:
            fv = float(f)
        except (TypeError, ValueError):
            raise ValueError(f"event frequency must be numeric, got {f!r}") from None
        if not (np.isfinite(fv) and fv > 0):
            raise ValueError(f"event frequency must be a positive number, got {f!r}")
        freqs.append(fv)
        rows.append(as_bands(persons, f"persons_by_frequency[{f!r}]"))
    return np.array(freqs), rows


def dsr_nonindependent(
    persons_by_frequency,
    populations,
    standard_populations,
    conf: float = 0.95,
    multiplier: float = 100000,
) -> Estimate:
    """Directly standardised rate of events that are not independent (repeat events).

    ``persons_by_frequency`` maps each event frequency ``f`` to per-band counts
    ``x_{f,i}`` of persons with exactly ``f`` events. The events per band are
    ``O_i = sum_f f x_{f,i}`` and the DSR is as :func:`dsr` on ``O_i``; the variance is
    ``var = sum_f f^2 var_f`` with ``var_f = sum(w_i^2 x_{f,i} / n_i^2) / sum(w_i)^2``
    (a person with ``f`` events contributes ``f`` times their Poisson variance, scaled
    by ``f``); limits ``DSR + sqrt(var / O) * (O_{L,U} - O) * multiplier`` with ``O``
    the total number of events and ``O_L, O_U`` its Byar's limits (Dobson et al. 1991
    Stat Med 10:457-62; Fingertips Public Health Technical Guidance, DSR chapter;
    PHEindicatormethods ``calculate_dsr(independent_events = FALSE, eventfreq,
    ageband)``). With every person at ``f = 1`` this equals :func:`dsr`. Returns NaN
    for value and limits when the total number of events is below 10.

    Raises ``ValueError`` for an empty mapping, non-positive frequencies, negative or
    non-finite counts, mismatched band lengths, or events in a band with zero
    population.
    """
    check_conf(conf)
    freqs, rows = _frequency_table(persons_by_frequency)
    n = as_bands(populations, "populations")
    w = as_bands(standard_populations, "standard_populations")
    check_lengths(
        populations=n,
        standard_populations=w,
        **{f"persons_by_frequency[{i}]": r for i, r in enumerate(rows)},
    )
    persons = np.vstack(rows)  # frequencies x bands
    events = (freqs[:, None] * persons).sum(axis=0)
    check_zero_pop(events, n, "persons_by_frequency", "populations")
    if w.sum() == 0:
        raise ValueError("standard_populations must not all be zero")
    total = float(events.sum())
    if total < DSR_MIN_COUNT:
        return Estimate(np.nan, np.nan, np.nan)
    sw = w.sum()
    value = float((w * _safe_rate(events, n)).sum() / sw)
    var_f = (w * w * _safe_rate(persons, n * n)).sum(axis=1) / sw**2
    var = float((freqs**2 * var_f).sum())
    o_l, o_u = byars_ci(total, conf)
    k = np.sqrt(var / total)
    return Estimate(
        value=value * multiplier,
        lower=float((value + k * (o_l - total)) * multiplier),
        upper=float((value + k * (o_u - total)) * multiplier),
    )


def isr(observed, populations, ref_counts, ref_populations, conf: float = 0.95) -> ISRResult:
    """Indirectly standardised ratio ``observed total / expected``.

    ``expected = sum(populations_i * ref_counts_i / ref_populations_i)``. Limits are
    the Poisson limits of the observed total divided by ``expected``: Byar's when
    observed >= 10, exact chi-square when < 10 (PHE Technical Guide: Confidence
    intervals; Breslow & Day 1987; PHEindicatormethods behaviour). ``observed`` is
    a per-band array or a scalar total.
    """
    check_conf(conf)
    n = as_bands(populations, "populations")
    rc = as_bands(ref_counts, "ref_counts")
    rn = as_bands(ref_populations, "ref_populations")
    obs = as_nonneg(observed, "observed")
    if obs.ndim == 0:
        total = float(obs)
        check_lengths(populations=n, ref_counts=rc, ref_populations=rn)
    else:
        obs = as_bands(obs, "observed")
        check_lengths(observed=obs, populations=n, ref_counts=rc, ref_populations=rn)
        check_zero_pop(obs, n, "observed", "populations")
        total = float(obs.sum())
    check_zero_pop(rc, rn, "ref_counts", "ref_populations")
    expected = float((n * _safe_rate(rc, rn)).sum())
    if expected <= 0:
        raise ValueError("expected count is zero (no reference events in populated bands)")
    lo, up = poisson_ci(total, conf)
    return ISRResult(
        value=total / expected,
        lower=float(lo) / expected,
        upper=float(up) / expected,
        expected=expected,
    )
