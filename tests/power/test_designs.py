"""Design-specific behaviour: identities between calculators that must hold exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bitframe.power import (
    chi_square,
    cluster,
    cohens_f,
    design_effect,
    multi_arm,
    one_way_anova,
    standard_design,
    stepped_wedge,
    two_means,
    two_proportions,
    two_rates,
)


def test_cluster_without_clustering_is_individual_randomisation():
    r = cluster("power", icc=0.0, clusters=12, cluster_size=15, sd=2, mde=0.8, method="normal")
    ind = two_means("power", sd=2, mde=0.8, n=12 * 15, method="normal")
    assert r.power == pytest.approx(ind.power, abs=1e-15) and r.design_effect == 1.0


@pytest.mark.parametrize("outcome, params, twin", [
    ("binary", {"p0": 0.3, "p1": 0.4}, lambda n: two_proportions("power", p0=0.3, p1=0.4, n=n)),
    ("count", {"rate0": 0.5, "rate_ratio": 0.7}, lambda n: two_rates("power", rate0=0.5, rate_ratio=0.7, n=n)),
    ("continuous", {"sd": 1, "mde": 0.25, "method": "normal"},
     lambda n: two_means("power", sd=1, mde=0.25, n=n, method="normal")),
])
def test_cluster_uses_effective_sample_size(outcome, params, twin):
    """k clusters of mean size m carry k m / DE participants' information (Eldridge et al. 2006)."""
    k, m, icc, cv = 20, 30, 0.04, 0.5
    r = cluster("power", outcome=outcome, icc=icc, clusters=k, cluster_size=m, cluster_size_cv=cv, **params)
    de = design_effect(m, icc, cv)
    assert r.design_effect == pytest.approx(de)
    assert r.power == pytest.approx(twin(k * m / de).power, abs=1e-14)


def test_cluster_t_uses_cluster_level_df_and_allocation():
    r = cluster("power", icc=0.05, clusters=6, cluster_size=25, ratio=1.5, sd=1, mde=0.4)
    assert (r.n_clusters_control, r.n_clusters_treatment, r.n_clusters) == (6, 9, 15)
    assert r.df == 6 + 9 - 2
    solved = cluster("clusters", icc=0.05, cluster_size=25, ratio=1.5, sd=1, mde=0.4, power=0.8)
    assert solved.n_clusters_treatment == math.ceil(1.5 * solved.n_solution)
    assert solved.power >= 0.8


def test_cluster_attrition_acts_on_cluster_size():
    """Attrition shrinks the analysed cluster size, which enters the design effect."""
    r = cluster("power", icc=0.05, clusters=10, cluster_size=40, attrition=0.25, sd=1, mde=0.3)
    same = cluster("power", icc=0.05, clusters=10, cluster_size=30, sd=1, mde=0.3)
    assert r.power == pytest.approx(same.power, abs=1e-15)
    assert r.design_effect == pytest.approx(design_effect(30, 0.05))
    assert r.n_total == 800 and r.n_control_analysed == 300
    size = cluster("cluster_size", icc=0.05, clusters=10, attrition=0.25, sd=1, mde=0.3, power=0.8)
    assert size.cluster_size == math.ceil(size.n_solution / 0.75)


def test_cluster_plateau_is_reported():
    r = cluster("power", icc=0.05, clusters=10, cluster_size=20, sd=1, mde=0.3, method="normal")
    cap = 10 / 0.05  # effective size per arm as m -> infinity
    assert r.max_power == pytest.approx(two_means("power", sd=1, mde=0.3, n=cap, method="normal").power)
    assert r.power < r.max_power


def test_stepped_wedge_design_variants_agree():
    kw = {"cluster_size": 30, "sd": 1.5, "mde": 0.4, "icc": 0.03}
    std = stepped_wedge("power", steps=3, clusters_per_step=2, **kw)
    custom = stepped_wedge("power", design=standard_design(3, 2), **kw)
    assert custom.power == pytest.approx(std.power, abs=1e-15)
    assert std.n_clusters == 6 and std.n_periods == 4 and std.n_total == 6 * 4 * 30
    assert std.n_control + std.n_treatment == std.n_total
    # tau and the ICC are two parameterisations of the same model
    tau = math.sqrt(0.03 * 1.5**2 / 0.97)
    via_tau = stepped_wedge("power", steps=3, clusters_per_step=2, cluster_size=30, sd=1.5, mde=0.4, tau=tau)
    assert via_tau.power == pytest.approx(std.power, abs=1e-14) and via_tau.icc == pytest.approx(0.03)
    # the sign of the effect does not matter for a two-sided test
    neg = stepped_wedge("power", steps=3, clusters_per_step=2, cluster_size=30, sd=1.5, mde=-0.4, icc=0.03)
    assert neg.power == pytest.approx(std.power, abs=1e-15)


def test_stepped_wedge_binary_variance():
    """Binary outcomes use sigma_e^2 = pbar (1 - pbar), pbar = (p0 + p1) / 2 (Hussey & Hughes 2007, 2.3)."""
    b = stepped_wedge("power", steps=4, clusters_per_step=3, cluster_size=50, p0=0.2, mde=0.1, tau=0.02)
    c = stepped_wedge("power", steps=4, clusters_per_step=3, cluster_size=50, sd=math.sqrt(0.25 * 0.75), mde=0.1,
                      tau=0.02)
    assert b.power == pytest.approx(c.power, abs=1e-15) and b.sd == pytest.approx(math.sqrt(0.1875))


def test_stepped_wedge_without_clustering_matches_regression_variance():
    """With tau = 0 the GLS estimator is OLS on cluster-period means: check against numpy lstsq."""
    X = standard_design(4, 1)
    n_clusters, T = X.shape
    rows = [np.r_[1.0, np.eye(T)[j][1:], X[i, j]] for i in range(n_clusters) for j in range(T)]
    Z = np.array(rows)
    var_ols = float(np.linalg.inv(Z.T @ Z)[-1, -1]) * (1.0 / 10)  # sigma_e^2 / m = 1 / 10
    r = stepped_wedge("power", steps=4, clusters_per_step=1, cluster_size=10, sd=1, mde=0.5, tau=0.0)
    z = 0.5 / math.sqrt(var_ols)
    from scipy.stats import norm

    assert r.power == pytest.approx(norm.cdf(z - norm.ppf(0.975)) + norm.cdf(-z - norm.ppf(0.975)), abs=1e-12)


@pytest.mark.parametrize("correction", ["none", "bonferroni", "holm", "dunnett"])
def test_multi_arm_with_one_arm_is_two_arm(correction):
    a = multi_arm("power", arms=1, sd=1, mde=0.4, n=60, ratio=1.5, correction=correction)
    b = two_means("power", sd=1, mde=0.4, n=60, ratio=1.5)
    assert a.power == pytest.approx(b.power, abs=1e-12)
    p = multi_arm("power", arms=1, outcome="binary", p0=0.2, p1=0.3, n=150, correction=correction)
    assert p.power == pytest.approx(two_proportions("power", p0=0.2, p1=0.3, n=150).power, abs=1e-12)


def test_multi_arm_sizes():
    r = multi_arm("n", arms=3, sd=1, mde=0.4, power=0.8, ratio=2, correction="dunnett")
    assert r.n_arms == 4 and r.n_total == r.n_control + 3 * r.n_treatment
    assert r.n_treatment == math.ceil(2 * r.n_solution)
    assert r.df == r.n_control_analysed + 3 * r.n_treatment_analysed - 4


def test_one_sided_tests_are_more_powerful_in_the_effect_direction():
    for s_call in (lambda s: two_means("power", sd=1, mde=0.3, n=80, sides=s),
                   lambda s: two_proportions("power", p0=0.5, p1=0.4, n=150, sides=s),
                   lambda s: two_rates("power", rate0=1, rate_ratio=0.8, n=100, sides=s)):
        assert s_call(1).power > s_call(2).power


def test_continuity_correction_is_conservative():
    cc = two_proportions("n", p0=0.1, p1=0.2, power=0.8, method="fleiss_cc")
    plain = two_proportions("n", p0=0.1, p1=0.2, power=0.8)
    assert cc.n_control > plain.n_control
    assert two_proportions("power", p0=0.1, p1=0.2, n=200, method="fleiss_cc").power < \
        two_proportions("power", p0=0.1, p1=0.2, n=200).power


def test_anova_with_two_groups_is_the_t_test():
    """For two groups F = t^2 and Cohen's f = d / 2 (Cohen 1988, eq. 8.2.4)."""
    for d, n in [(0.5, 30), (0.3, 100), (0.8, 12)]:
        f = cohens_f([0, d], 1.0)
        assert f == pytest.approx(d / 2)
        assert one_way_anova("power", groups=2, f=f, n=n).power == pytest.approx(
            two_means("power", sd=1, mde=d, n=n).power, abs=1e-8)


def test_chi_square_one_df_is_the_two_sided_z_test():
    """A 1-df chi-square test with noncentrality N w^2 is the two-sided z-test with ncp sqrt(N) w."""
    from scipy.stats import norm

    n, w = 150, 0.2
    z = norm.ppf(0.975)
    expected = norm.cdf(math.sqrt(n) * w - z) + norm.cdf(-math.sqrt(n) * w - z)
    assert chi_square("power", df=1, w=w, n=n).power == pytest.approx(expected, abs=1e-10)
