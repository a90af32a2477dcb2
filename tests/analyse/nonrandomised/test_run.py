"""A non-randomised protocol end to end: `bitframe analyse` (no list) -> results file -> report.

The numbers are checked against the R references of test_did.py and test_its.py (R `did` on
mpdta; R glm on the Sicily smoking-ban data of Lopez Bernal et al. 2017), not against this code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from bitframe.analyse.results import AnalysisResult
from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[3]
REF = ROOT / "tests" / "reference" / "nonrandomised"

HEAD = """bitframe: 1
trial: {id: %s, title: A reference example, site: Reference, programme_area: helping_ourselves}
context: {target_behaviour: Someone does something}
"""
MPDTA = HEAD % "mpdta" + """arms:
  - {id: untreated, name: No minimum wage rise yet, role: control}
  - {id: raised, name: Minimum wage raised, role: intervention, mechanism: {east: [easy]}}
design:
  type: difference_in_differences
  unit_column: countyreal
  time_column: year
  first_treated_column: first.treat
outcomes:
  - {id: lemp, role: primary, type: continuous, column: lemp, description: Log teen employment}
"""
SICILY = HEAD % "sicily" + """arms:
  - {id: ban, name: Smoking ban, role: intervention, mechanism: {east: [easy]}}
no_control: true
design:
  type: interrupted_time_series
  time_column: time
  intervention_start: 37
  interrupted_time_series:
    model: poisson
    errors: model
    offset_column: stdpop
    season_period: 12
    harmonics: 2
    season_column: month
    slope_change: false
outcomes:
  - {id: aces, role: primary, type: count, column: aces, description: Acute coronary events}
"""


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_difference_in_differences_end_to_end(capsys, tmp_path):
    protocol = tmp_path / "mpdta.yaml"
    protocol.write_text(MPDTA)
    results, report = tmp_path / "results.json", tmp_path / "report.html"
    code, out, err = run(capsys, "analyse", protocol, "--outcomes", REF / "mpdta.csv", "--json", results)
    assert code == 0, err
    assert "callaway_santanna" in out
    result = AnalysisResult.from_json(results)
    effect = result.effects[0]
    simple = pd.read_csv(REF / "mpdta_did_aggte.csv").query("scenario == 'mpdta_nev_dr' and type == 'simple'")
    assert effect.estimate == pytest.approx(simple.overall_att.iloc[0], abs=1e-10)
    assert effect.std_error == pytest.approx(simple.overall_se.iloc[0], abs=1e-8)
    assert (effect.arm, effect.n_clusters, effect.n) == ("raised", 500, 2500)
    design = result.design
    assert design is not None and (design.nesta_level, design.maryland_level) == (3, 3)
    assert sum(t.kind == "group_time" for t in design.terms) == 12
    assert [c.check for c in design.checks] == ["pre_trends"] and design.checks[0].df == 3
    assert json.loads(results.read_text())["design"]["type"] == "difference_in_differences"
    code, _, err = run(capsys, "report", protocol, "--results", results, "--out", report)
    assert code == 0, err
    html = report.read_text()
    assert "Nesta Standards of Evidence" in html and "Maryland Scientific Methods Scale" in html
    assert "This is not a randomised comparison but a difference-in-differences design" in html
    assert "Event study" in html and "Pre-trends" in html
    assert "Participant flow" not in html and "Baseline balance" not in html


def test_interrupted_time_series_end_to_end(capsys, tmp_path):
    protocol = tmp_path / "sicily.yaml"
    protocol.write_text(SICILY)
    results = tmp_path / "results.json"
    code, _, err = run(capsys, "analyse", protocol, "--outcomes", REF / "sicily.csv", "--json", results)
    assert code == 0, err
    result = AnalysisResult.from_json(results)
    effect = result.effects[0]
    reference = json.loads((REF / "its_sicily_reference.json").read_text())["model3"]
    assert effect.scale == "log_rate_ratio" and round(math.exp(effect.estimate), 3) == 0.885
    assert effect.estimate == pytest.approx(reference["estimate"][1], rel=1e-8)
    assert result.design is not None and result.design.maryland_level == 2
    assert {c.check for c in result.design.checks} == {"durbin_watson", "ljung_box"}


def test_bad_data_and_misplaced_files_are_located_messages(capsys, tmp_path):
    protocol = tmp_path / "mpdta.yaml"
    protocol.write_text(MPDTA)
    data = pd.read_csv(REF / "mpdta.csv").drop(index=[7])  # county 8019 loses 2005: an unbalanced panel
    path = tmp_path / "panel.csv"
    data.to_csv(path, index=False)
    code, _, err = run(capsys, "analyse", protocol, "--outcomes", path)
    assert code == 1 and "Traceback" not in err
    assert "BF233" in err and "panel.csv" in err and "unit '8019' lacks period(s) 2005" in err
    code, _, err = run(capsys, "analyse", protocol, "--outcomes", REF / "mpdta.csv", "--list", path)
    assert code == 1 and "BF239" in err and "takes no --list" in err
    code, _, err = run(capsys, "randomise", protocol, "-p", path, "-o", tmp_path / "list.csv")
    assert code == 1 and "BF172" in err and "not randomised" in err


def test_the_notebook_api_takes_a_design_and_its_data(tmp_path):
    import bitframe as bf

    protocol = tmp_path / "sicily.yaml"
    protocol.write_text(SICILY)
    from_path = bf.analyse(protocol, REF / "sicily.csv")
    from_frame = bf.analyse(protocol, pd.read_csv(REF / "sicily.csv"))
    assert from_path.effects[0].estimate == pytest.approx(from_frame.effects[0].estimate, abs=1e-12)
    assert from_path.inputs.outcomes_sha256 is not None  # files are hashed as `bitframe analyse` does
    with pytest.raises(ValueError, match="'outcomes' and 'participants' parameters"):
        bf.analyse(protocol, REF / "sicily.csv", REF / "sicily.csv")


SYNTH = HEAD % "synth" + """arms:
  - {id: donors, name: Other areas, role: control}
  - {id: scheme, name: Area scheme, role: intervention, mechanism: {east: [easy]}}
design:
  type: synthetic_control
  unit_column: area
  time_column: year
  intervention_start: 11
  synthetic_control: {treated_unit: T}
outcomes:
  - {id: y, role: primary, type: continuous, column: y, description: Outcome}
"""


def test_synthetic_control_end_to_end(capsys, tmp_path):
    """The treated area is exactly half A and half B before the start and 5 above them after: the
    synthetic control recovers the weights and the effect, and ranks first of the 6 placebo runs."""
    import numpy as np

    rng = np.random.default_rng(3)
    paths = {name: np.cumsum(rng.normal(0, 1, 20)) + 10 * i for i, name in enumerate("ABCDE")}
    paths["T"] = 0.5 * paths["A"] + 0.5 * paths["B"] + np.where(np.arange(1, 21) >= 11, 5.0, 0.0)
    data = pd.DataFrame([(u, t + 1, float(v[t])) for u, v in paths.items() for t in range(20)],
                        columns=["area", "year", "y"])
    protocol, path, results = tmp_path / "synth.yaml", tmp_path / "panel.csv", tmp_path / "results.json"
    protocol.write_text(SYNTH)
    data.to_csv(path, index=False)
    code, _, err = run(capsys, "analyse", protocol, "--outcomes", path, "--json", results)
    assert code == 0, err
    result = AnalysisResult.from_json(results)
    effect = result.effects[0]
    assert effect.estimator == "synthetic_control" and effect.estimate == pytest.approx(5.0, abs=1e-3)
    assert effect.p_value == pytest.approx(1 / 6)
    weights = {t.term: t.estimate for t in result.design.terms if t.kind == "donor_weight"}
    assert weights == pytest.approx({"A": 0.5, "B": 0.5}, abs=1e-3)
    assert result.design.checks[0].check == "pre_rmspe" and result.design.checks[0].statistic < 1e-3
    code, _, err = run(capsys, "report", protocol, "--results", results, "--out", tmp_path / "report.html")
    assert code == 0, err
    html = (tmp_path / "report.html").read_text()
    assert "was on average +5.00 away from its synthetic control" in html and "One treated unit has no" in html


def test_a_pre_post_scale_outcome_is_scored_from_its_items_first(tmp_path):
    """SWEMWBS items answered all 1s (raw 7) before and all 5s (raw 35) after: the Rasch conversion
    table maps raw 7 to 7.00 and raw 35 to 35.00 (Stewart-Brown et al. 2009), so the change is 28."""
    import bitframe as bf

    protocol = (ROOT / "protocols" / "community-connectors-survey.yaml").read_text()
    path = tmp_path / "survey.yaml"
    path.write_text(protocol)
    rows = [{"person": p, "wave": w, **{f"swemwbs_{k}": 1 + 4 * w for k in range(1, 8)}}
            for p in ("a", "b", "c") for w in (0, 1)]
    rows[-1]["swemwbs_7"] = 4  # one person a little lower after: the changes differ, so the t-test is defined
    result = bf.analyse(path, pd.DataFrame(rows))
    (summary,) = result.scales
    assert summary.scale == "swemwbs" and summary.n_scored == 6
    assert result.effects[0].control_mean == pytest.approx(7.0)
    assert 27 < result.effects[0].estimate < 28
