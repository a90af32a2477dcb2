"""Stratified cluster randomisation: clusters randomised by complete randomisation within
strata of clusters; people inherit their cluster's arm.

Every cluster must lie in exactly one stratum (strata are cluster-level
characteristics). Within a stratum of ``c`` clusters, arm ``j`` gets
``floor(c r_j / R)`` clusters and the leftovers go to distinct arms with probability
equal to the fractional parts, so each cluster's probability is exactly ``r_j / R``.

**Pair-matching** is the special case of strata holding two clusters each with a 1:1
ratio: one cluster of every pair goes to each arm (Imai, King & Nall 2009,
*Statistical Science* 24:29). A stratum with a single cluster is allocated at random
with probabilities ``r / R``. Counterpart of randomizr's ``block_and_cluster_ra``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bitframe.randomise._batch import check_draws, labels_from_counts
from bitframe.randomise._core import (
    Assignment,
    FloatArray,
    IntArray,
    apportion,
    check_ratio,
    codes_of,
    constant_probabilities,
    make_rng,
    permuted_blocks,
    segment_positions,
)


def cluster_strata(clusters: ArrayLike, strata: ArrayLike) -> tuple[IntArray, IntArray, np.ndarray]:
    """Cluster codes per unit, stratum code per cluster, cluster labels.

    Raises ``ValueError`` naming the first clusters that span more than one stratum.
    """
    c_codes, c_labels = codes_of(clusters, "clusters")
    s_codes, _ = codes_of(strata, "strata")
    if len(c_codes) != len(s_codes):
        raise ValueError(
            f"The 'clusters' and 'strata' parameters must have the same length. "
            f"Got {len(c_codes)} and {len(s_codes)} instead."
        )
    nc = len(c_labels)
    lo = np.full(nc, np.iinfo(np.int64).max)
    hi = np.full(nc, -1)
    np.minimum.at(lo, c_codes, s_codes)
    np.maximum.at(hi, c_codes, s_codes)
    split = np.flatnonzero(lo != hi)
    if len(split):
        names = ", ".join(repr(str(c_labels[i])) for i in split[:5])
        raise ValueError(
            f"Clusters must each lie in one stratum; {len(split)} cluster(s) span several strata: {names}."
        )
    return c_codes, lo.astype(np.int64), c_labels


def assign(clusters: ArrayLike, strata: ArrayLike, ratio: ArrayLike, *, rng: np.random.Generator | int) -> Assignment:
    """Complete randomisation of clusters within each stratum; units inherit.

    Draws: ``rng.random(#strata)`` for leftovers, then one uniform per cluster for the
    within-stratum shuffles (strata and clusters in sorted label order).

    >>> a = assign(["c1", "c2", "c3", "c4"], ["p1", "p1", "p2", "p2"], (1, 1), rng=4)
    >>> int(a.arm[0] + a.arm[1]), int(a.arm[2] + a.arm[3])
    (1, 1)
    """
    r = check_ratio(ratio)
    c_codes, stratum_of_cluster, _ = cluster_strata(clusters, strata)
    gen = make_rng(rng)
    n_strata = int(stratum_of_cluster.max()) + 1 if len(stratum_of_cluster) else 0
    order, sizes = segment_positions(stratum_of_cluster, n_strata)
    counts = apportion(sizes, r, gen)
    arm_slots, _ = permuted_blocks(counts, gen)
    cluster_arm = np.empty(len(stratum_of_cluster), dtype=np.int64)
    cluster_arm[order] = arm_slots
    return Assignment(arm=cluster_arm[c_codes])


def draw_many(
    clusters: ArrayLike, strata: ArrayLike, ratio: ArrayLike, *, n_draws: int, rng: np.random.Generator | int
) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign`, as an ``(n_draws x n)`` int8 matrix.

    Draws: ``rng.random(n_draws * #strata)`` for the leftovers (row by row, strata in sorted
    order), then one uniform per cluster and row for the within-stratum shuffles.

    >>> A = draw_many(["c1", "c2", "c3", "c4"], ["p1", "p1", "p2", "p2"], (1, 1), n_draws=3, rng=4)
    >>> A[:, :2].sum(axis=1).tolist(), A[:, 2:].sum(axis=1).tolist()
    ([1, 1, 1], [1, 1, 1])
    """
    r = check_ratio(ratio)
    c_codes, stratum_of_cluster, _ = cluster_strata(clusters, strata)
    P = check_draws(n_draws)
    gen = make_rng(rng)
    C = len(stratum_of_cluster)
    S = int(stratum_of_cluster.max()) + 1
    order, sizes = segment_positions(stratum_of_cluster, S)
    counts = apportion(np.tile(sizes, P), r, gen).reshape(P, S, len(r))
    width = int(sizes.max())
    labels = labels_from_counts(counts.reshape(P * S, len(r)), width).reshape(P, S, width)
    valid = np.arange(width)[None, :] < sizes[:, None]
    slots = np.broadcast_to(valid, (P, S, width))
    sorted_labels = labels[slots].reshape(P, C)  # strata in order, sorted labels within
    seg = stratum_of_cluster[order]
    keys = seg[None, :] + gen.random((P, C))
    perm = np.argsort(keys, axis=1, kind="stable")
    cluster_arm = np.empty((P, C), dtype=np.int8)
    cluster_arm[:, order] = np.take_along_axis(sorted_labels, perm, axis=1)
    return cluster_arm[:, c_codes]


def probabilities(clusters: ArrayLike, strata: ArrayLike, ratio: ArrayLike) -> FloatArray:
    """``n x k`` matrix with rows ``r / R`` (exact)."""
    r = check_ratio(ratio)
    c_codes, _, _ = cluster_strata(clusters, strata)
    return constant_probabilities(len(c_codes), r)
