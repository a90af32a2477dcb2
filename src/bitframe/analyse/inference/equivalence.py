r"""Equivalence (TOST) and non-inferiority tests, with power and sample size.

Two one-sided tests (Schuirmann 1987): equivalence within margins ``(L, U)`` (``L < 0 < U`` on the
effect scale) is shown when both ``H0-: theta <= L`` and ``H0+: theta >= U`` are rejected at level
``alpha``; ``p = max(P(T > (d - L)/se), P(T < (d - U)/se))`` with ``T ~ t_df`` (normal when
``df = inf``), equivalently the ``1 - 2 alpha`` CI lies inside ``(L, U)``.
Non-inferiority with margin ``m > 0`` (higher is better): ``H0: theta <= -m``,
``p = P(T > (d + m)/se)``; the ``1 - 2 alpha`` CI's lower end above ``-m``.

Power of TOST for an estimate ``d ~ N(delta, sigma_d^2)`` with ``sigma_d`` estimated on ``df``
degrees of freedom (``s_d = sigma_d sqrt(V / df)``, ``V ~ chi^2_df``), critical value
``t = t_{1 - alpha, df}``::

    power = E_V[ max(0, Phi((U - delta - t s_d) / sigma_d) - Phi((L - delta + t s_d) / sigma_d)) ]

(the exact power, Owen 1965's bivariate noncentral t, as ``PowerTOST::power.TOST(method = "exact")``;
Phillips 1990), computed by one-dimensional quadrature over ``V``. ``method="normal"`` drops the
estimation of ``sigma_d`` (``df = inf``): ``Phi((U - delta)/sigma_d - z) - Phi((L - delta)/sigma_d + z)``
(Chow, Shao & Wang 2008, s. 3.2 and 4.2 for two proportions, ``sigma_d^2 = p1(1-p1)/n1 + p0(1-p0)/n0``).

Two means: ``sigma_d = sd sqrt(1/n0 + 1/n1)``, ``df = n0 + n1 - 2``.

References
----------
Schuirmann DJ (1987). A comparison of the two one-sided tests procedure and the power approach for
assessing the equivalence of average bioavailability. J Pharmacokinet Biopharm 15(6):657-680.
Phillips KF (1990). Power of the two one-sided tests procedure in bioequivalence.
J Pharmacokinet Biopharm 18(2):137-144.
Chow SC, Shao J, Wang H (2008). Sample Size Calculations in Clinical Research, 2nd ed. Chapman & Hall.
Labes D, Schuetz H, Lang B. PowerTOST: Power and Sample Size for (Bio)Equivalence Studies (R package).

Tested against PowerTOST's documented values and an independent R implementation
(``tests/reference/inference_equivalence_reference.R``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bitframe.analyse.coding import check_open_range
from bitframe.analyse.results import EffectEstimate, Estimate
from bitframe.errors import check_choice

__all__ = [
    "EquivalenceResult",
    "equivalence_effect",
    "non_inferiority",
    "tost",
    "tost_power",
    "tost_power_two_means",
    "tost_power_two_proportions",
    "tost_sample_size_two_means",
]


@dataclass(frozen=True)
class EquivalenceResult:
    """A TOST or non-inferiority test: ``p_value`` and the ``1 - 2 alpha`` interval."""

    test: str  # "equivalence" or "non_inferiority"
    estimate: float
    std_error: float
    df: float
    lower_margin: float
    upper_margin: float
    p_lower: float
    p_upper: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    alpha: float
    conclusion: bool  # equivalent / non-inferior at alpha

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([self.__dict__])


def _check_alpha(alpha: Any) -> float:
    # each of the two one-sided tests is at level alpha, so the interval is at 1 - 2 alpha
    return check_open_range(alpha, "alpha", upper=0.5)


def _dist(df: float):
    from scipy import stats

    return stats.norm if not math.isfinite(df) else stats.t(df)


def tost(estimate: float, std_error: float, df: float = math.inf, *, lower: float, upper: float,
         alpha: float = 0.05) -> EquivalenceResult:
    """Schuirmann's TOST of equivalence within ``(lower, upper)`` (module docstring).

    >>> r = tost(0.1, 0.2, 60, lower=-0.5, upper=0.5)
    >>> round(r.p_value, 4), r.conclusion
    (0.025, True)
    """
    alpha = _check_alpha(alpha)
    if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
        raise ValueError(f"The margins must satisfy lower < upper. Got lower={lower!r}, upper={upper!r} instead.")
    if not (std_error > 0 and math.isfinite(std_error)):
        raise ValueError(f"The 'std_error' parameter must be a positive number. Got {std_error!r} instead.")
    if not df > 0:
        raise ValueError(f"The 'df' parameter must be positive (inf for the normal). Got {df!r} instead.")
    D = _dist(df)
    p_lo = float(D.sf((estimate - lower) / std_error))
    p_hi = float(D.cdf((estimate - upper) / std_error))
    crit = float(D.ppf(1 - alpha))
    p = max(p_lo, p_hi)
    return EquivalenceResult("equivalence", float(estimate), float(std_error), float(df), float(lower), float(upper),
                             p_lo, p_hi, p, estimate - crit * std_error, estimate + crit * std_error, 1 - 2 * alpha,
                             alpha, p <= alpha)


def non_inferiority(estimate: float, std_error: float, df: float = math.inf, *, margin: float,
                    higher_is_better: bool = True, alpha: float = 0.05) -> EquivalenceResult:
    """One-sided test that the effect is no worse than ``margin`` (> 0) in the harmful direction."""
    alpha = _check_alpha(alpha)
    if not (margin > 0 and math.isfinite(margin)):
        raise ValueError(f"The 'margin' parameter must be a positive number. Got {margin!r} instead.")
    if not (std_error > 0 and math.isfinite(std_error)):
        raise ValueError(f"The 'std_error' parameter must be a positive number. Got {std_error!r} instead.")
    D = _dist(df)
    crit = float(D.ppf(1 - alpha))
    if higher_is_better:
        p = float(D.sf((estimate + margin) / std_error))
        lo_m, hi_m, p_lo, p_hi = -margin, math.inf, p, 0.0
    else:
        p = float(D.cdf((estimate - margin) / std_error))
        lo_m, hi_m, p_lo, p_hi = -math.inf, margin, 0.0, p
    return EquivalenceResult("non_inferiority", float(estimate), float(std_error), float(df), lo_m, hi_m, p_lo, p_hi,
                             p, estimate - crit * std_error, estimate + crit * std_error, 1 - 2 * alpha, alpha,
                             p <= alpha)


def equivalence_effect(row: EffectEstimate | Estimate, *, lower: float | None = None, upper: float | None = None,
                       margin: float | None = None, higher_is_better: bool = True, alpha: float = 0.05,
                       **labels: Any) -> EffectEstimate:
    """A tidy row for an equivalence (``lower``/``upper``) or non-inferiority (``margin``) test of an
    estimated effect: ``method`` is ``tost`` or ``non_inferiority``, ``p_value`` the test's, the CI at
    ``1 - 2 alpha``."""
    if margin is not None:
        res = non_inferiority(row.estimate, row.std_error, row.df, margin=margin, higher_is_better=higher_is_better,
                              alpha=alpha)
        method = "non_inferiority"
    else:
        if lower is None or upper is None:
            raise ValueError("Give 'lower' and 'upper' for equivalence, or 'margin' for non-inferiority.")
        res = tost(row.estimate, row.std_error, row.df, lower=lower, upper=upper, alpha=alpha)
        method = "tost"
    base = row if isinstance(row, EffectEstimate) else EffectEstimate.from_estimate(
        row, outcome=labels.pop("outcome", "outcome"), arm=labels.pop("arm", row.term),
        contrast=labels.pop("contrast", row.term))
    return base.with_(p_value=res.p_value, ci_lower=res.ci_lower, ci_upper=res.ci_upper, ci_level=res.ci_level,
                      method=method, **labels)


def tost_power(delta: float, se: float, df: float, *, lower: float, upper: float, alpha: float = 0.05) -> float:
    """Exact TOST power for an estimate with true mean ``delta`` and standard error ``se`` estimated on
    ``df`` degrees of freedom (``df = inf``: known SE, normal). See the module docstring."""
    from scipy import integrate, stats

    alpha = _check_alpha(alpha)
    if not (se > 0 and lower < upper):
        raise ValueError(f"Need se > 0 and lower < upper. Got se={se!r}, lower={lower!r}, upper={upper!r}.")
    if not math.isfinite(df):
        z = stats.norm.ppf(1 - alpha)
        return max(0.0, float(stats.norm.cdf((upper - delta) / se - z) - stats.norm.cdf((lower - delta) / se + z)))
    t = stats.t.ppf(1 - alpha, df)
    # the bracket is positive only while t s_d < (U - L) / 2, i.e. V < v_max
    v_max = df * ((upper - lower) / (2 * t * se)) ** 2

    def integrand(v: float) -> float:
        s = se * math.sqrt(v / df)
        val = stats.norm.cdf((upper - delta - t * s) / se) - stats.norm.cdf((lower - delta + t * s) / se)
        return max(0.0, val) * stats.chi2.pdf(v, df)

    # integrate where the chi-square has mass (beyond 1e-15 in either tail the integrand is negligible:
    # with large df the density is a narrow peak that adaptive quadrature over [0, v_max] can miss)
    lo = float(stats.chi2.ppf(1e-15, df))
    hi = min(v_max, float(stats.chi2.isf(1e-15, df)))
    if hi <= lo:
        return 0.0
    mode = max(df - 2.0, 0.0)
    points = [p for p in (mode,) if lo < p < hi]
    value, _ = integrate.quad(integrand, lo, hi, points=points or None, limit=200, epsabs=1e-13, epsrel=1e-11)
    return float(min(1.0, max(0.0, value)))


def tost_power_two_means(*, delta: float, sd: float, n_control: int, n_treatment: int, lower: float, upper: float,
                         alpha: float = 0.05, method: str = "exact") -> float:
    """TOST power for a difference of two means (``exact``: t with ``n0 + n1 - 2`` df; ``normal``)."""
    check_choice("method", method, ("exact", "normal"))
    if sd <= 0 or n_control < 2 or n_treatment < 2:
        raise ValueError(f"Need sd > 0 and at least 2 per arm. Got sd={sd!r}, n=({n_control!r}, {n_treatment!r}).")
    se = sd * math.sqrt(1 / n_control + 1 / n_treatment)
    df = n_control + n_treatment - 2 if method == "exact" else math.inf
    return tost_power(delta, se, df, lower=lower, upper=upper, alpha=alpha)


def tost_power_two_proportions(*, p0: float, p1: float, n_control: int, n_treatment: int, lower: float, upper: float,
                               alpha: float = 0.05) -> float:
    """TOST power for a risk difference ``p1 - p0`` by the normal approximation (Chow, Shao & Wang 4.2)."""
    for name, p in (("p0", p0), ("p1", p1)):
        if not 0.0 < p < 1.0:
            raise ValueError(f"The {name!r} parameter must be in (0, 1). Got {p!r} instead.")
    se = math.sqrt(p1 * (1 - p1) / n_treatment + p0 * (1 - p0) / n_control)
    return tost_power(p1 - p0, se, math.inf, lower=lower, upper=upper, alpha=alpha)


def tost_sample_size_two_means(*, delta: float, sd: float, lower: float, upper: float, power: float = 0.8,
                               alpha: float = 0.05, ratio: float = 1.0, method: str = "exact") -> tuple[int, int, float]:
    """Smallest ``(n_control, n_treatment)`` (``n_treatment = ceil(ratio n_control)``) reaching ``power``;
    returns the sizes and the power achieved."""
    if not 0 < power < 1:
        raise ValueError(f"The 'power' parameter must be in (0, 1). Got {power!r} instead.")
    if not (lower < delta < upper):
        raise ValueError(f"The true difference must lie inside the margins for TOST to have power. Got delta={delta!r}.")

    def pw(n0: int) -> float:
        return tost_power_two_means(delta=delta, sd=sd, n_control=n0, n_treatment=max(2, math.ceil(ratio * n0)),
                                    lower=lower, upper=upper, alpha=alpha, method=method)

    hi = 2
    while pw(hi) < power:
        hi *= 2
        if hi > 10**8:
            raise ValueError("No sample size below 1e8 per arm reaches the target power.")
    lo = max(2, hi // 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo, max(2, math.ceil(ratio * lo)), pw(lo)
