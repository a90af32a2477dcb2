"""Shared helpers for the randomisation tests: one small case per registered scheme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
    """A scheme applied to a fixed set of units: ``assign(seed)`` -> arm index per unit."""

    name: str
    k: int
    assign: Callable[[int], np.ndarray]
    probabilities: Callable[[], np.ndarray]


def _labels(prefix: str, sizes: list[int]) -> np.ndarray:
    return np.repeat([f"{prefix}{i}" for i in range(len(sizes))], sizes)


def make_cases() -> dict[str, Case]:
    n = 30
    strata = np.array(["b", "a", "c"] * 10)[np.random.default_rng(0).permutation(n)]
    clusters = _labels("k", [1, 2, 3, 4, 5, 2, 3, 6, 4])  # 9 clusters, 30 people
    sc_sizes = [2, 3, 1, 2, 2, 4, 1, 3, 2, 2, 1, 3]
    sc_clusters = _labels("q", sc_sizes)  # 12 clusters, 26 people, three clusters per stratum
    sc_strata = np.repeat([f"s{i // 3}" for i in range(12)], sc_sizes)
    sw_clusters = _labels("w", [2, 1, 3, 2, 2, 1, 2, 3, 1, 2, 2, 1, 3])  # 13 clusters
    fac = {"sex": np.array(["F", "M", "M", "F", "F", "M"] * 5), "age": np.array(list("ababcc") * 5)}
    return {
        "simple": Case(
            "simple", 3, lambda s: simple.assign(n, RATIO, rng=s).arm, lambda: simple.probabilities(n, RATIO)
        ),
        "complete": Case(
            "complete", 3, lambda s: complete.assign(n, RATIO, rng=s).arm, lambda: complete.probabilities(n, RATIO)
        ),
        "block": Case(
            "block",
            3,
            lambda s: block.assign(n, RATIO, (4, 8), rng=s).arm,
            lambda: block.probabilities(n, RATIO, (4, 8)),
        ),
        "stratified_block": Case(
            "stratified_block",
            3,
            lambda s: stratified_block.assign(strata, RATIO, (4, 8), rng=s).arm,
            lambda: stratified_block.probabilities(strata, RATIO, (4, 8)),
        ),
        "cluster": Case(
            "cluster",
            3,
            lambda s: cluster.assign(clusters, RATIO, rng=s).arm,
            lambda: cluster.probabilities(clusters, RATIO),
        ),
        "stratified_cluster": Case(
            "stratified_cluster",
            3,
            lambda s: stratified_cluster.assign(sc_clusters, sc_strata, RATIO, rng=s).arm,
            lambda: stratified_cluster.probabilities(sc_clusters, sc_strata, RATIO),
        ),
        "stepped_wedge": Case(
            "stepped_wedge",
            4,
            lambda s: stepped_wedge.assign(sw_clusters, 4, rng=s).arm,
            lambda: stepped_wedge.probabilities(sw_clusters, 4),
        ),
        "minimisation": Case(
            "minimisation",
            3,
            lambda s: minimisation.assign(fac, RATIO, rng=s).arm,
            # Per-step probabilities depend on the history; the conformance tests call the
            # history-aware twin through `minimisation_probabilities` instead.
            lambda: np.full((n, 3), np.nan),
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
