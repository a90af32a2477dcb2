"""Scheme-by-scheme properties (hypothesis) and closed-form outside references.

References:
* randomizr (Coppock; DeclareDesign/randomizr ``tests/testthat/test-complete_ra_probabilities.R``):
  complete/cluster/block-and-cluster probabilities are ``m_each / N`` or ``prob_each``.
* Number of equally likely arrangements of a permuted block of size ``b`` with ``m_j`` of arm
  ``j``: the multinomial coefficient ``b! / prod m_j!`` (randomizr ``obtain_num_permutations``;
  Rosenberger & Lachin 2016, *Randomization in Clinical Trials*, s. 3.5).
* Systematic unequal-probability sampling (Madow 1949, *Ann Math Stat* 20:333): inclusion
  probabilities equal the fractional parts exactly.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from bitframe.randomise import (
    block,
    cluster,
    complete,
    simple,
    stepped_wedge,
    stratified_block,
    stratified_cluster,
)
from bitframe.randomise._core import apportion, make_rng

ratios = st.lists(st.integers(1, 4), min_size=2, max_size=5)
seeds = st.integers(0, 2**64)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _bounds(total: int, ratio) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(ratio)
    exact = total * r / r.sum()
    return np.floor(exact).astype(int), np.ceil(exact).astype(int)


# ----------------------------------------------------------------------------- apportion


class _GridRng:
    """Stands in for a Generator: ``random(m)`` returns successive points of a fine grid."""

    def __init__(self, points: np.ndarray):
        self.points = points
        self.i = 0

    def random(self, size: int) -> np.ndarray:
        out = self.points[self.i : self.i + size]
        self.i += size
        return out


@pytest.mark.parametrize(
    "total,ratio", [(7, (2, 1, 1)), (5, (1, 1, 1)), (13, (3, 2, 2, 1)), (2, (1, 1, 1)), (9, (5, 3))]
)
def test_apportion_inclusion_probabilities_equal_fractional_parts(total, ratio):
    """Integrating over the uniform start (a 20,000-point grid), the mean count of each arm is
    exactly total * r_j / R (Madow's systematic sampling), and counts stay within floor/ceil."""
    grid = (np.arange(20_000) + 0.5) / 20_000
    r = np.asarray(ratio)
    counts = apportion(np.full(len(grid), total), r, _GridRng(grid))
    lo, hi = _bounds(total, r)
    assert np.all(counts >= lo) and np.all(counts <= hi)
    assert np.all(counts.sum(axis=1) == total)
    np.testing.assert_allclose(counts.mean(axis=0), total * r / r.sum(), atol=1e-4)


# ----------------------------------------------------------------------------- simple


def test_simple_closed_form_probabilities_and_frequencies():
    """P(arm j) = r_j / R (randomizr simple_ra_probabilities, prob_each = c(.3, .3, .4))."""
    probs = simple.probabilities(100, (3, 3, 4))
    np.testing.assert_allclose(probs, np.tile([0.3, 0.3, 0.4], (100, 1)))
    arms = simple.assign(200_000, (3, 3, 4), rng=11).arm
    observed = np.bincount(arms, minlength=3)
    assert stats.chisquare(observed, 200_000 * np.array([0.3, 0.3, 0.4])).pvalue > 1e-4


# ----------------------------------------------------------------------------- complete


@FAST
@given(n=st.integers(0, 300), ratio=ratios, seed=seeds)
def test_complete_counts_exact_to_floor_or_ceil(n, ratio, seed):
    counts = np.bincount(complete.assign(n, ratio, rng=seed).arm, minlength=len(ratio))
    lo, hi = _bounds(n, ratio)
    assert counts.sum() == n
    assert np.all(counts >= lo) and np.all(counts <= hi)
    if n % sum(ratio) == 0:
        np.testing.assert_array_equal(counts, n * np.asarray(ratio) // sum(ratio))


def test_complete_randomizr_reference_probabilities():
    """randomizr: complete_ra_probabilities(N=100, m_each=c(30, 30, 40)) -> .3, .3, .4 and
    complete_ra_probabilities(N=101, prob_each=c(.2, .7, .1)) -> .2, .7, .1 for every unit."""
    np.testing.assert_allclose(complete.probabilities(100, counts=(30, 30, 40)), np.tile([0.3, 0.3, 0.4], (100, 1)))
    np.testing.assert_allclose(complete.probabilities(101, (2, 7, 1)), np.tile([0.2, 0.7, 0.1], (101, 1)))
    a = complete.assign(100, counts=(30, 30, 40), rng=1).arm
    assert np.bincount(a).tolist() == [30, 30, 40]


def test_complete_all_arrangements_equally_likely():
    """n = 5, 1:1: arm-0 count is 2 or 3 (each w.p. 1/2), and given the count every one of the
    C(5, m) arrangements is equally likely: the 20 patterns each have probability 1/20."""
    draws = Counter(tuple(complete.assign(5, (1, 1), rng=s).arm) for s in range(8000))
    patterns = [p for p in itertools.product((0, 1), repeat=5) if sum(p) in (2, 3)]
    assert set(draws) == set(patterns) and len(patterns) == 20
    observed = np.array([draws[p] for p in patterns])
    assert stats.chisquare(observed).pvalue > 1e-4


def test_complete_rejects_bad_counts():
    with pytest.raises(
        ValueError, match=r"The 'counts' parameter must hold at least two non-negative integers summing to n=10"
    ):
        complete.assign(10, counts=(3, 3), rng=1)


# ----------------------------------------------------------------------------- block


def _check_blocks(arm, blk, size, ratio, allowed):
    r = np.asarray(ratio)
    R = r.sum()
    starts = np.flatnonzero(np.r_[True, blk[1:] != blk[:-1]])
    assert len(np.unique(blk)) == len(starts), "blocks are contiguous"
    for s, e in zip(starts, np.r_[starts[1:], len(blk)]):
        b = size[s]
        assert b in allowed and np.all(size[s:e] == b)
        counts = np.bincount(arm[s:e], minlength=len(r))
        if e - s == b:
            np.testing.assert_array_equal(counts, b * r // R)
        else:
            assert e == len(blk) and e - s < b, "only the final block may be cut short"
            lo, hi = _bounds(e - s, r)
            assert np.all(counts >= lo) and np.all(counts <= hi)


@FAST
@given(n=st.integers(1, 200), ratio=ratios, mults=st.sets(st.integers(1, 3), min_size=1, max_size=3), seed=seeds)
def test_block_every_full_block_exact(n, ratio, mults, seed):
    R = sum(ratio)
    allowed = sorted(m * R for m in mults)
    a = block.assign(n, ratio, allowed, rng=seed)
    _check_blocks(a.arm, a.block, a.block_size, ratio, allowed)
    lo, hi = _bounds(n, ratio)
    counts = np.bincount(a.arm, minlength=len(ratio))
    # overall imbalance stays below one unit per arm (full blocks exact, final one apportioned)
    assert np.all(counts >= lo) and np.all(counts <= hi)


def test_block_arrangements_equally_likely():
    """Block of 4 with ratio 2:1:1: 4!/(2! 1! 1!) = 12 arrangements, each w.p. 1/12."""
    draws = Counter(tuple(block.assign(4, (2, 1, 1), 4, rng=s).arm) for s in range(6000))
    assert len(draws) == math.factorial(4) // (math.factorial(2))
    assert stats.chisquare(np.array(list(draws.values()))).pvalue > 1e-4


def test_random_block_sizes_are_drawn_uniformly():
    a = block.assign(60_000, (1, 1), (2, 4, 6), rng=5)
    firsts = np.r_[True, a.block[1:] != a.block[:-1]]
    sizes = a.block_size[firsts][:-1]  # the last block may be cut short
    observed = np.array([(sizes == b).sum() for b in (2, 4, 6)])
    assert stats.chisquare(observed).pvalue > 1e-4


def test_block_sizes_must_be_multiples_of_ratio_sum():
    with pytest.raises(ValueError) as exc:
        block.assign(10, (2, 1, 1), (4, 6), rng=1)
    assert str(exc.value) == (
        "The 'block_sizes' parameter must hold positive multiples of the ratio sum 4 (ratio [2, 1, 1]), "
        "e.g. (4, 8). Got [4, 6] instead."
    )


# ----------------------------------------------------------------------------- stratified block


@FAST
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    ratio=ratios,
    mults=st.sets(st.integers(1, 2), min_size=1, max_size=2),
    seed=seeds,
    shuffle_seed=st.integers(0, 1000),
)
def test_stratified_block_exact_within_each_stratum(sizes, ratio, mults, seed, shuffle_seed):
    R = sum(ratio)
    allowed = sorted(m * R for m in mults)
    strata = np.repeat([f"s{i}" for i in range(len(sizes))], sizes)
    strata = strata[np.random.default_rng(shuffle_seed).permutation(len(strata))]
    a = stratified_block.assign(strata, ratio, allowed, rng=seed)
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)  # enrolment order within the stratum
        assert not np.isin(a.block[idx], a.block[strata != s]).any(), "blocks never span strata"
        _check_blocks(a.arm[idx], a.block[idx], a.block_size[idx], ratio, allowed)


def test_stratified_block_independent_of_row_order_between_strata():
    """Interleaving strata differently leaves each stratum's sequence unchanged."""
    strata = np.array(["a"] * 10 + ["b"] * 10)
    a1 = stratified_block.assign(strata, (1, 1), (2, 4), rng=3).arm
    order = np.r_[np.arange(0, 20, 2), np.arange(1, 20, 2)]
    mixed = strata[np.argsort(order, kind="stable")]
    a2 = stratified_block.assign(mixed, (1, 1), (2, 4), rng=3).arm
    np.testing.assert_array_equal(a1[strata == "a"], a2[mixed == "a"])
    np.testing.assert_array_equal(a1[strata == "b"], a2[mixed == "b"])


# ----------------------------------------------------------------------------- cluster


@FAST
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=25), ratio=ratios, seed=seeds)
def test_cluster_never_split_and_cluster_counts_exact(sizes, ratio, seed):
    clusters = np.repeat([f"c{i:02d}" for i in range(len(sizes))], sizes)
    rng = np.random.default_rng(seed % 1000)
    clusters = clusters[rng.permutation(len(clusters))]
    arm = cluster.assign(clusters, ratio, rng=seed).arm
    per_cluster = {}
    for c, a in zip(clusters, arm):
        assert per_cluster.setdefault(c, a) == a, "a cluster was split"
    counts = np.bincount(list(per_cluster.values()), minlength=len(ratio))
    lo, hi = _bounds(len(sizes), ratio)
    assert np.all(counts >= lo) and np.all(counts <= hi)


def test_cluster_randomizr_reference():
    """randomizr: clusters rep(letters[1:15], times = 1:15) with m_each = c(9, 6) gives
    probabilities .6/.4 for every unit; with ratio 3:2 exactly 9 and 6 clusters."""
    clusters = np.repeat(list("abcdefghijklmno"), np.arange(1, 16))
    np.testing.assert_allclose(cluster.probabilities(clusters, (3, 2)), np.tile([0.6, 0.4], (120, 1)))
    arm = cluster.assign(clusters, (3, 2), rng=8).arm
    first = np.unique(clusters, return_index=True)[1]
    assert np.bincount(arm[first]).tolist() == [9, 6]


# ----------------------------------------------------------------------------- stratified cluster


@FAST
@given(per_stratum=st.lists(st.integers(1, 6), min_size=1, max_size=6), ratio=ratios, seed=seeds)
def test_stratified_cluster_counts_within_strata(per_stratum, ratio, seed):
    clusters, strata = [], []
    for s, m in enumerate(per_stratum):
        for c in range(m):
            size = 1 + (s + c) % 3
            clusters += [f"s{s}c{c}"] * size
            strata += [f"s{s}"] * size
    clusters, strata = np.array(clusters), np.array(strata)
    arm = stratified_cluster.assign(clusters, strata, ratio, rng=seed).arm
    for s, m in enumerate(per_stratum):
        sel = strata == f"s{s}"
        first = np.unique(clusters[sel], return_index=True)[1]
        assert all(len(set(arm[clusters == c])) == 1 for c in np.unique(clusters[sel]))
        counts = np.bincount(arm[sel][first], minlength=len(ratio))
        lo, hi = _bounds(m, ratio)
        assert np.all(counts >= lo) and np.all(counts <= hi)


def test_pair_matching_one_cluster_of_each_pair_per_arm():
    """Pair-matched design (Imai, King & Nall 2009): strata of two clusters, 1:1."""
    pairs = np.repeat([f"p{i}" for i in range(10)], 2)
    clusters = np.array([f"c{i}" for i in range(20)])
    for seed in range(50):
        arm = stratified_cluster.assign(clusters, pairs, (1, 1), rng=seed).arm
        assert np.all(arm.reshape(10, 2).sum(axis=1) == 1)


def test_block_and_cluster_randomizr_reference():
    """randomizr: block_and_cluster_ra_probabilities with clusters rep(letters[1:15], 1:15),
    five blocks of three clusters and prob_each = c(.2, .5, .3) gives .2/.5/.3 per unit."""
    clusters = np.repeat(list("abcdefghijklmno"), np.arange(1, 16))
    blocks = np.array([f"block_{(ord(c) - ord('a')) // 3 + 1}" for c in clusters])
    np.testing.assert_allclose(
        stratified_cluster.probabilities(clusters, blocks, (2, 5, 3)), np.tile([0.2, 0.5, 0.3], (120, 1))
    )


def test_stratified_cluster_rejects_cluster_spanning_strata():
    with pytest.raises(ValueError, match=r"1 cluster\(s\) span several strata: 'c2'"):
        stratified_cluster.assign(["c1", "c2", "c2"], ["s1", "s1", "s2"], (1, 1), rng=1)


# ----------------------------------------------------------------------------- stepped wedge


@FAST
@given(n_clusters=st.integers(1, 30), steps=st.integers(1, 8), seed=seeds)
def test_stepped_wedge_steps_balanced(n_clusters, steps, seed):
    if steps > n_clusters:
        with pytest.raises(ValueError, match="must not exceed the number of clusters"):
            stepped_wedge.assign([f"c{i}" for i in range(n_clusters)], steps, rng=seed)
        return
    clusters = np.repeat([f"c{i:02d}" for i in range(n_clusters)], 2)
    step = stepped_wedge.assign(clusters, steps, rng=seed).arm
    assert np.all(step[::2] == step[1::2]), "people of one cluster share its step"
    counts = np.bincount(step[::2], minlength=steps)
    assert counts.min() >= n_clusters // steps and counts.max() <= -(-n_clusters // steps)


def test_stepped_wedge_explicit_counts_and_crossover_periods():
    clusters = [f"c{i}" for i in range(6)]
    step = stepped_wedge.assign(clusters, 3, clusters_per_step=(1, 2, 3), rng=4).arm
    assert np.bincount(step).tolist() == [1, 2, 3]
    np.testing.assert_allclose(
        stepped_wedge.probabilities(clusters, 3, clusters_per_step=(1, 2, 3)), np.tile([1 / 6, 2 / 6, 3 / 6], (6, 1))
    )
    # Hussey & Hughes layout: one baseline period, step s crosses at period s + 1
    assert stepped_wedge.crossover_period([0, 1, 2]).tolist() == [2, 3, 4]
    assert stepped_wedge.crossover_period([0, 1, 2], baseline_periods=2).tolist() == [3, 4, 5]


# ----------------------------------------------------------------------------- generator


def test_make_rng_is_pcg64_and_validates_seed():
    g = make_rng(42)
    assert isinstance(g.bit_generator, np.random.PCG64)
    np.testing.assert_array_equal(g.random(3), np.random.Generator(np.random.PCG64(42)).random(3))
    for bad in (-1, 2**128, 1.5, "7", True):
        with pytest.raises(ValueError, match=r"The 'seed' parameter must be an integer in \[0, 2\*\*128\)"):
            make_rng(bad)
