"""Minimisation (Pocock & Simon 1975) against published worked examples and its promises.

Worked examples (outside references):
* Lim C-Y, In J (2019). Randomization in clinical studies. *Korean J Anesthesiol*
  72(3):221-232, Table 4: the 15th patient (site 2, female, >= 65 y) has total imbalance
  3 if allocated to control and 5 if allocated to treatment (range / absolute difference).
* Scott NW et al. (2002), *Control Clin Trials* 23:662, example as reproduced in
  Table 3 of PMC3503622: the seventh patient (high baseline, moderate covariate rate)
  scores 4 for intervention and 2 for control, and goes to control.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from bitframe.randomise import Minimiser, minimisation, simple
from bitframe.randomise.minimisation import allocation_probabilities

LIM_IN_COUNTS = {
    "site": {"1": [4, 2], "2": [3, 5]},
    "sex": {"male": [4, 4], "female": [3, 3]},
    "age": {"<20": [2, 2], "20-64": [2, 2], ">=65": [3, 3]},
}
LIM_IN_UNIT = {"site": "2", "sex": "female", "age": ">=65"}


def test_lim_in_2019_table4_range_scores():
    m = Minimiser(["site", "sex", "age"], (1, 1), p=1.0, rng=0, counts=LIM_IN_COUNTS)
    np.testing.assert_allclose(m.scores(LIM_IN_UNIT), [3.0, 5.0])  # [control, treatment]
    np.testing.assert_allclose(m.probabilities(LIM_IN_UNIT), [1.0, 0.0])
    assert m.enrol(LIM_IN_UNIT) == 0  # "this patient is allocated to the control group"
    assert m.counts()["site"]["2"] == [4, 5]


def test_lim_in_2019_with_random_element_and_variance():
    m = Minimiser(["site", "sex", "age"], (1, 1), p=0.8, rng=0, counts=LIM_IN_COUNTS)
    np.testing.assert_allclose(m.probabilities(LIM_IN_UNIT), [0.8, 0.2])
    # Pocock & Simon's variance measure: for two arms the population variance is (difference / 2)^2,
    # so the per-factor differences (1, 1, 1) vs (3, 1, 1) give 0.75 vs 2.75.
    v = Minimiser(["site", "sex", "age"], (1, 1), imbalance="variance", p=0.8, rng=0, counts=LIM_IN_COUNTS)
    np.testing.assert_allclose(v.scores(LIM_IN_UNIT), [0.75, 2.75])


def test_scott_2002_example():
    counts = {
        "baseline": {"high": [2, 2], "moderate": [2, 3], "low": [1, 1]},
        "covariate": {"high": [2, 3], "moderate": [3, 1], "low": [1, 1]},
    }
    m = Minimiser(["baseline", "covariate"], (1, 1), p=1.0, rng=0, counts=counts)  # [intervention, control]
    unit = {"baseline": "high", "covariate": "moderate"}
    np.testing.assert_allclose(m.scores(unit), [4.0, 2.0])
    assert m.enrol(unit) == 1  # control


def test_factor_weights_scale_each_factor():
    counts = {"a": {"x": [3, 0]}, "b": {"y": [0, 1]}}
    unit = {"a": "x", "b": "y"}
    m = Minimiser(["a", "b"], (1, 1), weights={"a": 2.0, "b": 0.5}, p=1.0, rng=0, counts=counts)
    # arm 0: a -> |4-0| = 4, b -> |1-1| = 0; arm 1: a -> |3-1| = 2, b -> |0-2| = 2
    np.testing.assert_allclose(m.scores(unit), [2 * 4 + 0.5 * 0, 2 * 2 + 0.5 * 2])


def test_allocation_probability_rule():
    r = np.array([2, 1, 1])
    np.testing.assert_allclose(allocation_probabilities(np.array([1.0, 1.0, 1.0]), r, 0.8), [0.5, 0.25, 0.25])
    np.testing.assert_allclose(allocation_probabilities(np.array([0.0, 1.0, 2.0]), r, 0.8), [0.8, 0.1, 0.1])
    np.testing.assert_allclose(allocation_probabilities(np.array([1.0, 0.0, 0.0]), r, 0.9), [0.1, 0.45, 0.45])
    np.testing.assert_allclose(allocation_probabilities(np.array([1.0, 0.0, 1.0]), r, 0.7), [0.2, 0.7, 0.1])


def _population(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "sex": rng.choice(["F", "M"], n),
        "age": rng.choice(["18-34", "35-54", "55+"], n, p=[0.3, 0.45, 0.25]),
        "site": rng.choice([f"site{i}" for i in range(5)], n),
    }


def _total_imbalance(factors: dict[str, np.ndarray], arm: np.ndarray, ratio) -> float:
    """Sum over factor levels of the range of ratio-scaled arm counts."""
    total = 0.0
    r = np.asarray(ratio)
    for values in factors.values():
        for level in np.unique(values):
            counts = np.bincount(arm[values == level], minlength=len(r)) / r
            total += counts.max() - counts.min()
    return total


def test_expected_simple_imbalance_matches_closed_form():
    """Sanity check of the yardstick: E|N_A - N_B| under simple 1:1 randomisation of n units is
    sum_x |2x - n| Binom(x; n, 1/2) (closed form via scipy.stats.binom)."""
    n = 500
    x = np.arange(n + 1)
    expected = float((np.abs(2 * x - n) * stats.binom.pmf(x, n, 0.5)).sum())
    sims = [abs(int(2 * simple.assign(n, (1, 1), rng=s).arm.sum()) - n) for s in range(2000)]
    assert abs(np.mean(sims) - expected) < 4 * np.std(sims) / np.sqrt(len(sims))


def test_marginal_imbalance_far_below_simple_after_1000_enrolments():
    n = 1000
    mins, simples = [], []
    for seed in range(4):
        f = _population(n, seed)
        m = Minimiser(list(f), (1, 1), p=0.8, rng=seed)  # one unit at a time, as a service would
        arm = np.array([m.enrol({k: v[i] for k, v in f.items()}) for i in range(n)])
        mins.append(_total_imbalance(f, arm, (1, 1)))
        simples.append(_total_imbalance(f, simple.assign(n, (1, 1), rng=seed).arm, (1, 1)))
    # closed-form yardstick: expected |difference| for simple randomisation summed over the 10 levels
    f = _population(n, 0)
    closed = 0.0
    for values in f.values():
        for level in np.unique(values):
            m = int((values == level).sum())
            x = np.arange(m + 1)
            closed += float((np.abs(2 * x - m) * stats.binom.pmf(x, m, 0.5)).sum())
    assert np.mean(mins) < 0.15 * closed, (np.mean(mins), closed)
    assert np.mean(mins) < 0.15 * np.mean(simples)


def test_unequal_ratio_tracks_target_within_levels():
    """2:1:1 with counts scaled by 1/ratio: arm shares stay near 1/2, 1/4, 1/4 overall and within
    each level, and ratio-scaled imbalance is far below simple randomisation's."""
    n = 1000
    f = _population(n, 7)
    arm = minimisation.assign(f, (2, 1, 1), p=0.8, rng=7).arm
    np.testing.assert_allclose(np.bincount(arm) / n, [0.5, 0.25, 0.25], atol=0.02)
    for values in f.values():
        for level in np.unique(values):
            sel = values == level
            np.testing.assert_allclose(np.bincount(arm[sel], minlength=3) / sel.sum(), [0.5, 0.25, 0.25], atol=0.04)
    simple_arm = simple.assign(n, (2, 1, 1), rng=7).arm
    assert _total_imbalance(f, arm, (2, 1, 1)) < 0.25 * _total_imbalance(f, simple_arm, (2, 1, 1))


def test_random_element_makes_lists_differ_across_seeds():
    f = _population(200, 3)
    lists = {minimisation.assign(f, (1, 1), p=0.8, rng=s).arm.tobytes() for s in range(10)}
    assert len(lists) == 10


def test_deterministic_given_seed_and_order_and_batch_equals_sequential():
    f = _population(300, 4)
    batch = minimisation.assign(f, (2, 1, 1), weights=(1, 2, 0.5), imbalance="variance", p=0.85, rng=99)
    again = minimisation.assign(f, (2, 1, 1), weights=(1, 2, 0.5), imbalance="variance", p=0.85, rng=99)
    np.testing.assert_array_equal(batch.arm, again.arm)
    m = Minimiser(["sex", "age", "site"], (2, 1, 1), weights=(1, 2, 0.5), imbalance="variance", p=0.85, rng=99)
    seq = [m.enrol({k: v[i] for k, v in f.items()}) for i in range(300)]
    np.testing.assert_array_equal(batch.arm, seq)
    # a different enrolment order gives a different list
    order = np.random.default_rng(0).permutation(300)
    shuffled = minimisation.assign(
        {k: v[order] for k, v in f.items()}, (2, 1, 1), weights=(1, 2, 0.5), imbalance="variance", p=0.85, rng=99
    )
    assert not np.array_equal(shuffled.arm, batch.arm[order])


def test_state_round_trip_continues_identically():
    f = _population(150, 5)
    units = [{k: v[i] for k, v in f.items()} for i in range(150)]
    full = Minimiser(["sex", "age", "site"], (1, 1, 1), p=0.8, rng=2024)
    expected = [full.enrol(u) for u in units]
    first = Minimiser(["sex", "age", "site"], (1, 1, 1), p=0.8, rng=2024)
    head = [first.enrol(u) for u in units[:100]]
    state = json.loads(json.dumps(first.get_state()))  # must survive JSON (a service stores it)
    resumed = Minimiser.from_state(state)
    tail = [resumed.enrol(u) for u in units[100:]]
    assert head + tail == expected
    assert resumed.n_enrolled == 150
    assert resumed.counts() == full.counts()


def test_probabilities_twin_replays_the_history():
    f = _population(120, 6)
    a = minimisation.assign(f, (2, 1, 1), p=0.75, rng=5)
    replay = minimisation.probabilities(f, a.arm, (2, 1, 1), p=0.75)
    np.testing.assert_allclose(replay, a.probabilities)
    # First unit: scaled counts if it joins arm 0 are (1/2, 0, 0) (range 1/2), arm 1 or 2 give range 1,
    # so arm 0 is the minimising arm: 0.75, then 0.25 shared in proportion to the ratio (1:1).
    np.testing.assert_allclose(replay[0], [0.75, 0.125, 0.125])
    assert np.all(replay[np.arange(120), a.arm] > 0)


def test_argument_errors_are_clear():
    with pytest.raises(ValueError, match=r"The 'p' parameter must be a number in \(0.0, 1.0\]. Got 1.5 instead."):
        Minimiser(["a"], (1, 1), p=1.5, rng=1)
    with pytest.raises(ValueError, match=r"Unknown imbalance 'varaince'; did you mean 'variance'\?"):
        Minimiser(["a"], (1, 1), imbalance="varaince", rng=1)
    with pytest.raises(ValueError, match=r"The 'weights' parameter must have 2 entries \(one per factor\). Got 1"):
        Minimiser(["a", "b"], (1, 1), weights=[1.0], rng=1)
    with pytest.raises(ValueError, match=r"names unknown factors \['c'\]"):
        Minimiser(["a", "b"], (1, 1), weights={"c": 1.0}, rng=1)
    m = Minimiser(["a"], (1, 1), rng=1)
    with pytest.raises(ValueError, match=r"Minimisation factor 'a' has a missing value"):
        m.enrol({"a": ""})
    with pytest.raises(ValueError, match=r"lacks minimisation factor\(s\) \['a'\]"):
        m.enrol({"b": "x"})
