"""Individually randomised trials: two arms, or k treatment arms sharing a control.

Sizes are parameterised by the control arm: ``n`` participants are recruited to
control and ``ratio * n`` to each treatment arm. ``attrition`` is the expected
fraction lost from every arm, so ``n (1 - attrition)`` are analysed; when solving
for ``n`` the analysed size is solved first and then inflated,
:math:`n = \\lceil n_{analysed} / (1 - \\text{attrition}) \\rceil` per arm.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bitframe.power._checks import (
    check_alpha,
    check_bool,
    check_fraction,
    check_int,
    check_option,
    check_positive,
    check_sides,
    check_size,
    check_solve_for,
    check_target_power,
    given,
    solved_or_given,
)
from bitframe.power._core import (
    as_size,
    ceil_size,
    critical_value,
    dunnett_critical_value,
    holm_average_power,
    power_from_stat,
    solve_increasing,
)
from bitframe.power._outcomes import (
    MEANS_METHODS,
    PROPORTION_METHODS,
    RATE_METHODS,
    Outcome,
    build_outcome,
    solve_effect,
)
from bitframe.power.result import PowerResult, as_call

TARGETS = ("power", "n", "mde")
CORRECTIONS = ("none", "bonferroni", "holm", "dunnett")
_N_LIMIT = 1e10


def comparison_power(
    outcome: Outcome,
    n0: float,
    n1: float,
    effect: float,
    *,
    alpha: float,
    sides: int,
    k: int = 1,
    correction: str = "none",
    df: float | None = None,
    strict: bool = True,
) -> dict[str, float]:
    """Power of one treatment-vs-control comparison at analysed sizes (n0, n1).

    With k > 1 treatment arms the comparison's test is adjusted by
    ``correction``: Bonferroni uses level :math:`\\alpha/k`; Dunnett the
    critical value of the maximum of k equicorrelated statistics
    (:func:`~bitframe.power._core.dunnett_critical_value`, correlation
    :math:`n_1/(n_0+n_1)`); Holm the expected proportion of comparisons
    rejected when all arms share the effect
    (:func:`~bitframe.power._core.holm_average_power`). For a t-test with k
    arms the error df are those of the pooled-variance model,
    :math:`n_0 + k n_1 - (k + 1) - q`.
    """
    stat = outcome.stat(n0, n1, effect, df=df)
    if outcome.uses_t and df is None and k > 1:
        q = getattr(outcome, "n_covariates", 0)
        stat = outcome.stat(n0, n1, effect, df=n0 + k * n1 - (k + 1) - q)
    dof = float(np.asarray(stat.df))
    if correction == "none" or k == 1:
        a = alpha
        crit = float(critical_value(a, sides, dof))
        p = power_from_stat(stat, a, sides, crit, strict=strict)
    elif correction == "bonferroni":
        a = alpha / k
        crit = float(critical_value(a, sides, dof))
        p = power_from_stat(stat, a, sides, crit, strict=strict)
    elif correction == "dunnett":
        a = alpha
        crit = dunnett_critical_value(alpha, k, n1 / (n0 + n1), dof, sides)
        p = power_from_stat(stat, a, sides, crit, strict=strict)
    else:  # holm: the first step is Bonferroni's; later steps relax the level
        a = alpha / k
        crit = float(critical_value(a, sides, dof))
        p = holm_average_power(stat, alpha, k, sides, strict=strict)
    return {"power": float(p), "alpha_per_test": a, "critical_value": crit, "df": dof}


def _df_ok(outcome: Outcome, n0: float, n1: float, k: int) -> float:
    """Smallest analysed control-arm size giving at least 1 error df for t-tests."""
    if not outcome.uses_t:
        return 1e-6
    q = getattr(outcome, "n_covariates", 0)
    # n0 + k r n0 - (k + 1) - q >= 1
    return (k + 2 + q) / (1 + k * (n1 / n0))


def solve_two_arm(
    fn: str,
    outcome: Outcome,
    effect: float | None,
    *,
    solve_for: str,
    n: Any,
    power: float | None,
    alpha: float,
    sides: int,
    ratio: float,
    attrition: float,
    k: int,
    correction: str,
    call: tuple,
    design: str,
    strict: bool = True,
) -> PowerResult:
    """The shared solve for individually randomised designs (see module doc)."""
    keep = 1.0 - attrition

    def pw(n0a: float, eff: float) -> dict[str, float]:
        return comparison_power(outcome, n0a, ratio * n0a, eff, alpha=alpha, sides=sides, k=k,
                                correction=correction, strict=strict)

    n_solution = None
    n_control: float
    n_treat: float
    if solve_for == "n":
        eff = given(fn, solve_for, "mde", effect)
        target = given(fn, solve_for, "power", power)
        lo = _df_ok(outcome, 1.0, ratio, k)
        x = solve_increasing(lambda v: pw(v, eff)["power"], target, lo, max(lo * 4, 10.0), limit=_N_LIMIT,
                             infeasible=f"{fn}: the target power {target:g} is not reached with up to "
                                        f"{_N_LIMIT:.0e} participants per arm.")
        n_solution = x
        n_control = max(ceil_size(x / keep), 2)
        n_treat = max(ceil_size(ratio * x / keep), 2)
        n0a, n1a = n_control * keep, n_treat * keep
    else:
        n_control = as_size(n)
        n_treat = as_size(ratio * n)
        n0a, n1a = n_control * keep, n_treat * keep
        if outcome.uses_t and n0a + k * n1a - (k + 1) - getattr(outcome, "n_covariates", 0) < 1:
            raise ValueError(f"{fn}: n={n:g} leaves no error degrees of freedom for the t-test "
                             f"(after attrition {n0a:g} + {k} x {n1a:g} analysed); use a larger n.")
        if solve_for == "mde":
            target = given(fn, solve_for, "power", power)
            eff = solve_effect(
                outcome,
                lambda e: comparison_power(outcome, n0a, n1a, e, alpha=alpha, sides=sides, k=k,
                                           correction=correction, strict=strict)["power"],
                target,
                infeasible=(f"{fn}: no effect in the direction {getattr(outcome, 'direction', 'increase')!r} "
                            f"reaches power {target:g} with n={n:g}; increase n."),
            )
        else:
            eff = given(fn, solve_for, "mde", effect)
    info = comparison_power(outcome, n0a, n1a, eff, alpha=alpha, sides=sides, k=k, correction=correction,
                            strict=strict)
    n_total = n_control + k * n_treat
    return PowerResult(
        design=design,
        outcome_type=outcome.outcome_type,
        method=outcome.method,
        solve_for=solve_for,
        power=info["power"],
        target_power=power,
        alpha=alpha,
        sides=sides,
        strict=strict,
        effect_scale=outcome.effect_scale,
        mde=float(eff),
        standardized_effect=float(outcome.standardized(eff)),
        n_arms=k + 1,
        ratio=ratio,
        n_control=n_control,
        n_treatment=n_treat,
        n_total=as_size(n_total),
        n_control_analysed=float(n0a),
        n_treatment_analysed=float(n1a),
        n_solution=n_solution,
        correction=correction,
        alpha_per_test=info["alpha_per_test"],
        critical_value=info["critical_value"],
        df=None if math.isinf(info["df"]) else info["df"],
        attrition=attrition,
        r_squared=getattr(outcome, "r_squared", 0.0),
        _call=call,
        **outcome.describe(),
    )


def _common(fn: str, solve_for: str, n: Any, power: Any, alpha: Any, sides: Any, ratio: Any, attrition: Any,
            targets: tuple[str, ...] = TARGETS) -> tuple:
    solve_for = check_solve_for(fn, solve_for, targets)
    alpha = check_alpha(fn, alpha)
    sides = check_sides(fn, sides)
    ratio = check_positive(fn, "ratio", ratio)
    attrition = check_fraction(fn, "attrition", attrition)
    power = solved_or_given(fn, solve_for, "power", "power", power, lambda v: check_target_power(fn, v, alpha))
    n = solved_or_given(fn, solve_for, "n", "n", n, lambda v: check_size(fn, "n", v, low=1.0))
    return solve_for, n, power, alpha, sides, ratio, attrition


def two_means(
    solve_for: str,
    *,
    sd: float,
    mde: float | None = None,
    n: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    ratio: float = 1.0,
    method: str = "t",
    r_squared: float = 0.0,
    n_covariates: int = 0,
    attrition: float = 0.0,
    strict: bool = True,
) -> PowerResult:
    """Two-sample comparison of means: solve for ``"power"``, ``"n"`` or ``"mde"``.

    Power of the two-sided test at level :math:`\\alpha` with
    :math:`\\lambda = \\delta / (\\sigma\\sqrt{1-R^2}\\sqrt{1/n_0 + 1/n_1})`:

    * ``method="t"``: :math:`P(|T'_{\\nu,\\lambda}| > t_{1-\\alpha/2,\\nu})`,
      :math:`\\nu = n_0 + n_1 - 2 - q` (R ``pwr.t.test``, ``pwr.t2n.test``,
      ``power.t.test(strict = TRUE)``; Cohen 1988, ch. 2);
    * ``method="normal"``: :math:`\\Phi(\\lambda - z) + \\Phi(-\\lambda - z)`.

    ``n`` is the control-arm size (``ratio * n`` in treatment); ``mde`` is the
    raw mean difference (``sd`` gives the scale; pass ``sd=1`` to work in Cohen's
    d). Covariate adjustment multiplies the variance by :math:`1 - R^2`
    (``r_squared``) and costs ``n_covariates`` df. ``attrition`` inflates sizes
    by :math:`1/(1 - \\text{attrition})`. ``strict=False`` drops the
    wrong-direction rejection term of a two-sided test (R's default
    ``power.t.test(strict = FALSE)``; the textbook closed-form sample sizes).

    >>> two_means("n", sd=1, mde=0.5, power=0.8).n_control
    64
    >>> round(two_means("power", sd=1, mde=0.5, n=64).power, 4)
    0.8015
    """
    fn = "two_means"
    kwargs = {"sd": sd, "mde": mde, "n": n, "power": power, "alpha": alpha, "sides": sides, "ratio": ratio,
              "method": method, "r_squared": r_squared, "n_covariates": n_covariates, "attrition": attrition,
              "strict": strict}
    solve_for, n, power, alpha, sides, ratio, attrition = _common(fn, solve_for, n, power, alpha, sides, ratio,
                                                                 attrition)
    outcome, effect = build_outcome(fn, "continuous", method, solve_for,
                                    {"sd": sd, "mde": mde, "r_squared": r_squared, "n_covariates": n_covariates})
    return solve_two_arm(fn, outcome, effect, solve_for=solve_for, n=n, power=power, alpha=alpha, sides=sides,
                         ratio=ratio, attrition=attrition, k=1, correction="none", call=as_call(fn, kwargs),
                         design="individual", strict=check_bool(fn, "strict", strict))


def two_proportions(
    solve_for: str,
    *,
    p0: float,
    p1: float | None = None,
    mde: float | None = None,
    n: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    ratio: float = 1.0,
    method: str = "pooled",
    direction: str | None = None,
    attrition: float = 0.0,
    strict: bool = True,
) -> PowerResult:
    """Two independent proportions: solve for ``"power"``, ``"n"`` or ``"mde"``.

    ``p0`` is the control proportion; the effect is given as the treatment
    proportion ``p1`` or the difference ``mde = p1 - p0``. When solving for the
    MDE, ``direction`` (``"increase"``, default, or ``"decrease"``) says which
    side of ``p0`` to search, and ``result.mde`` is the signed difference.

    Methods (:class:`~bitframe.power._outcomes.ProportionsOutcome`): ``pooled``
    z-test (R ``power.prop.test(strict = TRUE)``, ``Hmisc::bpower``/``bsamsize``),
    ``unpooled`` (Wald), ``arcsine`` (Cohen's h; ``pwr.2p.test``,
    ``pwr.2p2n.test``), ``fleiss_cc`` (continuity corrected; Fleiss, Tytun & Ury
    1980; Fleiss, Levin & Paik 2003, eq. 4.19). The closed-form sample sizes of
    those references ignore the wrong-direction rejection of a two-sided test;
    ``strict=False`` reproduces them exactly (the default ``strict=True``
    differs from them by well under one participant).

    >>> two_proportions("n", p0=0.05, p1=0.10, power=0.8, method="fleiss_cc").n_control
    474
    """
    fn = "two_proportions"
    kwargs = {"p0": p0, "p1": p1, "mde": mde, "n": n, "power": power, "alpha": alpha, "sides": sides,
              "ratio": ratio, "method": method, "direction": direction, "attrition": attrition, "strict": strict}
    solve_for, n, power, alpha, sides, ratio, attrition = _common(fn, solve_for, n, power, alpha, sides, ratio,
                                                                 attrition)
    outcome, effect = build_outcome(fn, "binary", method, solve_for,
                                    {"p0": p0, "p1": p1, "mde": mde, "direction": direction})
    return solve_two_arm(fn, outcome, effect, solve_for=solve_for, n=n, power=power, alpha=alpha, sides=sides,
                         ratio=ratio, attrition=attrition, k=1, correction="none", call=as_call(fn, kwargs),
                         design="individual", strict=check_bool(fn, "strict", strict))


def two_rates(
    solve_for: str,
    *,
    rate0: float,
    rate_ratio: float | None = None,
    exposure: float = 1.0,
    n: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    ratio: float = 1.0,
    method: str = "signorini",
    dispersion: float = 1.0,
    direction: str | None = None,
    attrition: float = 0.0,
    strict: bool = True,
) -> PowerResult:
    """Ratio of two Poisson event rates: solve for ``"power"``, ``"n"`` or ``"mde"``.

    ``rate0`` events per unit of exposure in control, ``exposure`` units per
    participant, effect ``rate_ratio`` = treatment rate / control rate. The test
    is a normal approximation on the log scale:

    * ``signorini`` (default): Signorini (1991) — the null variance of the log
      rate ratio is evaluated at the control rate in both arms, the alternative
      variance at the two rates;
    * ``wald``: the alternative variance is used for both.

    Both are large-sample approximations: with only a handful of expected
    events per arm (say fewer than 10) the ``signorini`` power is not even
    monotone in the rate ratio, and an exact conditional test should be planned.
    ``dispersion`` (>= 1) multiplies both variances for over-dispersed counts
    (Signorini's :math:`\\phi`). When solving for the MDE the result is the rate
    ratio in ``direction`` (``"increase"``: > 1, ``"decrease"``: < 1).
    """
    fn = "two_rates"
    kwargs = {"rate0": rate0, "rate_ratio": rate_ratio, "exposure": exposure, "n": n, "power": power,
              "alpha": alpha, "sides": sides, "ratio": ratio, "method": method, "dispersion": dispersion,
              "direction": direction, "attrition": attrition, "strict": strict}
    solve_for, n, power, alpha, sides, ratio, attrition = _common(fn, solve_for, n, power, alpha, sides, ratio,
                                                                 attrition)
    outcome, effect = build_outcome(fn, "count", method, solve_for,
                                    {"rate0": rate0, "rate_ratio": rate_ratio, "exposure": exposure,
                                     "dispersion": dispersion, "direction": direction})
    return solve_two_arm(fn, outcome, effect, solve_for=solve_for, n=n, power=power, alpha=alpha, sides=sides,
                         ratio=ratio, attrition=attrition, k=1, correction="none", call=as_call(fn, kwargs),
                         design="individual", strict=check_bool(fn, "strict", strict))


def multi_arm(
    solve_for: str,
    *,
    arms: int,
    outcome: str = "continuous",
    correction: str = "dunnett",
    n: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    sides: int = 2,
    ratio: float = 1.0,
    method: str | None = None,
    attrition: float = 0.0,
    strict: bool = True,
    **outcome_params: Any,
) -> PowerResult:
    """k treatment arms each compared with a shared control, with a multiplicity correction.

    ``arms`` is the number of *treatment* arms k (the trial has k + 1 arms);
    ``n`` is the control size and ``ratio * n`` the size of each treatment arm.
    Every treatment arm is assumed to have the same true effect, and
    ``power`` is the per-comparison power (probability of rejecting a given
    comparison's null). ``outcome`` is ``"continuous"`` (``sd``, ``mde``,
    ``r_squared``), ``"binary"`` (``p0``, ``p1``/``mde``) or ``"count"``
    (``rate0``, ``rate_ratio``, ``exposure``...), as in the two-arm calculators.

    Corrections:

    * ``none``: each comparison at level :math:`\\alpha`;
    * ``bonferroni``: level :math:`\\alpha/k`;
    * ``dunnett``: Dunnett's (1955) critical value from the k-variate t (or
      normal) distribution with common correlation
      :math:`\\rho = n_1/(n_0 + n_1) = r/(1+r)` (1/2 for equal allocation);
      error df :math:`n_0 + k n_1 - (k + 1)` for the t-test;
    * ``holm``: exact expected proportion of comparisons rejected by Holm's
      step-down procedure (see :func:`~bitframe.power._core.holm_average_power`);
      it lies between the Bonferroni and unadjusted powers.

    Fleiss' continuity-corrected test is not available here.

    >>> round(multi_arm("power", arms=3, sd=1, mde=0.5, n=80, correction="dunnett").critical_value, 3)
    2.36
    """
    fn = "multi_arm"
    kwargs = {"arms": arms, "outcome": outcome, "correction": correction, "n": n, "power": power, "alpha": alpha,
              "sides": sides, "ratio": ratio, "method": method, "attrition": attrition, "strict": strict,
              **outcome_params}
    k = check_int(fn, "arms", arms, low=1)
    correction = check_option(fn, "correction", correction, CORRECTIONS)
    solve_for, n, power, alpha, sides, ratio, attrition = _common(fn, solve_for, n, power, alpha, sides, ratio,
                                                                 attrition)
    model, effect = build_outcome(fn, outcome, method, solve_for, dict(outcome_params),
                                  allowed_methods={"continuous": MEANS_METHODS,
                                                   "binary": tuple(m for m in PROPORTION_METHODS if m != "fleiss_cc"),
                                                   "count": RATE_METHODS})
    return solve_two_arm(fn, model, effect, solve_for=solve_for, n=n, power=power, alpha=alpha, sides=sides,
                         ratio=ratio, attrition=attrition, k=k, correction=correction, call=as_call(fn, kwargs),
                         design="multi_arm", strict=check_bool(fn, "strict", strict))
