"""Shared machinery of the randomisation schemes: argument checks, the random
generator, exact apportionment of remainders and vectorised permuted blocks.

Conventions used by every scheme module
---------------------------------------
* Arms are referred to by their *index* ``0..k-1`` in the ratio vector; the
  orchestrating layer (:mod:`bitframe.randomise.allocation`) maps indices to arm ids.
* ``ratio`` is a vector of positive integers ``r_1..r_k`` with sum ``R``; the target
  probability of arm ``j`` is ``r_j / R``.
* Every random act takes an explicit :class:`numpy.random.Generator`
  (PCG64 seeded from an integer via :func:`make_rng`). The order in which draws are
  consumed is part of each scheme's documented contract, so that a list can be
  regenerated bit for bit from the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

#: Seeds are non-negative integers below 2**128 (what ``secrets.randbits(128)`` draws).
MAX_SEED = 2**128


def make_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """Return ``Generator(PCG64(seed))``; a Generator passed in is used as is.

    PCG64 is seeded through :class:`numpy.random.SeedSequence`, which accepts
    integers of any size, so a 128-bit seed keeps all its entropy.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"The 'seed' parameter must be an integer in [0, 2**128). Got {seed!r} instead.")
    seed = int(seed)
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"The 'seed' parameter must be an integer in [0, 2**128). Got {seed} instead.")
    return np.random.Generator(np.random.PCG64(seed))


def check_ratio(ratio: ArrayLike | None, k: int | None = None, *, name: str = "ratio") -> IntArray:
    """Validate an allocation ratio: at least two positive integers (``None`` -> ``1`` each).

    ``k`` (number of arms) is used for the default ``ratio=None``.
    """
    if ratio is None:
        if k is None or k < 2:
            raise ValueError(f"The '{name}' parameter is needed (at least two arms). Got {ratio!r} instead.")
        return np.ones(k, dtype=np.int64)
    values = list(np.atleast_1d(np.asarray(ratio, dtype=object)))
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 1]
    if len(values) < 2 or bad:
        raise ValueError(
            f"The '{name}' parameter must be a sequence of at least two positive integers "
            f"(e.g. (2, 1, 1)). Got {list(values)!r} instead."
        )
    out = np.asarray([int(v) for v in values], dtype=np.int64)
    if k is not None and len(out) != k:
        raise ValueError(f"The '{name}' parameter must have {k} entries (one per arm). Got {len(out)} instead.")
    return out


def check_count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"The '{name}' parameter must be an integer >= {minimum}. Got {value!r} instead.")
    return int(value)


def check_probability(name: str, value: object, low: float, high: float, *, low_open: bool = False) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]  # any argument: float() refusing it is the check
    except (TypeError, ValueError):
        v = float("nan")
    ok = (v > low if low_open else v >= low) and v <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"The '{name}' parameter must be a number in {bracket}{low}, {high}]. Got {value!r} instead.")
    return v


def check_block_sizes(block_sizes: int | Sequence[int], ratio: IntArray) -> IntArray:
    """Block sizes: positive multiples of ``sum(ratio)``; several sizes = drawn at random."""
    sizes = np.atleast_1d(np.asarray(block_sizes, dtype=object))
    R = int(ratio.sum())
    bad = [s for s in sizes if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) < 1 or int(s) % R]
    if len(sizes) == 0 or bad:
        raise ValueError(
            f"The 'block_sizes' parameter must hold positive multiples of the ratio sum {R} "
            f"(ratio {ratio.tolist()}), e.g. ({R}, {2 * R}). Got {list(sizes)!r} instead."
        )
    out = np.unique(np.asarray([int(s) for s in sizes], dtype=np.int64))
    return out


def codes_of(values: ArrayLike, name: str) -> tuple[IntArray, np.ndarray]:
    """Factorise labels into integer codes ``0..g-1`` in *sorted* label order.

    Sorting (rather than order of appearance) makes the grouping, and hence the
    stream of random draws, independent of how the input rows happen to be ordered
    between groups. Text labels sort as strings; numbers numerically.
    """
    import pandas as pd  # local: hash-based factorising is ~10x faster than np.unique on text

    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"The '{name}' parameter must be one-dimensional. Got shape {arr.shape} instead.")
    if arr.dtype.kind in "OUST":
        series = pd.Series(arr, copy=False)
        if series.isna().any():
            raise ValueError(f"The '{name}' parameter has missing values; every unit needs a label.")
        codes, text_labels = pd.factorize(series.astype(str), sort=True)
        uniques = np.asarray(text_labels)
    else:
        codes, uniques = pd.factorize(arr, sort=True)
        if (codes < 0).any():
            raise ValueError(f"The '{name}' parameter has missing values; every unit needs a label.")
    return codes.astype(np.int64, copy=False), np.asarray(uniques)


def constant_probabilities(n: int, weights: ArrayLike) -> FloatArray:
    """An ``n x k`` matrix whose every row is ``weights / sum(weights)``."""
    w = np.asarray(weights, dtype=np.float64)
    return np.broadcast_to(w / w.sum(), (n, len(w))).copy()


def apportion(totals: ArrayLike, ratio: IntArray, rng: np.random.Generator) -> IntArray:
    """Split each total ``s`` into arm counts as close to ``s * r_j / R`` as possible.

    Every arm first gets ``floor(s r_j / R)``. The ``E = s - sum_j floor(s r_j/R)``
    leftover units go to distinct arms, arm ``j`` receiving one with probability equal
    to its fractional part ``f_j = (s r_j mod R) / R`` (``sum_j f_j = E``). This is
    systematic sampling with unequal probabilities (Madow 1949): one uniform ``u``
    per total, arm ``j`` is selected when an integer ``i`` in ``[0, E)`` satisfies
    ``F_{j-1} <= u + i < F_j`` with ``F`` the cumulative fractional parts.
    Hence ``E[count_j] = s r_j / R`` *exactly*, and after a uniform shuffle every unit
    has marginal probability ``r_j / R`` exactly. (randomizr's ``complete_ra`` draws the
    leftovers by sequential weighted sampling without replacement, whose inclusion
    probabilities only approximate ``f_j``.)

    Draws consumed: ``rng.random(len(totals))``, always (even when no total has leftovers).
    Returns an ``m x k`` integer matrix.
    """
    s = np.asarray(totals, dtype=np.int64).reshape(-1)
    R = int(ratio.sum())
    scaled = s[:, None] * ratio[None, :]
    base = scaled // R
    frac_num = scaled - base * R  # f_j * R, integers in [0, R)
    upper = np.cumsum(frac_num, axis=1).astype(np.float64)
    lower = upper - frac_num
    u = rng.random(len(s))[:, None] * R
    extra = np.ceil((upper - u) / R) - np.ceil((lower - u) / R)
    return base + extra.astype(np.int64)


def permuted_blocks(counts: IntArray, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """Concatenate blocks whose arm counts are the rows of ``counts`` and shuffle within each.

    Returns ``(arm, block)``: for every slot, its arm index and its 0-based block index,
    blocks in row order. Each block is a uniformly random permutation of its multiset
    of arms: slot keys are ``block + U(0,1)`` and a stable argsort keeps blocks
    contiguous (a key can round up to ``block + 1`` only in the last ulp, and the
    stable sort still leaves it in its own block).

    Draws consumed: ``rng.random(counts.sum())``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    nb, k = counts.shape
    arms = np.repeat(np.tile(np.arange(k, dtype=np.int64), nb), counts.ravel())
    sizes = counts.sum(axis=1)
    block = np.repeat(np.arange(nb, dtype=np.int64), sizes)
    keys = block + rng.random(len(arms))
    order = np.argsort(keys, kind="stable")
    return arms[order], block


def segment_positions(codes: IntArray, n_groups: int) -> tuple[IntArray, IntArray]:
    """Stable order of units by group, and each group's size.

    ``order[i]`` is the unit in slot ``i`` when units are laid out group by group,
    keeping input (enrolment) order within a group.
    """
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_groups).astype(np.int64)
    return order, sizes


def blocks_for_groups(
    sizes: IntArray, ratio: IntArray, block_sizes: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Lay out permuted blocks to cover groups of the given sizes (one stratum = one group).

    For each group with ``n_g`` units, block sizes are drawn independently and uniformly
    from ``block_sizes`` until they cover ``n_g``; every full block holds exactly
    ``b r_j / R`` units of arm ``j``. The final block of a group is cut short when fewer
    than its drawn size remain: its ``s`` units are apportioned exactly as in
    :func:`apportion` (``floor(s r_j/R)`` each plus leftovers with probability equal to the
    fractional parts), which keeps each unit's probability at ``r_j / R`` and the
    group's imbalance below one unit per arm.

    Draws, in this order: ``rng.integers(len(block_sizes), size=sum(ceil(n_g / min(b))))``
    when there is more than one size; ``rng.random(#groups with a partial block)`` for the
    leftovers; ``rng.random(sum(n_g))`` for the within-block shuffles.

    Returns ``(arm, block, block_size, group)`` per slot, slots in group-then-block order;
    ``block`` is a 0-based index across all groups; ``block_size`` is the *drawn* size.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    n_groups = len(sizes)
    R = int(ratio.sum())
    bmin = int(block_sizes.min())
    max_blocks = -(-sizes // bmin)  # ceil: enough blocks even if every draw is the smallest
    total_draws = int(max_blocks.sum())
    if len(block_sizes) == 1:
        drawn = np.full(total_draws, int(block_sizes[0]), dtype=np.int64)
    else:
        drawn = block_sizes[rng.integers(len(block_sizes), size=total_draws)]
    group_of_draw = np.repeat(np.arange(n_groups, dtype=np.int64), max_blocks)
    # Start position of each drawn block within its group.
    csum = np.cumsum(drawn)
    group_start = np.concatenate(([0], np.cumsum(max_blocks)[:-1]))
    offset = np.concatenate(([0], csum))[group_start]
    start = csum - drawn - np.repeat(offset, max_blocks)
    keep = start < sizes[group_of_draw]
    drawn, start, grp = drawn[keep], start[keep], group_of_draw[keep]
    used = np.minimum(drawn, sizes[grp] - start)
    counts = (used // R)[:, None] * ratio[None, :]
    partial = np.flatnonzero(used < drawn)
    if len(partial):
        counts[partial] = apportion(used[partial], ratio, rng)
    arm, block = permuted_blocks(counts, rng)
    return arm, block, drawn[block], grp[block]


@dataclass(frozen=True, eq=False)
class Assignment:
    """What a scheme's ``assign`` returns: per-unit arm index plus scheme extras.

    ``arm``: arm index ``0..k-1`` per unit (for ``stepped_wedge``: the step ``0..S-1``).
    ``block``: 0-based block index per unit (block schemes), else ``None``.
    ``block_size``: the drawn size of the unit's block (block schemes), else ``None``.
    ``probabilities``: ``n x k`` probability of each arm for each unit *as used*; filled by
    ``minimisation`` (per-step probabilities given the history), ``None`` otherwise.
    """

    arm: IntArray
    block: IntArray | None = None
    block_size: IntArray | None = None
    probabilities: FloatArray | None = None
