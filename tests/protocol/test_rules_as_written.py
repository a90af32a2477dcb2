"""BF133: a protocol that validates runs as written (issue 13, "no silent change").

Each case is a combination the analysis could only run by dropping or replacing part of it
without a word; validate refuses it, pointing at the line to edit, with a hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bitframe.errors import ProtocolError
from bitframe.protocol import parse_protocol

ROOT = Path(__file__).resolve().parents[2]
LETTERS = (ROOT / "protocols" / "volunteer-letters.yaml").read_text()  # individual, estimator ols, se_type HC2


def problems(text: str):
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label="t.yaml")
    return [p for p in info.value.problems if p.code == "BF133"]


def with_analysis(old: str, new: str) -> str:
    assert old in LETTERS, old
    return LETTERS.replace(old, new, 1)


def test_covariates_without_adjustment_are_refused_at_the_covariates_line():
    text = with_analysis("  se_type: HC2\n", "  se_type: HC2\n  covariates: [age]\n")
    [problem] = problems(text)
    assert problem.message == "covariates are listed, but adjustment is 'none', so the analysis would not use them"
    assert problem.field == "analysis.covariates"
    assert problem.line == text.splitlines().index("  covariates: [age]") + 1
    assert "adjustment: standard" in problem.hint


@pytest.mark.parametrize("se_type", ["HC3", "HC0", "classical"])
def test_difference_in_means_refuses_an_se_type_it_does_not_use(se_type):
    text = with_analysis("  estimator: ols\n  se_type: HC2\n", f"  estimator: difference_in_means\n  se_type: {se_type}\n")
    [problem] = problems(text)
    assert problem.message.startswith(f"estimator 'difference_in_means' does not use se_type '{se_type}'")
    assert "Neyman's, equal to HC2, with Welch df" in problem.message
    assert problem.field == "analysis.se_type"
    assert "estimator: ols" in problem.hint


def test_difference_in_means_accepts_the_se_it_computes_or_none():
    parse_protocol(with_analysis("  estimator: ols\n  se_type: HC2\n", "  estimator: difference_in_means\n  se_type: HC2\n"))
    parse_protocol(with_analysis("  estimator: ols\n  se_type: HC2\n", "  estimator: difference_in_means\n"))


def test_difference_in_means_refuses_covariate_adjustment():
    text = with_analysis("  estimator: ols\n", "  estimator: difference_in_means\n  adjustment: lin\n  covariates: [age]\n")
    [problem] = problems(text)
    assert problem.message == "estimator 'difference_in_means' does not adjust for covariates, but adjustment is 'lin'"
    assert problem.field == "analysis.estimator"


def test_an_outcome_level_estimator_overrides_the_analysis_one():
    # every outcome names its own estimator: the analysis-wide difference in means never runs
    text = with_analysis("  estimator: ols\n  se_type: HC2\n", "  estimator: difference_in_means\n  se_type: HC3\n")
    for outcome_type in ("binary", "count"):
        text = text.replace(f"    type: {outcome_type}\n", f"    type: {outcome_type}\n    estimator: ols\n")
    assert all("estimator 'difference_in_means'" not in p.message for p in _all_problems(text))


def _all_problems(text: str):
    try:
        parse_protocol(text, label="t.yaml")
    except ProtocolError as exc:
        return exc.problems
    return []


def test_an_analysis_wide_estimator_must_fit_every_outcome_that_uses_it():
    # volunteer-letters has a binary and a count outcome; logistic regression fits only the binary one
    text = with_analysis("  estimator: ols\n", "  estimator: logit\n")
    [problem] = problems(text)
    assert problem.message.startswith("estimator 'logit' fits binary outcomes, but outcome '")
    assert problem.message.endswith("is count")
    assert problem.field == "analysis.estimator"
