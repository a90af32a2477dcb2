"""validate, schema, init: exit codes, pinned output, no tracebacks, nothing overwritten without --force."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_examples_exit_zero(capsys):
    files = sorted(str(p) for p in (ROOT / "protocols").glob("*.yaml"))
    code, out, err = run(capsys, "validate", *files)
    assert code == 0, err
    assert out.count("\nok  ") + out.startswith("ok  ") == len(files)
    assert "programme 'bi-health-partnerships-2026' with 5 site(s) and 2 synthesis family(ies)" in out


def test_validate_bad_protocol_exit_one_with_located_problems(capsys, tmp_path):
    text = (ROOT / "protocols" / "sms-link-worker.yaml").read_text()
    text = text.replace("scheme: stratified_block", "scheme: stratfied_block").replace("planned_n: 1600", "planned_n: lots")
    text = text.replace("  title: SMS reminders to attend a first social-prescribing link-worker appointment\n", "")
    text += "analysis_plan: {}\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("bitframe: 1\ntrial:\n  id: x\n   title: y\n")
    code, _out, err = run(capsys, "validate", str(bad), str(syntax))
    assert code == 1
    assert "Traceback" not in err
    assert f"{bad}:" in err and "error[BF113]: 'stratfied_block' is not a valid value for 'scheme'" in err
    assert "hint: did you mean 'stratified_block'?" in err
    assert "error[BF112]: 'planned_n' must be a whole number, got 'lots'" in err
    assert "error[BF111]: missing required key 'title' in trial" in err
    assert "error[BF110]: unknown key 'analysis_plan'" in err and "did you mean 'analysis'?" in err
    assert f"{syntax}:4:9: error[BF100]: invalid YAML: mapping values are not allowed here" in err
    assert err.rstrip().endswith("2 of 2 protocol file(s) invalid.")


def test_validate_json_output(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bitframe: 2\n")
    code, out, _ = run(capsys, "validate", "--json", str(bad))
    assert code == 1
    [entry] = json.loads(out)
    assert entry["valid"] is False and entry["problems"][0]["code"] == "BF103"


def test_validate_random_bytes_no_traceback(capsys, tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)) * 3)
    code, _, err = run(capsys, "validate", str(junk))
    assert code == 1 and "Traceback" not in err and "error[BF104]" in err


def test_schema_validates_examples(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    from ruamel.yaml import YAML

    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "protocols").glob("*.yaml")):
        if path.name == "programme.yaml":
            continue
        # Editors' YAML language servers read dates as strings; so do we here.
        document = json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))
        errors = list(validator.iter_errors(document))
        assert errors == [], (path, [e.message for e in errors])
    # ... and rejects a misspelt scheme
    sms = YAML(typ="safe").load((ROOT / "protocols" / "sms-link-worker.yaml").read_text())
    document = json.loads(json.dumps(sms, default=str))
    document["randomisation"]["scheme"] = "stratfied_block"
    assert list(validator.iter_errors(document))


def test_schema_file_is_not_overwritten_without_force(capsys, tmp_path):
    target = tmp_path / "schema.json"
    target.write_text("keep me")
    code, _, err = run(capsys, "schema", "--out", str(target))
    assert code == 1 and "output file already exists" in err and "--force" in err
    assert target.read_text() == "keep me"
    code, _, _ = run(capsys, "schema", "--out", str(target), "--force")
    assert code == 0 and json.loads(target.read_text())["title"].startswith("bitframe trial protocol")


@pytest.mark.parametrize("scheme", ["simple", "complete", "block", "stratified_block", "cluster", "stratified_cluster",
                                    "minimisation", "stepped_wedge"])
@pytest.mark.parametrize("outcome", ["binary", "continuous", "count"])
def test_init_scaffolds_a_valid_protocol(capsys, tmp_path, scheme, outcome):
    from bitframe.protocol import load_protocol

    target = tmp_path / "p.yaml"
    code, _out, err = run(capsys, "init", str(target), "--no-input", "--scheme", scheme, "--outcome-type", outcome,
                         "--id", "my-trial", "--title", "A: title with colon", "--site", "Site")
    assert code == 0, err
    target.write_text(fill_placeholders(target.read_text()))  # an unedited scaffold fails until filled (issue 21)
    protocol = load_protocol(target)
    assert protocol.randomisation.scheme == scheme and protocol.outcomes[0].type == outcome
    assert protocol.trial.title == "A: title with colon"


def fill_placeholders(text: str) -> str:
    """What an author does to a scaffold: each "replace: ..." becomes its example, or some text."""
    text = re.sub(r'"replace: [^"]*e\.g\. ([^"]+)"', r"\1", text)
    return re.sub(r'"replace: ([^"]*)"', lambda m: json.dumps(m.group(1).capitalize()), text)


def test_init_rejects_bad_choice_and_writes_nothing(capsys, tmp_path):
    target = tmp_path / "p.yaml"
    code, _, err = run(capsys, "init", str(target), "--no-input", "--scheme", "stratfied")
    assert code == 1 and "did you mean 'stratified_block'?" in err
    assert not target.exists()


def test_reference_docs_are_current():
    from bitframe.protocol.docs import render

    assert (ROOT / "docs" / "protocol-reference.md").read_text() == render(), "run `make docs`"


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    """Outputs are written via a private temp file but end up with the mode a plain open() gives."""
    import os

    from bitframe.io import write_text_atomic

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = tmp_path / "atomic.txt"
    write_text_atomic(atomic, "x")
    assert oct(atomic.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# ----------------------------------------------------------------------------- issue 21


def test_validate_reports_five_range_mistakes_in_one_run(capsys):
    fixture = ROOT / "tests" / "protocol" / "fixtures" / "five-range-mistakes.yaml"
    code, _out, err = run(capsys, "validate", str(fixture))
    assert code == 1 and "Traceback" not in err
    assert err.count(f"{fixture}:") == 5 and "5 problems found." in err
    for hint in ("write 0.8:", "write 0.3:", "write 0.05:", "write 0.03:"):
        assert hint in err


def test_validate_prints_warnings_and_exits_zero(capsys, tmp_path):
    text = (ROOT / "protocols" / "peer-support-neighbourhoods.yaml").read_text().replace("icc: 0.03", "icc: 0.6")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0 and out.startswith("ok  ")
    assert f"{path}:" in err and "warning[BF150]: icc 0.6 is implausibly high (above 0.5)" in err
    code, out, _err = run(capsys, "validate", "--json", str(path))
    [entry] = json.loads(out)
    assert code == 0 and entry["valid"] is True
    assert [(p["code"], p["severity"], p["field"]) for p in entry["problems"]] == [("BF150", "warning", "power.icc")]


def test_validate_json_gives_errors_a_severity(capsys, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text((ROOT / "protocols" / "sms-link-worker.yaml").read_text().replace("  target: 0.8", "  target: 80"))
    code, out, _err = run(capsys, "validate", "--json", str(path))
    [entry] = json.loads(out)
    assert code == 1 and [(p["code"], p["severity"]) for p in entry["problems"]] == [("BF114", "error")]


def test_validate_refuses_a_device_quickly(capsys):
    import time

    start = time.perf_counter()
    code, _out, err = run(capsys, "validate", "/dev/zero")
    assert time.perf_counter() - start < 2
    assert code == 1 and "/dev/zero: error[BF104]: not a regular file" in err


def init_session(tmp_path: Path, answers: str, *args: str) -> subprocess.CompletedProcess:
    import os
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "bitframe", "init", "p.yaml", *args], input=answers, text=True, check=False,
                          capture_output=True, cwd=tmp_path, env=env, timeout=60)


def test_piped_init_session_writes_the_answers_rechecking_bad_ones(tmp_path):
    # answers one a line; a misspelt area is re-asked, "helping one another" is accepted as typed,
    # a scheme may be given by its number, an empty line takes the default
    answers = "sms-trial\nSMS reminders\nNorthfield\nhelping one anotehr\nhelping one another\nstratfied\n5\n\n"
    done = init_session(tmp_path, answers)
    assert done.returncode == 0, done.stderr
    assert "  2. helping_one_another: Behaviours that build support within communities." in done.stderr
    assert "'helping one anotehr' is not one of the choices; did you mean 'helping_one_another'?" in done.stderr
    assert "'stratfied' is not one of the choices; did you mean 'stratified_block'?" in done.stderr
    text = (tmp_path / "p.yaml").read_text()
    from bitframe.protocol import parse_protocol

    protocol = parse_protocol(fill_placeholders(text), label="p.yaml")
    assert (protocol.trial.id, protocol.trial.title, protocol.trial.site) == ("sms-trial", "SMS reminders", "Northfield")
    assert (protocol.trial.programme_area, protocol.randomisation.scheme) == ("helping_one_another", "cluster")
    assert protocol.outcomes[0].type == "binary"


def test_piped_init_with_a_bad_last_answer_fails_without_writing(tmp_path):
    done = init_session(tmp_path, "", "--area", "helping one anotehr")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "--area: 'helping one anotehr' is not one of the choices; did you mean 'helping_one_another'?" in done.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_piped_init_ending_on_a_bad_answer_fails_without_writing(tmp_path):
    done = init_session(tmp_path, "sms-trial\nSMS reminders\nNorthfield\nhelping one anotehr\n")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error[BF113]: --area: 'helping one anotehr' is not one of the choices" in done.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_init_schema_line_points_at_the_schema_it_writes(capsys, tmp_path):
    target = tmp_path / "p.yaml"
    code, out, err = run(capsys, "init", str(target), "--no-input")
    assert code == 0, err
    text = target.read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=protocol.schema.json"
    assert "bitframe.invalid" not in text
    schema = json.loads((tmp_path / "protocol.schema.json").read_text())
    assert schema["title"] == "bitframe trial protocol (version 1)"
    # a second protocol beside it leaves the identical schema alone
    code, out, err = run(capsys, "init", str(tmp_path / "q.yaml"), "--no-input")
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'q.yaml'}: ")


def test_unedited_scaffold_fails_naming_every_placeholder(capsys, tmp_path):
    target = tmp_path / "p.yaml"
    run(capsys, "init", str(target), "--no-input", "--scheme", "cluster", "--outcome-type", "continuous")
    text = target.read_text()
    placeholders = [(i, line.index('"replace:') + 1) for i, line in enumerate(text.splitlines(), 1)
                    if '"replace:' in line and not line.startswith("#")]
    code, out, _err = run(capsys, "validate", "--json", str(target))
    [entry] = json.loads(out)
    assert code == 1
    assert {(p["line"], p["column"]) for p in entry["problems"]} == set(placeholders)
    assert {p["code"] for p in entry["problems"]} == {"BF116"}
    assert len(entry["problems"]) == len(placeholders) == 19
    icc = next(p for p in entry["problems"] if p["field"] == "power.icc")
    assert icc["message"] == "placeholder not filled: 'power.icc' still reads 'replace: the intra-cluster correlation, e.g. 0.05'"
    assert icc["hint"] == "replace it with the intra-cluster correlation, e.g. 0.05"


def test_init_governance_flags_write_the_section(capsys, tmp_path):
    target = tmp_path / "g.yaml"
    code, _out, err = run(capsys, "init", str(target), "--no-input", "--sponsor", "Council", "--funders", "A; B",
                          "--ethics-committee", "REC", "--ethics-approved", "2026-03-01")
    assert code == 0, err
    from bitframe.protocol import parse_protocol

    g = parse_protocol(fill_placeholders(target.read_text()), label="g.yaml").governance
    assert (g.sponsor, g.funders, g.ethics.committee, str(g.ethics.approved)) == ("Council", ("A", "B"), "REC",
                                                                                  "2026-03-01")
