"""Funnel-plot control limits for comparing institutional performance.

Sources
-------
- Spiegelhalter DJ (2005) "Funnel plots for comparing institutional performance",
  *Statistics in Medicine* 24:1185-1202 (control limits around a target as a function
  of the precision parameter; exact Poisson limits for standardised ratios).
- Public Health England / OHID Fingertips funnel-plot method, as implemented in
  UKHSA PHEindicatormethods (``phe_funnels`` / ``calculate_funnel_limits``,
  ``statistic = "proportion"``): limits obtained by inverting the Wilson score
  interval (Wilson 1927 JASA 22:209-212).
- Exact Poisson limits for a standardised ratio with target 1 as in
  nhs-r-community FunnelPlotR (``poisson_limits``).
- Rate funnels (crude rates and directly standardised rates) as in UKHSA
  PHEindicatormethods ``calculate_funnel_limits(statistic = "rate")`` /
  ``phe_funnels``: the baseline is the pooled rate over denominators derived from
  each record's rate, and the limits are the observed rates at which an exact
  Poisson test of the events against the baseline is just significant (Fingertips
  funnel-plot method; exact Poisson limits: Garwood F (1936) Biometrika 28:437-442).
- Overdispersion: Spiegelhalter DJ (2005) "Handling over-dispersion of performance
  indicators", *Quality and Safety in Health Care* 14:347-351, and Spiegelhalter
  (2005) Stat Med 24:1185-1202 (z-scores on a variance-stabilising scale,
  winsorised, dispersion ratio phi, additive random-effects variance tau^2), as
  implemented in nhs-r-community FunnelPlotR (``transformed_zscore``,
  ``winsorisation``, ``truncation``, ``phi_func``, ``tau_func``,
  ``calculate_limits``): log scale for standardised ratios (the SHMI form, NHS
  Digital *SHMI methodology*), arcsine-square-root scale for proportions.

Conventional limit levels are ``conf=0.95`` (approx. 2 sigma, p = 0.025 each side) and
``conf=0.998`` (approx. 3 sigma, p = 0.001 each side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import optimize as _opt
from scipy import special as _sp
from scipy import stats as _st

from ._validate import (
    as_nonneg,
    as_positive,
    as_vector,
    check_conf,
    check_lengths,
    positive_float,
    scalar_or_array,
    z_value,
)


def _proportion_target(target) -> float:
    try:
        t = float(target)
    except (TypeError, ValueError):
        raise ValueError(f"target must be a proportion in [0, 1], got {target!r}") from None
    if not (0.0 <= t <= 1.0):
        raise ValueError(
            f"target must be a proportion in [0, 1] (not a percentage), got {target!r}"
        )
    return t


def proportion_limits(n, target: float, conf: float = 0.95):
    """Funnel-plot control limits for a proportion with target ``target`` (0..1).

    An observed proportion ``p`` lies on a limit exactly when ``target`` is an end
    point of the Wilson score interval for ``p`` at denominator ``n``; the Wilson
    interval is ``{t : (p - t)^2 <= z^2 t (1 - t) / n}``, so inverting it gives

        ``lower, upper = target -/+ z * sqrt(target (1 - target) / n)``

    truncated to [0, 1], with ``z`` the two-sided normal quantile for ``conf``
    (Spiegelhalter 2005 Stat Med 24:1185-1202; Fingertips / UKHSA
    PHEindicatormethods proportion funnels, p = 0.975 and 0.999 for ``conf`` 0.95 and
    0.998). Limits are proportions (multiply by 100 for percentages).

    ``n`` (denominators, > 0) may be a scalar (floats returned) or array-like (arrays
    returned). Raises ``ValueError`` for non-positive/non-finite ``n``, ``target``
    outside [0, 1], or ``conf`` outside (0, 1).
    """
    z = z_value(conf)
    na = as_nonneg(n, "n")
    if np.any(na == 0):
        raise ValueError("n (denominator) must be positive")
    t = _proportion_target(target)
    half = z * np.sqrt(t * (1.0 - t) / na)
    lower = np.clip(t - half, 0.0, 1.0)
    upper = np.clip(t + half, 0.0, 1.0)
    return scalar_or_array(lower), scalar_or_array(upper)


def ratio_limits(expected, conf: float = 0.95):
    """Exact Poisson funnel limits for a standardised ratio O/E with target 1.

    With ``alpha = 1 - conf``:
    ``lower = chi2_{alpha/2}(2E) / (2E)`` and ``upper = chi2_{1-alpha/2}(2E+2) / (2E)``,
    i.e. the exact (Garwood) Poisson interval for a count with mean ``E`` divided by
    ``E`` (Spiegelhalter 2005 Stat Med 24:1185-1202; nhs-r-community FunnelPlotR
    ``poisson_limits``). Multiply by 100 for SMR-style ratios.

    ``expected`` (> 0) may be a scalar (floats returned) or array-like (arrays
    returned). Raises ``ValueError`` for non-positive/non-finite ``expected`` or
    ``conf`` outside (0, 1).
    """
    c = check_conf(conf)
    e = as_nonneg(expected, "expected")
    if np.any(e == 0):
        raise ValueError("expected must be positive")
    alpha = 1.0 - c
    lower = _st.chi2.ppf(alpha / 2.0, 2.0 * e) / (2.0 * e)
    upper = _st.chi2.ppf(1.0 - alpha / 2.0, 2.0 * e + 2.0) / (2.0 * e)
    return scalar_or_array(lower), scalar_or_array(upper)


# ---- rate funnels (PHEindicatormethods statistic = "rate") ----------------------------

RATE_TYPES = ("dsr", "crude")


def rate_funnel_baseline(
    events, rates, rate_type: str, multiplier: float = 100000, populations=None
) -> float:
    """Baseline (centre line) of a funnel plot of crude rates or DSRs, per ``multiplier``.

    As UKHSA PHEindicatormethods ``calculate_funnel_limits(statistic = "rate")``
    (Fingertips funnel-plot method): each record's denominator is derived from its
    rate, ``d_i = multiplier * O_i / r_i`` (for a DSR, the population that would give
    the DSR as a crude rate), and the baseline is ``sum(O_i) / sum(d_i) * multiplier``.
    Records with no events have no derived denominator: with ``rate_type="dsr"`` they
    are left out of ``sum(d_i)`` (their events, zero, still count); with
    ``rate_type="crude"`` their population from ``populations`` is used instead and
    must be given and positive. (PHEindicatormethods also demands a denominator for
    zero-event DSR records but does not use it; here ``populations`` is optional
    for DSRs.)

    ``events`` (>= 0) and ``rates`` are 1-D sequences, one entry per area; a rate is
    required (positive, finite) where events > 0 and ignored (may be NaN) where
    events = 0. Raises ``ValueError`` for an unknown ``rate_type``, mismatched lengths,
    invalid values, or no positive derived denominator.
    """
    if rate_type not in RATE_TYPES:
        raise ValueError(f"rate_type must be one of {RATE_TYPES}, got {rate_type!r}")
    mult = positive_float(multiplier, "multiplier")
    o = as_vector(events, "events")
    try:
        r = np.asarray(rates, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("rates must be numeric") from None
    if r.ndim != 1:
        raise ValueError("rates must be a 1-D sequence (one rate per area)")
    check_lengths(events=o, rates=r)
    has_events = o > 0
    bad = has_events & ~(np.isfinite(r) & (r > 0))
    if np.any(bad):
        idx = np.flatnonzero(bad).tolist()
        raise ValueError(f"rates must be positive and finite where events > 0 (entries {idx})")
    derived = np.zeros_like(o)
    np.divide(mult * o, r, out=derived, where=has_events)
    if rate_type == "crude" and not np.all(has_events):
        if populations is None:
            raise ValueError(
                "populations are required for crude rates when some areas have 0 events"
            )
        n = as_vector(populations, "populations")
        check_lengths(events=o, populations=n)
        if np.any(n[~has_events] <= 0):
            raise ValueError("populations must be positive for areas with 0 events")
        derived = np.where(has_events, derived, n)
    elif populations is not None:
        check_lengths(events=o, populations=as_vector(populations, "populations"))
    total = float(derived.sum())
    if total <= 0:
        raise ValueError("no area has a positive derived denominator (all events are 0?)")
    return float(o.sum()) / total * mult


def _funnel_rate_args(target, multiplier, years_of_data) -> tuple[float, float, float]:
    return (
        positive_float(target, "target"),
        positive_float(multiplier, "multiplier"),
        positive_float(years_of_data, "years_of_data"),
    )


def _lowest_count(mean: float, tail: float) -> float:
    """Smallest count E >= 0 with P(X <= E) >= tail for X ~ Poisson(mean), E continuous.

    Solves ``Q(E + 1, mean) = tail`` (regularised upper incomplete gamma, which equals
    P(X <= E) at whole E); 0 when even E = 0 is not significantly low.
    """
    if np.exp(-mean) >= tail:
        return 0.0
    return _opt.brentq(lambda e: _sp.gammaincc(e + 1.0, mean) - tail, 0.0, mean, xtol=1e-300)


def _highest_count(mean: float, tail: float) -> float:
    """Count E > 0 with P(X >= E) = tail for X ~ Poisson(mean): solves ``P(E, mean) = tail``."""
    hi = mean + 10.0 * np.sqrt(mean) + 10.0
    while _sp.gammainc(hi, mean) > tail:
        hi *= 2.0
    return _opt.brentq(lambda e: _sp.gammainc(e, mean) - tail, 0.0, hi, xtol=1e-300)


def rate_limits(
    population, target: float, conf: float = 0.95, multiplier: float = 100000, years_of_data=1
):
    """Funnel-plot limits for a crude rate or DSR at a given annual population.

    The limits are the observed rates at which an exact Poisson test of the events
    against the baseline ``target`` (per ``multiplier``) is just significant at
    two-sided level ``1 - conf``. With ``m = target / multiplier * population *
    years_of_data`` events expected at the baseline, the lower limit is ``E_L / (
    population * years_of_data) * multiplier`` where ``P(X <= E_L) = (1 - conf) / 2``
    and the upper limit uses ``E_U`` with ``P(X >= E_U) = (1 - conf) / 2``, for
    ``X ~ Poisson(m)``; the counts are made continuous through the incomplete gamma
    function (``P(X <= E) = Q(E + 1, m)``, ``P(X >= E) = P(E, m)``), i.e. the
    chi-square form of the exact interval (Garwood 1936). The lower limit is 0 when
    ``m <= -ln((1 - conf) / 2)``.

    This is the curve that UKHSA PHEindicatormethods ``calculate_funnel_limits(
    statistic = "rate")`` tabulates at whole numbers of events (see
    :func:`rate_limit_points`; Fingertips funnel-plot method), for both
    ``rate_type = "crude"`` and ``"dsr"`` - the two differ only in how the baseline
    is derived (:func:`rate_funnel_baseline`). ``population`` is the annual population
    (PHEindicatormethods' ``*_population_1_year`` axis); ``years_of_data`` is the
    number of years the rates pool. PHE does not assess DSRs based on fewer than 10
    events against the funnel.

    ``population`` (> 0) may be a scalar (floats returned) or array-like (arrays
    returned). Raises ``ValueError`` for non-positive/non-finite ``population``,
    ``target``, ``multiplier`` or ``years_of_data``, or ``conf`` outside (0, 1).
    """
    tail = (1.0 - check_conf(conf)) / 2.0
    t, mult, years = _funnel_rate_args(target, multiplier, years_of_data)
    person_years = as_positive(population, "population") * years
    means = np.atleast_1d(t / mult * person_years)
    e_low = np.array([_lowest_count(m, tail) for m in means]).reshape(person_years.shape)
    e_high = np.array([_highest_count(m, tail) for m in means]).reshape(person_years.shape)
    lower = e_low / person_years * mult
    upper = e_high / person_years * mult
    return scalar_or_array(lower), scalar_or_array(upper)


class RateFunnelPoints(NamedTuple):
    """Rate-funnel limits tabulated by number of events (PHEindicatormethods layout).

    ``lower`` is the lower limit rate, reached at annual population
    ``lower_population``; likewise ``upper`` at ``upper_population``.
    """

    lower_population: np.ndarray | float
    lower: np.ndarray | float
    upper_population: np.ndarray | float
    upper: np.ndarray | float


def rate_limit_points(
    events, target: float, conf: float = 0.95, multiplier: float = 100000, years_of_data=1
) -> RateFunnelPoints:
    """Points on the rate-funnel limits, one per number of events ``E``.

    As UKHSA PHEindicatormethods ``calculate_funnel_limits(statistic = "rate")``
    (columns ``lower_2s_population_1_year``, ``lower_2s_limit``, ... for
    ``conf=0.95``; ``..._3s_...`` for ``conf=0.998``): with ``alpha = 1 - conf`` and
    baseline ``b = target / multiplier``, ``mu_U = chi2_{1-alpha/2}(2E+2) / 2`` and
    ``mu_L = chi2_{alpha/2}(2E) / 2`` are the exact Poisson limits of ``E`` (Garwood
    1936); E events in a population of ``mu_U / b`` person-years is just significantly
    low, so ``lower = E * target / mu_U`` at annual population
    ``mu_U / b / years_of_data``, and ``upper = E * target / mu_L`` at
    ``mu_L / b / years_of_data``. The same curve as :func:`rate_limits`, evaluated at
    whole (or any positive) numbers of events. PHEindicatormethods finds ``mu_U`` and
    ``mu_L`` by bisection to a step of 1e-7 (``poisson_funnel``); here they are the
    chi-square quantiles themselves.

    ``events`` (> 0) may be a scalar (floats returned) or array-like (arrays
    returned). Raises ``ValueError`` for non-positive/non-finite inputs or ``conf``
    outside (0, 1).
    """
    alpha = 1.0 - check_conf(conf)
    t, mult, years = _funnel_rate_args(target, multiplier, years_of_data)
    e = as_positive(events, "events")
    mu_high = _st.chi2.ppf(1.0 - alpha / 2.0, 2.0 * e + 2.0) / 2.0
    mu_low = _st.chi2.ppf(alpha / 2.0, 2.0 * e) / 2.0
    base = t / mult
    return RateFunnelPoints(
        lower_population=scalar_or_array(mu_high / base / years),
        lower=scalar_or_array(e * t / mu_high),
        upper_population=scalar_or_array(mu_low / base / years),
        upper=scalar_or_array(e * t / mu_low),
    )


# ---- overdispersion (Spiegelhalter 2005; FunnelPlotR) -------------------------------

OD_STATISTICS = ("ratio", "proportion")
OD_METHODS = ("winsorise", "truncate")


@dataclass(frozen=True)
class Overdispersion:
    """Dispersion ratio ``phi`` and between-unit variance ``tau2`` of funnel-plot data.

    ``tau2`` is on the transformed scale of the statistic (log for ratios,
    arcsine-square-root for proportions); ``n_used`` is the number of units that
    entered ``phi`` (all units when winsorising; fewer after truncation).
    """

    phi: float
    tau2: float
    n_used: int


def _z_scores(numerators, denominators, statistic: str) -> tuple[np.ndarray, np.ndarray]:
    """Unadjusted z-scores and within-unit standard errors on the transformed scale."""
    if statistic not in OD_STATISTICS:
        raise ValueError(f"statistic must be one of {OD_STATISTICS}, got {statistic!r}")
    if statistic == "ratio":
        o = as_vector(numerators, "observed", min_len=2)
        e = as_vector(denominators, "expected", min_len=2)
        check_lengths(observed=o, expected=e)
        if np.any(e == 0):
            raise ValueError("expected must be positive")
        if np.any(o == 0):
            raise ValueError("observed must be positive for the log (SHMI) transform")
        return np.sqrt(e) * np.log(o / e), 1.0 / np.sqrt(e)
    x = as_vector(numerators, "x", min_len=2)
    n = as_vector(denominators, "n", min_len=2)
    check_lengths(x=x, n=n)
    if np.any(n == 0):
        raise ValueError("n (denominator) must be positive")
    if np.any(x > n):
        raise ValueError("x (numerator) must not exceed n (denominator)")
    s = 1.0 / (2.0 * np.sqrt(n))
    centre = np.arcsin(np.sqrt(x.sum() / n.sum()))
    return (np.arcsin(np.sqrt(x / n)) - centre) / s, s


def overdispersion(
    numerators,
    denominators,
    statistic: str = "ratio",
    trim: float = 0.1,
    method: str = "winsorise",
) -> Overdispersion:
    """Spiegelhalter (2005) overdispersion estimate for funnel-plot data.

    z-scores on a variance-stabilising scale: for ``statistic="ratio"`` (observed
    ``O``, expected ``E``, target 1) ``Y = ln(O/E)``, ``s = 1/sqrt(E)``, ``z = Y/s``
    (the SHMI form); for ``statistic="proportion"`` (``x`` of ``n``)
    ``Y = arcsin(sqrt(x/n))``, ``s = 1/(2 sqrt(n))`` and ``z = (Y - arcsin(sqrt(p)))/s``
    with ``p = sum(x)/sum(n)``. With ``method="winsorise"`` z-scores below the ``trim``
    quantile (or above the ``1 - trim`` quantile; linear interpolation, R's type 7)
    are set to that quantile; with ``method="truncate"`` (the SHMI / NHS Digital
    variant, FunnelPlotR's default for standardised ratios) units with
    ``floor(rank * k / (I + 1))`` equal to 0 or at least ``k - 1``, ``k = 1/trim``,
    are dropped. Over the ``I`` units kept, ``phi = mean(z^2)`` and, with
    ``w = 1/s^2``,
    ``tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w))``
    (0 when ``I phi < I - 1``). Sources: Spiegelhalter DJ (2005) Qual Saf Health Care
    14:347-351 and Stat Med 24:1185-1202; nhs-r-community FunnelPlotR
    (``transformed_zscore``, ``winsorisation``, ``truncation``, ``phi_func``,
    ``tau_func``).

    Use ``tau2`` with :func:`overdispersed_ratio_limits` or
    :func:`overdispersed_proportion_limits` (same scale). Raises ``ValueError`` for an
    unknown ``statistic``/``method``, fewer than two units (before or after
    truncation), zero observed counts (log undefined), ``x > n``, non-positive
    denominators, or ``trim`` outside [0, 0.5) (``(0, 0.5)`` for truncation).
    """
    if method not in OD_METHODS:
        raise ValueError(f"method must be one of {OD_METHODS}, got {method!r}")
    try:
        tr = float(trim)
    except (TypeError, ValueError):
        raise ValueError(f"trim must be a number in [0, 0.5), got {trim!r}") from None
    if not (0.0 <= tr < 0.5):
        raise ValueError(f"trim must be in [0, 0.5), got {trim!r}")
    if method == "truncate" and tr == 0.0:
        raise ValueError("trim must be positive for truncation (k = 1/trim groups)")
    z, s = _z_scores(numerators, denominators, statistic)
    if method == "winsorise":
        lz, uz = np.quantile(z, [tr, 1.0 - tr])
        zw = np.clip(z, lz, uz)
    else:
        k = 1.0 / tr
        group = np.floor(_st.rankdata(z, method="average") * k / (z.size + 1))
        keep = (group > 0) & (group < k - 1)
        zw, s = z[keep], s[keep]
        if zw.size < 2:
            raise ValueError("fewer than two units remain after truncation")
    units = zw.size
    phi = float(np.mean(zw**2))
    if units * phi < units - 1:
        return Overdispersion(phi=phi, tau2=0.0, n_used=units)
    w = 1.0 / s**2
    tau2 = (units * phi - (units - 1)) / (w.sum() - (w**2).sum() / w.sum())
    return Overdispersion(phi=phi, tau2=float(max(0.0, tau2)), n_used=units)


def _tau2(tau2) -> float:
    try:
        t = float(tau2)
    except (TypeError, ValueError):
        raise ValueError(f"tau2 must be a non-negative number, got {tau2!r}") from None
    if not (np.isfinite(t) and t >= 0):
        raise ValueError(f"tau2 must be a non-negative finite number, got {tau2!r}")
    return t


def overdispersed_ratio_limits(expected, tau2: float, conf: float = 0.95):
    """Overdispersion-adjusted funnel limits for a standardised ratio O/E (target 1).

    ``lower, upper = exp(-/+ z * sqrt(1/E + tau2))``: the log-scale (SHMI) limits
    with the between-unit variance ``tau2`` from :func:`overdispersion` added to the
    within-unit variance ``1/E`` (Spiegelhalter 2005 Stat Med 24:1185-1202;
    FunnelPlotR ``calculate_limits``, ``sr_method = "SHMI"``). With ``tau2 = 0`` these
    are the log-normal approximations ``exp(-/+ z / sqrt(E))``, not the exact Poisson
    limits of :func:`ratio_limits`. Multiply by 100 for SMR-style ratios.

    ``expected`` (> 0) may be a scalar (floats returned) or array-like (arrays
    returned). Raises ``ValueError`` for non-positive ``expected``, negative or
    non-finite ``tau2``, or ``conf`` outside (0, 1).
    """
    z = z_value(conf)
    e = as_positive(expected, "expected")
    half = z * np.sqrt(1.0 / e + _tau2(tau2))
    return scalar_or_array(np.exp(-half)), scalar_or_array(np.exp(half))


def overdispersed_proportion_limits(n, target: float, tau2: float, conf: float = 0.95):
    """Overdispersion-adjusted funnel limits for a proportion with target ``target``.

    On the arcsine-square-root scale, ``lower, upper = sin^2(arcsin(sqrt(target))
    -/+ z * sqrt(1/(4n) + tau2))``, with ``tau2`` from
    ``overdispersion(..., statistic="proportion")`` (Spiegelhalter 2005 Stat Med
    24:1185-1202; FunnelPlotR ``calculate_limits``, ``data_type = "PR"``). Where the
    angle passes 0 (or pi/2) the limit is 0 (or 1), which is what FunnelPlotR's
    monotonicity correction achieves on its plotting grid. With ``tau2 = 0`` these
    are the arcsine approximations, not the Wilson-inversion limits of
    :func:`proportion_limits`. Limits are proportions (multiply by 100 for
    percentages).

    ``n`` (> 0) may be a scalar (floats returned) or array-like (arrays returned).
    Raises ``ValueError`` for non-positive ``n``, ``target`` outside [0, 1], negative
    or non-finite ``tau2``, or ``conf`` outside (0, 1).
    """
    z = z_value(conf)
    na = as_positive(n, "n")
    t = _proportion_target(target)
    half = z * np.sqrt(1.0 / (4.0 * na) + _tau2(tau2))
    centre = np.arcsin(np.sqrt(t))
    lo_angle, hi_angle = centre - half, centre + half
    lower = np.where(lo_angle <= 0.0, 0.0, np.sin(np.maximum(lo_angle, 0.0)) ** 2)
    upper = np.where(hi_angle >= np.pi / 2.0, 1.0, np.sin(np.minimum(hi_angle, np.pi / 2)) ** 2)
    return scalar_or_array(lower), scalar_or_array(upper)
