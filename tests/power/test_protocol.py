"""Power of a protocol's planned sample: the protocol -> calculator mapping, against R.

Reference: tests/reference/power_protocol_reference.R (base R power.prop.test / power.t.test
on the same designs written out by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitframe.power.protocol import power_for_protocol
from bitframe.protocol import load_protocol, parse_protocol

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "power_protocol_reference.json").read_text())


def test_sms_protocol_power_matches_power_prop_test():
    """1,600 planned, 1:1, 5% attrition -> 760 analysed per arm; 62% vs 69%."""
    [row] = power_for_protocol(load_protocol(ROOT / "protocols" / "sms-link-worker.yaml"))
    assert row.power == pytest.approx(REF["sms_attended"]["power"], abs=1e-4)
    assert row.verdict == "adequate" and row.n_required <= row.n_planned
    assert row.message.startswith("adequate: 82% power at the planned 1,600 participants")


def test_covariate_adjustment_and_attrition_enter_the_calculation():
    """n = 1,000 planned, 20% attrition -> 400 per arm; R^2 = 0.3 shrinks the SD by sqrt(0.7)."""
    text = (ROOT / "tests" / "simulate" / "fixtures" / "two-arm-continuous.yaml").read_text()
    text = text.replace("assumptions: {control_mean: 0, sd: 1, mde: 0.4}", "assumptions: {control_mean: 44, sd: 9, mde: 1.5}")
    text = text.replace("analysis: {estimator: ols, se_type: HC2, alpha: 0.05}",
                        "analysis: {estimator: ols, se_type: HC2, alpha: 0.05, adjustment: standard, covariates: [x]}")
    text = text.replace("power: {target: 0.8, planned_n: 200}",
                        "power: {target: 0.8, planned_n: 1000, attrition: 0.2, r_squared: 0.3}")
    [row] = power_for_protocol(parse_protocol(text))
    assert row.power == pytest.approx(REF["means_r2"]["power"], abs=1e-4)


def test_under_powered_verdict_says_by_how_much():
    [row] = power_for_protocol(load_protocol(ROOT / "protocols" / "volunteer-letters.yaml"))
    assert row.verdict == "under-powered" and row.design == "3-arm (dunnett)"
    assert row.shortfall == row.n_required - row.n_planned > 0
    assert f"{row.shortfall:,.0f} more" in row.message


def test_cluster_and_stepped_wedge_protocols_get_verdicts_in_clusters():
    peer = power_for_protocol(load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml"))
    sw = power_for_protocol(load_protocol(ROOT / "protocols" / "health-champions-stepped-wedge.yaml"))
    assert peer[0].size_unit == sw[0].size_unit == "clusters"
    assert peer[0].n_planned == 24 and sw[0].n_planned == 12
    assert 0 < peer[0].power < 1 and 0 < sw[0].power < 1
    # Fewer planned clusters than required <=> under-powered.
    for row in (*peer, *sw):
        assert (row.verdict == "adequate") == (row.power >= row.target_power)
