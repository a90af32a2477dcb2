"""Freeze and compare: the pack records the registered protocol; `analyse` and `report` list every later change.

CONSORT 2025 item 10 (Hopewell et al., BMJ 2025;389:e081123) asks for "important changes to the trial
after it commenced including any outcomes or analyses that were not prespecified": a changed primary
outcome must show as a deviation, a changed recruitment status must not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from bitframe.analyse.registration import REGISTERED_FILE, check_registration
from bitframe.cli import main
from bitframe.errors import DataError
from bitframe.protocol import load_protocol
from bitframe.register import write_pack

ROOT = Path(__file__).resolve().parents[2]
VL = ROOT / "protocols" / "volunteer-letters.yaml"
SCHEMA = json.loads((ROOT / "docs" / "registered-protocol.schema.json").read_text())
SWAP_PRIMARY = (("  - id: registered\n    role: primary", "  - id: registered\n    role: secondary"),
                ("  - id: hours\n    role: exploratory", "  - id: hours\n    role: primary"))
STATUS = (("  status: planned", "  status: completed"),)


def edited(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = VL.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    out = tmp_path_factory.mktemp("pack")
    write_pack(VL, out)
    return out


def test_the_pack_records_the_public_protocol_and_its_analysis_hash(pack):
    record = json.loads((pack / REGISTERED_FILE).read_text())
    jsonschema.validate(record, SCHEMA)
    assert record["parts"]["outcomes[registered].role"] == "primary"
    assert record["parts"]["randomisation.scheme"] == "complete"
    assert not {"randomisation.seed", "randomisation.block_sizes"} & set(record["parts"])
    assert record["content_sha256"] in (pack / "protocol.html").read_text()


def test_the_unchanged_protocol_shows_no_change(pack):
    check = check_registration(load_protocol(VL), pack)
    assert check.changes == () and check.content_sha256 == check.analysed_content_sha256


def test_a_status_change_is_administrative_only(pack, tmp_path):
    check = check_registration(load_protocol(edited(tmp_path, "p.yaml", *STATUS)), pack)
    assert [(c.part, c.kind, c.registered, c.analysed) for c in check.changes] == [
        ("trial.status", "administrative", "planned", "completed")]
    assert check.analysis_changes == () and check.content_sha256 == check.analysed_content_sha256


def test_a_changed_primary_outcome_is_an_analysis_change(pack, tmp_path):
    check = check_registration(load_protocol(edited(tmp_path, "p.yaml", *SWAP_PRIMARY, *STATUS)), pack)
    assert [(c.part, c.registered, c.analysed) for c in check.analysis_changes] == [
        ("outcomes[hours].role", "exploratory", "primary"), ("outcomes[registered].role", "primary", "secondary")]
    assert [c.part for c in check.administrative_changes] == ["trial.status"]
    assert check.content_sha256 != check.analysed_content_sha256


def test_a_new_outcome_is_one_change_of_the_whole_outcome(pack, tmp_path):
    extra = ("analysis:\n", "  - id: booked\n    role: exploratory\n    type: binary\n    column: booked\n\nanalysis:\n")
    check = check_registration(load_protocol(edited(tmp_path, "p.yaml", extra)), pack)
    assert [(c.part, c.kind, c.registered) for c in check.changes] == [("outcomes[booked]", "analysis", None)]
    assert check.changes[0].analysed["column"] == "booked"


def test_a_pack_of_another_trial_or_no_pack_is_refused(tmp_path):
    other = tmp_path / "other"
    write_pack(ROOT / "protocols" / "sms-link-worker.yaml", other)
    with pytest.raises(DataError, match=r"BF225.*of trial 'sms-link-worker', not 'volunteer-letters'"):
        check_registration(load_protocol(VL), other)
    with pytest.raises(DataError, match=r"BF225.*not there"):
        check_registration(load_protocol(VL), tmp_path / "missing")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trial")
    people, lst, out = folder / "people.csv", folder / "list.csv", folder / "outcomes.csv"
    assert main(["simulate", str(VL), "--out", str(people), "--n", "600"]) == 0
    assert main(["randomise", str(VL), "-p", str(people), "-o", str(lst)]) == 0
    assert main(["simulate", str(VL), "--list", str(lst), "--participants", str(people), "--out", str(out),
                 "--seed", "3"]) == 0
    return lst, out


def test_analyse_and_report_list_a_changed_primary_outcome_as_a_deviation(capsys, tmp_path, pack, trial):
    lst, out = trial
    changed = edited(tmp_path, "changed.yaml", *SWAP_PRIMARY, *STATUS)
    results = tmp_path / "results.json"
    code, stdout, err = run(capsys, "analyse", changed, "--list", lst, "--outcomes", out, "--registered", pack,
                            "--json", results)
    assert code == 0, err
    assert ('deviation: changed since registration: outcomes[registered].role: registered "primary", '
            'analysed "secondary"') in stdout
    assert "note: Administrative details changed since registration (nothing the analysis depends on): " \
           "trial.status." in stdout
    assert not re.search(r"deviation: .*trial\.status", stdout)
    data = json.loads(results.read_text())
    kinds = {c["part"]: c["kind"] for c in data["registration"]["changes"]}
    assert kinds == {"outcomes[registered].role": "analysis", "outcomes[hours].role": "analysis",
                     "trial.status": "administrative"}

    html_path = tmp_path / "report.html"
    code, _, err = run(capsys, "report", changed, "--results", results, "--out", html_path)
    assert code == 0, err
    html = html_path.read_text()
    table = html[html.index('<table id="tbl-registration">'):]
    table = table[:table.index("</table>")]
    rows = [re.sub(r"<[^>]+>", "|", r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    cells = [[c.strip() for c in row.split("|") if c.strip()] for row in rows]
    assert cells == [["outcomes[hours].role", "Analysis", "exploratory", "primary"],
                     ["outcomes[registered].role", "Analysis", "primary", "secondary"],
                     ["trial.status", "Administrative", "planned", "completed"]]
    deviations = html[html.index('id="deviations"'):html.index('id="deviations-registration"')]
    assert "outcomes[registered].role" in deviations and "trial.status" not in deviations


def test_a_status_change_alone_is_no_deviation(capsys, tmp_path, pack, trial):
    lst, out = trial
    changed = edited(tmp_path, "changed.yaml", *STATUS)
    code, stdout, err = run(capsys, "analyse", changed, "--list", lst, "--outcomes", out, "--registered", pack)
    assert code == 0, err
    assert "since registration" not in "".join(line for line in stdout.splitlines() if line.startswith("deviation"))
    assert "trial.status" in stdout


def test_the_protocol_can_name_its_pack_so_no_run_forgets_it(capsys, tmp_path, trial):
    lst, out = trial
    write_pack(VL, tmp_path / "registration")
    changed = edited(tmp_path, "changed.yaml", *SWAP_PRIMARY,
                     ("power:\n", "governance:\n  registered_pack: registration\n\npower:\n"))
    code, stdout, err = run(capsys, "analyse", changed, "--list", lst, "--outcomes", out)
    assert code == 0, err
    assert "deviation: changed since registration: outcomes[registered].role" in stdout
    assert not re.search(r"deviation: .*governance", stdout)  # adding the pointer is no deviation
    missing = edited(tmp_path, "missing.yaml", ("power:\n", "governance:\n  registered_pack: nowhere\n\npower:\n"))
    code, _, err = run(capsys, "analyse", missing, "--list", lst, "--outcomes", out)
    assert code == 1 and "BF225" in err and "nowhere" in err and "Traceback" not in err


CC = ROOT / "protocols" / "community-connectors.yaml"


def test_a_design_protocol_is_frozen_and_compared_as_a_randomised_one(capsys, tmp_path):
    """A non-randomised design is pre-registered too: a changed primary outcome is a deviation in `analyse`."""
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "scripts" / "community_connectors_data.py"), str(tmp_path),
                    "--seed", "19"], check=True, capture_output=True)
    data = tmp_path / "community-connectors-panel.csv"
    pack = tmp_path / "registration"
    write_pack(CC, pack)
    text = CC.read_text(encoding="utf-8")
    swaps = (("  - id: activity_rate\n    role: primary", "  - id: activity_rate\n    role: secondary"),
             ("  - id: gp_loneliness\n    role: secondary", "  - id: gp_loneliness\n    role: primary"),
             ("  status: planned", "  status: recruiting"))
    for old, new in swaps:
        assert old in text, old
        text = text.replace(old, new)
    changed = tmp_path / "changed.yaml"
    changed.write_text(text, encoding="utf-8")
    code, stdout, err = run(capsys, "analyse", changed, "--outcomes", data, "--registered", pack)
    assert code == 0, err
    assert ('deviation: changed since registration: outcomes[activity_rate].role: registered "primary", '
            'analysed "secondary"') in stdout
    assert not re.search(r"deviation: .*trial\.status", stdout) and "trial.status" in stdout
    code, stdout, err = run(capsys, "analyse", CC, "--outcomes", data, "--registered", pack)
    assert code == 0, err
    assert "deviation:" not in stdout and "its analysis content is unchanged" in stdout
