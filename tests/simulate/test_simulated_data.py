"""Synthetic data: the generator reproduces the protocol's assumptions (checked in closed form)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bitframe.protocol import load_protocol
from bitframe.simulate.data import SimulationSettings, arm_effects, simulate_outcomes, simulate_participants

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if p.name != "programme.yaml")


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
