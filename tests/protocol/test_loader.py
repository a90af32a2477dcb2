"""The protocol loader: every problem at once, each with file:line:column, a caret and a hint.

Messages are pinned here because users and editor integrations rely on them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitframe.errors import ProtocolError
from bitframe.protocol import load_protocol, parse_protocol

HERE = Path(__file__).parent
SMS = Path(__file__).resolve().parents[2] / "protocols" / "sms-link-worker.yaml"


def problems_of(text: str, label: str = "t.yaml"):
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label=label)
    return info.value.problems


def edit(old: str, new: str) -> str:
    text = SMS.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_examples_are_valid(example_protocol_paths):
    assert len(example_protocol_paths) >= 4
    for path in example_protocol_paths:
        protocol = load_protocol(path)
        assert protocol.trial.id


def test_misspelt_enum_value_points_at_value_and_suggests():
    text = edit("scheme: stratified_block", "scheme: stratfied_block")
    [p] = problems_of(text)
    assert p.code == "BF113"
    assert p.message == "'stratfied_block' is not a valid value for 'scheme'"
    assert p.line == line_of(text, "stratfied_block")
    assert p.column == 11
    assert p.hint.startswith("did you mean 'stratified_block'?")
    assert "^^^^^^^^^^^^^^^" in p.snippet


def test_misspelt_key_lists_allowed_keys():
    text = edit("  adjustment: lin", "  adjustmnt: lin")
    [p] = problems_of(text)
    assert p.code == "BF110"
    assert p.message == "unknown key 'adjustmnt' in analysis"
    assert p.hint.startswith("did you mean 'adjustment'? Allowed keys here: estimand,")
    assert (p.line, p.column) == (line_of(text, "adjustmnt"), 3)


def test_wrong_type_missing_field_and_many_problems_reported_at_once():
    text = edit("planned_n: 1600", "planned_n: lots")
    text = text.replace("  title: SMS reminders to attend a first social-prescribing link-worker appointment\n", "")
    text = text.replace("scheme: stratified_block", "scheme: stratfied_block")
    problems = problems_of(text, "sms.yaml")
    codes = sorted(p.code for p in problems)
    assert codes == ["BF111", "BF112", "BF113"]
    by_code = {p.code: p for p in problems}
    assert by_code["BF112"].message == "'planned_n' must be a whole number, got 'lots'"
    assert by_code["BF111"].message == "missing required key 'title' in trial"
    assert by_code["BF111"].line == line_of(text, "trial:")
    report = ProtocolError(problems).report()
    assert report.endswith("3 problems found.")
    assert re.search(r"^sms\.yaml:\d+:\d+: error\[BF112\]", report, re.M)


def test_yaml_syntax_error_has_position_and_hint():
    [p] = problems_of("bitframe: 1\ntrial:\n  id: x\n   title: bad indent\n")
    assert p.code == "BF100"
    assert (p.line, p.column) == (4, 9)
    assert p.message == "invalid YAML: mapping values are not allowed here"
    assert "indentation" in p.hint


def test_duplicate_keys_are_syntax_errors():
    [p] = problems_of("bitframe: 1\nbitframe: 1\n")
    assert p.code == "BF100" and "duplicate key" in p.message


@pytest.mark.parametrize(
    "text, code, message",
    [
        ("", "BF101", "the protocol is empty"),
        ("# only a comment\n", "BF101", "the protocol is empty"),
        ("- a\n- b\n", "BF102",
         "the protocol must be a mapping of sections (bitframe:, trial:, arms:, ...), but the file holds a list"),
        ("just text\n", "BF102",
         "the protocol must be a mapping of sections (bitframe:, trial:, arms:, ...), but the file holds a single value (str)"),
        ("bitframe: 2\n", "BF103", "unsupported protocol language version 2; this bitframe reads version 1"),
        ("trial: {}\n", "BF103", "missing the protocol language version"),
    ],
)
def test_document_level_errors(text, code, message):
    [p] = problems_of(text)
    assert (p.code, p.message) == (code, message)


def test_list_where_mapping_belongs_gets_hint():
    problems = problems_of("bitframe: 1\ntrial:\n  - id: x\n    title: y\n")
    [p] = [p for p in problems if p.field == "trial"]
    assert p.code == "BF112"
    assert p.message == "'trial' must be a mapping (key: value lines), got a list"
    assert p.hint == "remove the leading '- ': this section is a mapping, not a list"


def test_scalar_where_list_belongs_gets_hint():
    text = edit("strata: [practice]", "strata: practice")
    [p] = problems_of(text)
    assert p.code == "BF112"
    assert p.hint == "write it as a list: `strata: [practice]`"


def test_not_utf8_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"bitframe: 1\n\xff\xfe")
    with pytest.raises(ProtocolError) as info:
        load_protocol(bad)
    assert info.value.problems[0].code == "BF104"
    with pytest.raises(ProtocolError) as info:
        load_protocol(tmp_path / "nope.yaml")
    assert info.value.problems[0].message == "file not found"


def test_self_referencing_aliases_do_not_crash():
    problems = problems_of("bitframe: 1\ntrial: &a\n  x: *a\n")
    assert ("BF110", "unknown key 'x' in trial") in [(p.code, p.message) for p in problems]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_protocol_error(data):
    try:
        parse_protocol(data, label="fuzz.yaml")
    except ProtocolError as exc:
        assert exc.problems and all(p.code.startswith("BF") for p in exc.problems)


yaml_ish = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["id", "arms", "scheme", "bitframe", "trial", "x"]), children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc:-[]{}'\"#&*!|>\n  \t01.")), max_size=200))
def test_random_yamlish_text_never_raises_anything_but_protocol_error(text):
    try:
        parse_protocol("bitframe: 1\n" + text, label="fuzz.yaml")
    except ProtocolError as exc:
        assert exc.problems


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["trial", "context", "arms", "randomisation", "outcomes", "unit", "power"]), yaml_ish,
                       max_size=6))
def test_random_structures_never_raise_anything_but_protocol_error(doc):
    import json

    try:
        parse_protocol("bitframe: 1\n" + "\n".join(f"{k}: {json.dumps(v)}" for k, v in doc.items()), label="fuzz.yaml")
    except ProtocolError as exc:
        assert exc.problems
