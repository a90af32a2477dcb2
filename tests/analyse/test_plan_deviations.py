"""Substitutions discovered only at analysis time are listed as deviations (issue 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.plan import analyse_frames
from bitframe.errors import DataError
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


def stratified(se_type: str):
    return parse_protocol(f"""bitframe: 1
trial: {{id: dev, title: Deviations, site: Test, programme_area: helping_ourselves}}
context: {{target_behaviour: Test}}
arms:
  - {{id: control, name: control, role: control}}
  - {{id: sms, name: sms, role: intervention, mechanism: {{east: [easy]}}}}
unit: {{id_column: id}}
randomisation: {{scheme: stratified_block, strata: [site], block_sizes: [2]}}
outcomes:
  - {{id: y, role: primary, type: continuous, column: y}}
analysis: {{se_type: {se_type}}}
""")


def test_a_stratum_with_one_analysed_unit_is_left_out_and_listed_under_hc2():
    n = 41
    allocation = pd.DataFrame({"id": [f"u{i}" for i in range(n)], "arm": ["control", "sms"] * 20 + ["sms"],
                               "stratum": ["A"] * 20 + ["B"] * 20 + ["C"]})
    outcomes = pd.DataFrame({"id": allocation["id"], "y": np.random.default_rng(1).normal(size=n)})
    result = analyse_frames(stratified("HC2"), allocation, outcomes, inference=False)
    assert result.deviations == (
        "outcome 'y': stratum 'C' has a single analysed unit, which its fixed effect fits exactly; left out, as HC2 "
        "is undefined for it (the arm effects are the same without it)",)
    # its fixed effect fits it exactly: the estimate is the one HC1 gives with the unit kept
    kept = analyse_frames(stratified("HC1"), allocation, outcomes, inference=False)
    assert result.effects[0].estimate == pytest.approx(kept.effects[0].estimate, abs=1e-12)
    assert result.effects[0].n == 40 and kept.effects[0].n == 41 and not kept.deviations


def test_an_estimator_that_cannot_run_on_the_data_names_the_outcome():
    allocation = pd.DataFrame({"id": [f"u{i}" for i in range(8)], "arm": ["control"] * 4 + ["sms"] * 4,
                               "stratum": ["A"] * 4 + ["B"] * 4})  # each arm confined to a stratum of its own
    outcomes = pd.DataFrame({"id": allocation["id"], "y": np.arange(8.0)})
    with pytest.raises(DataError) as info:
        analyse_frames(stratified("HC1"), allocation, outcomes, inference=False, labels={"outcomes": "out.csv"})
    [problem] = info.value.problems
    assert problem.code == "BF221" and problem.file == "out.csv" and problem.field == "y"
    assert problem.message.startswith("outcome 'y' cannot be estimated as pre-registered (ols): The effect of 'sms' is "
                                      "not identified")
