"""Stepped-wedge randomisation: clusters are randomly ordered into ``S`` sequences
(steps); all start in the control condition and the clusters of step ``s`` cross over
to the intervention at the start of period ``baseline_periods + s`` and stay there.
The design has ``baseline_periods + S`` periods; in the last, every cluster is exposed
(Hussey & Hughes 2007, *Contemp Clin Trials* 28:182; Hemming et al. 2015, *BMJ* 350:h391).

Clusters per step: as given in ``clusters_per_step`` (summing to the number of
clusters); by default as equal as possible, ``floor(C / S)`` each, with the ``C mod S``
leftover clusters going to distinct steps chosen at random with equal probability
(so each cluster is in each step with probability exactly ``1/S``). The assignment of
clusters to the step slots is a uniform random permutation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from bitframe.randomise._batch import check_draws, labels_from_counts
from bitframe.randomise._core import (
    Assignment,
    FloatArray,
    IntArray,
    apportion,
    check_count,
    codes_of,
    constant_probabilities,
    make_rng,
    permuted_blocks,
)


def _step_counts(
    n_clusters: int, steps: int, clusters_per_step: Sequence[int] | None, rng: np.random.Generator | None
) -> IntArray | None:
    steps = check_count("steps", steps, minimum=1)
    if clusters_per_step is not None:
        c = np.atleast_1d(np.asarray(clusters_per_step, dtype=object))
        bad = [v for v in c if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 0]
        if len(c) != steps or bad or sum(int(v) for v in c) != n_clusters:
            raise ValueError(
                f"The 'clusters_per_step' parameter must hold {steps} non-negative integers summing to the "
                f"number of clusters ({n_clusters}). Got {list(c)!r} instead."
            )
        return np.asarray([int(v) for v in c], dtype=np.int64)
    if n_clusters < steps:
        raise ValueError(
            f"The 'steps' parameter must not exceed the number of clusters ({n_clusters}). Got {steps} instead."
        )
    if rng is None:
        return None
    return apportion([n_clusters], np.ones(steps, dtype=np.int64), rng)[0]


def crossover_period(step: ArrayLike, baseline_periods: int = 1) -> IntArray:
    """1-based period at which clusters of 0-based ``step`` start the intervention."""
    b = check_count("baseline_periods", baseline_periods, minimum=1)
    return np.asarray(step, dtype=np.int64) + 1 + b


def assign(
    clusters: ArrayLike,
    steps: int,
    *,
    clusters_per_step: Sequence[int] | None = None,
    rng: np.random.Generator | int,
) -> Assignment:
    """Randomly order clusters into steps; ``arm`` holds the 0-based step of each unit.

    Draws: ``rng.random(1)`` for the leftover steps (default counts only), then one
    uniform per cluster (sorted labels) for the permutation.

    >>> a = assign(["a", "b", "c", "d", "d"], 2, rng=9)
    >>> np.bincount(a.arm[:4]).tolist(), bool(a.arm[3] == a.arm[4])
    ([2, 2], True)
    """
    codes, labels = codes_of(clusters, "clusters")
    gen = make_rng(rng)
    counts = _step_counts(len(labels), steps, clusters_per_step, gen)
    if counts is None:  # unreachable: counts are always drawn when a generator is given
        raise RuntimeError("stepped_wedge: step counts were not drawn")
    step_of_cluster, _ = permuted_blocks(counts[None, :], gen)
    return Assignment(arm=step_of_cluster[codes])


def draw_many(
    clusters: ArrayLike,
    steps: int,
    *,
    n_draws: int,
    clusters_per_step: Sequence[int] | None = None,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign` (0-based step per unit), as an
    ``(n_draws x n)`` int8 matrix.

    Draws: ``rng.random(n_draws)`` for the leftover steps (default counts only), then
    ``rng.permuted`` of the ``n_draws x C`` step labels along its rows.

    >>> A = draw_many(["a", "b", "c", "d", "d"], 2, n_draws=3, rng=9)
    >>> A[:, :4].sum(axis=1).tolist(), bool((A[:, 3] == A[:, 4]).all())
    ([2, 2, 2], True)
    """
    codes, labels = codes_of(clusters, "clusters")
    C = len(labels)
    P = check_draws(n_draws)
    gen = make_rng(rng)
    given = _step_counts(C, steps, clusters_per_step, None)
    if given is not None:
        counts = np.broadcast_to(given, (P, int(steps)))
    else:
        counts = apportion(np.full(P, C), np.ones(int(steps), dtype=np.int64), gen)
    step_labels = labels_from_counts(counts, C)
    gen.permuted(step_labels, axis=1, out=step_labels)
    return step_labels[:, codes]


def probabilities(clusters: ArrayLike, steps: int, *, clusters_per_step: Sequence[int] | None = None) -> FloatArray:
    """``n x S`` matrix: probability that each unit's cluster is in each step (exact).

    ``c_s / C`` with explicit counts, ``1 / S`` by default.
    """
    codes, labels = codes_of(clusters, "clusters")
    counts = _step_counts(len(labels), steps, clusters_per_step, None)
    weights = counts if counts is not None else np.ones(int(steps))
    return constant_probabilities(len(codes), weights)
