"""`bitframe randomise` / `bitframe verify`: lists, manifests, tamper detection, nothing written on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMS = ROOT / "protocols" / "sms-link-worker.yaml"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def people(tmp_path, capsys):
    path = tmp_path / "people.csv"
    assert run(capsys, "simulate", SMS, "--out", path, "--n", 300)[0] == 0
    return path


def test_randomise_writes_list_manifest_and_public_summary(capsys, tmp_path, people):
    out = tmp_path / "list.csv"
    code, stdout, err = run(capsys, "randomise", SMS, "--participants", people, "--out", out, "--xlsx")
    assert code == 0, err
    assert "randomised 300 units of 'sms-link-worker' by stratified_block (seed 20260201, given)" in stdout
    manifest = json.loads((tmp_path / "list.manifest.json").read_text())
    public = json.loads((tmp_path / "list.public-summary.json").read_text())
    assert manifest["seed"] == "20260201" and manifest["design"]["block_sizes"] == [4, 6, 8]
    # The public summary must not reveal the seed or block sizes (SPIRIT 2025 item 21b).
    text = json.dumps(public)
    assert "seed" not in text and "20260201" not in text and "block_size" not in text and "[4, 6, 8]" not in text
    assert sum(public["counts_by_arm"].values()) == 300
    assert (tmp_path / "list.xlsx").exists()
    code, _, err = run(capsys, "randomise", SMS, "--participants", people, "--out", out)
    assert code == 1 and err.count("output file already exists") == 4  # the Excel copy too (issue 14)


def test_verify_passes_then_names_the_edited_row(capsys, tmp_path, people):
    out = tmp_path / "list.csv"
    assert run(capsys, "randomise", SMS, "-p", people, "-o", out)[0] == 0
    code, stdout, _ = run(capsys, "verify", SMS, "-p", people, "--list", out)
    assert code == 0 and "verified: the list is exactly what the protocol and seed produce" in stdout
    rows = list(csv.reader(out.open()))
    header = rows[0]
    arm, seq = header.index("arm"), header.index("sequence")
    rows[7][arm] = "sms" if rows[7][arm] == "usual" else "usual"
    with out.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    code, stdout, _ = run(capsys, "verify", SMS, "-p", people, "--list", out)
    assert code == 1
    assert "FAIL  list_sha256" in stdout and "FAIL  rows: 1 unit(s) differ" in stdout
    assert f"unit '{rows[7][0]}' (sequence {rows[7][seq]})" in stdout


def test_bad_participant_file_writes_nothing(capsys, tmp_path, people):
    rows = list(csv.reader(people.open()))
    rows[3][0] = rows[2][0]  # duplicate id
    rows[5][1] = "Unknown Surgery"  # not a declared practice
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "list.csv"
    code, _, err = run(capsys, "randomise", SMS, "-p", bad, "-o", out)
    assert code == 1 and "Traceback" not in err
    assert f"{bad.name}, row 4" in err and "appears 2 times" in err and "Unknown Surgery" in err
    assert not any(tmp_path.glob("list*"))


def test_xlsx_refuses_a_stratum_it_cannot_hold_and_writes_nothing(capsys, tmp_path):
    """A stratum label with a control character (allowed in the CSV) cannot go into an .xlsx:
    a located BF905 with the first row holding it, exit 1, no file of the set written."""
    protocol = tmp_path / "open-practices.yaml"
    protocol.write_text(SMS.read_text().replace(
        "{name: practice, type: categorical, values: [Elm Road, Hill Surgery, Market Street, Riverside]}",
        "{name: practice, type: categorical}"))
    people = tmp_path / "people.csv"
    assert run(capsys, "simulate", protocol, "--out", people, "--n", 40)[0] == 0
    with people.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[5]["practice"] = rows[9]["practice"] = "Elm\x07Road"
    with people.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out" / "list.csv"
    code, _, err = run(capsys, "randomise", protocol, "-p", people, "-o", out, "--xlsx")
    assert code == 1
    assert "list.xlsx, row 7, column 'stratum': error[BF905]:" in err
    assert "U+0007" in err and "Traceback" not in err
    assert not out.parent.exists() or not list(out.parent.iterdir())
    assert run(capsys, "randomise", protocol, "-p", people, "-o", out)[0] == 0  # the CSV alone holds it


def test_randomise_runs_without_the_cycle_collector_and_gives_it_back(capsys, tmp_path, people, monkeypatch):
    """As `analyse` (decision 0017): the collector is paused for the command's work and restored."""
    import gc

    from bitframe.randomise import from_protocol

    real, seen = from_protocol.randomise_protocol_file, []

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(from_protocol, "randomise_protocol_file", recording)
    code, _, err = run(capsys, "randomise", SMS, "--participants", people, "--out", tmp_path / "list.csv")
    assert code == 0, err
    assert seen == [False] and gc.isenabled()
