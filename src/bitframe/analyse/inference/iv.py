r"""Two-stage least squares and complier average causal effects (CACE), as ``estimatr::iv_robust``.

Model ``y = X b + u`` with ``X = [endogenous, exogenous]`` and instruments ``Z = [excluded
instruments, exogenous]``. First stage ``X^ = Z (Z'Z)^{-1} Z'X``; second stage ``b = (X^'X^)^{-1}
X^'y``. The variance is the sandwich of the second-stage regression on ``X^`` with the *structural*
residuals ``e = y - X b`` (not ``y - X^ b``), exactly as estimatr computes it (``lm_robust_fit``
with ``iv_stage = 2``): every ``se_type`` of :mod:`bitframe.analyse.variance` with ``X^`` as the
design (``classical`` ``s^2 (X^'X^)^{-1}`` with ``s^2 = e'e / (n - k)``; ``HC0``-``HC3`` with
leverages of ``X^``; ``CR0``, ``CR1``, ``stata`` (CR1S) and ``CR2`` with Bell-McCaffrey adjustment
matrices built from ``X^``). Degrees of freedom: ``n - k`` (classical/HC), ``G - 1`` (CR0, CR1,
stata), Bell-McCaffrey (CR2).

First-stage report: for each endogenous regressor, the robust Wald F statistic of the excluded
instruments in its first-stage regression (same ``se_type``; ``F = b' V^{-1} b / q`` with
``q`` excluded instruments and denominator df ``n - rank`` or ``G - 1``), estimatr's
``diagnostic_first_stage_fstatistic``; and, for :func:`cace`, the share receiving the
intervention in each assigned arm (compliance rates; the first-stage coefficient is their
difference, the estimated share of compliers).

CACE (Angrist, Imbens & Rubin 1996): with random assignment ``Z`` as instrument for receipt
``D``, monotonicity (no defiers) and the exclusion restriction, the Wald/2SLS estimand
``ITT_Y / ITT_D`` is the average effect among compliers. Multi-arm trials: one receipt indicator
per intervention arm (receipt of that arm's intervention), instrumented by the arm dummies.

References
----------
Angrist JD, Imbens GW, Rubin DB (1996). Identification of causal effects using instrumental
variables. JASA 91(434):444-455.
Blair G, Cooper J, Coppock A, Humphreys M, Sonnet L. estimatr: Fast Estimators for Design-Based
Inference (``iv_robust``).

Tested against ``estimatr::iv_robust`` (``tests/reference/inference_iv_reference.R``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitframe.analyse.coding import (
    arm_levels,
    as_float_vector,
    as_labels,
    check_ci_level,
    cluster_codes,
    covariate_matrix,
    stratum_dummies,
)
from bitframe.analyse.linear import make_estimates
from bitframe.analyse.results import EffectEstimate, Estimate, estimates_frame
from bitframe.analyse.variance import (
    Clusters,
    SandwichInputs,
    resolve_se_type,
    variance,
)

__all__ = ["CACEResult", "FirstStage", "IVResult", "cace", "iv_robust"]


@dataclass(frozen=True)
class FirstStage:
    """First-stage diagnostics of one endogenous regressor."""

    endogenous: str
    f_statistic: float
    df1: int
    df2: float
    p_value: float


@dataclass(frozen=True)
class IVResult:
    """A 2SLS fit: one :class:`Estimate` per coefficient, the first-stage F statistics, ``vcov``."""

    estimates: tuple[Estimate, ...]
    terms: tuple[str, ...]
    se_type: str
    n: int
    rank: int
    n_clusters: int | None
    first_stage: tuple[FirstStage, ...]
    vcov: np.ndarray = field(repr=False, compare=False)

    def __getitem__(self, term: str) -> Estimate:
        for est in self.estimates:
            if est.term == term:
                return est
        from bitframe.errors import choice_hint

        raise KeyError(f"No coefficient {term!r}; {choice_hint(term, self.terms)}.")

    def to_frame(self):
        return estimates_frame(self.estimates)


def _matrix(values: Any, name: str, n: int | None) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    if values is None:
        return np.empty((n or 0, 0)), []
    if isinstance(values, pd.DataFrame):
        names = [str(c) for c in values.columns]
        arr = values.to_numpy(dtype=float)
    elif isinstance(values, dict):
        names = [str(k) for k in values]
        arr = np.column_stack([np.asarray(v, dtype=float) for v in values.values()])
    else:
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        names = [f"{name}{j + 1}" for j in range(arr.shape[1])]
    if arr.ndim != 2 or (n is not None and arr.shape[0] != n):
        raise ValueError(f"The {name!r} parameter must have {n} rows. Got shape {arr.shape} instead.")
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"The {name!r} parameter must be finite; {n_bad} entries are missing or infinite.")
    return arr, names


def _sandwich(Xh: np.ndarray, e: np.ndarray, se_type: str, clusters: Any) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Variance of the coefficients of a regression on ``Xh`` with residuals ``e`` (estimatr's formulas)."""
    from scipy.linalg import solve_triangular

    n, r = Xh.shape
    Q, R = np.linalg.qr(Xh, mode="reduced")
    Rinv = solve_triangular(R, np.eye(r), check_finite=False)
    groups = None
    if clusters is not None:
        codes, G = cluster_codes(clusters, "clusters", n)
        groups = Clusters.from_codes(codes, G, se_type)
    fit = variance(se_type, SandwichInputs.least_squares(Q, Rinv, e, clusters=groups))
    return fit.vcov, fit.df, None if groups is None else groups.n_clusters


def iv_robust(
    y: Any,
    endogenous: Any,
    instruments: Any,
    exogenous: Any = None,
    *,
    intercept: bool = True,
    se_type: str | None = None,
    clusters: Any = None,
    ci_level: float = 0.95,
    estimator: str = "iv",
) -> IVResult:
    """2SLS of ``y`` on ``endogenous`` (+ ``exogenous`` and an intercept) instrumented by
    ``instruments`` (+ the exogenous columns), with estimatr's standard errors (module docstring).

    Matches ``estimatr::iv_robust(y ~ endog + exog | instruments + exog, se_type = ..., clusters = ...)``.
    Arrays, DataFrames or mappings name -> column are accepted for the three matrices.
    """
    ci_level = check_ci_level(ci_level)
    yv = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=float).reshape(-1)
    n = yv.shape[0]
    yv = as_float_vector(yv, "y", n)
    En, en_names = _matrix(endogenous, "endogenous", n)
    In, _ = _matrix(instruments, "instruments", n)
    Ex, ex_names = _matrix(exogenous, "exogenous", n)
    if En.shape[1] == 0 or In.shape[1] == 0:
        raise ValueError("Both 'endogenous' and 'instruments' need at least one column.")
    if In.shape[1] < En.shape[1]:
        raise ValueError(f"Not identified: {In.shape[1]} instrument(s) for {En.shape[1]} endogenous regressor(s).")
    se_type = resolve_se_type(se_type, clusters is not None)
    ones = [np.ones((n, 1))] if intercept else []
    X = np.hstack([*ones, En, Ex])
    Z = np.hstack([*ones, In, Ex])
    terms = (["(Intercept)"] if intercept else []) + en_names + ex_names
    if np.linalg.matrix_rank(Z) < Z.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError("The instrument or regressor matrix is rank deficient; drop collinear columns.")
    coefZ, *_ = np.linalg.lstsq(Z, X, rcond=None)
    Xh = Z @ coefZ
    beta, *_ = np.linalg.lstsq(Xh, yv, rcond=None)
    e = yv - X @ beta
    vcov, dof, G = _sandwich(Xh, e, se_type, clusters)
    se = np.sqrt(np.maximum(np.diag(vcov), 0.0))
    estimates = make_estimates(terms, beta, se, dof, ci_level, estimator=estimator, se_type=se_type, n=n, n_clusters=G)

    # first stage: Wald F of the excluded instruments, per endogenous regressor
    from scipy import stats

    first = []
    inst_idx = np.arange(len(ones), len(ones) + In.shape[1])
    for j, name in enumerate(en_names):
        x = En[:, j]
        g, *_ = np.linalg.lstsq(Z, x, rcond=None)
        V, _, _ = _sandwich(Z, x - Z @ g, se_type, clusters)
        b = g[inst_idx]
        Vb = V[np.ix_(inst_idx, inst_idx)]
        try:
            F = float(b @ np.linalg.solve(Vb, b)) / len(inst_idx)
        except np.linalg.LinAlgError:
            F = math.nan
        df2 = float(G - 1) if G is not None else float(n - Z.shape[1])
        first.append(FirstStage(endogenous=name, f_statistic=F, df1=len(inst_idx), df2=df2,
                                p_value=float(stats.f.sf(F, len(inst_idx), df2)) if math.isfinite(F) else math.nan))
    vcov.setflags(write=False)
    return IVResult(estimates=estimates, terms=tuple(terms), se_type=se_type, n=n, rank=X.shape[1], n_clusters=G,
                    first_stage=tuple(first), vcov=vcov)


@dataclass(frozen=True)
class CACEResult:
    """Complier average causal effects per arm (``method="iv"``) and the first-stage report."""

    effects: tuple[EffectEstimate, ...]
    first_stage: tuple[FirstStage, ...]
    compliance: tuple[dict, ...]  # per assigned arm: n, share receiving each intervention

    def to_frame(self):
        return estimates_frame(self.effects)

    def first_stage_frame(self):
        import pandas as pd

        return pd.DataFrame([f.__dict__ for f in self.first_stage])


def cace(
    outcome: Any,
    arm: Any,
    received: Any,
    *,
    control: Any = None,
    covariates: Any = None,
    strata: Any = None,
    clusters: Any = None,
    se_type: str | None = None,
    ci_level: float = 0.95,
    outcome_name: str = "outcome",
) -> CACEResult:
    """Complier average causal effect of each arm's intervention by 2SLS (module docstring).

    ``received``: for two arms, 0/1 receipt of the intervention; for more arms, either the label of
    the arm whose intervention the unit received (the control label, or missing-free "none" for
    none) or a mapping arm -> 0/1 receipt column. Covariates and stratum dummies enter both stages
    as exogenous regressors. Default SEs as estimatr (HC2; CR2 with clusters).
    """

    y = np.asarray(outcome.to_numpy() if hasattr(outcome, "to_numpy") else outcome, dtype=float)
    n = y.shape[0]
    labels = as_labels(arm, "arm", n)
    control_s, others = arm_levels(labels, control)
    if isinstance(received, dict):
        missing = [a for a in others if a not in received]
        if missing:
            raise ValueError(f"The 'received' mapping lacks receipt columns for arms {missing}.")
        R = {a: np.asarray(received[a], dtype=float) for a in others}
    else:
        rec = np.asarray(received.to_numpy() if hasattr(received, "to_numpy") else received)
        if rec.shape[0] != n:
            raise ValueError(f"The 'received' parameter must have {n} entries. Got {rec.shape[0]} instead.")
        if rec.dtype.kind in "biuf" and len(others) == 1:
            R = {others[0]: rec.astype(float)}
        else:
            rec_s = np.array([str(v) for v in rec], dtype=object)
            R = {a: (rec_s == a).astype(float) for a in others}
    for a, col in R.items():
        if col.shape != (n,) or not np.all(np.isfinite(col)):
            raise ValueError(f"Receipt of arm {a!r} must be {n} finite values (0/1).")
    Zd = {f"arm[{a}]": (labels == a).astype(float) for a in others}
    Zx, zx_names = covariate_matrix(covariates, n)
    exo = {nm: Zx[:, j] for j, nm in enumerate(zx_names)}
    if strata is not None:
        S, snames = stratum_dummies(strata, n)
        exo.update({nm: S[:, j] for j, nm in enumerate(snames)})
    endog = {f"received[{a}]": R[a] for a in others}
    fit = iv_robust(y, endog, Zd, exo or None, se_type=se_type, clusters=clusters, ci_level=ci_level,
                    estimator="cace_2sls")
    control_mean = float(np.mean(y[labels == control_s]))
    rows = []
    for a in others:
        est = fit[f"received[{a}]"]
        rows.append(EffectEstimate.from_estimate(est, outcome=outcome_name, arm=str(a),
                                                 contrast=f"{a} - {control_s} (compliers)", method="iv",
                                                 control_mean=control_mean))
    compliance = []
    for g in (control_s, *others):
        mask = labels == g
        compliance.append({"assigned": g, "n": int(mask.sum()),
                           **{f"received_{a}": float(R[a][mask].mean()) for a in others}})
    return CACEResult(effects=tuple(rows), first_stage=fit.first_stage, compliance=tuple(compliance))
