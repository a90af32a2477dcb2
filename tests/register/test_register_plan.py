"""The statistical analysis plan in words (bitframe.register.plan): read off the protocol and vocabulary."""

from __future__ import annotations

from pathlib import Path

from bitframe.power.protocol import power_for_protocol
from bitframe.protocol import load_protocol
from bitframe.protocol.vocabulary import MULTIPLICITY, SE_TYPES
from bitframe.register.plan import analysis_plan, multiplicity_families

ROOT = Path(__file__).resolve().parents[2]


def _plan(name: str) -> dict[str, str]:
    protocol = load_protocol(ROOT / "protocols" / f"{name}.yaml")
    return {s.id: " ".join(s.paragraphs) for s in analysis_plan(protocol, power_for_protocol(protocol))}


def test_every_part_of_the_plan_is_there_in_order():
    assert list(_plan("sms-link-worker")) == ["sap-estimand", "sap-estimator", "sap-se", "sap-covariates",
                                              "sap-multiplicity", "sap-inference", "sap-missing", "sap-subgroups",
                                              "sap-power", "sap-deviations"]


def test_standard_errors_use_the_vocabulary_label_and_formula():
    plan = _plan("peer-support-neighbourhoods")
    assert f"Standard errors: CR2. {SE_TYPES['CR2'].description} Formula: {SE_TYPES['CR2'].formula}." in plan["sap-se"]
    assert "'neighbourhood'" in plan["sap-se"]


def test_the_multiplicity_family_is_the_one_the_analysis_adjusts():
    """volunteer-letters: Dunnett within each outcome role; two arms against control per outcome."""
    protocol = load_protocol(ROOT / "protocols" / "volunteer-letters.yaml")
    assert multiplicity_families(protocol) == [("primary outcomes", 2), ("exploratory outcomes", 2)]
    text = _plan("volunteer-letters")["sap-multiplicity"]
    assert MULTIPLICITY["dunnett"].family in text and "primary outcomes: 2 p-values" in text


def test_the_power_statement_accounts_for_clustering():
    plan = _plan("peer-support-neighbourhoods")["sap-power"]
    assert "with 24 clusters" in plan
    assert "clustering (intra-cluster correlation 0.03, mean cluster size 30, coefficient of variation of " \
           "cluster size 0.4) and 15% expected attrition" in plan
    protocol = load_protocol(ROOT / "protocols" / "peer-support-neighbourhoods.yaml")
    [row] = power_for_protocol(protocol)
    assert f"{row.mde:.3g}" in plan and f"{row.power:.0%} power" in plan


def test_individual_trials_state_no_clustering_and_name_the_strata_and_subgroups():
    plan = _plan("sms-link-worker")
    assert "clustering" not in plan["sap-power"]
    assert "strata (practice) enter as fixed effects" in plan["sap-covariates"]
    assert "Pre-specified subgroups: prior_dna" in plan["sap-subgroups"]
    assert "2,000 times" in plan["sap-inference"]
    assert "Resampling seeds are recorded with the results, not in this document." in plan["sap-inference"]
