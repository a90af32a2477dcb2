"""Shared maths: the test-statistic model, critical values, root finding,
Dunnett's critical value and Holm's step-down power.

The test-statistic model
------------------------
Every two-group test here is described by a :class:`Stat`. Write the
estimated contrast as :math:`\\hat\\delta`, its standard error under the
alternative as :math:`s_1` and under the null as :math:`s_0`. The statistic
scaled by the *alternative* SE, :math:`X = \\hat\\delta / s_1`, is
:math:`N(\\lambda, 1)` with non-centrality :math:`\\lambda = \\delta / s_1`.
The test rejects when :math:`|\\hat\\delta| - c_c > z\\,s_0`, where
:math:`c_c` is a continuity correction (zero unless Fleiss' correction is
used), i.e. when :math:`|X| > b = z\\kappa + \\text{shift}` with
:math:`\\kappa = s_0/s_1` and :math:`\\text{shift} = c_c/s_1`. Hence

.. math::  \\text{power} = \\Phi(\\lambda - b) + \\Phi(-\\lambda - b)

for a two-sided test (the second term, rejection in the wrong direction, is
kept as in R's ``pwr`` and ``power.*.test(strict = TRUE)``), and
:math:`\\Phi(|\\lambda| - b)` for a one-sided test in the direction of the
effect. For the t-test (:math:`\\kappa = 1`, no shift) :math:`X` follows a
non-central t distribution with ``df`` degrees of freedom and
:math:`b = t_{1-\\alpha/s,\\,df}`. This covers the pooled and unpooled
z-tests for proportions (Fleiss, Levin & Paik 2003, ch. 4), the arcsine
test (Cohen 1988, ch. 6), Fleiss-Tytun-Ury's continuity correction, the
Wald and Signorini (1991) tests for rate ratios and the t-test for means.

``rho`` is the correlation, under the alternative, of two such statistics
that share the control arm (used by the multi-arm Holm calculation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from scipy import optimize, special, stats

from bitframe.power._checks import InfeasibleDesignError

ArrayLike = float | np.ndarray

#: Degrees of freedom above which a t reference distribution is treated as normal
#: (|t quantile - z quantile| < 1e-4 at alpha = 0.001 beyond this).
_DF_NORMAL = 1e6



def ceil_size(x: float) -> int:
    """``x`` rounded up to a whole size, ignoring root-finding noise."""
    # Guard against 64.00000000001 from root-finding noise turning into 65.
    r = round(x)
    return r if abs(x - r) < 1e-9 * max(1.0, abs(x)) else math.ceil(x)


def as_size(x: float) -> int | float:
    """A given size as an int when it is whole, else as a float."""
    return round(x) if abs(x - round(x)) < 1e-9 else float(x)


@dataclass(frozen=True)
class Stat:
    """The distribution of one comparison's test statistic (see module doc)."""

    ncp: ArrayLike
    kappa: ArrayLike = 1.0
    shift: ArrayLike = 0.0
    df: ArrayLike = math.inf
    rho: ArrayLike = 0.5


def _is_normal(df: ArrayLike) -> bool:
    return bool(np.all(np.asarray(df, dtype=float) >= _DF_NORMAL))


def critical_value(alpha: float, sides: int, df: ArrayLike = math.inf) -> ArrayLike:
    """Upper critical value of a z (``df`` infinite) or t test at level ``alpha``."""
    q = 1.0 - alpha / sides
    if _is_normal(df):
        return float(stats.norm.ppf(q))
    return stats.t.ppf(q, np.asarray(df, dtype=float))


def power_from_stat(stat: Stat, alpha: float, sides: int, crit: ArrayLike | None = None, *,
                    strict: bool = True) -> ArrayLike:
    """Power of one comparison; ``crit`` overrides the critical value (Dunnett, Bonferroni).

    ``strict=False`` drops the probability of rejecting in the wrong direction
    of a two-sided test, as R's ``power.t.test``/``power.prop.test`` default and
    the textbook closed-form sample-size formulas do.
    """
    ncp = np.abs(np.asarray(stat.ncp, dtype=float))
    df = np.asarray(stat.df, dtype=float)
    if crit is None:
        crit = critical_value(alpha, sides, df)
    if _is_normal(df):
        b = np.asarray(crit) * stat.kappa + stat.shift
        p = stats.norm.sf(b - ncp)
        if sides == 2 and strict:
            p = p + stats.norm.cdf(-ncp - b)
    else:
        # The t branch is only built with kappa = 1 and no shift (t-tests for means).
        p = _nct_sf(crit, df, ncp)
        if sides == 2 and strict:
            p = p + _nct_sf(crit, df, -ncp)  # P(T' < -c; ncp) = P(T' > c; -ncp)
    p = np.clip(p, 0.0, 1.0)
    return float(p) if np.ndim(p) == 0 else p


def _nct_sf(x: ArrayLike, df: ArrayLike, ncp: ArrayLike) -> np.ndarray:
    r"""P(T' > x) for a non-central t; where scipy's boost-based ``nct`` returns NaN
    (far tails, e.g. df = 176, ncp = 38), integrate
    :math:`E_S[\Phi(\lambda - x S)]` over :math:`S = \sqrt{\chi^2_\nu/\nu}` instead."""
    x, df, ncp = np.broadcast_arrays(np.asarray(x, float), np.asarray(df, float), np.asarray(ncp, float))
    p = np.asarray(stats.nct.sf(x, df, ncp), dtype=float)
    bad = ~np.isfinite(p)
    if bad.any():
        p = p.copy()
        for idx in zip(*np.nonzero(bad)) if p.ndim else [()]:
            S, w = _chi_scale(float(df[idx]))
            p[idx] = float(np.sum(w * stats.norm.sf(x[idx] * S - ncp[idx])))
    return p


# --------------------------------------------------------------------------- root finding


def solve_increasing(
    f: Callable[[float], float],
    target: float,
    lo: float,
    hi: float,
    *,
    limit: float,
    infeasible: str,
) -> float:
    """Smallest x in [lo, limit] with f(x) = target for an increasing f.

    Returns ``lo`` when f(lo) already reaches the target. The upper bracket is
    doubled until it passes the target; past ``limit`` the target is declared
    unreachable with the message ``infeasible``.
    """
    if f(lo) >= target:
        return lo
    hi = max(hi, lo * 2, lo + 1)
    while f(hi) < target:
        lo, hi = hi, hi * 2
        if hi > limit:
            if f(limit) < target:
                raise InfeasibleDesignError(infeasible)
            hi = limit
            break
    return float(optimize.brentq(lambda x: f(x) - target, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500))


def solve_bounded(
    f: Callable[[float], float],
    target: float,
    lo: float,
    hi: float,
    *,
    infeasible: str,
) -> float:
    """Root of f(x) = target on the open interval (lo, hi) for an increasing f."""
    span = hi - lo
    a, b = lo + span * 1e-12, hi - span * 1e-12
    if f(b) < target:
        raise InfeasibleDesignError(infeasible)
    if f(a) >= target:
        return a
    return float(optimize.brentq(lambda x: f(x) - target, a, b, xtol=1e-14, rtol=1e-14, maxiter=500))


# --------------------------------------------------------------------------- quadrature


@cache
def _hermite(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes/weights for E[g(W)], W ~ N(0, 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / math.sqrt(2 * math.pi)


@cache
def _chi_scale(df: float, n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights for E[g(S)], S = sqrt(chi2_df / df): Gauss-Legendre on the
    S-range between the 1e-15 and 1 - 1e-15 quantiles, weighted by the density
    of S. (Legendre on the probability scale converges slowly because the
    quantile function is singular at 0 and 1; this agrees with adaptive
    quadrature to ~1e-14.)"""
    lo = math.sqrt(stats.chi2.ppf(1e-15, df) / df)
    hi = math.sqrt(stats.chi2.isf(1e-15, df) / df)
    x, w = special.roots_legendre(n)
    S = lo + (hi - lo) * (x + 1) / 2
    dens = stats.chi.pdf(S * math.sqrt(df), df) * math.sqrt(df)
    return S, w * (hi - lo) / 2 * dens


def _shared_nodes(df: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened (W, S, weight) nodes: the shared-control factor W and, for a
    t statistic, the shared variance-estimate factor S."""
    xw, ww = _hermite()
    if df >= _DF_NORMAL:
        return xw, np.ones_like(xw), ww
    xs, ws = _chi_scale(float(df))
    W, S = np.meshgrid(xw, xs, indexing="ij")
    return W.ravel(), S.ravel(), np.outer(ww, ws).ravel()


# --------------------------------------------------------------------------- Dunnett


def _dunnett_coverage(c: float, k: int, rho: float, df: float, sides: int) -> float:
    """P(max_i |T_i| <= c) (two-sided) or P(max_i T_i <= c) (one-sided) for k
    equicorrelated (rho >= 0) t or normal statistics, under the null.

    Dunnett (1955): with :math:`Z_i = \\sqrt\\rho W + \\sqrt{1-\\rho} E_i` the
    :math:`Z_i` are independent given W, so the probability is a 1-D (normal)
    or 2-D (t, also integrating the common scale S) integral of a k-th power.
    """
    W, S, w = _shared_nodes(df)
    a = math.sqrt(rho)
    s = math.sqrt(1 - rho)
    upper = stats.norm.cdf((c * S - a * W) / s)
    inner = upper - stats.norm.cdf((-c * S - a * W) / s) if sides == 2 else upper
    return float(np.sum(w * inner**k))


@lru_cache(maxsize=4096)
def _dunnett_critical_cached(alpha: float, k: int, rho: float, df: float, sides: int) -> float:
    if k == 1:
        return float(critical_value(alpha, sides, df))
    lo = float(critical_value(alpha, sides, df))  # unadjusted: too small
    hi = float(critical_value(alpha / k, sides, df))  # Bonferroni: too large (or equal)
    return float(
        optimize.brentq(
            lambda c: _dunnett_coverage(c, k, rho, df, sides) - (1 - alpha), lo * 0.999, hi * 1.001, xtol=1e-10
        )
    )


def dunnett_critical_value(alpha: float, k: int, rho: float, df: float = math.inf, sides: int = 2) -> float:
    """Dunnett's (1955) critical value for k comparisons with a shared control.

    Solves :math:`P(\\max_i |T_i| \\le c) = 1 - \\alpha` (two-sided; without the
    absolute value for one-sided) where the :math:`T_i` are multivariate t with
    ``df`` degrees of freedom (normal when ``df`` is infinite) and common
    correlation ``rho``. With a control arm of size :math:`n_0` and treatment arms
    of size :math:`n_1 = r n_0`, :math:`\\rho = n_0^{-1} / (n_0^{-1} + n_1^{-1}) =
    r / (1 + r)`; 1/2 for equal allocation. Agrees with ``mvtnorm::qmvt`` and
    Dunnett's (1955, 1964) tables.
    """
    df = math.inf if df >= _DF_NORMAL else float(df)
    return _dunnett_critical_cached(round(float(alpha), 14), int(k), round(float(rho), 14), df, int(sides))


# --------------------------------------------------------------------------- Holm


def holm_average_power(stat: Stat, alpha: float, k: int, sides: int, *, strict: bool = True) -> float:
    """Expected proportion of the k false nulls that Holm's step-down rejects,
    when all k treatment arms have the same true effect (and so the same
    marginal power); by symmetry this is each comparison's power.

    Method (exact up to quadrature). Given the shared-control factor W (and,
    for t statistics, the shared scale S) the k statistics are i.i.d., and
    Holm's procedure rejects at least r hypotheses iff, for every j <= r, at
    least j statistics exceed the step-j threshold :math:`b_j` (level
    :math:`\\alpha/(k-j+1)`). A dynamic programme over the intervals between
    successive thresholds gives :math:`P(R \\ge r \\mid W, S)`; the expected
    number of rejections is :math:`E[R] = \\sum_r P(R \\ge r)`, and the
    per-comparison power is :math:`E[R]/k`. For k = 1 this is the ordinary
    power. Checked against Monte Carlo with R's ``p.adjust(method = "holm")``.
    """
    ncp = float(abs(np.asarray(stat.ncp)))
    df = float(np.asarray(stat.df))
    rho = float(np.asarray(stat.rho))
    kappa = float(np.asarray(stat.kappa))
    shift = float(np.asarray(stat.shift))
    W, S, w = _shared_nodes(df)
    a, s = math.sqrt(max(rho, 0.0)), math.sqrt(1 - max(rho, 0.0))
    m = ncp + a * W
    levels = [alpha / (k - j) for j in range(k)]  # step 1 .. k
    normal = df >= _DF_NORMAL
    F_prev = np.zeros_like(W)
    prob = np.zeros((W.size, k + 1))
    prob[:, 0] = 1.0
    expected_r = 0.0
    counts = np.arange(k + 1)
    for j in range(1, k + 1):
        c = float(critical_value(levels[j - 1], sides, math.inf if normal else df))
        b = (c * kappa + shift) * S
        F = stats.norm.sf((b - m) / s)
        if sides == 2 and strict:
            F = F + stats.norm.cdf((-b - m) / s)
        denom = 1.0 - F_prev
        pi = np.where(denom > 1e-300, np.clip((F - F_prev) / np.where(denom > 1e-300, denom, 1.0), 0, 1), 0.0)
        # new[g, c'] = sum_c prob[g, c] * Binom(c' - c; k - c, pi_g)
        remaining = (k - counts)[None, :, None]
        extra = counts[None, None, :] - counts[None, :, None]
        x = np.maximum(extra, 0)
        q = pi[:, None, None]
        # explicit binomial pmf: scipy's boost pmf overflows at p in {0, 1}; numpy has 0**0 == 1
        pmf = special.comb(remaining, x) * q**x * (1.0 - q) ** np.maximum(remaining - x, 0)
        pmf = np.where((extra >= 0) & (x <= remaining), pmf, 0.0)
        prob = np.einsum("gc,gcd->gd", prob, pmf)
        prob[:, :j] = 0.0  # Holm stops unless at least j statistics pass the step-j threshold
        expected_r += float(np.sum(w * prob.sum(axis=1)))
        F_prev = F
    return expected_r / k
