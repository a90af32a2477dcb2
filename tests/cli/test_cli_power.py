"""`bitframe power`: protocol verdicts and the quick mode, with values from R.

Quick-mode reference: R `power.prop.test(p1 = 0.3, p2 = 0.35, power = 0.8)` gives n = 1376.1
per group (pooled normal approximation), so 1,377 rounded up; `pwr::pwr.t.test(n = 100, d = 0.4)`
gives power 0.8036 (tests/reference/diagnose_reference.json).
"""

from __future__ import annotations

import json
from pathlib import Path

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads((ROOT / "tests" / "reference" / "diagnose_reference.json").read_text())


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_protocol_verdict_and_json(capsys, tmp_path):
    code, out, err = run(capsys, "power", ROOT / "protocols" / "volunteer-letters.yaml", "--json", tmp_path / "p.json")
    assert code == 0, err
    assert "verdict: under-powered: 75% power at the planned 12,000 participants (target 80%)" in out
    [row] = json.loads((tmp_path / "p.json").read_text())["results"]
    assert row["verdict"] == "under-powered" and row["n_required"] > row["n_planned"] == 12000


def test_quick_two_proportions_matches_power_prop_test(capsys):
    code, out, _ = run(capsys, "power", "two-proportions", "--p0", 0.3, "--p1", 0.35, "--power", 0.8)
    assert code == 0 and "n control 1,377, n total 2,754" in out


def test_quick_two_means_power_matches_pwr(capsys):
    code, out, _ = run(capsys, "power", "two-means", "--sd", 1, "--mde", 0.4, "--n", 100)
    expected = REF["two_arm_n100_d04"]["pwr_t_test"]
    assert code == 0 and f"power {expected:.4f}" in out


def test_quick_mode_errors_are_clear(capsys):
    code, _, err = run(capsys, "power", "two-means", "--sd", 1, "--p0", 0.3, "--n", 100)
    assert code == 1 and "two-means does not take --p0" in err
    code, _, err = run(capsys, "power", "two-means", "--sd", 1, "--mde", 0.4)
    assert code == 1 and "say what to solve for" in err
    code, _, err = run(capsys, "power", "two-proportions", "--p0", 1.3, "--p1", 0.35, "--power", 0.8)
    assert code == 1 and "p0" in err and "Traceback" not in err
    code, _, err = run(capsys, "power", "three-means")
    assert code == 1 and "neither a protocol file nor a quick calculation" in err


def test_plot_writes_svg_only(capsys, tmp_path):
    protocol = ROOT / "protocols" / "volunteer-letters.yaml"
    code, out, err = run(capsys, "power", protocol, "--plot", tmp_path / "p.svg")
    assert code == 0, err
    svg = (tmp_path / "p.svg").read_text()
    assert svg.startswith("<?xml") and "bf-power" in svg and "bf-mde" in svg and f"wrote {tmp_path / 'p.svg'}" in out
    code, out, err = run(capsys, "power", "two-means", "--sd", 1, "--mde", 0.4, "--n", 100, "--plot", tmp_path / "q.svg")
    assert code == 0 and (tmp_path / "q.svg").exists(), err
    code, _, err = run(capsys, "power", protocol, "--plot", tmp_path / "p.png")
    assert code == 1 and f"--plot '{tmp_path / 'p.png'}': only SVG is written" in err
    assert not (tmp_path / "p.png").exists()
