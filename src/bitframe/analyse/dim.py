"""Difference in means, as ``estimatr::difference_in_means`` (Gerber & Green 2012, ch. 3-4).

Each non-control arm is compared with the control on the rows of those two arms only. With
``Y1`` the control outcomes and ``Y2`` the arm's, the design decides the estimator:

* **standard** (no blocks, no clusters): ``d = mean(Y2) - mean(Y1)``, Neyman's conservative
  ``se = sqrt(s2^2/N2 + s1^2/N1)`` and Welch-Satterthwaite df
  ``se^4 / ((s2^2/N2)^2/(N2-1) + (s1^2/N1)^2/(N1-1))`` (Welch 1947). Each arm needs >= 2 units.
* **clustered**: the coefficient of ``y ~ 1 + t`` with CR2 standard errors and Bell-McCaffrey df
  (:func:`bitframe.analyse.linear.ols`); every cluster must sit in one arm.
* **blocked** (every block has > 2 units or clusters): block estimates ``d_b`` combined with
  weights ``N_b/N``: ``d = sum_b d_b N_b/N``, ``se = sqrt(sum_b se_b^2 (N_b/N)^2)`` with the
  standard (or, with clusters, the clustered) ``se_b``; df ``N - 2B`` (``G - 2B`` with ``G`` clusters:
  **block_clustered**). Every block needs >= 2 units of each arm.
* **matched_pair** (every block has exactly 2 units, or a mix of 2 and more, with a warning):
  ``se = sqrt(sum_b (d_b - d)^2 / (B (B - 1)))`` (Imai 2008), df ``B - 1``; with clusters
  (**matched_pair_clustered**), ``se = sqrt(B / ((B-1) N^2) sum_b (N_b d_b - N d / B)^2)``
  (Imai, King & Nall 2009), df ``B - 1``.

A block with a single unit (or cluster), or without both arms, is an error, as in estimatr.
The ``se_type`` of the returned estimates names the design (``standard``, ``clustered``,
``blocked``, ``block_clustered``, ``matched_pair``, ``matched_pair_clustered``).

References
----------
Gerber AS, Green DP (2012). Field Experiments. Norton.
Imai K (2008). Variance identification and efficiency analysis in randomized experiments under
the matched-pair design. Stat Med 27(24):4857-4873.
Imai K, King G, Nall C (2009). The essential role of pair matching in cluster-randomized
experiments. Stat Sci 24(1):29-53.

Results are tested against ``estimatr::difference_in_means`` (``tests/reference/estimatr_reference.R``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from bitframe.analyse.coding import (
    arm_levels,
    as_1d,
    as_float_vector,
    as_labels,
    check_ci_level,
    group_codes,
)
from bitframe.analyse.linear import make_estimates, ols
from bitframe.analyse.results import Estimate, estimates_frame

__all__ = ["DESIGNS", "DiMResult", "difference_in_means"]

DESIGNS = ("standard", "clustered", "blocked", "block_clustered", "matched_pair", "matched_pair_clustered")


@dataclass(frozen=True)
class DiMResult:
    """One :class:`Estimate` per non-control arm (``term`` = arm label) and the design used."""

    estimates: tuple[Estimate, ...]
    control: str
    arms: tuple[str, ...]
    design: str
    n_blocks: int | None = None

    def __getitem__(self, arm: str) -> Estimate:
        for est in self.estimates:
            if est.term == arm:
                return est
        raise KeyError(f"No estimate for arm {arm!r}; arms: {', '.join(self.arms)}.")

    def to_frame(self):
        return estimates_frame(self.estimates)


class _Contrast:
    """Point estimate, SE, df, n and clusters of one two-arm contrast."""

    __slots__ = ("df", "estimate", "n", "n_clusters", "std_error")

    def __init__(self, estimate: float, std_error: float, df: float, n: int, n_clusters: int | None):
        self.estimate, self.std_error, self.df, self.n, self.n_clusters = estimate, std_error, df, n, n_clusters


def _two_arm(y: np.ndarray, t: np.ndarray, clusters: np.ndarray | None, *, pair_matched: bool, where: str) -> _Contrast:
    """estimatr's ``difference_in_means_internal`` for one block (or the whole sample)."""
    y2, y1 = y[t], y[~t]
    n2, n1 = y2.size, y1.size
    if n1 == 0 or n2 == 0:
        raise ValueError(f"{where} needs units of both arms; it has {n1} control and {n2} treated units.")
    if not pair_matched and (n1 == 1 or n2 == 1):
        raise ValueError(
            f"{where} has {n1} control and {n2} treated unit(s); outside matched pairs every block needs at least "
            "two units of each arm to estimate a variance."
        )
    if clusters is not None and not pair_matched:
        X = np.column_stack([np.ones(y.size), t.astype(float)])
        fit = ols(y, X, se_type="CR2", clusters=clusters, term_names=["(Intercept)", "t"], estimator="difference_in_means")
        est = fit["t"]
        return _Contrast(est.estimate, est.std_error, est.df, y.size, fit.n_clusters)
    diff = float(y2.mean() - y1.mean())
    if pair_matched:
        return _Contrast(diff, math.nan, math.nan, y.size, 2 if clusters is not None else None)
    v2, v1 = float(y2.var(ddof=1)) / n2, float(y1.var(ddof=1)) / n1
    se = math.sqrt(v2 + v1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = float(np.float64(se**4) / (v2**2 / (n2 - 1) + v1**2 / (n1 - 1)))
    return _Contrast(diff, se, df, y.size, None)


def _check_clusters_in_arms(t: np.ndarray, codes: np.ndarray, n_groups: int) -> None:
    treated = np.bincount(codes, weights=t.astype(float), minlength=n_groups)
    size = np.bincount(codes, minlength=n_groups)
    if np.any((treated > 0) & (treated < size)):
        raise ValueError("All units within a cluster must have the same arm (clusters are the units of assignment).")


def _one_contrast(y, t, blocks, clusters, *, arm: str) -> tuple[_Contrast, str, int | None]:
    """The contrast of ``arm`` vs control (``t`` marks the arm) under the design implied by the data."""
    cl_codes = None
    if clusters is not None:
        cl_codes, n_cl = group_codes(clusters)
        _check_clusters_in_arms(t, cl_codes, n_cl)
    if blocks is None:
        c = _two_arm(y, t, cl_codes, pair_matched=False, where=f"The comparison of {arm!r} with the control")
        return c, ("clustered" if clusters is not None else "standard"), None

    b_codes, B = group_codes(blocks)
    if cl_codes is not None:
        pairs = np.unique(np.column_stack([cl_codes, b_codes]), axis=0)
        if np.unique(pairs[:, 0]).size != pairs.shape[0]:
            raise ValueError("All clusters must be contained within blocks (a cluster spans several blocks).")
        per_block = np.bincount(pairs[:, 1], minlength=B)
        unit = "clusters"
    else:
        per_block = np.bincount(b_codes, minlength=B)
        unit = "units"
    if np.any(per_block == 1):
        bad = [str(lv) for lv in _block_labels(blocks, b_codes, B)[per_block == 1][:5]]
        raise ValueError(
            f"Every block must have at least two {unit}; singleton block(s) "
            + ", ".join(repr(b) for b in bad)
            + f" in the comparison of {arm!r} with the control. Merge them with a neighbouring block."
        )
    pair_matched = bool(np.all(per_block == 2)) or bool(np.any(per_block == 2))
    if pair_matched and not np.all(per_block == 2):
        warnings.warn(
            f"Some blocks have two {unit} while others have more; as variances cannot be estimated within blocks of "
            "two, the matched-pairs variance estimator is used for all blocks (as estimatr).",
            UserWarning,
            stacklevel=3,
        )
    order = np.argsort(b_codes, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(b_codes, minlength=B))))
    labels = _block_labels(blocks, b_codes, B)
    parts = []
    for b in range(B):
        idx = order[bounds[b] : bounds[b + 1]]
        parts.append(
            _two_arm(y[idx], t[idx], None if cl_codes is None else cl_codes[idx], pair_matched=pair_matched,
                     where=f"Block {str(labels[b])!r} (comparison of {arm!r} with the control)")
        )
    d_b = np.array([p.estimate for p in parts])
    n_b = np.array([p.n for p in parts], dtype=float)
    N = n_b.sum()
    diff = float(np.sum(d_b * n_b / N))
    if pair_matched:
        if cl_codes is None:
            se = math.sqrt(np.sum((d_b - diff) ** 2) / (B * (B - 1)))
            design = "matched_pair"
        else:
            se = math.sqrt(B / ((B - 1) * N**2) * np.sum((n_b * d_b - N * diff / B) ** 2))
            design = "matched_pair_clustered"
        df = float(B - 1)
    else:
        se_b = np.array([p.std_error for p in parts])
        se = math.sqrt(np.sum(se_b**2 * (n_b / N) ** 2))
        if cl_codes is None:
            df = float(N - 2 * B)
            design = "blocked"
        else:
            df = float(per_block.sum() - 2 * B)  # per_block counts clusters here
            design = "block_clustered"
    n_clusters = int(np.unique(cl_codes).size) if cl_codes is not None else None
    return _Contrast(diff, se, df, int(N), n_clusters), design, B


def _block_labels(blocks: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    first = np.full(n_groups, -1)
    first[codes[::-1]] = np.arange(codes.size)[::-1]
    return blocks[first]


def difference_in_means(
    y: Any,
    arm: Any,
    *,
    control: Any = None,
    blocks: Any = None,
    clusters: Any = None,
    ci_level: float = 0.95,
) -> DiMResult:
    """Difference in means of each arm vs ``control``, matching ``estimatr::difference_in_means``.

    Parameters
    ----------
    y : outcome, length ``n``.
    arm : arm labels, length ``n``; without ``control`` the first sorted label is the control.
    blocks : block (stratum, pair) labels: blocked or matched-pair estimator.
    clusters : cluster labels: cluster-robust (CR2) or matched-pair-clustered estimator.
    ci_level : confidence level in (0, 1).

    See the module docstring for the estimators, their df and references.

    Examples
    --------
    >>> res = difference_in_means([1.0, 2, 3, 4, 6, 8], ["c", "c", "c", "t", "t", "t"])
    >>> round(res["t"].estimate, 4), round(res["t"].std_error, 4), res["t"].se_type
    (4.0, 1.291, 'standard')
    """
    ci_level = check_ci_level(ci_level)
    n = as_1d(arm, "arm").shape[0]
    yv = as_float_vector(y, "y", n)
    labels = as_labels(arm, "arm", n)
    control_s, others = arm_levels(labels, control)
    blk = as_labels(blocks, "blocks", n) if blocks is not None else None
    cl = as_labels(clusters, "clusters", n) if clusters is not None else None

    estimates: list[Estimate] = []
    design = ""
    n_blocks = None
    for a in others:
        rows = (labels == control_s) | (labels == a)
        c, design, n_blocks = _one_contrast(
            yv[rows], labels[rows] == a, None if blk is None else blk[rows], None if cl is None else cl[rows], arm=a
        )
        estimates.extend(
            make_estimates([a], np.array([c.estimate]), np.array([c.std_error]), np.array([c.df]), ci_level,
                           estimator="difference_in_means", se_type=design, n=c.n, n_clusters=c.n_clusters)
        )
    return DiMResult(estimates=tuple(estimates), control=control_s, arms=others, design=design, n_blocks=n_blocks)
