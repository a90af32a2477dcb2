"""Invalid assumptions and arguments: clear ValueErrors naming the parameter, the
value and the allowed range (messages pinned)."""

from __future__ import annotations

import re

import pytest

from bitframe.power import (
    CALCULATORS,
    InfeasibleDesignError,
    chi_square,
    cluster,
    multi_arm,
    one_way_anova,
    stepped_wedge,
    two_means,
    two_proportions,
    two_rates,
)


def msg(text: str) -> str:
    return re.escape(text)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: two_means("power", sd=-1, mde=0.5, n=20),
         "The 'sd' parameter of two_means must be a float in the range (0, inf). Got -1 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, alpha=2),
         "The 'alpha' parameter of two_means must be a float in the range (0, 1). Got 2 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, alpha=0),
         "The 'alpha' parameter of two_means must be a float in the range (0, 1). Got 0 instead."),
        (lambda: two_means("n", sd=1, mde=0.5, power=0.04),
         "The 'power' parameter of two_means must be a float in the range (alpha, 1) = (0.05, 1)"),
        (lambda: two_means("n", sd=1, mde=0.5, power=1.0),
         "The 'power' parameter of two_means must be a float in the range (0, 1). Got 1.0 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, sides=3),
         "The 'sides' parameter of two_means must be 1 or 2. Got 3 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, ratio=0),
         "The 'ratio' parameter of two_means must be a float in the range (0, inf). Got 0 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, attrition=1),
         "The 'attrition' parameter of two_means must be a float in the range [0, 1). Got 1 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, r_squared=-0.1),
         "The 'r_squared' parameter of two_means must be a float in the range [0, 1). Got -0.1 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=0.5),
         "The 'n' parameter of two_means must be a float in the range [1, inf). Got 0.5 instead."),
        (lambda: two_means("power", sd=1, mde=0, n=20),
         "The 'mde' parameter of two_means must be a non-zero float. Got 0 instead."),
        (lambda: two_means("power", sd=1, mde=0.5, n=20, strict="yes"),
         "The 'strict' parameter of two_means must be a bool. Got 'yes' instead."),
        (lambda: two_proportions("power", p0=1.2, p1=0.5, n=20),
         "The 'p0' parameter of two_proportions must be a float in the range (0, 1). Got 1.2 instead."),
        (lambda: two_proportions("power", p0=0.2, p1=0.0, n=20),
         "The 'p1' parameter of two_proportions must be a float in the range (0, 1). Got 0.0 instead."),
        (lambda: two_proportions("power", p0=0.2, mde=0.9, n=20),
         "The 'mde' parameter of two_proportions must be a float in the range (-0.2, 0.8). Got 0.9 instead."),
        (lambda: two_proportions("power", p0=0.2, p1=0.2, n=20),
         "two_proportions: p1 must differ from p0 (both 0.2); there is no effect to detect."),
        (lambda: two_proportions("power", p0=0.2, p1=0.3, mde=0.1, n=20),
         "two_proportions: pass either 'p1' (treatment proportion) or 'mde' (p1 - p0), not both."),
        (lambda: two_proportions("power", p0=0.2, p1=0.3, n=20, direction="decrease"),
         "two_proportions: direction='decrease' contradicts p1=0.3 vs p0=0.2."),
        (lambda: two_rates("power", rate0=0, rate_ratio=0.8, n=20),
         "The 'rate0' parameter of two_rates must be a float in the range (0, inf). Got 0 instead."),
        (lambda: two_rates("power", rate0=1, rate_ratio=1, n=20),
         "two_rates: rate_ratio must differ from 1; there is no effect to detect."),
        (lambda: two_rates("power", rate0=1, rate_ratio=0.8, n=20, dispersion=0.5),
         "The 'dispersion' parameter of two_rates must be a float in the range [1, inf). Got 0.5 instead."),
        (lambda: cluster("power", icc=1.0, clusters=10, cluster_size=20, sd=1, mde=0.3),
         "The 'icc' parameter of cluster must be a float in the range [0, 1). Got 1.0 instead."),
        (lambda: cluster("power", icc=-0.01, clusters=10, cluster_size=20, sd=1, mde=0.3),
         "The 'icc' parameter of cluster must be a float in the range [0, 1). Got -0.01 instead."),
        (lambda: cluster("power", icc=0.05, clusters=10, cluster_size=20, cluster_size_cv=-1, sd=1, mde=0.3),
         "The 'cluster_size_cv' parameter of cluster must be a float in the range [0, inf). Got -1 instead."),
        (lambda: cluster("power", icc=0.05, clusters=1, cluster_size=20, sd=1, mde=0.3),
         "cluster: clusters=1 per control arm leaves no degrees of freedom for the t-test"),
        (lambda: stepped_wedge("power", steps=4, clusters_per_step=2, cluster_size=10, sd=1, mde=0.2, icc=0.05,
                               tau=0.1),
         "stepped_wedge: pass exactly one of 'tau' (between-cluster SD) or 'icc'."),
        (lambda: stepped_wedge("power", steps=4, clusters_per_step=2, cluster_size=10, mde=0.2, icc=0.05),
         "stepped_wedge: pass exactly one of 'sd' (continuous outcome) or 'p0' (binary outcome)."),
        (lambda: stepped_wedge("clusters", design=[[0, 1], [0, 0]], cluster_size=10, sd=1, mde=0.2, icc=0.05,
                               power=0.8),
         "stepped_wedge(solve_for='clusters') needs the standard design ('steps')"),
        (lambda: stepped_wedge("power", design=[[0, 2], [0, 0]], cluster_size=10, sd=1, mde=0.2, icc=0.05),
         "The 'design' parameter of stepped_wedge must be a 2-D 0/1 matrix"),
        (lambda: stepped_wedge("power", steps=0, clusters_per_step=2, cluster_size=10, sd=1, mde=0.2, icc=0.05),
         "The 'steps' parameter of stepped_wedge must be an int in the range [1, inf). Got 0 instead."),
        (lambda: one_way_anova("power", groups=1, f=0.25, n=20),
         "The 'groups' parameter of one_way_anova must be an int in the range [2, inf). Got 1 instead."),
        (lambda: chi_square("power", df=0, w=0.3, n=100),
         "The 'df' parameter of chi_square must be an int in the range [1, inf). Got 0 instead."),
        (lambda: multi_arm("power", arms=0, sd=1, mde=0.3, n=50),
         "The 'arms' parameter of multi_arm must be an int in the range [1, inf). Got 0 instead."),
    ],
)
def test_argument_errors(call, message):
    with pytest.raises(ValueError, match=msg(message)):
        call()


def test_unknown_solve_target_lists_valid_ones():
    with pytest.raises(ValueError, match=msg("two_means: Unknown solve_for 'sample_size'; valid values: "
                                             "'mde', 'n', 'power'.")):
        two_means("sample_size", sd=1, mde=0.5, power=0.8)
    with pytest.raises(ValueError, match=msg("did you mean 'clusters'? Valid values: 'cluster_size', 'clusters', "
                                             "'mde', 'power'")):
        cluster("cluster", icc=0.05, cluster_size=20, sd=1, mde=0.3, power=0.8)
    with pytest.raises(ValueError, match=msg("cluster: Unknown solve_for 'n'")):
        cluster("n", icc=0.05, cluster_size=20, clusters=10, sd=1, mde=0.3, power=0.8)


def test_explicit_targets_never_guess():
    """The solved quantity must not be passed, and the others must be."""
    with pytest.raises(ValueError, match=msg("two_means(solve_for='n') solves for 'n'; do not also pass it.")):
        two_means("n", sd=1, mde=0.5, n=50, power=0.8)
    with pytest.raises(ValueError, match=msg("two_means(solve_for='power') solves for 'power'; do not also pass it.")):
        two_means("power", sd=1, mde=0.5, n=50, power=0.8)
    with pytest.raises(ValueError, match=msg("two_means(solve_for='power') needs 'mde'; pass it as keyword argument.")):
        two_means("power", sd=1, n=50)
    with pytest.raises(ValueError, match=msg("two_means(solve_for='n') needs 'power'")):
        two_means("n", sd=1, mde=0.5)
    with pytest.raises(ValueError, match=msg("two_proportions(solve_for='mde') solves for 'p1', 'mde'")):
        two_proportions("mde", p0=0.2, p1=0.3, mde=0.1, n=50, power=0.8)
    with pytest.raises(ValueError, match=msg("cluster(solve_for='clusters') solves for 'clusters'")):
        cluster("clusters", icc=0.05, clusters=10, cluster_size=20, sd=1, mde=0.3, power=0.8)


def test_unknown_options_suggest_spelling():
    with pytest.raises(ValueError, match=msg("two_proportions: Unknown method 'fleis_cc'; did you mean 'fleiss_cc'?")):
        two_proportions("power", p0=0.2, p1=0.3, n=50, method="fleis_cc")
    with pytest.raises(ValueError, match=msg("multi_arm: Unknown correction 'dunet'; did you mean 'dunnett'?")):
        multi_arm("power", arms=2, sd=1, mde=0.3, n=50, correction="dunet")
    with pytest.raises(ValueError, match=msg("multi_arm: Unknown method 'fleiss_cc'; valid values: 'arcsine', "
                                             "'pooled', 'unpooled'.")):
        multi_arm("power", arms=2, outcome="binary", p0=0.2, p1=0.3, n=50, method="fleiss_cc")
    with pytest.raises(ValueError, match=msg("cluster: unknown parameter(s) ['p0'] for outcome 'continuous'; "
                                             "valid: ['mde', 'n_covariates', 'r_squared', 'sd'].")):
        cluster("power", icc=0.05, clusters=10, cluster_size=20, sd=1, mde=0.3, p0=0.2)
    with pytest.raises(ValueError, match=msg("Unknown power calculator 'two_mean'; did you mean 'two_means'?")):
        CALCULATORS.get("two_mean")


def test_cluster_size_plateau_is_explained():
    """Fixed clusters: power plateaus as clusters grow; the error says so and how many clusters are needed."""
    with pytest.raises(InfeasibleDesignError) as info:
        cluster("cluster_size", icc=0.1, clusters=5, sd=1, mde=0.3, power=0.8, method="normal")
    text = str(info.value)
    assert text.startswith("cluster: infeasible: with 5 clusters per control arm and ICC 0.1, power cannot exceed 0.")
    assert "however large the clusters are" in text
    need = int(re.search(r"at least (\d+) clusters per control arm", text).group(1))
    # the advised number of clusters does make some cluster size sufficient, one fewer does not
    assert cluster("cluster_size", icc=0.1, clusters=need, sd=1, mde=0.3, power=0.8, method="normal").power >= 0.8
    with pytest.raises(InfeasibleDesignError):
        cluster("cluster_size", icc=0.1, clusters=need - 1, sd=1, mde=0.3, power=0.8, method="normal")
    assert isinstance(info.value, ValueError)


def test_unreachable_mde_is_reported():
    with pytest.raises(InfeasibleDesignError, match=r"no effect in the direction 'increase' reaches power 0.99 "
                                                    "with n=3"):
        two_proportions("mde", p0=0.6, n=3, power=0.99, method="fleiss_cc")


def test_no_df_left_for_t_test():
    with pytest.raises(ValueError, match=msg("two_means: n=1 leaves no error degrees of freedom for the t-test")):
        two_means("power", sd=1, mde=0.5, n=1)
