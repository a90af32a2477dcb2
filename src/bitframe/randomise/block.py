"""Permuted-block randomisation (one sequence for the whole trial).

Units, in enrolment order, are filled into consecutive blocks. Each block's size is
fixed, or drawn uniformly and independently from a set of sizes (random block sizes
make the next allocation harder to guess; Schulz & Grimes 2002, *Lancet* 359:515).
Every block size must be a multiple of ``R = sum(ratio)``; a full block of size ``b``
holds exactly ``b r_j / R`` units of arm ``j`` in uniformly random order.

Final incomplete block: when the last drawn block is larger than the ``s`` units left,
those ``s`` units are apportioned like complete randomisation (``floor(s r_j / R)``
each, leftovers to distinct arms with probability equal to the fractional parts) and
shuffled. Hence every unit's probability of arm ``j`` is exactly ``r_j / R`` and the
trial's imbalance is below one unit per arm. Block ids and drawn sizes are returned
so the sealed list can be audited.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from bitframe.randomise._batch import check_draws, permuted_block_rows
from bitframe.randomise._core import (
    Assignment,
    FloatArray,
    blocks_for_groups,
    check_block_sizes,
    check_count,
    check_ratio,
    constant_probabilities,
    make_rng,
)


def assign(n: int, ratio: ArrayLike, block_sizes: int | Sequence[int], *, rng: np.random.Generator | int) -> Assignment:
    """Permuted blocks over ``n`` units in order.

    Draws (see :func:`bitframe.randomise._core.blocks_for_groups`): block-size indices
    (only with several sizes), one uniform if the final block is partial, then one
    uniform per unit for the within-block shuffles.

    >>> a = assign(8, (1, 1), 4, rng=3)
    >>> np.bincount(a.arm[:4]).tolist(), np.bincount(a.arm[4:]).tolist()
    ([2, 2], [2, 2])
    """
    n = check_count("n", n)
    r = check_ratio(ratio)
    sizes = check_block_sizes(block_sizes, r)
    gen = make_rng(rng)
    arm, block, size, _ = blocks_for_groups(np.array([n]), r, sizes, gen)
    return Assignment(arm=arm, block=block, block_size=size)


def draw_many(
    n: int, ratio: ArrayLike, block_sizes: int | Sequence[int], *, n_draws: int, rng: np.random.Generator | int
) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign`, as an ``(n_draws x n)`` int8 matrix.

    Draws (see :func:`bitframe.randomise._batch.permuted_block_rows`): with one block size,
    one arrangement per full block (``rng.integers`` into the table of arrangements), then the
    cut-short final block; with several sizes, ``rng.integers`` for every row's block sizes,
    ``rng.permuted`` per block size, then the cut-short blocks.

    >>> A = draw_many(8, (1, 1), 4, n_draws=2, rng=3)
    >>> A[:, :4].sum(axis=1).tolist(), A[:, 4:].sum(axis=1).tolist()
    ([2, 2], [2, 2])
    """
    n = check_count("n", n)
    r = check_ratio(ratio)
    sizes = check_block_sizes(block_sizes, r)
    return permuted_block_rows(np.zeros(n, dtype=np.int64), r, sizes, check_draws(n_draws), make_rng(rng))


def probabilities(n: int, ratio: ArrayLike, block_sizes: int | Sequence[int]) -> FloatArray:
    """``n x k`` matrix with rows ``r / R``: exact for full and for cut-short blocks."""
    n = check_count("n", n)
    r = check_ratio(ratio)
    check_block_sizes(block_sizes, r)
    return constant_probabilities(n, r)
