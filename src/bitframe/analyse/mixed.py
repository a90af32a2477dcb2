"""Linear mixed model with a random cluster intercept, for cluster-randomised trials.

Model
-----
``y_gi = x_gi' beta + u_g + e_gi`` with ``u_g ~ N(0, tau^2)`` and ``e_gi ~ N(0, sigma^2)``, where
``x`` holds an intercept, one dummy per non-control arm and any covariates. The intracluster
correlation is ``ICC = tau^2 / (tau^2 + sigma^2)`` (Donner & Klar 2000, ch. 2).

Estimation (REML by default)
----------------------------
Write ``gamma = tau^2 / sigma^2`` and ``V_g = sigma^2 (I + gamma 1 1')``. By the Sherman-Morrison
formula ``(I + gamma 1 1')^{-1} = I - c_g 1 1'`` with ``c_g = gamma / (1 + n_g gamma)``, so every
quantity needs only per-cluster sums (no ``n_g x n_g`` matrices):

* ``A(gamma) = X'X - sum_g c_g s_g s_g'`` with ``s_g = sum_{i in g} x_gi``; the GLS estimate
  ``beta(gamma) = A^{-1} (X'y - sum_g c_g s_g t_g)``, ``t_g = sum_{i in g} y_gi``;
* ``Q(gamma) = sum r^2 - sum_g c_g (sum_{i in g} r_gi)^2`` with ``r = y - X beta(gamma)``;
* ``sigma^2`` is profiled out: ``sigma^2 = Q / (N - p)`` (REML) or ``Q / N`` (ML), and the profiled
  REML log-likelihood is
  ``l_R(gamma) = -1/2 [(N - p)(1 + log(2 pi Q / (N - p))) + sum_g log(1 + n_g gamma) + log|A|]``
  (Harville 1977, JASA 72:320-338), the constant convention of ``logLik(lmer(...))`` (no
  ``log|X'X|`` term); the ML version drops ``log|A|`` and uses ``N`` for ``N - p``.

``gamma`` is found by a bounded Brent search on ``theta = sqrt(gamma)`` (lme4's parameter) and then
polished to machine precision by finding the root of the analytic derivative
``dl_R/dgamma = -1/2 [-(N - p) sum_g c_g' R_g^2 / Q + sum_g n_g / (1 + n_g gamma) - sum_g c_g' s_g' A^{-1} s_g]``
with ``c_g' = 1 / (1 + n_g gamma)^2`` and ``R_g`` the cluster residual sums (envelope theorem for
``Q``). When the derivative at ``gamma = 0`` is not positive the estimate is on the boundary,
``tau^2 = 0`` (a "singular" fit in lme4's terms).

Why not statsmodels' MixedLM: on the reference datasets its L-BFGS path stopped at ``tau^2 = 0`` for
clearly clustered data and failed with a singular matrix on a boundary case, and its ``bse_fe`` comes
from the joint Hessian, which differs from lme4's conditional ``vcov`` by ~4e-4 (relative). The
one-dimensional profile here agrees with lme4 to ~1e-8.

Inference
---------
``Var(beta) = sigma^2 A(gamma)^{-1}`` at the estimates (as ``vcov`` of ``lme4::lmer`` and
``nlme::lme``). Tests are t tests with ``df_method``:

* ``between_within`` (default; ``nlme``'s rule, Pinheiro & Bates 2000, sec. 2.4.2): a term constant
  within every cluster (e.g. a cluster-randomised arm) gets ``G - p_between - 1`` df, where
  ``p_between`` counts such terms; other terms and the intercept get ``N - G - p_within``, where
  ``p_within`` counts the non-intercept terms that vary within clusters.
* ``normal``: z tests (``df = inf``).

Tests compare with ``lme4::lmer`` (REML and ML) and ``nlme::lme`` (``tests/reference/lme4_reference.R``)
to a relative 1e-6; agreement is limited by lme4's optimiser (bobyqa), not by this code.

References
----------
Bates D, Maechler M, Bolker B, Walker S (2015). J Stat Softw 67(1):1-48.
Pinheiro JC, Bates DM (2000). Mixed-Effects Models in S and S-PLUS. Springer.
Harville DA (1977). Maximum likelihood approaches to variance component estimation. JASA 72:320-338.
Donner A, Klar N (2000). Design and Analysis of Cluster Randomization Trials in Health Research. Arnold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np

from bitframe.analyse.coding import check_ci_level, covariates_with_strata, trial_inputs
from bitframe.analyse.results import Estimate, estimates_frame
from bitframe.errors import check_choice

__all__ = ["DF_METHODS", "MixedResult", "mixed_model"]

DF_METHODS = ("between_within", "normal")


@dataclass(frozen=True)
class MixedResult:
    """A random-intercept linear mixed model fit.

    ``effects``: one :class:`Estimate` per non-control arm (``term`` = arm label, ``scale`` =
    ``difference``); ``coefficients``: every fixed effect (``term`` as ``arm[sms]``, covariate names,
    ``(Intercept)``). ``tau2``/``sigma2`` are the cluster and residual variances, ``icc`` their
    ratio ``tau2 / (tau2 + sigma2)``; ``singular`` is True when ``tau2`` is on the boundary 0.
    ``log_likelihood`` is the REML (or ML) log-likelihood as lme4 reports it.
    """

    estimator: str
    method: str
    df_method: str
    control: str
    arms: tuple[str, ...]
    ci_level: float
    n: int
    n_dropped: int
    n_clusters: int
    tau2: float
    sigma2: float
    icc: float
    singular: bool
    log_likelihood: float
    control_mean: float
    coefficients: tuple[Estimate, ...]
    effects: tuple[Estimate, ...]

    def effect(self, arm: str) -> Estimate:
        check_choice("arm", str(arm), self.arms)
        return next(e for e in self.effects if e.term == str(arm))

    def to_frame(self):
        """Tidy per-arm effects with the variance components as extra columns (pandas)."""
        frame = estimates_frame(self.effects)
        frame.insert(0, "arm", frame.pop("term"))
        frame.insert(1, "contrast", [f"{a} - {self.control}" for a in frame["arm"]])
        frame["tau2"] = self.tau2
        frame["sigma2"] = self.sigma2
        frame["icc"] = self.icc
        return frame

    def coefficients_frame(self):
        return estimates_frame(self.coefficients)


class _Profile:
    """Profiled (RE)ML log-likelihood of gamma = tau^2/sigma^2 from cluster sums only."""

    def __init__(self, y: np.ndarray, X: np.ndarray, codes: np.ndarray, G: int, reml: bool):
        self.y, self.X, self.reml = y, X, reml
        self.N, self.p = X.shape
        self.codes = codes
        self.ng = np.bincount(codes, minlength=G).astype(float)
        self.S = np.column_stack([np.bincount(codes, weights=X[:, j], minlength=G) for j in range(self.p)])
        self.T = np.bincount(codes, weights=y, minlength=G)
        self.XtX = X.T @ X
        self.Xty = X.T @ y
        self.yty = float(y @ y)
        self.dof = self.N - self.p if reml else self.N

    def solve(self, gamma: float):
        c = gamma / (1.0 + self.ng * gamma)
        A = self.XtX - (self.S * c[:, None]).T @ self.S
        b = self.Xty - self.S.T @ (c * self.T)
        beta = np.linalg.solve(A, b)
        Rg = self.T - self.S @ beta  # cluster sums of residuals
        # r'r from the cross-products, so each evaluation costs O(G p^2), not O(N p)
        rr = self.yty - 2.0 * float(beta @ self.Xty) + float(beta @ self.XtX @ beta)
        Q = float(rr - np.sum(c * Rg * Rg))
        return beta, A, Q, Rg

    def loglik(self, gamma: float) -> float:
        _, A, Q, _ = self.solve(gamma)
        out = self.dof * (1.0 + math.log(2.0 * math.pi * Q / self.dof)) + float(np.sum(np.log1p(self.ng * gamma)))
        if self.reml:
            out += float(np.linalg.slogdet(A)[1])
        return -0.5 * out

    def derivative(self, gamma: float) -> float:
        _, A, Q, Rg = self.solve(gamma)
        dc = 1.0 / (1.0 + self.ng * gamma) ** 2
        d = -self.dof * float(np.sum(dc * Rg * Rg)) / Q + float(np.sum(self.ng / (1.0 + self.ng * gamma)))
        if self.reml:
            Ainv_S = np.linalg.solve(A, self.S.T)  # p x G
            d -= float(np.sum(dc * np.einsum("gj,jg->g", self.S, Ainv_S)))
        return -0.5 * d


#: the profile is searched for its maximum on this grid of gamma (a point a decade), then refined
_GAMMA_GRID: Final = np.concatenate([[0.0], 10.0 ** np.arange(-8.0, 9.0)])


def _maximise(prof: _Profile) -> float:
    """The gamma >= 0 that maximises the profiled likelihood: the root of its analytic derivative.

    Every interval of the grid where the derivative turns from positive to negative holds a local
    maximum; each is solved to a relative width of 4 machine epsilons (what ``scipy.optimize.brentq``
    was asked for here, without importing scipy.optimize, which cost a cluster trial's analysis
    0.25 CPU-seconds), and the highest, or the boundary gamma = 0 when it is higher still, is the
    estimate. A derivative still positive at the top of the grid is followed upwards until it turns.
    """
    grid = list(_GAMMA_GRID)
    slopes = [prof.derivative(g) for g in grid]
    while slopes[-1] > 0.0 and grid[-1] < 1e300:
        grid.append(grid[-1] * 10.0)
        slopes.append(prof.derivative(grid[-1]))
    candidates = [0.0]
    for lo, hi, d_lo, d_hi in zip(grid, grid[1:], slopes, slopes[1:], strict=False):
        if d_lo > 0.0 >= d_hi:
            candidates.append(_falling_root(prof.derivative, lo, hi, d_lo, d_hi))
    return max(candidates, key=lambda g: (prof.loglik(g), g))  # a tie keeps the interior maximum, not 0


def _falling_root(f: Callable[[float], float], lo: float, hi: float, f_lo: float, f_hi: float) -> float:
    """The root of ``f`` in ``[lo, hi]``, where ``f(lo) > 0 >= f(hi)``, to a relative width of 4 epsilons.

    The Illinois variant of regula falsi (Dowell & Jarratt 1971): superlinear, and the bracket always
    holds the root; a step that would not move inside the bracket is a bisection.
    """
    tol = 4.0 * np.finfo(float).eps
    kept = 0  # which end was kept last: -1 lo, +1 hi (Illinois halves a twice-kept end's value)
    while f_hi != 0.0 and hi - lo > tol * abs(hi):
        x = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        if not lo < x < hi:
            x = 0.5 * (lo + hi)
            if x in (lo, hi):
                break
        fx = f(x)
        if fx > 0.0:
            lo, f_lo = x, fx
            if kept == 1:
                f_hi *= 0.5
            kept = 1
        else:
            hi, f_hi = x, fx
            if kept == -1:
                f_lo *= 0.5
            kept = -1
    return hi


def mixed_model(outcome: Any, arm: Any, clusters: Any, *, control: Any = None, covariates: Any = None,
                reml: bool = True, df_method: str = "between_within", ci_level: float = 0.95,
                missing: str = "drop") -> MixedResult:
    """Fit ``y ~ arm (+ covariates) + (1 | cluster)`` by REML (or ML) and report each arm's effect.

    Parameters
    ----------
    outcome : continuous outcome, length n.
    arm : arm labels, length n (for a cluster-randomised trial constant within clusters, though this
        is not required).
    clusters : cluster labels, length n (at least 2 distinct).
    control : the control arm's label; default the first in sorted order.
    covariates : None, array, DataFrame or mapping (non-numeric columns dummy-coded).
    reml : REML (default, as lme4's default) or ML.
    df_method : ``between_within`` (nlme's rule) or ``normal``.
    ci_level : confidence level in (0, 1).
    missing : ``drop`` or ``error`` for units with a missing outcome, covariate or cluster.

    See the module docstring for the algebra and references.
    """
    from bitframe.analyse.distributions import t_ppf, t_sf

    ci_level = check_ci_level(ci_level)
    check_choice("df_method", df_method, DF_METHODS)
    if clusters is None:
        raise ValueError("The 'clusters' parameter is required for a mixed model.")
    prep = trial_inputs(outcome, arm, control=control, covariates=covariates, clusters=clusters, exposure=None,
                    missing=missing)
    y, X = prep.y, prep.X
    N, p = X.shape
    # clusters were required above, so trial_inputs has coded them
    G = cast(int, prep.n_clusters)
    codes = cast(np.ndarray, prep.cluster_codes)
    if G < 2:
        raise ValueError(f"A mixed model needs at least 2 clusters. Got {G} instead.")
    if N - p <= 0:
        raise ValueError(f"Too few units ({N}) for {p} fixed effects.")

    prof = _Profile(y, X, codes, G, reml)
    gamma = _maximise(prof)
    beta, A, Q, _ = prof.solve(gamma)
    sigma2 = Q / prof.dof
    tau2 = gamma * sigma2
    V = sigma2 * np.linalg.inv(A)
    se = np.sqrt(np.diag(V))

    # nlme's between-within df: terms constant within every cluster sit at the cluster level
    if df_method == "between_within":
        means = prof.S / prof.ng[:, None]
        within_var = np.array([np.max(np.abs(X[:, j] - means[codes, j])) for j in range(p)])
        between = within_var <= 1e-12 * (1.0 + np.max(np.abs(X), axis=0))
        between[0] = False  # the intercept takes the innermost level's df in nlme
        p_between = int(between.sum())
        p_within = p - p_between - 1
        dfs = np.where(between, G - p_between - 1.0, N - G - p_within)
        if np.any(dfs <= 0):
            raise ValueError(
                f"Between-within degrees of freedom are not positive ({G} clusters, {p_between} cluster-level terms); "
                "use df_method='normal' or fewer cluster-level covariates."
            )
    else:
        dfs = np.full(p, math.inf)

    def est(term: str, j: int, scale: str) -> Estimate:
        b, s, df = float(beta[j]), float(se[j]), float(dfs[j])
        stat = b / s
        q, pv = float(t_ppf(0.5 + ci_level / 2, df)), float(2 * t_sf(abs(stat), df))  # df = inf: the normal
        return Estimate(term=term, estimate=b, std_error=s, statistic=stat, df=df, p_value=pv, ci_lower=b - q * s,
                        ci_upper=b + q * s, ci_level=ci_level, estimator="mixed", se_type="model", n=N,
                        n_clusters=G, scale=scale)

    coefs = tuple(est(name, j, "coefficient") for j, name in enumerate(prep.names))
    effects = tuple(est(a, prep.arm_columns[a], "difference") for a in prep.arms)
    return MixedResult(
        estimator="mixed", method="REML" if reml else "ML", df_method=df_method, control=prep.control,
        arms=prep.arms, ci_level=ci_level, n=N, n_dropped=prep.n_dropped, n_clusters=G, tau2=float(tau2),
        sigma2=float(sigma2), icc=float(tau2 / (tau2 + sigma2)), singular=gamma == 0.0,
        log_likelihood=prof.loglik(gamma), control_mean=float(np.mean(y[prep.labels == prep.control])),
        coefficients=coefs, effects=effects,
    )


def _register() -> None:
    from bitframe.analyse.estimators import ESTIMATORS, register_estimator

    if "mixed" in ESTIMATORS:
        return

    @register_estimator("mixed", description="linear mixed model with a random cluster intercept (REML; "
                        "nlme between-within df), as lme4::lmer", outcome_types=("continuous", "binary", "count"),
                        se_types=("model",), requires_clusters=True)
    def _mixed(outcome, arm, *, control=None, covariates=None, strata=None, clusters=None, weights=None,
               se_type=None, ci_level=0.95):
        if weights is not None:
            raise ValueError("The 'mixed' estimator does not take weights.")
        if se_type not in (None, "model"):
            raise ValueError(f"The 'mixed' estimator's standard errors come from the model; se_type must be unset "
                             f"(or 'model'). Got {se_type!r} instead.")
        if clusters is None:
            raise ValueError("The 'mixed' estimator needs 'clusters' (the random intercept's grouping).")
        res = mixed_model(outcome, arm, clusters, control=control, covariates=covariates_with_strata(covariates, strata),
                          ci_level=ci_level, missing="error")
        return list(res.effects)


_register()
