"""Slope index of inequality (SII) and relative index of inequality (RII).

Sources
-------
- Low A, Low A (2004) "Measuring the gap: quantifying and comparing local health
  inequalities", *Journal of Public Health* 26:388-395 (SII by weighted regression on
  the relative rank of each quantile's population mid-point).
- Fingertips *Public Health Technical Guidance*, slope index of inequality, as
  implemented in UKHSA PHEindicatormethods ``phe_sii`` (v2.1.0): the square-root
  weighted least squares fit ``Y sqrt(a) = A sqrt(a) + B b sqrt(a)``, optional
  log/logit transformation of rates/proportions, the RII as the ratio of the fitted
  values at the two ends, and confidence limits by simulation (normal draws of each
  quantile's value with its standard error, percentiles of the refitted SII/RII).

Order convention: ``values`` and ``populations`` are given one entry per quantile,
ordered from the MOST deprived (first) to the LEAST deprived (last), as in
PHEindicatormethods (quantile 1 = most deprived). The relative rank ``b`` runs from 0
(most deprived end) to 1 (least deprived end), so the SII is fitted value at the least
deprived end minus fitted value at the most deprived end, and the RII is their ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_conf, check_lengths, positive_float, z_value

VALUE_TYPES = ("normal", "rate", "proportion")
MIN_QUANTILES = 5
MAX_QUANTILES = 100
MIN_REPETITIONS = 1000


@dataclass(frozen=True)
class SIIResult:
    """SII and RII with simulated confidence limits, and the fitted intercept.

    ``intercept`` is the fitted value at the most deprived end (relative rank 0), in
    units of ``abs(multiplier)``.
    """

    sii: float
    sii_lower: float
    sii_upper: float
    rii: float
    rii_lower: float
    rii_upper: float
    intercept: float


def _finite_vector(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence (one value per quantile)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains missing or non-finite values")
    return arr


def _check_scale(arr: np.ndarray, name: str, value_type: str) -> None:
    if value_type == "rate" and np.any(arr <= 0):
        raise ValueError(f"{name} must be positive for value_type='rate' (log scale)")
    if value_type == "proportion" and np.any((arr <= 0) | (arr >= 1)):
        raise ValueError(
            f"{name} must be proportions strictly between 0 and 1 for "
            "value_type='proportion' (logit scale; not percentages)"
        )


def _forward(y: np.ndarray, value_type: str) -> np.ndarray:
    if value_type == "rate":
        return np.log(y)
    if value_type == "proportion":
        return np.log(y / (1.0 - y))
    return y


def _inverse(t, value_type: str):
    if value_type == "rate":
        return np.exp(t)
    if value_type == "proportion":
        return 1.0 / (1.0 + np.exp(-t))
    return t


def relative_ranks(populations) -> np.ndarray:
    """Relative rank of each quantile: the mid-point of its share of the population.

    ``b_i = sum_{j<i} a_j + a_i / 2`` with ``a_i = n_i / sum(n)``, quantiles in the
    given order (most deprived first; Low & Low 2004; PHEindicatormethods
    ``FindXValues``).
    """
    a = _shares(populations)
    return np.cumsum(a) - a / 2.0


def _shares(populations) -> np.ndarray:
    """Each quantile's share of the total population (all populations must be > 0)."""
    n = _finite_vector(populations, "populations")
    if np.any(n <= 0):
        raise ValueError("populations must all be positive")
    return n / n.sum()


def _percentile_positions(repetitions: int, conf: float) -> tuple[int, int]:
    """0-based order statistics PHEindicatormethods takes as the limits."""
    upper_q = conf + (1.0 - conf) / 2.0
    lo = round(repetitions * (1.0 - upper_q))
    hi = round(repetitions * upper_q)
    return min(max(lo, 1), repetitions) - 1, min(max(hi, 1), repetitions) - 1


def sii(
    values,
    populations,
    se=None,
    lower_cl=None,
    upper_cl=None,
    *,
    value_type: str = "normal",
    transform: bool = False,
    multiplier: float = 1.0,
    conf: float = 0.95,
    repetitions: int = 100000,
    seed=1,
) -> SIIResult:
    """Slope and relative index of inequality across ordered quantiles.

    Point estimates (Low & Low 2004; PHEindicatormethods ``phe_sii``): with
    ``a_i = n_i / sum(n)`` and relative rank ``b_i`` (:func:`relative_ranks`), fit
    ``Y_i sqrt(a_i) = A sqrt(a_i) + B b_i sqrt(a_i)`` by least squares (a weighted
    regression of ``Y`` on ``b`` with weights ``a``). Then ``sii = B * multiplier``,
    ``rii = (A + B) / A`` (fitted value at the least deprived end over that at the
    most deprived end) and ``intercept = A``. With ``transform=True`` (rates and
    proportions only) ``Y`` is ``log(value)`` (``value_type="rate"``) or
    ``logit(value)`` (``"proportion"``) and the results are back-transformed:
    ``sii = (g(A + B) - g(A)) * multiplier``, ``rii = g(A + B) / g(A)``,
    ``intercept = g(A)``, with ``g`` the inverse transform. A negative ``multiplier``
    (for indicators where lower is better) flips the sign of the SII and inverts the
    RII (and swaps the limits; PHEindicatormethods tests ``multiplier < 1`` rather
    than ``< 0`` for transformed rates, which would also swap them for
    ``0 < multiplier < 1`` - here only a negative multiplier does). ``intercept`` is reported times ``abs(multiplier)`` (PHEindicatormethods
    scales it only for transformed fits).

    Confidence limits (PHEindicatormethods ``SimulationFunc``): each quantile's value
    is drawn ``repetitions`` times from a normal distribution with mean the value and
    standard deviation its standard error - on the log/logit scale for rates and
    proportions, back-transformed before refitting unless ``transform=True`` - the
    model is refitted to each draw, and the limits are the order statistics at
    positions ``round(R (1 - q))`` and ``round(R q)`` (1-based) of the sorted SIIs
    and RIIs, ``q = conf + (1 - conf) / 2``. With ``transform=True`` the limits of
    ``B`` are centred on the fitted mid-point ``A + B/2`` and back-transformed.
    Draws come from ``numpy.random.default_rng(seed)``, so results are reproducible
    for a given seed (and the same draws are used for every ``conf``) but do not
    reproduce the R package's random stream; they agree with its limits to
    Monte-Carlo error only.

    The standard error is ``se`` if given (on the log scale for rates and the logit
    scale for proportions), else ``(f(upper_cl) - f(lower_cl)) / (2 * 1.959964)``
    from 95% limits, ``f`` the log/logit/identity transform. ``transform=True``
    requires the limits, not ``se`` (as PHEindicatormethods).

    ``values``, ``populations`` (and ``se`` or the limits) are 1-D, one entry per
    quantile, ordered most deprived first; between 5 and 100 quantiles. Raises
    ``ValueError`` for invalid or mismatched inputs, an unknown ``value_type``,
    ``transform=True`` with ``value_type="normal"`` or with ``se``, values/limits
    outside the scale of ``value_type``, ``upper_cl < lower_cl``, fewer than 1000
    repetitions, or ``conf`` outside (0, 1).
    """
    if value_type not in VALUE_TYPES:
        raise ValueError(f"value_type must be one of {VALUE_TYPES}, got {value_type!r}")
    c = check_conf(conf)
    if transform and value_type == "normal":
        raise ValueError("transform=True needs value_type 'rate' or 'proportion'")
    if transform and se is not None:
        raise ValueError("transform=True needs lower_cl and upper_cl, not se")
    if isinstance(repetitions, bool) or not isinstance(repetitions, (int, np.integer)):
        raise ValueError(f"repetitions must be an integer, got {repetitions!r}")
    if repetitions < MIN_REPETITIONS:
        raise ValueError(f"repetitions must be at least {MIN_REPETITIONS}, got {repetitions}")
    try:
        mult = float(multiplier)
    except (TypeError, ValueError):
        raise ValueError(f"multiplier must be a non-zero number, got {multiplier!r}") from None
    positive_float(abs(mult), "multiplier (absolute value)")

    y = _finite_vector(values, "values")
    b = relative_ranks(populations)
    check_lengths(values=y, populations=b)
    if not (MIN_QUANTILES <= y.size <= MAX_QUANTILES):
        raise ValueError(
            f"number of quantiles must be between {MIN_QUANTILES} and {MAX_QUANTILES}, got {y.size}"
        )
    _check_scale(y, "values", value_type)
    if se is not None:
        s = _finite_vector(se, "se")
        check_lengths(values=y, se=s)
        if np.any(s < 0):
            raise ValueError("se must not be negative")
    elif lower_cl is not None and upper_cl is not None:
        lo = _finite_vector(lower_cl, "lower_cl")
        up = _finite_vector(upper_cl, "upper_cl")
        check_lengths(values=y, lower_cl=lo, upper_cl=up)
        _check_scale(lo, "lower_cl", value_type)
        _check_scale(up, "upper_cl", value_type)
        if np.any(up < lo):
            raise ValueError("upper_cl must not be below lower_cl")
        s = (_forward(up, value_type) - _forward(lo, value_type)) / (2.0 * z_value(0.95))
    else:
        raise ValueError("sii needs either se, or both lower_cl and upper_cl")

    a = _shares(populations)
    root_a = np.sqrt(a)
    design = np.column_stack([root_a, b * root_a])
    fit_op = np.linalg.solve(design.T @ design, design.T)  # 2 x q least-squares operator

    y_t = _forward(y, value_type)
    y_fit = y_t if transform else y
    icpt, slope = fit_op @ (root_a * y_fit)

    rng = np.random.default_rng(seed)
    draws = rng.normal(y_t, s, size=(repetitions, y.size))
    if not transform:
        draws = _inverse(draws, value_type)
    coefs = (draws * root_a) @ fit_op.T  # repetitions x 2: (A, B) per draw
    i_lo, i_hi = _percentile_positions(repetitions, c)

    if not transform:
        sii_value = slope * mult
        # RII is a ratio to the intercept: undefined (NaN) when the fitted line starts at 0, as it
        # does for a small area whose every group has value 0
        with np.errstate(divide="ignore", invalid="ignore"):
            rii_value = (icpt + slope) / icpt
            sim_rii = (coefs[:, 0] + coefs[:, 1]) / coefs[:, 0]
            if mult < 0:
                rii_value = 1.0 / rii_value
                sim_rii = 1.0 / sim_rii
        rii_value = rii_value if np.isfinite(rii_value) else np.nan
        sim_sii = np.sort(coefs[:, 1] * mult)
        sim_rii = np.sort(sim_rii)
        return SIIResult(
            sii=float(sii_value),
            sii_lower=float(sim_sii[i_lo]),
            sii_upper=float(sim_sii[i_hi]),
            rii=float(rii_value),
            rii_lower=float(sim_rii[i_lo]) if np.isfinite(rii_value) else np.nan,
            rii_upper=float(sim_rii[i_hi]) if np.isfinite(rii_value) else np.nan,
            intercept=float(icpt * abs(mult)),
        )

    def back(slope_value: float) -> tuple[float, float]:
        mid = icpt + slope / 2.0  # fitted mid-point, held fixed
        top = _inverse(mid + slope_value / 2.0, value_type)
        bottom = _inverse(mid - slope_value / 2.0, value_type)
        return float((top - bottom) * mult), float(top / bottom)

    sim_slope = np.sort(coefs[:, 1])
    sii_value, rii_value = back(slope)
    (sii_lo, rii_lo), (sii_hi, rii_hi) = back(sim_slope[i_lo]), back(sim_slope[i_hi])
    if mult < 0:
        rii_value = 1.0 / rii_value
        sii_lo, sii_hi = sii_hi, sii_lo
        rii_lo, rii_hi = 1.0 / rii_hi, 1.0 / rii_lo
    return SIIResult(
        sii=sii_value,
        sii_lower=sii_lo,
        sii_upper=sii_hi,
        rii=rii_value,
        rii_lower=rii_lo,
        rii_upper=rii_hi,
        intercept=float(_inverse(icpt, value_type) * abs(mult)),
    )
