"""Power choices a protocol makes explicitly (issue 21): the reference distribution, the two-sided
convention and the cluster size the planned clusters need. Each is checked against
tests/reference/power_reference.json (power_reference.R: mvtnorm, Hemming et al. 2011)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitframe.power.protocol import power_for_protocol
from bitframe.protocol import parse_protocol

ROOT = Path(__file__).resolve().parents[2]
CASES = {c["id"]: c for c in json.loads((ROOT / "tests" / "reference" / "power_reference.json").read_text())["cases"]}


def edited(name: str, *pairs: tuple[str, str]) -> str:
    text = (ROOT / "protocols" / name).read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_multi_arm_distribution_is_chosen_by_the_protocol():
    # dunnett_normal_unequal: 2 arms vs control, n = 60 control, ratio 2, sd 1, mde 0.4, normal (mvtnorm::pmvnorm)
    case = CASES["dunnett_normal_unequal"]
    text = edited(
        "volunteer-letters.yaml",
        ("    role: control\n    ratio: 2", "    role: control\n    ratio: 1"),
        ("    role: intervention\n    ratio: 1", "    role: intervention\n    ratio: 2"),
        ("    role: intervention\n    ratio: 1", "    role: intervention\n    ratio: 2"),
        ("    type: binary\n", "    type: continuous\n"),
        ("{control_rate: 0.02, mde: 0.01, effects: {norm: 0.008, easy: 0.012}}", "{control_mean: 0, sd: 1, mde: 0.4}"),
        ("  planned_n: 12000", "  planned_n: 300\n  distribution: normal"),
    )
    [row] = power_for_protocol(parse_protocol(text))
    assert row.method == "normal" and row.design == "3-arm (dunnett)"
    assert row.power == pytest.approx(case["expect"]["power"], abs=1e-6)
    [t_row] = power_for_protocol(parse_protocol(text.replace("  distribution: normal\n", "")))
    assert t_row.method == "t" and t_row.power < row.power


@pytest.mark.parametrize("case_id", ["hemming_m_k30_icc0.05", "hemming_m_k20_icc0.02", "hemming_m_k12_icc0.01"])
def test_protocol_reports_the_cluster_size_its_clusters_need(case_id):
    # Hemming, Girling, Sitch, Marsh & Lilford 2011 (BMC Med Res Methodol 11:102): m = n_I (1 - icc) / (k - n_I icc)
    case = CASES[case_id]
    kw = case["kwargs"]
    assert kw["strict"] is False and kw["method"] == "normal"
    text = edited(
        "peer-support-neighbourhoods.yaml",
        ("{control_mean: 44.0, sd: 9.0, mde: 3.0}", f"{{control_mean: 0, sd: {kw['sd']}, mde: {kw['mde']}}}"),
        ("  adjustment: standard\n  covariates: [baseline_wemwbs]\n", ""),
        ("  planned_clusters: 24", f"  planned_clusters: {2 * kw['clusters']}"),
        ("  cluster_size_cv: 0.4\n", ""),
        ("  icc: 0.03", f"  icc: {kw['icc']}\n  distribution: normal\n  two_sided: r_default"),
        ("  attrition: 0.15\n", ""),
    )
    [row] = power_for_protocol(parse_protocol(text))
    expected = (f"with the planned {2 * kw['clusters']} clusters, {case['expect']['cluster_size']} participants "
                "per cluster (recruited) reach the target 80%")
    assert expected in row.notes
    assert row.planned_result.strict is False


def test_r_default_convention_reaches_the_calculators():
    # power_prop_test_not_strict: stats::power.prop.test(n = 60, p1 = 0.3, p2 = 0.5), strict = FALSE
    case = CASES["power_prop_test_not_strict"]
    text = edited(
        "sms-link-worker.yaml",
        ("{control_rate: 0.62, mde: 0.07}", "{control_rate: 0.3, mde: 0.2}"),
        ("  planned_n: 1600\n  attrition: 0.05", "  planned_n: 120\n  two_sided: r_default"),
    )
    [row] = power_for_protocol(parse_protocol(text))
    assert row.power == pytest.approx(case["expect"]["power"], abs=1e-10)
