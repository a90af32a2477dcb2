"""Stratified permuted-block randomisation: independent permuted blocks within each stratum.

Strata are ordered by their sorted labels; within a stratum, units keep their input
(enrolment) order and are filled into permuted blocks exactly as in
:mod:`bitframe.randomise.block`: every full block holds ``b r_j / R`` units of arm ``j``;
at each stratum's end, the ``s`` units of a cut-short block are apportioned like complete
randomisation (``floor(s r_j / R)`` each plus leftovers with probability equal to the
fractional parts), so every unit's probability is exactly ``r_j / R`` and each stratum's
imbalance is below one unit per arm (the remainders of different strata are independent,
so overall imbalance can reach the number of strata with partial blocks; Kernan et al. 1999,
*J Clin Epidemiol* 52:19, on too many strata).

Fully vectorised: a million units in a hundred strata take well under a second.
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
    check_ratio,
    codes_of,
    constant_probabilities,
    make_rng,
    segment_positions,
)


def assign(
    strata: ArrayLike,
    ratio: ArrayLike,
    block_sizes: int | Sequence[int],
    *,
    rng: np.random.Generator | int,
) -> Assignment:
    """Permuted blocks within strata; ``strata`` holds one label per unit (enrolment order).

    Block indices are numbered across strata (stratum by sorted label, then block).
    Draws: as :func:`bitframe.randomise._core.blocks_for_groups` with one group per stratum.

    >>> a = assign(["a", "b", "a", "b", "a", "a"], (1, 1), 2, rng=5)
    >>> int(a.arm[[0, 2]].sum()), int(a.arm[[4, 5]].sum())
    (1, 1)
    """
    codes, labels = codes_of(strata, "strata")
    r = check_ratio(ratio)
    sizes_allowed = check_block_sizes(block_sizes, r)
    gen = make_rng(rng)
    order, sizes = segment_positions(codes, len(labels))
    arm_s, block_s, size_s, _ = blocks_for_groups(sizes, r, sizes_allowed, gen)
    n = len(codes)
    arm = np.empty(n, dtype=np.int64)
    block = np.empty(n, dtype=np.int64)
    bsize = np.empty(n, dtype=np.int64)
    arm[order] = arm_s
    block[order] = block_s
    bsize[order] = size_s
    return Assignment(arm=arm, block=block, block_size=bsize)


def draw_many(
    strata: ArrayLike,
    ratio: ArrayLike,
    block_sizes: int | Sequence[int],
    *,
    n_draws: int,
    rng: np.random.Generator | int,
) -> np.ndarray:
    """``n_draws`` independent runs of :func:`assign`, as an ``(n_draws x n)`` int8 matrix.

    Draws: as :func:`bitframe.randomise.block.draw_many`, with one group per stratum.

    >>> A = draw_many(["a", "b", "a", "b", "a", "a"], (1, 1), 2, n_draws=3, rng=5)
    >>> A[:, [0, 2]].sum(axis=1).tolist(), A[:, [4, 5]].sum(axis=1).tolist()
    ([1, 1, 1], [1, 1, 1])
    """
    codes, _ = codes_of(strata, "strata")
    r = check_ratio(ratio)
    sizes = check_block_sizes(block_sizes, r)
    return permuted_block_rows(codes, r, sizes, check_draws(n_draws), make_rng(rng))


def probabilities(strata: ArrayLike, ratio: ArrayLike, block_sizes: int | Sequence[int]) -> FloatArray:
    """``n x k`` matrix with rows ``r / R`` (exact in every stratum, see module docs)."""
    codes, _ = codes_of(strata, "strata")
    r = check_ratio(ratio)
    check_block_sizes(block_sizes, r)
    return constant_probabilities(len(codes), r)
