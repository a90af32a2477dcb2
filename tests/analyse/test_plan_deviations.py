"""Substitutions discovered only at analysis time are listed as deviations (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bitframe.analyse.plan import analyse_frames
from bitframe.protocol import parse_protocol


def protocol_for(*, analysis: str, unit: str = "unit: {id_column: id}", outcome_type: str = "continuous"):
    return parse_protocol(f"""bitframe: 1
trial: {{id: dev, title: Deviations, site: Test, programme_area: helping_ourselves}}
context: {{target_behaviour: Test}}
arms:
  - {{id: control, name: control, role: control}}
  - {{id: sms, name: sms, role: intervention, mechanism: {{east: [easy]}}}}
{unit}
randomisation: {{scheme: complete}}
outcomes:
  - {{id: y, role: primary, type: {outcome_type}, column: y}}
analysis: {analysis}
""")


def data(n: int = 200, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    arm = np.where(np.arange(n) % 2 == 0, "control", "sms")
    allocation = pd.DataFrame({"id": [f"u{i}" for i in range(n)], "arm": arm})
    outcomes = pd.DataFrame({"id": allocation["id"], "y": (rng.random(n) < 0.3 + 0.1 * (arm == "sms")).astype(int),
                             "x": x, "x_twice": 2 * x})
    return allocation, outcomes


def test_a_collinear_covariate_dropped_is_a_deviation():
    protocol = protocol_for(analysis="{adjustment: standard, covariates: [x, x_twice]}")
    result = analyse_frames(protocol, *data(), inference=False)
    assert "outcome 'y': Dropped collinear design columns: 'x_twice'." in result.deviations


def test_a_glm_under_cr2_lists_its_cr1_fallback_and_lin_adjustment_made_additive():
    protocol = protocol_for(outcome_type="binary",
                            unit="unit: {id_column: id, cluster_column: school}",
                            analysis="{estimator: logit, se_type: CR2, adjustment: lin, covariates: [x]}")
    allocation, outcomes = data()
    allocation["school"] = [f"s{i % 20}" for i in range(len(allocation))]
    result = analyse_frames(protocol, allocation, outcomes, inference=False)
    assert result.effects[0].se_type == "CR1"
    assert "outcome 'y': logit does not offer CR2 standard errors; CR1 was used" in result.deviations
    assert ("outcome 'y': logit adjusts for the covariates additively; Lin's interacted adjustment applies to "
            "linear regression") in result.deviations
