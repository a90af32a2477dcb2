"""Parallel cluster-randomised trials via the design effect.

With mean cluster size :math:`\\bar m` (analysed, after attrition), coefficient
of variation of cluster size ``cv`` and intracluster correlation :math:`\\rho`,
Eldridge, Ashby & Kerry (2006, Int J Epidemiol 35:1292, eq. 2) give

.. math::  DE = 1 + \\{(cv^2 + 1)\\bar m - 1\\}\\rho,

which reduces to Kish's :math:`1 + (\\bar m - 1)\\rho` for equal clusters. It is the default
(``unequal_sizes="eldridge"``), the conservative choice: it assumes cluster summaries weighted
by cluster size. ``unequal_sizes="van_breukelen"`` uses instead the relative efficiency of unequal versus
equal cluster sizes in a mixed-model analysis, by the Taylor approximation of van Breukelen,
Candel & Berger (2007, Stat Med 26:2589),

.. math::  RE = 1 - cv^2 \\lambda(1 - \\lambda), \\qquad
           \\lambda = \\bar m\\rho / (\\bar m\\rho + 1 - \\rho),

with :math:`DE = \\{1 + (\\bar m - 1)\\rho\\} / RE`; since :math:`\\lambda(1-\\lambda) \\le 1/4`
unequal sizes then cost at most a factor :math:`1/(1 - cv^2/4)`. An arm
with :math:`k` clusters carries the information of :math:`k\\bar m / DE`
independent participants, and any two-arm outcome model is evaluated at these
effective sizes. For ``method="t"`` the reference t distribution has
:math:`k_0 + k_1 - 2` (cluster-level) degrees of freedom (Donner & Klar 2000,
§5.2; Hayes & Moulton 2017, §7.3).

Fixed number of clusters. As :math:`\\bar m \\to \\infty` the effective size of an
arm tends to :math:`k / \\{(cv^2+1)\\rho\\}`: power *plateaus*. A target power
is reachable by enlarging clusters only if it is below that plateau, i.e. (equal
clusters) only if :math:`k > n_I\\rho` where :math:`n_I` is the size needed under
individual randomisation (Hemming, Girling, Sitch, Marsh & Lilford 2011, BMC
Med Res Methodol 11:102); the required size is then
:math:`m = n_I(1-\\rho)/(k - n_I\\rho)`. ``solve_for="cluster_size"`` raises
:class:`~bitframe.power._checks.InfeasibleDesignError` otherwise, stating the
plateau power and the number of clusters needed.
"""

from __future__ import annotations

import math
from typing import Any

from bitframe.power._checks import (
    InfeasibleDesignError,
    check_alpha,
    check_bool,
    check_fraction,
    check_option,
    check_positive,
    check_real,
    check_sides,
    check_size,
    check_solve_for,
    check_target_power,
    given,
    solved_or_given,
)
from bitframe.power._core import as_size, ceil_size, solve_increasing
from bitframe.power._outcomes import Outcome, build_outcome, solve_effect
from bitframe.power.result import PowerResult, as_call
from bitframe.power.two_arm import comparison_power
from bitframe.protocol.vocabulary import UNEQUAL_CLUSTER_SIZES

TARGETS = ("power", "mde", "clusters", "cluster_size")
#: How unequal cluster sizes enter the design effect (see the module documentation).
UNEQUAL_SIZES = tuple(UNEQUAL_CLUSTER_SIZES)
_LIMIT = 1e9


def design_effect(cluster_size: float, icc: float, cv: float = 0.0, unequal_sizes: str = "eldridge") -> float:
    """Design effect with unequal cluster sizes: Eldridge, Ashby & Kerry (2006)
    :math:`1 + ((cv^2+1)m - 1)\\rho`, or Kish's divided by van Breukelen et al.'s (2007)
    relative efficiency.

    >>> round(design_effect(20, 0.05), 4)
    1.95
    >>> round(design_effect(20, 0.05, cv=0.65), 4)
    2.3725
    >>> round(design_effect(20, 0.05, cv=0.65, unequal_sizes="van_breukelen"), 4)
    2.1801
    """
    if unequal_sizes == "van_breukelen":
        return (1.0 + (cluster_size - 1.0) * icc) / relative_efficiency(cluster_size, icc, cv)
    if unequal_sizes != "eldridge":
        raise ValueError(f"The 'unequal_sizes' parameter of design_effect must be one of {', '.join(UNEQUAL_SIZES)}. "
                         f"Got {unequal_sizes!r} instead.")
    return 1.0 + ((cv**2 + 1.0) * cluster_size - 1.0) * icc


def relative_efficiency(cluster_size: float, icc: float, cv: float) -> float:
    """van Breukelen, Candel & Berger (2007) Taylor approximation of the efficiency of unequal
    relative to equal cluster sizes: :math:`1 - cv^2\\lambda(1-\\lambda)`, :math:`\\lambda = m\\rho/(m\\rho + 1 - \\rho)`.

    >>> round(relative_efficiency(20, 0.05, 0.65), 4)
    0.8944
    """
    lam = cluster_size * icc / (cluster_size * icc + 1.0 - icc)
    return 1.0 - cv**2 * lam * (1.0 - lam)


def _power(outcome: Outcome, k0: float, k1: float, m: float, effect: float, icc: float, cv: float,
           alpha: float, sides: int, strict: bool = True, unequal: str = "eldridge") -> dict[str, float]:
    de = design_effect(m, icc, cv, unequal)
    df = k0 + k1 - 2.0 if outcome.uses_t else None
    info = comparison_power(outcome, k0 * m / de, k1 * m / de, effect, alpha=alpha, sides=sides, df=df,
                            strict=strict)
    info["design_effect"] = de
    return info


def _plateau(outcome: Outcome, k0: float, k1: float, effect: float, icc: float, cv: float, alpha: float,
             sides: int, strict: bool = True, unequal: str = "eldridge") -> float:
    """Power as cluster size grows without bound (1 if icc == 0).

    Each arm's effective size per cluster tends to 1 / ((cv^2 + 1) icc) under Eldridge's design
    effect, and to 1 / icc under van Breukelen's (lambda -> 1, so the relative efficiency -> 1).
    """
    inflation = 1.0 if unequal == "van_breukelen" else cv**2 + 1.0
    c = math.inf if icc == 0 else 1.0 / (inflation * icc)
    if c * max(k0, k1) > 1e15:  # no plateau worth the name (icc ~ 0): effectively unlimited information
        return 1.0
    df = k0 + k1 - 2.0 if outcome.uses_t else None
    return comparison_power(outcome, k0 * c, k1 * c, effect, alpha=alpha, sides=sides, df=df,
                            strict=strict)["power"]


def cluster(
    solve_for: str,
    *,
    icc: float,
    outcome: str = "continuous",
    clusters: float | None = None,
    cluster_size: float | None = None,
    cluster_size_cv: float = 0.0,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    ratio: float = 1.0,
    method: str | None = None,
    attrition: float = 0.0,
    strict: bool = True,
    unequal_sizes: str = "eldridge",
    **outcome_params: Any,
) -> PowerResult:
    """Two-arm cluster-randomised trial: solve for ``"power"``, ``"mde"``,
    ``"clusters"`` (per control arm) or ``"cluster_size"`` (mean recruited per cluster).

    ``clusters`` is the number of clusters in the control arm; the treatment arm
    has ``ratio * clusters`` (rounded up when solved). ``cluster_size`` is the
    mean number recruited per cluster, of whom ``1 - attrition`` are analysed.
    ``outcome`` and ``outcome_params`` are as in :func:`two_means`
    (``sd``, ``mde``, ``r_squared``), :func:`two_proportions` (``p0``,
    ``p1``/``mde``) or :func:`two_rates` (``rate0``, ``rate_ratio``,
    ``exposure``...). See the module documentation for the design effect,
    degrees of freedom and the power plateau; ``strict`` is as in
    :func:`two_means`. ``unequal_sizes`` chooses how ``cluster_size_cv``
    enters the design effect: ``"eldridge"`` (default) or ``"van_breukelen"``.
    ``result.max_power`` is the plateau (power with unlimited cluster size).

    >>> r = cluster("clusters", icc=0.05, cluster_size=20, sd=1, mde=0.3, power=0.8, method="normal")
    >>> r.n_clusters_control, round(r.design_effect, 2)
    (18, 1.95)
    """
    fn = "cluster"
    kwargs = {"icc": icc, "outcome": outcome, "clusters": clusters, "cluster_size": cluster_size,
              "cluster_size_cv": cluster_size_cv, "power": power, "alpha": alpha, "sides": sides, "ratio": ratio,
              "method": method, "attrition": attrition, "strict": strict, "unequal_sizes": unequal_sizes,
              **outcome_params}
    solve_for = check_solve_for(fn, solve_for, TARGETS)
    alpha = check_alpha(fn, alpha)
    sides = check_sides(fn, sides)
    ratio = check_positive(fn, "ratio", ratio)
    attrition = check_fraction(fn, "attrition", attrition)
    strict = check_bool(fn, "strict", strict)
    icc = check_fraction(fn, "icc", icc)
    cv = check_real(fn, "cluster_size_cv", cluster_size_cv, low=0.0, low_open=False)
    if math.isinf(cv):
        raise ValueError(f"The 'cluster_size_cv' parameter of {fn} must be a finite float in [0, inf). Got inf.")
    unequal = check_option(fn, "unequal_sizes", unequal_sizes, UNEQUAL_SIZES)
    if unequal == "van_breukelen" and cv >= 2:  # 1 - cv^2/4 <= 0: the Taylor approximation has broken down
        raise ValueError(f"The 'cluster_size_cv' parameter of {fn} must be below 2 with unequal_sizes="
                         f"'van_breukelen' (its Taylor approximation fails beyond). Got {cv!r} instead.")
    power = solved_or_given(fn, solve_for, "power", "power", power, lambda v: check_target_power(fn, v, alpha))
    clusters = solved_or_given(fn, solve_for, "clusters", "clusters", clusters,
                               lambda v: check_size(fn, "clusters", v, low=1.0))
    cluster_size = solved_or_given(fn, solve_for, "cluster_size", "cluster_size", cluster_size,
                                   lambda v: check_size(fn, "cluster_size", v, low=1.0))
    model, effect = build_outcome(fn, outcome, method, solve_for, dict(outcome_params))
    keep = 1.0 - attrition
    if model.uses_t and clusters is not None and clusters + ratio * clusters - 2 < 1:
        raise ValueError(f"{fn}: clusters={clusters:g} per control arm leaves no degrees of freedom for the "
                         f"t-test ({clusters:g} + {ratio * clusters:g} - 2 < 1); use more clusters or method='normal'.")

    n_solution = None
    max_power = None
    k0: float
    k1: float
    m_rec: float
    if solve_for == "clusters":
        eff = given(fn, solve_for, "mde", effect)
        target = given(fn, solve_for, "power", power)
        m_a = cluster_size * keep
        lo = 3.0 / (1.0 + ratio) if model.uses_t else 1e-6  # t: at least 1 df
        x = solve_increasing(lambda v: _power(model, v, ratio * v, m_a, eff, icc, cv, alpha, sides, strict, unequal)["power"],
                             target, lo, max(10.0, lo * 2), limit=_LIMIT,
                             infeasible=f"{fn}: target power {target:g} not reached with up to {_LIMIT:.0e} clusters.")
        n_solution = x
        k0, k1 = max(ceil_size(x), 1), max(ceil_size(ratio * x), 1)
        m_rec = as_size(cluster_size)
    else:
        k0, k1 = as_size(clusters), as_size(ratio * clusters)
        if solve_for == "cluster_size":
            eff = given(fn, solve_for, "mde", effect)
            target = given(fn, solve_for, "power", power)
            max_power = _plateau(model, k0, k1, eff, icc, cv, alpha, sides, strict, unequal)
            if max_power < target:
                raise InfeasibleDesignError(_plateau_message(fn, model, k0, ratio, eff, icc, cv, alpha, sides,
                                                             target, max_power, strict, unequal))
            x = solve_increasing(lambda m: _power(model, k0, k1, m, eff, icc, cv, alpha, sides, strict, unequal)["power"],
                                 target, 1e-6, 10.0, limit=_LIMIT,
                                 infeasible=f"{fn}: target power {target:g} needs clusters larger than {_LIMIT:.0e}.")
            n_solution = x
            m_rec = ceil_size(x / keep)
        else:
            m_rec = as_size(cluster_size)
            if solve_for == "mde":
                target = given(fn, solve_for, "power", power)
                m_a = m_rec * keep
                eff = solve_effect(
                    model,
                    lambda e: _power(model, k0, k1, m_a, e, icc, cv, alpha, sides, strict, unequal)["power"],
                    target,
                    infeasible=f"{fn}: no effect reaches power {target:g} with this design; add clusters.",
                )
            else:
                eff = given(fn, solve_for, "mde", effect)
    m_a = m_rec * keep
    info = _power(model, k0, k1, m_a, eff, icc, cv, alpha, sides, strict, unequal)
    if max_power is None:
        max_power = _plateau(model, k0, k1, eff, icc, cv, alpha, sides, strict, unequal)
    n0, n1 = as_size(k0 * m_rec), as_size(k1 * m_rec)
    return PowerResult(
        design="cluster",
        outcome_type=model.outcome_type,
        method=model.method,
        solve_for=solve_for,
        power=info["power"],
        target_power=power,
        alpha=alpha,
        sides=sides,
        strict=strict,
        effect_scale=model.effect_scale,
        mde=float(eff),
        standardized_effect=float(model.standardized(eff)),
        ratio=ratio,
        n_control=n0,
        n_treatment=n1,
        n_total=as_size(n0 + n1),
        n_control_analysed=float(k0 * m_a),
        n_treatment_analysed=float(k1 * m_a),
        n_solution=n_solution,
        alpha_per_test=alpha,
        critical_value=info["critical_value"],
        df=None if math.isinf(info["df"]) else info["df"],
        attrition=attrition,
        r_squared=getattr(model, "r_squared", 0.0),
        design_effect=info["design_effect"],
        icc=icc,
        cluster_size=m_rec,
        cluster_size_cv=cv,
        n_clusters_control=k0,
        n_clusters_treatment=k1,
        n_clusters=as_size(k0 + k1),
        max_power=max_power,
        _call=as_call(fn, kwargs),
        **model.describe(),
    )


def _plateau_message(fn: str, model: Outcome, k0: float, ratio: float, effect: float, icc: float, cv: float,
                     alpha: float, sides: int, power: float, max_power: float, strict: bool, unequal: str) -> str:
    def f(k: float) -> float:
        return _plateau(model, k, ratio * k, effect, icc, cv, alpha, sides, strict, unequal)

    lo = 3.0 / (1.0 + ratio) if model.uses_t else 1e-6
    try:
        # At exactly k* clusters the plateau equals the target (infinite clusters needed): need k > k*.
        need = math.floor(solve_increasing(f, power, lo, max(10.0, lo * 2), limit=_LIMIT, infeasible="")) + 1
        advice = f"at least {need} clusters per control arm are needed for any cluster size to suffice"
    except InfeasibleDesignError:  # pragma: no cover - only for absurd inputs
        advice = "add clusters"
    cap = "ICC" if unequal == "van_breukelen" else "((1 + cv^2) * ICC)"
    return (f"{fn}: infeasible: with {k0:g} clusters per control arm and ICC {icc:g}, power cannot exceed "
            f"{max_power:.3f} however large the clusters are (each arm's effective size is capped at "
            f"clusters / {cap}); the target {power:g} cannot be reached by enlarging clusters: "
            f"{advice}.")
