"""Public-health statistics: Poisson/Wilson intervals, crude and standardised rates,
funnel-plot limits (with overdispersion), slope/relative index of inequality and SPC
(XmR) charts.

Pure numpy/scipy. See each function's docstring for its published source.
"""

from .funnel import (
    Overdispersion,
    RateFunnelPoints,
    overdispersed_proportion_limits,
    overdispersed_ratio_limits,
    overdispersion,
    proportion_limits,
    rate_funnel_baseline,
    rate_limit_points,
    rate_limits,
    ratio_limits,
)
from .inequality import SIIResult, relative_ranks, sii
from .intervals import Estimate, byars_ci, crude_rate, exact_poisson_ci, poisson_ci, wilson_ci
from .spc import SpecialCause, XmRLimits, special_cause, xmr_limits
from .standardise import ISRResult, dsr, dsr_many, dsr_nonindependent, isr

__all__ = [
    "Estimate",
    "ISRResult",
    "Overdispersion",
    "RateFunnelPoints",
    "SIIResult",
    "SpecialCause",
    "XmRLimits",
    "byars_ci",
    "crude_rate",
    "dsr",
    "dsr_many",
    "dsr_nonindependent",
    "exact_poisson_ci",
    "isr",
    "overdispersed_proportion_limits",
    "overdispersed_ratio_limits",
    "overdispersion",
    "poisson_ci",
    "proportion_limits",
    "rate_funnel_baseline",
    "rate_limit_points",
    "rate_limits",
    "ratio_limits",
    "relative_ranks",
    "sii",
    "special_cause",
    "wilson_ci",
    "xmr_limits",
]
