"""Situations users run into give a located message and exit 1, never an internal error (issue 13).

Each case names what the message must say (the path or the server) and what to do; the README's
exit codes are 0, 1, 2 and 130 (interrupted).
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMS = ROOT / "protocols" / "sms-link-worker.yaml"
UNREACHABLE_PG = "postgresql://bitframe@127.0.0.1:1/trial"  # port 1: nothing listens there


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


@pytest.fixture()
def trial(tmp_path, capsys):
    people, lst, out = tmp_path / "people.csv", tmp_path / "list.csv", tmp_path / "outcomes.csv"
    assert run(capsys, "simulate", SMS, "--out", people, "--n", 200)[0] == 0
    assert run(capsys, "randomise", SMS, "-p", people, "-o", lst)[0] == 0
    assert run(capsys, "simulate", SMS, "--list", lst, "--participants", people, "--out", out, "--seed", 3)[0] == 0
    return people, lst, out


def _files(tmp: Path) -> dict[str, Path]:
    (tmp / "folder").mkdir()
    (tmp / "plain.txt").write_text("not a folder\n")
    (tmp / "notdb.db").write_text("hello, not a database\n")
    (tmp / "empty.db").touch()
    return {"folder": tmp / "folder", "plain": tmp / "plain.txt", "notdb": tmp / "notdb.db",
            "empty": tmp / "empty.db", "missing": tmp / "missing.db"}


# (case id, arguments with {placeholders}, what the message must contain)
CASES = [
    ("out is a directory", ["schema", "--out", "{folder}"], ["{folder}", "is a directory", "file name inside it"]),
    ("out is a directory, forced", ["schema", "--out", "{folder}", "--force"], ["{folder}", "is a directory"]),
    ("out under a file", ["schema", "--out", "{plain}/schema.json"],
     ["{plain}/schema.json", "a folder on its path is a file"]),
    ("simulate out is a directory", ["simulate", str(SMS), "--out", "{folder}", "--n", "10"],
     ["{folder}", "is a directory"]),
    ("audit verify, missing file", ["audit", "verify", "--db", "sqlite:///{missing}"], ["{missing}", "is missing"]),
    ("audit show, missing file", ["audit", "show", "--db", "sqlite:///{missing}"],
     ["{missing}", "does not exist", "bitframe serve PROTOCOL --init-only"]),
    ("audit show, a directory", ["audit", "show", "--db", "sqlite:///{folder}"], ["{folder}", "directory"]),
    ("audit verify, not a database", ["audit", "verify", "--db", "sqlite:///{notdb}"],
     ["{notdb}", "file is not a database", "--init-only"]),
    ("audit show, not a database", ["audit", "show", "--db", "sqlite:///{notdb}"], ["{notdb}", "not a database"]),
    ("audit verify, never set up", ["audit", "verify", "--db", "sqlite:///{empty}"],
     ["{empty}", "has not been set up", "--init-only"]),
    ("export, missing file", ["export", "allocations", "--out", "{tmp}/a.csv", "--db", "sqlite:///{missing}"],
     ["{missing}", "does not exist"]),
    ("export, not a database", ["export", "audit", "--out", "{tmp}/a.csv", "--db", "sqlite:///{notdb}"],
     ["{notdb}", "not a database"]),
    ("export, never set up", ["export", "allocations", "--out", "{tmp}/a.csv", "--db", "sqlite:///{empty}"],
     ["{empty}", "has not been set up"]),
    ("users list, never set up", ["users", "list", "--db", "sqlite:///{empty}"], ["{empty}", "has not been set up"]),
    ("audit verify, PostgreSQL unreachable", ["audit", "verify", "--db", UNREACHABLE_PG],
     ["127.0.0.1:1/trial", "PostgreSQL server is running"]),
    ("export, PostgreSQL unreachable", ["export", "audit", "--out", "{tmp}/a.csv", "--db", UNREACHABLE_PG],
     ["127.0.0.1:1/trial", "PostgreSQL server is running"]),
    ("serve, PostgreSQL down", ["serve", str(SMS), "--db", UNREACHABLE_PG, "--init-only"],
     ["127.0.0.1:1/trial", "PostgreSQL server is running"]),
]


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_user_situation_gives_a_located_message_and_exit_1(capsys, tmp_path, args, expected):
    paths = {**_files(tmp_path), "tmp": tmp_path}
    code, err = run(capsys, *[a.format(**paths) for a in args])
    assert code == 1, err
    assert "internal error" not in err and "Traceback" not in err
    for text in expected:
        assert text.format(**paths) in err, (text, err)
    assert not (tmp_path / "missing.db").exists()  # SQLite did not create a database where one was expected


def test_serve_on_a_port_in_use(capsys, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, err = run(capsys, "serve", SMS, "--data-dir", tmp_path / "svc", "--port", port)
    assert code == 1, err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
    assert not (tmp_path / "svc").exists()  # refused before setting anything up


def test_a_manifest_that_is_a_directory(capsys, tmp_path, trial):
    _people, lst, out = trial
    manifest = lst.with_name(lst.stem + ".manifest.json")
    manifest.unlink()
    manifest.mkdir()
    code, err = run(capsys, "analyse", SMS, "--list", lst, "--outcomes", out)
    assert code == 1 and str(manifest) in err and "internal error" not in err, err
    code, err = run(capsys, "verify", SMS, "--list", lst, "--manifest", manifest, "-p", _people)
    assert code == 1 and str(manifest) in err and "internal error" not in err, err


@pytest.mark.parametrize(("error", "reason"), [
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
])
def test_a_full_disk_or_a_refused_write_names_the_output(capsys, tmp_path, monkeypatch, error, reason):
    def failing_write(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Path, "write_text", failing_write)
    target = tmp_path / "schema.json"
    code, err = run(capsys, "schema", "--out", target)
    assert code == 1 and str(target) in err and reason in err, err
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_ctrl_c_exits_130_with_a_short_message(capsys, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bitframe.io.write_text_atomic", interrupted)
    code, err = run(capsys, "schema", "--out", tmp_path / "schema.json")
    assert code == 130 and "interrupted" in err and "Traceback" not in err
