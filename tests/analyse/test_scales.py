"""Validated scales: items checked with located errors, scored, reliability and norms reported.

References: the SWEMWBS raw-to-metric conversion table (Warwick Medical School; Stewart-Brown et al.
2009), stored in src/bitframe/analyse/scales.json with its source; Cronbach's alpha and McDonald's
omega total from R's psych (tests/reference/scales_reference.R -> tests/reference/scales/).
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.intake import merge_outcomes
from bitframe.analyse.plan import analyse_frames
from bitframe.analyse.scales import cronbach_alpha, omega_total, score_scales, swemwbs_metric
from bitframe.errors import DataError, ProtocolError
from bitframe.protocol.loader import parse_protocol

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "reference" / "scales"
ITEMS = [f"wb{i}" for i in range(1, 8)]


def protocol_text(scale: str) -> str:
    text = (ROOT / "protocols" / "sms-link-worker.yaml").read_text()
    return text.replace("    column: swemwbs\n", f"    column: swemwbs\n    scale: {scale}\n", 1)


@cache
def swemwbs_protocol():
    return parse_protocol(protocol_text("{name: swemwbs, items: [" + ", ".join(ITEMS) + "]}"))


def frames(answers: list[list[object]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(answers)
    allocation = pd.DataFrame({"participant_id": [f"P{i}" for i in range(n)], "arm": ["usual", "sms"] * (n // 2),
                               "stratum": ["A"] * n})
    outcomes = pd.DataFrame({"participant_id": [f"P{i}" for i in range(n)], "attended": [str(int(i % 5 < 2)) for i in range(n)],
                             "age": (np.arange(n) * 7) % 11 + 30.0, "female": [(i // 2) % 2 for i in range(n)],
                             "prior_dna": [int(i % 3 == 0) for i in range(n)]})
    for j, column in enumerate(ITEMS):
        outcomes[column] = [str(row[j]) for row in answers]
    return allocation, outcomes


def test_swemwbs_metric_follows_the_published_table():
    # Warwick's conversion table: raw 7 -> 7.00, 8 -> 9.51, 21 -> 19.25, 34 -> 32.55, 35 -> 35.00.
    assert [swemwbs_metric(r) for r in (7, 8, 21, 34, 35)] == [7.00, 9.51, 19.25, 32.55, 35.00]
    metric = [swemwbs_metric(r) for r in range(7, 36)]
    assert all(b > a for a, b in itertools.pairwise(metric))
    with pytest.raises(ValueError, match="7 to 35"):
        swemwbs_metric(36)


@pytest.mark.parametrize("name", ["swemwbs_like", "custom_reversed", "ucla3_like"])
def test_reliability_agrees_with_r_psych(name):
    # psych::alpha()$total$raw_alpha and psych::omega(nfactors = 1, fm = "ml")$omega.tot; omega to
    # the ML optimiser's convergence (the fitted uniquenesses agree to ~1e-6).
    import pingouin

    reference = json.loads((REFERENCE / "scales_reference.json").read_text())[name]
    items = pd.read_csv(REFERENCE / f"items_{name}.csv").to_numpy(dtype=float)
    for j in np.atleast_1d(reference["reverse"]):
        items[:, j - 1] = reference["low"] + reference["high"] - items[:, j - 1]
    assert cronbach_alpha(items) == pytest.approx(reference["raw_alpha"], abs=1e-12)
    assert cronbach_alpha(items) == pytest.approx(pingouin.cronbach_alpha(pd.DataFrame(items))[0], abs=1e-12)
    assert omega_total(items) == pytest.approx(reference["omega_tot"], abs=1e-6)


def test_swemwbs_outcome_is_analysed_as_its_metric_score():
    rng = np.random.default_rng(7)
    answers = rng.integers(1, 6, size=(12, 7)).tolist()
    allocation, outcomes = frames(answers)
    data = merge_outcomes(swemwbs_protocol(), allocation, outcomes)
    expected = [swemwbs_metric(sum(row)) for row in answers]
    np.testing.assert_array_equal(data.frame["swemwbs"].to_numpy(), expected)
    (summary,) = data.scales
    assert (summary.outcome, summary.scale, summary.n_scored, summary.n_incomplete) == ("wellbeing", "swemwbs", 12, 0)
    assert summary.alpha == pytest.approx(cronbach_alpha(np.array(answers, dtype=float)))
    assert summary.omega == pytest.approx(omega_total(np.array(answers, dtype=float)))
    assert {n.mean for n in summary.norms} == {23.7, 23.2}  # Ng Fat et al. 2017, HSE 2010-2013
    assert all("Ng Fat" in n.source for n in summary.norms)
    result = analyse_frames(swemwbs_protocol(), allocation, outcomes, inference=False)
    assert result.scales == data.scales
    assert {e.outcome for e in result.effects} >= {"wellbeing"}
    assert type(result).from_dict(result.to_dict()).scales == result.scales


def test_an_incomplete_response_has_no_score_and_is_counted():
    answers = [[3] * 7 for _ in range(8)]
    answers[1][4] = ""
    allocation, outcomes = frames(answers)
    data = merge_outcomes(swemwbs_protocol(), allocation, outcomes)
    assert np.isnan(data.frame["swemwbs"].iloc[1])
    assert data.scales[0].n_incomplete == 1
    assert data.missing["wellbeing"]["sms"] == 1


def test_answers_outside_the_scale_are_located_by_spreadsheet_row():
    answers = [[3] * 7 for _ in range(8)]
    answers[2][0] = 6  # data row 3 of the file: spreadsheet row 4 (header = row 1)
    answers[5][0] = "often"
    allocation, outcomes = frames(answers)
    with pytest.raises(DataError) as caught:
        merge_outcomes(swemwbs_protocol(), allocation, outcomes, outcomes_label="survey.csv")
    (problem,) = caught.value.problems
    assert (problem.code, problem.file, problem.field) == ("BF242", "survey.csv", "wb1")
    assert "rows 4, 7 ('6', 'often')" in problem.message
    assert "whole number from 1 to 5" in problem.message


def test_missing_item_column_and_clashing_score_column_are_located():
    _, outcomes = frames([[3] * 7 for _ in range(4)])
    outcomes = outcomes.drop(columns="wb3").assign(swemwbs="20")
    with pytest.raises(DataError) as caught:
        score_scales(swemwbs_protocol(), outcomes, label="survey.csv")
    codes = [(p.code, p.field) for p in caught.value.problems]
    assert codes == [("BF240", "wb3"), ("BF241", "swemwbs")]


def test_custom_scale_reverse_codes_and_averages():
    protocol = parse_protocol(protocol_text("{name: custom, items: [wb1, wb2, wb3], reverse: [wb2], range: [1, 4], "
                                            "score: mean}"))
    _, outcomes = frames([[1, 4, 2, 0, 0, 0, 0], [4, 1, 3, 0, 0, 0, 0]])
    scored, (summary,) = score_scales(protocol, outcomes)
    # (1 + (1 + 4 - 4) + 2) / 3 and (4 + (5 - 1) + 3) / 3
    assert scored["swemwbs"].tolist() == pytest.approx([4 / 3, 11 / 3])
    assert summary.norms == ()
    assert summary.omega is None  # two responses cannot fit a factor model


def test_ons4_anxiety_is_a_single_item_where_lower_is_better():
    protocol = parse_protocol(protocol_text("{name: ons4, measure: anxiety, items: [wb1]}"))
    _, outcomes = frames([[7, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0]])
    scored, (summary,) = score_scales(protocol, outcomes)
    assert scored["swemwbs"].tolist() == [7.0, 2.0]
    assert summary.higher_is_better is False
    assert summary.alpha is None
    assert [n.mean for n in summary.norms] == [3.23]  # ONS APS, April 2022 to March 2023


@pytest.mark.parametrize(("scale", "message", "line"), [
    ("{name: swemwbs, items: [wb1, wb2, wb3]}", "SWEMWBS has 7 item(s); 3 listed", 91),
    ("{name: ons4, items: [wb1]}", "ons4 needs `measure`", 91),
    ("{name: custom, items: [wb1, wb2], reverse: [wb9]}", "a custom scale needs the answer range", 91),
    ("{name: wemwbs, items: [" + ", ".join(f"q{i}" for i in range(14)) + "], range: [1, 5]}",
     "`range` applies to custom scales only", 91),
])
def test_validate_locates_scale_problems(scale, message, line):
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(protocol_text(scale), label="p.yaml")
    problem = next(p for p in caught.value.problems if message in p.message)
    assert (problem.code, problem.file, problem.line) == ("BF139", "p.yaml", line)


def test_site_report_shows_reliability_and_norms_with_their_source():
    from bitframe.report.site import render_site_html

    rng = np.random.default_rng(11)
    answers = rng.integers(1, 6, size=(16, 7)).tolist()
    allocation, outcomes = frames(answers)
    result = analyse_frames(swemwbs_protocol(), allocation, outcomes, inference=False)
    html = render_site_html(swemwbs_protocol(), result)
    (summary,) = result.scales
    assert 'id="tbl-scales"' in html
    assert "Scale outcomes: scoring, reliability and national norms" in html
    assert f"{summary.alpha:.2f}" in html and f"{summary.omega:.2f}" in html
    assert "23.70 (adults 16+ in England, men, 2010-2013)" in html
    assert "Ng Fat L, Scholes S" in html
    assert "not an effect of the intervention" in html


def test_site_report_has_no_scale_table_without_scale_outcomes():
    from bitframe.report.site import render_site_html

    protocol = parse_protocol((ROOT / "protocols" / "sms-link-worker.yaml").read_text())
    allocation, outcomes = frames([[3] * 7 for _ in range(16)])
    outcomes["swemwbs"] = [str(20 + i % 7) for i in range(16)]
    html = render_site_html(protocol, analyse_frames(protocol, allocation, outcomes, inference=False))
    assert "tbl-scales" not in html


def test_the_documented_scales_validate():
    # docs/scales.md: each `scale:` line of its example is a valid scale of the protocol language.
    lines = [line.strip() for line in (ROOT / "docs" / "scales.md").read_text().splitlines()
             if line.strip().startswith("scale: {")]
    assert len(lines) == 3
    for line in lines:
        parse_protocol(protocol_text(line.removeprefix("scale: ")))
