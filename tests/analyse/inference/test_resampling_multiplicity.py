"""Westfall-Young and Romano-Wolf: definitions written out independently, never above Holm, FWER.

References: Westfall & Young (1993) Algorithm 2.8 (step-down min-p) and Romano & Wolf (2016) eq. (3)
(step-down max-t), re-implemented below as plain loops; Holm via R-verified
:func:`bitframe.analyse.multiplicity.adjust_pvalues`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitframe.analyse.inference.resampling_multiplicity import resampling_pvalues, romano_wolf, westfall_young
from bitframe.analyse.inference.ri import randomisation_test
from bitframe.analyse.multiplicity import adjust_pvalues
from bitframe.randomise import complete
from bitframe.randomise.rerandomise import RIDesign


def _loop_wy(t, T):
    """Algorithm 2.8 with draw 0 = observed, written with loops."""
    allT = np.abs(np.vstack([t, T]))
    D, m = allT.shape
    P = np.array([[np.sum(allT[:, i] >= allT[b, i] - 1e-10 * max(1, allT[b, i])) / D for i in range(m)]
                  for b in range(D)])
    order = sorted(range(m), key=lambda i: (P[0, i], i))
    adj = []
    for pos, i in enumerate(order):
        rest = order[pos:]
        count = sum(1 for b in range(D) if min(P[b, h] for h in rest) <= P[0, i] + 1e-10 * max(1, P[0, i]))
        adj.append(count / D)
    adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = adj
    return P[0], out


def _loop_rw(t, T):
    allT = np.abs(np.vstack([t, T]))
    D, m = allT.shape
    order = sorted(range(m), key=lambda i: (-allT[0, i], i))
    adj = []
    for pos, i in enumerate(order):
        rest = order[pos:]
        adj.append(sum(1 for b in range(D) if max(allT[b, h] for h in rest) >= allT[0, i] - 1e-10 * max(1, allT[0, i])) / D)
    adj = np.maximum.accumulate(adj)
    out = np.empty(m)
    out[order] = adj
    return out


def test_against_the_written_out_algorithms():
    rng = np.random.default_rng(1)
    cov = 0.6 + 0.4 * np.eye(4)
    T = rng.multivariate_normal(np.zeros(4), cov, size=300)
    t = np.array([2.9, 0.4, -2.1, 1.7])
    p_ref, wy_ref = _loop_wy(t, T)
    wy = westfall_young(t, T)
    assert np.allclose(wy.p_values, p_ref) and np.allclose(wy.p_adjusted, wy_ref)
    assert np.allclose(romano_wolf(t, T).p_adjusted, _loop_rw(t, T))
    assert np.allclose(resampling_pvalues(t, T), p_ref)


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 5),
    B=st.integers(5, 80),
    seed=st.integers(0, 2**31 - 1),
    heavy=st.booleans(),
    discrete=st.booleans(),
)
def test_never_more_conservative_than_holm(m, B, seed, heavy, discrete):
    """Property: WY min-p and RW (p basis) adjusted p-values <= Holm of the same resampling p-values,
    and >= the raw p-values; holds with ties (discrete statistics) and unequal margins."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.2, 5, size=m) if heavy else np.ones(m)
    T = rng.standard_t(2 if heavy else 30, size=(B, m)) * scale
    t = rng.normal(size=m) * 2 * scale
    if discrete:
        T, t = np.round(T), np.round(t)
    holm = adjust_pvalues(resampling_pvalues(t, T), "holm")
    for res in (westfall_young(t, T), romano_wolf(t, T, basis="p")):
        adj = np.asarray(res.p_adjusted)
        assert np.all(adj <= holm + 1e-12)
        assert np.all(adj >= np.asarray(res.p_values) - 1e-12)
        assert np.all((adj > 0) & (adj <= 1))


def _fwer(n_sims: int, seed: int) -> tuple[float, float, float]:
    """Five correlated outcomes, two arms, no effect on any: family-wise error of WY, RW and Holm using
    the joint re-randomisation distribution (randomisation_test keep_null=True)."""
    rng = np.random.default_rng(seed)
    cov = 0.5 + 0.5 * np.eye(5)
    wy = rw = holm = 0
    for _ in range(n_sims):
        z = complete.assign(40, (1, 1), rng=rng).arm
        Y = rng.multivariate_normal(np.zeros(5), cov, size=40)
        d = RIDesign("complete", arms=("c", "t"), observed=z)
        res = randomisation_test({f"y{i}": Y[:, i] for i in range(5)}, d, estimator="difference_in_means",
                                 seed=rng, n_permutations=199, confidence_interval=False, keep_null=True,
                                 exact="never")
        wy += min(westfall_young(res.observed, res.null).p_adjusted) <= 0.05
        rw += min(romano_wolf(res.observed, res.null).p_adjusted) <= 0.05
        holm += min(adjust_pvalues([e.p_value for e in res.effects], "holm")) <= 0.05
    return wy / n_sims, rw / n_sims, holm / n_sims


def test_family_wise_error_is_controlled():
    wy, rw, holm = _fwer(300, seed=3)
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 300)
    assert wy <= bound and rw <= bound and holm <= bound
    assert wy >= holm  # exploiting the correlation: WY is less conservative than Holm


@pytest.mark.slow
def test_family_wise_error_is_controlled_long():
    wy, rw, holm = _fwer(2000, seed=4)
    mc = 3 * math.sqrt(0.05 * 0.95 / 2000)
    assert abs(wy - 0.05) < mc and abs(rw - 0.05) < mc + 0.01 and holm <= 0.05 + mc


def test_argument_errors():
    with pytest.raises(ValueError, match="draws x 2"):
        westfall_young([1.0, 2.0], np.zeros((5, 3)))
    with pytest.raises(ValueError, match="Unknown basis"):
        romano_wolf([1.0], np.zeros((5, 1)), basis="f")
    with pytest.raises(ValueError, match="alpha"):
        westfall_young([1.0], np.zeros((5, 1)), alpha=2)
