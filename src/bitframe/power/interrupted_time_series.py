"""Interrupted time series: power or MDE of the level change of a segmented regression with AR(1) errors.

The model is the one ``bitframe analyse`` fits (``analyse/nonrandomised/its.py``; Lopez Bernal,
Cummins & Gasparrini 2017): over periods ``t = 1..n`` with the intervention starting at ``s``
(``pre_periods`` before it, ``post_periods`` from it),

.. math:: y_t = \\beta_0 + \\beta_1 t + \\beta_2 1\\{t \\ge s\\} + \\beta_3 (t - s + 1) 1\\{t \\ge s\\} + e_t

(``slope_change=False`` drops the last term), with errors of standard deviation ``sd`` and
first-order autocorrelation ``phi`` (AR(1): ``corr(e_t, e_u) = phi^|t - u|``, correlation matrix
``R``). The variance of the level change ``beta_2`` is read off the design matrix ``X``:

* ``errors="arima"``: generalised least squares, ``sd^2 (X' R^-1 X)^-1`` (the efficient estimator
  the ARIMA-errors fit approaches);
* ``errors="newey_west"``: ordinary least squares, ``sd^2 (X'X)^-1 X' R X (X'X)^-1`` (the variance
  a heteroskedasticity and autocorrelation consistent standard error estimates).

Power is that of the t-test with ``n - p`` degrees of freedom (``p`` coefficients) and
non-centrality ``mde / se``: exact for generalised least squares when ``phi`` is known (the
Prais-Winsten-transformed regression has independent errors). With ``phi`` estimated from a short
series the tests reject more often than this says (maximum-likelihood ARIMA and Newey-West
standard errors are too small in short series), so the analytic power is the power of the test
the design allows, not a promise about a short series' nominal size; simulation studies of
segmented regression (Zhang, Wagner & Ross-Degnan 2011, J Clin Epidemiol 64:1252) show the same.
Checked against nlme's ``gls`` and a simulation in R (``tests/reference/its_power_reference.R``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from bitframe.power._checks import (
    check_alpha,
    check_bool,
    check_fraction,
    check_int,
    check_option,
    check_positive,
    check_real,
    check_sides,
    check_solve_for,
    check_target_power,
)
from bitframe.power.result import PowerResult, as_call

__all__ = ["ITS_ERRORS", "interrupted_time_series", "its_level_change_variance"]

ITS_ERRORS = ("arima", "newey_west")


def _design(pre_periods: int, post_periods: int, slope_change: bool) -> np.ndarray:
    t = np.arange(1, pre_periods + post_periods + 1, dtype=float)
    start = pre_periods + 1
    level = (t >= start).astype(float)
    columns = [np.ones_like(t), t, level] + ([(t - start + 1) * level] if slope_change else [])
    return np.column_stack(columns)


def its_level_change_variance(pre_periods: int, post_periods: int, autocorrelation: float = 0.0, *,
                              slope_change: bool = True, errors: str = "arima") -> float:
    """The variance of the level change per unit error variance (multiply by ``sd**2``).

    >>> round(its_level_change_variance(24, 24, 0.0), 6)   # ordinary least squares: (X'X)^-1
    0.334203
    """
    fn = "its_level_change_variance"
    m = check_int(fn, "pre_periods", pre_periods, low=2)
    r = check_int(fn, "post_periods", post_periods, low=1)
    phi = check_fraction(fn, "autocorrelation", autocorrelation)
    slope = check_bool(fn, "slope_change", slope_change)
    how = check_option(fn, "errors", errors, ITS_ERRORS)
    if slope and r < 2:
        raise ValueError(f"{fn}: a change in trend needs at least 2 periods from the start; got post_periods={r}")
    x = _design(m, r, slope)
    lags = np.abs(np.subtract.outer(np.arange(m + r), np.arange(m + r)))
    corr = phi**lags
    if how == "arima":
        cov = np.linalg.inv(x.T @ np.linalg.solve(corr, x))
    else:
        bread = np.linalg.inv(x.T @ x)
        cov = bread @ x.T @ corr @ x @ bread
    return float(cov[2, 2])


def _power(effect: float, se: float, df: int, alpha: float, sides: int) -> float:
    ncp = abs(effect) / se
    critical = stats.t.ppf(1 - alpha / sides, df)
    upper = stats.nct.sf(critical, df, ncp)
    # the far tail underflows (scipy returns NaN for it at a large non-centrality): it is zero there
    lower = float(np.nan_to_num(stats.nct.cdf(-critical, df, ncp))) if sides == 2 else 0.0
    return float(upper + lower)


def interrupted_time_series(
    solve_for: str,
    *,
    sd: float,
    pre_periods: int,
    post_periods: int,
    autocorrelation: float = 0.0,
    mde: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    slope_change: bool = True,
    errors: str = "arima",
) -> PowerResult:
    """Solve for ``"power"`` (given ``mde``) or ``"mde"`` (given ``power``) of the level change.

    The number of periods is fixed by the series, so no size is solved for: try other
    ``pre_periods``/``post_periods`` to see what a longer series buys.

    >>> r = interrupted_time_series("power", sd=1, pre_periods=24, post_periods=24, mde=0.8)
    >>> round(r.power, 3)
    0.273
    """
    fn = "interrupted_time_series"
    target = check_solve_for(fn, solve_for, ("power", "mde"))
    sigma = check_positive(fn, "sd", sd)
    a = check_alpha(fn, alpha)
    s = check_sides(fn, sides)
    variance = its_level_change_variance(pre_periods, post_periods, autocorrelation, slope_change=slope_change,
                                         errors=errors)
    se = sigma * math.sqrt(variance)
    n = int(pre_periods) + int(post_periods)
    df = n - (4 if slope_change else 3)
    if target == "power":
        if mde is None:
            raise ValueError(f"{fn}: solving for power needs mde")
        effect = check_real(fn, "mde", mde)
        if effect == 0:
            raise ValueError(f"The 'mde' parameter of {fn} must be non-zero. Got 0 instead.")
        achieved = _power(effect, se, df, a, s)
        goal = None
    else:
        if power is None:
            raise ValueError(f"{fn}: solving for mde needs power")
        goal = check_target_power(fn, power, a)
        # any target power below 1 is reached well before this non-centrality
        highest = (stats.t.ppf(1 - a / s, df) + 12) * se
        size = optimize.brentq(lambda d: _power(d, se, df, a, s) - goal, 1e-12 * se, highest, xtol=1e-14 * se)
        effect = math.copysign(size, mde) if mde is not None else size
        achieved = _power(effect, se, df, a, s)
    kwargs = {"sd": sd, "pre_periods": pre_periods, "post_periods": post_periods, "autocorrelation": autocorrelation,
              "mde": mde, "power": power, "alpha": alpha, "sides": sides, "slope_change": slope_change,
              "errors": errors}
    how = ("generalised least squares (ARIMA errors)" if errors == "arima" else
           "ordinary least squares with autocorrelation-consistent errors (Newey-West)")
    return PowerResult(
        design="interrupted_time_series", outcome_type="continuous", method="noncentral t, segmented regression",
        solve_for=target, power=achieved, target_power=goal, alpha=a, sides=s, effect_scale="mean_difference",
        mde=effect, standardized_effect=effect / sigma, sd=sigma, n_arms=1, n_periods=n, df=float(df),
        critical_value=float(stats.t.ppf(1 - a / s, df)),
        note=(f"level change of a segmented regression over {pre_periods} period(s) before and {post_periods} "
              f"from the start{' with a change in trend' if slope_change else ''}, AR(1) errors with "
              f"autocorrelation {autocorrelation:g}, {how}: standard error {se:.4g}; with the autocorrelation "
              "estimated from a short series the test rejects more often than this power says"),
        _call=as_call(fn, kwargs))
