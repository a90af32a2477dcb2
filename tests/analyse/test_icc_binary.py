"""The ICC of a binary outcome in a cluster trial: the one-way ANOVA estimator for unequal cluster
sizes (Fleiss 1981, ch. 13; Ridout, Demetrio & Firth 1999, Biometrics 55:137-148; Donner & Klar
2000, sec. 3.3), checked against base R ``aov`` mean squares (tests/reference/icc_binary_reference.R,
30 clusters of 4 to 40 units with a fixed seed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.plan import ANOVA_ICC_METHOD, analyse_frames, anova_icc
from bitframe.protocol import parse_protocol
from bitframe.report.site import render_site_html

REF = Path(__file__).resolve().parents[1] / "reference"
EXPECTED = json.loads((REF / "icc_binary_reference.json").read_text())
DATA = pd.read_csv(REF / "icc_binary" / "clusters.csv")

PROTOCOL = """bitframe: 1
trial: {id: icc-binary, title: Binary cluster ICC, site: Test, programme_area: helping_ourselves}
context: {target_behaviour: Test}
arms:
  - {id: control, name: control, role: control}
  - {id: treatment, name: treatment, role: intervention, mechanism: {east: [easy]}}
unit: {level: cluster, id_column: id, cluster_column: cluster}
randomisation: {scheme: cluster}
outcomes:
  - {id: y, role: primary, type: binary, column: y}
analysis: {estimator: ols, se_type: CR2}
"""


def _parts(fit):
    return [fit.icc, fit.msb, fit.msw, fit.n0]


def _want(case):
    return [case["icc"], case["msb"], case["msw"], case["n0"]]


def test_pooled_within_arms_matches_aov():
    """aov(y ~ arm + factor(cluster)): the cluster mean square after the arm term, G - A df."""
    fit = anova_icc(DATA["y"], DATA["arm"], DATA["cluster"])
    np.testing.assert_allclose(_parts(fit), _want(EXPECTED["pooled_within_arms"]), rtol=1e-10, atol=1e-12)


def test_one_arm_is_the_textbook_estimator_and_negative_values_are_kept():
    """aov(y ~ factor(cluster)) on the control arm, n0 = (N - sum n_g^2 / N) / (G - 1). Its estimate
    is negative and is reported as computed, not truncated at 0."""
    control = DATA[DATA["arm"] == "control"]
    fit = anova_icc(control["y"], control["arm"], control["cluster"])
    np.testing.assert_allclose(_parts(fit), _want(EXPECTED["control_arm"]), rtol=1e-10, atol=1e-12)
    assert fit.icc < 0


@pytest.mark.parametrize("y, arms, clusters", [
    ([0, 1, 1], ["a", "a", "a"], ["c1", "c1", "c1"]),  # one cluster: no between-cluster df
    ([0, 1], ["a", "a"], ["c1", "c2"]),  # one unit per cluster: no within-cluster df
    ([1, 1, 1, 1], ["a"] * 4, ["c1", "c1", "c2", "c2"]),  # no variation at all
])
def test_no_estimate_without_both_mean_squares(y, arms, clusters):
    assert anova_icc(y, arms, clusters) is None


def test_cluster_trial_with_binary_primary_outcome_carries_and_reports_its_icc():
    protocol = parse_protocol(PROTOCOL)
    data = DATA.assign(id=[f"u{i}" for i in range(len(DATA))])
    result = analyse_frames(protocol, data[["id", "arm", "cluster"]], data[["id", "y"]], bookkeeping=False)
    [row] = result.icc
    assert row.outcome == "y" and row.method == ANOVA_ICC_METHOD
    assert row.icc == pytest.approx(EXPECTED["pooled_within_arms"]["icc"], rel=1e-10)
    html = render_site_html(protocol, result)
    icc_table = html[html.index('id="tbl-icc"'):]
    icc_table = " ".join(re.sub(r"<[^>]+>", " ", icc_table[:icc_table.index("</table>")]).split())
    assert "Y 0.060 \u2014 one-way ANOVA estimator, pooled within arms (binary outcome)" in icc_table
