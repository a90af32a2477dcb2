"""Standard errors clustered by a column that is not the unit of randomisation (issue 13).

Pupils randomised individually within schools (blocks), SEs clustered by school with school fixed
effects. Reference: tests/reference/clustered_se_reference.R (estimatr 1.0.0,
``lm_robust(score ~ arm + factor(school), clusters = school, se_type = ...)`` and ``lm_lin``) on
the data it wrote, tests/reference/clustered_se/pupils.csv. Matched to 1e-6: estimate, SE, df, CI.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.plan import analyse_frames
from bitframe.protocol import parse_protocol

REF = Path(__file__).resolve().parents[1] / "reference" / "clustered_se"
CASES = json.loads((REF / "clustered_se_reference.json").read_text())["cases"]
PUPILS = pd.read_csv(REF / "pupils.csv", dtype={"id": str, "school": str})

PROTOCOL = """bitframe: 1
trial: {{id: tutoring, title: School tutoring, site: Test, programme_area: helping_ourselves}}
context: {{target_behaviour: Attainment}}
arms:
  - {{id: control, name: Control, role: control}}
  - {{id: tutoring, name: Tutoring, role: intervention, mechanism: {{east: [easy]}}}}
unit: {{id_column: id, level: individual, cluster_column: school}}
randomisation: {{scheme: stratified_block, strata: [school], block_sizes: [2]}}
outcomes:
  - {{id: score, role: primary, type: continuous, column: score}}
analysis: {analysis}
"""


def run(analysis: str):
    protocol = parse_protocol(PROTOCOL.format(analysis=analysis))
    allocation = pd.DataFrame({"id": PUPILS["id"], "arm": PUPILS["arm"], "stratum": PUPILS["school"],
                               "school": PUPILS["school"]})
    outcomes = PUPILS[["id", "score", "prior"]]
    return analyse_frames(protocol, allocation, outcomes, inference=False)


def check(result, case):
    [row] = [e for e in result.effects if e.arm == "tutoring"]
    ref = CASES[case]
    got = [row.estimate, row.std_error, row.df, row.ci_lower, row.ci_upper, row.p_value]
    want = [ref["estimate"], ref["std_error"], ref["df"], ref["conf_low"], ref["conf_high"], ref["p_value"]]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert row.se_type == result.effects[0].se_type
    assert row.n == ref["n"]


@pytest.mark.parametrize("se_type", ["CR0", "stata", "CR2"])
def test_individual_randomisation_within_schools_clusters_ses_by_school(se_type):
    result = run(f"{{se_type: {se_type}}}")
    check(result, f"blocked_{se_type}")
    [row] = result.effects
    assert row.se_type == se_type
    assert row.n_clusters == 22
    assert not result.deviations


def test_standard_adjustment_with_school_clusters():
    check(run("{se_type: CR2, adjustment: standard, covariates: [prior]}"), "blocked_standard_CR2")


def test_lin_adjustment_with_school_clusters():
    check(run("{se_type: CR2, adjustment: lin, covariates: [prior], strata_fixed_effects: false}"), "lin_CR2")


def test_heteroskedasticity_robust_se_ignores_the_cluster_column():
    # the cluster column of an individual design is for SEs only when a cluster-robust SE is asked for
    [row] = run("{se_type: HC2}").effects
    assert row.se_type == "HC2"
    assert row.n_clusters is None
