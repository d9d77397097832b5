"""Confidence intervals for counts, rates and proportions.

Sources
-------
- Byar's approximation to the Poisson interval: Breslow NE, Day NE (1987).
  *Statistical Methods in Cancer Research, Vol. II: The Design and Analysis of Cohort
  Studies.* IARC Scientific Publications No. 82, Lyon: IARC, p. 69.
- Exact Poisson interval via the chi-square distribution: Garwood F (1936) Biometrika
  28:437-442; as used in the PHE Technical Guide *Confidence intervals* (Public
  Health England / APHO), for counts below 10.
- Wilson score interval: Wilson EB (1927) "Probable inference, the law of succession,
  and statistical inference", JASA 22:209-212; PHE Technical Guide *Confidence
  intervals*.
- NA rule (a Byar's lower limit below zero is reported as missing) and the
  Byar's-for-count>=10 / exact-for-count<10 split for crude rates follow the PHE
  Technical Guide and UKHSA PHEindicatormethods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special as _sp

from ._validate import as_nonneg, check_conf, scalar_or_array, z_value


@dataclass(frozen=True)
class Estimate:
    """A point estimate with lower and upper confidence limits (NaN = not reported)."""

    value: float
    lower: float
    upper: float


def byars_ci(observed, conf: float = 0.95):
    """Byar's approximate confidence interval for a Poisson count.

    ``lower = O (1 - 1/(9O) - z/(3 sqrt O))^3`` and
    ``upper = (O+1) (1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3``
    (Breslow & Day 1987, p. 69; PHE Technical Guide: Confidence intervals).
    A lower limit below zero (or a count of zero) gives NaN, the PHE NA rule.

    ``observed`` may be a scalar (floats returned) or array-like (arrays returned).
    """
    z = z_value(conf)
    o = as_nonneg(observed, "observed")
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = o * (1.0 - 1.0 / (9.0 * o) - z / (3.0 * np.sqrt(o))) ** 3
        o1 = o + 1.0
        upper = o1 * (1.0 - 1.0 / (9.0 * o1) + z / (3.0 * np.sqrt(o1))) ** 3
    lower = np.where((o > 0) & (lower >= 0), lower, np.nan)
    return scalar_or_array(lower), scalar_or_array(upper)


def exact_poisson_ci(observed, conf: float = 0.95):
    """Exact (Garwood) Poisson interval for a count, via chi-square quantiles.

    ``lower = chi2_{(1-conf)/2}(2O) / 2`` (0 when O = 0) and
    ``upper = chi2_{(1+conf)/2}(2O+2) / 2`` (Garwood 1936; PHE Technical Guide:
    Confidence intervals).

    ``chi2_p(2k) / 2`` is the regularised lower incomplete gamma function's inverse
    ``gammaincinv(k, p)``, which is how scipy computes ``chi2.ppf`` (``2 gammaincinv(df/2, p)``):
    called directly, without ``scipy.stats``' argument handling, which cost a millisecond a
    call (the build computes thousands of these intervals one cell at a time). Same numbers.
    """
    c = check_conf(conf)
    o = as_nonneg(observed, "observed")
    with np.errstate(invalid="ignore"):
        lower = np.where(o > 0, _sp.gammaincinv(o, (1.0 - c) / 2.0), 0.0)
    upper = _sp.gammaincinv(o + 1.0, (1.0 + c) / 2.0)
    return scalar_or_array(lower), scalar_or_array(upper)


def poisson_ci(observed, conf: float = 0.95):
    """PHE rule: Byar's for counts >= 10, exact chi-square for counts < 10."""
    o = as_nonneg(observed, "observed")
    bl, bu = byars_ci(o, conf)
    el, eu = exact_poisson_ci(o, conf)
    big = o >= 10
    return (scalar_or_array(np.where(big, bl, el)), scalar_or_array(np.where(big, bu, eu)))


def wilson_ci(x, n, conf: float = 0.95):
    """Wilson score interval for a proportion ``x / n`` (returned as proportions).

    ``(2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2))``
    (Wilson 1927 JASA 22:209-212; PHE Technical Guide: Confidence intervals).
    """
    z = z_value(conf)
    xa = as_nonneg(x, "x")
    na = as_nonneg(n, "n")
    if np.any(na == 0):
        raise ValueError("n (denominator) must be positive")
    if np.any(xa > na):
        raise ValueError("x (numerator) must not exceed n (denominator)")
    root = z * np.sqrt(z * z + 4.0 * xa * (1.0 - xa / na))
    denom = 2.0 * (na + z * z)
    lower = (2.0 * xa + z * z - root) / denom
    upper = (2.0 * xa + z * z + root) / denom
    return scalar_or_array(lower), scalar_or_array(upper)


def crude_rate(count, population, conf: float = 0.95, multiplier: float = 100000) -> Estimate:
    """Crude rate ``count / population * multiplier`` with a Poisson CI.

    Byar's method for count >= 10 and the exact chi-square method for count < 10
    (PHE Technical Guide: Confidence intervals; PHEindicatormethods ``phe_rate``).
    """
    check_conf(conf)
    c = float(as_nonneg(count, "count"))
    p = float(as_nonneg(population, "population"))
    if p == 0:
        raise ValueError("population must be positive")
    lo, up = poisson_ci(c, conf)
    scale = multiplier / p
    return Estimate(value=c * scale, lower=float(lo) * scale, upper=float(up) * scale)
