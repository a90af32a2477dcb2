"""Shared helpers for the randomisation tests: one small case per registered scheme."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from bitframe.randomise import (
    block,
    cluster,
    complete,
    minimisation,
    simple,
    stepped_wedge,
    stratified_block,
    stratified_cluster,
)

RATIO = np.array([2, 1, 1])


@dataclass(frozen=True)
class Case:
    """A scheme applied to a fixed set of units: ``assign(seed)`` -> arm index per unit,
    ``draw_many(n_draws, seed)`` -> one row of arm indices per draw, ``valid(rows)`` -> whether
    each row meets the constraints the scheme guarantees (counts per block, stratum, cluster)."""

    name: str
    k: int
    assign: Callable[[int], np.ndarray]
    probabilities: Callable[[], np.ndarray]
    draw_many: Callable[[int, int], np.ndarray]
    valid: Callable[[np.ndarray], np.ndarray]


def _labels(prefix: str, sizes: list[int]) -> np.ndarray:
    return np.repeat([f"{prefix}{i}" for i in range(len(sizes))], sizes)


def _apportioned(counts: np.ndarray, total: int, weights: np.ndarray) -> np.ndarray:
    """Rows of ``counts`` within one unit of ``total * w / sum(w)`` (floor or ceiling per arm)."""
    target = total * weights / weights.sum()
    return np.all((counts >= np.floor(target)) & (counts <= np.ceil(target)), axis=-1)


def _counts(rows: np.ndarray, k: int) -> np.ndarray:
    return np.stack([(rows == j).sum(axis=-1) for j in range(k)], axis=-1)


def _permuted_blocks_valid(row: np.ndarray, sizes: tuple[int, ...], ratio: np.ndarray) -> bool:
    """Some sequence of blocks with sizes from ``sizes`` covers ``row``: every full block of size ``b``
    holds ``b r / R`` of each arm, the cut-short final one apportioned counts."""
    n, k, R = len(row), len(ratio), int(ratio.sum())
    reachable, frontier = {0}, [0]
    while frontier:
        start = frontier.pop()
        if start == n:
            return True
        for b in sizes:
            counts = _counts(row[start : start + b], k)
            if start + b <= n and np.array_equal(counts, b // R * ratio):
                if start + b not in reachable:
                    reachable.add(start + b)
                    frontier.append(start + b)
            elif start + b > n and _apportioned(counts, n - start, ratio):
                return True
    return False


def _clusters_whole(rows: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether every cluster has one arm per row, and the arm of each cluster (sorted labels)."""
    labels, first = np.unique(clusters, return_index=True)
    per_cluster = rows[:, first]
    codes = np.searchsorted(labels, clusters)
    return np.all(rows == per_cluster[:, codes], axis=1), per_cluster


def make_cases() -> dict[str, Case]:
    n = 30
    strata = np.array(["b", "a", "c"] * 10)[np.random.default_rng(0).permutation(n)]
    clusters = _labels("k", [1, 2, 3, 4, 5, 2, 3, 6, 4])  # 9 clusters, 30 people
    sc_sizes = [2, 3, 1, 2, 2, 4, 1, 3, 2, 2, 1, 3]
    sc_clusters = _labels("q", sc_sizes)  # 12 clusters, 26 people, three clusters per stratum
    sc_strata = np.repeat([f"s{i // 3}" for i in range(12)], sc_sizes)
    sw_clusters = _labels("w", [2, 1, 3, 2, 2, 1, 2, 3, 1, 2, 2, 1, 3])  # 13 clusters
    fac = {"sex": np.array(["F", "M", "M", "F", "F", "M"] * 5), "age": np.array(list("ababcc") * 5)}

    def in_range(k: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda rows: np.all((rows >= 0) & (rows < k), axis=1)

    def blocks_valid(groups: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        members = [np.flatnonzero(groups == g) for g in np.unique(groups)]  # enrolment order within a group
        return lambda rows: np.array([all(_permuted_blocks_valid(r[m], (4, 8), RATIO) for m in members) for r in rows])

    def cluster_valid(rows: np.ndarray) -> np.ndarray:
        whole, per_cluster = _clusters_whole(rows, clusters)
        return whole & _apportioned(_counts(per_cluster, 3), per_cluster.shape[1], RATIO)

    def stratified_cluster_valid(rows: np.ndarray) -> np.ndarray:
        whole, per_cluster = _clusters_whole(rows, sc_clusters)
        _, first = np.unique(sc_clusters, return_index=True)
        stratum = sc_strata[first]
        ok = whole
        for s in np.unique(stratum):
            cells = per_cluster[:, stratum == s]
            ok = ok & _apportioned(_counts(cells, 3), cells.shape[1], RATIO)
        return ok

    def stepped_wedge_valid(rows: np.ndarray) -> np.ndarray:
        whole, per_cluster = _clusters_whole(rows, sw_clusters)
        return whole & _apportioned(_counts(per_cluster, 4), per_cluster.shape[1], np.ones(4))

    def minimisation_valid(rows: np.ndarray) -> np.ndarray:
        # every step's arm had positive probability given the replayed history
        return np.array([np.all(minimisation.probabilities(fac, r, RATIO)[np.arange(n), r] > 0) for r in rows])

    return {
        "simple": Case(
            "simple",
            3,
            lambda s: simple.assign(n, RATIO, rng=s).arm,
            lambda: simple.probabilities(n, RATIO),
            lambda d, s: simple.draw_many(n, RATIO, n_draws=d, rng=s),
            in_range(3),
        ),
        "complete": Case(
            "complete",
            3,
            lambda s: complete.assign(n, RATIO, rng=s).arm,
            lambda: complete.probabilities(n, RATIO),
            lambda d, s: complete.draw_many(n, RATIO, n_draws=d, rng=s),
            lambda rows: _apportioned(_counts(rows, 3), n, RATIO),
        ),
        "block": Case(
            "block",
            3,
            lambda s: block.assign(n, RATIO, (4, 8), rng=s).arm,
            lambda: block.probabilities(n, RATIO, (4, 8)),
            lambda d, s: block.draw_many(n, RATIO, (4, 8), n_draws=d, rng=s),
            blocks_valid(np.zeros(n, dtype=int)),
        ),
        "stratified_block": Case(
            "stratified_block",
            3,
            lambda s: stratified_block.assign(strata, RATIO, (4, 8), rng=s).arm,
            lambda: stratified_block.probabilities(strata, RATIO, (4, 8)),
            lambda d, s: stratified_block.draw_many(strata, RATIO, (4, 8), n_draws=d, rng=s),
            blocks_valid(strata),
        ),
        "cluster": Case(
            "cluster",
            3,
            lambda s: cluster.assign(clusters, RATIO, rng=s).arm,
            lambda: cluster.probabilities(clusters, RATIO),
            lambda d, s: cluster.draw_many(clusters, RATIO, n_draws=d, rng=s),
            cluster_valid,
        ),
        "stratified_cluster": Case(
            "stratified_cluster",
            3,
            lambda s: stratified_cluster.assign(sc_clusters, sc_strata, RATIO, rng=s).arm,
            lambda: stratified_cluster.probabilities(sc_clusters, sc_strata, RATIO),
            lambda d, s: stratified_cluster.draw_many(sc_clusters, sc_strata, RATIO, n_draws=d, rng=s),
            stratified_cluster_valid,
        ),
        "stepped_wedge": Case(
            "stepped_wedge",
            4,
            lambda s: stepped_wedge.assign(sw_clusters, 4, rng=s).arm,
            lambda: stepped_wedge.probabilities(sw_clusters, 4),
            lambda d, s: stepped_wedge.draw_many(sw_clusters, 4, n_draws=d, rng=s),
            stepped_wedge_valid,
        ),
        "minimisation": Case(
            "minimisation",
            3,
            lambda s: minimisation.assign(fac, RATIO, rng=s).arm,
            # Per-step probabilities depend on the history; the conformance tests call the
            # history-aware twin through `minimisation_probabilities` instead.
            lambda: np.full((n, 3), np.nan),
            lambda d, s: minimisation.draw_many(fac, RATIO, n_draws=d, rng=s),
            minimisation_valid,
        ),
    }


CASES = make_cases()


@pytest.fixture(params=sorted(CASES))
def case(request) -> Case:
    return CASES[request.param]


def empirical_chisq_min_p(arms: np.ndarray, probs: np.ndarray) -> float:
    """Smallest per-unit Pearson chi-square p-value of arm frequencies over seeds.

    ``arms``: seeds x units arm indices; ``probs``: units x k stated probabilities.
    Arms with zero stated probability must never occur (checked separately).
    """
    n_seeds, n_units = arms.shape
    k = probs.shape[1]
    p_values = []
    for i in range(n_units):
        observed = np.bincount(arms[:, i], minlength=k)
        keep = probs[i] > 0
        expected = n_seeds * probs[i][keep]
        stat = ((observed[keep] - expected) ** 2 / expected).sum()
        p_values.append(stats.chi2.sf(stat, df=keep.sum() - 1))
    return float(min(p_values))
