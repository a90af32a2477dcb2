"""Generalised linear models for binary and count outcomes of a trial.

Three estimators, each comparing every arm with a named control arm:

* :func:`logistic_regression` -- binary outcome, logit link; reports the log odds ratio, the odds
  ratio and the average marginal effect (risk difference averaged over the sample) of each arm.
* :func:`poisson_regression` -- count outcome, log link; log rate ratio, rate ratio, marginal effect
  (difference in expected counts).
* :func:`negative_binomial_regression` -- as Poisson, NB2 variance ``mu + mu^2 / theta`` with
  ``theta`` estimated by maximum likelihood.

Model and estimation
--------------------
With design matrix ``X`` (intercept, one dummy per non-control arm, covariates) and link ``g``,
``g(mu_i) = x_i' beta + offset_i``. ``beta`` is the maximum-likelihood estimate found by iteratively
reweighted least squares (Fisher scoring; McCullagh & Nelder 1989, sec. 2.5), iterated to machine
precision rather than to R's default ``epsilon = 1e-8``.

Variance of ``beta``
--------------------
Every ``se_type`` of :mod:`bitframe.analyse.variance` but ``CR2`` (which is defined there for least
squares), from the bread ``B = (X' W X)^{-1}`` with IRLS working weights
``w_i = (dmu/deta)^2 / V(mu_i)`` at the estimate (the expected information; for canonical links
also the observed one), the scores ``s_i = x_i (y_i - mu_i) (dmu/deta)_i / V(mu_i)`` and the GLM
hat values ``h_i = w_i x_i' B x_i`` (as ``sandwich::vcovHC``; Zeileis 2004, 2006). ``classical``
is ``B`` (dispersion fixed at 1 for all three families). The default is ``HC1``, or ``CR1``
(``CR0 * G / (G - 1)``) with clusters: the adjustment Stata applies to ML estimators (``logit``,
``poisson``, ``nbreg`` with ``vce(cluster)``; Stata [P] _robust) and
``sandwich::vcovCL(type = "HC0", cadjust = TRUE)``; ``stata`` (CR1S,
``CR0 * G (n - 1) / ((G - 1)(n - k))``) is the default of ``sandwich::vcovCL`` (``type = "HC1"``;
Zeileis, Koell & Graham 2020).

For the negative binomial the variance is conditional on ``theta`` (as ``sandwich`` on a
``MASS::glm.nb`` fit); ``beta`` and ``theta`` are orthogonal in expected information (Lawless 1987),
so this loses nothing asymptotically.

Effects reported per arm
------------------------
Inference is on the normal scale (``df = inf``), as usual for GLMs.

* log ratio ``b_j`` with SE from the chosen variance, ``z = b_j / se_j``;
* ratio ``exp(b_j)``: CI ``exp(b_j -/+ z_{1-a/2} se_j)``, SE by the delta method ``exp(b_j) se_j``
  (as Stata's ``or``/``irr`` display), test statistic and p-value those of the log scale;
* average marginal effect (discrete change)
  ``AME_j = n^{-1} sum_i [g^{-1}(x_i(j)' b) - g^{-1}(x_i(0)' b)]`` where ``x_i(j)`` is unit ``i``'s
  covariate row with its arm set to ``j`` (every unit, whatever its own arm), with delta-method SE
  ``sqrt(d' V d)``, ``d = n^{-1} sum_i [mu'(eta_i(j)) x_i(j) - mu'(eta_i(0)) x_i(0)]``
  (Williams 2012, Stata Journal 12(2):308-331; Greene 2012, Econometric Analysis, sec. 17.3).

Results have been tested against R ``glm``, ``MASS::glm.nb`` and ``sandwich::vcovHC/vcovCL``
(``tests/reference/glm_reference.R``).

References
----------
McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed. Chapman & Hall.
Lawless JF (1987). Negative binomial and mixed Poisson regression. Can J Stat 15(3):209-225.
Venables WN, Ripley BD (2002). Modern Applied Statistics with S, 4th ed., sec. 7.4.
Zeileis A (2004, 2006). J Stat Softw 11(10), 16(9). Zeileis, Koell, Graham (2020). J Stat Softw 95(1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from bitframe.analyse.coding import (
    TrialInputs,
    check_ci_level,
    covariates_with_strata,
    trial_inputs,
)
from bitframe.analyse.results import Estimate, estimates_frame
from bitframe.analyse.variance import (
    SE_TYPES,
    Clusters,
    SandwichInputs,
    resolve_se_type,
    variance,
)
from bitframe.errors import check_choice

__all__ = [
    "GLM_SE_TYPES",
    "GLMResult",
    "logistic_regression",
    "negative_binomial_regression",
    "poisson_regression",
]

#: every se_type of bitframe.analyse.variance but CR2 (defined there for least squares only)
GLM_SE_TYPES = tuple(name for name in SE_TYPES if name != "CR2")

_MAX_ITER = 200
_TOL = 1e-12


class _FitFacts(TypedDict):
    """The fields every :class:`Estimate` of one fit shares."""

    estimator: str
    se_type: str
    n: int
    n_clusters: int | None


def _z_estimate(term: str, est: float, se: float, ci_level: float, *, estimator: str, se_type: str, n: int,
                n_clusters: int | None, scale: str) -> Estimate:
    from scipy.stats import norm

    q = float(norm.ppf(0.5 + ci_level / 2))
    z = est / se if se > 0 else math.nan
    p = float(2 * norm.sf(abs(z))) if se > 0 else math.nan
    return Estimate(term=term, estimate=float(est), std_error=float(se), statistic=float(z), df=math.inf,
                    p_value=p, ci_lower=float(est - q * se), ci_upper=float(est + q * se), ci_level=ci_level,
                    estimator=estimator, se_type=se_type, n=n, n_clusters=n_clusters, scale=scale)


# --------------------------------------------------------------------------------------------
# families
# --------------------------------------------------------------------------------------------


class _Family:
    name = ""
    link = ""

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def variance(self, mu: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def mustart(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def loglik(self, y: np.ndarray, mu: np.ndarray) -> float:
        raise NotImplementedError

    def deviance(self, y: np.ndarray, mu: np.ndarray) -> float:
        raise NotImplementedError


class _Binomial(_Family):
    name, link = "binomial", "logit"

    def linkinv(self, eta):
        return 1.0 / (1.0 + np.exp(-eta))

    def mu_eta(self, eta):
        p = self.linkinv(eta)
        return p * (1.0 - p)

    def variance(self, mu):
        return mu * (1.0 - mu)

    def mustart(self, y):
        return (y + 0.5) / 2.0  # R's binomial()$initialize for 0/1 data

    def linkfun(self, mu):
        return np.log(mu / (1.0 - mu))

    def loglik(self, y, mu):
        return float(np.sum(y * np.log(mu) + (1.0 - y) * np.log1p(-mu)))

    def deviance(self, y, mu):
        return -2.0 * self.loglik(y, mu)


class _LogLink(_Family):
    link = "log"

    def linkinv(self, eta):
        return np.exp(eta)

    def mu_eta(self, eta):
        return np.exp(eta)

    def mustart(self, y):
        return y + 0.1  # R's poisson()$initialize

    def linkfun(self, mu):
        return np.log(mu)


class _Poisson(_LogLink):
    name = "poisson"

    def variance(self, mu):
        return mu

    def loglik(self, y, mu):
        from scipy.special import gammaln

        return float(np.sum(y * np.log(mu) - mu - gammaln(y + 1.0)))

    def deviance(self, y, mu):
        from scipy.special import xlogy

        return float(2.0 * np.sum(xlogy(y, y / mu) - (y - mu)))


class _NegBin(_LogLink):
    name = "negative_binomial"

    def __init__(self, theta: float):
        self.theta = float(theta)

    def variance(self, mu):
        return mu + mu * mu / self.theta

    def loglik(self, y, mu):
        return _nb_loglik(self.theta, y, mu)

    def deviance(self, y, mu):
        from scipy.special import xlogy

        th = self.theta
        return float(2.0 * np.sum(xlogy(y, y / mu) - (y + th) * np.log((y + th) / (mu + th))))


def _nb_loglik(theta: float, y: np.ndarray, mu: np.ndarray) -> float:
    from scipy.special import gammaln

    return float(np.sum(gammaln(theta + y) - gammaln(theta) - gammaln(y + 1.0) + theta * np.log(theta)
                        + y * np.log(mu) - (theta + y) * np.log(theta + mu)))


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------


def _irls(y: np.ndarray, X: np.ndarray, offset: np.ndarray, family: _Family,
          beta0: np.ndarray | None = None) -> tuple[np.ndarray, int, bool]:
    """Fisher scoring to machine precision; returns (beta, iterations, converged)."""
    if beta0 is None:
        mu = family.mustart(y)
        eta = family.linkfun(mu)
    else:
        eta = X @ beta0 + offset
        mu = family.linkinv(eta)
    beta = np.zeros(X.shape[1]) if beta0 is None else beta0.copy()
    dev_old = math.inf
    for it in range(1, _MAX_ITER + 1):
        d = family.mu_eta(eta)
        w = d * d / family.variance(mu)
        z = eta - offset + (y - mu) / d
        # normal equations: k x k, so each step costs O(n k^2); the design was checked for rank
        beta_new = np.linalg.solve((X * w[:, None]).T @ X, X.T @ (w * z))
        eta = X @ beta_new + offset
        mu = family.linkinv(eta)
        if family.name == "binomial":
            mu = np.clip(mu, 1e-300, 1 - 1e-16)
        dev = family.deviance(y, mu)
        step = np.max(np.abs(beta_new - beta) / (1.0 + np.abs(beta_new)))
        beta = beta_new
        if abs(dev - dev_old) / (abs(dev) + 0.1) < _TOL and step < 1e-10:
            return beta, it, True
        dev_old = dev
    return beta, _MAX_ITER, False


class _ThetaProfile:
    """Terms of the NB2 log-likelihood in theta for fixed mu.

    Sums of digamma/trigamma/log-gamma of ``theta + y`` run over the distinct counts only (a count
    outcome has few), so each Newton step costs O(n) cheap operations.
    """

    def __init__(self, y: np.ndarray):
        self.y = y
        self.n = y.size
        self.uy, self.cnt = np.unique(y, return_counts=True)

    def loglik(self, th: float, mu: np.ndarray) -> float:
        from scipy.special import gammaln

        # gammaln(y + 1) is constant in theta and mu: left out (only differences are compared)
        return float(self.cnt @ gammaln(th + self.uy) - self.n * gammaln(th) + self.n * th * math.log(th)
                     + self.y @ np.log(mu) - np.sum((th + self.y) * np.log(th + mu)))

    def derivatives(self, th: float, mu: np.ndarray) -> tuple[float, float]:
        """(dl/dtheta, d2l/dtheta2), as MASS::theta.ml's score and -info."""
        from scipy.special import digamma, polygamma

        a = mu + th
        score = float(self.cnt @ digamma(th + self.uy) - self.n * digamma(th) + self.n * (math.log(th) + 1.0)
                      - np.sum(np.log(a)) - np.sum((self.y + th) / a))
        d2 = float(self.cnt @ polygamma(1, th + self.uy) - self.n * polygamma(1, th) + self.n / th
                   - np.sum(2.0 / a) + np.sum((self.y + th) / (a * a)))
        return score, d2


def _theta_ml(prof: _ThetaProfile, mu: np.ndarray, theta0: float | None = None) -> tuple[float, float]:
    """ML estimate of NB theta given mu (Newton on log theta); returns (theta, observed information)."""
    y, n = prof.y, prof.n
    if theta0 is None:
        # moment start, as MASS::theta.ml
        theta0 = n / float(np.sum((y / mu - 1.0) ** 2))
    phi = math.log(max(theta0, 1e-8))
    for _ in range(200):
        th = math.exp(phi)
        score, d2 = prof.derivatives(th, mu)
        g = th * score
        h = th * th * d2 + th * score  # d2l/dphi2
        step = -g / h if h < 0 else (1.0 if g > 0 else -1.0)
        step = max(min(step, 5.0), -5.0)
        # backtrack so that the log-likelihood never decreases
        l0 = prof.loglik(th, mu)
        for _ in range(60):
            if prof.loglik(math.exp(phi + step), mu) >= l0 - 1e-12 * abs(l0):
                break
            step /= 2.0
        phi += step
        if abs(step) < 1e-13 or phi > math.log(1e10):
            break
    th = math.exp(phi)
    return th, -prof.derivatives(th, mu)[1]


def _vcov(prep: TrialInputs, family: _Family, beta: np.ndarray, se_type: str) -> np.ndarray:
    X, y = prep.X, prep.y
    eta = X @ beta + prep.offset
    mu = family.linkinv(eta)
    d = family.mu_eta(eta)
    var = family.variance(mu)
    w = d * d / var
    bread = np.linalg.inv((X * w[:, None]).T @ X)
    clusters = None
    if prep.cluster_codes is not None and prep.n_clusters is not None:
        clusters = Clusters.from_codes(prep.cluster_codes, prep.n_clusters, se_type)
    inputs = SandwichInputs.likelihood(X, bread, (y - mu) * d / var, w, clusters=clusters)
    return variance(se_type, inputs).vcov


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GLMResult:
    """A fitted trial GLM: coefficients and per-arm effects on three scales.

    ``effects`` holds, for each non-control arm in order, three :class:`Estimate` records whose
    ``term`` is the arm label and whose ``scale`` is the log ratio (``log_odds_ratio`` /
    ``log_rate_ratio``), the ratio (``odds_ratio`` / ``rate_ratio``) and ``marginal_effect``.
    ``coefficients`` holds every model coefficient on the link scale (``term`` as ``arm[sms]``,
    covariate names, ``(Intercept)``). ``theta`` (NB2 shape; variance ``mu + mu^2/theta``) and its
    standard error (from the observed information, as ``MASS::glm.nb``) are set only for the
    negative binomial. ``control_mean`` is the observed mean outcome of the control arm.
    """

    estimator: str
    family: str
    link: str
    control: str
    arms: tuple[str, ...]
    se_type: str
    ci_level: float
    n: int
    n_dropped: int
    n_clusters: int | None
    converged: bool
    iterations: int
    log_likelihood: float
    deviance: float
    control_mean: float
    coefficients: tuple[Estimate, ...]
    effects: tuple[Estimate, ...]
    theta: float | None = None
    theta_std_error: float | None = None

    def effect(self, arm: str, scale: str) -> Estimate:
        """The effect of ``arm`` vs control on ``scale`` (e.g. ``odds_ratio``, ``marginal_effect``)."""
        check_choice("arm", str(arm), self.arms)
        check_choice("scale", scale, sorted({e.scale for e in self.effects}))
        return next(e for e in self.effects if e.term == str(arm) and e.scale == scale)

    def to_frame(self):
        """Tidy per-arm effects (one row per arm and scale), pandas DataFrame."""
        frame = estimates_frame(self.effects)
        frame.insert(0, "arm", frame.pop("term"))
        frame.insert(1, "contrast", [f"{a} - {self.control}" for a in frame["arm"]])
        return frame

    def coefficients_frame(self):
        """Every coefficient on the link scale, pandas DataFrame."""
        return estimates_frame(self.coefficients)


def _fit(estimator: str, family_name: str, outcome: Any, arm: Any, *, control: Any, covariates: Any,
         clusters: Any, exposure: Any, se_type: str | None, ci_level: float, missing: str) -> GLMResult:
    ci_level = check_ci_level(ci_level)
    prep = trial_inputs(outcome, arm, control=control, covariates=covariates, clusters=clusters, exposure=exposure,
                    missing=missing)
    se_type = resolve_se_type(se_type, prep.cluster_codes is not None, offered=GLM_SE_TYPES, default=("HC1", "CR1"))
    y, X = prep.y, prep.X
    n = X.shape[0]

    # outcome checks and non-estimable arms, before fitting (clearer than a non-converged fit)
    if family_name == "binomial":
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("The 'outcome' parameter of a logistic regression must be 0/1 (or boolean).")
        for a in (prep.control, *prep.arms):
            ya = y[prep.labels == a]
            if ya.min() == ya.max():
                raise ValueError(
                    f"Arm {a!r} has {'no events' if ya.max() == 0 else 'only events'} (all outcomes {int(ya[0])}); "
                    "its odds ratio is not estimable. Report the risk difference instead."
                )
    else:
        if np.any(y < 0):
            raise ValueError("The 'outcome' parameter of a count regression must be non-negative.")
        for a in (prep.control, *prep.arms):
            if y[prep.labels == a].max() == 0:
                raise ValueError(f"Arm {a!r} has no events (all counts 0); its rate ratio is not estimable.")

    theta = theta_se = None
    if family_name == "binomial":
        family: _Family = _Binomial()
        beta, iters, conv = _irls(y, X, prep.offset, family)
    elif family_name == "poisson":
        family = _Poisson()
        beta, iters, conv = _irls(y, X, prep.offset, family)
    else:
        # alternate theta | mu (ML) and beta | theta (IRLS) to the joint maximum, as MASS::glm.nb
        beta, iters, conv = _irls(y, X, prep.offset, _Poisson())
        mu = np.exp(X @ beta + prep.offset)
        tprof = _ThetaProfile(y)
        th, _ = _theta_ml(tprof, mu)
        conv_all = False
        for _ in range(_MAX_ITER):
            family = _NegBin(th)
            beta, it, conv = _irls(y, X, prep.offset, family, beta0=beta)
            iters += it
            mu = np.exp(X @ beta + prep.offset)
            th_new, _ = _theta_ml(tprof, mu, th)
            done = abs(math.log(th_new) - math.log(th)) < 1e-12
            th = th_new
            if done:
                conv_all = conv
                break
        family = _NegBin(th)
        beta, it, conv = _irls(y, X, prep.offset, family, beta0=beta)
        iters += it
        conv = conv and conv_all
        mu = np.exp(X @ beta + prep.offset)
        theta, info = th, _theta_ml(tprof, mu, th)[1]
        theta_se = math.sqrt(1.0 / info) if info > 0 else math.nan
        if theta > 1e9:
            warnings.warn("The negative binomial theta diverges (no overdispersion); use poisson_regression.",
                          RuntimeWarning, stacklevel=3)
    if not conv:
        warnings.warn(f"{estimator}: iterations did not converge; estimates may be unreliable.", RuntimeWarning,
                      stacklevel=3)

    V = _vcov(prep, family, beta, se_type)
    se = np.sqrt(np.diag(V))
    G = prep.n_clusters
    common: _FitFacts = {"estimator": estimator, "se_type": se_type, "n": n, "n_clusters": G}
    coefs = tuple(
        _z_estimate(name, beta[j], se[j], ci_level, scale="coefficient", **common)
        for j, name in enumerate(prep.names)
    )
    log_scale, ratio_scale = (("log_odds_ratio", "odds_ratio") if family_name == "binomial"
                              else ("log_rate_ratio", "rate_ratio"))
    effects: list[Estimate] = []
    Xc = X.copy()
    arm_idx = list(prep.arm_columns.values())
    Xc[:, arm_idx] = 0.0
    eta0 = Xc @ beta + prep.offset
    for a in prep.arms:
        j = prep.arm_columns[a]
        log_e = _z_estimate(a, beta[j], se[j], ci_level, scale=log_scale, **common)
        r = math.exp(beta[j])
        ratio = Estimate(term=a, estimate=r, std_error=r * se[j], statistic=log_e.statistic, df=math.inf,
                         p_value=log_e.p_value, ci_lower=math.exp(log_e.ci_lower), ci_upper=math.exp(log_e.ci_upper),
                         ci_level=ci_level, scale=ratio_scale, **common)
        X1 = Xc.copy()
        X1[:, j] = 1.0
        eta1 = X1 @ beta + prep.offset
        ame = float(np.mean(family.linkinv(eta1) - family.linkinv(eta0)))
        grad = (family.mu_eta(eta1) @ X1 - family.mu_eta(eta0) @ Xc) / n
        ame_se = math.sqrt(float(grad @ V @ grad))
        me = _z_estimate(a, ame, ame_se, ci_level, scale="marginal_effect", **common)
        effects.extend([log_e, ratio, me])

    mu = family.linkinv(X @ beta + prep.offset)
    return GLMResult(
        estimator=estimator, family=family_name, link=family.link, control=prep.control, arms=prep.arms,
        se_type=se_type, ci_level=ci_level, n=n, n_dropped=prep.n_dropped, n_clusters=G, converged=bool(conv),
        iterations=int(iters), log_likelihood=family.loglik(y, mu), deviance=family.deviance(y, mu),
        control_mean=float(np.mean(y[prep.labels == prep.control])), coefficients=coefs, effects=tuple(effects),
        theta=theta, theta_std_error=theta_se,
    )


_COMMON_DOC = """
    Parameters
    ----------
    outcome : array-like, length n.
    arm : array-like of arm labels, length n (any hashable labels; compared as strings).
    control : the control arm's label; default the first label in sorted order (R's factor baseline).
    covariates : None, array (n,) or (n, p), DataFrame or mapping name -> values; non-numeric columns
        are dummy-coded (first sorted level as reference).
    clusters : cluster labels, length n; required for cluster-robust ``se_type``.
    se_type : one of ``classical``, ``HC0``-``HC3`` (no clusters) or ``CR0``, ``CR1``, ``stata``
        (clusters; :mod:`bitframe.analyse.variance`); default ``HC1``, or ``CR1`` when clusters are given.
    ci_level : confidence level in (0, 1).
    missing : ``drop`` (complete cases; ``n_dropped`` counts the rest) or ``error``.
"""


def logistic_regression(outcome: Any, arm: Any, *, control: Any = None, covariates: Any = None,
                        clusters: Any = None, se_type: str | None = None, ci_level: float = 0.95,
                        missing: str = "drop") -> GLMResult:
    """Logistic regression of a binary outcome on arm dummies (+ covariates).

    Reports per arm the log odds ratio, the odds ratio (CI by exponentiating the log-OR CI) and the
    average marginal effect (risk difference averaged over the sample, delta-method SE).
    See the module docstring for the formulas and references.

    Examples
    --------
    A 2 x 2 table (30/100 events with the letter, 18/100 without): the odds ratio is
    ``(30 * 82) / (70 * 18)`` and the marginal effect the risk difference 0.12.

    >>> import numpy as np
    >>> y = np.r_[np.ones(30), np.zeros(70), np.ones(18), np.zeros(82)]
    >>> arm = np.repeat(["letter", "control"], 100)
    >>> fit = logistic_regression(y, arm, control="control", se_type="classical")
    >>> round(fit.effect("letter", "odds_ratio").estimate, 6), round((30 * 82) / (70 * 18), 6)
    (1.952381, 1.952381)
    >>> round(fit.effect("letter", "marginal_effect").estimate, 6)
    0.12
    """
    return _fit("logit", "binomial", outcome, arm, control=control, covariates=covariates, clusters=clusters,
                exposure=None, se_type=se_type, ci_level=ci_level, missing=missing)


def poisson_regression(outcome: Any, arm: Any, *, control: Any = None, covariates: Any = None,
                       clusters: Any = None, exposure: Any = None, se_type: str | None = None,
                       ci_level: float = 0.95, missing: str = "drop") -> GLMResult:
    """Poisson regression (log link) of a count outcome; rate ratios with sandwich SEs.

    ``exposure`` (positive, length n) enters as the offset ``log(exposure)``. With a robust
    ``se_type`` this is valid for any mean-correctly-specified non-negative outcome
    (Zou 2004, Am J Epidemiol 159(7):702-706). See the module docstring.
    """
    return _fit("poisson", "poisson", outcome, arm, control=control, covariates=covariates, clusters=clusters,
                exposure=exposure, se_type=se_type, ci_level=ci_level, missing=missing)


def negative_binomial_regression(outcome: Any, arm: Any, *, control: Any = None, covariates: Any = None,
                                 clusters: Any = None, exposure: Any = None, se_type: str | None = None,
                                 ci_level: float = 0.95, missing: str = "drop") -> GLMResult:
    """Negative binomial (NB2, log link) regression with theta by maximum likelihood.

    Matches ``MASS::glm.nb``: the joint ML estimate of ``(beta, theta)``; the variance of
    ``beta`` is conditional on ``theta`` (as ``sandwich`` on a glm.nb fit). See the module docstring.
    """
    return _fit("negative_binomial", "negative_binomial", outcome, arm, control=control, covariates=covariates,
                clusters=clusters, exposure=exposure, se_type=se_type, ci_level=ci_level, missing=missing)


for _f in (logistic_regression, poisson_regression, negative_binomial_regression):
    _f.__doc__ = (_f.__doc__ or "") + _COMMON_DOC


# --------------------------------------------------------------------------------------------
# registry entries (common interface of bitframe.analyse.estimators)
# --------------------------------------------------------------------------------------------


def _registry_fit(fn: Any, scale: str, outcome: Any, arm: Any, *, control: Any, covariates: Any, strata: Any,
                  clusters: Any, weights: Any, se_type: str | None, ci_level: float, **extra: Any) -> list[Estimate]:
    if weights is not None:
        raise ValueError(f"The {fn.__name__!r} estimator does not take weights.")
    res = fn(outcome, arm, control=control, covariates=covariates_with_strata(covariates, strata), clusters=clusters,
             se_type=se_type, ci_level=ci_level, missing="error", **extra)
    return [e for e in res.effects if e.scale == scale]


def _register() -> None:
    from bitframe.analyse.estimators import ESTIMATORS, register_estimator

    if "logit" in ESTIMATORS:  # re-import (e.g. importlib.reload) must not register twice
        return

    @register_estimator("logit", description="logistic regression: log odds ratio per arm (sandwich SEs), "
                        "as R glm + sandwich", outcome_types=("binary",), se_types=GLM_SE_TYPES)
    def _logit(outcome, arm, *, control=None, covariates=None, strata=None, clusters=None, weights=None,
               se_type=None, ci_level=0.95):
        return _registry_fit(logistic_regression, "log_odds_ratio", outcome, arm, control=control,
                             covariates=covariates, strata=strata, clusters=clusters, weights=weights,
                             se_type=se_type, ci_level=ci_level)

    @register_estimator("poisson", description="Poisson regression: log rate ratio per arm (sandwich SEs), "
                        "as R glm + sandwich", outcome_types=("count",), se_types=GLM_SE_TYPES)
    def _poisson(outcome, arm, *, control=None, covariates=None, strata=None, clusters=None, weights=None,
                 se_type=None, ci_level=0.95):
        return _registry_fit(poisson_regression, "log_rate_ratio", outcome, arm, control=control,
                             covariates=covariates, strata=strata, clusters=clusters, weights=weights,
                             se_type=se_type, ci_level=ci_level)

    @register_estimator("negative_binomial", description="negative binomial (NB2, ML theta): log rate ratio per arm, "
                        "as MASS::glm.nb + sandwich", outcome_types=("count",), se_types=GLM_SE_TYPES)
    def _negative_binomial(outcome, arm, *, control=None, covariates=None, strata=None, clusters=None, weights=None,
                           se_type=None, ci_level=0.95):
        return _registry_fit(negative_binomial_regression, "log_rate_ratio", outcome, arm, control=control,
                             covariates=covariates, strata=strata, clusters=clusters, weights=weights,
                             se_type=se_type, ci_level=ci_level)


_register()
