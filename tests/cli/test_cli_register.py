"""`bitframe register`: the pack's files, the to-do list on the command line, and located errors."""

from __future__ import annotations

from pathlib import Path

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_register_writes_the_pack_and_lists_what_registration_still_needs(capsys, tmp_path):
    code, out, err = run(capsys, "register", ROOT / "protocols" / "sms-link-worker.yaml", "--out", tmp_path)
    assert code == 0, err
    for name in ("protocol.html", "who-trds.json", "isrctn.txt", "todo.json", "todo.md"):
        assert f"wrote {tmp_path / name}" in out
    assert "to do before registering (9 required items the protocol lacks" in out
    assert "  - 5. Primary Sponsor" in out and "1. Primary Registry" not in out
    assert "SPIRIT 2025:" in out and "items not stated in the protocol" in out


def test_register_refuses_to_overwrite_without_force(capsys, tmp_path):
    protocol = ROOT / "protocols" / "volunteer-letters.yaml"
    assert run(capsys, "register", protocol, "--out", tmp_path)[0] == 0
    code, _, err = run(capsys, "register", protocol, "--out", tmp_path)
    assert code == 1 and "--force" in err and "Traceback" not in err
    assert run(capsys, "register", protocol, "--out", tmp_path, "--force")[0] == 0


def test_a_missing_protocol_is_a_located_error(capsys, tmp_path):
    code, _, err = run(capsys, "register", tmp_path / "nope.yaml", "--out", tmp_path / "pack")
    assert code == 1 and "nope.yaml" in err and "file not found" in err and "Traceback" not in err


def test_an_out_path_that_is_a_file_is_refused_with_a_message(capsys, tmp_path):
    (tmp_path / "pack").write_text("")
    code, _, err = run(capsys, "register", ROOT / "protocols" / "volunteer-letters.yaml", "--out", tmp_path / "pack")
    assert code == 1 and "BF530" in err and "must name a folder" in err and "Traceback" not in err
