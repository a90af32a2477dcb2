"""Difference-in-differences over a panel of units: power, MDE or comparison units.

With ``m`` periods before and ``r`` after, the unit-level outcome's SD ``sigma`` in a period and
the same correlation ``rho`` between any two of a unit's periods, the difference-in-differences
estimate (the treated units' mean change minus the comparison units') has variance

.. math:: \\sigma^2 \\left(\\frac{1}{n_T} + \\frac{1}{n_C}\\right)
          \\left[\\frac{1 + (m - 1)\\rho}{m} + \\frac{1 + (r - 1)\\rho}{r} - 2\\rho\\right]

(Frison & Pocock 1992, Stat Med 11:1685, eq. for the "change" analysis; McKenzie 2012, J Dev
Econ 99:210, section 2). It is a two-sample comparison of the units' changes, so it is computed
by :func:`~bitframe.power.two_means` with ``sd * sqrt(factor)``: sizes are units, and the t
reference has ``n_T + n_C - 2`` degrees of freedom (exact for one period before and one after,
where the test is the two-sample t-test of change scores).
"""

from __future__ import annotations

import math

from bitframe.power._checks import check_fraction, check_int
from bitframe.power.result import PowerResult, as_call
from bitframe.power.two_arm import two_means


def did_variance_factor(pre_periods: int, post_periods: int, autocorrelation: float) -> float:
    """The bracket of the variance above: 2 (1 - rho) for one period each side.

    >>> did_variance_factor(1, 1, 0.5)
    1.0
    >>> round(did_variance_factor(6, 6, 0.5), 6)
    0.166667
    """
    fn = "did_variance_factor"
    m = check_int(fn, "pre_periods", pre_periods, low=1)
    r = check_int(fn, "post_periods", post_periods, low=1)
    rho = check_fraction(fn, "autocorrelation", autocorrelation)
    return (1 + (m - 1) * rho) / m + (1 + (r - 1) * rho) / r - 2 * rho


def difference_in_differences(
    solve_for: str,
    *,
    sd: float,
    pre_periods: int,
    post_periods: int,
    autocorrelation: float = 0.0,
    mde: float | None = None,
    n: float | None = None,
    ratio: float = 1.0,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
) -> PowerResult:
    """Solve for ``"power"``, ``"mde"`` or ``"n"`` (comparison units; ``ratio`` treated per comparison unit).

    >>> r = difference_in_differences("mde", sd=6, n=4, ratio=1, pre_periods=6, post_periods=6,
    ...                               autocorrelation=0.5, power=0.8)
    >>> round(r.mde, 3)
    5.832
    """
    factor = did_variance_factor(pre_periods, post_periods, autocorrelation)
    result = two_means(solve_for, sd=sd * math.sqrt(factor), mde=mde, n=n, power=power, alpha=alpha, sides=sides,
                       ratio=ratio)
    kwargs = {"sd": sd, "pre_periods": pre_periods, "post_periods": post_periods,
              "autocorrelation": autocorrelation, "mde": mde, "n": n, "ratio": ratio, "power": power,
              "alpha": alpha, "sides": sides}
    return result.with_(
        design="difference_in_differences", sd=sd, n_periods=pre_periods + post_periods,
        note=(f"units: {pre_periods} period(s) before and {post_periods} after, correlation {autocorrelation:g} "
              f"between a unit's periods (variance factor {factor:.4g}; Frison & Pocock 1992, McKenzie 2012)"),
        _call=as_call("difference_in_differences", kwargs))
