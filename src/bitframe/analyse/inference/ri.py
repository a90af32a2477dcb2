r"""Randomisation inference: sharp-null p-values and test-inversion intervals from the design itself.

Under the sharp null of no effect of arm ``j`` (``Y_i(j) = Y_i(c)`` for every unit), the outcomes
the analysis would have seen under any other assignment are known, so the statistic's null
distribution is its value over the assignments the design could have produced
(Fisher 1935; Imbens & Rubin 2015, ch. 5). The assignments come from re-running the protocol's
own scheme through the randomiser (:mod:`bitframe.randomise.rerandomise`, each scheme's
``draw_many``): blocks, strata, clusters, minimisation replayed in enrolment order.

Which assignments (the ``approach`` of each row)
------------------------------------------------
* two arms: ``full`` -- fresh draws of the whole design; or ``enumerated`` -- every assignment,
  when there are no more than ``n_permutations`` of them (designs with fixed counts; the list is
  conditional on the observed counts and blocks).
* more arms, contrast ``j`` vs control: ``conditional`` -- the design's law given which units were
  in ``j`` or the control (other arms keep their arm and outcome; see the rerandomise module for why
  re-randomising everyone is invalid and ri2's vignette for the size distortion), or
  ``enumerated`` when few; minimisation: ``importance`` (self-normalised importance weights,
  approximate).

Test statistic (``statistic``)
------------------------------
``estimate`` (default, as ri2's ``conduct_ri``): the pre-registered estimator's coefficient --
difference in means, the blocked difference in means (estimatr's weights ``N_b / N``), or OLS with
stratum fixed effects and covariates (computed for all draws at once by Frisch-Waugh-Lovell:
with ``~`` denoting within-stratum demeaning, ``r = M_X~ y~`` fixed, the arm coefficients are
``(D'D - sum_s N_s N_s'/n_s - D'X~ (X~'X~)^{-1} X~'D)^{-1} D'r`` per draw), or Lin's regression
(its arm coefficient is the difference of per-arm regressions of ``y`` on the centred columns,
evaluated at their means: ``ybar_g - zbar_g' Czz_g^{-1} Czy_g``, from per-arm sums that are matrix
products of the draws' arm indicators). With clusters the difference in means is still that of
unit means. ``t``: the estimate over its standard error (Neyman/HC2 for the difference in means;
the estimator's own SE otherwise: for OLS and Lin with classical, HC0-HC3, CR0, CR1, ``stata`` or
CR2 SEs, ``X'X``, the leverages and the sandwich of every draw are batched einsums; CR2's
``(I - H_gg)^{-1/2}`` comes from ``k x k`` eigenproblems, see :func:`_bell_mccaffrey_adjusted`). The
studentised statistic keeps the test asymptotically valid for the *weak* null of no average effect
(Wu & Ding 2021). ``t`` is not linear in the effect, but for OLS and Lin each draw's coefficient is
linear and its variance quadratic in it, so the test-inversion interval solves on those polynomials
from one pass over the draws. The sharp-null test is exact either way. The blocked difference in
means' ``t`` (two arms, blocks of more than two units) comes from per-block sums and sums of
squares. What is not batched -- the difference in means' ``t`` with more than two arms and blocks,
with matched pairs, or with clusters and blocks -- is refitted draw by draw (slow), and so is any draw where
a batched regression would be singular (R's ``lm`` then drops a column): the batched statistics
equal the refit's to rounding (docs/decisions/0002-batched-randomisation-inference.md).

p-values
--------
Two-sided ``p = (1 + #{b : |T_b| >= |T|}) / (1 + B)`` over ``B`` sampled draws (the observed
assignment counted once: Phipson & Smyth 2010, valid for Monte Carlo samples), or
``#{|T_b| >= |T|} / M`` over all ``M`` enumerated assignments (exact; the observed one is among
them). ``include_observed=False`` gives ri2's ``mean(abs(sims) >= abs(obs))``. Comparisons allow a
relative tolerance of ``1e-9`` (ri2 rounds to 10 decimals) so that numerically equal statistics
count as ties. ``greater``/``less`` count ``T_b >= T`` / ``T_b <= T``. A draw whose statistic is
undefined (an arm missing from a stratum) counts as extreme (conservative).

Confidence interval (constant-effect model)
-------------------------------------------
Under ``Y_i(j) = Y_i(c) + tau``, the adjusted outcomes ``y - tau d_j`` (``d_j`` the observed
indicator of arm ``j``) obey the sharp null; the interval is ``{tau : p(tau) > alpha}``
(Imbens & Rubin 2015, s. 5.7), reported as its hull. Every ``estimate`` statistic is linear in
``y``, so ``T_b(tau) = a_b - tau c_b`` with ``a_b``, ``c_b`` the statistic of ``y`` and ``d_j``
under draw ``b``; each comparison ``|a_b - tau c_b| >= |a_0 - tau c_0|`` is a quadratic
inequality in ``tau`` and one sweep over the sorted roots gives ``p(tau)`` everywhere -- the
interval is exact for the draws used, with no grid. For ``t`` the interval is found by bracketing
and bisection (:func:`bitframe.analyse.inference.inversion.invert_test`).

References
----------
Fisher RA (1935). The Design of Experiments. Oliver & Boyd.
Imbens GW, Rubin DB (2015). Causal Inference for Statistics, Social, and Biomedical Sciences. CUP.
Phipson B, Smyth GK (2010). Permutation p-values should never be zero. Stat Appl Genet Mol Biol 9:39.
Wu J, Ding P (2021). Randomization tests for weak null hypotheses in randomized experiments.
JASA 116(536):1898-1913.
Coppock A (2020). ri2: Randomization Inference for Randomized Experiments (R package).

Tested against full enumeration written independently in the tests and ri2's published examples
(``tests/analyse/inference/test_ri.py``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitframe.analyse.inference.inversion import invert_test
from bitframe.analyse.inference.progress import ProgressBar
from bitframe.analyse.results import EffectEstimate, estimates_frame
from bitframe.analyse.variance import CR_SE_TYPES, HC_SE_TYPES
from bitframe.errors import check_choice
from bitframe.protocol.vocabulary import RI_STATISTICS
from bitframe.randomise._core import make_rng
from bitframe.randomise.rerandomise import (
    RIDesign,
    count_conditional_assignments,
    draw_conditional,
    enumerate_assignments,
    iter_assignments,
    unit_codes,
)

__all__ = ["ALTERNATIVES", "STATISTICS", "RandomisationResult", "randomisation_test"]

STATISTICS = tuple(RI_STATISTICS)
ALTERNATIVES = ("two-sided", "greater", "less")
_REL_TOL = 1e-9
#: The draws of one contrast: approach, assignments, importance weights (None: equal), observed weight.
_Draws = tuple[str, np.ndarray, np.ndarray | None, float]


# --------------------------------------------------------------------------------------------
# statistics for many assignments at once
# --------------------------------------------------------------------------------------------


def _group_counts(A: np.ndarray, s: np.ndarray, k: int, S: int) -> np.ndarray:
    """(c, k, S) counts of arm a in stratum s for each row of A."""
    c, _ = A.shape
    key = (np.arange(c, dtype=np.int64)[:, None] * (k * S)) + A.astype(np.int64) * S + s[None, :]
    return np.bincount(key.ravel(), minlength=c * k * S).reshape(c, k, S)


def _group_sums(A: np.ndarray, s: np.ndarray, k: int, S: int, Y: np.ndarray) -> np.ndarray:
    """(c, k, S, q) sums of each column of Y by arm and stratum for each row of A."""
    c, m = A.shape
    key = ((np.arange(c, dtype=np.int64)[:, None] * (k * S)) + A.astype(np.int64) * S + s[None, :]).ravel()
    out = np.empty((c, k, S, Y.shape[1]))
    for q in range(Y.shape[1]):
        out[..., q] = np.bincount(key, weights=np.broadcast_to(Y[:, q], (c, m)).ravel(), minlength=c * k * S).reshape(c, k, S)
    return out


@dataclass
class _Engine:
    """Computes the statistic of each contrast for a chunk of assignments (analysed units only).

    ``__call__(A, Y) -> (c, J, q)``: ``A`` is ``(c x m)`` arm indices, ``Y`` is ``(m x q)`` outcome
    columns; contrasts are the arms in ``arms`` against ``control``.
    """

    kind: str  # dim, blocked_dim, blocked_dim_t, fwl, lin, regression, refit
    k: int
    control: int
    arms: tuple[int, ...]
    statistic: str
    strata: np.ndarray | None = None
    covariates: np.ndarray | None = None
    refit: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    #: the studentised ``regression`` statistic: Lin's interactions, its standard error, cluster codes
    interact: bool = False
    se_type: str = "HC2"
    cluster_codes: np.ndarray | None = None

    @property
    def linear(self) -> bool:
        return self.statistic == "estimate"

    @property
    def stratum_codes(self) -> np.ndarray:
        """The strata of the ``blocked_dim`` and ``fwl`` statistics (:func:`randomisation_test` sets them)."""
        if self.strata is None:
            raise TypeError(f"the {self.kind!r} statistic needs stratum codes")
        return self.strata

    def __call__(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return getattr(self, f"_{self.kind}")(A, Y)

    def _dim(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        n = {}
        S1 = {}
        S2 = {}
        for a in {self.control, *self.arms}:
            ind = np.equal(A, a).astype(np.float64)
            n[a] = ind.sum(axis=1)[:, None]
            S1[a] = ind @ Y
            if self.statistic == "t":
                S2[a] = ind @ (Y * Y)
        out = np.empty((A.shape[0], len(self.arms), Y.shape[1]))
        c = self.control
        with np.errstate(divide="ignore", invalid="ignore"):
            mc = S1[c] / n[c]
            for i, a in enumerate(self.arms):
                est = S1[a] / n[a] - mc
                if self.statistic == "t":
                    va = (S2[a] - S1[a] ** 2 / n[a]) / (n[a] - 1)
                    vc = (S2[c] - S1[c] ** 2 / n[c]) / (n[c] - 1)
                    est = est / np.sqrt(va / n[a] + vc / n[c])
                out[:, i, :] = est
        return out

    def _blocked_dim(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        strata = self.stratum_codes
        S = int(strata.max()) + 1
        counts = _group_counts(A, strata, self.k, S).astype(np.float64)
        sums = _group_sums(A, strata, self.k, S, Y)
        c = self.control
        out = np.empty((A.shape[0], len(self.arms), Y.shape[1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = sums / counts[..., None]
            for i, a in enumerate(self.arms):
                Nb = counts[:, a, :] + counts[:, c, :]
                w = Nb / Nb.sum(axis=1, keepdims=True)
                d = mean[:, a, :, :] - mean[:, c, :, :]
                d = np.where((Nb > 0)[..., None], d, 0.0)
                out[:, i, :] = np.einsum("cs,csq->cq", w, d)
        return out

    def _blocked_dim_t(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        num, V = self._blocked_dim_parts(A, Y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(np.einsum("cjqq->cjq", V))

    def _blocked_dim_parts(self, A: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two arms, every block of more than two units (bitframe.analyse.dim's ``blocked``): the
        estimate sum_b w_b d_b and its variance sum_b w_b^2 (s2_1b/n_1b + s2_0b/n_0b) per draw, as
        coefficients ``(c, 1, q)`` and a bilinear form ``(c, 1, q, q)`` (see ``_regression_parts``).
        A block without two units of each arm in a draw gives NaN, as the refit's error does."""
        strata = self.stratum_codes
        S = int(strata.max()) + 1
        a, ctl = self.arms[0], self.control
        onehot = np.zeros((strata.shape[0], S))
        onehot[np.arange(strata.shape[0]), strata] = 1.0
        q = Y.shape[1]
        YY = (Y[:, :, None] * Y[:, None, :]).reshape(Y.shape[0], q * q)
        mean, var, count = {}, {}, {}
        with np.errstate(divide="ignore", invalid="ignore"):
            for g in (a, ctl):
                ind = np.equal(A, g).astype(np.float64)
                n = ind @ onehot  # c, S
                s1 = np.einsum("cm,ms,mq->csq", ind, onehot, Y, optimize=True)
                s2 = np.einsum("cm,ms,mr->csr", ind, onehot, YY, optimize=True).reshape(*n.shape, q, q)
                m1 = s1 / n[:, :, None]
                var[g] = (s2 - s1[:, :, :, None] * m1[:, :, None, :]) / (n - 1)[:, :, None, None]
                mean[g], count[g] = m1, n
            total = count[a] + count[ctl]
            w = total / total.sum(axis=1, keepdims=True)
            num = np.einsum("cs,csq->cq", w, mean[a] - mean[ctl])
            per_block = var[a] / count[a][:, :, None, None] + var[ctl] / count[ctl][:, :, None, None]
            short = ((count[a] < 2) | (count[ctl] < 2)).any(axis=1)
            V = np.einsum("cs,csqr->cqr", w**2, per_block)
            V[short] = np.nan
        return num[:, None, :], V[:, None, :, :]

    def _fwl(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        # Y here holds the residuals r = M_X~ y~ (see randomisation_test); covariates are X~.
        s = self.stratum_codes
        S = int(s.max()) + 1
        others = [a for a in range(self.k) if a != self.control]
        # one indicator matrix per arm serves both the stratum counts and the outcome sums
        ind = [np.equal(A, a).astype(np.float64) for a in others]
        onehot = np.zeros((s.shape[0], S))
        onehot[np.arange(s.shape[0]), s] = 1.0
        counts = np.stack([in_arm @ onehot for in_arm in ind], axis=1)  # c, K, S (exact: sums of 0/1)
        n_s = np.bincount(s, minlength=S).astype(np.float64)
        DD = np.einsum("cas,cbs->cab", counts, counts / n_s[None, None, :])
        DD = -DD
        idx = np.arange(len(others))
        DD[:, idx, idx] += counts.sum(axis=2)
        X = self.covariates
        Dr = np.stack([in_arm @ Y for in_arm in ind], axis=1)  # c, K, q
        if X is not None and X.shape[1]:
            DX = np.stack([in_arm @ X for in_arm in ind], axis=1)  # c, K, p
            XtX_inv = np.linalg.pinv(X.T @ X)
            DD = DD - np.einsum("cap,pr,cbr->cab", DX, XtX_inv, DX)
        with np.errstate(divide="ignore", invalid="ignore"):
            try:
                beta = np.linalg.solve(DD, Dr)
            except np.linalg.LinAlgError:
                beta = np.stack([_safe_solve(DD[i], Dr[i]) for i in range(DD.shape[0])])
        pos = {a: j for j, a in enumerate(others)}
        return beta[:, [pos[a] for a in self.arms], :]

    def _lin(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        # Lin's regression interacts every arm with every centred column of Z, so its fitted values
        # are those of a separate regression of y on [1, Z] within each arm, and the arm coefficient
        # is the difference of those regressions' values at Z = 0 (the sample means):
        # alpha_g = ybar_g - zbar_g' beta_g with beta_g = Czz_g^{-1} Czy_g, from per-arm sums.
        Z = self.lin_covariates
        c, m = A.shape
        p, q = Z.shape[1], Y.shape[1]
        ZZ = (Z[:, :, None] * Z[:, None, :]).reshape(m, p * p)
        ZY = (Z[:, :, None] * Y[:, None, :]).reshape(m, p * q)
        intercept: dict[int, np.ndarray] = {}
        flagged = np.zeros(c, dtype=bool)
        for g in sorted({self.control, *self.arms}):
            ind = np.equal(A, g).astype(np.float64)
            n_g, sz, szz, sy, szy = ind.sum(axis=1), ind @ Z, (ind @ ZZ).reshape(c, p, p), ind @ Y, ind @ ZY
            with np.errstate(divide="ignore", invalid="ignore"):
                zbar = sz / n_g[:, None]
                Czz = szz - sz[:, :, None] * zbar[:, None, :]
                Czy = szy.reshape(c, p, q) - zbar[:, :, None] * sy[:, None, :]
                flagged |= ~_well_conditioned(Czz, szz)
                beta = np.linalg.solve(np.where(flagged[:, None, None], np.eye(p), Czz), Czy)
                intercept[g] = sy / n_g[:, None] - np.einsum("cp,cpq->cq", zbar, beta)
        out = np.empty((c, len(self.arms), q))
        for i, a in enumerate(self.arms):
            out[:, i, :] = intercept[a] - intercept[self.control]
        if flagged.any():
            # A column of Z without spread within an arm in some draw: the refit drops it as R's lm
            # would, which the per-arm algebra cannot mimic, so those draws are refitted (its warning
            # about the dropped column concerns one hypothetical assignment, not the analysis).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out[flagged] = self._refit(A[flagged], Y)
        return out

    def _regression(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        # t = b_j / se_j of the OLS (or Lin) regression for every draw, with X_b built per draw:
        # b = (X'X)^{-1} X'y; with R = X (X'X)^{-1}, Var(b_j) = sum_i R_ij^2 omega_i (HC) or
        # sum_g (sum_{i in g} R_ij e_i)^2 (CR), as bitframe.analyse.variance computes them.
        W = self.lin_covariates
        c, m = A.shape
        others = [a for a in range(self.k) if a != self.control]
        cols = [others.index(a) + 1 for a in self.arms]
        out = np.empty((c, len(self.arms), Y.shape[1]))
        step = max(1, 3_000_000 // max(m * (1 + len(others)) * (1 + W.shape[1]), 1))
        for start in range(0, c, step):
            block = A[start : start + step]
            out[start : start + step] = self._regression_block(block, Y, W, others, cols)
        return out

    def _regression_block(self, A: np.ndarray, Y: np.ndarray, W: np.ndarray, others: list[int],
                          cols: list[int]) -> np.ndarray:
        num, V, flagged = self._regression_parts(A, Y, W, others, cols)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = num / np.sqrt(np.einsum("cjqq->cjq", V))
        if flagged.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                t[flagged] = self._refit(A[flagged], Y)
        return t

    def _regression_parts(self, A: np.ndarray, Y: np.ndarray, W: np.ndarray, others: list[int],
                          cols: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per draw: the coefficients ``(c, J, q)`` of every outcome column, the bilinear form
        ``V (c, J, q, q)`` whose diagonal is their variance, and which draws need a refit
        (singular ``X'X``). Coefficients and residuals are linear in ``Y`` and every variance is a
        sum of squares of linear terms, so for ``y - tau d`` the variance is
        ``V_yy - 2 tau V_yd + tau^2 V_dd``: the test-inversion interval needs one pass, not one per tau."""
        c, m = A.shape
        D = np.stack([np.equal(A, a) for a in others], axis=2).astype(np.float64)  # c, m, K
        parts = [np.ones((c, m, 1)), D, np.broadcast_to(W, (c, m, W.shape[1]))]
        if self.interact:
            parts.append((W[None, :, :, None] * D[:, :, None, :]).reshape(c, m, -1))
        X = np.concatenate(parts, axis=2)
        k = X.shape[2]
        XtX = np.einsum("cmk,cml->ckl", X, X, optimize=True)
        flagged = ~_well_conditioned(XtX, XtX)
        inv = np.linalg.inv(np.where(flagged[:, None, None], np.eye(k), XtX))
        R = np.einsum("cmk,ckl->cml", X, inv, optimize=True)
        beta = np.einsum("cml,mq->clq", R, Y, optimize=True)
        resid = Y[None, :, :] - np.einsum("cmk,ckq->cmq", X, beta, optimize=True)
        Rj = R[:, :, cols]  # c, m, J
        n_rows = float(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.se_type in CR_SE_TYPES:
                codes = self.cluster_codes
                if codes is None:
                    raise TypeError(f"se_type {self.se_type!r} needs cluster codes")
                G = int(codes.max()) + 1
                if self.se_type == "CR2":
                    resid = _bell_mccaffrey_adjusted(X, inv, resid, codes)
                # per-cluster sums of R_ij e_i by one pass over the units in cluster order (a
                # units x clusters indicator product costs G times more)
                order = np.argsort(codes, kind="stable")
                starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=G))[:-1]])
                terms = Rj[:, order, :, None] * resid[:, order, None, :]  # c, m, J, q
                sums = np.add.reduceat(terms, starts, axis=1)  # c, G, J, q
                V = np.einsum("cgjq,cgjr->cjqr", sums, sums, optimize=True)
                if self.se_type == "CR1":
                    V = V * (G / (G - 1))
                elif self.se_type == "stata":
                    V = V * (G * (n_rows - 1) / ((G - 1) * (n_rows - k)))
            elif self.se_type == "classical":
                sigma2 = np.einsum("cmq,cmr->cqr", resid, resid, optimize=True) / (n_rows - k)
                V = np.einsum("cjj->cj", inv[:, cols][:, :, cols])[:, :, None, None] * sigma2[:, None, :, :]
            else:
                weight = np.ones((c, m))
                if self.se_type in ("HC2", "HC3"):
                    h = np.einsum("cmk,cmk->cm", R, X)
                    one = h > 1.0 - _LEVERAGE_TOL  # undefined: the refit raises, the draw counts as extreme
                    weight = 1.0 / (1.0 - h) ** (1 if self.se_type == "HC2" else 2)
                    weight[one.any(axis=1)] = np.nan
                V = np.einsum("cmj,cm,cmq,cmr->cjqr", Rj**2, weight, resid, resid, optimize=True)
                if self.se_type == "HC1":
                    V = V * (n_rows / (n_rows - k))
        return beta[:, cols, :], V, flagged

    @property
    def lin_covariates(self) -> np.ndarray:
        if self.covariates is None:
            raise TypeError("the 'lin' statistic needs the centred covariates")
        return self.covariates

    def _refit(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        if self.refit is None:
            raise TypeError("the 'refit' statistic needs a refit function")
        out = np.empty((A.shape[0], len(self.arms), Y.shape[1]))
        for row in range(A.shape[0]):
            for q in range(Y.shape[1]):
                out[row, :, q] = self.refit(A[row], Y[:, q])
        return out


def _bell_mccaffrey_adjusted(X: np.ndarray, inv: np.ndarray, resid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The residuals of each draw premultiplied by CR2's ``A_g = (I - H_gg)^{-1/2}`` cluster by cluster
    (Bell & McCaffrey 2002), so that CR2 is CR0 of the adjusted residuals.

    ``H_gg = X_g (X'X)^{-1} X_g'`` has rank at most ``k``: with ``X_g = Q_g R_g`` (thin QR) it is
    ``Q_g B_g Q_g'``, ``B_g = R_g (X'X)^{-1} R_g'``, so with ``B_g = U diag(lam) U'`` the symmetric
    inverse square root is ``I + Q_g U diag((1 - lam)^{-1/2} - 1) U' Q_g'``. Only ``k x k``
    eigenproblems are solved, for all draws and all clusters of one size at once. A cluster with an
    eigenvalue at 1 (CR2 undefined) gives NaN, as the refit's error counts such a draw as extreme.
    """
    out = np.empty_like(resid)
    sizes = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for size in np.unique(sizes):
        groups = np.flatnonzero(sizes == size)
        rows = order[(starts[groups][:, None] + np.arange(size)[None, :])]  # G_s, size
        Xg = X[:, rows, :]  # c, G_s, size, k
        eg = resid[:, rows, :]  # c, G_s, size, q
        Q, R = np.linalg.qr(Xg)
        B = R @ inv[:, None, :, :] @ np.swapaxes(R, -1, -2)
        lam, U = np.linalg.eigh((B + np.swapaxes(B, -1, -2)) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(lam < 1.0 - _LEVERAGE_TOL, 1.0 / np.sqrt(np.clip(1.0 - lam, 0.0, None)) - 1.0, np.nan)
        Qe = np.swapaxes(Q, -1, -2) @ eg
        out[:, rows, :] = eg + Q @ (U @ (shrink[..., None] * (np.swapaxes(U, -1, -2) @ Qe)))
    return out


#: a leverage this close to 1 makes HC2/HC3 undefined (bitframe.analyse.variance's threshold)
_LEVERAGE_TOL = 1e-10
#: A per-arm covariate cross-product whose correlation matrix has a smaller eigenvalue ratio than
#: this is treated as singular. R's ``lm`` drops a column at a squared residual ratio of 1e-14, so
#: every draw it would drop a column in is among those refitted.
_LIN_RCOND = 1e-9


def _well_conditioned(C: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """(c,) whether each centred cross-product ``C`` (``p x p``) is safely invertible.

    A column whose centred sum of squares is a tiny part of its raw one (``raw``, before centring on
    the arm's mean) is constant in that arm up to rounding; then the correlation matrix's eigenvalues.
    """
    d2 = np.einsum("cii->ci", C)
    ok = np.all(np.isfinite(d2) & (d2 > _LIN_RCOND * np.einsum("cii->ci", raw)), axis=1)
    scale = np.sqrt(np.where(ok[:, None], d2, 1.0))
    R = C / (scale[:, :, None] * scale[:, None, :])
    R = np.where(ok[:, None, None] & np.isfinite(R), R, np.eye(C.shape[1]))
    ev = np.linalg.eigvalsh(R)
    return ok & (ev[:, 0] > _LIN_RCOND * ev[:, -1])


def _safe_solve(M: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(M, b)
    except np.linalg.LinAlgError:
        return np.full(b.shape, np.nan)


# --------------------------------------------------------------------------------------------
# p-values and the interval sweep
# --------------------------------------------------------------------------------------------


def _extreme(null: np.ndarray, obs: float, alternative: str) -> np.ndarray:
    tol = _REL_TOL * max(1.0, abs(obs))
    with np.errstate(invalid="ignore"):
        if alternative == "two-sided":
            hit = np.abs(null) >= abs(obs) - tol
        elif alternative == "greater":
            hit = null >= obs - tol
        else:
            hit = null <= obs + tol
    return hit | np.isnan(null)


def _pvalue(null: np.ndarray, obs: float, alternative: str, weights: np.ndarray | None, w_obs: float,
            include_observed: bool) -> float:
    hit = _extreme(null, obs, alternative)
    if weights is None:
        weights = np.ones(null.shape[0])
    num = float(weights[hit].sum())
    den = float(weights.sum())
    if include_observed:
        num += w_obs
        den += w_obs
    return min(1.0, num / den) if den > 0 else math.nan


def _sweep_interval(a: np.ndarray, b: np.ndarray, a0: float, b0: float, weights: np.ndarray, w_obs: float,
                    alpha: float) -> tuple[float, float]:
    """Hull of ``{tau : p(tau) > alpha}`` for ``p(tau) = (w_obs + sum_b w_b 1{|a_b - tau b_b| >= |a0 - tau b0|}) / W``.

    Each indicator is ``{f_b(tau) >= 0}`` with ``f_b = A tau^2 + B tau + C``; it is constant or
    switches at the real roots of ``f_b``. Start values at ``tau -> -inf`` and signed events at the
    roots, swept in order, give ``p`` on every segment.
    """
    A = b * b - b0 * b0
    B = -2.0 * (a * b - a0 * b0)
    C = a * a - a0 * a0
    scale = max(1.0, float(np.max(np.abs(b))) ** 2, b0 * b0)
    quad = np.abs(A) > 1e-12 * scale
    W = float(weights.sum()) + w_obs
    start = np.zeros(a.shape[0], dtype=bool)
    ev_t: list[np.ndarray] = []
    ev_w: list[np.ndarray] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = B * B - 4.0 * A * C
        sq = np.sqrt(np.where(disc > 0, disc, 0.0))
        r1 = np.where(quad, (-B - sq) / (2.0 * A), 0.0)
        r2 = np.where(quad, (-B + sq) / (2.0 * A), 0.0)
        lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
        up = quad & (A > 0)
        down = quad & (A < 0)
        two = disc > 0
        # A > 0: true outside the roots (always true without real roots)
        start |= up
        m = up & two
        ev_t += [lo[m], hi[m]]
        ev_w += [-weights[m], weights[m]]
        # A < 0: true between the roots only
        m = down & two
        ev_t += [lo[m], hi[m]]
        ev_w += [weights[m], -weights[m]]
        # linear: B tau + C >= 0
        lin = ~quad
        tiny = 1e-12 * max(1.0, float(np.max(np.abs(B))) if B.size else 1.0)
        inc = lin & (tiny < B)
        dec = lin & (-tiny > B)
        const = lin & ~inc & ~dec
        start |= dec | (const & (-1e-12 * max(1.0, a0 * a0) <= C))
        root = np.where(lin & ~const, -C / np.where(B == 0, 1.0, B), 0.0)
        ev_t += [root[inc], root[dec]]
        ev_w += [weights[inc], -weights[dec]]
    t = np.concatenate(ev_t) if ev_t else np.empty(0)
    w = np.concatenate(ev_w) if ev_w else np.empty(0)
    order = np.argsort(t, kind="stable")
    t, w = t[order], w[order]
    level0 = w_obs + float(weights[start].sum())
    # p on the open segments: before the first event, then after each distinct event position
    uniq, first = np.unique(t, return_index=True)
    csum = np.concatenate(([0.0], np.cumsum(w)))
    after = level0 + csum[np.concatenate((first[1:], [t.size]))] if uniq.size else np.empty(0)
    # at an event point itself every indicator that is >= 0 there holds (closed sets), so the
    # value at the point is the max of the two sides; the hull only needs the open segments and points
    seg_p = np.concatenate(([level0], after)) / W
    at_point = np.maximum(seg_p[:-1], seg_p[1:]) if uniq.size else np.empty(0)
    accept_seg = seg_p > alpha
    if accept_seg[0] or (accept_seg[-1] and uniq.size):
        lower = -math.inf if accept_seg[0] else None
        upper = math.inf if accept_seg[-1] else None
    else:
        lower = upper = None
    cand = []
    for i, x in enumerate(uniq):
        if at_point[i] > alpha or accept_seg[i] or accept_seg[i + 1]:
            cand.append(float(x))
    if not cand and lower is None and upper is None:
        return math.nan, math.nan
    lo_v = lower if lower is not None else min(cand)
    hi_v = upper if upper is not None else max(cand)
    return float(lo_v), float(hi_v)


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomisationResult:
    """Randomisation-inference rows (``EffectEstimate`` with ``method="randomisation"``).

    ``estimate``/``std_error``/``df`` are the estimator's own (analytic) values; ``statistic`` is
    the observed test statistic; ``p_value`` and the CI come from the randomisation distribution.
    ``approach[i]`` and ``n_draws[i]`` say how row ``i``'s distribution was built. With
    ``keep_null=True``, ``null`` is the ``(B x rows)`` matrix of statistics over *joint* fresh
    draws of the whole design (the global sharp null), for resampling-based multiplicity.
    """

    effects: tuple[EffectEstimate, ...]
    statistic: str
    alternative: str
    approach: tuple[str, ...]
    n_draws: tuple[int, ...]
    observed: np.ndarray = field(repr=False)
    null: np.ndarray | None = field(default=None, repr=False)

    def to_frame(self):
        frame = estimates_frame(self.effects)
        frame["ri_statistic"] = self.statistic
        frame["ri_approach"] = list(self.approach)
        frame["ri_draws"] = list(self.n_draws)
        return frame


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"The {name!r} parameter must be an integer >= {minimum}. Got {value!r} instead.")
    return int(value)


def _demean(values: np.ndarray, s: np.ndarray, S: int) -> np.ndarray:
    counts = np.bincount(s, minlength=S).astype(np.float64)
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        means = np.bincount(s, weights=values[:, j], minlength=S) / counts
        out[:, j] = values[:, j] - means[s]
    return out


def randomisation_test(
    outcomes: Any,
    design: RIDesign,
    *,
    estimator: str = "ols",
    covariates: Any = None,
    strata: Any = "design",
    se_type: str | None = None,
    statistic: str = "estimate",
    n_permutations: int = 10_000,
    seed: int | np.random.Generator,
    ci_level: float = 0.95,
    alternative: str = "two-sided",
    include_observed: bool = True,
    exact: str = "auto",
    confidence_interval: bool = True,
    keep_null: bool = False,
) -> RandomisationResult:
    """Randomisation-inference p-values (and CIs) for every arm-vs-control contrast and outcome.

    Parameters
    ----------
    outcomes : one outcome (length ``n``, the design's units in enrolment order) or a mapping
        name -> outcome; NaN marks a missing outcome (that unit is re-randomised but not analysed).
    design : the :class:`~bitframe.randomise.rerandomise.RIDesign` (see ``ri_design``).
    estimator : a registered estimator name: ``ols`` (default; with ``strata`` as fixed effects and
        ``covariates``), ``difference_in_means`` (``strata`` as blocks) or any other (refitted
        per draw, slow).
    covariates : covariates for ``ols``/``lin`` (array, DataFrame or mapping), one row per unit.
    strata : stratum labels per unit for fixed effects / blocks; ``"design"`` (default) uses the
        design's strata when it has them; ``None`` for none.
    se_type : standard error of the reported analytic estimate (and of ``t`` when refitting).
    statistic : ``estimate`` (default) or ``t`` (module docstring).
    n_permutations : number of draws per contrast (and the enumeration threshold).
    seed : seed or Generator; the same seed gives the same draws.
    alternative : ``two-sided``, ``greater`` or ``less``.
    include_observed : count the observed assignment in sampled p-values (valid; default) or
        not (ri2's convention).
    exact : ``auto`` (enumerate when there are at most ``n_permutations`` assignments),
        ``never``, or ``always`` (error if enumeration is impossible).
    confidence_interval : compute the test-inversion CI (two-sided only).
    keep_null : also return the joint null distribution of all rows over fresh full draws.
    """
    from bitframe.analyse.coding import check_ci_level, covariate_matrix
    from bitframe.analyse.estimators import get_estimator

    if not isinstance(design, RIDesign):
        raise ValueError(f"The 'design' parameter must be an RIDesign (see ri_design). Got {type(design).__name__} instead.")
    check_choice("statistic", statistic, STATISTICS)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("exact", exact, ("auto", "never", "always"))
    n_permutations = _check_int("n_permutations", n_permutations, 1)
    ci_level = check_ci_level(ci_level)
    if design.scheme_option.stepped:
        raise ValueError("Randomisation inference for stepped-wedge designs is not supported: the treated "
                         "observations depend on period; use the wild cluster bootstrap.")
    rng = make_rng(seed)
    n = design.n
    if isinstance(outcomes, Mapping):
        named = {str(k): np.asarray(v, dtype=float) for k, v in outcomes.items()}
    else:
        named = {"outcome": np.asarray(outcomes, dtype=float)}
    for name, y in named.items():
        if y.shape != (n,):
            raise ValueError(f"Outcome {name!r} must have {n} entries (one per unit of the design). Got shape {y.shape} instead.")
    spec = get_estimator(estimator)
    k = design.k
    c = design.control_index
    arm_labels = np.asarray(design.arms, dtype=object)
    contrasts = tuple(a for a in range(k) if a != c)
    if isinstance(strata, str) and strata == "design":
        strata_codes = design.strata if design.strata is not None else None
    elif strata is None:
        strata_codes = None
    else:
        strata_codes = unit_codes(strata, "strata", n)
    Zfull, znames = covariate_matrix(covariates, n)
    clusters = design.clusters

    effects: list[EffectEstimate] = []
    approach: list[str] = []
    n_draws: list[int] = []
    observed_stats: list[float] = []
    row_specs: list[tuple[str, int, np.ndarray, _Engine, np.ndarray]] = []

    for name, y in named.items():
        keep = np.isfinite(y)
        if Zfull.shape[1]:
            keep &= np.all(np.isfinite(Zfull), axis=1)
        ym = y[keep]
        m = int(keep.sum())
        labels_obs = arm_labels[design.observed[keep]].astype(str)
        s_keep = None
        if strata_codes is not None:
            _, s_keep = np.unique(strata_codes[keep], return_inverse=True)
        fit_kwargs: dict[str, Any] = {"control": design.control, "ci_level": ci_level}
        if se_type is not None:
            fit_kwargs["se_type"] = se_type
        if Zfull.shape[1]:
            fit_kwargs["covariates"] = {nm: Zfull[keep, j] for j, nm in enumerate(znames)}
        if s_keep is not None:
            fit_kwargs["strata"] = s_keep.astype(str)
        if clusters is not None and spec.supports_clusters:
            fit_kwargs["clusters"] = clusters[keep].astype(str)
        analytic = {e.term: e for e in spec.fit(ym, labels_obs, **fit_kwargs)}

        Y = ym[:, None]
        engine: _Engine
        has_cov = bool(Zfull.shape[1])
        lin_columns = _lin_columns(Zfull[keep], s_keep) if estimator == "lin" else None
        if estimator == "difference_in_means" and (clusters is None or statistic == "estimate"):
            # with clusters the estimate is still the (blocked) difference of unit means; only its SE differs
            if s_keep is None:
                engine = _Engine("dim", k, c, contrasts, statistic)
            elif statistic == "estimate":
                engine = _Engine("blocked_dim", k, c, contrasts, statistic, strata=s_keep)
            elif k == 2 and np.bincount(s_keep).min() > 2:
                # no refit per draw; the refit is kept so tests can compare with it
                refit = _refit_engine(spec, fit_kwargs, arm_labels, k, c, contrasts, statistic).refit
                engine = _Engine("blocked_dim_t", k, c, contrasts, statistic, strata=s_keep, refit=refit)
            else:
                engine = _refit_engine(spec, fit_kwargs, arm_labels, k, c, contrasts, statistic)
        elif lin_columns is not None and lin_columns.shape[1] and statistic == "estimate":
            refit = _refit_engine(spec, fit_kwargs, arm_labels, k, c, contrasts, statistic).refit
            engine = _Engine("lin", k, c, contrasts, statistic, covariates=lin_columns, refit=refit)
        elif estimator in ("ols", "lin") and statistic == "estimate":
            # lin without covariates or strata is the unadjusted regression
            s_use = s_keep if s_keep is not None else np.zeros(m, dtype=np.int64)
            S = int(s_use.max()) + 1
            X = _demean(Zfull[keep], s_use, S) if has_cov else None
            engine = _Engine("fwl", k, c, contrasts, statistic, strata=s_use, covariates=X)
        elif estimator == "ols" and statistic == "t" and not has_cov and s_keep is None and clusters is None \
                and se_type in (None, "HC2"):
            engine = _Engine("dim", k, c, contrasts, statistic)  # HC2 SE of saturated arm dummies = Neyman
        elif estimator == "difference_in_means" and statistic == "t" and clusters is not None and s_keep is None \
                and k == 2:
            # the clustered difference in means is y ~ 1 + t with CR2 (bitframe.analyse.dim)
            refit = _refit_engine(spec, fit_kwargs, arm_labels, k, c, contrasts, statistic).refit
            engine = _Engine("regression", k, c, contrasts, statistic, covariates=np.empty((m, 0)), refit=refit,
                             se_type="CR2", cluster_codes=np.unique(clusters[keep], return_inverse=True)[1])
        elif estimator in ("ols", "lin") and statistic == "t" and (
                (clusters is None and se_type in (None, *HC_SE_TYPES))
                or (clusters is not None and se_type in CR_SE_TYPES)):
            refit = _refit_engine(spec, fit_kwargs, arm_labels, k, c, contrasts, statistic).refit
            interact = estimator == "lin" and lin_columns is not None and bool(lin_columns.shape[1])
            columns = lin_columns if interact else _lin_columns(Zfull[keep], s_keep)  # centring leaves OLS's t alone
            codes = None if clusters is None else np.unique(clusters[keep], return_inverse=True)[1]
            engine = _Engine("regression", k, c, contrasts, statistic, covariates=columns, refit=refit,
                             interact=interact, se_type=se_type or "HC2", cluster_codes=codes)
        else:
            engine = _refit_engine(spec, fit_kwargs, arm_labels, k, c, contrasts, statistic)
        prep = _prepare(engine, Y)
        obs_row = design.observed[keep][None, :].astype(np.int8)
        T_obs = engine(obs_row, prep)[0, :, 0]
        for i, a in enumerate(contrasts):
            row_specs.append((name, a, keep, engine, prep))
            est = analytic[str(design.arms[a])]
            observed_stats.append(float(T_obs[i]))
            effects.append(EffectEstimate.from_estimate(
                est, outcome=name, arm=str(design.arms[a]), contrast=f"{design.arms[a]} - {design.control}",
                method="randomisation").with_(statistic=float(T_obs[i])))

    # draws: two-arm designs share the full draws across outcomes; multi-arm contrasts condition
    two_arm = len(contrasts) == 1
    cache: dict[int, _Draws] = {}

    def draws_for(a: int) -> _Draws:
        if a in cache:
            return cache[a]
        res: _Draws
        total = count_conditional_assignments(design, None if two_arm else a)
        if exact == "always" and (total is None or total > 10 * n_permutations):
            what = f"scheme {design.scheme}" if total is None else f"{total} assignments"
            raise ValueError(f"Exact enumeration is not possible here ({what}).")
        if exact != "never" and total is not None and (total <= n_permutations or exact == "always"):
            A = enumerate_assignments(design, None if two_arm else a, limit=max(total, 1))
            res = ("enumerated", A, None, 0.0)
        elif two_arm:
            A = np.vstack(list(iter_assignments(design, n_permutations, rng=rng)))
            res = ("full", A, None, 1.0)
        else:
            A, logw = draw_conditional(design, a, n_permutations, rng=rng)
            if logw is None:
                res = ("conditional", A, None, 1.0)
            else:
                lw_obs = _observed_log_weight(design, a)
                top = max(float(logw.max()), lw_obs)
                res = ("importance", A, np.exp(logw - top), math.exp(lw_obs - top))
        cache[a] = res
        return res

    alpha = 1.0 - ci_level
    want_ci = confidence_interval and alternative == "two-sided"

    def row(idx: int, a: int, keep: np.ndarray, engine: _Engine, prep: np.ndarray, bar: ProgressBar) -> EffectEstimate:
        kind, A, weights, w_obs = draws_for(a)
        bar.add_total(A.shape[0] - n_permutations)
        if kind == "enumerated":
            w_obs_use, incl = 0.0, False
        else:
            w_obs_use, incl = w_obs, include_observed
        i = engine.arms.index(a)
        d = (design.observed[keep] == a).astype(float)
        observed_row = design.observed[keep][None, :].astype(np.int8)
        if want_ci and engine.linear:
            # the statistic of y and of the arm indicator in one pass over the draws (the interval's a_b, c_b)
            both = np.hstack([prep, _prepare(engine, d[:, None])])
            null = _stats_in_chunks(engine, A[:, keep], both, col=i, progress=bar.advance)
            obs_d = float(engine(observed_row, both[:, 1:])[0, i, 0])
        else:
            null = _stats_in_chunks(engine, A[:, keep], prep, col=i, progress=bar.advance)
        T0 = observed_stats[idx]
        p = _pvalue(null[:, 0], T0, alternative, weights, w_obs_use, incl)
        lo = hi = math.nan
        if want_ci and engine.linear:
            wts = weights if weights is not None else np.ones(A.shape[0])
            lo, hi = _sweep_interval(null[:, 0], null[:, 1], T0, obs_d, wts, w_obs_use if incl else 0.0, alpha)
        elif want_ci:
            lo, hi = _inverted_interval(engine, A[:, keep], design.observed[keep], prep, d, i, weights,
                                        w_obs_use, incl, alpha, effects[idx])
        approach.append(kind)
        n_draws.append(int(A.shape[0]))
        return effects[idx].with_(p_value=p, ci_lower=lo, ci_upper=hi, ci_level=ci_level)

    out_effects: list[EffectEstimate] = []
    null_joint = None
    with ProgressBar("randomisation inference", len(row_specs) * n_permutations * (2 if keep_null else 1)) as bar:
        for idx, (_, a, keep, engine, prep) in enumerate(row_specs):
            out_effects.append(row(idx, a, keep, engine, prep, bar))
        if keep_null:
            A = np.vstack(list(iter_assignments(design, n_permutations, rng=rng)))
            null_joint = np.column_stack([
                _stats_in_chunks(engine, A[:, keep], prep, col=engine.arms.index(a), progress=bar.advance)[:, 0]
                for _, a, keep, engine, prep in row_specs
            ])
    return RandomisationResult(
        effects=tuple(out_effects),
        statistic=statistic,
        alternative=alternative,
        approach=tuple(approach),
        n_draws=tuple(n_draws),
        observed=np.asarray(observed_stats),
        null=null_joint,
    )


def _lin_columns(covariates: np.ndarray, strata: np.ndarray | None) -> np.ndarray:
    """The columns Lin's regression centres and interacts: covariates then stratum dummies, centred.

    A column collinear with the intercept and the columns before it is left out: Lin's regression
    (:func:`bitframe.analyse.coding.treatment_design` fitted by :func:`bitframe.analyse.linear.ols`)
    drops it and its interactions by R's rule, which leaves the same model.
    """
    from bitframe.analyse.coding import stratum_dummies
    from bitframe.analyse.linear import _independent_columns

    m = covariates.shape[0]
    Z = covariates
    if strata is not None:
        Z = np.hstack([Z, stratum_dummies(strata.astype(str), m)[0]])
    Zc = Z - Z.mean(axis=0)
    if not Zc.shape[1]:
        return Zc
    kept = _independent_columns(np.hstack([np.ones((m, 1)), Zc]))
    return Zc[:, [j - 1 for j in kept if j > 0]]


def _prepare(engine: _Engine, Y: np.ndarray) -> np.ndarray:
    """Outcome columns as the engine wants them (FWL works on the residuals ``M_X~ y~``)."""
    if engine.kind != "fwl":
        return Y
    strata = engine.stratum_codes
    S = int(strata.max()) + 1
    yd = _demean(Y, strata, S)
    X = engine.covariates
    if X is not None and X.shape[1]:
        gamma, *_ = np.linalg.lstsq(X, yd, rcond=None)
        yd = yd - X @ gamma
    return yd


def _stats_in_chunks(engine: _Engine, A: np.ndarray, Y: np.ndarray, *, col: int,
                     progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(B, q) statistics of contrast ``col`` for every row of A (``progress`` is told of each chunk)."""
    B, m = A.shape
    step = max(1, min(B, 4_000_000 // max(m, 1)))
    out = np.empty((B, Y.shape[1]))
    for start in range(0, B, step):
        out[start : start + step] = engine(A[start : start + step], Y)[:, col, :]
        if progress is not None:
            progress(min(step, B - start))
    return out


def _t_as_quadratic(engine: _Engine, A: np.ndarray, obs: np.ndarray, Yd: np.ndarray, col: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The regression ``t`` of ``y - tau d`` for every draw as numerator and variance coefficients
    (see :meth:`_Engine._regression_parts`), or None when a draw needs a refit (then every trial
    tau is evaluated the general way)."""
    if engine.kind == "blocked_dim_t":
        num_all, V_all = _parts_in_chunks(engine._blocked_dim_parts, A, Yd)
        n0, V0 = engine._blocked_dim_parts(obs, Yd)
        return num_all[:, col, :], V_all[:, col, :, :], n0[0, col, :], V0[0, col, :, :]
    W = engine.lin_covariates
    others = [a for a in range(engine.k) if a != engine.control]
    cols = [others.index(a) + 1 for a in engine.arms]
    B, m = A.shape
    step = max(1, 3_000_000 // max(m * (1 + len(others)) * (1 + W.shape[1]), 1))
    num = np.empty((B, 2))
    V = np.empty((B, 2, 2))
    for start in range(0, B, step):
        n_b, V_b, flagged = engine._regression_parts(A[start : start + step], Yd, W, others, cols)
        if flagged.any():
            return None
        num[start : start + step] = n_b[:, col, :]
        V[start : start + step] = V_b[:, col, :, :]
    n0, V0, flagged0 = engine._regression_parts(obs, Yd, W, others, cols)
    if flagged0.any():
        return None
    return num, V, n0[0, col, :], V0[0, col, :, :]


def _parts_in_chunks(parts: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], A: np.ndarray,
                     Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    B, m = A.shape
    step = max(1, min(B, 2_000_000 // max(m, 1)))
    chunks = [parts(A[start : start + step], Y) for start in range(0, B, step)]
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def _refit_engine(spec, fit_kwargs: dict, arm_labels: np.ndarray, k: int, c: int, contrasts: tuple[int, ...],
                  statistic: str) -> _Engine:
    labels = arm_labels.astype(str)
    wanted = [str(labels[a]) for a in contrasts]

    def refit(assignment: np.ndarray, y: np.ndarray) -> np.ndarray:
        try:
            fits = {e.term: e for e in spec.fit(y, labels[assignment.astype(np.int64)], **fit_kwargs)}
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            return np.full(len(wanted), np.nan)
        vals = []
        for term in wanted:
            e = fits.get(term)
            if e is None:
                vals.append(math.nan)
            else:
                vals.append(e.estimate if statistic == "estimate" else e.statistic)
        return np.asarray(vals)

    return _Engine("refit", k, c, contrasts, statistic, refit=refit)


def _observed_log_weight(design: RIDesign, arm: int) -> float:
    """Importance weight of the observed assignment under the conditional minimisation proposal."""
    from bitframe.randomise import minimisation

    probs = minimisation.probabilities(design.factors or {}, design.observed, design.arm_ratio,
                                       weights=design.factor_weights, imbalance=design.imbalance, p=design.p)
    in_s = (design.observed == arm) | (design.observed == design.control_index)
    c = design.control_index
    lw = np.log(probs[in_s, arm] + probs[in_s, c]).sum()
    lw += np.log(probs[~in_s, design.observed[~in_s]]).sum()
    return float(lw)


def _inverted_interval(engine: _Engine, A: np.ndarray, observed: np.ndarray, prep: np.ndarray, d: np.ndarray,
                       col: int, weights, w_obs: float, include_observed: bool, alpha: float, est: EffectEstimate
                       ) -> tuple[float, float]:
    """Test-inversion CI for a non-linear statistic: where ``p(tau)`` crosses ``alpha``."""
    y = prep[:, 0]
    obs = observed[None, :].astype(np.int8)
    quadratic = (_t_as_quadratic(engine, A, obs, np.column_stack([y, d]), col)
                 if engine.kind in ("regression", "blocked_dim_t") else None)
    if quadratic is not None:
        num, V, num0, V0 = quadratic

        def p_polynomial(tau: float) -> float:
            with np.errstate(divide="ignore", invalid="ignore"):
                null = (num[:, 0] - tau * num[:, 1]) / np.sqrt(V[:, 0, 0] - 2 * tau * V[:, 0, 1] + tau * tau * V[:, 1, 1])
                t0 = (num0[0] - tau * num0[1]) / np.sqrt(V0[0, 0] - 2 * tau * V0[0, 1] + tau * tau * V0[1, 1])
            return _pvalue(null, float(t0), "two-sided", weights, w_obs, include_observed)

        centre = est.estimate
        width = est.std_error if np.isfinite(est.std_error) and est.std_error > 0 else max(1.0, abs(centre))
        return invert_test(p_polynomial, centre, alpha=alpha, first_step=2.0 * width, scale=width)

    def p_at(tau: float) -> float:
        Y = (y - tau * d)[:, None]
        t0 = float(engine(obs, Y)[0, col, 0])
        null = _stats_in_chunks(engine, A, Y, col=col)[:, 0]
        return _pvalue(null, t0, "two-sided", weights, w_obs, include_observed)

    centre = est.estimate
    width = est.std_error if np.isfinite(est.std_error) and est.std_error > 0 else max(1.0, abs(centre))
    return invert_test(p_at, centre, alpha=alpha, first_step=2.0 * width, scale=width)
