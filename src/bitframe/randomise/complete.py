"""Complete randomisation: exactly fixed arm counts, every arrangement equally likely.

With ``n = qR + s`` units and ratio ``r`` (sum ``R``), arm ``j`` receives
``floor(n r_j / R)`` units and the ``E = n - sum_j floor(n r_j / R)`` left over go to
distinct arms, arm ``j`` getting one with probability equal to its fractional part
``(n r_j mod R) / R`` (systematic unequal-probability sampling; see
:func:`bitframe.randomise._core.apportion`). The arm labels are then shuffled uniformly.
Each unit's probability of arm ``j`` is therefore exactly ``r_j / R``, and
``|count_j - n r_j / R| < 1``. With explicit ``counts`` (randomizr's ``m_each``) the
counts are used as given and ``P(arm j) = m_j / n``.

Counterpart of randomizr's ``complete_ra`` / ``complete_ra_probabilities``
(Coppock, randomizr; Gerber & Green 2012, *Field Experiments*, s. 2.7).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bitframe.randomise._batch import check_draws, complete_rows, labels_from_counts
from bitframe.randomise._core import (
    Assignment,
    FloatArray,
    IntArray,
    apportion,
    check_count,
    check_ratio,
    constant_probabilities,
    make_rng,
)


def _check_counts(n: int, counts: ArrayLike) -> IntArray:
    c = np.atleast_1d(np.asarray(counts, dtype=object))
    bad = [v for v in c if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 0]
    if len(c) < 2 or bad or sum(int(v) for v in c) != n:
        raise ValueError(
            f"The 'counts' parameter must hold at least two non-negative integers summing to n={n}. "
            f"Got {list(c)!r} instead."
        )
    return np.asarray([int(v) for v in c], dtype=np.int64)


def arm_counts(n: int, ratio: ArrayLike, *, rng: np.random.Generator | int) -> IntArray:
    """The counts per arm that :func:`assign` uses (draws ``rng.random(1)``)."""
    return apportion([check_count("n", n)], check_ratio(ratio), make_rng(rng))[0]


def assign(
    n: int,
    ratio: ArrayLike | None = None,
    *,
    counts: ArrayLike | None = None,
    rng: np.random.Generator | int,
) -> Assignment:
    """Assign ``n`` units with exact counts.

    Draws: ``rng.random(1)`` for the leftovers (only when ``counts`` is not given), then
    ``rng.permutation`` of the ``n`` labels.

    >>> a = assign(10, (2, 1, 1), rng=7)
    >>> sorted(np.bincount(a.arm).tolist())[-1] == 5
    True
    """
    n = check_count("n", n)
    gen = make_rng(rng)
    m = _check_counts(n, counts) if counts is not None else apportion([n], check_ratio(ratio), gen)[0]
    labels = np.repeat(np.arange(len(m), dtype=np.int64), m)
    return Assignment(arm=gen.permutation(labels))


def draw_many(
    n: int,
    ratio: ArrayLike | None = None,
    *,
    n_draws: int,
    counts: ArrayLike | None = None,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign`, as an ``(n_draws x n)`` int8 matrix.

    Draws: ``rng.random(n_draws)`` for the leftovers (only when ``counts`` is not given), then
    ``rng.permuted`` of the ``n_draws x n`` label matrix along its rows.

    >>> A = draw_many(4, (1, 1), n_draws=3, rng=1)
    >>> A.shape, A.sum(axis=1).tolist()
    ((3, 4), [2, 2, 2])
    """
    n = check_count("n", n)
    n_draws = check_draws(n_draws)
    gen = make_rng(rng)
    if counts is None:
        return complete_rows(n, check_ratio(ratio), n_draws, gen)
    m = _check_counts(n, counts)
    labels = labels_from_counts(np.broadcast_to(m, (n_draws, len(m))), n)
    return gen.permuted(labels, axis=1, out=labels)


def probabilities(n: int, ratio: ArrayLike | None = None, *, counts: ArrayLike | None = None) -> FloatArray:
    """``n x k`` matrix: rows ``r / R`` (ratio) or ``m / n`` (explicit counts); exact."""
    n = check_count("n", n)
    if counts is not None:
        m = _check_counts(n, counts)
        return constant_probabilities(n, m) if n else np.zeros((0, len(m)))
    return constant_probabilities(n, check_ratio(ratio))
