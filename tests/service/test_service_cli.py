"""`bitframe serve --init-only`, `users`, `export`, `audit`: output, exit codes and messages.

The exported sealed list is checked by the pipeline's own `bitframe verify` (regenerated
from the seed and the exported slot file).
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from bitframe.cli import main
from conftest import CLUSTER, SMS


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def data_dir(tmp_path, capsys):
    d = tmp_path / "svc"
    code, _out, err = run(capsys, "serve", SMS, "--data-dir", d, "--init-only", "--site-column", "practice",
                         "--list-size", 40, "--low-list", 4)
    assert code == 0, err
    return d


def test_init_prints_the_admin_token_once_and_warns_about_the_seed(tmp_path, capsys):
    d = tmp_path / "svc"
    code, _out, err = run(capsys, "serve", SMS, "--data-dir", d, "--init-only", "--site-column", "practice")
    assert code == 0 and (d / "service.db").exists()
    assert re.search(r"created the first user 'admin' \(role admin\)\. Its token, shown once:\n  bf_\S{43}\n", err)
    assert "the protocol holds the randomisation seed" in err
    assert "trial 'sms-link-worker': stratified_block (sealed list)" in err
    code, _out, err = run(capsys, "serve", SMS, "--data-dir", d, "--init-only")
    assert code == 0 and "created the first user" not in err


def test_serve_refuses_another_protocol_cluster_schemes_and_conflicting_options(data_dir, tmp_path, capsys):
    code, _, err = run(capsys, "serve", CLUSTER, "--data-dir", data_dir, "--init-only")
    assert code == 1 and "this database serves trial 'sms-link-worker'" in err
    code, _, err = run(capsys, "serve", CLUSTER, "--data-dir", tmp_path / "other", "--init-only")
    assert code == 1 and "scheme 'stratified_cluster' randomises clusters all at once" in err
    code, _, err = run(capsys, "serve", SMS, "--data-dir", data_dir, "--init-only", "--list-size", 99)
    assert code == 1 and "set up with list-size '40'; it cannot change to 99" in err
    code, _, err = run(capsys, "serve", SMS, "--data-dir", data_dir, "--db", "sqlite:///x.db", "--init-only")
    assert code == 1 and "give --db or --data-dir, not both" in err
    code, _, err = run(capsys, "serve", SMS, "--db", "mysql://x", "--init-only")
    assert code == 1 and "must be a sqlite:///PATH or postgresql://USER@HOST:PORT/DB URL" in err


def test_users_add_list_rotate_revoke(data_dir, capsys):
    code, out, _ = run(capsys, "users", "add", "amira", "--role", "enroller", "--site", "Elm Road",
                       "--data-dir", data_dir)
    assert code == 0 and "added enroller 'amira' at site 'Elm Road'" in out
    token = re.search(r"token \(shown once\): (bf_\S+)", out).group(1)
    code, out, _ = run(capsys, "users", "add", "sam", "--role", "statistician", "--data-dir", data_dir, "--json")
    assert code == 0 and json.loads(out)["role"] == "statistician"
    code, out, _ = run(capsys, "users", "list", "--data-dir", data_dir)
    assert code == 0 and token not in out and token[:9] in out and "amira" in out and "Elm Road" in out
    code, out, _ = run(capsys, "users", "rotate", "amira", "--data-dir", data_dir)
    assert code == 0 and "new token for 'amira' (shown once): bf_" in out
    code, out, _ = run(capsys, "users", "revoke", "amira", "--data-dir", data_dir)
    assert code == 0 and "revoked 'amira'" in out
    code, out, _ = run(capsys, "users", "list", "--data-dir", data_dir, "--json")
    assert [u["active"] for u in json.loads(out) if u["name"] == "amira"] == [False]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "x", "--role", "enroler", "--site", "Elm Road"],
         "Unknown role 'enroler'; did you mean 'enroller'?"),
        (["users", "add", "x", "--role", "enroller"], "an enroller needs a site"),
        (["users", "add", "x", "--role", "enroller", "--site", "Elm"],
         "site 'Elm' is not a value of the protocol's site column"),
        (["users", "add", "admin", "--role", "admin"], "a user named 'admin' already exists"),
        (["users", "revoke", "ghost"], "no user named 'ghost'"),
        (["export", "everything", "-o", "x.csv"],
         "Unknown export 'everything'; valid values: 'allocations', 'audit', 'list'"),
        (["export", "list", "-o", "x.txt"], "--out must name a .csv file"),
        (["audit", "verify", "--anchor", "nope"], "must be SEQ:HASH"),
    ],
)
def test_cli_errors_are_messages_with_exit_1(data_dir, capsys, args, message):
    code, _, err = run(capsys, *args, "--data-dir", data_dir)
    assert code == 1 and message in err and "Traceback" not in err


def test_commands_on_a_missing_database_say_how_to_set_one_up(tmp_path, capsys):
    for args in (["users", "list"], ["audit", "verify"], ["export", "audit", "-o", tmp_path / "a.csv"]):
        code, _, err = run(capsys, *args, "--data-dir", tmp_path / "none")
        assert code == 1 and "no service database at" in err and "bitframe serve PROTOCOL --init-only" in err


def test_export_list_verifies_with_bitframe_verify(data_dir, tmp_path, capsys):
    out = tmp_path / "exp" / "list.csv"
    code, stdout, err = run(capsys, "export", "list", "-o", out, "--data-dir", data_dir)
    assert code == 0, err
    assert "wrote 160 rows to" in stdout and "list.manifest.json and list.slots.csv" in stdout
    code, stdout, err = run(capsys, "verify", SMS, "-p", out.with_suffix(".slots.csv"), "--list", out)
    assert code == 0, err + stdout
    assert "verified: the list is exactly what the protocol and seed produce" in stdout
    code, _, err = run(capsys, "export", "list", "-o", out, "--data-dir", data_dir)
    assert code == 1 and err.count("output file already exists") == 3


def test_export_allocations_and_audit(data_dir, tmp_path, capsys):
    from bitframe.service.core import Service, cli_actor

    svc = Service.open(f"sqlite:///{data_dir / 'service.db'}")
    user, _ = svc.add_user(cli_actor(), "e1", "enroller", site="Riverside")
    for i in range(5):
        svc.enrol(user, f"P{i}", {"age": 30 + i}, eligible=True)
    svc.close()
    code, out, _ = run(capsys, "export", "allocations", "-o", tmp_path / "a.csv", "--data-dir", data_dir)
    assert code == 0 and "wrote 5 rows" in out
    import pandas as pd

    frame = pd.read_csv(tmp_path / "a.csv")
    assert list(frame.columns[:6]) == ["participant_id", "arm", "stratum", "block_id", "block_size", "sequence"]
    assert frame["sequence"].tolist() == [1, 2, 3, 4, 5] and set(frame["practice"]) == {"Riverside"}
    code, out, _ = run(capsys, "export", "audit", "-o", tmp_path / "audit.csv", "--data-dir", data_dir)
    audit = pd.read_csv(tmp_path / "audit.csv")
    assert code == 0 and audit["action"].tolist().count("enrol") == 5
    assert audit["action"].iloc[-1] == "export" and audit["target"].iloc[-1] == "allocations"


def test_audit_verify_passes_then_fails_after_tampering(data_dir, capsys):
    code, out, _ = run(capsys, "audit", "verify", "--data-dir", data_dir)
    assert code == 0 and out.startswith("audit chain verified: 2 events, 0 allocations; head 2:")
    anchor = re.search(r"head (\d+:[0-9a-f]{64})", out).group(1)
    code, out, _ = run(capsys, "audit", "verify", "--data-dir", data_dir, "--anchor", anchor, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    engine = sa.create_engine(f"sqlite:///{data_dir / 'service.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        conn.execute(sa.text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"))
    engine.dispose()
    code, out, err = run(capsys, "audit", "verify", "--data-dir", data_dir)
    assert code == 1
    assert "audit chain BROKEN: 1 problem(s)" in err
    assert "[edited_event] event 1: content does not match its hash (the event was edited)" in err


def test_audit_show(data_dir, capsys):
    code, out, _ = run(capsys, "audit", "show", "--data-dir", data_dir, "--last", 1)
    assert code == 0 and "user_add" in out and "admin" in out and "service_init" not in out


def test_help_of_every_service_verb(capsys):
    for args in (["serve"], ["users"], ["users", "add"], ["export"], ["audit"], ["audit", "verify"]):
        code, out, _ = run(capsys, *args, "--help")
        assert code == 0 and "Usage:" in out


def test_audit_verify_reports_a_dropped_table_or_a_missing_file_as_broken(data_dir, tmp_path, capsys):
    """B6: with audit_events dropped the verb exited 70 (an internal error); it is BROKEN, exit 1."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'service.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_events"))
    engine.dispose()
    code, _, err = run(capsys, "audit", "verify", "--data-dir", data_dir)
    assert code == 1 and "audit chain BROKEN" in err and "[missing_table] the table 'audit_events' is missing" in err
    gone = tmp_path / "gone.db"
    code, _, err = run(capsys, "audit", "verify", "--db", f"sqlite:///{gone}")
    assert code == 1 and "audit chain BROKEN" in err and "missing_file" in err and not gone.exists()


def test_audit_anchor_then_verify_catches_a_cut_tail(data_dir, capsys):
    code, out, err = run(capsys, "audit", "anchor", "--data-dir", data_dir)
    assert code == 0 and out.startswith("anchor 2:") and "service.anchors.jsonl" in out, err
    engine = sa.create_engine(f"sqlite:///{data_dir / 'service.db'}")
    with engine.begin() as conn:
        for (name,) in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all():
            conn.execute(sa.text(f"DROP TRIGGER {name}"))
        conn.execute(sa.text("DELETE FROM audit_events WHERE seq = 2"))
        prev = conn.execute(sa.text("SELECT hash FROM audit_events WHERE seq = 1")).scalar_one()
        conn.execute(sa.text("UPDATE audit_head SET seq = 1, hash = :h"), {"h": prev})
    engine.dispose()
    code, _, err = run(capsys, "audit", "verify", "--data-dir", data_dir)
    assert code == 1 and "[anchor_missing]" in err


def test_users_list_has_a_header_row_and_times_to_the_second(data_dir, capsys):
    code, out, _ = run(capsys, "users", "list", "--data-dir", data_dir)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["name", "role", "site", "state", "token", "changed", "(UTC)"]
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", lines[1]) and "." not in lines[1].split()[-1]
