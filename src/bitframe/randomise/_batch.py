"""Shared machinery of the schemes' batched re-randomisations (``draw_many``).

A scheme's ``draw_many`` returns an ``(n_draws x n)`` ``int8`` matrix of arm indices, each
row an independent run of the scheme, generated for all rows at once. The rows follow the
*distribution* of the scheme's ``assign``, not its random stream: ``assign`` shuffles one
list at a time, ``draw_many`` shuffles whole matrices. The order in which each ``draw_many``
consumes its generator is fixed (randomisation-inference p-values depend on it), so the
same seed gives the same rows.

Pieces shared by several schemes live here: arm labels from count matrices, complete
randomisation of many rows, shuffles within contiguous segments, permuted blocks within
groups (with a table of every arrangement of a fixed-size block when there are few), and
the multiset arithmetic of those tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bitframe.randomise._core import IntArray, apportion

#: Fixed-size blocks with at most this many distinct arrangements draw a row of the table
#: of arrangements instead of shuffling their labels.
ARRANGEMENT_TABLE_LIMIT = 50_000


def check_draws(n_draws: object) -> int:
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or int(n_draws) < 1:
        raise ValueError(f"The 'n_draws' parameter must be an integer >= 1. Got {n_draws!r} instead.")
    return int(n_draws)


def multinomial(counts: Sequence[int]) -> int:
    """Number of distinct orderings of a multiset with these counts."""
    total = math.factorial(int(sum(counts)))
    for c in counts:
        total //= math.factorial(int(c))
    return total


def multiset_permutations(labels: Sequence[int]) -> list[tuple[int, ...]]:
    """All distinct orderings of a multiset, in lexicographic order."""
    items = sorted(labels)
    out: list[tuple[int, ...]] = []
    counts: dict[int, int] = {}
    for x in items:
        counts[x] = counts.get(x, 0) + 1
    keys = sorted(counts)
    m = len(items)
    cur: list[int] = []

    def rec() -> None:
        if len(cur) == m:
            out.append(tuple(cur))
            return
        for key in keys:
            if counts[key]:
                counts[key] -= 1
                cur.append(key)
                rec()
                cur.pop()
                counts[key] += 1

    rec()
    return out


def labels_from_counts(counts: np.ndarray, width: int) -> np.ndarray:
    """Rows of sorted labels: ``counts[r, j]`` copies of ``j`` (padded with ``k`` up to ``width``)."""
    cum = np.cumsum(counts, axis=1)
    pos = np.arange(width)
    return (pos[None, :, None] >= cum[:, None, :]).sum(axis=2).astype(np.int8)


def complete_rows(m: int, ratio: IntArray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """``n_draws`` complete randomisations of ``m`` items: apportioned counts, uniform shuffles.

    Draws: ``rng.random(n_draws)`` for the leftovers, then ``rng.permuted`` of the label matrix.
    """
    counts = apportion(np.full(n_draws, m), ratio, rng)
    labels = labels_from_counts(counts, m)
    return rng.permuted(labels, axis=1, out=labels)


def shuffle_within_segments(seg_sorted: np.ndarray, labels_sorted: np.ndarray, n_draws: int,
                            rng: np.random.Generator) -> np.ndarray:
    """``n_draws`` independent uniform shuffles of ``labels_sorted`` within contiguous segments."""
    m = seg_sorted.shape[0]
    if m == 0:
        return np.empty((n_draws, 0), dtype=np.int8)
    nseg = int(seg_sorted.max()) + 1
    if nseg == 1:
        out = np.broadcast_to(labels_sorted, (n_draws, m)).copy()
        return rng.permuted(out, axis=1, out=out)
    keys = seg_sorted[None, :] + rng.random((n_draws, m))
    order = np.argsort(keys, axis=1, kind="stable")
    return labels_sorted[order].astype(np.int8)


def permuted_block_rows(group: IntArray, ratio: IntArray, sizes: IntArray, n_draws: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Permuted blocks within groups (units in enrolment order), as
    :func:`bitframe.randomise._core.blocks_for_groups` lays them out, ``n_draws`` times: block
    sizes drawn uniformly from ``sizes`` until each group is covered, full blocks of size ``b``
    hold ``b r / R`` of each arm, a cut-short final block is apportioned."""
    P = n_draws
    r = ratio
    n = group.shape[0]
    if len(sizes) == 1 and n:
        return _fixed_block_rows(group, r, int(sizes[0]), P, rng)
    ngroups = int(group.max()) + 1 if n else 0
    order = np.argsort(group, kind="stable")
    gsize = np.bincount(group, minlength=ngroups)
    goffset = np.concatenate(([0], np.cumsum(gsize)[:-1]))
    R = int(r.sum())
    bmin = int(sizes.min())
    maxb = -(-gsize // bmin)
    nd = int(maxb.sum())
    gdraw = np.repeat(np.arange(ngroups), maxb)
    drawn = np.full((P, nd), int(sizes[0]), dtype=np.int64) if len(sizes) == 1 else sizes[rng.integers(len(sizes), size=(P, nd))]
    csum = np.cumsum(drawn, axis=1)
    first = np.concatenate(([0], np.cumsum(maxb)[:-1]))
    base = np.concatenate([np.zeros((P, 1), dtype=np.int64), csum], axis=1)[:, first]  # (P, ngroups)
    start = csum - drawn - np.repeat(base, maxb, axis=1)
    keep = start < gsize[gdraw][None, :]
    used = np.where(keep, np.minimum(drawn, gsize[gdraw][None, :] - start), 0)
    slot = goffset[gdraw][None, :] + start  # position in slot (group-then-enrolment) order
    out = np.empty((P, n), dtype=np.int8)
    flat = out.reshape(-1)
    row_base = (np.arange(P, dtype=np.int64) * n)[:, None]
    full = keep & (used == drawn)
    for b in np.unique(drawn[full]):
        sel = full & (drawn == b)
        m = int(sel.sum())
        labels = np.broadcast_to(np.repeat(np.arange(len(r), dtype=np.int8), (int(b) // R) * r), (m, int(b))).copy()
        rng.permuted(labels, axis=1, out=labels)
        idx = (row_base + slot)[sel][:, None] + np.arange(int(b))[None, :]
        flat[idx] = labels
    part = keep & (used < drawn)
    if part.any():
        u = used[part]
        counts = apportion(u, r, rng)
        width = int(u.max())
        labels = labels_from_counts(counts, width)
        keys = rng.random((len(u), width))
        keys[np.arange(width)[None, :] >= u[:, None]] = np.inf
        shuffled = np.take_along_axis(labels, np.argsort(keys, axis=1), axis=1)
        valid = np.arange(width)[None, :] < u[:, None]
        idx = (row_base + slot)[part][:, None] + np.arange(width)[None, :]
        flat[idx[valid]] = shuffled[valid]
    result = np.empty_like(out)
    result[:, order] = out
    return result


def _fixed_block_rows(group: IntArray, r: IntArray, b: int, P: int, rng: np.random.Generator) -> np.ndarray:
    """Fast path of :func:`permuted_block_rows` for one block size: the block layout is the same in
    every draw, so each full block only needs one of the distinct arrangements of its multiset
    (drawn uniformly from a table of them), and the cut-short final blocks are apportioned and
    shuffled as usual."""
    n = group.shape[0]
    ngroups = int(group.max()) + 1
    order = np.argsort(group, kind="stable")
    gsize = np.bincount(group, minlength=ngroups)
    goffset = np.concatenate(([0], np.cumsum(gsize)[:-1]))
    R = int(r.sum())
    nfull = gsize // b
    full_slots = np.concatenate([goffset[g] + np.arange(nfull[g] * b) for g in range(ngroups)]) if nfull.sum() else \
        np.empty(0, dtype=np.int64)
    out = np.empty((P, n), dtype=np.int8)
    base = np.repeat(np.arange(len(r), dtype=np.int8), (b // R) * r)
    M = int(nfull.sum())
    if M:
        n_arr = multinomial((b // R * r).tolist())
        if n_arr <= ARRANGEMENT_TABLE_LIMIT:
            table = np.asarray(multiset_permutations(base.tolist()), dtype=np.int8)
            vals = table[rng.integers(n_arr, size=(P, M))].reshape(P, M * b)
        else:
            vals = np.broadcast_to(base, (P * M, b)).copy()
            rng.permuted(vals, axis=1, out=vals)
            vals = vals.reshape(P, M * b)
        out[:, order[full_slots]] = vals
    rest = gsize - nfull * b
    part_groups = np.flatnonzero(rest > 0)
    if part_groups.size:
        u = np.tile(rest[part_groups], P)
        counts = apportion(u, r, rng)
        width = int(u.max())
        labels = labels_from_counts(counts, width)
        keys = rng.random((u.size, width))
        keys[np.arange(width)[None, :] >= u[:, None]] = np.inf
        shuffled = np.take_along_axis(labels, np.argsort(keys, axis=1), axis=1).reshape(P, part_groups.size, width)
        for i, g in enumerate(part_groups):
            slots = goffset[g] + nfull[g] * b + np.arange(rest[g])
            out[:, order[slots]] = shuffled[:, i, : rest[g]]
    return out
