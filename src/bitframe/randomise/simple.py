"""Simple randomisation: each unit independently, arm ``j`` with probability ``r_j / R``.

Arm counts are random (multinomial), so small trials can be badly unbalanced; use
``complete`` or ``block`` when exact counts matter. Counterpart of randomizr's
``simple_ra`` / ``simple_ra_probabilities`` (Coppock, randomizr documentation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bitframe.randomise._batch import check_draws
from bitframe.randomise._core import Assignment, FloatArray, check_count, check_ratio, constant_probabilities, make_rng


def assign(n: int, ratio: ArrayLike, *, rng: np.random.Generator | int) -> Assignment:
    """Assign ``n`` units independently with ``P(arm j) = r_j / R``.

    Draws: ``rng.random(n)``; unit ``i`` gets the arm ``j`` with
    ``C_{j-1} <= u_i R < C_j`` where ``C`` is the cumulative ratio (integer
    thresholds, so no rounding of ``r_j / R`` creeps in).

    >>> a = assign(6, (1, 1), rng=1)
    >>> a.arm.shape
    (6,)
    """
    n = check_count("n", n)
    r = check_ratio(ratio)
    gen = make_rng(rng)
    u = gen.random(n) * r.sum()
    arm = np.searchsorted(np.cumsum(r), u, side="right").astype(np.int64)
    return Assignment(arm=arm)


def draw_many(n: int, ratio: ArrayLike, *, n_draws: int, rng: np.random.Generator | int) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign`, as an ``(n_draws x n)`` int8 matrix.

    Draws: ``rng.random((n_draws, n))``, the same stream as ``n_draws`` calls of :func:`assign`.

    >>> draw_many(4, (1, 1), n_draws=3, rng=1).shape
    (3, 4)
    """
    n = check_count("n", n)
    r = check_ratio(ratio)
    u = make_rng(rng).random((check_draws(n_draws), n)) * r.sum()
    return np.searchsorted(np.cumsum(r), u, side="right").astype(np.int8)


def probabilities(n: int, ratio: ArrayLike) -> FloatArray:
    """``n x k`` matrix with every row ``r / R`` (exact)."""
    n = check_count("n", n)
    return constant_probabilities(n, check_ratio(ratio))
