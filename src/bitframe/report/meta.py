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

Results have been tested against metafor 3.8 (``tests/reference/metafor_reference.R``)
to a relative tolerance of 1e-6.

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
    "MetaResult",
    "Tau2Fit",
    "meta_analysis",
    "meta_from_estimates",
]

TESTS = ("z", "knha")

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


METHODS: Registry[Callable[[np.ndarray, np.ndarray], Tau2Fit]] = Registry("meta-analysis method")


def _p_matrix_traces(w: np.ndarray) -> tuple[float, float]:
    """``tr(P)`` and ``tr(PP)`` for intercept-only ``P = W - w w'/sum(w)``.

    Closed forms avoid building the k x k matrix:
    tr(P) = S1 - S2/S1 and tr(PP) = S2 - 2 S3/S1 + S2^2/S1^2, S_r = sum w^r.
    """
    s1 = float(w.sum())
    s2 = float((w**2).sum())
    s3 = float((w**3).sum())
    return s1 - s2 / s1, s2 - 2.0 * s3 / s1 + (s2 / s1) ** 2


def _weighted_mean(y: np.ndarray, w: np.ndarray) -> float:
    return float((w * y).sum() / w.sum())


@METHODS.register("FE")
def _tau2_fe(yi: np.ndarray, vi: np.ndarray) -> Tau2Fit:
    return Tau2Fit(tau2=0.0, tau2_se=math.nan)


@METHODS.register("DL")
def _tau2_dl(yi: np.ndarray, vi: np.ndarray) -> Tau2Fit:
    k = yi.size
    if k == 1:
        return Tau2Fit(tau2=0.0, tau2_se=math.nan)
    w = 1.0 / vi
    q = float((w * (yi - _weighted_mean(yi, w)) ** 2).sum())
    tr_p, tr_pp = _p_matrix_traces(w)
    tau2 = max(0.0, (q - (k - 1)) / tr_p)
    # metafor's large-sample SE of the DL estimator (evaluated at the truncated value).
    se = math.sqrt((2.0 * (k - 1) + 4.0 * tau2 * tr_p + 2.0 * tau2**2 * tr_pp) / tr_p**2)
    return Tau2Fit(tau2=tau2, tau2_se=se)


def _reml_loglik(yi: np.ndarray, vi: np.ndarray, tau2: float) -> float:
    """Restricted log-likelihood of the intercept-only model (metafor's ``ll.REML``)."""
    k = yi.size
    w = 1.0 / (vi + tau2)
    rss = float((w * (yi - _weighted_mean(yi, w)) ** 2).sum())
    return float(
        -0.5 * (k - 1) * math.log(2.0 * math.pi) - 0.5 * np.log(vi + tau2).sum() - 0.5 * math.log(w.sum()) - 0.5 * rss
    )


def _fisher_scoring(yi: np.ndarray, vi: np.ndarray, tau2: float, stepadj: float, maxiter: int):
    """metafor's REML Fisher scoring: returns (tau2, last change, iterations)."""
    change = REML_THRESHOLD + 1.0
    iterations = 0
    while change > REML_THRESHOLD and iterations < maxiter:
        iterations += 1
        old = tau2
        w = 1.0 / (vi + tau2)
        resid = yi - _weighted_mean(yi, w)
        tr_p, tr_pp = _p_matrix_traces(w)
        # y'PPy = sum(w_i^2 (y_i - mu_w)^2) because P y = w * (y - mu_w).
        adj = (float((w**2 * resid**2).sum()) - tr_p) / tr_pp
        if math.isnan(adj):
            adj = 0.0
        adj *= stepadj
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 = tau2 + adj
        change = abs(old - tau2)
    return tau2, change, iterations


@METHODS.register("REML")
def _tau2_reml(yi: np.ndarray, vi: np.ndarray) -> Tau2Fit:
    k = yi.size
    if k == 1:
        return Tau2Fit(tau2=0.0, tau2_se=math.nan)
    # Starting value: the Hedges (HE) estimator, as in metafor when tau2.init is unset.
    rss_ols = float(((yi - yi.mean()) ** 2).sum())
    start = max(0.0, (rss_ols - (k - 1) / k * float(vi.sum())) / (k - 1))
    # metafor's defaults first (step 1, 100 iterations); if Fisher scoring oscillates, the remedy
    # metafor's documentation gives (control = list(stepadj = 0.5, maxiter = 1000)).
    for stepadj, maxiter in ((1.0, REML_MAXITER), (0.5, 10 * REML_MAXITER)):
        tau2, change, iterations = _fisher_scoring(yi, vi, start, stepadj, maxiter)
        if change <= REML_THRESHOLD:
            break
    else:
        raise BitframeError(
            Problem(
                code="BF801",
                message=f"REML Fisher scoring did not converge in {10 * REML_MAXITER} iterations, even with "
                f"halved steps (last tau^2 = {tau2:.6g}, last change = {change:.3g}).",
                hint="use method='DL', or check for sites with extreme variances",
            )
        )
    # A positive root can be a local maximum below the likelihood at tau^2 = 0.
    if tau2 > REML_THRESHOLD and _reml_loglik(yi, vi, 0.0) - _reml_loglik(yi, vi, tau2) > LL0_TOL:
        tau2 = 0.0
    tau2 = max(0.0, tau2)
    _, tr_pp = _p_matrix_traces(1.0 / (vi + tau2))
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
    if test == "knha" and (method == "FE" or k < 2):
        raise ValueError(
            f"The 'test' parameter 'knha' needs a random-effects method and k >= 2; got method={method!r} with k={k}."
        )

    from scipy.special import chdtrc, ndtr, ndtri, stdtr, stdtrit

    fit = METHODS.get(method)(y, v)
    tau2 = fit.tau2
    w = 1.0 / (v + tau2)
    estimate = _weighted_mean(y, w)
    var_est = 1.0 / float(w.sum())
    if test == "knha":
        rss = float((w * (y - estimate) ** 2).sum())
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
        var_est *= s2w
    se = math.sqrt(var_est)
    stat = estimate / se if se > 0 else math.copysign(math.inf, estimate) if estimate else math.nan
    alpha_half = (1.0 - ci_level) / 2.0
    if test == "knha":
        df = float(k - 1)
        p_value = float(2.0 * stdtr(df, -abs(stat)))
        crit = float(stdtrit(df, 1.0 - alpha_half))
    else:
        df = math.inf
        p_value = float(2.0 * ndtr(-abs(stat)))
        crit = float(ndtri(1.0 - alpha_half))

    # Heterogeneity always uses fixed-effect weights (metafor's QE, I^2, H^2).
    if k > 1:
        w_fe = 1.0 / v
        q = max(0.0, float((w_fe * (y - _weighted_mean(y, w_fe)) ** 2).sum()))
        q_p = float(chdtrc(k - 1, q))
        if method == "FE":
            # metafor returns NaN when Q = 0 (0/0); report 0 % heterogeneity instead.
            i2 = max(0.0, 100.0 * (q - (k - 1)) / q) if q > 0 else 0.0
            h2 = q / (k - 1)
        else:
            tr_p, _ = _p_matrix_traces(w_fe)
            vt = (k - 1) / tr_p
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        q, q_p, i2, h2 = 0.0, 1.0, 0.0, 1.0

    if method == "FE":
        pi_lower = pi_upper = math.nan
    else:
        half = crit * math.sqrt(var_est + tau2)
        pi_lower, pi_upper = estimate - half, estimate + half

    return MetaResult(
        method=method,
        test=test,
        estimate=estimate,
        std_error=se,
        statistic=stat,
        df=df,
        p_value=p_value,
        ci_lower=estimate - crit * se,
        ci_upper=estimate + crit * se,
        ci_level=ci_level,
        tau2=tau2,
        tau2_se=fit.tau2_se,
        tau=math.sqrt(tau2),
        i2=i2,
        h2=h2,
        q=q,
        q_df=k - 1,
        q_p_value=q_p,
        pi_lower=pi_lower,
        pi_upper=pi_upper,
        k=k,
        iterations=fit.iterations,
        scale=scale,
        labels=labs,
        yi=tuple(float(x) for x in y),
        vi=tuple(float(x) for x in v),
        weights=tuple(float(x) for x in w / w.sum()),
    )


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
