"""A results report knows it reports results, and tells administrative protocol edits from analysis changes.

Issue 15 acceptance: a report rendered after changing only ``trial.status`` carries no "differs"
warning (a quiet note naming ``trial.status``); one rendered after changing a primary outcome's
column carries a loud warning at the top of the report and on the command line.
"""

from __future__ import annotations

import json

import pytest
from report_testkit import PROTOCOL_FILES, parse_html

from bitframe.cli import main
from bitframe.io import sha256_file
from bitframe.protocol import load_protocol
from bitframe.protocol.canonical import content_sha256, part_hashes

TRIAL = "volunteer-letters"


@pytest.fixture
def analysed(tmp_path, results):
    """The fixture results stamped as if analysed from a copy of the protocol file (as `bitframe analyse` does)."""
    protocol_path = tmp_path / "protocol.yaml"
    protocol_path.write_text(PROTOCOL_FILES[TRIAL].read_text(encoding="utf-8"), encoding="utf-8")
    protocol = load_protocol(protocol_path)
    res = results(TRIAL)
    res["inputs"].update(protocol_sha256=sha256_file(protocol_path), protocol_content_sha256=content_sha256(protocol),
                         protocol_parts_sha256=part_hashes(protocol))
    results_path = tmp_path / "results.json"
    results_path.write_text(json.dumps(res), encoding="utf-8")
    return protocol_path, results_path


def _report(capsys, protocol_path, results_path, out):
    code = main(["report", str(protocol_path), "--results", str(results_path), "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return parse_html(out.read_text(encoding="utf-8")), out.read_text(encoding="utf-8"), err


def test_unchanged_protocol_reports_results_and_matching_hashes(capsys, analysed, tmp_path):
    doc, html, err = _report(capsys, *analysed, tmp_path / "r.html")
    assert "differs" not in html and "warning" not in err
    assert "content hashes match" in html
    status = [dd.text() for dd in doc.find("dl", class_="meta").find_all("dd")]
    assert any(s.startswith("Results") for s in status) and "Planned" not in status


def test_changing_only_the_status_is_a_quiet_administrative_note(capsys, analysed, tmp_path):
    protocol_path, results_path = analysed
    text = protocol_path.read_text(encoding="utf-8")
    protocol_path.write_text(text.replace("status: planned", "status: completed"), encoding="utf-8")
    doc, html, err = _report(capsys, protocol_path, results_path, tmp_path / "r.html")
    assert "differs" not in html and "warning" not in err
    assert 'id="protocol-changed"' not in html
    note = doc.by_id("protocol-note").text()
    assert note == ("The protocol's administrative details changed after the analysis: trial.status; nothing the "
                    "analysis depends on changed.")


def test_changing_a_primary_outcomes_column_is_a_loud_warning(capsys, analysed, tmp_path):
    protocol_path, results_path = analysed
    text = protocol_path.read_text(encoding="utf-8")
    protocol_path.write_text(text.replace("column: registered", "column: registered_v2"), encoding="utf-8")
    doc, html, err = _report(capsys, protocol_path, results_path, tmp_path / "r.html")
    box = doc.by_id("protocol-changed")
    assert box.attrs.get("role") == "alert"
    assert "outcomes[registered].column" in box.text()
    # The box comes before the contents and every section: the first thing a reader sees after the title.
    assert html.index('id="protocol-changed"') < html.index('id="contents"')
    assert "differs from the one that was analysed" in html
    assert err.startswith("warning: The protocol has changed since the analysis") and \
        "outcomes[registered].column" in err


@pytest.mark.slow  # a full analysis with randomisation inference: about a minute on two shared cores
def test_end_to_end_analyse_records_the_content_hash_and_report_reads_it(capsys, tmp_path):
    """`bitframe analyse --json` records both hashes; an edited status then reports quietly, an edited column loudly."""
    protocol_path = tmp_path / "sms.yaml"
    protocol_path.write_text(PROTOCOL_FILES["sms-link-worker"].read_text(encoding="utf-8"), encoding="utf-8")
    people, lst, out, results = (tmp_path / n for n in ("people.csv", "list.csv", "outcomes.csv", "results.json"))
    for args in (["simulate", protocol_path, "--out", people, "--n", 300],
                 ["randomise", protocol_path, "-p", people, "-o", lst],
                 ["simulate", protocol_path, "--list", lst, "--participants", people, "--out", out, "--seed", 3],
                 ["analyse", protocol_path, "--list", lst, "--outcomes", out, "--json", results]):
        assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    capsys.readouterr()
    inputs = json.loads(results.read_text(encoding="utf-8"))["inputs"]
    protocol = load_protocol(protocol_path)
    assert inputs["protocol_content_sha256"] == content_sha256(protocol)
    assert inputs["protocol_parts_sha256"] == part_hashes(protocol)
    text = protocol_path.read_text(encoding="utf-8")
    assert "status: planned" in text
    protocol_path.write_text(text.replace("status: planned", "status: completed"), encoding="utf-8")
    _, html, err = _report(capsys, protocol_path, results, tmp_path / "quiet.html")
    assert "differs" not in html and not err and "trial.status" in html
    column = next(o.column for o in protocol.outcomes if o.role == "primary")
    protocol_path.write_text(text.replace(f"column: {column}\n", f"column: {column}_v2\n", 1), encoding="utf-8")
    _, html, err = _report(capsys, protocol_path, results, tmp_path / "loud.html")
    assert 'id="protocol-changed"' in html and err.startswith("warning: ")
