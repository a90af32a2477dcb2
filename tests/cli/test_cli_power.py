"""`bitframe power`: protocol verdicts and the quick mode, with values from R.

Quick-mode reference: R `power.prop.test(p1 = 0.3, p2 = 0.35, power = 0.8)` gives n = 1376.1
per group (pooled normal approximation), so 1,377 rounded up; `pwr::pwr.t.test(n = 100, d = 0.4)`
gives power 0.8036 (tests/reference/diagnose_reference.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


# ----------------------------------------------------------------------------- issue 21: the two-sided convention


def reference_case(case_id: str) -> dict:
    """A case of tests/reference/power_reference.json (written by power_reference.R from base R's stats)."""
    cases = json.loads((ROOT / "tests" / "reference" / "power_reference.json").read_text())["cases"]
    return next(c for c in cases if c["id"] == case_id)


@pytest.mark.parametrize(("case_id", "args"), [
    # stats::power.t.test(n = 15, delta = 0.6): strict = FALSE, R's default
    ("power_t_test_not_strict", ["two-means", "--sd", "1", "--mde", "0.6", "--n", "15"]),
    # stats::power.prop.test(n = 60, p1 = 0.3, p2 = 0.5): strict = FALSE, R's default
    ("power_prop_test_not_strict", ["two-proportions", "--p0", "0.3", "--p1", "0.5", "--n", "60"]),
])
def test_quick_mode_reproduces_r_default_convention_and_prints_it(capsys, case_id, args):
    case = reference_case(case_id)
    assert case["kwargs"]["strict"] is False
    code, out, err = run(capsys, "power", *args, "--two-sided", "r-default")
    assert code == 0, err
    assert f"power {case['expect']['power']:.4f};" in out
    assert "convention: two-sided, R default: the far tail is ignored" in out
    code, out, _err = run(capsys, "power", *args)
    assert code == 0 and "convention: two-sided, strict: rejections in both tails count" in out


def test_protocol_power_prints_its_convention(capsys):
    code, out, err = run(capsys, "power", str(ROOT / "protocols" / "sms-link-worker.yaml"))
    assert code == 0, err
    assert out.splitlines()[1] == ("  convention: two-sided, strict: rejections in both tails count "
                                   "(pwr; power.*.test(strict = TRUE))")


def test_unknown_two_sided_convention_suggests(capsys):
    code, _out, err = run(capsys, "power", "two-means", "--sd", "1", "--mde", "0.5", "--n", "20", "--two-sided", "rdefault")
    assert code == 1 and "did you mean 'r-default'?" in err


# ----------------------------------------------------------------------------- issue 21: every calculator in quick mode


def flags_for(kwargs: dict) -> list[str]:
    """A reference case's keyword arguments as the quick mode's flags."""
    from bitframe.cli.power import _flag

    flags: list[str] = []
    for key, value in kwargs.items():
        if key == "strict":
            flags += ["--two-sided", "strict" if value else "r-default"]
        else:
            flags += [_flag(key), str(value)]
    return flags


@pytest.mark.parametrize("case_id", [
    "pwr_anova_power",  # pwr::pwr.anova.test(k = 4, n = 20, f = 0.25)
    "pwr_anova_n",  # pwr::pwr.anova.test(k = 3, f = 0.25, power = 0.8)
    "pwr_chisq_power",  # pwr::pwr.chisq.test(w = 0.3, N = 100, df = 3)
    "pwr_chisq_n",  # pwr::pwr.chisq.test(w = 0.3, df = 1, power = 0.8)
    "dunnett_t_power",  # mvtnorm::pmvt critical value, noncentral t power
    "bonferroni_t_power",  # qt(1 - .05/6, 196), noncentral t
    "cluster_t_power",  # noncentral t, df = 2k - 2, design effect 1 + (m - 1) icc
    "hemming_m_k30_icc0.05",  # Hemming et al. 2011 (BMC Med Res Methodol 11:102): cluster size, fixed clusters
    "clusters_cv",  # Eldridge et al. 2006 design effect with cluster-size CV 0.65
    "sw_swpwr_example1",  # swCRTdesign::swPwr Example 1 (Hussey & Hughes 2007 GLS variance)
    "sw_continuous_icc",  # GLS variance, 5 steps x 2 clusters, m = 20, icc = .05
])
def test_quick_mode_reproduces_each_calculator_reference(capsys, tmp_path, case_id):
    case = reference_case(case_id)
    calculator = case["calculator"].replace("_", "-")
    out_json = tmp_path / "r.json"
    code, out, err = run(capsys, "power", calculator, "--solve-for", case["solve_for"], *flags_for(case["kwargs"]),
                         "--json", out_json)
    assert code == 0, err
    assert "convention: " in out
    got = json.loads(out_json.read_text())
    tol = case["tol"] or {}
    for field, expected in case["expect"].items():
        assert got[field] == pytest.approx(expected, rel=tol.get(field, 1e-6), abs=tol.get(field, 1e-6)), field


def test_quick_mode_names_the_flags_a_calculator_takes(capsys):
    code, _out, err = run(capsys, "power", "one-way-anova", "--groups", "4", "--n", "20", "--f", "0.25", "--sides", "1")
    assert code == 1
    assert "one-way-anova does not take --sides" in err and "it takes --alpha, --f, --groups, --n, --power" in err
