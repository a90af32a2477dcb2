"""Cross-sectional stepped-wedge cluster-randomised trials (Hussey & Hughes 2007).

Model (Hussey & Hughes 2007, Contemp Clin Trials 28:182, eq. 1), for the mean of
the :math:`m` participants measured in cluster :math:`i` at period :math:`j`:
:math:`\\bar Y_{ij} = \\mu + \\alpha_i + \\beta_j + X_{ij}\\theta + \\bar e_{ij}`,
cluster effects :math:`\\alpha_i \\sim N(0, \\tau^2)`, fixed period effects,
:math:`\\operatorname{var}(\\bar e_{ij}) = \\sigma^2 = \\sigma_e^2/m`, and
:math:`X_{ij} = 1` once cluster i has crossed over. The generalised least
squares estimator of :math:`\\theta` has variance (their eq. 8)

.. math::

    \\operatorname{Var}(\\hat\\theta) = \\frac{I\\sigma^2(\\sigma^2 + T\\tau^2)}
    {(IU - W)\\sigma^2 + (U^2 + ITU - TW - IV)\\tau^2},

with :math:`I` clusters, :math:`T` periods, :math:`U = \\sum_{ij} X_{ij}`,
:math:`W = \\sum_j (\\sum_i X_{ij})^2`, :math:`V = \\sum_i (\\sum_j X_{ij})^2`,
and power :math:`\\Phi(|\\theta|/\\sqrt{\\operatorname{Var}} - z_{1-\\alpha/2})
+ \\Phi(-|\\theta|/\\sqrt{\\operatorname{Var}} - z_{1-\\alpha/2})` (normal
approximation, as ``swCRTdesign::swPwr``). For a binary outcome
:math:`\\sigma_e^2 = \\bar p(1-\\bar p)` with :math:`\\bar p = (p_0 + p_1)/2`
(Hussey & Hughes §2.3). The between-cluster SD :math:`\\tau` is given directly or
through the ICC, :math:`\\tau^2 = \\rho\\sigma_e^2/(1-\\rho)`.

The standard design has ``steps`` groups of ``clusters_per_step`` clusters;
there are ``steps + 1`` periods, all clusters start in control and group g
crosses over at the start of period g + 1. With c clusters per step,
:math:`\\operatorname{Var}(\\hat\\theta)` is exactly proportional to 1/c, which
makes the number of clusters a continuous quantity to solve for. Unlike a
parallel cluster trial, power does not plateau in the cluster size: clusters
act as their own controls, so the cluster effects cancel as :math:`m \\to \\infty`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from bitframe.power._checks import (
    check_alpha,
    check_fraction,
    check_int,
    check_option,
    check_positive,
    check_probability,
    check_real,
    check_sides,
    check_size,
    check_solve_for,
    check_target_power,
    forbid,
    given,
    require,
    solved_or_given,
)
from bitframe.power._core import as_size, ceil_size, solve_bounded, solve_increasing
from bitframe.power._outcomes import DIRECTIONS
from bitframe.power.result import PowerResult, as_call

TARGETS = ("power", "mde", "clusters", "cluster_size")


def standard_design(steps: int, clusters_per_step: int = 1) -> np.ndarray:
    """The I x T treatment indicator of a standard stepped wedge (I = steps x clusters_per_step, T = steps + 1).

    >>> standard_design(3).tolist()
    [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]]
    """
    group = np.repeat(np.arange(steps), clusters_per_step)
    return (np.arange(steps + 1)[None, :] > group[:, None]).astype(int)


def hussey_hughes_variance(design: np.ndarray, sigma2: float, tau2: float) -> float:
    """Variance of the treatment effect (Hussey & Hughes 2007, eq. 8).

    ``design`` is the I x T (clusters x periods) 0/1 treatment indicator, ``sigma2`` the variance of
    a cluster-period mean (:math:`\\sigma_e^2/m`), ``tau2`` the between-cluster
    variance.
    """
    X = np.asarray(design, dtype=float)
    n_clusters, T = X.shape
    U = X.sum()
    W = float(np.sum(X.sum(axis=0) ** 2))
    V = float(np.sum(X.sum(axis=1) ** 2))
    num = n_clusters * sigma2 * (sigma2 + T * tau2)
    den = (n_clusters * U - W) * sigma2 + (U**2 + n_clusters * T * U - T * W - n_clusters * V) * tau2
    if den <= 0:
        raise ValueError("stepped_wedge: the design does not identify the treatment effect "
                         "(no within-period contrast between treated and control clusters).")
    return num / den


def stepped_wedge(
    solve_for: str,
    *,
    steps: int | None = None,
    clusters_per_step: float | None = None,
    cluster_size: float | None = None,
    design: Any = None,
    sd: float | None = None,
    p0: float | None = None,
    mde: float | None = None,
    icc: float | None = None,
    tau: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    direction: str | None = None,
    attrition: float = 0.0,
) -> PowerResult:
    """Cross-sectional stepped-wedge trial (Hussey & Hughes 2007): solve for
    ``"power"``, ``"mde"``, ``"clusters"`` (clusters per step) or
    ``"cluster_size"`` (participants recruited per cluster per period).

    Give either the standard design (``steps``, ``clusters_per_step``) or a
    custom I x T 0/1 ``design`` matrix (then ``"clusters"`` cannot be solved).
    Continuous outcomes take ``sd`` (:math:`\\sigma_e`); binary outcomes take
    ``p0`` and use :math:`\\sigma_e^2 = \\bar p(1-\\bar p)`, with ``mde`` the risk
    difference. Clustering is ``tau`` (between-cluster SD) or ``icc``.
    See the module documentation for the variance formula.

    >>> r = stepped_wedge("power", steps=4, clusters_per_step=6, cluster_size=120, p0=0.05, mde=-0.015, tau=0.01)
    >>> round(r.power, 4)
    0.7862
    """
    fn = "stepped_wedge"
    kwargs = {"steps": steps, "clusters_per_step": clusters_per_step, "cluster_size": cluster_size,
              "design": design, "sd": sd, "p0": p0, "mde": mde, "icc": icc, "tau": tau, "power": power,
              "alpha": alpha, "sides": sides, "direction": direction, "attrition": attrition}
    if design is not None:
        kwargs["design"] = tuple(map(tuple, np.asarray(design).tolist()))
    solve_for = check_solve_for(fn, solve_for, TARGETS)
    alpha = check_alpha(fn, alpha)
    sides = check_sides(fn, sides)
    attrition = check_fraction(fn, "attrition", attrition)
    power = solved_or_given(fn, solve_for, "power", "power", power, lambda v: check_target_power(fn, v, alpha))

    # design
    if design is not None:
        if steps is not None or clusters_per_step is not None:
            raise ValueError(f"{fn}: pass either 'design' or 'steps'/'clusters_per_step', not both.")
        if solve_for == "clusters":
            raise ValueError(f"{fn}(solve_for='clusters') needs the standard design ('steps'); with a custom "
                             f"'design' matrix the clusters are fixed.")
        X = np.asarray(design)
        if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 2 or not np.isin(X, (0, 1)).all():
            raise ValueError(f"The 'design' parameter of {fn} must be a 2-D 0/1 matrix (clusters x periods) "
                             f"with at least 2 rows and 2 columns. Got shape {X.shape}.")
        X1, n_steps, c = X.astype(int), None, 1.0
    else:
        require(fn, solve_for, steps=steps)
        n_steps = check_int(fn, "steps", steps, low=1)
        if solve_for == "clusters":
            forbid(fn, solve_for, clusters_per_step=clusters_per_step)
            c = None
        else:
            require(fn, solve_for, clusters_per_step=clusters_per_step)
            c = check_size(fn, "clusters_per_step", clusters_per_step, low=1.0)
        X1 = standard_design(n_steps, 1)
    cluster_size = solved_or_given(fn, solve_for, "cluster_size", "cluster_size", cluster_size,
                                   lambda v: check_size(fn, "cluster_size", v, low=1.0))

    # outcome
    if (sd is None) == (p0 is None):
        raise ValueError(f"{fn}: pass exactly one of 'sd' (continuous outcome) or 'p0' (binary outcome).")
    binary = p0 is not None
    if p0 is not None:
        p0 = check_probability(fn, "p0", p0)

        def sigma_e2(effect: float) -> float:
            pbar = p0 + effect / 2
            return pbar * (1 - pbar)
    else:
        sd = check_positive(fn, "sd", sd)

        def sigma_e2(effect: float) -> float:
            return sd**2
    if (tau is None) == (icc is None):
        raise ValueError(f"{fn}: pass exactly one of 'tau' (between-cluster SD) or 'icc'.")
    if tau is not None:
        tau = check_real(fn, "tau", tau, low=0.0, low_open=False)

        def tau2(effect: float) -> float:
            return tau**2
    else:
        icc = check_fraction(fn, "icc", icc)

        def tau2(effect: float) -> float:
            return icc * sigma_e2(effect) / (1 - icc)
    if solve_for == "mde":
        forbid(fn, solve_for, mde=mde)
        direction = check_option(fn, "direction", "increase" if direction is None else direction, DIRECTIONS)
    else:
        require(fn, solve_for, mde=mde)
        lo, hi = (-p0, 1 - p0) if p0 is not None else (None, None)
        mde = check_real(fn, "mde", mde, low=lo, high=hi)
        if mde == 0:
            raise ValueError(f"The 'mde' parameter of {fn} must be a non-zero float. Got 0 instead.")

    keep = 1.0 - attrition
    z = stats.norm.ppf(1 - alpha / sides)

    def var(cps: float, m_a: float, effect: float) -> float:
        # Var is exactly proportional to 1/c for c clusters per step (see module doc).
        return hussey_hughes_variance(X1, sigma_e2(effect) / m_a, tau2(effect)) / cps

    def pw(cps: float, m_a: float, effect: float) -> float:
        lam = abs(effect) / math.sqrt(var(cps, m_a, effect))
        p = stats.norm.sf(z - lam)
        if sides == 2:
            p += stats.norm.cdf(-lam - z)
        return float(p)

    n_solution = None
    cps: float
    m: float
    if solve_for == "clusters":
        effect = given(fn, solve_for, "mde", mde)
        target = given(fn, solve_for, "power", power)
        x = solve_increasing(lambda v: pw(v, cluster_size * keep, effect), target, 1e-6, 10.0, limit=1e9,
                             infeasible=f"{fn}: target power {target:g} is not reached with up to 1e9 clusters "
                                        f"per step.")
        n_solution = x
        cps = max(ceil_size(x), 1)
        m = as_size(cluster_size)
    else:
        cps = given(fn, solve_for, "clusters_per_step", c)
        if solve_for == "cluster_size":
            effect = given(fn, solve_for, "mde", mde)
            target = given(fn, solve_for, "power", power)
            x = solve_increasing(lambda v: pw(cps, v, effect), target, 1e-6, 10.0, limit=1e12,
                                 infeasible=f"{fn}: target power {target:g} is not reached with up to 1e12 "
                                            f"participants per cluster-period.")
            n_solution = x
            m = ceil_size(x / keep)
        else:
            m = as_size(cluster_size)
            if solve_for == "mde":
                target = given(fn, solve_for, "power", power)
                sign = 1.0 if direction == "increase" else -1.0
                msg = f"{fn}: no effect reaches power {target:g} with this design; add clusters or participants."
                if p0 is not None:
                    umax = 1 - p0 if direction == "increase" else p0
                    u = solve_bounded(lambda u: pw(cps, m * keep, sign * u), target, 0.0, umax, infeasible=msg)
                else:
                    u = solve_increasing(lambda u: pw(cps, m * keep, sign * u), target, 1e-12,
                                         given(fn, solve_for, "sd", sd), limit=1e12, infeasible=msg)
                effect = sign * u
            else:
                effect = given(fn, solve_for, "mde", mde)
    c = as_size(cps)
    m_a = m * keep
    p = pw(c, m_a, effect)
    # X1 is already the standard design (one cluster per step) unless a custom design was given
    n_clusters = X1.shape[0] * c
    T = X1.shape[1]
    treated_cells = float(X1.sum()) * c
    control_cells = n_clusters * T - treated_cells
    se2 = sigma_e2(effect)
    v = var(c, m_a, effect)
    n_meas = n_clusters * T * m_a
    icc_out = icc if icc is not None else tau2(effect) / (tau2(effect) + se2)
    return PowerResult(
        design="stepped_wedge",
        outcome_type="binary" if binary else "continuous",
        method="hussey_hughes",
        solve_for=solve_for,
        power=p,
        target_power=power,
        alpha=alpha,
        sides=sides,
        effect_scale="risk_difference" if binary else "mean_difference",
        mde=float(effect),
        standardized_effect=float(effect / math.sqrt(se2)),
        n_arms=2,
        ratio=float(treated_cells / control_cells) if control_cells else math.inf,
        n_control=as_size(control_cells * m),
        n_treatment=as_size(treated_cells * m),
        n_total=as_size(n_clusters * T * m),
        n_control_analysed=float(control_cells * m_a),
        n_treatment_analysed=float(treated_cells * m_a),
        n_solution=n_solution,
        baseline=p0 if binary else None,
        sd=math.sqrt(se2),
        alpha_per_test=alpha,
        critical_value=float(z),
        attrition=attrition,
        # relative to an individually randomised two-arm trial with the same number of measurements
        design_effect=float(v / (4 * se2 / n_meas)),
        icc=float(icc_out),
        cluster_size=m,
        n_clusters=as_size(n_clusters),
        n_periods=int(T),
        n_steps=n_steps,
        note="cluster_size is per cluster per period",
        _call=as_call(fn, kwargs),
    )
