"""Outcome intake: nothing silently dropped; bad rows named by file, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.intake import merge_outcomes
from bitframe.errors import DataError
from bitframe.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sms():
    return load_protocol(ROOT / "protocols" / "sms-link-worker.yaml")


def make(n=8):
    allocation = pd.DataFrame({
        "participant_id": [f"P{i}" for i in range(n)],
        "arm": ["usual", "sms"] * (n // 2),
        "stratum": ["A"] * n,
    })
    outcomes = pd.DataFrame({
        "participant_id": [f"P{i}" for i in range(n)],
        "attended": ["1", "0"] * (n // 2),
        "swemwbs": [str(20 + i) for i in range(n)],
        "age": np.arange(n) + 30.0,
        "female": [0, 1] * (n // 2),
        "prior_dna": [1, 0, 0, 1] * (n // 4),
    })
    return allocation, outcomes


def problems(exc_info):
    return [(p.code, p.message, p.field) for p in exc_info.value.problems]


def test_clean_merge_counts_attrition_per_arm(sms):
    allocation, outcomes = make()
    outcomes.loc[1, "attended"] = ""  # sms arm
    outcomes = outcomes.drop(index=2)  # usual arm: no row at all
    data = merge_outcomes(sms, allocation, outcomes)
    assert len(data.frame) == 8  # every randomised unit kept
    assert data.missing["attended"] == {"usual": 1, "sms": 1}
    assert data.missing["wellbeing"] == {"usual": 1, "sms": 0}
    assert data.allocated == {"usual": 4, "sms": 4}
    assert data.not_in_outcomes == 1
    assert data.notes == ("1 randomised unit(s) have no row in the outcomes file; their outcomes count as missing",)


def test_wrong_type_in_binary_column_names_rows(sms):
    allocation, outcomes = make()
    outcomes.loc[[2, 5], "attended"] = ["maybe", "2"]
    with pytest.raises(DataError) as info:
        merge_outcomes(sms, allocation, outcomes, outcomes_label="out.csv")
    [(code, message, column)] = problems(info)
    assert code == "BF213" and column == "attended"
    # rows as the spreadsheet numbers them: the header is row 1, so positions 2 and 5 are rows 4 and 7
    assert message == "binary outcome 'attended' has values that are not yes or no in rows 4, 7 ('maybe', '2')"
    assert "out.csv, row 4, column 'attended'" in info.value.report()


def test_every_problem_reported_at_once(sms):
    allocation, outcomes = make()
    allocation.loc[3, "arm"] = "sms2"
    allocation.loc[5, "participant_id"] = "P4"
    outcomes.loc[7, "participant_id"] = "ZZZ"
    outcomes.loc[0, "swemwbs"] = "high"
    with pytest.raises(DataError) as info:
        merge_outcomes(sms, allocation, outcomes, list_label="list.csv", outcomes_label="out.csv")
    found = problems(info)
    assert ("BF212", "1 id(s) on more than one row: 'P4' in rows 6, 7", "participant_id") in found
    assert ("BF214", "arms not in the protocol in rows 5: 'sms2'", "arm") in found
    # P5 left the list when its id was overwritten, so its outcome row is unmatched too.
    assert ("BF215", "2 outcome row(s) for ids that are not on the randomisation list: rows 7, 9 (e.g. 'P5')",
            "participant_id") in found
    assert ("BF213", "continuous outcome 'wellbeing' has values that are not a number in rows 2 ('high')",
            "swemwbs") in found


def test_missing_outcome_column_suggests(sms):
    allocation, outcomes = make()
    outcomes = outcomes.rename(columns={"attended": "attend"})
    with pytest.raises(DataError) as info:
        merge_outcomes(sms, allocation, outcomes)
    [p] = info.value.problems
    assert p.message == "outcome 'attended' column 'attended' is not in the file"
    assert p.hint.startswith("did you mean 'attend'?")


def test_count_outcome_must_be_nonnegative_integer():
    proto = load_protocol(ROOT / "protocols" / "volunteer-letters.yaml")
    allocation = pd.DataFrame({"household_id": ["a", "b", "c", "d"], "arm": ["standard", "norm", "easy", "standard"]})
    outcomes = pd.DataFrame(
        {"household_id": ["a", "b", "c", "d"], "registered": [0, 1, 0, 1], "hours_month3": ["2", "-1", "1.5", ""]}
    )
    with pytest.raises(DataError) as info:
        merge_outcomes(proto, allocation, outcomes)
    [p] = info.value.problems
    assert p.message == ("count outcome 'hours' has values that are not a whole number of 0 or more in "
                         "rows 3, 4 ('-1', '1.5')")


def test_missing_data_rule_fail(sms):
    allocation, outcomes = make()
    outcomes.loc[0, "attended"] = None
    strict = sms.model_copy(update={"analysis": sms.analysis.model_copy(update={"missing_data": "fail"})})
    with pytest.raises(DataError) as info:
        merge_outcomes(strict, allocation, outcomes)
    assert info.value.problems[0].code == "BF216"


def test_duplicate_ids_in_the_participants_file_are_located(sms):
    # a merge that is not one-to-one used to end in an internal error
    allocation, outcomes = make()
    baseline = outcomes[["participant_id", "age", "female", "prior_dna"]].copy()
    outcomes = outcomes.drop(columns=["age", "female", "prior_dna"])
    baseline.loc[3, "participant_id"] = "P1"
    with pytest.raises(DataError) as info:
        merge_outcomes(sms, allocation, outcomes, baseline=baseline, baseline_label="people.csv")
    assert problems(info) == [("BF212", "1 id(s) on more than one row: 'P1' in rows 3, 5", "participant_id")]


@pytest.mark.parametrize(("kind", "cells", "bad"), [
    ("binary", [1.0, 0.0, np.nan, -0.0, 2.0], [5]),
    ("count", [2.0, 1.5, -1.0, np.nan, np.inf], [2, 3, 5]),
    ("continuous", [2.5, -1.0, np.nan, np.inf, 0.0], [4]),
])
def test_outcomes_read_as_numbers_get_the_verdicts_of_their_text(kind, cells, bad):
    # the numbers' own text (str(value)) is the reference; -0.0 is the number 0, no outcome is infinite
    from bitframe.analyse.outcome_file import code_outcome
    from bitframe.protocol.schema import Outcome, OutcomesFile

    outcome = Outcome(id="y", role="primary", type=kind, column="y")
    rows = list(range(2, 7))
    numbers, found = code_outcome(pd.Series(cells), outcome, OutcomesFile(), rows=rows, label="out.csv")
    text, expected = code_outcome(pd.Series([str(c) for c in cells], dtype=object).replace("nan", ""), outcome,
                                  OutcomesFile(), rows=rows, label="out.csv")
    assert [p.row for p in found] == [p.row for p in expected] == ([bad[0] + 1] if bad else [])
    assert [f"rows {', '.join(str(b + 1) for b in bad)} (" in p.message for p in found] == [True] * bool(bad)
    np.testing.assert_array_equal(numbers, text)
