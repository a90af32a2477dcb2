"""Synthetic data: the generator reproduces the protocol's assumptions (checked in closed form)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitframe.protocol import load_protocol
from bitframe.simulate.data import SimulationSettings, arm_effects, simulate_outcomes, simulate_participants

ROOT = Path(__file__).resolve().parents[2]
# the randomised examples: a non-randomised `design:` (community-connectors*) has no participants to simulate
EXAMPLES = sorted(p for p in (ROOT / "protocols").glob("*.yaml")
                  if p.name != "programme.yaml" and "\ndesign:" not in p.read_text())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_participants_have_every_named_column_and_are_reproducible(path):
    protocol = load_protocol(path)
    a = simulate_participants(protocol, seed=1)
    b = simulate_participants(protocol, seed=1)
    c = simulate_participants(protocol, seed=2)
    assert a.equals(b) and not a.equals(c)
    named = {protocol.unit.id_column, *protocol.randomisation.strata, *protocol.analysis.covariates}
    if protocol.unit.cluster_column:
        named.add(protocol.unit.cluster_column)
    assert named <= set(a.columns)
    assert a[protocol.unit.id_column].is_unique
    if protocol.is_cluster:
        # cluster-level strata never vary within a cluster
        for s in protocol.randomisation.strata:
            assert (a.groupby(protocol.unit.cluster_column)[s].nunique() == 1).all()


def test_continuous_outcome_moments_match_assumptions():
    """Closed form: E[y | control] = control_mean, E[y | sms] - E[y | control] = mde, SD = sd."""
    protocol = load_protocol(ROOT / "protocols" / "sms-link-worker.yaml")
    people = simulate_participants(protocol, SimulationSettings(n=200_000), seed=3)
    people["arm"] = np.where(np.arange(len(people)) % 2 == 0, "usual", "sms")
    out = simulate_outcomes(protocol, people, SimulationSettings(attrition=0.0), seed=4)
    y, arm = out["swemwbs"].to_numpy(), people["arm"].to_numpy()
    a = protocol.outcomes[1].assumptions
    se = a.sd / np.sqrt(100_000)
    assert abs(y[arm == "usual"].mean() - a.control_mean) < 5 * se
    assert abs((y[arm == "sms"].mean() - y[arm == "usual"].mean()) - a.mde) < 5 * se * np.sqrt(2)
    assert abs(y[arm == "usual"].std() / a.sd - 1) < 0.02
    p = out["attended"].to_numpy()
    b = protocol.outcomes[0].assumptions
    assert abs(p[arm == "usual"].mean() - b.control_rate) < 0.01
    assert abs(p[arm == "sms"].mean() - p[arm == "usual"].mean() - b.mde) < 0.01


def test_icc_of_cluster_outcome():
    """One-way ANOVA estimator of the ICC recovers the protocol's ICC (large equal clusters)."""
    protocol = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    people = simulate_participants(protocol, SimulationSettings(n_clusters=400, cluster_size=50), seed=5)
    people["arm"] = "usual"
    out = simulate_outcomes(protocol, people, SimulationSettings(attrition=0.0), seed=6)
    frame = out.assign(c=people["neighbourhood"])
    groups = frame.groupby("c")["wemwbs"]
    sizes = groups.size()
    k, n = len(sizes), sizes.sum()
    msb = (sizes * (groups.mean() - frame["wemwbs"].mean()) ** 2).sum() / (k - 1)
    msw = ((frame["wemwbs"] - groups.transform("mean")) ** 2).sum() / (n - k)
    m0 = (n - (sizes**2).sum() / n) / (k - 1)
    icc = (msb - msw) / (msb + (m0 - 1) * msw)
    assert abs(icc - protocol.power.icc) < 0.015


def test_attrition_rate_and_null_effects():
    protocol = load_protocol(ROOT / "protocols" / "volunteer-letters.yaml")
    people = simulate_participants(protocol, SimulationSettings(n=50_000), seed=7)
    people["arm"] = np.random.default_rng(0).choice(["standard", "norm", "easy"], size=len(people))
    out = simulate_outcomes(protocol, people, SimulationSettings(attrition=0.2, effect_scale=0.0), seed=8)
    assert abs(out["registered"].isna().mean() - 0.2) < 0.01
    assert arm_effects(protocol, protocol.outcomes[0], 0.0) == {"standard": 0.0, "norm": 0.0, "easy": 0.0}
    assert arm_effects(protocol, protocol.outcomes[1], 1.0) == {"standard": 1.0, "norm": 1.3, "easy": 1.3}


# --------------------------------------------------------------------------------------------
# clustered outcomes keep the stated rate, effect and ICC (issue 13)
# --------------------------------------------------------------------------------------------

BATCHES = 20


def _cluster_protocol(kind: str, assumptions: dict, icc: float, cluster_size: float, cv: float):
    """peer-support-neighbourhoods with one outcome of ``kind``, no covariates and no attrition."""
    from bitframe.protocol.schema import Assumptions, Outcome

    base = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    outcome = Outcome(id="y", role="primary", type=kind, column="y", assumptions=Assumptions(**assumptions))
    return base.model_copy(update={
        "outcomes": (outcome,),
        "analysis": base.analysis.model_copy(update={"covariates": (), "adjustment": "none"}),
        "power": base.power.model_copy(update={"icc": icc, "cluster_size": cluster_size, "cluster_size_cv": cv,
                                               "attrition": 0.0}),
    })


def _anova_icc(y: np.ndarray, cluster: np.ndarray) -> float:
    """One-way ANOVA estimator of the ICC with unequal cluster sizes (Donner 1986; m0 as in Searle)."""
    _, codes = np.unique(cluster, return_inverse=True)
    sizes = np.bincount(codes).astype(float)
    k, n = sizes.size, sizes.sum()
    means = np.bincount(codes, weights=y) / sizes
    msb = (sizes * (means - y.mean()) ** 2).sum() / (k - 1)
    msw = ((y - means[codes]) ** 2).sum() / (n - k)
    m0 = (n - (sizes**2).sum() / n) / (k - 1)
    return (msb - msw) / (msb + (m0 - 1) * msw)


def _simulated_trial(protocol, n_clusters: int, seed: int):
    """Clusters alternately in control ('usual') and intervention ('circles'); outcomes from simulate_outcomes."""
    people = simulate_participants(protocol, SimulationSettings(n_clusters=n_clusters), seed=seed)
    cluster = people["neighbourhood"].to_numpy()
    _, codes = np.unique(cluster, return_inverse=True)
    people["arm"] = np.where(codes % 2 == 0, "usual", "circles")
    y = simulate_outcomes(protocol, people, seed=seed + 1)["y"].to_numpy()
    return y, codes, codes % 2 == 1


def _statistics(y, codes, treated, effect_scale: str) -> np.ndarray:
    control_rate = y[~treated].mean()
    arm_rate = y[treated].mean()
    effect = arm_rate / control_rate if effect_scale == "ratio" else arm_rate - control_rate
    return np.array([control_rate, effect, _anova_icc(y[~treated], codes[~treated]),
                     _anova_icc(y[treated], codes[treated])])


def _check_promises(kind, assumptions, truth, icc, n_clusters, seed, *, cluster_size=3.5, cv=0.6, scale="difference"):
    """Each statistic within 3 Monte Carlo SEs of its assumption; the SE is the delete-a-group
    jackknife over 20 groups of whole clusters (Efron & Tibshirani 1993, s. 11.5):
    ``sqrt((G - 1)/G sum_g (theta_(-g) - mean theta_(-))^2)``."""
    protocol = _cluster_protocol(kind, assumptions, icc, cluster_size, cv)
    y, codes, treated = _simulated_trial(protocol, n_clusters, seed)
    realised = _statistics(y, codes, treated, scale)
    group = (codes // 2) % BATCHES
    left_out = np.array([_statistics(y[group != g], codes[group != g], treated[group != g], scale)
                         for g in range(BATCHES)])
    mcse = np.sqrt((BATCHES - 1) / BATCHES * ((left_out - left_out.mean(axis=0)) ** 2).sum(axis=0))
    expected = np.array([*truth, icc, icc])
    for name, got, want, se in zip(("control rate", "effect", "control ICC", "intervention ICC"), realised,
                                   expected, mcse):
        assert abs(got - want) < 3 * se, f"{name}: {got:.5f} vs {want:.5f} (MC SE {se:.5f})"


CASES = [(rate, icc) for rate in (0.03, 0.3) for icc in (0.01, 0.05, 0.3)]


@pytest.mark.parametrize(("rate", "icc"), CASES)
def test_clustered_binary_outcome_keeps_rate_effect_and_icc(rate, icc):
    """Beta-binomial clusters: the realised control rate, risk difference and ANOVA ICC of each arm
    equal the assumptions within 3 MC SEs (2,000 clusters here; 20,000 in the slow suite)."""
    _check_promises("binary", {"control_rate": rate, "mde": 0.01}, (rate, 0.01), icc, 2_000, seed=40)


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "icc"), CASES)
def test_clustered_binary_outcome_keeps_rate_effect_and_icc_20000_clusters(rate, icc):
    _check_promises("binary", {"control_rate": rate, "mde": 0.01}, (rate, 0.01), icc, 20_000, seed=41)


@pytest.mark.parametrize("icc", [0.01, 0.05, 0.3])
def test_clustered_count_outcome_keeps_rate_ratio_and_icc(icc):
    """Gamma-Poisson clusters: control rate, rate ratio and the ANOVA ICC on the count scale."""
    _check_promises("count", {"control_rate": 1.5, "mde": 1.2}, (1.5, 1.2), icc, 2_000, seed=42, scale="ratio")


def test_the_issue_example_households_keep_a_three_percent_control_rate():
    """Issue 13: control 3%, ICC 0.3, +1 pp, 20,000 households of 1.8 people gave a 5.1% control rate
    and +0.7 pp; now the rate, effect and ICC are the assumptions (and households have 1 or 2 people)."""
    protocol = _cluster_protocol("binary", {"control_rate": 0.03, "mde": 0.01}, 0.3, 1.8, 0.0)
    people = simulate_participants(protocol, SimulationSettings(n_clusters=20_000), seed=43)
    sizes = people.groupby("neighbourhood").size()
    assert sorted(sizes.unique()) == [1, 2]
    assert abs(sizes.mean() - 1.8) < 3 * np.sqrt(0.16 / 20_000)  # Bernoulli(0.8) + 1: variance 0.16
    _check_promises("binary", {"control_rate": 0.03, "mde": 0.01}, (0.03, 0.01), 0.3, 20_000, seed=44,
                    cluster_size=1.8, cv=0.0)


@pytest.mark.parametrize(("mean", "cv"), [(1.8, 0.0), (2.5, 0.1), (8.0, 0.2), (30.0, 0.4), (4.0, 1.0)])
def test_cluster_sizes_have_the_stated_mean_and_cv(mean, cv):
    """Sizes are integers >= 1 with mean ``mean`` (3 MC SEs) and the stated CV where integers allow it:
    below the spread of the two integers around the mean, that spread is the CV."""
    from bitframe.simulate.data import cluster_sizes

    k = 40_000
    sizes = cluster_sizes(k, mean, cv, np.random.default_rng(45))
    assert sizes.dtype.kind == "i" and sizes.min() >= 1
    sd = sizes.std(ddof=1)
    assert abs(sizes.mean() - mean) < 3 * sd / np.sqrt(k) + 1e-12
    frac = mean - np.floor(mean)
    floor_cv = np.sqrt(frac * (1 - frac)) / mean
    mu, variance = mean - 1, (cv * mean) ** 2
    if cv <= floor_cv:
        assert set(np.unique(sizes)) <= {int(np.floor(mean)), int(np.ceil(mean))}
        assert abs(sd / mean - floor_cv) < 0.02
    elif variance < mu:  # shifted binomial: the variance a binomial with mean mu allows nearest above
        trials = np.ceil(mu**2 / (mu - variance))
        assert abs(sd**2 - mu * (1 - mu / trials)) < 0.05 * mu
    else:
        assert abs(sd / mean - cv) < 0.03 * cv + 0.01
