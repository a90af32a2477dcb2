"""One conformance suite that every registered scheme passes (in the spirit of
scikit-learn's ``parametrize_with_checks``): reproducibility, probability twins that are
proper distributions, and draws whose empirical frequencies match the stated
probabilities (Pearson chi-square over many seeds); the batched ``draw_many`` gives valid
lists of the scheme (the counts ``assign`` guarantees per block, stratum and cluster) with the
same frequencies."""

from __future__ import annotations

import numpy as np
import pytest

from bitframe.randomise import SCHEMES, minimisation
from conftest import CASES, RATIO, empirical_chisq_min_p

EXPECTED_SCHEMES = [
    "block",
    "cluster",
    "complete",
    "minimisation",
    "simple",
    "stepped_wedge",
    "stratified_block",
    "stratified_cluster",
]


def _probs(case) -> np.ndarray:
    return case.probabilities()


def test_registry_holds_exactly_the_canonical_names():
    assert SCHEMES.names() == EXPECTED_SCHEMES
    assert sorted(CASES) == EXPECTED_SCHEMES  # every registered scheme has a conformance case


def test_unknown_scheme_lists_valid_names_with_suggestion():
    with pytest.raises(ValueError) as exc:
        SCHEMES.get("stratified_blok")
    msg = str(exc.value)
    assert "Unknown randomisation scheme 'stratified_blok'" in msg
    assert "did you mean 'stratified_block'?" in msg
    assert "'minimisation'" in msg and "'stepped_wedge'" in msg


def test_every_scheme_has_assign_and_probabilities_twins():
    for name in SCHEMES:
        scheme = SCHEMES.get(name)
        assert callable(scheme.assign) and callable(scheme.probabilities)
        assert scheme.exact_probabilities is (name != "minimisation")


def test_every_scheme_has_a_batched_draw_many():
    for name in SCHEMES:
        assert callable(SCHEMES.get(name).draw_many)


def test_draw_many_rows_are_lists_of_the_scheme(case):
    """Every row of draw_many meets the constraints assign guarantees (and assign's own lists do too,
    which checks the checker)."""
    rows = case.draw_many(300, 11)
    n = len(case.assign(1))
    assert rows.shape == (300, n) and rows.dtype == np.int8
    assert case.valid(rows.astype(np.int64)).all()
    assert case.valid(np.stack([case.assign(s) for s in range(30)])).all()


def test_draw_many_is_reproducible_and_varies(case):
    np.testing.assert_array_equal(case.draw_many(50, 5), case.draw_many(50, 5))
    assert len({row.tobytes() for row in case.draw_many(50, 5)}) >= 45


def test_simple_draw_many_is_the_stream_of_successive_assigns():
    from bitframe.randomise import make_rng, simple

    gen = make_rng(8)
    one_by_one = np.stack([simple.assign(9, RATIO, rng=gen).arm for _ in range(4)])
    np.testing.assert_array_equal(simple.draw_many(9, RATIO, n_draws=4, rng=8), one_by_one)


def test_same_seed_gives_identical_list(case):
    a, b = case.assign(12345), case.assign(12345)
    np.testing.assert_array_equal(a, b)


def test_seed_accepts_128_bit_integers(case):
    seed = 2**128 - 1
    np.testing.assert_array_equal(case.assign(seed), case.assign(seed))
    # the high bits matter: seeds differing only above bit 64 give different lists
    lists = {case.assign(seed - (j << 100)).tobytes() for j in range(6)}
    assert len(lists) >= 5


def test_different_seeds_give_different_lists(case):
    lists = {case.assign(seed).tobytes() for seed in range(20)}
    assert len(lists) >= 18  # a handful of coincidences is possible only for the smallest designs


def test_arm_indices_in_range(case):
    arms = case.assign(7)
    assert arms.dtype.kind == "i"
    assert arms.min() >= 0 and arms.max() < case.k


def test_probabilities_are_distributions(case):
    if case.name == "minimisation":
        a = case.assign(3)
        fac = {"sex": np.array(["F", "M", "M", "F", "F", "M"] * 5), "age": np.array(list("ababcc") * 5)}
        probs = minimisation.probabilities(fac, a, RATIO)
    else:
        probs = _probs(case)
    n = len(case.assign(1))
    assert probs.shape == (n, case.k)
    assert np.all(probs >= 0) and np.all(probs <= 1)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in EXPECTED_SCHEMES if n != "minimisation"])
def test_empirical_frequencies_match_stated_probabilities(name):
    """Over 2,000 seeds, each unit's arm frequencies fit its stated probabilities
    (Pearson chi-square per unit, Bonferroni over units, level 1e-4)."""
    case = CASES[name]
    seeds = 2000
    arms = np.stack([case.assign(s) for s in range(seeds)])
    probs = _probs(case)
    # an arm with probability zero never occurs
    assert not np.any(probs[np.arange(arms.shape[1])[None, :], arms] == 0)
    p_min = empirical_chisq_min_p(arms, probs)
    assert p_min * arms.shape[1] > 1e-4, f"{name}: smallest per-unit chi-square p = {p_min:.2e}"


@pytest.mark.parametrize("name", [n for n in EXPECTED_SCHEMES if n != "minimisation"])
def test_draw_many_frequencies_match_stated_probabilities(name):
    """Over 4,000 rows of draw_many, each unit's arm frequencies fit its stated probabilities
    (Pearson chi-square per unit, Bonferroni over units, level 1e-4)."""
    case = CASES[name]
    arms = case.draw_many(4000, 2024).astype(np.int64)
    probs = _probs(case)
    assert not np.any(probs[np.arange(arms.shape[1])[None, :], arms] == 0)
    p_min = empirical_chisq_min_p(arms, probs)
    assert p_min * arms.shape[1] > 1e-4, f"{name}: smallest per-unit chi-square p = {p_min:.2e}"


def test_minimisation_draw_many_follows_its_per_step_probabilities():
    """The martingale check below, on the replays of draw_many: each replayed step used the
    probabilities that minimisation.probabilities gives for its history."""
    fac = {"sex": np.array(["F", "M", "M", "F", "F", "M"] * 5), "age": np.array(list("ababcc") * 5)}
    rows = CASES["minimisation"].draw_many(400, 77).astype(np.int64)
    resid = np.zeros((30, 3))
    var = np.zeros((30, 3))
    for row in rows:
        probs = minimisation.probabilities(fac, row, RATIO)
        resid += np.eye(3)[row] - probs
        var += probs * (1 - probs)
    z = resid[var > 0] / np.sqrt(var[var > 0])
    assert np.abs(z).max() < 5.0, f"max |z| = {np.abs(z).max():.2f}"


def test_minimisation_draws_follow_its_per_step_probabilities():
    """Martingale check: summed over seeds, 1{arm_i = j} - P_ij(history) is a sum of
    independent zero-mean terms with variance sum P(1-P), so the z-scores are ~N(0,1)."""
    fac = {"sex": np.array(["F", "M", "M", "F", "F", "M"] * 5), "age": np.array(list("ababcc") * 5)}
    seeds = 400
    resid = np.zeros((30, 3))
    var = np.zeros((30, 3))
    for s in range(seeds):
        a = minimisation.assign(fac, RATIO, rng=s)
        onehot = np.eye(3)[a.arm]
        resid += onehot - a.probabilities
        var += a.probabilities * (1 - a.probabilities)
    z = resid[var > 0] / np.sqrt(var[var > 0])
    # Bonferroni over the 90 unit-arm cells at two-sided level 1e-4
    assert np.abs(z).max() < 5.0, f"max |z| = {np.abs(z).max():.2f}"
