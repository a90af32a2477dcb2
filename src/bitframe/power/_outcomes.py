"""Outcome models: how one treatment-vs-control comparison's statistic depends on
the analysed arm sizes and the effect. Shared by the individual, cluster and
multi-arm calculators so that each formula is written once.

Each model maps a search variable ``u > 0`` (the size of the effect in the
hypothesised direction) to the effect on its natural scale, so that solving for
the minimum detectable effect is a 1-D root search on an increasing function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitframe.power._checks import (
    check_fraction,
    check_int,
    check_option,
    check_positive,
    check_probability,
    check_real,
    forbid,
    require,
)
from bitframe.power._core import Stat

OUTCOMES = ("continuous", "binary", "count")
MEANS_METHODS = ("t", "normal")
PROPORTION_METHODS = ("pooled", "unpooled", "arcsine", "fleiss_cc")
RATE_METHODS = ("signorini", "wald")
DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True)
class Outcome:
    """Base class; see the subclasses for the formulas."""

    method: str
    outcome_type: str = field(init=False, default="")
    effect_scale: str = field(init=False, default="")

    #: upper end of the search variable u (inf: unbounded)
    def u_max(self) -> float:
        return math.inf

    def effect_from_u(self, u: float) -> float:
        raise NotImplementedError

    def u_from_effect(self, effect: float) -> float:
        raise NotImplementedError

    def stat(self, n0: Any, n1: Any, effect: float, df: Any = None) -> Stat:
        raise NotImplementedError

    def standardized(self, effect: float) -> float:
        raise NotImplementedError

    @property
    def uses_t(self) -> bool:
        return False

    def describe(self) -> dict[str, Any]:
        """Flat result fields describing the assumptions (baseline, sd)."""
        return {}

    def default_u_start(self) -> float:
        return 1.0


def solve_effect(model: Outcome, power_at_effect: Any, target: float, *, infeasible: str) -> float:
    """The effect at which ``power_at_effect(effect)`` reaches ``target`` (the MDE).

    The search runs on the model's variable ``u`` (increasing in power): unbounded scales are
    bracketed outwards from ``default_u_start``, bounded ones (a proportion) searched in [0, u_max].
    """
    from bitframe.power._core import solve_bounded, solve_increasing

    def f(u: float) -> float:
        return power_at_effect(model.effect_from_u(u))

    umax = model.u_max()
    if math.isinf(umax):
        u = solve_increasing(f, target, 1e-12, model.default_u_start(), limit=1e6, infeasible=infeasible)
    else:
        u = solve_bounded(f, target, 0.0, umax, infeasible=infeasible)
    return model.effect_from_u(u)


@dataclass(frozen=True)
class MeansOutcome(Outcome):
    """Difference in means, outcome SD ``sd``, covariates explaining ``r_squared``.

    Residual variance :math:`\\sigma^2 (1 - R^2)` (ANCOVA; Borm, Fransen &
    Lemmens 2007). :math:`s = \\sigma\\sqrt{1-R^2}\\sqrt{1/n_0 + 1/n_1}`,
    :math:`\\lambda = \\delta / s`. ``t``: non-central t with
    :math:`n_0 + n_1 - 2 - q` df (``q`` = number of covariates), as R's
    ``pwr.t.test``/``pwr.t2n.test``/``power.t.test``; ``normal``: z-test.
    """

    sd: float = 1.0
    r_squared: float = 0.0
    n_covariates: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome_type", "continuous")
        object.__setattr__(self, "effect_scale", "mean_difference")

    @property
    def uses_t(self) -> bool:
        return self.method == "t"

    def effect_from_u(self, u: float) -> float:
        return u

    def u_from_effect(self, effect: float) -> float:
        return abs(effect)

    def default_u_start(self) -> float:
        return self.sd

    def stat(self, n0, n1, effect, df=None):
        n0 = np.asarray(n0, dtype=float)
        n1 = np.asarray(n1, dtype=float)
        sigma = self.sd * math.sqrt(1.0 - self.r_squared)
        se = sigma * np.sqrt(1.0 / n0 + 1.0 / n1)
        if self.method == "t":
            dof = n0 + n1 - 2.0 - self.n_covariates if df is None else np.asarray(df, dtype=float)
        else:
            dof = math.inf
        rho = (1.0 / n0) / (1.0 / n0 + 1.0 / n1)
        return Stat(ncp=effect / se, df=dof, rho=rho)

    def standardized(self, effect: float) -> float:
        return effect / self.sd

    def describe(self) -> dict[str, Any]:
        return {"sd": self.sd}


@dataclass(frozen=True)
class ProportionsOutcome(Outcome):
    """Difference of two proportions, control proportion ``p0``.

    With :math:`\\bar p = (n_0 p_0 + n_1 p_1)/(n_0 + n_1)`:

    * ``pooled``: :math:`s_0 = \\sqrt{\\bar p\\bar q(1/n_0 + 1/n_1)}`,
      :math:`s_1 = \\sqrt{p_0q_0/n_0 + p_1q_1/n_1}` (Fleiss, Levin & Paik 2003,
      eq. 4.14; R ``power.prop.test``, ``Hmisc::bpower``);
    * ``unpooled``: :math:`s_0 = s_1` (Wald test);
    * ``arcsine``: Cohen's :math:`h = 2\\arcsin\\sqrt{p_1} - 2\\arcsin\\sqrt{p_0}`,
      :math:`s = \\sqrt{1/n_0 + 1/n_1}` (R ``pwr.2p.test``, ``pwr.2p2n.test``);
    * ``fleiss_cc``: ``pooled`` with Yates' continuity correction
      :math:`c_c = (1/n_0 + 1/n_1)/2` subtracted from :math:`|p_1 - p_0|`. Solving
      this for n reproduces Fleiss, Tytun & Ury (1980):
      :math:`n' = \\tfrac{n}{4}\\{1 + \\sqrt{1 + 2(r+1)/(n r |\\Delta|)}\\}^2`.
    """

    p0: float = 0.5
    direction: str = "increase"

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome_type", "binary")
        object.__setattr__(self, "effect_scale", "risk_difference")

    def u_max(self) -> float:
        return 1.0 - self.p0 if self.direction == "increase" else self.p0

    def default_u_start(self) -> float:
        return self.u_max() / 2

    def effect_from_u(self, u: float) -> float:
        return u if self.direction == "increase" else -u

    def u_from_effect(self, effect: float) -> float:
        return abs(effect)

    def stat(self, n0, n1, effect, df=None):
        n0 = np.asarray(n0, dtype=float)
        n1 = np.asarray(n1, dtype=float)
        p0 = self.p0
        p1 = p0 + effect
        v0, v1 = p0 * (1 - p0), p1 * (1 - p1)
        inv = 1.0 / n0 + 1.0 / n1
        if self.method == "arcsine":
            h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
            se = np.sqrt(inv)
            return Stat(ncp=h / se, rho=(1.0 / n0) / inv)
        se1 = np.sqrt(v0 / n0 + v1 / n1)
        rho = (v0 / n0) / se1**2
        if self.method == "unpooled":
            return Stat(ncp=effect / se1, rho=rho)
        pbar = (n0 * p0 + n1 * p1) / (n0 + n1)
        se0 = np.sqrt(pbar * (1 - pbar) * inv)
        shift = 0.5 * inv / se1 if self.method == "fleiss_cc" else 0.0
        return Stat(ncp=effect / se1, kappa=se0 / se1, shift=shift, rho=rho)

    def standardized(self, effect: float) -> float:
        return 2 * math.asin(math.sqrt(self.p0 + effect)) - 2 * math.asin(math.sqrt(self.p0))

    def describe(self) -> dict[str, Any]:
        return {"baseline": self.p0}


@dataclass(frozen=True)
class RatesOutcome(Outcome):
    """Ratio of two Poisson rates (control rate ``rate0`` per unit of exposure,
    ``exposure`` units per participant, over-dispersion ``dispersion`` >= 1).

    Test of :math:`\\theta = \\log(\\lambda_1/\\lambda_0)` with
    :math:`s_1^2 = \\phi\\{1/(n_0 t \\lambda_0) + 1/(n_1 t \\lambda_1)\\}`
    (the variance of the log rate ratio from a Poisson GLM with a binary
    treatment indicator).

    * ``signorini``: null variance evaluated at the control rate,
      :math:`s_0^2 = \\phi/(t\\lambda_0)\\,(1/n_0 + 1/n_1)`; solving for n gives
      Signorini's (1991, Biometrika 78:446) formula
      :math:`N = \\phi[z_{1-\\alpha/2}\\sqrt{V(0)} + z_{1-\\beta}\\sqrt{V(\\theta)}]^2/(t e^{\\beta_0}\\theta^2)`
      for a binary covariate with :math:`V(\\beta_1) = 1/(1-\\pi) + 1/(\\pi e^{\\beta_1})`;
    * ``wald``: :math:`s_0 = s_1` (Wald test with the variance at the alternative).
    """

    rate0: float = 1.0
    exposure: float = 1.0
    dispersion: float = 1.0
    direction: str = "increase"

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome_type", "count")
        object.__setattr__(self, "effect_scale", "rate_ratio")

    def effect_from_u(self, u: float) -> float:
        return math.exp(u) if self.direction == "increase" else math.exp(-u)

    def u_from_effect(self, effect: float) -> float:
        return abs(math.log(effect))

    def default_u_start(self) -> float:
        return 0.5

    def stat(self, n0, n1, effect, df=None):
        n0 = np.asarray(n0, dtype=float)
        n1 = np.asarray(n1, dtype=float)
        lam0 = self.rate0
        lam1 = lam0 * effect
        t = self.exposure
        phi = self.dispersion
        theta = math.log(effect)
        se1 = np.sqrt(phi / t * (1.0 / (n0 * lam0) + 1.0 / (n1 * lam1)))
        rho = (phi / (t * n0 * lam0)) / se1**2
        if self.method == "wald":
            return Stat(ncp=theta / se1, rho=rho)
        se0 = np.sqrt(phi / (t * lam0) * (1.0 / n0 + 1.0 / n1))
        return Stat(ncp=theta / se1, kappa=se0 / se1, rho=rho)

    def standardized(self, effect: float) -> float:
        return math.log(effect)

    def describe(self) -> dict[str, Any]:
        return {"baseline": self.rate0}


# --------------------------------------------------------------------------- builders


def build_outcome(fn: str, outcome: str, method: str | None, solve_for: str, params: dict[str, Any],
                  *, allowed_methods: dict[str, tuple[str, ...]] | None = None) -> tuple[Outcome, float | None]:
    """Validate outcome parameters and build the model plus the effect (None when solving for it).

    ``params`` are the outcome-specific keyword arguments; unknown keys are
    rejected with the list of valid ones.
    """
    outcome = check_option(fn, "outcome", outcome, OUTCOMES)
    valid = {
        "continuous": ("sd", "mde", "r_squared", "n_covariates"),
        "binary": ("p0", "p1", "mde", "direction"),
        "count": ("rate0", "rate_ratio", "exposure", "dispersion", "direction"),
    }[outcome]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"{fn}: unknown parameter(s) {unknown} for outcome {outcome!r}; valid: {sorted(valid)}.")
    methods = (allowed_methods or {}).get(outcome) or {
        "continuous": MEANS_METHODS, "binary": PROPORTION_METHODS, "count": RATE_METHODS}[outcome]
    default_method = {"continuous": "t", "binary": "pooled", "count": "signorini"}[outcome]
    method = check_option(fn, "method", default_method if method is None else method, methods)
    solving_effect = solve_for == "mde"

    if outcome == "continuous":
        require(fn, solve_for, sd=params.get("sd"))
        sd = check_positive(fn, "sd", params["sd"])
        r2 = check_fraction(fn, "r_squared", params.get("r_squared", 0.0))
        q = check_int(fn, "n_covariates", params.get("n_covariates", 0), low=0)
        model = MeansOutcome(method=method, sd=sd, r_squared=r2, n_covariates=q)
        mde = params.get("mde")
        if solving_effect:
            forbid(fn, solve_for, mde=mde)
            return model, None
        require(fn, solve_for, mde=mde)
        effect = check_real(fn, "mde", mde)
        if effect == 0:
            raise ValueError(f"The 'mde' parameter of {fn} must be a non-zero float. Got 0 instead.")
        return model, effect

    if outcome == "binary":
        require(fn, solve_for, p0=params.get("p0"))
        p0 = check_probability(fn, "p0", params["p0"])
        p1, mde = params.get("p1"), params.get("mde")
        direction = params.get("direction")
        if solving_effect:
            forbid(fn, solve_for, p1=p1, mde=mde)
            direction = check_option(fn, "direction", "increase" if direction is None else direction, DIRECTIONS)
            return ProportionsOutcome(method=method, p0=p0, direction=direction), None
        if p1 is not None and mde is not None:
            raise ValueError(f"{fn}: pass either 'p1' (treatment proportion) or 'mde' (p1 - p0), not both.")
        if p1 is None and mde is None:
            require(fn, solve_for, p1=None)
        if p1 is not None:
            p1 = check_probability(fn, "p1", p1)
        else:
            d = check_real(fn, "mde", mde, low=-p0, high=1 - p0)
            p1 = p0 + d
        if p1 == p0:
            raise ValueError(f"{fn}: p1 must differ from p0 (both {p0:g}); there is no effect to detect.")
        implied = "increase" if p1 > p0 else "decrease"
        if direction is not None and check_option(fn, "direction", direction, DIRECTIONS) != implied:
            raise ValueError(f"{fn}: direction={direction!r} contradicts p1={p1:g} vs p0={p0:g}.")
        return ProportionsOutcome(method=method, p0=p0, direction=implied), p1 - p0

    # count
    require(fn, solve_for, rate0=params.get("rate0"))
    rate0 = check_positive(fn, "rate0", params["rate0"])
    exposure = check_positive(fn, "exposure", params.get("exposure", 1.0))
    dispersion = check_real(fn, "dispersion", params.get("dispersion", 1.0), low=1.0, low_open=False)
    if math.isinf(dispersion):
        raise ValueError(f"The 'dispersion' parameter of {fn} must be a finite float in [1, inf). Got inf instead.")
    rr = params.get("rate_ratio")
    direction = params.get("direction")
    if solving_effect:
        forbid(fn, solve_for, rate_ratio=rr)
        direction = check_option(fn, "direction", "increase" if direction is None else direction, DIRECTIONS)
        return RatesOutcome(method=method, rate0=rate0, exposure=exposure, dispersion=dispersion,
                            direction=direction), None
    require(fn, solve_for, rate_ratio=rr)
    rr = check_positive(fn, "rate_ratio", rr)
    if rr == 1:
        raise ValueError(f"{fn}: rate_ratio must differ from 1; there is no effect to detect.")
    implied = "increase" if rr > 1 else "decrease"
    if direction is not None and check_option(fn, "direction", direction, DIRECTIONS) != implied:
        raise ValueError(f"{fn}: direction={direction!r} contradicts rate_ratio={rr:g}.")
    return RatesOutcome(method=method, rate0=rate0, exposure=exposure, dispersion=dispersion,
                        direction=implied), rr
