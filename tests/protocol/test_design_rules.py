"""BF170/BF171: what each non-randomised design needs, refused at the line to edit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitframe.errors import ProtocolError
from bitframe.protocol import parse_protocol

ROOT = Path(__file__).resolve().parents[2]
DID = (ROOT / "protocols" / "community-connectors.yaml").read_text()
PRE_POST = (ROOT / "protocols" / "community-connectors-survey.yaml").read_text()
SMS = (ROOT / "protocols" / "sms-link-worker.yaml").read_text()


def problems(text: str):
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label="t.yaml")
    return info.value.problems


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_example_designs_validate():
    did = parse_protocol(DID)
    assert did.randomisation is None and did.design is not None and did.design.type == "difference_in_differences"
    assert did.design.did.comparison == "not_yet_treated" and did.design.required_pre_periods == 6
    pre_post = parse_protocol(PRE_POST)
    assert pre_post.design is not None and pre_post.design.required_pre_periods == 1  # the design's minimum


def test_neither_randomisation_nor_design():
    text = SMS[:SMS.index("randomisation:")] + SMS[SMS.index("outcomes:"):]
    found = [(p.code, p.message) for p in problems(text)]
    assert ("BF170", "the protocol has neither `randomisation` nor `design`") in found


def test_both_randomisation_and_design_point_at_design():
    text = replace(SMS, "outcomes:\n", "design: {type: pre_post, time_column: wave}\n\noutcomes:\n")
    found = [p for p in problems(text) if p.code == "BF170"]
    assert found and found[0].message == "the protocol has both `randomisation` and `design`"
    assert found[0].line == text.splitlines().index("design: {type: pre_post, time_column: wave}") + 1


def test_difference_in_differences_needs_its_columns():
    text = replace(DID, "  first_treated_column: connectors_start\n", "")
    text = replace(text, "  unit_column: neighbourhood\n", "")
    found = [p.message for p in problems(text)]
    assert "a difference-in-differences design needs first_treated_column" in found
    assert "a difference-in-differences design needs unit_column" in found


def test_too_few_pre_periods_for_the_design():
    text = replace(DID, "design:\n  type: difference_in_differences\n",
                   "design:\n  type: interrupted_time_series\n  intervention_start: 13\n")
    text = replace(text, "  first_treated_column: connectors_start\n", "")
    text = replace(text, "  pre_periods: 6\n", "  pre_periods: 2\n")
    found = {(p.code, p.message) for p in problems(text)}
    assert ("BF170", "an interrupted time series design needs at least 3 pre-periods") in found
    # options of another design and a power section only DiD has are refused too
    assert ("BF170", "a `difference_in_differences:` section does not apply to an interrupted time series design") \
        in found
    assert ("BF170", "treated_units applies to difference-in-differences power; a time series is one series") in found


def test_a_donor_pool_of_one_and_a_treated_donor():
    text = replace(DID, "design:\n  type: difference_in_differences\n",
                   "design:\n  type: synthetic_control\n  intervention_start: 13\n"
                   "  synthetic_control: {treated_unit: Ashfield, donors: [Ashfield, Brookside]}\n")
    text = replace(text, "  first_treated_column: connectors_start\n", "")
    text = text[:text.index("  difference_in_differences:")] + text[text.index("outcomes:"):]
    text = replace(text, "  pre_periods: 6\n", "  pre_periods: 6\n\n")
    found = {(p.code, p.message) for p in problems(text)}
    assert ("BF170", "the treated unit 'Ashfield' is among the donors") in found
    assert ("BF170", "a donor pool of one cannot be weighted or give a placebo p-value") in found


def test_randomised_analysis_options_and_power_are_refused():
    text = replace(DID, "outcomes:\n", "analysis: {estimator: ols}\npower: {planned_n: 100}\n\noutcomes:\n")
    found = {(p.code, p.message) for p in problems(text)}
    assert ("BF170", "analysis.estimator applies to randomised designs only") in found
    assert ("BF171", "the power section is for randomised designs") in found


def test_a_one_group_design_needs_no_control_and_one_arm():
    text = replace(PRE_POST, "no_control: true\n", "")
    found = {(p.code, p.message) for p in problems(text)}
    assert ("BF170", "a pre/post in one group design has no comparison group") in found


def test_randomising_a_design_is_a_located_refusal():
    protocol = parse_protocol(DID)
    with pytest.raises(ProtocolError) as info:
        _ = protocol.randomised
    assert info.value.problems[0].code == "BF172" and "difference-in-differences" in info.value.problems[0].message


ITS = """bitframe: 1
trial: {id: series, title: A series, site: Reference, programme_area: helping_ourselves}
context: {target_behaviour: Someone does something}
arms:
  - {id: scheme, name: Scheme, role: intervention, mechanism: {east: [easy]}}
no_control: true
design:
  type: interrupted_time_series
  time_column: month
  intervention_start: 13
%s
outcomes:
  - {id: y, role: primary, type: continuous, column: y, assumptions: {control_mean: 40, sd: 6, mde: 4}}
"""


def _its(power: str) -> str:
    return ITS % power


def test_a_time_series_has_design_power_and_a_did_needs_its_units():
    from bitframe.protocol import parse_protocol

    its = parse_protocol(_its("  power: {pre_periods: 12, post_periods: 12, autocorrelation: 0.3}"), label="t.yaml")
    assert its.design.power.treated_units is None and its.design.power.post_periods == 12
    found = {(p.code, p.message) for p in problems(replace(DID, "    treated_units: 4\n", ""))}
    assert ("BF170", "difference-in-differences power needs treated_units") in found
    poisson = _its("  interrupted_time_series: {model: poisson}\n  power: {pre_periods: 12, post_periods: 12}")
    assert ("BF170", "the power of a Poisson time series is not analytic here") in {
        (p.code, p.message) for p in problems(poisson)}
    pre_post = replace(PRE_POST, "outcomes:", "  power: {pre_periods: 1, post_periods: 1}\n\noutcomes:")
    assert any(p.code == "BF170" and p.message.startswith("design power is calculated for difference-in-differences "
                                                          "and interrupted time series designs only")
               for p in problems(pre_post))
