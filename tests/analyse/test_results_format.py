"""The results file: AnalysisResult round-trips exactly, matches its published JSON Schema, keeps NaN and infinity.

Real results come from analysing simulated data of the example protocols (the way
`make demo` does, in-process and with the quick designs); the hand-written report
fixtures (tests/reference/report_synthesis/results) are results files too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bitframe.analyse.results import (
    AllocationManifest,
    AnalysisResult,
    AttritionCheck,
    EffectEstimate,
    results_json_schema,
)
from bitframe.errors import BitframeError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "reference" / "report_synthesis" / "results").glob("*.json"))
# Quick to analyse; between them: several arms, clusters (ICC, wild bootstrap), a stepped wedge, a
# sample-ratio check, balance, attrition, a manifest and normal-theory (infinite) df.
EXAMPLES = ["volunteer-letters", "peer-support-neighbourhoods", "health-champions-stepped-wedge"]


@pytest.fixture(scope="module")
def analysed() -> dict[str, AnalysisResult]:
    from bitframe.analyse.plan import analyse_frames, row_level_arms
    from bitframe.protocol import load_protocol
    from bitframe.randomise.from_protocol import randomise_protocol
    from bitframe.simulate.data import simulate_outcomes, simulate_participants

    out = {}
    for name in EXAMPLES:
        protocol = load_protocol(ROOT / "protocols" / f"{name}.yaml")
        people = simulate_participants(protocol, seed=1)
        allocation = randomise_protocol(protocol, people, seed=7)
        ids = protocol.unit.id_column
        listed = allocation.table.merge(
            people[[c for c in people.columns if c not in allocation.table.columns or c == ids]], on=ids, how="left")
        outcomes = simulate_outcomes(protocol, row_level_arms(protocol, listed), seed=2)
        out[name] = analyse_frames(protocol, allocation.table, outcomes, baseline=people,
                                   manifest=AllocationManifest.model_validate(allocation.manifest))
    return out


def test_the_published_schema_is_current():
    published = json.loads((ROOT / "docs" / "results.schema.json").read_text(encoding="utf-8"))
    assert published == results_json_schema(), "run `make docs`"


@pytest.mark.parametrize("name", EXAMPLES)
def test_real_results_round_trip_exactly_and_match_the_schema(analysed, name):
    jsonschema = pytest.importorskip("jsonschema")
    result = analysed[name]
    data = result.to_dict()
    assert data["schema_version"] == 1 and list(data)[:2] == ["schema_version", "bitframe_version"]
    assert AnalysisResult.from_dict(data) == result
    assert AnalysisResult.from_dict(data).to_dict() == data
    # Through the file's text, as the report reads it.
    assert AnalysisResult.from_dict(json.loads(json.dumps(data))) == result
    jsonschema.Draft202012Validator(results_json_schema()).validate(json.loads(json.dumps(data)))


def test_what_the_examples_cover(analysed):
    results = list(analysed.values())
    assert any(e.df == math.inf for r in results for e in r.effects + r.additional)
    assert any(r.srm is not None for r in results) and any(r.icc for r in results)
    assert all(r.consort is not None and r.attrition and r.manifest is not None for r in results)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_report_fixtures_are_results_files(path):
    result = AnalysisResult.from_json(path)
    assert AnalysisResult.from_dict(result.to_dict()) == result


def test_json_file_round_trip_keeps_nan_and_infinity(tmp_path, analysed):
    result = analysed["volunteer-letters"]
    effect = result.effects[0].with_(p_value=math.nan, df=math.inf, p_adjusted=float("nan"))
    attrition = result.attrition[0].with_(p_value=float("nan"))
    odd = result.with_(effects=(effect, *result.effects[1:]), attrition=(attrition, *result.attrition[1:]))
    # An effect's undefined numbers are null in the file, an optional one is absent (None) in memory.
    assert odd.to_dict()["effects"][0]["p_value"] is None and odd.effects[0].p_adjusted is None
    path = tmp_path / "results.json"
    odd.to_json(path)
    text = path.read_text(encoding="utf-8")
    assert '"df": Infinity' in text and '"p_value": NaN' in text
    back = AnalysisResult.from_json(path)
    assert back == odd and math.isnan(back.effects[0].p_value) and back.effects[0].df == math.inf
    assert math.isnan(back.attrition[0].p_value)


def test_tidy_table_keeps_the_csv_columns(analysed):
    frame = analysed["volunteer-letters"].to_frame()
    assert list(frame.columns) == [
        "outcome", "arm", "contrast", "estimator", "se_type", "estimate", "std_error", "statistic", "df", "p_value",
        "p_adjusted", "ci_lower", "ci_upper", "ci_level", "n", "n_clusters", "control_mean", "relative_effect",
        "scale", "method", "role"]
    assert "<table" in analysed["volunteer-letters"]._repr_html_()


def test_records_are_frozen_and_refuse_unknown_fields(analysed):
    result = analysed["volunteer-letters"]
    with pytest.raises(ValueError):
        result.trial_id = "other"
    with pytest.raises(ValueError):
        EffectEstimate.model_validate({**result.effects[0].to_dict(), "colour": "red"})
    with pytest.raises(ValueError):
        AttritionCheck.model_validate({**result.attrition[0].to_dict(), "rates": "high"})


def test_bad_power_file_names_the_file_and_the_field(tmp_path):
    from bitframe.analyse.plan import analyse_files

    power = tmp_path / "power.json"
    power.write_text(json.dumps({"trial_id": "x", "results": [{"outcome": "y", "power": "high", "verdict": "ok"}]}))
    with pytest.raises(BitframeError) as err:
        analyse_files(ROOT / "protocols" / "volunteer-letters.yaml", tmp_path / "list.csv", tmp_path / "outcomes.csv",
                      power=power)
    [problem] = err.value.problems
    assert problem.file == str(power) and "'results[0].power' must be a number; got str" in problem.message
