"""Re-randomisation is never silent (issue 14): --force needs --reason and is recorded; sibling
outputs are written afresh; an input is never overwritten; a list never lacks its manifest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bitframe.cli import main
from bitframe.io import sha256_file
from bitframe.randomise import randomise_file
from bitframe.randomise.from_protocol import design_from_protocol

SMS = Path(__file__).resolve().parents[2] / "protocols" / "sms-link-worker.yaml"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def people(tmp_path):
    path = tmp_path / "people.csv"
    rows = [f"P-{i},{['Elm Road', 'Hill Surgery', 'Market Street', 'Riverside'][i % 4]}" for i in range(40)]
    path.write_text("participant_id,practice\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_force_needs_a_reason_and_the_new_manifest_records_the_old_list(tmp_path, capsys, people):
    out = tmp_path / "list.csv"
    assert run(capsys, "randomise", SMS, "-p", people, "-o", out, "--xlsx", "--seed", 1)[0] == 0
    old_sha = sha256_file(out)
    code, _, err = run(capsys, "randomise", SMS, "-p", people, "-o", out, "--seed", 2, "--force")
    assert code == 1 and "error[BF904]" in err and "--reason" in err and "Traceback" not in err
    assert sha256_file(out) == old_sha  # nothing written

    code, _, err = run(capsys, "randomise", SMS, "-p", people, "-o", out, "--seed", 2, "--force",
                       "--reason", "site list corrected")
    assert code == 0, err
    manifest = json.loads((tmp_path / "list.manifest.json").read_text())
    assert manifest["replaces"]["list_sha256"] == old_sha
    assert manifest["replaces"]["reason"] == "site list corrected"
    assert manifest["replaces"]["replaced_utc"].endswith("Z")
    assert not (tmp_path / "list.xlsx").exists()  # the stale Excel copy of the old list is gone


def test_a_stale_xlsx_alone_counts_as_an_existing_output(tmp_path, capsys, people):
    (tmp_path / "list.xlsx").write_bytes(b"old")
    code, _, err = run(capsys, "randomise", SMS, "-p", people, "-o", tmp_path / "list.csv")
    assert code == 1 and "error[BF901]" in err and "list.xlsx" in err


def test_an_output_equal_to_an_input_is_refused(tmp_path, capsys, people):
    csv_people = people.read_bytes()
    code, _, err = run(capsys, "randomise", SMS, "-p", people, "-o", people, "--force", "--reason", "x")
    assert code == 1 and "error[BF903]" in err and "overwrite an input" in err
    assert people.read_bytes() == csv_people


def test_an_interrupt_between_renames_still_leaves_a_complete_set(tmp_path, people, monkeypatch):
    import bitframe.randomise.output as output

    allocation = randomise_file(str(people), design_from_protocol(_protocol()), id_column="participant_id", seed=3)
    real_replace, calls = os.replace, []

    def interrupted(src, dst):
        calls.append(Path(dst).name)
        real_replace(src, dst)
        if len(calls) == 1:
            raise KeyboardInterrupt  # SIGINT just after the first file is in place

    monkeypatch.setattr(output.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.write_allocation(allocation, tmp_path / "list.csv", xlsx=True)
    assert calls[0] == "list.manifest.json"  # the seed's record goes first
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("list")) == [
        "list.csv", "list.manifest.json", "list.public-summary.json", "list.xlsx"]
    assert not list(tmp_path.glob(".list*"))  # no temporary file left behind
    manifest = json.loads((tmp_path / "list.manifest.json").read_text())
    assert manifest["list_sha256"] == sha256_file(tmp_path / "list.csv")
    assert manifest["xlsx_sha256"] == sha256_file(tmp_path / "list.xlsx")


def test_an_interrupt_while_staging_leaves_nothing(tmp_path, people, monkeypatch):
    import bitframe.randomise.output as output

    allocation = randomise_file(str(people), design_from_protocol(_protocol()), id_column="participant_id", seed=3)

    real_token, names = output.secrets.token_hex, []

    def interrupted(n):
        names.append(n)
        if len(names) == 3:
            raise KeyboardInterrupt  # SIGINT while the third file is being staged
        return real_token(n)

    monkeypatch.setattr(output.secrets, "token_hex", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.write_allocation(allocation, tmp_path / "list.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv"]


def _protocol():
    from bitframe.protocol import load_protocol

    return load_protocol(SMS)
