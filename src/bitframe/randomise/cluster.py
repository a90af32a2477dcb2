"""Cluster randomisation: clusters, not people, are randomised; people inherit their
cluster's arm, so a cluster is never split.

Clusters (sorted by label) are allocated by complete randomisation
(:mod:`bitframe.randomise.complete`): with ``C`` clusters, arm ``j`` gets
``floor(C r_j / R)`` clusters plus possibly one leftover, drawn with probability equal
to the fractional part, so every cluster -- and every person -- has probability
exactly ``r_j / R``. Counterpart of randomizr's ``cluster_ra`` /
``cluster_ra_probabilities``; see Hayes & Moulton (2017), *Cluster Randomised Trials*, ch. 6.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bitframe.randomise import complete
from bitframe.randomise._batch import check_draws, complete_rows
from bitframe.randomise._core import Assignment, FloatArray, check_ratio, codes_of, constant_probabilities, make_rng


def assign(clusters: ArrayLike, ratio: ArrayLike, *, rng: np.random.Generator | int) -> Assignment:
    """Assign clusters by complete randomisation; units inherit.

    Draws: as :func:`bitframe.randomise.complete.assign` over the sorted unique clusters.

    >>> a = assign(["x", "x", "y", "y", "z", "w"], (1, 1), rng=2)
    >>> bool(a.arm[0] == a.arm[1] and a.arm[2] == a.arm[3])
    True
    """
    codes, labels = codes_of(clusters, "clusters")
    r = check_ratio(ratio)
    cluster_arm = complete.assign(len(labels), r, rng=make_rng(rng)).arm
    return Assignment(arm=cluster_arm[codes])


def draw_many(clusters: ArrayLike, ratio: ArrayLike, *, n_draws: int, rng: np.random.Generator | int) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign`, as an ``(n_draws x n)`` int8 matrix.

    Draws: as :func:`bitframe.randomise.complete.draw_many` over the sorted unique clusters.

    >>> A = draw_many(["x", "x", "y", "y", "z", "w"], (1, 1), n_draws=3, rng=2)
    >>> bool((A[:, 0] == A[:, 1]).all() and (A[:, 2] == A[:, 3]).all())
    True
    """
    codes, labels = codes_of(clusters, "clusters")
    r = check_ratio(ratio)
    return complete_rows(len(labels), r, check_draws(n_draws), make_rng(rng))[:, codes]


def probabilities(clusters: ArrayLike, ratio: ArrayLike) -> FloatArray:
    """``n x k`` matrix with rows ``r / R`` (exact)."""
    codes, _ = codes_of(clusters, "clusters")
    return constant_probabilities(len(codes), check_ratio(ratio))
