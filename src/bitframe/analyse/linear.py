"""Least squares with heteroskedasticity- and cluster-robust standard errors.

Arrays in, frozen records out. :func:`ols` reproduces ``estimatr::lm_robust`` (Blair, Cooper,
Coppock, Humphreys & Sonnet, estimatr 1.0) for every ``se_type`` it offers, :func:`lm_lin`
reproduces ``estimatr::lm_lin`` (Lin 2013), and :func:`fit_treatment_design` fits the design
matrix of a trial built by :func:`bitframe.analyse.coding.treatment_design`.

Model
-----
``y = X b + e`` with ``n`` rows and ``k`` columns of rank ``r``; optional positive weights ``w``
(normalised to mean 1 as estimatr does; every variance is invariant to that scale). With
``W = diag(w)``, the weighted QR factorisation ``W^{1/2} X = Q R`` gives
``b = R^{-1} Q' W^{1/2} y``, the bread ``M = (X'WX)^{-1} = R^{-1} R^{-T}`` and the hat values
``h_i = ||Q_i||^2``. Residuals ``e = y - X b``; weighted residuals ``u_i = w_i^{1/2} e_i``.

Standard errors
---------------
Every ``se_type`` of :mod:`bitframe.analyse.variance` (``classical``, ``HC0``-``HC3``, ``CR0``,
``CR1``, ``stata``, ``CR2``), from the pieces ``Q``, ``R^{-1}``, ``u`` and the clusters; that
module's docstring has the formulas, the degrees of freedom and the references. Default ``HC2``,
or ``CR2`` with clusters (estimatr's defaults). Inference uses Student's t with those df:
``t = b_j / se_j``, ``p = 2 P(T_df > |t|)``, ``CI = b_j -/+ t_{df, 1 - a/2} se_j``.

References
----------
Lin W (2013). Agnostic notes on regression adjustments to experimental data: reexamining
Freedman's critique. Ann Appl Stat 7(1):295-318.

Results are tested against R ``estimatr::lm_robust``, ``estimatr::lm_lin`` and
``clubSandwich::coef_test`` (``tests/reference/estimatr_reference.R``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bitframe.analyse.coding import (
    TreatmentDesign,
    as_float_vector,
    check_ci_level,
    cluster_codes,
    treatment_design,
)
from bitframe.analyse.results import Estimate, estimates_frame
from bitframe.analyse.variance import (
    Clusters,
    SandwichInputs,
    resolve_se_type,
    variance,
)

__all__ = [
    "OLSResult",
    "fit_treatment_design",
    "lm_lin",
    "make_estimates",
    "ols",
    "t_inference",
]

#: column j is collinear if its residual norm on columns < j is below this share of its norm (R's lm)
_COLLINEAR_TOL = 1e-7


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OLSResult:
    """A least-squares fit: one :class:`Estimate` per coefficient, plus the fit's facts.

    ``vcov`` is the ``r x r`` variance matrix of the estimated (non-dropped) coefficients, in the
    order of ``estimates``; ``dropped`` names collinear columns that were removed.
    """

    estimates: tuple[Estimate, ...]
    terms: tuple[str, ...]
    se_type: str
    n: int
    rank: int
    df_residual: int
    n_clusters: int | None
    weighted: bool
    dropped: tuple[str, ...] = ()
    vcov: npt.NDArray[np.float64] = field(repr=False, compare=False, kw_only=True)

    def __getitem__(self, term: str) -> Estimate:
        for est in self.estimates:
            if est.term == term:
                return est
        from bitframe.errors import choice_hint

        raise KeyError(f"No coefficient {term!r}; {choice_hint(term, self.terms)}.")

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([e.estimate for e in self.estimates])

    @property
    def std_errors(self) -> np.ndarray:
        return np.array([e.std_error for e in self.estimates])

    def to_frame(self):
        """Tidy pandas DataFrame, one row per coefficient."""
        return estimates_frame(self.estimates)


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------


def t_inference(estimate: np.ndarray, std_error: np.ndarray, df: np.ndarray, ci_level: float):
    """``(statistic, p_value, ci_lower, ci_upper)`` from Student's t (normal when ``df`` is inf).

    Non-positive df give NaN p-values and CIs, as estimatr.
    """
    from bitframe.analyse.distributions import t_ppf, t_sf

    estimate = np.asarray(estimate, dtype=float)
    std_error = np.asarray(std_error, dtype=float)
    df = np.where(np.asarray(df, dtype=float) > 0, df, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / std_error
    p_value = 2.0 * t_sf(np.abs(statistic), df)
    crit = t_ppf(0.5 + ci_level / 2.0, df) * std_error
    return statistic, p_value, estimate - crit, estimate + crit


def make_estimates(terms: Sequence[str], estimate, std_error, df, ci_level: float, *, estimator: str,
                   se_type: str, n: int, n_clusters: int | None) -> tuple[Estimate, ...]:
    statistic, p_value, lo, hi = t_inference(estimate, std_error, df, ci_level)
    return tuple(
        Estimate(
            term=str(term),
            estimate=float(estimate[j]),
            std_error=float(std_error[j]),
            statistic=float(statistic[j]),
            df=float(df[j]),
            p_value=float(p_value[j]),
            ci_lower=float(lo[j]),
            ci_upper=float(hi[j]),
            ci_level=ci_level,
            estimator=estimator,
            se_type=se_type,
            n=int(n),
            n_clusters=n_clusters,
        )
        for j, term in enumerate(terms)
    )


# --------------------------------------------------------------------------------------------
# linear algebra helpers
# --------------------------------------------------------------------------------------------


# k x k triangular systems by substitution: numpy has no triangular solver, and these few
# operations on the small factor are not worth importing scipy.linalg (docs/decisions/0014-own-t-distribution.md).


def _solve_lower(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``L^{-1} b`` for lower-triangular ``L`` (forward substitution); ``b`` a vector or matrix."""
    x = np.array(b, dtype=float)
    for i in range(L.shape[0]):
        x[i] = (x[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def _solve_upper(R: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``R^{-1} b`` for upper-triangular ``R`` (back substitution); ``b`` a vector or matrix."""
    x = np.array(b, dtype=float)
    for i in range(R.shape[0] - 1, -1, -1):
        x[i] = (x[i] - R[i, i + 1:] @ x[i + 1:]) / R[i, i]
    return x


def _upper_inverse(R: np.ndarray) -> np.ndarray:
    """``R^{-1}`` of an upper-triangular ``R`` (itself upper triangular)."""
    return _solve_upper(R, np.eye(R.shape[0]))


def _independent_columns(X: np.ndarray) -> np.ndarray:
    """Indices of columns kept when each column collinear with the ones before it is dropped.

    Same rule as R's ``lm`` (LINPACK ``dqrdc2``: a column whose residual on the earlier kept columns
    has norm below ``1e-7`` times its own norm is dropped), so the first of a set of collinear
    columns is kept.
    """
    k = X.shape[1]
    keep = list(range(k))
    norms = np.linalg.norm(X, axis=0)
    while True:
        R = np.linalg.qr(X[:, keep], mode="r")
        diag = np.abs(np.diag(R)[: len(keep)])
        bad = [i for i, j in enumerate(keep) if diag[i] <= _COLLINEAR_TOL * max(norms[j], np.finfo(float).tiny)]
        if not bad:
            return np.array(keep, dtype=np.intp)
        # Drop only the first offender: later diagonals are unreliable once one pivot is ~0.
        del keep[bad[0]]


def _well_conditioned(G: np.ndarray) -> bool:
    """Whether the Gram matrix ``X'X`` scaled to unit diagonal has condition number below 1e12.

    Then no column is dropped by :func:`_independent_columns`: the scaled eigenvalues average 1, so
    the smallest is at least 1e-12 and every column's residual on all the others is at least
    ``sqrt(1e-12) = 1e-6`` of its norm, ten times the tolerance. Costs one small ``k x k`` product
    instead of a Householder QR of the whole ``n x k`` design.
    """
    d = np.sqrt(np.diag(G))
    if not (np.all(np.isfinite(G)) and np.all(d > 0)):
        return False
    ev = np.linalg.eigvalsh(G / np.outer(d, d))
    return bool(ev[0] > 0 and ev[-1] / ev[0] < 1e12)


def _independent_columns_gram(G: np.ndarray) -> np.ndarray:
    """The rule of :func:`_independent_columns` applied to the Gram matrix ``X'X``.

    Incremental Cholesky: column j's squared residual norm on the kept columns before it is
    ``G_jj - row'row``, ``row`` being column j's new row of the Cholesky factor ``L``; it is dropped when that
    is below ``tol^2 G_jj``.
    """
    k = G.shape[0]
    keep: list[int] = []
    L = np.zeros((k, k))
    for j in range(k):
        gjj = G[j, j]
        if keep:
            row = _solve_lower(L[: len(keep), : len(keep)], G[keep, j])
            r2 = gjj - row @ row
        else:
            row, r2 = np.empty(0), gjj
        if not gjj > 0 or r2 <= _COLLINEAR_TOL**2 * gjj:
            continue
        m = len(keep)
        L[m, :m] = row
        L[m, m] = np.sqrt(r2)
        keep.append(j)
    return np.array(keep, dtype=np.intp)


def _tall_matmul(X: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``X @ A`` for tall ``X`` and small ``A``, computed as ``(A' X')'``.

    Same numbers; OpenBLAS's threaded kernel for the direct (n x k)(k x k) product is an order of
    magnitude slower on a busy machine than the transposed layout. The result is F-ordered.
    """
    return (A.T @ X.T).T


def _orthogonalise(Xw: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin ``Xw = Q R`` with ``Q'Q = I`` to machine precision.

    Well-conditioned designs (column-scaled condition number below 1e6) use CholeskyQR2 (Fukaya
    et al. 2014: two Cholesky-QR passes give Householder-grade orthogonality when
    ``cond(X) < eps^{-1/2}``), which costs two Gram matrices and two triangular products instead of
    Householder QR's sequential reflections; others use Householder QR.
    """
    d = np.sqrt(np.diag(G))
    ev = np.linalg.eigvalsh(G / np.outer(d, d))
    if ev[0] > 0 and ev[-1] / ev[0] < 1e12:
        try:
            R1 = np.linalg.cholesky(G).T
            Q1 = _tall_matmul(Xw, _upper_inverse(R1))
            R2 = np.linalg.cholesky(Q1.T @ Q1).T
            return _tall_matmul(Q1, _upper_inverse(R2)), R2 @ R1
        except np.linalg.LinAlgError:  # pragma: no cover - excluded by the condition check
            pass
    return np.linalg.qr(Xw, mode="reduced")


# --------------------------------------------------------------------------------------------
# OLS
# --------------------------------------------------------------------------------------------


def ols(
    y: Any,
    X: Any,
    *,
    se_type: str | None = None,
    clusters: Any = None,
    weights: Any = None,
    ci_level: float = 0.95,
    term_names: Sequence[str] | None = None,
    estimator: str = "ols",
    collinear: str = "drop",
) -> OLSResult:
    """Least squares with classical, HC0-HC3, CR0, CR1, ``stata`` (CR1S) or CR2 standard errors.

    Matches ``estimatr::lm_robust(y ~ X - 1, se_type = ..., clusters = ..., weights = ...)``
    (see the module docstring for the formulas, df and references). ``X`` must contain the
    intercept column if one is wanted.

    Parameters
    ----------
    y : outcome, length ``n``.
    X : design matrix, ``n x k``.
    se_type : one of :data:`bitframe.analyse.variance.SE_TYPES`; default ``HC2``, or ``CR2`` with clusters.
    clusters : cluster labels, length ``n`` (any hashable values).
    weights : positive weights, length ``n`` (weighted least squares).
    ci_level : confidence level in (0, 1).
    term_names : one name per column of ``X`` (default ``x1``, ``x2`` ...).
    estimator : name recorded in the estimates.
    collinear : ``drop`` removes each column collinear with earlier ones (as R's ``lm``; estimatr
        reports such coefficients as NA and may pick a different column of a collinear set because
        it pivots on column norms) and reports it in ``dropped``; ``error`` raises ``ValueError``.

    Returns
    -------
    OLSResult with one :class:`Estimate` per kept column.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6.0)
    >>> fit = ols(np.array([1.0, 3, 2, 5, 4, 6]), np.column_stack([np.ones(6), x]),
    ...           se_type="classical", term_names=["(Intercept)", "x"])
    >>> round(fit["x"].estimate, 6), fit["x"].df
    (0.885714, 4.0)
    """
    ci_level = check_ci_level(ci_level)
    if collinear not in ("drop", "error"):
        raise ValueError(f"The 'collinear' parameter must be 'drop' or 'error'. Got {collinear!r} instead.")
    Xa = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    if Xa.ndim != 2:
        raise ValueError(f"The 'X' parameter must be a 2-dimensional matrix. Got shape {Xa.shape} instead.")
    n, k = Xa.shape
    if k == 0:
        raise ValueError("The 'X' parameter must have at least one column.")
    if not np.all(np.isfinite(Xa)):
        raise ValueError(f"The 'X' parameter must be finite; {int(np.sum(~np.isfinite(Xa)))} entries are missing or infinite.")
    yv = as_float_vector(y, "y", n)
    if term_names is None:
        term_names = [f"x{j + 1}" for j in range(k)]
    term_names = [str(t) for t in term_names]
    if len(term_names) != k:
        raise ValueError(f"The 'term_names' parameter must have {k} names (one per column of X). Got {len(term_names)} instead.")
    clustered = clusters is not None
    se_type = resolve_se_type(se_type, clustered)

    weighted = weights is not None
    w = as_float_vector(weights, "weights", n) if weights is not None else None
    n_clusters: int | None = None
    groups: Clusters | None = None
    if clustered:
        codes, n_clusters = cluster_codes(clusters, "clusters", n)
        groups = Clusters.from_codes(codes, n_clusters, se_type)
        # Work in cluster order throughout: every cluster is then a contiguous block of rows.
        order = groups.order
        Xa, yv = Xa[order], yv[order]
        if w is not None:
            w = w[order]
        groups = groups.rows_sorted()
    if w is not None:
        if np.any(w <= 0):
            raise ValueError(
                f"The 'weights' parameter must be positive; {int(np.sum(w <= 0))} entries are zero or negative "
                "(drop those rows instead)."
            )
        w = w / w.mean()
        sw = np.sqrt(w)
        Xw = Xa * sw[:, None]
        yw = yv * sw
    else:
        Xw, yw = Xa, yv

    gram = Xw.T @ Xw
    keep = _independent_columns_gram(gram)
    scaled = gram[np.ix_(keep, keep)] / np.sqrt(np.outer(np.diag(gram)[keep], np.diag(gram)[keep]))
    ev = np.linalg.eigvalsh(scaled)
    if not (ev[0] > 0 and ev[-1] / ev[0] < 1e12):
        # ill-conditioned: decide collinearity on Householder R rather than on the Gram matrix
        keep = _independent_columns(Xw)
    dropped = tuple(term_names[j] for j in range(k) if j not in set(keep.tolist()))
    if dropped:
        if collinear == "error":
            raise ValueError(
                "The design matrix is rank deficient: "
                + ", ".join(repr(t) for t in dropped)
                + " is a linear combination of earlier columns (or constant); remove it."
            )
        Xa, Xw = Xa[:, keep], Xw[:, keep]
        term_names = [term_names[j] for j in keep]
    gram = gram[np.ix_(keep, keep)]
    r = Xw.shape[1]
    if n <= r:
        raise ValueError(f"Need more rows than coefficients: n = {n}, coefficients = {r}.")

    Q, R = _orthogonalise(Xw, gram)
    qty = Q.T @ yw
    Rinv = _upper_inverse(R)
    beta = _solve_upper(R, qty)
    e_w = yw - Q @ qty  # weighted residuals

    fit = variance(se_type, SandwichInputs.least_squares(Q, Rinv, e_w, weights=w, clusters=groups))
    vcov, dof = fit.vcov, fit.df
    se = np.sqrt(np.maximum(np.diag(vcov), 0.0))
    vcov.setflags(write=False)
    estimates = make_estimates(term_names, beta, se, dof, ci_level, estimator=estimator, se_type=se_type, n=n,
                               n_clusters=n_clusters)
    return OLSResult(
        estimates=estimates,
        terms=tuple(term_names),
        se_type=se_type,
        n=n,
        rank=r,
        df_residual=n - r,
        n_clusters=n_clusters,
        weighted=weighted,
        dropped=dropped,
        vcov=vcov,
    )


def fit_treatment_design(
    y: Any,
    design: TreatmentDesign,
    *,
    se_type: str | None = None,
    clusters: Any = None,
    weights: Any = None,
    ci_level: float = 0.95,
    estimator: str = "ols",
) -> tuple[OLSResult, list[Estimate]]:
    """Fit a :class:`TreatmentDesign`; return the fit and one Estimate per arm (term = arm label).

    Collinear covariates are dropped with a warning; an arm dummy that is collinear with the
    rest (an arm confined to one stratum, say) is an error, since its effect is not identified.
    """
    from dataclasses import replace

    # An arm is identified only if its dummy is outside the span of the other main-effect columns;
    # the sequential rule in ols() keeps earlier columns, so test with the arms placed last.
    arms = list(design.arm_columns)
    base = [j for j in range(design.X.shape[1]) if j not in set(arms) | set(design.interaction_columns)]
    order = base + arms
    if _well_conditioned((design.X.T @ design.X)[np.ix_(order, order)]):
        lost = []  # no column of a well-conditioned design is collinear (see _well_conditioned)
    else:
        kept = set(np.asarray(order)[_independent_columns(design.X[:, order])].tolist())
        lost = [design.arms[i] for i, j in enumerate(arms) if j not in kept]
    if lost:
        raise ValueError(
            "The effect of " + ", ".join(repr(a) for a in lost) + " is not identified: its arm dummy is a linear "
            "combination of the strata/covariates (e.g. the arm occurs in strata of its own)."
        )
    fit = ols(y, design.X, se_type=se_type, clusters=clusters, weights=weights, ci_level=ci_level,
              term_names=design.terms, estimator=estimator, collinear="drop")
    arm_terms = [design.terms[j] for j in design.arm_columns]
    if any(t in fit.dropped for t in arm_terms):  # pragma: no cover - excluded by the check above
        raise ValueError("An arm dummy was dropped as collinear; its effect is not identified.")
    if fit.dropped:
        warnings.warn(
            "Dropped collinear design columns: " + ", ".join(repr(t) for t in fit.dropped) + ".",
            UserWarning,
            stacklevel=2,
        )
    arm_estimates = [replace(fit[t], term=t[4:-1]) for t in arm_terms]
    return fit, arm_estimates


def lm_lin(
    y: Any,
    arm: Any,
    covariates: Any,
    *,
    control: Any = None,
    clusters: Any = None,
    weights: Any = None,
    se_type: str | None = None,
    ci_level: float = 0.95,
) -> OLSResult:
    """Lin's (2013) regression: arm dummies, centred covariates and their interactions.

    Matches ``estimatr::lm_lin(y ~ arm, covariates = ~ ..., se_type = ...)``: the same columns in
    the same order, centring at the (weighted) sample means, and the SEs of :func:`ols` (default
    ``HC2``, ``CR2`` with clusters). Each ``arm[a]`` coefficient estimates the average effect of
    arm ``a`` against ``control``. Categorical covariates are dummy-coded first (first level as
    reference), then centred, as ``lm_lin`` does with factors.
    """
    design = treatment_design(arm, control=control, covariates=covariates, adjustment="lin", weights=weights)
    return ols(y, design.X, se_type=se_type, clusters=clusters, weights=weights, ci_level=ci_level,
               term_names=design.terms, estimator="lin")
