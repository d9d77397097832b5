"""Public-health statistics: Poisson/Wilson intervals, crude and standardised rates,
funnel-plot limits and SPC (XmR) charts.

Pure numpy/scipy. See each function's docstring for its published source.
"""

from .funnel import proportion_limits, ratio_limits
from .intervals import Estimate, byars_ci, crude_rate, exact_poisson_ci, poisson_ci, wilson_ci
from .spc import SpecialCause, XmRLimits, special_cause, xmr_limits
from .standardise import ISRResult, dsr, isr

__all__ = [
    "Estimate",
    "ISRResult",
    "SpecialCause",
    "XmRLimits",
    "byars_ci",
    "crude_rate",
    "dsr",
    "exact_poisson_ci",
    "isr",
    "poisson_ci",
    "proportion_limits",
    "ratio_limits",
    "special_cause",
    "wilson_ci",
    "xmr_limits",
]
