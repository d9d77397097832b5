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

Conventional limit levels are ``conf=0.95`` (approx. 2 sigma, p = 0.025 each side) and
``conf=0.998`` (approx. 3 sigma, p = 0.001 each side).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from ._validate import as_nonneg, check_conf, scalar_or_array, z_value


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
    try:
        t = float(target)
    except (TypeError, ValueError):
        raise ValueError(f"target must be a proportion in [0, 1], got {target!r}") from None
    if not (0.0 <= t <= 1.0):
        raise ValueError(f"target must be a proportion in [0, 1] (not a percentage), got {target!r}")
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
