"""Public-health statistics: Poisson/Wilson intervals, crude and standardised rates.

Pure numpy/scipy. See each function's docstring for its published source.
"""

from .intervals import Estimate, byars_ci, crude_rate, exact_poisson_ci, poisson_ci, wilson_ci
from .standardise import ISRResult, dsr, isr

__all__ = [
    "Estimate",
    "ISRResult",
    "byars_ci",
    "crude_rate",
    "dsr",
    "exact_poisson_ci",
    "isr",
    "poisson_ci",
    "wilson_ci",
]
