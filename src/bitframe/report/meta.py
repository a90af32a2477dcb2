r"""Meta-analysis of per-site effect estimates (programme synthesis).

Each site (study) contributes an estimate :math:`y_i` with known sampling
variance :math:`v_i` (or standard error :math:`\sqrt{v_i}`). The normal-normal
model is

.. math::

    y_i = \mu + u_i + e_i, \qquad u_i \sim N(0, \tau^2), \qquad e_i \sim N(0, v_i),

and :math:`\mu` is estimated by inverse-variance weighting with
:math:`w_i = 1/(v_i + \hat\tau^2)`:

.. math::

    \hat\mu = \frac{\sum_i w_i y_i}{\sum_i w_i}, \qquad
    \operatorname{SE}(\hat\mu) = \Big(\sum_i w_i\Big)^{-1/2}.

Methods (``method=``), one canonical name each, following metafor's ``rma()``:

``"FE"``
    Fixed (common) effect: :math:`\tau^2 = 0`.
``"DL"``
    DerSimonian and Laird (1986) moment estimator,
    :math:`\hat\tau^2 = \max\{0, (Q - (k-1)) / (S_1 - S_2/S_1)\}` with
    :math:`S_r = \sum_i v_i^{-r}`.
``"REML"``
    Restricted maximum likelihood by Fisher scoring exactly as metafor does it:
    start at the Hedges (HE) estimate
    :math:`\max\{0, [\sum (y_i-\bar y)^2 - \tfrac{k-1}{k}\sum v_i]/(k-1)\}`,
    step :math:`\Delta = (y' P P y - \operatorname{tr} P)/\operatorname{tr}(PP)`
    with :math:`P = W - W 1 1' W / 1' W 1`, halve the step while it would make
    :math:`\tau^2 < 0`, stop once :math:`|\Delta| \le 10^{-5}` (at most 100
    steps), then compare the restricted log-likelihood with that at
    :math:`\tau^2 = 0` (metafor's ``ll0check``).
``"PM"``
    Paule and Mandel (1982): the :math:`\tau^2` at which the generalised
    :math:`Q(\tau^2) = \sum w_i (y_i - x_i'\hat\beta)^2` equals its expectation
    :math:`k - p` (0 when :math:`Q(0) < k - p`), solved to machine precision.

With moderators (:func:`meta_regression`, metafor's ``rma(yi, vi, mods = ~ ...)``) every
estimator uses :math:`P = W - WX(X'WX)^{-1}X'W` in place of the intercept-only form, and
:math:`k - p` in place of :math:`k - 1`; ``QM`` tests the moderator coefficients.

Tests (``test=``): ``"z"``; ``"knha"`` (Hartung-Knapp-Sidik-Jonkman: the covariance is
multiplied by :math:`s^2_w = \sum w_i (y_i - x_i'\hat\beta)^2/(k-p)`, t on :math:`k-p` df);
``"adhoc"`` (the same with :math:`\max(1, s^2_w)`, so never narrower than ``"z"``; Knapp &
Hartung 2003; Röver, Knapp & Friede 2015). :func:`effect_size` is metafor's ``escalc()``.

Heterogeneity follows metafor: Cochran's :math:`Q = \sum v_i^{-1}(y_i - \hat\mu_{FE})^2`
on :math:`k-1` df; for ``FE`` :math:`I^2 = \max\{0, 100 (Q-(k-1))/Q\}` and
:math:`H^2 = Q/(k-1)`; for random-effects methods, with the "typical"
within-study variance :math:`\tilde v = (k-1)/(S_1 - S_2/S_1)`,
:math:`I^2 = 100\,\hat\tau^2/(\tilde v + \hat\tau^2)` and
:math:`H^2 = \hat\tau^2/\tilde v + 1` (Higgins & Thompson 2002).
The prediction interval is metafor's ``predict()`` default,
:math:`\hat\mu \pm c\,\sqrt{\operatorname{SE}(\hat\mu)^2 + \hat\tau^2}` with
:math:`c` the normal quantile (``test="z"``) or the :math:`t_{k-1}` quantile
(``test="knha"``, Knapp & Hartung 2003, where the variance of :math:`\hat\mu` is
multiplied by :math:`\sum w_i (y_i-\hat\mu)^2/(k-1)`, untruncated as in metafor).

Results have been tested against metafor 3.8 (``tests/reference/metafor_reference.R`` and
``metafor_methods_reference.R``) to a relative tolerance of 1e-6.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
*Journal of Statistical Software* 36(3). doi:10.18637/jss.v036.i03.
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in
the random-effects model. *J Educ Behav Stat* 30(3), 261-293.
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. *Control Clin Trials* 7, 177-188.
Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. *Stat Med* 21, 1539-1558.
Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a
single covariate. *Stat Med* 22, 2693-2710.
Paule RC, Mandel J (1982). Consensus values and weighting factors. *J Res Natl Bur Stand* 87, 377-385.
Röver C, Knapp G, Friede T (2015). Hartung-Knapp-Sidik-Jonkman approach and its modification for
random-effects meta-analysis with few studies. *BMC Med Res Methodol* 15, 99.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from bitframe.errors import BitframeError, Problem, check_choice
from bitframe.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from bitframe.analyse.results import EffectEstimate, Estimate

__all__ = [
    "METHODS",
    "TESTS",
    "MetaRegression",
    "MetaResult",
    "Tau2Fit",
    "effect_size",
    "meta_analysis",
    "meta_from_estimates",
    "meta_regression",
]

TESTS = ("z", "knha", "adhoc")

# metafor's rma() control defaults.
REML_THRESHOLD = 1e-5
REML_MAXITER = 100
# .Machine$double.eps^0.25, metafor's `tol` for the log-likelihood check at tau^2 = 0.
LL0_TOL = float(np.finfo(float).eps) ** 0.25

# Ratio scales must be pooled on the log scale; the caller converts first.
_RATIO_SCALES = frozenset({"odds_ratio", "risk_ratio", "rate_ratio", "hazard_ratio", "ratio"})


@dataclass(frozen=True)
class Tau2Fit:
    """The between-site variance from one estimator.

    ``iterations`` is 0 for closed-form estimators.
    """

    tau2: float
    tau2_se: float
    iterations: int = 0


METHODS: Registry[Callable[[np.ndarray, np.ndarray, np.ndarray], Tau2Fit]] = Registry("meta-analysis method")


def _p_matrix(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``P = W - W X (X'WX)^{-1} X'W``, the residual-forming matrix of the weighted fit."""
    wx = x * w[:, None]
    return np.diag(w) - wx @ np.linalg.solve(x.T @ wx, wx.T)


def _p_matrix_traces(w: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """``tr(P)`` and ``tr(PP)``."""
    p = _p_matrix(w, x)
    return float(np.trace(p)), float((p * p).sum())


def _wls(y: np.ndarray, w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares: coefficients and ``(X'WX)^{-1}``."""
    xtwx_inv = np.linalg.inv(x.T @ (x * w[:, None]))
    return xtwx_inv @ (x.T @ (w * y)), xtwx_inv


def _weighted_rss(y: np.ndarray, w: np.ndarray, x: np.ndarray) -> float:
    beta, _ = _wls(y, w, x)
    return float((w * (y - x @ beta) ** 2).sum())


@METHODS.register("FE")
def _tau2_fe(yi: np.ndarray, vi: np.ndarray, x: np.ndarray) -> Tau2Fit:
    return Tau2Fit(tau2=0.0, tau2_se=math.nan)


@METHODS.register("DL")
def _tau2_dl(yi: np.ndarray, vi: np.ndarray, x: np.ndarray) -> Tau2Fit:
    k, p = x.shape
    if k == 1:
        return Tau2Fit(tau2=0.0, tau2_se=math.nan)
    w = 1.0 / vi
    q = _weighted_rss(yi, w, x)
    tr_p, tr_pp = _p_matrix_traces(w, x)
    tau2 = max(0.0, (q - (k - p)) / tr_p)
    # metafor's large-sample SE of the DL estimator (evaluated at the truncated value).
    se = math.sqrt((2.0 * (k - p) + 4.0 * tau2 * tr_p + 2.0 * tau2**2 * tr_pp) / tr_p**2)
    return Tau2Fit(tau2=tau2, tau2_se=se)


@METHODS.register("PM")
def _tau2_pm(yi: np.ndarray, vi: np.ndarray, x: np.ndarray) -> Tau2Fit:
    """Paule-Mandel: the tau^2 at which the generalised Q equals its expectation ``k - p``.

    metafor finds the root with ``uniroot(tol = .Machine$double.eps^0.25)``; the root is found
    here to machine precision (Brent's method), so it agrees with metafor run with a tight ``tol``.
    """
    from scipy.optimize import brentq

    k, p = x.shape
    if k == 1:
        return Tau2Fit(tau2=0.0, tau2_se=math.nan)

    def excess(t2: float) -> float:
        return _weighted_rss(yi, 1.0 / (vi + t2), x) - (k - p)

    if excess(0.0) < 0.0:
        tau2 = 0.0
    else:
        upper = max(1.0, float(np.var(yi)) * 10.0)
        while excess(upper) > 0.0:
            upper *= 10.0
        tau2 = float(brentq(excess, 0.0, upper, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    w = 1.0 / (vi + tau2)
    return Tau2Fit(tau2=tau2, tau2_se=math.sqrt(2.0 * k**2 / (k - p) / float(w.sum()) ** 2))


def _reml_loglik(yi: np.ndarray, vi: np.ndarray, x: np.ndarray, tau2: float) -> float:
    """Restricted log-likelihood (metafor's ``ll.REML`` up to a constant in ``X``)."""
    k, p = x.shape
    w = 1.0 / (vi + tau2)
    rss = _weighted_rss(yi, w, x)
    _, logdet = np.linalg.slogdet(x.T @ (x * w[:, None]))
    return float(-0.5 * (k - p) * math.log(2.0 * math.pi) - 0.5 * np.log(vi + tau2).sum() - 0.5 * logdet - 0.5 * rss)


def _fisher_scoring(yi: np.ndarray, vi: np.ndarray, x: np.ndarray, tau2: float, stepadj: float, maxiter: int):
    """metafor's REML Fisher scoring: returns (tau2, last change, iterations)."""
    change = REML_THRESHOLD + 1.0
    iterations = 0
    while change > REML_THRESHOLD and iterations < maxiter:
        iterations += 1
        old = tau2
        p_mat = _p_matrix(1.0 / (vi + tau2), x)
        py = p_mat @ yi
        adj = (float(py @ py) - float(np.trace(p_mat))) / float((p_mat * p_mat).sum())
        if math.isnan(adj):
            adj = 0.0
        adj *= stepadj
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 = tau2 + adj
        change = abs(old - tau2)
    return tau2, change, iterations


@METHODS.register("REML")
def _tau2_reml(yi: np.ndarray, vi: np.ndarray, x: np.ndarray) -> Tau2Fit:
    k, p = x.shape
    if k == 1:
        return Tau2Fit(tau2=0.0, tau2_se=math.nan)
    # Starting value: the Hedges (HE) estimator, as in metafor when tau2.init is unset.
    p_ols = np.eye(k) - x @ np.linalg.solve(x.T @ x, x.T)
    rss_ols = float(yi @ p_ols @ yi)
    start = max(0.0, (rss_ols - float(np.trace(p_ols * vi[None, :]))) / (k - p))
    # metafor's defaults first (step 1, 100 iterations); if Fisher scoring oscillates, the remedy
    # metafor's documentation gives (control = list(stepadj = 0.5, maxiter = 1000)).
    for stepadj, maxiter in ((1.0, REML_MAXITER), (0.5, 10 * REML_MAXITER)):
        tau2, change, iterations = _fisher_scoring(yi, vi, x, start, stepadj, maxiter)
        if change <= REML_THRESHOLD:
            break
    else:
        raise BitframeError(
            Problem(
                code="BF801",
                message=f"REML Fisher scoring did not converge in {10 * REML_MAXITER} iterations, even with "
                f"halved steps (last tau^2 = {tau2:.6g}, last change = {change:.3g}).",
                hint="use method='DL' or 'PM', or check for sites with extreme variances",
            )
        )
    # A positive root can be a local maximum below the likelihood at tau^2 = 0.
    if tau2 > REML_THRESHOLD and _reml_loglik(yi, vi, x, 0.0) - _reml_loglik(yi, vi, x, tau2) > LL0_TOL:
        tau2 = 0.0
    tau2 = max(0.0, tau2)
    _, tr_pp = _p_matrix_traces(1.0 / (vi + tau2), x)
    return Tau2Fit(tau2=tau2, tau2_se=math.sqrt(2.0 / tr_pp), iterations=iterations)


@dataclass(frozen=True)
class MetaResult:
    """A pooled estimate with heterogeneity statistics (one row of ``to_frame()``).

    Fields mirror metafor's ``rma()``/``predict()`` output: ``statistic`` is z
    (``test="z"``, ``df = inf``) or t on ``df = k - 1`` (``test="knha"``);
    ``i2`` is a percentage (0-100) and ``h2`` a ratio; ``q``/``q_df``/``q_p_value``
    is Cochran's test of homogeneity; ``pi_lower``/``pi_upper`` is the prediction
    interval for a new site's true effect (NaN for ``FE``, where metafor gives none).
    ``tau2_se`` is NaN where metafor reports none (``FE``, ``k = 1``).
    ``labels``, ``yi``, ``vi`` and ``weights`` hold one entry per site; ``weights``
    are the model's normalised weights :math:`w_i/\\sum w` (metafor's ``weights()`` / 100).
    """

    method: str
    test: str
    estimate: float
    std_error: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    ci_level: float
    tau2: float
    tau2_se: float
    tau: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p_value: float
    pi_lower: float
    pi_upper: float
    k: int
    iterations: int
    scale: str
    labels: tuple[str, ...]
    yi: tuple[float, ...]
    vi: tuple[float, ...]
    weights: tuple[float, ...]

    _PER_SITE = ("labels", "yi", "vi", "weights")

    def to_dict(self) -> dict[str, Any]:
        """Summary fields only (no per-site tuples); NaN becomes None."""
        out = {}
        for f in fields(self):
            if f.name in self._PER_SITE:
                continue
            v = getattr(self, f.name)
            out[f.name] = None if isinstance(v, float) and math.isnan(v) else v
        return out

    def to_frame(self) -> pd.DataFrame:
        """One-row tidy summary (per-site values are in :meth:`sites_frame`)."""
        import pandas as pd

        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._PER_SITE}
        return pd.DataFrame([row])

    def sites_frame(self) -> pd.DataFrame:
        """One row per site: label, yi, vi, std_error, Wald CI at ``ci_level`` and weight."""
        import pandas as pd
        from scipy.special import ndtri

        yi = np.asarray(self.yi)
        se = np.sqrt(np.asarray(self.vi))
        crit = float(ndtri(0.5 + self.ci_level / 2.0))
        return pd.DataFrame(
            {
                "label": list(self.labels),
                "yi": yi,
                "vi": np.asarray(self.vi),
                "std_error": se,
                "ci_lower": yi - crit * se,
                "ci_upper": yi + crit * se,
                "ci_level": self.ci_level,
                "weight": np.asarray(self.weights),
            }
        )

    @property
    def is_random_effects(self) -> bool:
        return self.method != "FE"


def _as_vector(name: str, values: Iterable[float] | np.ndarray) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"The '{name}' parameter must be a sequence of numbers; got {values!r}.") from None
    if arr.ndim != 1:
        raise ValueError(f"The '{name}' parameter must be one-dimensional; got shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"The '{name}' parameter must be finite; got {arr[i]!r} at position {i}.")
    return arr


def meta_analysis(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray | None = None,
    *,
    sei: Sequence[float] | np.ndarray | None = None,
    method: str = "REML",
    test: str = "z",
    ci_level: float = 0.95,
    labels: Sequence[str] | None = None,
    scale: str = "difference",
) -> MetaResult:
    """Pool per-site estimates as metafor's ``rma(yi, vi, method=, test=, level=)``.

    Parameters
    ----------
    yi
        Site estimates on an additive scale (differences, log ratios, Fisher z).
    vi, sei
        Sampling variances or standard errors; give exactly one. Must be > 0.
    method
        ``"FE"``, ``"DL"`` or ``"REML"`` (metafor's default); see the module docstring.
    test
        ``"z"`` (metafor's default: normal quantiles) or ``"knha"``
        (Knapp-Hartung: t on k - 1 df; random-effects methods with k >= 2 only).
    ci_level
        Confidence level in (0, 1), used for the CI and the prediction interval.
    labels
        One label per site (default ``"Site 1"``, ``"Site 2"``, ...).
    scale
        What ``yi`` measures (carried to the report, e.g. ``"log_risk_ratio"``).

    Examples
    --------
    >>> r = meta_analysis([0.1, 0.3, 0.5], [0.01, 0.02, 0.04], method="FE")
    >>> round(r.estimate, 4), round(r.std_error, 4)
    (0.2143, 0.0756)
    """
    method = check_choice("method", method, METHODS.names())
    test = check_choice("test", test, TESTS)
    if isinstance(ci_level, bool) or not (isinstance(ci_level, numbers.Real) and 0.0 < float(ci_level) < 1.0):
        raise ValueError(f"The 'ci_level' parameter must be a number in the open range (0, 1); got {ci_level!r}.")
    ci_level = float(ci_level)
    y = _as_vector("yi", yi)
    if (vi is None) == (sei is None):
        raise ValueError("Give exactly one of 'vi' (sampling variances) or 'sei' (standard errors).")
    if vi is not None:
        v = _as_vector("vi", vi)
        vname = "vi"
    else:
        v = _as_vector("sei", sei) ** 2
        vname = "sei"
    k = y.size
    if k == 0:
        raise ValueError("The 'yi' parameter must hold at least one estimate; got none.")
    if v.size != k:
        raise ValueError(f"The '{vname}' parameter must have one value per estimate ({k}); got {v.size}.")
    if (v <= 0).any():
        i = int(np.flatnonzero(v <= 0)[0])
        raise ValueError(f"The '{vname}' parameter must be > 0 for every site; got {v[i]!r} at position {i}.")
    if labels is None:
        labs = tuple(f"Site {i + 1}" for i in range(k))
    else:
        labs = tuple(str(x) for x in labels)
        if len(labs) != k:
            raise ValueError(f"The 'labels' parameter must have one label per estimate ({k}); got {len(labs)}.")
    if test != "z" and (method == "FE" or k < 2):
        raise ValueError(
            f"The 'test' parameter {test!r} needs a random-effects method and k >= 2; got method={method!r} with k={k}."
        )
    core = _fit(y, v, np.ones((k, 1)), method, test, ci_level)
    estimate, se = float(core.beta[0]), float(core.se[0])
    if method == "FE":
        pi_lower = pi_upper = math.nan
    else:
        half = core.crit * math.sqrt(se**2 + core.tau2)
        pi_lower, pi_upper = estimate - half, estimate + half
    return MetaResult(
        method=method,
        test=test,
        estimate=estimate,
        std_error=se,
        statistic=float(core.statistic[0]),
        df=core.df,
        p_value=float(core.p_value[0]),
        ci_lower=estimate - core.crit * se,
        ci_upper=estimate + core.crit * se,
        ci_level=ci_level,
        tau2=core.tau2,
        tau2_se=core.tau2_se,
        tau=math.sqrt(core.tau2),
        i2=core.i2,
        h2=core.h2,
        q=core.q,
        q_df=k - 1,
        q_p_value=core.q_p_value,
        pi_lower=pi_lower,
        pi_upper=pi_upper,
        k=k,
        iterations=core.iterations,
        scale=scale,
        labels=labs,
        yi=tuple(float(x) for x in y),
        vi=tuple(float(x) for x in v),
        weights=tuple(float(x) for x in core.weights / core.weights.sum()),
    )


@dataclass(frozen=True)
class _Core:
    """One fitted normal-normal model with moderators ``X`` (metafor's ``rma.uni`` internals)."""

    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    df: float
    crit: float
    tau2: float
    tau2_se: float
    iterations: int
    i2: float
    h2: float
    q: float
    q_p_value: float
    weights: np.ndarray
    s2w: float


def _fit(y: np.ndarray, v: np.ndarray, x: np.ndarray, method: str, test: str, ci_level: float) -> _Core:
    """Fit as metafor's ``rma(yi, vi, mods = X, method =, test =)`` (``X`` includes the intercept).

    ``test="knha"`` multiplies the coefficients' covariance by
    :math:`s^2_w = \\sum w_i (y_i - x_i'\\hat\\beta)^2/(k-p)` (Knapp & Hartung 2003; Sidik &
    Jonkman 2002) and uses t on ``k - p`` df; ``"adhoc"`` uses :math:`\\max(1, s^2_w)`, so the
    interval is never narrower than the ``z`` interval's variance (Knapp & Hartung 2003, sec. 4;
    Röver, Knapp & Friede 2015), as metafor's ``test="adhoc"``.
    """
    from scipy.special import chdtrc, ndtr, ndtri, stdtr, stdtrit

    k, p = x.shape
    fit = METHODS.get(method)(y, v, x)
    tau2 = fit.tau2
    w = 1.0 / (v + tau2)
    beta, vb = _wls(y, w, x)
    s2w = 1.0
    if test != "z":
        rss = float((w * (y - x @ beta) ** 2).sum())
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
        if test == "adhoc":
            s2w = max(1.0, s2w)
        vb = vb * s2w
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = beta / se
    alpha_half = (1.0 - ci_level) / 2.0
    if test != "z":
        df = float(k - p)
        p_value = 2.0 * stdtr(df, -np.abs(stat))
        crit = float(stdtrit(df, 1.0 - alpha_half))
    else:
        df = math.inf
        p_value = 2.0 * ndtr(-np.abs(stat))
        crit = float(ndtri(1.0 - alpha_half))

    # Heterogeneity always uses fixed-effect weights (metafor's QE, I^2, H^2).
    if k > p:
        w_fe = 1.0 / v
        q = max(0.0, _weighted_rss(y, w_fe, x))
        q_p = float(chdtrc(k - p, q))
        if method == "FE":
            # metafor returns NaN when Q = 0 (0/0); report 0 % heterogeneity instead.
            i2 = max(0.0, 100.0 * (q - (k - p)) / q) if q > 0 else 0.0
            h2 = q / (k - p)
        else:
            tr_p, _ = _p_matrix_traces(w_fe, x)
            vt = (k - p) / tr_p
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        q, q_p, i2, h2 = 0.0, 1.0, 0.0, 1.0
    return _Core(beta=beta, vb=vb, se=se, statistic=stat, p_value=np.asarray(p_value, dtype=float), df=df, crit=crit,
                 tau2=tau2, tau2_se=fit.tau2_se, iterations=fit.iterations, i2=i2, h2=h2, q=q, q_p_value=q_p,
                 weights=w, s2w=s2w)


def meta_from_estimates(
    estimates: Iterable[Estimate | EffectEstimate],
    *,
    labels: Sequence[str] | None = None,
    method: str = "REML",
    test: str = "z",
    ci_level: float = 0.95,
) -> MetaResult:
    """Pool analysis records (``Estimate`` / ``EffectEstimate``) from several sites.

    Uses each record's ``estimate`` and ``std_error``. Records must share one
    ``scale``; ratio scales (``odds_ratio`` ...) are refused because ratios are
    pooled on the log scale: pass ``log_odds_ratio`` estimates instead.
    """
    rows = list(estimates)
    if not rows:
        raise ValueError("The 'estimates' parameter must hold at least one record; got none.")
    scales = {str(getattr(r, "scale", "difference")) for r in rows}
    if len(scales) > 1:
        raise ValueError(f"The 'estimates' parameter mixes scales {sorted(scales)}; pool one scale at a time.")
    scale = scales.pop()
    if scale in _RATIO_SCALES:
        raise ValueError(
            f"The 'estimates' parameter is on the {scale!r} scale; ratios are pooled on the log scale "
            f"(use 'log_{scale}' estimates and exponentiate the pooled result)."
        )
    return meta_analysis(
        [r.estimate for r in rows],
        sei=[r.std_error for r in rows],
        method=method,
        test=test,
        ci_level=ci_level,
        labels=labels,
        scale=scale,
    )


@dataclass(frozen=True)
class MetaRegression:
    """A meta-regression, as metafor's ``rma(yi, vi, mods = ~ ..., method =, test =)``.

    One entry per coefficient in ``terms`` (the intercept first) for ``estimate`` ...
    ``ci_upper``. ``qm`` is the omnibus test that every moderator coefficient is 0 (the
    between-subgroup test when the moderators code one categorical characteristic): a
    chi-square on ``qm_df`` df (``test="z"``) or an F on (``qm_df``, ``df``) df otherwise.
    ``qe`` is the test for residual heterogeneity on ``k - p`` df.
    """

    method: str
    test: str
    terms: tuple[str, ...]
    estimate: tuple[float, ...]
    std_error: tuple[float, ...]
    statistic: tuple[float, ...]
    p_value: tuple[float, ...]
    ci_lower: tuple[float, ...]
    ci_upper: tuple[float, ...]
    df: float
    ci_level: float
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    qe: float
    qe_df: int
    qe_p_value: float
    qm: float
    qm_df: int
    qm_p_value: float
    k: int


def meta_regression(
    yi: Sequence[float] | np.ndarray,
    vi: Sequence[float] | np.ndarray,
    mods: np.ndarray,
    terms: Sequence[str],
    *,
    method: str = "REML",
    test: str = "z",
    ci_level: float = 0.95,
) -> MetaRegression:
    """Regress site effects on site characteristics as ``rma(yi, vi, mods = mods, ...)``.

    ``mods`` is the k x m matrix of moderator columns (without the intercept, which is
    added, as metafor does); ``terms`` names its columns. Refused (``ValueError``) unless
    there are more sites than coefficients plus one, so that both the coefficients and the
    residual heterogeneity rest on at least one degree of freedom each.
    """
    method = check_choice("method", method, METHODS.names())
    test = check_choice("test", test, TESTS)
    if not 0.0 < float(ci_level) < 1.0:
        raise ValueError(f"The 'ci_level' parameter must be a number in the open range (0, 1); got {ci_level!r}.")
    y = _as_vector("yi", yi)
    v = _as_vector("vi", vi)
    m = np.asarray(mods, dtype=float)
    if m.ndim != 2 or m.shape[0] != y.size or v.size != y.size:
        raise ValueError(f"The 'mods' parameter must be a matrix with one row per estimate ({y.size}); got {m.shape}.")
    if len(terms) != m.shape[1]:
        raise ValueError(f"The 'terms' parameter must name each of the {m.shape[1]} moderator columns; got {len(terms)}.")
    x = np.column_stack([np.ones(y.size), m])
    k, p = x.shape
    if k < p + 2:
        raise ValueError(
            f"A meta-regression with {p} coefficients needs at least {p + 2} sites; got {k}."
        )
    if np.linalg.matrix_rank(x) < p:
        raise ValueError("The moderators are collinear with each other or the intercept (every site has the same "
                         "value, or one column is a combination of others); drop one.")
    core = _fit(y, v, x, method, test, float(ci_level))
    from scipy.special import chdtrc, fdtrc

    btt = slice(1, p)
    b = core.beta[btt]
    qm = float(b @ np.linalg.solve(core.vb[btt, btt], b))
    m_df = p - 1
    if test == "z":
        qm_p = float(chdtrc(m_df, qm))
    else:
        qm /= m_df
        qm_p = float(fdtrc(m_df, k - p, qm))
    return MetaRegression(
        method=method, test=test, terms=("intercept", *terms),
        estimate=tuple(float(x) for x in core.beta), std_error=tuple(float(x) for x in core.se),
        statistic=tuple(float(x) for x in core.statistic), p_value=tuple(float(x) for x in core.p_value),
        ci_lower=tuple(float(x) for x in core.beta - core.crit * core.se),
        ci_upper=tuple(float(x) for x in core.beta + core.crit * core.se),
        df=core.df, ci_level=float(ci_level), tau2=core.tau2, tau2_se=core.tau2_se, i2=core.i2, h2=core.h2,
        qe=core.q, qe_df=k - p, qe_p_value=core.q_p_value, qm=qm, qm_df=m_df, qm_p_value=qm_p, k=k,
    )


# --------------------------------------------------------------------------- effect sizes from summary data

CONTINUITY_CORRECTION = 0.5


def effect_size(measure: str, **data: float) -> tuple[float, float]:
    r"""One study's effect and sampling variance from summary data, as metafor's ``escalc()``.

    ``measure`` and its inputs (arm 1 = intervention, arm 2 = control):

    ``risk_difference`` / ``log_risk_ratio`` / ``log_odds_ratio`` (escalc ``RD``/``RR``/``OR``)
        ``events1, total1, events2, total2``. If any of the four cells is 0, 1/2 is added to
        every cell of that study (escalc's defaults ``add = 1/2, to = "only0", drop00 = FALSE``).
        RD: :math:`p_1 - p_2`, :math:`v = p_1(1-p_1)/n_1 + p_2(1-p_2)/n_2`;
        RR: :math:`\log(p_1/p_2)`, :math:`v = 1/a - 1/n_1 + 1/c - 1/n_2`;
        OR: :math:`\log(ad/bc)`, :math:`v = 1/a + 1/b + 1/c + 1/d`.
    ``mean_difference`` / ``smd`` (escalc ``MD``/``SMD``)
        ``mean1, sd1, n1, mean2, sd2, n2``. MD: :math:`v = s_1^2/n_1 + s_2^2/n_2`.
        SMD is Hedges' g with the exact small-sample factor
        :math:`J = \Gamma(m/2) / (\sqrt{m/2}\,\Gamma((m-1)/2))`, :math:`m = n_1+n_2-2`, and
        :math:`v = 1/n_1 + 1/n_2 + g^2/(2(n_1+n_2))` (escalc's default ``vtype = "LS"``).
    ``log_rate_ratio`` (escalc ``IRR``)
        ``events1, time1, events2, time2``; 1/2 is added to both counts when either is 0;
        :math:`v = 1/x_1 + 1/x_2`.

    Examples
    --------
    >>> [round(x, 6) for x in effect_size("risk_difference", events1=12, total1=100, events2=7, total2=98)]
    [0.048571, 0.001733]
    """
    from scipy.special import gammaln

    def need(*names: str) -> list[float]:
        missing = [n for n in names if n not in data]
        extra = sorted(set(data) - set(names))
        if missing or extra:
            raise ValueError(f"The {measure!r} measure needs exactly {', '.join(names)}; "
                             f"missing {missing or 'none'}, unexpected {extra or 'none'}.")
        return [float(data[n]) for n in names]

    if measure in ("risk_difference", "log_risk_ratio", "log_odds_ratio"):
        a, n1, c, n2 = need("events1", "total1", "events2", "total2")
        if not (0 <= a <= n1 and 0 <= c <= n2 and n1 > 0 and n2 > 0):
            raise ValueError(f"Events must lie between 0 and the total in each arm; got {a}/{n1} and {c}/{n2}.")
        b, d = n1 - a, n2 - c
        if min(a, b, c, d) == 0:
            a, b, c, d = (x + CONTINUITY_CORRECTION for x in (a, b, c, d))
            n1, n2 = a + b, c + d
        p1, p2 = a / n1, c / n2
        if measure == "risk_difference":
            return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        if measure == "log_risk_ratio":
            return math.log(p1 / p2), 1 / a - 1 / n1 + 1 / c - 1 / n2
        return math.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
    if measure in ("mean_difference", "smd"):
        m1, s1, n1, m2, s2, n2 = need("mean1", "sd1", "n1", "mean2", "sd2", "n2")
        if min(n1, n2) < 2 or min(s1, s2) < 0:
            raise ValueError(f"Each arm needs n >= 2 and sd >= 0; got n = {n1:g}, {n2:g} and sd = {s1:g}, {s2:g}.")
        if measure == "mean_difference":
            return m1 - m2, s1**2 / n1 + s2**2 / n2
        m = n1 + n2 - 2
        sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
        if sp <= 0:
            raise ValueError("The standardised mean difference needs a pooled SD above 0.")
        j = math.exp(float(gammaln(m / 2)) - math.log(math.sqrt(m / 2)) - float(gammaln((m - 1) / 2)))
        g = j * (m1 - m2) / sp
        return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    if measure == "log_rate_ratio":
        x1, t1, x2, t2 = need("events1", "time1", "events2", "time2")
        if min(x1, x2) < 0 or min(t1, t2) <= 0:
            raise ValueError(f"Counts must be >= 0 and person-time > 0; got {x1:g}/{t1:g} and {x2:g}/{t2:g}.")
        if min(x1, x2) == 0:
            x1, x2 = x1 + CONTINUITY_CORRECTION, x2 + CONTINUITY_CORRECTION
        return math.log(x1 / t1) - math.log(x2 / t2), 1 / x1 + 1 / x2
    raise ValueError(f"Unknown effect measure {measure!r}; valid values: risk_difference, log_risk_ratio, "
                     "log_odds_ratio, smd, mean_difference, log_rate_ratio.")
