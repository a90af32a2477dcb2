"""Randomisation inference against ri2's published examples and independent full enumeration.

References: ri2 vignette (Coppock, ri2 1.x, "Randomization Inference with ri2"): Gerber & Green
(2012) Table 2.2, estimate 6.5, two-tailed p 0.3809524; the blocked-and-clustered example from the
ri package's help, 36 assignments, estimate 2, p 0.1944444. Brute force: every assignment listed
with itertools in this file and the statistic refitted with numpy's least squares.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from bitframe.analyse.estimators import get_estimator
from bitframe.analyse.inference.ri import randomisation_test
from bitframe.randomise import complete, stratified_block
from bitframe.randomise.rerandomise import RIDesign, enumerate_assignments


def test_gerber_green_table_2_2_matches_ri2():
    """ri2 vignette: conduct_ri(Y ~ Z, declare_ra(N = 7, m = 2)) -> estimate 6.5, p = 0.3809524."""
    y = np.array([15, 15, 20, 20, 10, 15, 30.0])
    z = np.array([1, 0, 0, 0, 0, 0, 1])
    d = RIDesign("complete", arms=("0", "1"), ratio=(5, 2), observed=z)
    res = randomisation_test(y, d, estimator="difference_in_means", seed=1)
    row = res.effects[0]
    assert res.approach == ("enumerated",) and res.n_draws == (21,)
    assert row.estimate == pytest.approx(6.5)
    assert row.p_value == pytest.approx(0.3809524, abs=1e-7)
    assert row.method == "randomisation"


def test_ri2_blocked_clustered_example_enumeration():
    """ri2 vignette, blocked and clustered design (block_m = 1, 2, 2 treated clusters of 2, 3, 4):
    36 possible assignments; the IPW-weighted difference in means is 2 and p = 0.1944444."""
    Y = np.array([8, 6, 2, 0, 3, 1, 1, 1, 2, 2, 0, 1, 0, 2, 2, 4, 1, 1.0])
    Z = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    cl = np.repeat(np.arange(9), 2)
    blk = np.array([1] * 4 + [2] * 6 + [3] * 8)
    d = RIDesign("stratified_cluster", arms=("0", "1"), observed=Z, clusters=cl, strata=blk)
    A = enumerate_assignments(d)
    assert A.shape == (36, 18)
    p_treat = np.where(blk == 2, 2 / 3, 1 / 2)

    def ipw_dim(z):  # weighted least squares of Y on Z with weights 1 / P(Z_i = z_i), as ri2 (IPW = TRUE)
        w = 1 / np.where(z == 1, p_treat, 1 - p_treat)
        return np.average(Y[z == 1], weights=w[z == 1]) - np.average(Y[z == 0], weights=w[z == 0])

    obs = ipw_dim(Z)
    sims = np.round([ipw_dim(a.astype(int)) for a in A], 10)
    assert obs == pytest.approx(2.0)
    assert np.mean(np.abs(sims) >= round(abs(obs), 10)) == pytest.approx(0.1944444, abs=1e-7)


def _brute_force_p(y, z_obs, strata, x, assignments, tau=0.0):
    """Independent reference: OLS coefficient of z with stratum dummies and x, by numpy lstsq."""
    S = np.column_stack([(strata == s).astype(float) for s in np.unique(strata)])

    def coef(z, yy):
        X = np.column_stack([z, S, x])
        return np.linalg.lstsq(X, yy, rcond=None)[0][0]

    ya = y - tau * z_obs
    t0 = coef(z_obs, ya)
    ts = np.array([coef(z, ya) for z in assignments])
    return np.mean(np.abs(ts) >= abs(t0) - 1e-9 * max(1, abs(t0))), t0


def _small_stratified():
    strata = np.array(["a"] * 6 + ["b"] * 6)
    z = np.array([1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0])
    rng = np.random.default_rng(8)
    x = rng.normal(size=12)
    y = 1.0 + 0.8 * z + 0.7 * x + (strata == "b") + rng.normal(size=12)
    # every assignment with 3 of 6 treated in each stratum
    sets = list(itertools.combinations(range(6), 3))
    assignments = []
    for s1, s2 in itertools.product(sets, sets):
        zz = np.zeros(12, dtype=int)
        zz[list(s1)] = 1
        zz[[6 + i for i in s2]] = 1
        assignments.append(zz)
    return strata, z, x, y, np.array(assignments)


def test_exact_p_value_equals_brute_force_enumeration_with_fixed_effects_and_covariate():
    strata, z, x, y, assignments = _small_stratified()
    d = RIDesign("stratified_block", arms=("c", "t"), observed=z, strata=strata, block_sizes=(6,),
                 blocks=np.where(strata == "a", 1, 2))
    res = randomisation_test(y, d, covariates={"x": x}, seed=3, n_permutations=1000)
    p_ref, t_ref = _brute_force_p(y, z, strata, x, assignments)
    row = res.effects[0]
    assert res.approach == ("enumerated",) and res.n_draws == (400,)
    assert row.statistic == pytest.approx(t_ref, rel=1e-10)
    assert row.p_value == pytest.approx(p_ref, abs=1e-12)
    # the reported estimate is the estimator's own (ols with stratum FE and the covariate)
    assert row.estimate == pytest.approx(t_ref, rel=1e-10)


def test_sampled_p_value_is_within_monte_carlo_error_of_the_exact_one():
    strata, z, x, y, assignments = _small_stratified()
    d = RIDesign("stratified_block", arms=("c", "t"), observed=z, strata=strata, block_sizes=(6,),
                 blocks=np.where(strata == "a", 1, 2))
    p_ref, _ = _brute_force_p(y, z, strata, x, assignments)
    res = randomisation_test(y, d, covariates={"x": x}, seed=4, n_permutations=4000, exact="never")
    assert res.approach == ("full",)
    se = math.sqrt(p_ref * (1 - p_ref) / 4000)
    assert abs(res.effects[0].p_value - p_ref) < 4 * se + 1 / 4001


def test_interval_is_the_set_of_unrejected_constant_effects():
    """Test inversion by brute force: p(tau) on a grid from full enumeration; the CI hull's ends are
    where p crosses alpha (grid points inside are unrejected, points beyond the ends rejected)."""
    strata, z, x, y, assignments = _small_stratified()
    d = RIDesign("stratified_block", arms=("c", "t"), observed=z, strata=strata, block_sizes=(6,),
                 blocks=np.where(strata == "a", 1, 2))
    res = randomisation_test(y, d, covariates={"x": x}, seed=3, ci_level=0.9)
    lo, hi = res.effects[0].ci_lower, res.effects[0].ci_upper
    assert lo < res.effects[0].estimate < hi
    for tau in np.linspace(lo - 1.0, hi + 1.0, 41):
        p, _ = _brute_force_p(y, z, strata, x, assignments, tau=tau)
        if lo + 1e-6 < tau < hi - 1e-6:
            pass  # inside the hull p may dip below alpha only if the region were not an interval
        if tau < lo - 1e-6 or tau > hi + 1e-6:
            assert p <= 0.1 + 1e-12
    # just inside both ends the constant effect is not rejected
    for tau in (lo + 1e-7, hi - 1e-7):
        assert _brute_force_p(y, z, strata, x, assignments, tau=tau)[0] > 0.1 - 1e-12


def test_observed_statistics_equal_the_registered_estimators():
    """The vectorised statistics reproduce ols (stratum FE) and blocked difference in means, which are
    tested against estimatr in tests/analyse."""
    rng = np.random.default_rng(2)
    strata = rng.integers(4, size=80)
    a = stratified_block.assign(strata, (1, 1, 1), (6,), rng=3)
    y = rng.normal(size=80) + a.arm * 0.3
    d = RIDesign("stratified_block", arms=("c", "t", "u"), observed=a.arm, strata=strata, block_sizes=(6,),
                 blocks=a.block)
    labels = np.array(["c", "t", "u"])[a.arm]
    for estimator in ("ols", "difference_in_means"):
        res = randomisation_test(y, d, estimator=estimator, seed=1, n_permutations=50, confidence_interval=False)
        ref = get_estimator(estimator).fit(y, labels, control="c", strata=strata.astype(str))
        for row, e in zip(res.effects, ref):
            assert row.arm == e.term
            assert row.statistic == pytest.approx(e.estimate, rel=1e-10)


def _multi_arm_rejection_rate(n_sims: int, n_perm: int, seed: int) -> float:
    """Leveling third arm (ri2 vignette): control/T2 outcomes sd 6, T3 outcomes ~1.5 with sd 0.1; the
    T2 sharp null is true. The conditional test must reject at 5%."""
    rng = np.random.default_rng(seed)
    rejections = 0
    for _ in range(n_sims):
        z = complete.assign(90, (1, 1, 1), rng=rng).arm
        y0 = rng.normal(0, 6, size=90)
        y = np.where(z == 2, rng.normal(1.5, 0.1, size=90), y0)
        d = RIDesign("complete", arms=("T1", "T2", "T3"), observed=z)
        res = randomisation_test(y, d, estimator="difference_in_means", seed=rng, n_permutations=n_perm,
                                 confidence_interval=False)
        rejections += res.effects[0].p_value <= 0.05
    return rejections / n_sims


def test_multi_arm_conditional_test_has_nominal_size():
    rate = _multi_arm_rejection_rate(300, 199, seed=10)
    assert abs(rate - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 300)


@pytest.mark.slow
def test_multi_arm_conditional_test_has_nominal_size_long():
    rate = _multi_arm_rejection_rate(2000, 399, seed=11)
    assert abs(rate - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 2000)


def test_minimisation_two_arm_null_p_values_are_uniform():
    """Replaying minimisation gives valid p-values: under the null, P(p <= 0.1) ~ 0.1 (and not 0)."""
    from bitframe.randomise import minimisation
    from bitframe.randomise.rerandomise import RIDesign as D

    rng = np.random.default_rng(5)
    hits = 0
    n_sims = 150
    for _ in range(n_sims):
        f = {"sex": rng.choice(["F", "M"], 30), "age": rng.choice(["y", "o"], 30)}
        z = minimisation.assign(f, (1, 1), rng=rng).arm
        y = rng.normal(size=30) + (f["sex"] == "F") * 2
        d = D("minimisation", arms=("c", "t"), observed=z, factors=f)
        res = randomisation_test(y, d, estimator="difference_in_means", seed=rng, n_permutations=99,
                                 confidence_interval=False)
        hits += res.effects[0].p_value <= 0.1
    assert abs(hits / n_sims - 0.1) < 3.5 * math.sqrt(0.09 / n_sims)


def test_studentised_statistic_and_ri2_convention():
    y = np.array([15, 15, 20, 20, 10, 15, 30.0])
    z = np.array([1, 0, 0, 0, 0, 0, 1])
    d = RIDesign("complete", arms=("0", "1"), ratio=(5, 2), observed=z)
    t = randomisation_test(y, d, estimator="difference_in_means", statistic="t", seed=1).effects[0]
    se = math.sqrt(np.var([15, 30.0], ddof=1) / 2 + np.var([15, 20, 20, 10, 15.0], ddof=1) / 5)
    assert t.statistic == pytest.approx(6.5 / se)
    assert 0 <= t.p_value <= 1 and t.ci_lower < 6.5 < t.ci_upper
    mc = randomisation_test(y, d, seed=2, n_permutations=500, exact="never", include_observed=False).effects[0]
    mc1 = randomisation_test(y, d, seed=2, n_permutations=500, exact="never").effects[0]
    b = round(mc.p_value * 500)
    assert mc1.p_value == pytest.approx((b + 1) / 501)


def test_argument_errors():
    d = RIDesign("complete", arms=("0", "1"), observed=np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="Unknown statistic"):
        randomisation_test(np.ones(4), d, statistic="f", seed=1)
    with pytest.raises(ValueError, match="must have 4 entries"):
        randomisation_test(np.ones(3), d, seed=1)
    with pytest.raises(ValueError, match="n_permutations"):
        randomisation_test(np.ones(4), d, seed=1, n_permutations=0)


def test_ri_design_from_an_allocation_reruns_its_scheme():
    """ri_design reads the list in enrolment order: observed arms, strata, blocks, minimisation factors."""
    import pandas as pd

    from bitframe.randomise import Design, randomise
    from bitframe.randomise.rerandomise import draw_assignments, ri_design

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"pid": [f"p{i}" for i in range(60)], "site": rng.choice(["a", "b"], 60),
                       "sex": rng.choice(["F", "M"], 60)})
    al = randomise(df, Design("stratified_block", arms=("c", "s", "l"), strata=("site",), block_sizes=(3,)),
                   id_column="pid", seed=5)
    d = ri_design(al)
    assert [d.arms[i] for i in d.observed] == al.table["arm"].astype(str).tolist()
    A = draw_assignments(d, 50, rng=1)
    for b in np.unique(d.blocks):  # full blocks of 3 hold one of each arm in every re-run
        members = d.blocks == b
        if members.sum() == 3:
            assert np.all(np.sort(A[:, members], axis=1) == [0, 1, 2])
    m = randomise(df, Design("minimisation", arms=("c", "t"), factors=("site", "sex")), id_column="pid", seed=6)
    res = randomisation_test(rng.normal(size=60), ri_design(m), seed=2, n_permutations=200)
    assert res.approach == ("full",) and 0 < res.effects[0].p_value <= 1


# --------------------------------------------------------------------------------------------
# the batched statistics equal a refit of the registered estimator per draw
# --------------------------------------------------------------------------------------------


def _refit_every_draw(monkeypatch):
    """Route the batched Lin statistic through the per-draw refit it replaces (the reference)."""
    from bitframe.analyse.inference import ri

    monkeypatch.setattr(ri._Engine, "_lin", lambda self, A, Y: self._refit(A, Y))


def _assert_same_rows(fast, slow):
    for f, s in zip(fast.effects, slow.effects, strict=True):
        for name in ("estimate", "statistic", "p_value", "ci_lower", "ci_upper"):
            assert getattr(f, name) == pytest.approx(getattr(s, name), rel=1e-10, abs=1e-12, nan_ok=True), name
    np.testing.assert_allclose(fast.null, slow.null, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("arms", [("c", "t"), ("c", "t", "u")])
def test_lin_statistic_equals_refitting_lm_lin_per_draw(monkeypatch, arms):
    """Lin adjustment with covariates (one categorical) and stratum dummies: the per-arm algebra gives
    the refit's statistics (estimatr::lm_lin parity of the refit is tested in tests/analyse)."""
    rng = np.random.default_rng(21)
    n = 90
    strata = rng.integers(3, size=n)
    a = stratified_block.assign(strata, (1,) * len(arms), (2 * len(arms),), rng=4)
    cov = {"age": rng.normal(50, 12, n), "sex": rng.choice(["F", "M", "X"], n), "prior": rng.poisson(1.5, n) * 1.0}
    y = 0.4 * (a.arm == 1) + 0.03 * cov["age"] + rng.normal(size=n)
    y[[3, 17]] = np.nan  # missing outcomes: those units are re-randomised but not analysed
    d = RIDesign("stratified_block", arms=arms, observed=a.arm, strata=strata, block_sizes=(2 * len(arms),),
                 blocks=a.block)
    # HC1: a draw can give one unit leverage 1, where the refit's HC2 fails and it would count the draw as
    # extreme although the coefficient (the statistic) is defined; the batched statistic keeps the coefficient
    kwargs = {"estimator": "lin", "covariates": cov, "se_type": "HC1", "seed": 9, "n_permutations": 12, "exact": "never",
                  "keep_null": True}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_draw(monkeypatch)
    _assert_same_rows(fast, randomisation_test(y, d, **kwargs))


def test_lin_statistic_in_a_cluster_design_with_a_covariate_equals_the_refit(monkeypatch):
    rng = np.random.default_rng(22)
    clusters = np.repeat(np.arange(16), rng.integers(3, 8, size=16))
    n = clusters.size
    treated = rng.permutation(np.repeat([0, 1], 8))
    z = treated[clusters]
    x = rng.normal(size=n) + 0.5 * rng.normal(size=16)[clusters]
    y = 0.5 * z + x + rng.normal(size=16)[clusters] + rng.normal(size=n)
    d = RIDesign("cluster", arms=("c", "t"), observed=z, clusters=clusters)
    kwargs = {"estimator": "lin", "covariates": {"x": x}, "seed": 3, "n_permutations": 30, "exact": "never", "keep_null": True}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_draw(monkeypatch)
    _assert_same_rows(fast, randomisation_test(y, d, **kwargs))


@pytest.mark.filterwarnings("ignore:Dropped collinear design columns")
def test_lin_draws_where_a_covariate_has_no_spread_in_an_arm_are_refitted(monkeypatch):
    """A rare binary covariate is constant within an arm in some draws; R's lm drops its interaction
    there, which the per-arm algebra hands back to the refit, so the numbers still agree."""
    rng = np.random.default_rng(23)
    n = 24
    rare = np.zeros(n)
    rare[[2, 9]] = 1.0
    z = complete.assign(n, (1, 1), rng=5).arm
    y = z + rare + rng.normal(size=n)
    d = RIDesign("complete", arms=("c", "t"), observed=z)
    kwargs = {"estimator": "lin", "covariates": {"rare": rare, "x": rng.normal(size=n)}, "se_type": "HC1", "seed": 4,
                  "n_permutations": 25, "exact": "never", "keep_null": True}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_draw(monkeypatch)
    _assert_same_rows(fast, randomisation_test(y, d, **kwargs))


def test_clustered_difference_in_means_statistic_is_batched_and_equals_the_estimator():
    """With clusters the difference in means is still the difference of unit means (its CR2 SE aside)."""
    rng = np.random.default_rng(24)
    clusters = np.repeat(np.arange(8), 3)
    blocks = np.repeat(np.arange(2), 12)
    z = np.zeros(24, dtype=int)
    for b in range(2):
        z[np.isin(clusters, rng.choice(np.arange(4 * b, 4 * b + 4), 2, replace=False))] = 1
    y = z + rng.normal(size=24)
    d = RIDesign("stratified_cluster", arms=("c", "t"), observed=z, clusters=clusters, strata=blocks)
    res = randomisation_test(y, d, estimator="difference_in_means", seed=1)
    assert res.approach == ("enumerated",) and res.n_draws == (36,)
    dim = get_estimator("difference_in_means")
    labels = np.array(["c", "t"])
    ref = dim.fit(y, labels[z], control="c", clusters=clusters, strata=blocks.astype(str))
    assert res.effects[0].statistic == pytest.approx(ref[0].estimate, rel=1e-12)
    # the exact p-value by enumeration with the estimator itself
    stats = [dim.fit(y, labels[a], control="c", clusters=clusters, strata=blocks.astype(str))[0].estimate
             for a in enumerate_assignments(d)]
    expected = np.mean(np.abs(stats) >= abs(ref[0].estimate) - 1e-9)
    assert res.effects[0].p_value == pytest.approx(expected, abs=1e-12)


def _refit_every_regression(monkeypatch):
    from bitframe.analyse.inference import ri

    monkeypatch.setattr(ri._Engine, "_regression", lambda self, A, Y: self._refit(A, Y))


@pytest.mark.parametrize(("estimator", "se_type"), [("ols", "HC2"), ("ols", "classical"), ("lin", "HC3"),
                                                    ("lin", "HC1"), ("ols", "HC0")])
def test_studentised_regression_statistic_equals_the_refit(monkeypatch, estimator, se_type):
    """statistic='t' with covariates and stratum fixed effects (three arms): X'X, leverages and the
    sandwich for all draws at once give the refit's t statistics."""
    rng = np.random.default_rng(25)
    n = 60
    strata = rng.integers(3, size=n)
    a = stratified_block.assign(strata, (1, 1, 1), (6,), rng=6)
    cov = {"age": rng.normal(50, 12, n), "score": rng.normal(size=n)}
    y = 0.4 * (a.arm == 1) + 0.03 * cov["age"] + rng.normal(size=n) * (1 + a.arm)
    d = RIDesign("stratified_block", arms=("c", "t", "u"), observed=a.arm, strata=strata, block_sizes=(6,),
                 blocks=a.block)
    kwargs = {"estimator": estimator, "covariates": cov, "se_type": se_type, "statistic": "t", "seed": 2,
              "n_permutations": 12, "exact": "never", "keep_null": True, "confidence_interval": False}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_regression(monkeypatch)
    _assert_same_rows(fast, randomisation_test(y, d, **kwargs))


@pytest.mark.parametrize("se_type", ["CR0", "CR1", "stata", "CR2"])
def test_studentised_cluster_robust_statistic_equals_the_refit(monkeypatch, se_type):
    rng = np.random.default_rng(26)
    clusters = np.repeat(np.arange(12), rng.integers(3, 7, size=12))
    n = clusters.size
    z = rng.permutation(np.repeat([0, 1], 6))[clusters]
    x = rng.normal(size=n)
    y = 0.5 * z + x + rng.normal(size=12)[clusters] + rng.normal(size=n)
    d = RIDesign("cluster", arms=("c", "t"), observed=z, clusters=clusters)
    kwargs = {"estimator": "lin", "covariates": {"x": x}, "se_type": se_type, "statistic": "t", "seed": 3,
              "n_permutations": 15, "exact": "never", "keep_null": True, "confidence_interval": False}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_regression(monkeypatch)
    _assert_same_rows(fast, randomisation_test(y, d, **kwargs))


@pytest.mark.parametrize("estimator", ["ols", "lin"])
def test_studentised_cr2_statistic_with_strata_and_unequal_clusters_equals_the_refit(monkeypatch, estimator):
    """CR2's t in a stratified cluster design with a covariate and clusters of unequal sizes (one of
    a single unit): the batched Bell-McCaffrey adjustment (k x k eigenproblems per cluster) gives
    the refit's t statistics, whose CR2 matches estimatr (tests/analyse/test_linear_reference.py)."""
    rng = np.random.default_rng(27)
    sizes = np.concatenate([[1], rng.integers(2, 9, size=15)])
    clusters = np.repeat(np.arange(16), sizes)
    strata_of_cluster = np.repeat([0, 1], 8)
    z_cluster = np.concatenate([rng.permutation([0] * 4 + [1] * 4) for _ in range(2)])
    z = z_cluster[clusters]
    x = rng.normal(size=clusters.size)
    y = 0.3 * z + x + rng.normal(size=16)[clusters] + rng.normal(size=clusters.size)
    d = RIDesign("stratified_cluster", arms=("c", "t"), observed=z, clusters=clusters,
                 strata=strata_of_cluster[clusters])
    kwargs = {"estimator": estimator, "covariates": {"x": x}, "se_type": "CR2", "statistic": "t", "seed": 4,
              "n_permutations": 15, "exact": "never", "keep_null": True, "confidence_interval": False}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_regression(monkeypatch)
    _assert_same_rows(fast, randomisation_test(y, d, **kwargs))


@pytest.mark.parametrize(("design_kind", "se_type"), [("cluster", "CR2"), ("cluster", "CR0"), ("block", "HC2"),
                                                      ("block", "classical")])
def test_studentised_interval_from_the_quadratic_equals_evaluating_every_tau(monkeypatch, design_kind, se_type):
    """The test-inversion interval of ``t``: from each draw's numerator and variance as polynomials
    in tau (one pass) it equals re-evaluating every draw at each trial tau (the general path)."""
    from bitframe.analyse.inference import ri

    rng = np.random.default_rng(28)
    if design_kind == "cluster":
        clusters = np.repeat(np.arange(14), rng.integers(2, 7, size=14))
        z = rng.permutation(np.repeat([0, 1], 7))[clusters]
        d = RIDesign("cluster", arms=("c", "t"), observed=z, clusters=clusters)
        n = clusters.size
    else:
        n = 48
        strata = rng.integers(2, size=n)
        a = stratified_block.assign(strata, (1, 1), (4,), rng=3)
        z = a.arm
        d = RIDesign("stratified_block", arms=("c", "t"), observed=z, strata=strata, block_sizes=(4,), blocks=a.block)
    x = rng.normal(size=n)
    y = 0.6 * z + x + rng.normal(size=n)
    kwargs = {"estimator": "ols", "covariates": {"x": x}, "se_type": se_type, "statistic": "t", "seed": 5,
              "n_permutations": 200, "exact": "never"}
    fast = randomisation_test(y, d, **kwargs)
    monkeypatch.setattr(ri, "_t_as_quadratic", lambda *args: None)
    slow = randomisation_test(y, d, **kwargs)
    [f], [s] = fast.effects, slow.effects
    assert np.isfinite(f.ci_lower) and np.isfinite(f.ci_upper)
    assert f.ci_lower == pytest.approx(s.ci_lower, rel=1e-6, abs=1e-9)
    assert f.ci_upper == pytest.approx(s.ci_upper, rel=1e-6, abs=1e-9)
    assert f.p_value == s.p_value


def test_studentised_clustered_difference_in_means_equals_the_refit(monkeypatch):
    """The clustered difference in means is y ~ 1 + t with CR2 (bitframe.analyse.dim, matched to
    estimatr there): its batched ``t`` equals a refit of the estimator per draw, interval included."""
    rng = np.random.default_rng(29)
    clusters = np.repeat(np.arange(12), rng.integers(2, 8, size=12))
    z = rng.permutation(np.repeat([0, 1], 6))[clusters]
    y = 0.5 * z + rng.normal(size=12)[clusters] + rng.normal(size=clusters.size)
    d = RIDesign("cluster", arms=("c", "t"), observed=z, clusters=clusters)
    kwargs = {"estimator": "difference_in_means", "statistic": "t", "seed": 6, "n_permutations": 20,
              "exact": "never", "keep_null": True}
    fast = randomisation_test(y, d, **kwargs)
    _refit_every_regression(monkeypatch)
    from bitframe.analyse.inference import ri

    monkeypatch.setattr(ri, "_t_as_quadratic", lambda *args: None)
    slow = randomisation_test(y, d, **kwargs)
    for name in ("estimate", "statistic", "p_value"):
        assert getattr(fast.effects[0], name) == pytest.approx(getattr(slow.effects[0], name), rel=1e-10), name
    np.testing.assert_allclose(fast.null, slow.null, rtol=1e-10, atol=1e-12)
    assert fast.effects[0].ci_lower == pytest.approx(slow.effects[0].ci_lower, rel=1e-6)
    assert fast.effects[0].ci_upper == pytest.approx(slow.effects[0].ci_upper, rel=1e-6)


@pytest.mark.parametrize("block_sizes", [(4,), (6,)])
def test_studentised_blocked_difference_in_means_equals_the_refit(monkeypatch, block_sizes):
    """The blocked difference in means' ``t`` (bitframe.analyse.dim's ``blocked``: block estimates
    weighted by block size, Neyman variances; matched to estimatr there) from per-block sums of
    every draw equals a refit of the estimator per draw, interval included. Small blocks make some
    draws leave a block with one unit of an arm (the refit's error; NaN in both)."""
    from bitframe.analyse.inference import ri

    rng = np.random.default_rng(30)
    n = 60
    strata = rng.integers(4, size=n)
    a = stratified_block.assign(strata, (1, 1), block_sizes, rng=7)
    y = 0.5 * a.arm + strata + rng.normal(size=n) * (1 + a.arm)
    d = RIDesign("stratified_block", arms=("c", "t"), observed=a.arm, strata=strata, block_sizes=block_sizes,
                 blocks=a.block)
    kwargs = {"estimator": "difference_in_means", "statistic": "t", "seed": 8, "n_permutations": 30,
              "exact": "never", "keep_null": True}
    fast = randomisation_test(y, d, **kwargs)
    monkeypatch.setattr(ri._Engine, "_blocked_dim_t", lambda self, A, Y: self._refit(A, Y))
    monkeypatch.setattr(ri, "_t_as_quadratic", lambda *args: None)
    slow = randomisation_test(y, d, **kwargs)
    for name in ("estimate", "statistic", "p_value"):
        assert getattr(fast.effects[0], name) == pytest.approx(getattr(slow.effects[0], name), rel=1e-10), name
    np.testing.assert_allclose(fast.null, slow.null, rtol=1e-10, atol=1e-12)
    assert np.isfinite(fast.effects[0].ci_lower)
    assert fast.effects[0].ci_lower == pytest.approx(slow.effects[0].ci_lower, rel=1e-6)
    assert fast.effects[0].ci_upper == pytest.approx(slow.effects[0].ci_upper, rel=1e-6)
