"""Re-running the randomisation: the batch samplers against the schemes' own ``assign``.

The reference for each scheme's distribution is :mod:`bitframe.randomise` itself (each scheme is
checked there against randomizr and closed forms); here the vectorised re-runs must draw from the
same distribution (two-sample chi-square on the frequencies of whole assignments), and the
conditional draws must keep what the conditioning fixes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from bitframe.randomise import block, cluster, complete, minimisation, simple, stratified_block, stratified_cluster
from bitframe.randomise.rerandomise import (
    RIDesign,
    count_conditional_assignments,
    draw_assignments,
    draw_conditional,
    enumerate_assignments,
)

N_DRAWS = 3000


def _homogeneous(batch: np.ndarray, reference: np.ndarray) -> float:
    keys = sorted({r.tobytes() for r in batch} | {r.tobytes() for r in reference})
    index = {k: i for i, k in enumerate(keys)}
    table = np.zeros((2, len(keys)))
    for row, arr in enumerate((batch, reference)):
        for r in arr:
            table[row, index[r.tobytes()]] += 1
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] == 1:
        return 1.0
    return float(stats.chi2_contingency(table)[1])


CASES = {
    "simple": (lambda s: simple.assign(5, (1, 2), rng=s).arm,
               lambda obs: RIDesign("simple", arms=("a", "b"), ratio=(1, 2), observed=obs)),
    "complete": (lambda s: complete.assign(7, (2, 1, 1), rng=s).arm,
                 lambda obs: RIDesign("complete", arms=("a", "b", "c"), ratio=(2, 1, 1), observed=obs)),
    "block": (lambda s: block.assign(7, (1, 1), (2, 4), rng=s).arm,
              lambda obs: RIDesign("block", arms=("a", "b"), observed=obs, block_sizes=(2, 4))),
    "stratified_block": (
        lambda s: stratified_block.assign(["x", "y", "x", "x", "y", "x", "y"], (1, 1), (2,), rng=s).arm,
        lambda obs: RIDesign("stratified_block", arms=("a", "b"), observed=obs,
                             strata=["x", "y", "x", "x", "y", "x", "y"], block_sizes=(2,))),
    "cluster": (lambda s: cluster.assign(list("aabbccdde"), (1, 1), rng=s).arm,
                lambda obs: RIDesign("cluster", arms=("a", "b"), observed=obs, clusters=list("aabbccdde"))),
    "stratified_cluster": (
        lambda s: stratified_cluster.assign(list("aabbccdde"), list("xxxxyyyyy"), (1, 1), rng=s).arm,
        lambda obs: RIDesign("stratified_cluster", arms=("a", "b"), observed=obs, clusters=list("aabbccdde"),
                             strata=list("xxxxyyyyy"))),
    "minimisation": (
        lambda s: minimisation.assign({"f": list("xyxxyx"), "g": list("ppqqpq")}, (1, 1), rng=s).arm,
        lambda obs: RIDesign("minimisation", arms=("a", "b"), observed=obs,
                             factors={"f": list("xyxxyx"), "g": list("ppqqpq")})),
}


@pytest.mark.parametrize("scheme", sorted(CASES))
def test_batch_rerun_has_the_scheme_distribution(scheme):
    """Whole-assignment frequencies of the vectorised re-run match the scheme's own assign (chi-square)."""
    own, make = CASES[scheme]
    reference = np.asarray([own(seed) for seed in range(N_DRAWS)], dtype=np.int8)
    batch = draw_assignments(make(reference[0].astype(np.int64)), N_DRAWS, rng=12345)
    assert batch.shape == reference.shape
    assert _homogeneous(batch, reference) > 1e-3


def test_large_stratified_blocks_keep_block_counts():
    """Every full block of the re-run holds b r_j / R of each arm; marginal probabilities are r / R."""
    rng = np.random.default_rng(3)
    strata = rng.integers(5, size=403)
    obs = stratified_block.assign(strata, (2, 1, 1), (4, 8), rng=1).arm
    d = RIDesign("stratified_block", arms=("c", "t", "u"), ratio=(2, 1, 1), observed=obs, strata=strata,
                 block_sizes=(4, 8))
    A = draw_assignments(d, 400, rng=7)
    freq = np.bincount(A.ravel().astype(np.int64), minlength=3) / A.size
    assert np.allclose(freq, [0.5, 0.25, 0.25], atol=0.01)
    for s in range(5):  # per stratum, imbalance below one unit per arm (as the scheme guarantees)
        counts = np.stack([(A[:, strata == s] == j).sum(axis=1) for j in range(3)], axis=1)
        target = (strata == s).sum() * np.array([0.5, 0.25, 0.25])
        assert np.all(np.abs(counts - target) < 1 + 1e-9)


def test_conditional_draws_fix_other_arms_and_segment_counts():
    rng = np.random.default_rng(4)
    strata = rng.integers(3, size=60)
    obs = stratified_block.assign(strata, (1, 1, 1), (3, 6), rng=2)
    d = RIDesign("stratified_block", arms=("c", "t", "u"), observed=obs.arm, strata=strata, block_sizes=(3, 6),
                 blocks=obs.block)
    A, w = draw_conditional(d, 1, 500, rng=3)
    assert w is None
    other = obs.arm == 2
    assert np.all(A[:, other] == 2)
    for b in np.unique(obs.block):
        members = obs.block == b
        assert np.all((A[:, members] == 1).sum(axis=1) == (obs.arm[members] == 1).sum())
    # units of S move between the two arms
    s = ~other
    assert 0.3 < (A[:, s] == 1).mean() < 0.7


def test_conditional_cluster_draws_keep_clusters_whole():
    clusters = np.repeat(np.arange(12), 3)
    obs = cluster.assign(clusters, (1, 1, 1), rng=5).arm
    d = RIDesign("cluster", arms=("c", "t", "u"), observed=obs, clusters=clusters)
    A, _ = draw_conditional(d, 2, 200, rng=1)
    assert np.all(A.reshape(200, 12, 3).min(axis=2) == A.reshape(200, 12, 3).max(axis=2))
    assert np.all(A[:, obs == 1] == 1)


def test_enumeration_lists_every_assignment_once():
    """Enumeration of complete randomisation of 8 units 4/4 = the C(8,4) subsets (itertools)."""
    obs = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    d = RIDesign("complete", arms=("c", "t"), observed=obs)
    A = enumerate_assignments(d)
    expected = {tuple(1 if i in s else 0 for i in range(8)) for s in itertools.combinations(range(8), 4)}
    assert {tuple(r) for r in A.tolist()} == expected and len(A) == 70
    assert count_conditional_assignments(d) == 70


def test_minimisation_conditional_importance_weights_reach_the_exact_conditional_law():
    """Self-normalised weighted frequencies converge to P(W | S) computed exactly by listing W in S and
    multiplying the per-step probabilities of bitframe.randomise.minimisation.probabilities."""
    factors = {"f": list("xyxyx"), "g": list("pqqpp")}
    obs = minimisation.assign(factors, (1, 1, 1), rng=11).arm
    d = RIDesign("minimisation", arms=("a", "b", "c"), observed=obs, factors=factors)
    arm = 1 if (obs == 1).any() else 2
    in_s = (obs == arm) | (obs == 0)
    exact: dict[tuple, float] = {}
    for combo in itertools.product([0, arm], repeat=int(in_s.sum())):
        w = obs.copy()
        w[in_s] = combo
        probs = minimisation.probabilities(factors, w, (1, 1, 1))
        exact[tuple(w)] = float(np.prod(probs[np.arange(len(w)), w]))
    total = sum(exact.values())
    A, logw = draw_conditional(d, arm, 20000, rng=5)
    wts = np.exp(logw - logw.max())
    est: dict[tuple, float] = {}
    for row, wt in zip(A.tolist(), wts):
        est[tuple(row)] = est.get(tuple(row), 0.0) + wt
    norm = sum(est.values())
    for key, p in exact.items():
        assert abs(est.get(key, 0.0) / norm - p / total) < 0.02


def test_bad_design_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="'strata' parameter is required"):
        RIDesign("stratified_block", arms=("a", "b"), observed=np.array([0, 1]), block_sizes=(2,))
    with pytest.raises(ValueError, match="Unknown scheme"):
        RIDesign("permuted", arms=("a", "b"), observed=np.array([0, 1]))
    with pytest.raises(ValueError, match="'observed' parameter"):
        RIDesign("complete", arms=("a", "b"), observed=np.array([0, 2]))
    with pytest.raises(ValueError, match="n_draws"):
        draw_assignments(RIDesign("complete", arms=("a", "b"), observed=np.array([0, 1])), 0, rng=1)
