"""Variance estimators of regression coefficients: one name, one formula, for every estimator.

OLS and Lin (:mod:`bitframe.analyse.linear`), 2SLS (:mod:`bitframe.analyse.inference.iv`) and
the GLMs (:mod:`bitframe.analyse.glm`) hand their fit to :func:`variance` as
:class:`SandwichInputs` and get ``Var(b)`` and the degrees of freedom back. Each ``se_type`` is one
:class:`VarianceEstimator` in :data:`VARIANCE_ESTIMATORS` (cf. linearmodels'
``iv/covariance.py``: covariance classes sharing one interface, picked from one dict); an unknown
name raises ``ValueError`` listing the valid ones.

Pieces an estimator supplies
----------------------------
Rows ``x_i`` of a design (``n x k``) and residuals ``r_i`` whose products are the score
contributions ``s_i = x_i r_i``; the bread ``B = (X'WX)^{-1}``; the model variance ``sigma^2``
of ``classical``; and, with clusters, the cluster of every row (``G`` clusters).

* Least squares (weights ``w``): the whitened orthonormal ``Q`` of ``W^{1/2} X = Q R`` and the
  weighted residuals ``u_i = w_i^{1/2} e_i``, so ``B = I`` in ``Q``'s coordinates and
  ``Var(b) = R^{-1} V R^{-T}``; ``sigma^2 = sum u_i^2 / (n - k)``; leverages ``h_i = ||Q_i||^2``.
* GLMs: ``X``, IRLS working weights ``w_i = (dmu/deta)^2 / V(mu_i)``, ``B = (X'WX)^{-1}`` and
  ``r_i = (y_i - mu_i) (dmu/deta)_i / V(mu_i)``; ``sigma^2 = 1``; leverages
  ``h_i = w_i x_i' B x_i`` from the weighted hat matrix, as ``sandwich::hatvalues`` (Zeileis 2006).

Estimators (``se_type``) and their degrees of freedom
-----------------------------------------------------
With ``Omega = sum_i s_i s_i'`` and cluster score sums ``S_g = sum_{i in g} s_i``:

=============  ===============================================  ==========  ==========================
``se_type``    ``Var(b)``                                       df          the same number in
=============  ===============================================  ==========  ==========================
``classical``  ``sigma^2 B``                                    ``n - k``   ``lm``; ``glm`` (``vcov``)
``HC0``        ``B Omega B`` (White 1980)                       ``n - k``   sandwich ``vcovHC`` HC0
``HC1``        ``HC0 * n / (n - k)``                            ``n - k``   Stata ``vce(robust)``
``HC2``        ``s_i s_i' / (1 - h_i)`` in ``Omega``            ``n - k``   estimatr, sandwich HC2
``HC3``        ``s_i s_i' / (1 - h_i)^2`` in ``Omega``          ``n - k``   estimatr, sandwich HC3
``CR0``        ``B (sum_g S_g S_g') B`` (Liang & Zeger 1986)    ``G - 1``   clubSandwich CR0
``CR1``        ``CR0 * G / (G - 1)``                            ``G - 1``   clubSandwich CR1
``stata``      ``CR0 * G (n - 1) / ((G - 1)(n - k))``           ``G - 1``   clubSandwich CR1S
``CR2``        Bell & McCaffrey (2002), below                   B-M         clubSandwich/estimatr CR2
=============  ===============================================  ==========  ==========================

The names, with their labels and descriptions for people, are the vocabulary's
(:data:`bitframe.protocol.vocabulary.LIBRARY_SE_TYPES`; a protocol may choose any but ``CR1``).
``CR1`` is Stata's factor for ML estimators with ``vce(cluster)`` (``logit``, ``poisson``,
``nbreg``; Stata [P] _robust) and ``sandwich::vcovCL(type = "HC0", cadjust = TRUE)``. ``stata`` is
Stata's ``regress, vce(cluster)``, estimatr's ``se_type = "stata"``, clubSandwich's ``CR1S`` and
the default of ``sandwich::vcovCL`` (``type = "HC1"``; Zeileis, Koell & Graham 2020). HC types
refuse clusters and cluster-robust types need them (estimatr refuses the first and silently maps
``stata`` to ``HC1`` for the second; one canonical name each is clearer). Leverages of 1 make
HC2/HC3 undefined (estimatr returns NaN): an error here. GLMs use normal inference and ignore df.

CR2 (least squares only)
------------------------
``B (sum_g X_g' W_g A_g e_g e_g' A_g W_g X_g) B`` with ``A_g = B_g^{+1/2}``, the symmetric
(pseudo-)inverse square root of ``B_g = [(I - H)(I - H)']_{gg}``, ``H = X B X' W``
(Pustejovsky & Tipton 2018, eq. 7, with working model ``Phi = I`` as estimatr and clubSandwich
use for ``lm``). Eigenvalues of ``B_g`` at or below ``1e-12`` get weight 0, as in estimatr.
Unweighted, ``B_g = I - H_gg``. Its df is the Bell-McCaffrey / Satterthwaite df of each
coefficient, clubSandwich's ``coef_test(..., vcov = "CR2", test = "Satterthwaite")`` and
estimatr's CR2 df.

CR2 without ``n_g x n_g`` matrices: in whitened coordinates ``X_g = W_g^{-1/2} Q_g R``; let
``U_g = [W_g^{-1/2} Q_g, W_g^{1/2} Q_g]`` (``n_g x 2k``; unweighted just ``Q_g``). Then
``B_g = I + U_g C U_g'`` with the small constant matrix ``C = [[Q'WQ, -I], [-I, 0]]`` (unweighted
``C = -I``, ``B_g = I - Q_g Q_g'``), so ``B_g`` differs from the identity only on the column space
of ``U_g``. With the Gram matrix ``U_g'U_g = V D V'`` (``m x m``, ``m = k`` or ``2k``),
``T = D^{1/2} V'`` and the orthonormal basis ``U~ = U_g V D^{-1/2}``,
``B_g = (I - U~U~') + U~ E U~'`` with the small symmetric ``E = I + T C T'``; hence any spectral
function satisfies ``f(B_g) U_g = U~ f(E) T`` (Higham 2008, Functions of Matrices, thm 1.13).
Everything needed is then ``m x m``:

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
White H (1980). Econometrica 48(4):817-838. MacKinnon JG, White H (1985). J Econometrics
29(3):305-325. Liang KY, Zeger SL (1986). Biometrika 73(1):13-22.
Bell RM, McCaffrey DF (2002). Bias reduction in standard errors for linear regression with
multi-stage samples. Survey Methodology 28(2):169-181.
Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance estimation and
hypothesis testing in fixed effects models. J Bus Econ Stat 36(4):672-683.
Imbens GW, Kolesar M (2016). Robust standard errors in small samples: some practical advice.
Rev Econ Stat 98(4):701-712.
Zeileis A (2006). Object-oriented computation of sandwich estimators. J Stat Softw 16(9).
Zeileis A, Koell S, Graham N (2020). Various versatile variances. J Stat Softw 95(1).
Cameron AC, Miller DL (2015). A practitioner's guide to cluster-robust inference.
J Hum Resour 50(2):317-372.

Tested against estimatr, clubSandwich and sandwich through the estimators that use it
(``tests/reference/estimatr_reference.R``, ``glm_reference.R``, ``inference_iv_reference.R``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import LIBRARY_SE_TYPES
from bitframe.registry import Registry

__all__ = [
    "CR_SE_TYPES",
    "HC_SE_TYPES",
    "SE_TYPES",
    "VARIANCE_ESTIMATORS",
    "Clusters",
    "SandwichInputs",
    "Variance",
    "VarianceEstimator",
    "resolve_se_type",
    "variance",
]

# the names, labels and descriptions are the vocabulary's (a protocol may use all but CR1)
SE_TYPES: tuple[str, ...] = tuple(LIBRARY_SE_TYPES)
HC_SE_TYPES: tuple[str, ...] = tuple(name for name in SE_TYPES if not LIBRARY_SE_TYPES[name].clustered)
CR_SE_TYPES: tuple[str, ...] = tuple(name for name in SE_TYPES if LIBRARY_SE_TYPES[name].clustered)

#: eigenvalues of B_g at or below this get weight 0 in CR2 (estimatr's threshold)
_CR2_EIG_TOL = 1e-12
#: observations with leverage this close to 1 make HC2/HC3 undefined
_LEVERAGE_TOL = 1e-10


# --------------------------------------------------------------------------------------------
# inputs and output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clusters:
    """Which rows form each of the ``n_clusters`` clusters, as contiguous blocks after sorting.

    ``order`` sorts the rows by cluster; it is None when the caller's rows already are in that
    order (each cluster ``g`` is then rows ``starts[g]`` to ``starts[g] + counts[g] - 1``).
    """

    n_clusters: int
    starts: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    order: np.ndarray | None = field(default=None, repr=False)
    #: each row's cluster, in the caller's row order (None once the rows are sorted)
    codes: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_codes(cls, codes: np.ndarray, n_clusters: int, se_type: str) -> Clusters:
        """Clusters from integer codes ``0..G-1``; fewer than 2 clusters is an error."""
        if n_clusters < 2:
            raise ValueError(f"Cluster-robust se_type {se_type!r} needs at least 2 clusters; got {n_clusters}.")
        order, starts, counts = _segments(codes, n_clusters)
        return cls(n_clusters=n_clusters, starts=starts, counts=counts, order=order, codes=codes)

    def rows_sorted(self) -> Clusters:
        """The same clusters for rows the caller has already put in ``order``."""
        return replace(self, order=None, codes=None)

    def in_order(self, values: np.ndarray) -> np.ndarray:
        return values if self.order is None else values[self.order]

    def sums(self, Z: np.ndarray) -> np.ndarray:
        """Per-cluster column sums of ``Z`` (rows in the caller's order) -> (G x p)."""
        return np.add.reduceat(self.in_order(Z), self.starts, axis=0)

    def sums_in_row_order(self, Z: np.ndarray) -> np.ndarray:
        """:meth:`sums`, adding each cluster's rows in the caller's order (``bincount``)."""
        if self.codes is None:
            return self.sums(Z)
        return np.column_stack([np.bincount(self.codes, weights=Z[:, j], minlength=self.n_clusters)
                                for j in range(Z.shape[1])])


@dataclass(frozen=True)
class SandwichInputs:
    """What an estimator supplies: score pieces, bread, model variance and clusters.

    The score of row ``i`` is ``design[i] * residual[i]``. ``bread`` is ``(X'WX)^{-1}`` in the
    coordinates of ``design``; None means the identity (least squares on the orthonormal ``Q``).
    ``Var(b) = T V T'`` with ``T = to_coefficients`` (None: the identity). ``sigma2`` scales the
    bread for ``classical``. Leverages are ``hat_weights[i] * design[i]' bread design[i]``
    (``hat_weights`` None: 1). ``ls_weights`` are the weights of a weighted least-squares fit
    (its ``design`` is then ``W^{1/2} X R^{-1}``), needed by CR2. Build them with
    :meth:`least_squares` or :meth:`likelihood`.
    """

    design: np.ndarray = field(repr=False)
    residual: np.ndarray = field(repr=False)
    sigma2: float
    bread: np.ndarray | None = field(default=None, repr=False)
    to_coefficients: np.ndarray | None = field(default=None, repr=False)
    hat_weights: np.ndarray | None = field(default=None, repr=False)
    ls_weights: np.ndarray | None = field(default=None, repr=False)
    clusters: Clusters | None = None

    @classmethod
    def least_squares(cls, Q: np.ndarray, R_inv: np.ndarray, weighted_residual: np.ndarray, *,
                      weights: np.ndarray | None = None, clusters: Clusters | None = None) -> SandwichInputs:
        """A (weighted) least-squares fit with ``W^{1/2} X = Q R`` and residuals ``w^{1/2} e``."""
        n, r = Q.shape
        sigma2 = float(weighted_residual @ weighted_residual) / (n - r)
        return cls(design=Q, residual=weighted_residual, sigma2=sigma2, to_coefficients=R_inv, ls_weights=weights,
                   clusters=clusters)

    @classmethod
    def likelihood(cls, X: np.ndarray, bread: np.ndarray, score_residual: np.ndarray, working_weights: np.ndarray,
                   *, clusters: Clusters | None = None) -> SandwichInputs:
        """A GLM fit: scores ``x_i score_residual_i``, bread ``(X'WX)^{-1}``, dispersion 1."""
        return cls(design=X, residual=score_residual, sigma2=1.0, bread=bread, hat_weights=working_weights,
                   clusters=clusters)

    @property
    def n(self) -> int:
        return int(self.design.shape[0])

    @property
    def k(self) -> int:
        return int(self.design.shape[1])


@dataclass(frozen=True)
class Variance:
    """``vcov`` of the coefficients (symmetric) and the df of each coefficient's t test."""

    vcov: np.ndarray = field(repr=False)
    df: np.ndarray


# --------------------------------------------------------------------------------------------
# the estimators
# --------------------------------------------------------------------------------------------


class VarianceEstimator:
    """One ``se_type``: ``cov(inputs)`` gives the coefficients' :class:`Variance`."""

    name: str = ""
    clustered: bool = False

    @property
    def description(self) -> str:
        return LIBRARY_SE_TYPES[self.name].description

    def cov(self, inputs: SandwichInputs) -> Variance:
        raise NotImplementedError

    def _finish(self, inputs: SandwichInputs, meat: np.ndarray, factor: float, df: np.ndarray) -> Variance:
        # scale the meat before the change of coordinates (least squares) and the sandwich after
        # the bread (GLMs): the order in which each estimator computed it before this module
        V = meat if inputs.bread is None else inputs.bread @ meat @ inputs.bread
        if factor != 1.0:
            V = factor * V
        if inputs.bread is not None:
            # a GLM's meat is a cross-product of scores (see _score_meat), symmetric by construction
            return Variance(vcov=V, df=df)
        return _to_coefficients(inputs, V, df)


def _to_coefficients(inputs: SandwichInputs, V: np.ndarray, df: np.ndarray) -> Variance:
    T = inputs.to_coefficients
    vcov = V if T is None else T @ V @ T.T
    return Variance(vcov=0.5 * (vcov + vcov.T), df=df)


class Classical(VarianceEstimator):
    name = "classical"

    def cov(self, inputs: SandwichInputs) -> Variance:
        k = inputs.k
        df = np.full(k, float(inputs.n - k))
        if inputs.bread is not None:
            # a likelihood fit's model-based covariance is its inverse information, as it is
            return Variance(vcov=inputs.sigma2 * inputs.bread, df=df)
        return _to_coefficients(inputs, inputs.sigma2 * np.eye(k), df)


class Heteroskedastic(VarianceEstimator):
    """HC0-HC3: squared scores, inflated by ``(1 - h_i)^-leverage_power`` and ``n / (n - k)``."""

    def __init__(self, name: str, *, leverage_power: int = 0, small_sample: bool = False):
        self.name, self.leverage_power, self.small_sample = name, leverage_power, small_sample

    def cov(self, inputs: SandwichInputs) -> Variance:
        n, k = inputs.n, inputs.k
        h = None
        if self.leverage_power:
            h = _leverages(inputs)
            if np.any(h > 1.0 - _LEVERAGE_TOL):
                n_one = int(np.sum(h > 1.0 - _LEVERAGE_TOL))
                raise ValueError(
                    f"se_type {self.name!r} is undefined: {n_one} observation(s) have leverage 1 (e.g. singleton "
                    "strata with stratum fixed effects, or a covariate level seen once), so their residuals are 0 "
                    "and 1 - h_ii = 0 (estimatr returns NaN). Use 'HC1', merge or drop singleton strata."
                )
        if inputs.bread is not None:
            meat = _score_meat(inputs, h, self.leverage_power)
        else:
            omega = inputs.residual**2
            if h is not None:
                omega = omega / (1.0 - h) if self.leverage_power == 1 else omega / (1.0 - h) ** 2
            meat = (inputs.design * omega[:, None]).T @ inputs.design
        factor = n / (n - k) if self.small_sample else 1.0
        return self._finish(inputs, meat, factor, np.full(k, float(n - k)))


class ClusterRobust(VarianceEstimator):
    """CR0, CR1 and stata: summed cluster scores times a small-sample factor of ``(n, k, G)``."""

    clustered = True

    def __init__(self, name: str, *, small_sample: str):
        self.name, self.small_sample = name, small_sample

    def factor(self, n: int, k: int, G: int, *, likelihood: bool = False) -> float:
        if self.small_sample == "G":
            return G / (G - 1)
        if self.small_sample == "G_and_n":
            # the same number; each fit multiplies in the order it used before this module
            return G / (G - 1.0) * ((n - 1.0) / (n - k)) if likelihood else G * (n - 1) / ((G - 1) * (n - k))
        return 1.0

    def cov(self, inputs: SandwichInputs) -> Variance:
        clusters = _require_clusters(inputs, self.name)
        G = clusters.n_clusters
        likelihood = inputs.bread is not None
        scores = inputs.design * inputs.residual[:, None]
        sums = clusters.sums_in_row_order(scores) if likelihood else clusters.sums(scores)
        meat = sums.T @ sums
        factor = self.factor(inputs.n, inputs.k, G, likelihood=likelihood)
        return self._finish(inputs, meat, factor, np.full(inputs.k, float(G - 1)))


class BiasReduced(VarianceEstimator):
    """CR2 with Bell-McCaffrey df, for least-squares fits (see the module docstring)."""

    name, clustered = "CR2", True

    def cov(self, inputs: SandwichInputs) -> Variance:
        clusters = _require_clusters(inputs, self.name)
        if inputs.bread is not None:
            raise ValueError("se_type 'CR2' is defined here for least-squares fits only; use 'CR1' or 'stata'.")
        r = inputs.k
        Q = clusters.in_order(inputs.design)
        w = inputs.ls_weights
        if w is not None:
            w = clusters.in_order(w)
            sw = np.sqrt(w)
            e = clusters.in_order(inputs.residual) / sw  # unweighted residuals
            U = np.hstack([Q / sw[:, None], Q * sw[:, None]])
            Omega = (Q * w[:, None]).T @ Q
            C = np.block([[Omega, -np.eye(r)], [-np.eye(r), np.zeros((r, r))]])
            sel = slice(r, 2 * r)
        else:
            e = clusters.in_order(inputs.residual)
            U = Q
            C = -np.eye(r)
            sel = slice(0, r)
        ue = np.add.reduceat(U * e[:, None], clusters.starts, axis=0)
        adj, F1, F2 = _cr2_pieces(U, ue, C, sel, clusters.starts, clusters.counts)
        meat = adj.T @ adj
        T = inputs.to_coefficients
        df = _cr2_df(F1, F2, C, np.eye(r) if T is None else T.T)
        return self._finish(inputs, meat, 1.0, df)


VARIANCE_ESTIMATORS: Registry[VarianceEstimator] = Registry("se_type")
for _estimator in (
    Classical(),
    Heteroskedastic("HC0"),
    Heteroskedastic("HC1", small_sample=True),
    Heteroskedastic("HC2", leverage_power=1),
    Heteroskedastic("HC3", leverage_power=2),
    ClusterRobust("CR0", small_sample="none"),
    ClusterRobust("CR1", small_sample="G"),
    ClusterRobust("stata", small_sample="G_and_n"),
    BiasReduced(),
):
    VARIANCE_ESTIMATORS.add(_estimator.name, _estimator)


def variance(se_type: str, inputs: SandwichInputs) -> Variance:
    """The coefficients' variance and df under ``se_type`` (module docstring)."""
    return VARIANCE_ESTIMATORS.get(se_type).cov(inputs)


def resolve_se_type(se_type: str | None, clustered: bool, *, offered: tuple[str, ...] = SE_TYPES,
                    default: tuple[str, str] = ("HC2", "CR2")) -> str:
    """The ``se_type`` to use: ``default`` (without, with clusters) when None, else checked.

    Unknown names list those ``offered``; HC types are refused with clusters and cluster-robust
    types without them.
    """
    if se_type is None:
        return default[1] if clustered else default[0]
    check_choice("se_type", se_type, offered)
    if clustered and se_type in HC_SE_TYPES:
        raise ValueError(
            f"se_type {se_type!r} ignores 'clusters'; with clusters use one of "
            + ", ".join(repr(s) for s in offered if s in CR_SE_TYPES)
            + "."
        )
    if not clustered and se_type in CR_SE_TYPES:
        hint = " (for Stata's HC1 without clusters use 'HC1')" if se_type == "stata" else ""
        raise ValueError(f"se_type {se_type!r} is cluster-robust and needs 'clusters'; none were given{hint}.")
    return se_type


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _require_clusters(inputs: SandwichInputs, se_type: str) -> Clusters:
    if inputs.clusters is None:
        raise ValueError(f"se_type {se_type!r} is cluster-robust and needs 'clusters'; none were given.")
    return inputs.clusters


def _score_meat(inputs: SandwichInputs, h: np.ndarray | None, leverage_power: int) -> np.ndarray:
    """``S'S`` of the scores ``s_i = x_i r_i / (1 - h_i)^(power/2)``: the GLM form of the HC meat.

    Equal to ``X' diag(r_i^2 / (1 - h_i)^power) X``; crossing the scaled scores keeps a GLM's
    covariance bit-for-bit what bitframe 0.1 computed (the two orders differ by ~1e-13).
    """
    s = inputs.design * inputs.residual[:, None]
    if h is not None:
        s = s / ((1.0 - h) ** (0.5 if leverage_power == 1 else 1.0))[:, None]
    return s.T @ s


def _leverages(inputs: SandwichInputs) -> np.ndarray:
    D = inputs.design
    h = np.einsum("ij,ij->i", D, D) if inputs.bread is None else np.einsum("ij,jk,ik->i", D, inputs.bread, D)
    return h if inputs.hat_weights is None else inputs.hat_weights * h


def _segments(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row order sorting by group, and start offsets of each group in that order."""
    # uint16 keys let numpy use its O(n) radix sort
    keys = codes.astype(np.uint16) if n_groups <= np.iinfo(np.uint16).max else codes
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return order, starts, counts


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


def _cr2_pieces(U: np.ndarray, ue: np.ndarray, C: np.ndarray, sel: slice, starts: np.ndarray,
                counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CR2 ingredients from per-cluster Gram matrices (see the module docstring).

    ``U`` (n x m) row-sorted by cluster, ``ue`` (G x m) = ``U_g' e_g``, ``C`` (m x m), ``sel`` the
    columns of ``U`` that make ``W_g X_g R^{-1}``. Returns the adjusted scores (G x k), and the
    matrices ``F1 = T' f(E) T`` and ``F2 = T' f(E)^2 T`` restricted to ``sel`` columns on the right.
    """
    gram = _group_gram(U, starts, counts)  # (G, m, m)
    d, V = np.linalg.eigh(gram)
    dmax = d.max(axis=1, keepdims=True)
    keep = d > np.maximum(dmax * 1e-13, 0.0) if np.all(dmax > 0) else d > 0
    sqrt_d = np.where(keep, np.sqrt(np.where(keep, d, 1.0)), 0.0)
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
