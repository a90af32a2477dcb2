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


# ----------------------------------------------------------------------------- issue 21: one pass, safe YAML


def test_five_range_mistakes_get_five_located_messages_in_one_run():
    """Schema errors and the cross-field rules on what is left come out together (issue 21)."""
    fixture = HERE / "fixtures" / "five-range-mistakes.yaml"
    text = fixture.read_text()
    with pytest.raises(ProtocolError) as info:
        load_protocol(fixture)
    found = {(p.line, p.column): (p.code, p.message, p.hint) for p in info.value.problems}
    hint = "write {}: proportions are written between 0 and 1"
    assert found == {
        (line_of(text, "target: 80"), 11): ("BF114", "'target' must be less than 1.0, got 80", hint.format(0.8)),
        (line_of(text, "icc: 30"), 8): ("BF114", "'icc' must be less than 1.0, got 30", hint.format(0.3)),
        (line_of(text, "attrition: 5"), 14): ("BF114", "'attrition' must be less than 1.0, got 5", hint.format(0.05)),
        (line_of(text, "r_squared: 30%"), 14): ("BF112", "'r_squared' must be a number, got '30%'", hint.format(0.3)),
        (line_of(text, "control_rate: 3,"), 33): (
            "BF128", "control_rate must be a proportion in (0, 1), got 3.0", hint.format(0.03)),
    }
    assert all(p.snippet and p.file == str(fixture) for p in info.value.problems)


@pytest.mark.parametrize(("written", "hint"), [("80", "write 0.8"), ("'80%'", "write 0.8"), ("3%", "write 0.03"),
                                               ("12.5%", "write 0.125")])
def test_percentages_get_the_proportion_to_write(written, hint):
    [p] = problems_of(edit("  target: 0.8", f"  target: {written}"))
    assert p.field == "power.target" and p.hint.startswith(hint + ":")


def test_percentage_control_rate_gets_the_proportion_to_write():
    [p] = problems_of(edit("control_rate: 0.62", "control_rate: 3%"))
    assert (p.code, p.field) == ("BF112", "outcomes[0].assumptions.control_rate")
    assert p.hint.startswith("write 0.03:")


def test_rules_still_run_beside_schema_errors_in_other_sections():
    text = edit("  target: 0.8", "  target: 80").replace("role: control", "role: intervention", 1)
    found = [(p.code, p.field) for p in problems_of(text)]
    assert ("BF114", "power.target") in found and ("BF120", "arms") in found


def test_a_rule_that_follows_from_a_set_aside_field_is_not_reported():
    # strata set aside must not also produce "stratified_block needs strata"
    [p] = problems_of(edit("strata: [practice]", "strata: practice"))
    assert p.code == "BF112"


def bomb(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: each anchor is a list of `width` aliases of the one before."""
    lines = ["bitframe: 1", "lol0: &lol0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_with_a_located_message(tmp_path):
    import time

    path = tmp_path / "bomb.yaml"
    text = bomb(9)
    while len(text) < 4600:  # the 4.6 KB bomb: padding comments, same nine nested levels
        text += "# " + "lol " * 30 + "\n"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert time.perf_counter() - start < 2
    [p] = info.value.problems
    assert p.code == "BF105" and p.line is not None and p.column is not None and p.snippet
    assert p.message == "YAML aliases would expand the document past the budget of 100,000 added nodes"


def test_aliases_within_the_budget_still_load():
    text = edit("  alpha: 0.05", "  alpha: &level 0.05").replace("  target: 0.8", "  target: *level", 1)
    [p] = problems_of(text)  # the alias resolved: target 0.05 does not exceed alpha 0.05
    assert (p.code, p.field) == ("BF129", "power.target")


def test_alias_budget_counts_expansion_not_size():
    from ruamel.yaml import YAML

    from bitframe.protocol.loader import MAX_ALIAS_EXPANSION, _check_alias_expansion

    # 3 levels of 9 expand to 9**3 = 729 nodes: well within the budget
    _check_alias_expansion(YAML(typ="rt").compose(bomb(3)))
    assert 9**7 > MAX_ALIAS_EXPANSION > 9**5


def test_devices_and_fifos_are_refused_without_reading(tmp_path):
    import os
    import time

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        start = time.perf_counter()
        with pytest.raises(ProtocolError) as info:
            load_protocol(path)
        assert time.perf_counter() - start < 2
        [p] = info.value.problems
        assert p.code == "BF104" and p.file == str(path)
        assert p.message == "not a regular file (a device, pipe or socket); a protocol is a YAML text file"


def test_reading_stops_past_the_size_cap(tmp_path, monkeypatch):
    from bitframe.protocol import loader

    monkeypatch.setattr(loader, "MAX_BYTES", 1000)
    big = tmp_path / "big.yaml"
    big.write_text("bitframe: 1\n" + "# padding\n" * 200)
    with pytest.raises(ProtocolError) as info:
        load_protocol(big)
    [p] = info.value.problems
    assert (p.code, p.file, p.line) == ("BF104", str(big), 1) and "larger than" in p.message
