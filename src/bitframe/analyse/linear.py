"""Least squares with heteroskedasticity- and cluster-robust standard errors.

Arrays in, frozen records out. :func:`ols` reproduces ``estimatr::lm_robust`` (Blair, Cooper,
Coppock, Humphreys & Sonnet, estimatr 1.0) for every ``se_type`` it offers, :func:`lm_lin`
reproduces ``estimatr::lm_lin`` (Lin 2013), and :func:`treatment_design` builds the design matrix
of a trial (arm dummies against a named control, covariates with no / standard / Lin adjustment,
stratum fixed effects).

Model
-----
``y = X b + e`` with ``n`` rows and ``k`` columns of rank ``r``; optional positive weights ``w``
(normalised to mean 1 as estimatr does; every variance below is invariant to that scale). With
``W = diag(w)``, the weighted QR factorisation ``W^{1/2} X = Q R`` gives
``b = R^{-1} Q' W^{1/2} y``, the bread ``M = (X'WX)^{-1} = R^{-1} R^{-T}`` and the hat values
``h_i = ||Q_i||^2``. Residuals ``e = y - X b``; weighted residuals ``u_i = w_i^{1/2} e_i``.

Variance estimators (``se_type``)
---------------------------------
* ``classical``: ``s^2 M`` with ``s^2 = sum u_i^2 / (n - r)``.
* ``HC0``: ``M (sum_i u_i^2 x~_i x~_i') M`` with ``x~_i = w_i^{1/2} x_i`` (White 1980);
  ``HC1``: ``HC0 * n / (n - r)``; ``HC2``: ``u_i^2 / (1 - h_i)``; ``HC3``: ``u_i^2 / (1 - h_i)^2``
  (MacKinnon & White 1985).
* ``CR0``: ``M (sum_g s_g s_g') M`` with cluster scores ``s_g = X_g' W_g e_g`` (Liang & Zeger 1986).
* ``stata``: CR1, Stata's small-sample adjustment ``CR0 * G (n - 1) / ((G - 1)(n - r))``
  (estimatr's ``se_type = "stata"`` with clusters).
* ``CR2``: Bell & McCaffrey's (2002) bias-reduced linearisation,
  ``M (sum_g X_g' W_g A_g e_g e_g' A_g W_g X_g) M`` with ``A_g = B_g^{+1/2}``, the symmetric
  (pseudo-)inverse square root of ``B_g = [(I - H)(I - H)']_{gg}``, ``H = X M X' W``
  (Pustejovsky & Tipton 2018, eq. 7, with working model ``Phi = I`` as estimatr and clubSandwich
  use for ``lm``). Eigenvalues of ``B_g`` at or below ``1e-12`` get weight 0, as in estimatr.
  Unweighted, ``B_g = I - H_gg``.

Degrees of freedom: ``n - r`` for ``classical`` and ``HC*``; ``G - 1`` for ``CR0`` and ``stata``;
for ``CR2`` the Bell-McCaffrey / Satterthwaite df of each coefficient (below), which is
clubSandwich's ``coef_test(..., vcov = "CR2", test = "Satterthwaite")`` and estimatr's CR2 df.
Inference uses Student's t with those df: ``t = b_j / se_j``, ``p = 2 P(T_df > |t|)``,
``CI = b_j -/+ t_{df, 1 - a/2} se_j``.

CR2 without n_g x n_g matrices
------------------------------
In whitened coordinates ``X_g = W_g^{-1/2} Q_g R``; let ``U_g = [W_g^{-1/2} Q_g, W_g^{1/2} Q_g]``
(``n_g x 2k``; unweighted just ``Q_g``). Then ``B_g = I + U_g C U_g'`` with the small constant
matrix ``C = [[Q'WQ, -I], [-I, 0]]`` (unweighted ``C = -I``, ``B_g = I - Q_g Q_g'``), so ``B_g``
differs from the identity only on the column space of ``U_g``. With the Gram matrix
``U_g'U_g = V D V'`` (``m x m``, ``m = k`` or ``2k``), ``T = D^{1/2} V'`` and the orthonormal
basis ``U~ = U_g V D^{-1/2}``, ``B_g = (I - U~U~') + U~ E U~'`` with the small symmetric
``E = I + T C T'``; hence any spectral function satisfies ``f(B_g) U_g = U~ f(E) T``
(Higham 2008, Functions of Matrices, thm 1.13). Everything needed is then ``m x m``:

* the adjusted score ``U_g' A_g e_g``: ``T' f(E) D^{-1/2} V' (U_g' e_g)``, ``f(x) = x^{+1/2}``;
* for a contrast ``c`` with ``d = R^{-T} c`` and ``p_g = A_g W_g X_g M c = A_g U_{g,2} d``, the
  Satterthwaite df is ``(sum_g Q_gg)^2 / sum_{g,h} Q_gh^2`` with
  ``Q_gh = p_g' [(I - H)(I - H)']_{gh} p_h = delta_gh p_g'p_g + z_g' C z_h`` (Bell & McCaffrey
  2002, sec. 4; Imbens & Kolesar 2016, eq. 12; Pustejovsky & Tipton 2018, sec. 3), where
  ``z_g = U_g' p_g = T' f(E) T d_2`` and ``p_g'p_g = d_2' T' f(E)^2 T d_2``; the double sum is
  ``sum_g pp_g^2 + 2 sum_g pp_g z_g'Cz_g + ||C Z'Z||_F^2``-type traces of ``m x m`` matrices.

The cost is ``O(n k^2)`` for the per-cluster Gram matrices plus ``G`` eigen-decompositions of
``m x m`` matrices, instead of ``O(sum_g n_g^3)``.

References
----------
Bell RM, McCaffrey DF (2002). Bias reduction in standard errors for linear regression with
multi-stage samples. Survey Methodology 28(2):169-181.
Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance estimation and
hypothesis testing in fixed effects models. J Bus Econ Stat 36(4):672-683.
Imbens GW, Kolesar M (2016). Robust standard errors in small samples: some practical advice.
Rev Econ Stat 98(4):701-712.
MacKinnon JG, White H (1985). J Econometrics 29(3):305-325.
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

from bitframe.analyse.results import Estimate, estimates_frame

__all__ = [
    "CR_SE_TYPES",
    "HC_SE_TYPES",
    "SE_TYPES",
    "OLSResult",
    "TreatmentDesign",
    "lm_lin",
    "ols",
    "resolve_se_type",
    "t_inference",
    "treatment_design",
]

HC_SE_TYPES: tuple[str, ...] = ("classical", "HC0", "HC1", "HC2", "HC3")
CR_SE_TYPES: tuple[str, ...] = ("CR0", "stata", "CR2")
SE_TYPES: tuple[str, ...] = HC_SE_TYPES + CR_SE_TYPES
ADJUSTMENTS: tuple[str, ...] = ("none", "standard", "lin")

#: eigenvalues of B_g at or below this get weight 0 in CR2 (estimatr's threshold)
_CR2_EIG_TOL = 1e-12
#: column j is collinear if its residual norm on columns < j is below this share of its norm (R's lm)
_COLLINEAR_TOL = 1e-7
#: observations with leverage this close to 1 make HC2/HC3 undefined
_LEVERAGE_TOL = 1e-10


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
    vcov: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

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


@dataclass(frozen=True)
class TreatmentDesign:
    """The design matrix of a trial analysis and where the arm effects sit in it.

    ``arm_columns[a]`` is the column of ``X`` whose coefficient estimates arm ``arms[a]`` minus
    the control. ``X`` is read-only.
    """

    X: np.ndarray = field(repr=False, compare=False)
    terms: tuple[str, ...]
    control: str
    arms: tuple[str, ...]
    arm_columns: tuple[int, ...]
    adjustment: str
    covariate_centre: tuple[float, ...] = ()
    interaction_columns: tuple[int, ...] = ()


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def check_ci_level(ci_level: Any) -> float:
    if isinstance(ci_level, bool) or not isinstance(ci_level, (int, float, np.floating)) or not (0.0 < float(ci_level) < 1.0):
        raise ValueError(f"The 'ci_level' parameter must be a float in the open range (0, 1). Got {ci_level!r} instead.")
    return float(ci_level)


def resolve_se_type(se_type: str | None, clustered: bool) -> str:
    """Canonical ``se_type``: default ``HC2`` (``CR2`` with clusters), as estimatr.

    HC types are refused with clusters and CR types without them (estimatr refuses the first and
    silently maps ``stata`` to ``HC1`` for the second; one canonical name each is clearer).
    """
    if se_type is None:
        return "CR2" if clustered else "HC2"
    if se_type == "CR1":
        raise ValueError(
            "Unknown se_type 'CR1'; Stata's CR1 small-sample adjustment is called 'stata' "
            f"(estimatr's name). Valid values: {', '.join(repr(s) for s in SE_TYPES)}."
        )
    from bitframe.errors import check_choice

    check_choice("se_type", se_type, SE_TYPES)
    if clustered and se_type in HC_SE_TYPES:
        raise ValueError(
            f"se_type {se_type!r} ignores 'clusters'; with clusters use one of "
            + ", ".join(repr(s) for s in CR_SE_TYPES)
            + "."
        )
    if not clustered and se_type in CR_SE_TYPES:
        hint = " (for Stata's HC1 without clusters use 'HC1')" if se_type == "stata" else ""
        raise ValueError(f"se_type {se_type!r} is cluster-robust and needs 'clusters'; none were given{hint}.")
    return se_type


def _as_float_vector(values: Any, parameter: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"The {parameter!r} parameter must be one-dimensional. Got an array of shape {arr.shape} instead.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"The {parameter!r} parameter must have {n} entries (one per row). Got {arr.shape[0]} instead.")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"The {parameter!r} parameter must be finite; {bad} entries are missing or infinite.")
    return arr


def _labels(values: Any, parameter: str, n: int) -> np.ndarray:
    import pandas as pd

    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"The {parameter!r} parameter must be one-dimensional. Got an array of shape {arr.shape} instead.")
    if arr.shape[0] != n:
        raise ValueError(f"The {parameter!r} parameter must have {n} entries (one per row). Got {arr.shape[0]} instead.")
    miss = np.asarray(pd.isna(arr), dtype=bool)
    if miss.any():
        raise ValueError(f"The {parameter!r} parameter has {int(miss.sum())} missing labels; every row needs one.")
    return arr


def group_codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 of arbitrary labels (hash-based: no sorting of objects)."""
    import pandas as pd

    codes, uniques = pd.factorize(labels, sort=False)
    return codes.astype(np.intp, copy=False), len(uniques)


def cluster_codes(values: Any, parameter: str, n: int) -> tuple[np.ndarray, int]:
    """Codes of cluster labels; numeric labels skip the slow object-array route."""
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if arr.dtype.kind in "iub" and arr.ndim == 1 and arr.shape[0] == n:
        return group_codes(arr)
    if arr.dtype.kind == "f" and arr.ndim == 1 and arr.shape[0] == n and not np.isnan(arr).any():
        return group_codes(arr)
    return group_codes(_labels(arr, parameter, n))


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------


def t_inference(estimate: np.ndarray, std_error: np.ndarray, df: np.ndarray, ci_level: float):
    """``(statistic, p_value, ci_lower, ci_upper)`` from Student's t (normal when ``df`` is inf).

    Non-positive df give NaN p-values and CIs, as estimatr.
    """
    from scipy import stats

    estimate = np.asarray(estimate, dtype=float)
    std_error = np.asarray(std_error, dtype=float)
    df = np.where(np.asarray(df, dtype=float) > 0, df, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = estimate / std_error
    p_value = 2.0 * stats.t.sf(np.abs(statistic), df)
    crit = stats.t.ppf(0.5 + ci_level / 2.0, df) * std_error
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


def _independent_columns(X: np.ndarray) -> np.ndarray:
    """Indices of columns kept when each column collinear with the ones before it is dropped.

    Same rule as R's ``lm`` (LINPACK ``dqrdc2``: a column whose residual on the earlier kept columns
    has norm below ``1e-7`` times its own norm is dropped), so the first of a set of collinear
    columns is kept.
    """
    from scipy.linalg import qr

    k = X.shape[1]
    keep = list(range(k))
    norms = np.linalg.norm(X, axis=0)
    while True:
        R = qr(X[:, keep], mode="r", check_finite=False)[0]
        diag = np.abs(np.diag(R)[: len(keep)])
        bad = [i for i, j in enumerate(keep) if diag[i] <= _COLLINEAR_TOL * max(norms[j], np.finfo(float).tiny)]
        if not bad:
            return np.array(keep, dtype=np.intp)
        # Drop only the first offender: later diagonals are unreliable once one pivot is ~0.
        del keep[bad[0]]


def _independent_columns_gram(G: np.ndarray) -> np.ndarray:
    """The rule of :func:`_independent_columns` applied to the Gram matrix ``X'X``.

    Incremental Cholesky: column j's squared residual norm on the kept columns before it is
    ``G_jj - l'l``; it is dropped when that is below ``tol^2 G_jj``.
    """
    from scipy.linalg import solve_triangular

    k = G.shape[0]
    keep: list[int] = []
    L = np.zeros((k, k))
    for j in range(k):
        gjj = G[j, j]
        if keep:
            l = solve_triangular(L[: len(keep), : len(keep)], G[keep, j], lower=True, check_finite=False)
            r2 = gjj - l @ l
        else:
            l, r2 = np.empty(0), gjj
        if not gjj > 0 or r2 <= _COLLINEAR_TOL**2 * gjj:
            continue
        m = len(keep)
        L[m, :m] = l
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
    from scipy.linalg import cholesky, solve_triangular

    d = np.sqrt(np.diag(G))
    ev = np.linalg.eigvalsh(G / np.outer(d, d))
    if ev[0] > 0 and ev[-1] / ev[0] < 1e12:
        try:
            R1 = cholesky(G, lower=False, check_finite=False)
            Q1 = _tall_matmul(Xw, solve_triangular(R1, np.eye(R1.shape[0]), check_finite=False))
            R2 = cholesky(Q1.T @ Q1, lower=False, check_finite=False)
            return _tall_matmul(Q1, solve_triangular(R2, np.eye(R2.shape[0]), check_finite=False)), R2 @ R1
        except np.linalg.LinAlgError:  # pragma: no cover - excluded by the condition check
            pass
    return np.linalg.qr(Xw, mode="reduced")


def _segments(codes: np.ndarray, n_groups: int):
    """Row order sorting by group, and start offsets of each group in that order."""
    # uint16 keys let numpy use its O(n) radix sort
    keys = codes.astype(np.uint16) if n_groups <= np.iinfo(np.uint16).max else codes
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return order, starts, counts


def _group_sums(Z: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-group column sums of row-sorted ``Z`` (n x p) -> (G x p)."""
    return np.add.reduceat(Z, starts, axis=0)


def _group_gram(Z: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-group ``Z_g' Z_g`` of row-sorted ``Z`` (n x m) -> (G x m x m).

    Few large groups: one BLAS product per group. Many small groups: one vectorised segmented sum
    per entry of the upper triangle (O(n m^2) work, no Python loop over groups).
    """
    G = starts.shape[0]
    m = Z.shape[1]
    out = np.empty((G, m, m))
    if G <= 4000:
        for g in range(G):
            Zg = Z[starts[g] : starts[g] + counts[g]]
            out[g] = Zg.T @ Zg
        return out
    for a in range(m):
        prods = Z[:, a : a + 1] * Z[:, a:]
        sums = np.add.reduceat(prods, starts, axis=0)
        out[:, a, a:] = sums
        out[:, a:, a] = sums
    return out


def _cr2_pieces(U: np.ndarray, ue: np.ndarray, C: np.ndarray, sel: slice, starts: np.ndarray, counts: np.ndarray):
    """CR2 ingredients from per-cluster Gram matrices (see the module docstring).

    ``U`` (n x m) row-sorted by cluster, ``ue`` (G x m) = ``U_g' e_g``, ``C`` (m x m), ``sel`` the
    columns of ``U`` that make ``W_g X_g R^{-1}``. Returns the adjusted scores (G x k), and the
    matrices ``F1 = T' f(E) T`` and ``F2 = T' f(E)^2 T`` restricted to ``sel`` columns on the right.
    """
    gram = _group_gram(U, starts, counts)  # (G, m, m)
    D, V = np.linalg.eigh(gram)
    dmax = D.max(axis=1, keepdims=True)
    keep = D > np.maximum(dmax * 1e-13, 0.0) if np.all(dmax > 0) else D > 0
    sqrt_d = np.where(keep, np.sqrt(np.where(keep, D, 1.0)), 0.0)
    inv_sqrt_d = np.where(keep, 1.0 / np.where(keep, sqrt_d, 1.0), 0.0)
    T = sqrt_d[:, :, None] * np.swapaxes(V, 1, 2)  # (G, m, m): rows = eigen directions
    E = np.eye(U.shape[1]) + T @ C @ np.swapaxes(T, 1, 2)
    E = 0.5 * (E + np.swapaxes(E, 1, 2))
    lam, P = np.linalg.eigh(E)
    pos = lam > _CR2_EIG_TOL
    f = np.where(pos, 1.0 / np.sqrt(np.where(pos, lam, 1.0)), 0.0)
    # f(E) and f(E)^2 = E^+ in the basis of E's eigenvectors
    PT = np.swapaxes(P, 1, 2) @ T  # (G, m, m)
    PT_sel = PT[:, :, sel]
    coords = np.einsum("gji,gj->gi", V, ue) * inv_sqrt_d  # U~' e_g  (G, m)
    coords = np.einsum("gji,gj->gi", P, coords)  # in E's eigenbasis
    adj = np.einsum("gi,gik->gk", coords * f, PT_sel)  # (G, k): U_{g,sel}' A_g e_g
    F1 = np.einsum("gik,gi,gil->gkl", PT, f, PT_sel)  # (G, m, k)
    F2 = np.einsum("gik,gi,gil->gkl", PT_sel, f * f, PT_sel)  # (G, k, k)
    return adj, F1, F2


def _cr2_df(F1: np.ndarray, F2: np.ndarray, C: np.ndarray, Dc: np.ndarray) -> np.ndarray:
    """Bell-McCaffrey / Satterthwaite df for the contrasts in the columns of ``Dc`` (k x q)."""
    z = F1 @ Dc  # (G, m, q): z_g for each contrast
    pp = np.einsum("kq,gkl,lq->gq", Dc, F2, Dc)  # p_g'p_g
    Cz = np.einsum("ab,gbq->gaq", C, z)
    zCz = np.einsum("gaq,gaq->gq", z, Cz)  # z_g' C z_g
    diag = pp + zCz
    num = diag.sum(axis=0) ** 2
    ZtZ = np.einsum("gaq,gbq->qab", z, z)  # (q, m, m)
    CZtZ = np.einsum("ab,qbc->qac", C, ZtZ)
    frob = np.einsum("qab,qba->q", CZtZ, CZtZ)  # sum_{g,h} (z_g'Cz_h)^2 = tr((C Z'Z)^2)
    den = (pp**2).sum(axis=0) + 2.0 * (pp * zCz).sum(axis=0) + frob
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


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
    """Least squares with classical, HC0-HC3, CR0, ``stata`` (CR1) or CR2 standard errors.

    Matches ``estimatr::lm_robust(y ~ X - 1, se_type = ..., clusters = ..., weights = ...)``
    (see the module docstring for the formulas, df and references). ``X`` must contain the
    intercept column if one is wanted.

    Parameters
    ----------
    y : outcome, length ``n``.
    X : design matrix, ``n x k``.
    se_type : one of :data:`SE_TYPES`; default ``HC2``, or ``CR2`` with clusters.
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
    yv = _as_float_vector(y, "y", n)
    if term_names is None:
        term_names = [f"x{j + 1}" for j in range(k)]
    term_names = [str(t) for t in term_names]
    if len(term_names) != k:
        raise ValueError(f"The 'term_names' parameter must have {k} names (one per column of X). Got {len(term_names)} instead.")
    clustered = clusters is not None
    se_type = resolve_se_type(se_type, clustered)

    weighted = weights is not None
    if weighted:
        w = _as_float_vector(weights, "weights", n)
    n_clusters: int | None = None
    if clustered:
        codes, n_clusters = cluster_codes(clusters, "clusters", n)
        if n_clusters < 2:
            raise ValueError(f"Cluster-robust se_type {se_type!r} needs at least 2 clusters; got {n_clusters}.")
        # Work in cluster order throughout: every cluster is then a contiguous block of rows.
        order, starts, counts = _segments(codes, n_clusters)
        Xa, yv = Xa[order], yv[order]
        if weighted:
            w = w[order]
    if weighted:
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
        w = sw = None
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

    from scipy.linalg import solve_triangular

    Q, R = _orthogonalise(Xw, gram)
    qty = Q.T @ yw
    beta = solve_triangular(R, qty, check_finite=False)
    e_w = yw - Q @ qty  # weighted residuals
    Rinv = solve_triangular(R, np.eye(r), check_finite=False)

    dof = np.full(r, float(n - r))
    if se_type == "classical":
        s2 = float(e_w @ e_w) / (n - r)
        meat = s2 * np.eye(r)
    elif se_type in ("HC0", "HC1", "HC2", "HC3"):
        omega = e_w**2
        if se_type in ("HC2", "HC3"):
            h = np.einsum("ij,ij->i", Q, Q)
            if np.any(h > 1.0 - _LEVERAGE_TOL):
                n_one = int(np.sum(h > 1.0 - _LEVERAGE_TOL))
                raise ValueError(
                    f"se_type {se_type!r} is undefined: {n_one} observation(s) have leverage 1 (e.g. singleton strata "
                    "with stratum fixed effects, or a covariate level seen once), so their residuals are 0 and "
                    "1 - h_ii = 0 (estimatr returns NaN). Use 'HC1', merge or drop singleton strata."
                )
            omega = omega / (1.0 - h) if se_type == "HC2" else omega / (1.0 - h) ** 2
        meat = (Q * omega[:, None]).T @ Q
        if se_type == "HC1":
            meat *= n / (n - r)
    else:
        G = int(n_clusters)  # type: ignore[arg-type]
        if se_type in ("CR0", "stata"):
            scores = _group_sums(Q * e_w[:, None], starts)
            meat = scores.T @ scores
            if se_type == "stata":
                meat *= G * (n - 1) / ((G - 1) * (n - r))
            dof = np.full(r, float(G - 1))
        else:
            Qs = Q
            e = e_w / sw if weighted else e_w  # unweighted residuals
            if weighted:
                ws = w
                sws = sw
                U = np.hstack([Qs / sws[:, None], Qs * sws[:, None]])
                Omega = (Qs * ws[:, None]).T @ Qs
                C = np.block([[Omega, -np.eye(r)], [-np.eye(r), np.zeros((r, r))]])
                sel = slice(r, 2 * r)
            else:
                U = Qs
                C = -np.eye(r)
                sel = slice(0, r)
            ue = _group_sums(U * e[:, None], starts)
            adj, F1, F2 = _cr2_pieces(U, ue, C, sel, starts, counts)
            meat = adj.T @ adj
            dof = _cr2_df(F1, F2, C, Rinv.T)

    vcov = Rinv @ meat @ Rinv.T
    vcov = 0.5 * (vcov + vcov.T)
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


# --------------------------------------------------------------------------------------------
# trial design matrices and Lin's estimator
# --------------------------------------------------------------------------------------------


def arm_levels(arm: np.ndarray, control: Any = None, parameter: str = "arm") -> tuple[str, tuple[str, ...]]:
    """The control label and the other arms, sorted (R's default factor levels, control first).

    ``arm`` holds strings. Without ``control`` the first sorted label is the control, as in R.
    """
    levels = sorted(set(arm.tolist()))
    if control is None:
        control_s = levels[0]
    else:
        control_s = str(control)
        if control_s not in levels:
            from bitframe.errors import choice_hint

            raise ValueError(f"The control arm {control_s!r} does not occur in {parameter!r}; {choice_hint(control_s, levels)}.")
    others = tuple(lv for lv in levels if lv != control_s)
    if not others:
        raise ValueError(
            f"The {parameter!r} parameter has a single arm ({control_s!r}); at least one arm besides the control is needed."
        )
    return control_s, others


def as_labels(values: Any, parameter: str, n: int) -> np.ndarray:
    """Labels as an object array of ``str`` (missing labels are an error)."""
    arr = _labels(values, parameter, n)
    return np.array([str(v) for v in arr], dtype=object)


def covariate_matrix(covariates: Any, n: int, *, keep_missing: bool = False) -> tuple[np.ndarray, list[str]]:
    """Numeric covariate matrix (n x p) and column names.

    Accepts None, a 1-D or 2-D array, a pandas Series/DataFrame or a mapping name -> values.
    Non-numeric columns become dummies for every sorted level but the first, named
    ``column[level]`` (R's treatment contrasts); booleans become 0/1. Missing values are an error
    (decide what to do with incomplete rows before estimation) unless ``keep_missing``, which
    leaves them as NaN for a caller that applies its own missing-data rule.
    """
    import pandas as pd

    if covariates is None:
        return np.empty((n, 0)), []
    if isinstance(covariates, pd.Series):
        frame = covariates.to_frame(name=covariates.name if covariates.name is not None else "x1")
    elif isinstance(covariates, pd.DataFrame):
        frame = covariates
    elif isinstance(covariates, dict):
        cols = {}
        for key, v in covariates.items():
            arr = np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise ValueError(f"Covariate {key!r} must be one-dimensional with {n} entries. Got shape {arr.shape} instead.")
            cols[str(key)] = arr
        frame = pd.DataFrame(cols)
    else:
        arr = np.asarray(covariates)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"The 'covariates' parameter must be 1- or 2-dimensional. Got shape {arr.shape} instead.")
        frame = pd.DataFrame(arr, columns=[f"x{j + 1}" for j in range(arr.shape[1])])
    if len(frame) != n:
        raise ValueError(f"The 'covariates' parameter must have {n} rows (one per unit). Got {len(frame)} instead.")
    out: list[np.ndarray] = []
    names: list[str] = []
    for name in frame.columns:
        col = frame[name]
        miss = col.isna().to_numpy()
        if miss.any() and not keep_missing:
            raise ValueError(f"Covariate {str(name)!r} has {int(miss.sum())} missing values; impute or drop those rows first.")
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out.append(col.to_numpy(dtype=float, na_value=np.nan))
            names.append(str(name))
        else:
            as_str = np.array([None if m else str(v) for v, m in zip(col.tolist(), miss)], dtype=object)
            for lv in sorted({v for v in as_str.tolist() if v is not None})[1:]:
                dummy = (as_str == lv).astype(float)
                dummy[miss] = np.nan
                out.append(dummy)
                names.append(f"{name}[{lv}]")
    if not out:
        return np.empty((n, 0)), []
    return np.column_stack(out), names


def treatment_design(
    arm: Any,
    *,
    control: Any = None,
    covariates: Any = None,
    strata: Any = None,
    adjustment: str = "none",
    weights: Any = None,
) -> TreatmentDesign:
    """Design matrix for arm-vs-control effects with optional covariate adjustment and strata.

    Columns: ``(Intercept)``, one dummy ``arm[a]`` per non-control arm (sorted), then

    * ``adjustment="none"``: stratum dummies ``stratum[s]`` (fixed effects, first sorted stratum as
      reference) if ``strata`` are given; ``covariates`` must be None.
    * ``"standard"``: the covariates as given, then the stratum dummies (ANCOVA).
    * ``"lin"``: covariates and stratum dummies centred at their (weighted) means, ``x_c``, and
      every arm dummy times every centred column, ``arm[a]:x_c`` (Lin 2013, with one set of
      interactions per arm for multi-arm trials), in the column order of ``estimatr::lm_lin``.
      Centring makes each arm coefficient the effect at the covariate means.

    ``weights`` only matter for Lin's centring (weighted means, as ``lm_lin``).
    """
    from bitframe.errors import check_choice

    check_choice("adjustment", adjustment, ADJUSTMENTS)
    arm_arr = np.asarray(arm.to_numpy() if hasattr(arm, "to_numpy") else arm, dtype=object)
    if arm_arr.ndim != 1:
        raise ValueError(f"The 'arm' parameter must be one-dimensional. Got an array of shape {arm_arr.shape} instead.")
    n = arm_arr.shape[0]
    labels = as_labels(arm_arr, "arm", n)
    control_s, others = arm_levels(labels, control)
    T = np.column_stack([(labels == a).astype(float) for a in others])
    arm_terms = [f"arm[{a}]" for a in others]

    Z, znames = covariate_matrix(covariates, n)
    if adjustment == "none" and Z.shape[1]:
        raise ValueError("Covariates were given but adjustment='none'; use adjustment='standard' or 'lin', or drop them.")
    if strata is not None:
        s_labels = as_labels(strata, "strata", n)
        levels = sorted(set(s_labels.tolist()))
        S = np.column_stack([(s_labels == lv).astype(float) for lv in levels[1:]]) if len(levels) > 1 else np.empty((n, 0))
        snames = [f"stratum[{lv}]" for lv in levels[1:]]
        Z = np.hstack([Z, S])
        znames = znames + snames
    if adjustment == "lin" and not Z.shape[1]:
        raise ValueError("adjustment='lin' needs covariates or strata to centre and interact; none were given.")

    centre: tuple[float, ...] = ()
    if adjustment == "lin":
        if weights is not None:
            w = _as_float_vector(weights, "weights", n)
            mu = (w[:, None] * Z).sum(axis=0) / w.sum()
        else:
            mu = Z.mean(axis=0)
        Zc = Z - mu
        centre = tuple(float(v) for v in mu)
        cnames = [f"{nm}_c" for nm in znames]
        inter = (Zc[:, :, None] * T[:, None, :]).reshape(n, -1)  # covariate-major, as lm_lin
        inames = [f"{at}:{cn}" for cn in cnames for at in arm_terms]
        X = np.hstack([np.ones((n, 1)), T, Zc, inter])
        terms = ["(Intercept)", *arm_terms, *cnames, *inames]
    else:
        X = np.hstack([np.ones((n, 1)), T, Z])
        terms = ["(Intercept)", *arm_terms, *znames]
    X.setflags(write=False)
    return TreatmentDesign(
        X=X,
        terms=tuple(terms),
        control=control_s,
        arms=others,
        arm_columns=tuple(range(1, 1 + len(others))),
        adjustment=adjustment,
        covariate_centre=centre,
        interaction_columns=tuple(range(X.shape[1] - (inter.shape[1] if adjustment == "lin" else 0), X.shape[1])),
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
    kept = set(np.asarray(base + arms)[_independent_columns(design.X[:, base + arms])].tolist())
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
