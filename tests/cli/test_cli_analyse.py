"""`bitframe analyse`: table, JSON contract for the report, clear errors for bad outcome files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMS = ROOT / "protocols" / "sms-link-worker.yaml"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def trial(tmp_path, capsys):
    people, lst, out = tmp_path / "people.csv", tmp_path / "list.csv", tmp_path / "outcomes.csv"
    assert run(capsys, "simulate", SMS, "--out", people, "--n", 400)[0] == 0
    assert run(capsys, "randomise", SMS, "-p", people, "-o", lst)[0] == 0
    assert run(capsys, "simulate", SMS, "--list", lst, "--participants", people, "--out", out, "--seed", 3)[0] == 0
    return people, lst, out


def test_analyse_writes_the_results_contract(capsys, tmp_path, trial):
    _people, lst, out = trial
    results = tmp_path / "results.json"
    code, stdout, err = run(capsys, "analyse", SMS, "--list", lst, "--outcomes", out, "--json", results,
                            "--csv", tmp_path / "effects.csv")
    assert code == 0, err
    assert "Pre-registered analysis of 'sms-link-worker' (95% CIs)" in stdout
    data = json.loads(results.read_text())
    for key in ("bitframe_version", "trial_id", "created_utc", "inputs", "ci_level", "effects", "additional",
                "outcome_summaries", "consort", "attrition", "srm", "balance", "subgroups", "icc", "deviations",
                "notes", "power", "manifest"):
        assert key in data, key
    assert [e["outcome"] for e in data["effects"]] == ["attended", "wellbeing"]
    assert data["manifest"]["seed"] == "20260201"
    assert data["inputs"]["list_sha256"] == data["manifest"]["list_sha256"]
    effects = pd.read_csv(tmp_path / "effects.csv")
    assert effects["estimate"].tolist() == pytest.approx([e["estimate"] for e in data["effects"]])


def test_bad_outcome_values_name_rows_and_write_nothing(capsys, tmp_path, trial):
    _people, lst, out = trial
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    frame.loc[[4, 9], "attended"] = ["yes", "maybe"]  # yes is a documented spelling, maybe is not
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    results = tmp_path / "results.json"
    code, _, err = run(capsys, "analyse", SMS, "--list", lst, "--outcomes", bad, "--json", results)
    assert code == 1 and "Traceback" not in err
    # the header is row 1: the 10th data row is the spreadsheet's row 11
    assert "binary outcome 'attended' has values that are not yes or no in rows 11 ('maybe')" in err
    assert f"{bad}, row 11, column 'attended'" in err
    assert not results.exists()


def test_unknown_ids_are_reported_not_dropped(capsys, tmp_path, trial):
    _people, lst, out = trial
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    frame.loc[0, "participant_id"] = "NOT-RANDOMISED"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    code, _, err = run(capsys, "analyse", SMS, "--list", lst, "--outcomes", bad)
    assert code == 1 and "1 outcome row(s) for ids that are not on the randomisation list: rows 2" in err


_BLAS_PROBE = """
import os, sys
from threadpoolctl import threadpool_info
from bitframe.cli import main
code = main(sys.argv[1:])
blas = sorted({p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openblas"})
print("OPENBLAS", os.environ.get("OPENBLAS_NUM_THREADS"), blas, code)
"""


@pytest.mark.parametrize(("chosen", "expected"), [(None, "1"), ("2", "2")])
def test_analyse_runs_one_blas_thread_unless_the_user_chose(tmp_path, trial, chosen, expected):
    """The command loads OpenBLAS (numpy's, and scipy's where a model needs it) with one thread (a second
    spun without finishing sooner; decision 0015), but a number the user set is kept."""
    import os
    import subprocess
    import sys

    _people, lst, out = trial
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT / "src")
    if chosen is not None:
        env["OPENBLAS_NUM_THREADS"] = chosen
    probe = subprocess.run([sys.executable, "-c", _BLAS_PROBE, "analyse", str(SMS), "--list", str(lst),
                            "--outcomes", str(out)], env=env, capture_output=True, text=True, check=True)
    line = probe.stdout.strip().splitlines()[-1]
    assert line == f"OPENBLAS {expected} [{int(expected)}] 0", probe.stdout + probe.stderr


def test_analyse_runs_without_the_cycle_collector_and_gives_it_back(capsys, trial, monkeypatch):
    """The command's work runs with the cyclic garbage collector paused (decision 0017), and the
    calling process has it again afterwards."""
    import gc

    from bitframe.analyse import plan

    real, seen = plan.analyse_files, []

    def recording(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(plan, "analyse_files", recording)
    _people, lst, out = trial
    code, _, err = run(capsys, "analyse", SMS, "--list", lst, "--outcomes", out)
    assert code == 0, err
    assert seen == [False] and gc.isenabled()
