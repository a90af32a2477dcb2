"""Omnibus tests parameterised by Cohen's effect sizes: one-way ANOVA (f) and
chi-square (w), matching R's ``pwr.anova.test`` and ``pwr.chisq.test``.

* One-way ANOVA with k groups of n: :math:`\\lambda = k n f^2`, power
  :math:`P(F'_{k-1,\\,k(n-1),\\,\\lambda} > F_{1-\\alpha;\\,k-1,\\,k(n-1)})`
  (Cohen 1988, ch. 8), with :math:`f = \\sigma_{means}/\\sigma` (population SD
  of the group means over the within-group SD; :func:`cohens_f`).
* Chi-square test with ``df`` degrees of freedom and N observations:
  :math:`\\lambda = N w^2`, power :math:`P(\\chi'^2_{df,\\lambda} > \\chi^2_{1-\\alpha;df})`
  (Cohen 1988, ch. 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from bitframe.power._checks import (
    check_alpha,
    check_int,
    check_positive,
    check_size,
    check_solve_for,
    check_target_power,
    given,
    solved_or_given,
)
from bitframe.power._core import as_size, ceil_size, solve_increasing
from bitframe.power.result import PowerResult, as_call

TARGETS = ("power", "n", "mde")


def cohens_f(means: Sequence[float], sd: float) -> float:
    """Cohen's f for equal-sized groups: population SD of the group means over the within-group SD.

    >>> round(cohens_f([0.0, 0.25, 0.5], 1.0), 6)
    0.204124
    """
    m = np.asarray(means, dtype=float)
    return float(np.sqrt(np.mean((m - m.mean()) ** 2)) / check_positive("cohens_f", "sd", sd))


def _anova_power(k: int, n: float, f: float, alpha: float) -> float:
    df1, df2 = k - 1, k * (n - 1)
    crit = stats.f.ppf(1 - alpha, df1, df2)
    return float(stats.ncf.sf(crit, df1, df2, k * n * f**2))


def one_way_anova(
    solve_for: str,
    *,
    groups: int,
    f: float | None = None,
    n: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
) -> PowerResult:
    """Balanced one-way ANOVA F-test: solve for ``"power"``, ``"n"`` (per group)
    or ``"mde"`` (Cohen's f). Matches R ``pwr.anova.test(k, n, f)``.

    >>> one_way_anova("n", groups=3, f=0.25, power=0.8).n_control
    53
    """
    fn = "one_way_anova"
    kwargs = {"groups": groups, "f": f, "n": n, "power": power, "alpha": alpha}
    solve_for = check_solve_for(fn, solve_for, TARGETS)
    k = check_int(fn, "groups", groups, low=2)
    alpha = check_alpha(fn, alpha)
    power = solved_or_given(fn, solve_for, "power", "power", power, lambda v: check_target_power(fn, v, alpha))
    n = solved_or_given(fn, solve_for, "n", "n", n, lambda v: check_size(fn, "n", v, low=2.0))
    f = solved_or_given(fn, solve_for, "mde", "f", f, lambda v: check_positive(fn, "f", v))
    sol = None
    if solve_for == "n":
        effect = given(fn, solve_for, "f", f)
        sol = solve_increasing(lambda v: _anova_power(k, v, effect, alpha), power, 1.0 + 1e-9, 10.0, limit=1e10,
                               infeasible=f"{fn}: target not reached with 1e10 per group.")
        n = max(ceil_size(sol), 2)
    elif solve_for == "mde":
        size = given(fn, solve_for, "n", n)
        f = solve_increasing(lambda v: _anova_power(k, size, v, alpha), power, 1e-12, 0.25, limit=1e6,
                             infeasible=f"{fn}: no effect size reaches the target power.")
    n = as_size(n)
    return PowerResult(
        design="individual", outcome_type="continuous", method="anova_f", solve_for=solve_for,
        power=_anova_power(k, n, f, alpha), target_power=power, alpha=alpha, sides=1, effect_scale="cohen_f",
        mde=float(f), standardized_effect=float(f), n_arms=k, n_control=n, n_treatment=n,
        n_total=as_size(k * n), n_control_analysed=float(n), n_treatment_analysed=float(n), n_solution=sol,
        alpha_per_test=alpha, critical_value=float(stats.f.ppf(1 - alpha, k - 1, k * (n - 1))),
        df=float(k * (n - 1)), _call=as_call(fn, kwargs),
    )


def _chisq_power(df: int, n: float, w: float, alpha: float) -> float:
    return float(stats.ncx2.sf(stats.chi2.ppf(1 - alpha, df), df, n * w**2))


def chi_square(
    solve_for: str,
    *,
    df: int,
    w: float | None = None,
    n: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
) -> PowerResult:
    """Chi-square test (goodness of fit or contingency table) with Cohen's w:
    solve for ``"power"``, ``"n"`` (total observations) or ``"mde"`` (w).
    Matches R ``pwr.chisq.test(w, N, df)``.

    >>> chi_square("n", df=1, w=0.3, power=0.8).n_total
    88
    """
    fn = "chi_square"
    kwargs = {"df": df, "w": w, "n": n, "power": power, "alpha": alpha}
    solve_for = check_solve_for(fn, solve_for, TARGETS)
    dof = check_int(fn, "df", df, low=1)
    alpha = check_alpha(fn, alpha)
    power = solved_or_given(fn, solve_for, "power", "power", power, lambda v: check_target_power(fn, v, alpha))
    n = solved_or_given(fn, solve_for, "n", "n", n, lambda v: check_size(fn, "n", v, low=1.0))
    w = solved_or_given(fn, solve_for, "mde", "w", w, lambda v: check_positive(fn, "w", v))
    sol = None
    if solve_for == "n":
        effect = given(fn, solve_for, "w", w)
        sol = solve_increasing(lambda v: _chisq_power(dof, v, effect, alpha), power, 1e-9, 10.0, limit=1e12,
                               infeasible=f"{fn}: target not reached with 1e12 observations.")
        n = max(ceil_size(sol), 1)
    elif solve_for == "mde":
        size = given(fn, solve_for, "n", n)
        w = solve_increasing(lambda v: _chisq_power(dof, size, v, alpha), power, 1e-12, 0.3, limit=1e6,
                             infeasible=f"{fn}: no effect size reaches the target power.")
    n = as_size(n)
    return PowerResult(
        design="individual", outcome_type="categorical", method="chi_square", solve_for=solve_for,
        power=_chisq_power(dof, n, w, alpha), target_power=power, alpha=alpha, sides=1, effect_scale="cohen_w",
        mde=float(w), standardized_effect=float(w), n_arms=1, n_total=n, n_solution=sol, alpha_per_test=alpha,
        critical_value=float(stats.chi2.ppf(1 - alpha, dof)), df=float(dof), _call=as_call(fn, kwargs),
    )
