"""CLI verbs of the simulation stage: outputs, exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]
TWO_ARM = ROOT / "tests" / "simulate" / "fixtures" / "two-arm-continuous.yaml"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_participants_then_refuses_overwrite(capsys, tmp_path):
    out = tmp_path / "people.csv"
    code, stdout, _ = run(capsys, "simulate", ROOT / "protocols" / "sms-link-worker.yaml", "--out", out, "--n", 200)
    assert code == 0 and "200 simulated participants" in stdout
    people = pd.read_csv(out)
    assert {"participant_id", "practice", "age", "female", "prior_dna"} <= set(people.columns)
    before = out.read_bytes()
    code, _, err = run(capsys, "simulate", ROOT / "protocols" / "sms-link-worker.yaml", "--out", out)
    assert code == 1 and "output file already exists" in err and out.read_bytes() == before


def test_diagnose_prints_table_and_writes_json_and_plot(capsys, tmp_path):
    code, stdout, err = run(capsys, "diagnose", TWO_ARM, "--sims", 100, "--grid", "n=100,400",
                            "--json", tmp_path / "d.json", "--plot", tmp_path / "d.svg")
    assert code == 0, err
    assert "Diagnosis of 'two-arm': 100 simulations per design" in stdout
    data = json.loads((tmp_path / "d.json").read_text())
    assert [r["grid"]["n"] for r in data["rows"]] == [100, 400]
    assert (tmp_path / "d.svg").read_text().lstrip().startswith("<?xml")


def test_diagnose_bad_arguments(capsys, tmp_path):
    code, _, err = run(capsys, "diagnose", TWO_ARM, "--sims", 1)
    assert code == 1 and "error[BF003]: The 'sims' parameter must be an integer >= 2. Got 1 instead." in err
    code, _, err = run(capsys, "diagnose", TWO_ARM, "--plot", tmp_path / "p.svg")
    assert code == 1 and "no --grid was given" in err
    code, _, err = run(capsys, "diagnose", TWO_ARM, "--sims", 10, "--backend", "proceses")
    assert code == 1 and "did you mean 'processes'" in err


def test_diagnose_plot_must_be_svg(capsys, tmp_path):
    code, _, err = run(capsys, "diagnose", TWO_ARM, "--sims", 10, "--grid", "n=100,400", "--plot", tmp_path / "d.png")
    assert code == 1 and "only SVG is written" in err and not (tmp_path / "d.png").exists()
