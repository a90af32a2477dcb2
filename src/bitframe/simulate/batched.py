"""OLS with heteroskedasticity-robust SEs over a *stack* of simulated datasets at once.

Design diagnosis analyses thousands of simulated trials of the same size. Each
has its own design matrix (a fresh randomisation) and outcome, so instead of a
Python loop of estimator calls we solve them together with ``einsum`` over an
array of shape ``(S, n, k)``:

.. math::

    \\hat\\beta_s = (X_s'X_s)^{-1} X_s'y_s, \\qquad
    h_{si} = x_{si}'(X_s'X_s)^{-1}x_{si},

    V^{HC2}_s = (X_s'X_s)^{-1}\\Big(\\sum_i x_{si}x_{si}'\\,\\frac{e_{si}^2}{1-h_{si}}\\Big)(X_s'X_s)^{-1}

(MacKinnon & White 1985; HC0/HC1/HC3 differ only in the weight on ``e^2``).
Degrees of freedom ``n - k`` as in ``estimatr::lm_robust``. The single-dataset
estimator in :mod:`bitframe.analyse.linear` is the reference these results are
tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitframe.protocol.vocabulary import HC_SE_TYPES


@dataclass(frozen=True)
class BatchedFit:
    """Per-dataset coefficients, SEs, df, p-values and CIs: arrays of shape (S, k)."""

    estimate: np.ndarray
    std_error: np.ndarray
    df: np.ndarray  # (S,): n_s - k, with n_s the observed rows of dataset s
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray


def batched_ols(
    X: np.ndarray,
    y: np.ndarray,
    *,
    se_type: str = "HC2",
    ci_level: float = 0.95,
    observed: np.ndarray | None = None,
) -> BatchedFit:
    """Fit ``y[s] ~ X[s]`` for every s. ``X``: (S, n, k); ``y``: (S, n).

    ``observed`` (S, n) marks rows with an outcome; the others (attrition) are
    dropped by zeroing them, which removes them from every sum below.
    """
    from scipy import stats

    if se_type not in HC_SE_TYPES:
        raise ValueError(f"The 'se_type' parameter must be one of {', '.join(HC_SE_TYPES)}. Got {se_type!r} instead.")
    if X.ndim != 3 or y.ndim != 2 or X.shape[:2] != y.shape:
        raise ValueError(f"X must be (S, n, k) and y (S, n); got {X.shape} and {y.shape}")
    S, n, k = X.shape
    if observed is not None:
        mask = observed.astype(float)
        X = X * mask[:, :, None]
        y = np.where(observed, y, 0.0)
        n_obs = mask.sum(axis=1)
    else:
        n_obs = np.full(S, float(n))
    if np.any(n_obs <= k):
        raise ValueError(f"need more observations than coefficients; got n={int(n_obs.min())}, k={k}")
    xtx = np.einsum("snk,snj->skj", X, X, optimize=True)
    xtx_inv = np.linalg.inv(xtx)
    xty = np.einsum("snk,sn->sk", X, y, optimize=True)
    beta = np.einsum("skj,sj->sk", xtx_inv, xty)
    resid = y - np.einsum("snk,sk->sn", X, beta)
    df = n_obs - k
    if se_type == "classical":
        sigma2 = np.einsum("sn,sn->s", resid, resid) / df
        var = np.diagonal(xtx_inv, axis1=1, axis2=2) * sigma2[:, None]
    else:
        e2 = resid**2
        if se_type in ("HC2", "HC3"):
            # h_si = x_si' (X'X)^-1 x_si without forming the n x n hat matrix.
            leverage = np.einsum("snk,skj,snj->sn", X, xtx_inv, X, optimize=True)
            e2 = e2 / (1.0 - leverage) ** (1 if se_type == "HC2" else 2)
        elif se_type == "HC1":
            e2 = e2 * (n_obs / df)[:, None]
        meat = np.einsum("snk,sn,snj->skj", X, e2, X, optimize=True)
        cov = xtx_inv @ meat @ xtx_inv
        var = np.diagonal(cov, axis1=1, axis2=2)
    se = np.sqrt(var)
    t = beta / se
    p = 2 * stats.t.sf(np.abs(t), df[:, None])
    crit = stats.t.ppf(0.5 + ci_level / 2, df)[:, None]
    return BatchedFit(beta, se, df, p, beta - crit * se, beta + crit * se)


def batched_arm_contrasts(
    arms: np.ndarray,
    y: np.ndarray,
    *,
    n_arms: int,
    control: int,
    ci_level: float = 0.95,
    observed: np.ndarray | None = None,
) -> BatchedFit:
    """OLS of ``y`` on arm dummies with HC2 SEs, in closed form, for a stack of datasets.

    With only an intercept and arm dummies the OLS coefficient of arm *j* is the
    difference in means ``ybar_j - ybar_c`` and its HC2 variance is the Neyman
    variance ``s_j^2/n_j + s_c^2/n_c`` (Samii & Aronow 2012; this is why
    ``estimatr::lm_robust`` HC2 equals ``difference_in_means`` here). Sums per arm
    replace the k x k solves, so the cost is a few passes over the data.
    Returns arrays of shape (S, n_arms - 1), columns in arm order without the control.
    """
    from scipy import stats

    S, _ = y.shape
    if observed is None:
        observed = np.ones_like(y, dtype=bool)
    w = observed.astype(float)
    yw = np.where(observed, y, 0.0)
    counts = np.empty((S, n_arms))
    means = np.empty((S, n_arms))
    variances = np.empty((S, n_arms))
    for j in range(n_arms):
        in_arm = (arms == j) * w
        m = in_arm.sum(axis=1)
        s1 = (in_arm * yw).sum(axis=1)
        mean = s1 / m
        ss = (in_arm * (yw - mean[:, None]) ** 2).sum(axis=1)
        counts[:, j], means[:, j], variances[:, j] = m, mean, ss / (m - 1)
    others = [j for j in range(n_arms) if j != control]
    est = means[:, others] - means[:, [control]]
    se = np.sqrt(variances[:, others] / counts[:, others] + (variances[:, control] / counts[:, control])[:, None])
    df = counts.sum(axis=1) - n_arms
    t = est / se
    p = 2 * stats.t.sf(np.abs(t), df[:, None])
    crit = stats.t.ppf(0.5 + ci_level / 2, df)[:, None]
    return BatchedFit(est, se, df, p, est - crit * se, est + crit * se)
