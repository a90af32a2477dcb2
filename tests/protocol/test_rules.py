"""Cross-field rules: each rule fires on a minimal violation and points at the line to edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bitframe.errors import ProtocolError
from bitframe.protocol import Protocol, parse_protocol
from bitframe.protocol.loader import _to_plain

ROOT = Path(__file__).resolve().parents[2]
SMS = (ROOT / "protocols" / "sms-link-worker.yaml").read_text()
PEER = (ROOT / "protocols" / "peer-support-neighbourhoods.yaml").read_text()
LETTERS = (ROOT / "protocols" / "volunteer-letters.yaml").read_text()


def codes(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label="t.yaml")
    return [(p.code, p.message) for p in info.value.problems]


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_two_controls():
    text = replace(SMS, "    role: intervention\n", "    role: control\n")
    found = codes(text)
    assert ("BF120", "more than one control arm (also arm 1)") in found


def test_no_control_without_flag():
    text = replace(SMS, "    role: control\n", "    role: active_comparator\n")
    found = codes(text)
    assert ("BF120", "no arm has role 'control'") in found
    # An active comparator also needs an EAST lever.
    assert ("BF121", "arm 'usual' names no EAST lever") in found


def test_explicit_no_control_design_is_valid():
    text = replace(SMS, "    role: control\n", "    role: active_comparator\n    mechanism: {east: [easy]}\n")
    text = replace(text, "bitframe: 1\n", "bitframe: 1\nno_control: true\n")
    protocol = parse_protocol(text)
    assert protocol.control is None and protocol.no_control


def test_intervention_without_east_lever():
    text = replace(SMS, "      east: [easy, timely, attractive]\n", "")
    assert ("BF121", "arm 'sms' names no EAST lever") in codes(text)


def test_duplicate_arm_id():
    text = replace(SMS, "  - id: sms\n", "  - id: usual\n")
    assert ("BF122", "duplicate id 'usual' (already used by item 1 of arms)") in codes(text)


def test_block_size_not_multiple_of_ratio_sum():
    text = replace(LETTERS, "scheme: complete", "scheme: block\n  block_sizes: [4, 6]")
    assert ("BF126", "block size 6 is not a multiple of the ratio sum 4 (2:1:1)") in codes(text)


def test_block_scheme_needs_block_sizes():
    text = replace(SMS, "  block_sizes: [4, 6, 8]      # drawn at random; kept in the sealed manifest only\n", "")
    assert ("BF127", "scheme 'stratified_block' needs block_sizes") in codes(text)


def test_stratified_scheme_needs_strata():
    text = replace(SMS, "  strata: [practice]\n", "")
    assert ("BF127", "scheme 'stratified_block' needs strata, but randomisation.strata is empty") in codes(text)


def test_cluster_scheme_needs_cluster_column():
    text = replace(PEER, "  cluster_column: neighbourhood\n", "")
    found = codes(text)
    assert ("BF123", "scheme 'stratified_cluster' randomises clusters, but unit.cluster_column is not set") in found
    assert ("BF124", "standard error 'CR2' is cluster-robust, but the design has no clusters") in found


def test_cluster_se_needs_clusters():
    text = replace(SMS, "se_type: HC2", "se_type: CR2")
    assert ("BF124", "standard error 'CR2' is cluster-robust, but the design has no clusters") in codes(text)


def test_individual_se_in_cluster_trial():
    text = replace(PEER, "se_type: CR2", "se_type: HC2")
    assert ("BF124", "standard error 'HC2' ignores clustering in a cluster-randomised design") in codes(text)


def test_undeclared_column_with_suggestion():
    text = replace(SMS, "covariates: [age, female, prior_dna]", "covariates: [age, femal, prior_dna]")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label="t.yaml")
    [p] = info.value.problems
    assert (p.code, p.message, p.hint) == ("BF125", "column 'femal' is not declared in unit.columns", "did you mean 'female'?")
    assert p.line == next(i for i, line in enumerate(text.splitlines(), 1) if "femal," in line)


def test_binary_assumptions_must_be_proportions():
    text = replace(SMS, "control_rate: 0.62, mde: 0.07", "control_rate: 62, mde: 7")
    found = codes(text)
    assert ("BF128", "control_rate must be a proportion in (0, 1), got 62.0") in found


def test_primary_outcome_needs_mde_when_powering():
    text = replace(SMS, "{control_rate: 0.62, mde: 0.07}", "{control_rate: 0.62}")
    assert ("BF128", "primary outcome 'attended' needs an mde for the power calculation") in codes(text)


def test_effects_name_known_arms():
    text = replace(LETTERS, "effects: {norm: 0.008, easy: 0.012}", "effects: {norms: 0.008, easy: 0.012}")
    assert ("BF130", "unknown arm 'norms'") in codes(text)


def test_power_section_fits_unit():
    text = replace(SMS, "planned_n: 1600", "planned_clusters: 20")
    found = codes(text)
    assert ("BF129", "power needs planned_n (participants, all arms)") in found
    assert ("BF129", "'planned_clusters' applies to cluster-randomised designs only") in found
    text = replace(PEER, "  icc: 0.03\n", "")
    assert ("BF129", "a cluster design needs an icc") in codes(text)


def test_target_power_must_exceed_alpha():
    text = replace(SMS, "target: 0.8", "target: 0.04")
    assert ("BF129", "target power 0.04 must exceed alpha 0.05") in codes(text)


def test_cace_needs_compliance_and_lin_needs_covariates():
    text = replace(SMS, "estimand: itt", "estimand: cace")
    text = replace(text, "covariates: [age, female, prior_dna]", "covariates: []")
    found = codes(text)
    assert ("BF131", "estimand 'cace' needs a compliance_column (who actually received the intervention)") in found
    assert ("BF131", "adjustment 'lin' needs covariates") in found


def test_minimisation_weights_name_factors():
    text = replace(SMS,
                   "  scheme: stratified_block\n  strata: [practice]\n"
                   "  block_sizes: [4, 6, 8]      # drawn at random; kept in the sealed manifest only\n",
                   "  scheme: minimisation\n  minimisation: {factors: [practice, female], weights: {practise: 2}}\n")
    found = codes(text)
    assert ("BF127", "weight given for 'practise', which is not a minimisation factor") in found


def test_dates_in_order():
    text = replace(SMS, "dates: {start: 2026-02-01, end: 2026-09-30}", "dates: {start: 2026-02-01, end: 2025-09-30}")
    assert ("BF132", "end 2025-09-30 is before start 2026-02-01") in codes(text)


def test_direct_construction_enforces_rules_too():
    from ruamel.yaml import YAML

    data = _to_plain(YAML(typ="rt").load(replace(SMS, "se_type: HC2", "se_type: CR2")), 0)
    with pytest.raises(ValueError, match="cluster-robust"):
        Protocol.model_validate(data)


def test_protocol_is_frozen():
    protocol = parse_protocol(SMS)
    with pytest.raises(ValidationError, match="frozen"):
        protocol.trial = None  # type: ignore[misc]
    assert protocol.se_type == "HC2" and protocol.use_strata_fixed_effects
    assert parse_protocol(PEER).se_type == "CR2"


def test_inference_options_are_consistent():
    text = replace(SMS, "  missing_data: complete_case",
                   "  missing_data: complete_case\n  equivalence: {lower: 0.05, upper: -0.05}\n  inference: wild_bootstrap")
    found = codes(text)
    assert ("BF131", "equivalence bounds must satisfy lower < upper, got [0.05, -0.05]") in found
    assert ("BF131", "the wild cluster bootstrap needs clusters") in found
    text = replace(SMS, "multiplicity: holm", "multiplicity: westfall_young\n  inference: analytic")
    assert ("BF131", "'westfall_young' resamples the design, but inference is 'analytic'") in codes(text)


# ----------------------------------------------------------------------------- plausibility warnings (BF150)


def warnings_of(text: str):
    from bitframe.protocol.loader import parse_protocol_with_warnings

    _protocol, warnings = parse_protocol_with_warnings(text, label="t.yaml")
    return [(w.code, w.field, w.severity) for w in warnings]


def test_valid_examples_have_no_warnings():
    for text in (SMS, PEER, LETTERS):
        assert warnings_of(text) == []


def test_implausible_icc_and_attrition_warn_without_blocking():
    text = replace(replace(PEER, "icc: 0.03", "icc: 0.6"), "attrition: 0.15", "attrition: 0.55")
    assert warnings_of(text) == [("BF150", "power.icc", "warning"), ("BF150", "power.attrition", "warning")]


def test_a_rate_ratio_of_30_warns():
    text = replace(replace(SMS, "    type: binary\n", "    type: count\n"), "{control_rate: 0.62, mde: 0.07}",
                   "{control_rate: 1.5, mde: 30}")
    [(code, field, severity)] = warnings_of(text)
    assert (code, field, severity) == ("BF150", "outcomes[0].assumptions.mde", "warning")


def test_warnings_are_reported_beside_errors():
    text = replace(replace(PEER, "icc: 0.03", "icc: 0.6"), "target: 0.8", "target: 80")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label="t.yaml")
    assert [(p.code, p.severity) for p in info.value.problems] == [("BF114", "error"), ("BF150", "warning")]
    assert "1 error(s) and 1 warning(s) found." in info.value.report()
