"""Issue 14: outcomes as site exports write them -- yes/no, missing codes, decimal commas, unknown ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.consort import consort_flow
from bitframe.analyse.intake import merge_outcomes
from bitframe.analyse.outcome_file import NO, YES, code_outcome
from bitframe.analyse.plan import analyse_frames
from bitframe.errors import DataError
from bitframe.protocol import load_protocol
from bitframe.protocol.schema import OutcomesFile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sms():
    return load_protocol(ROOT / "protocols" / "sms-link-worker.yaml")


def outcome(sms, outcome_id):
    return next(o for o in sms.outcomes if o.id == outcome_id)


def code(sms, outcome_id, values, **coding):
    return code_outcome(pd.Series(values, dtype=object), outcome(sms, outcome_id), OutcomesFile(**coding),
                        rows=list(range(2, len(values) + 2)), label="out.xlsx, sheet 'Export'")


def test_documented_yes_no_spellings_are_read_by_default(sms):
    assert YES == ("yes", "y", "true", "1") and NO == ("no", "n", "false", "0")
    values = ["Yes", " no ", "Y", "n", "TRUE", "False", "1", "0", "1.0", "0.0", ""]
    coded, problems = code(sms, "attended", values)
    assert problems == []
    np.testing.assert_array_equal(coded, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, np.nan])


def test_a_declared_mapping_replaces_the_default_spellings(sms):
    coding = {"binary_values": {"attended": {"yes": ["Attended"], "no": ["DNA", "Did not attend"]}}}
    coded, problems = code(sms, "attended", ["attended", "DNA", " did not attend", ""], **coding)
    assert problems == []
    np.testing.assert_array_equal(coded, [1, 0, 0, np.nan])
    _, [problem] = code(sms, "attended", ["Attended", "Yes"], **coding)
    assert problem.message == "binary outcome 'attended' has values that are not yes or no in rows 3 ('Yes')"
    assert problem.hint.endswith("the protocol reads Attended as yes and DNA, Did not attend as no")


def test_an_unreadable_binary_value_names_the_sheet_row_and_how_to_declare_spellings(sms):
    _, [problem] = code(sms, "attended", ["yes", "Attended", "no", "Attended"])
    assert (problem.code, problem.row, problem.field) == ("BF213", 3, "attended")
    assert problem.file == "out.xlsx, sheet 'Export'"
    assert problem.message == "binary outcome 'attended' has values that are not yes or no in rows 3, 5 ('Attended')"
    assert "declare the file's spellings under data.outcomes.binary_values" in problem.hint


def test_declared_missing_codes_are_missing_values(sms):
    coded, problems = code(sms, "wellbeing", ["21", "-99", "Not known", " NA ", "24.5"],
                           missing_codes=["-99", "not known"])
    assert problems == []
    np.testing.assert_array_equal(coded, [21, np.nan, np.nan, np.nan, 24.5])
    # undeclared, -99 is a number like any other: the analysis would use it, so nothing is guessed
    coded, _ = code(sms, "wellbeing", ["21", "-99"])
    np.testing.assert_array_equal(coded, [21, -99])
    # a numeric column (a library caller's frame) honours numeric missing codes too
    numeric = code_outcome(pd.Series([21.0, -99.0]), outcome(sms, "wellbeing"), OutcomesFile(missing_codes=["-99"]),
                           rows=[2, 3], label="frame")[0]
    np.testing.assert_array_equal(numeric, [21, np.nan])


def test_decimal_commas_only_when_declared(sms):
    coded, problems = code(sms, "wellbeing", ["3,5", "21", "-1,25"], decimal_comma=True)
    assert problems == []
    np.testing.assert_array_equal(coded, [3.5, 21, -1.25])
    _, [problem] = code(sms, "wellbeing", ["3,5", "21"])
    assert problem.message == "continuous outcome 'wellbeing' has values that are not a number in rows 2 ('3,5')"
    assert "declare `decimal_comma: true` under data.outcomes" in problem.hint
    # with decimal commas declared, a point is ambiguous (1.000 may be a thousand) and refused
    _, [problem] = code(sms, "wellbeing", ["3,5", "1.000"], decimal_comma=True)
    assert problem.row == 3 and "a decimal point is ambiguous" in problem.hint


def make(n=16):
    rng = np.random.default_rng(14)
    allocation = pd.DataFrame({"participant_id": [f"P{i}" for i in range(n)], "arm": ["usual", "sms"] * (n // 2),
                               "stratum": ["A"] * n})
    outcomes = pd.DataFrame({"Participant ID": [f"P{i}" for i in range(n)] + ["STRANGER"],
                             "Attended?": ["Yes", "No", "No", "Yes"] * (n // 4) + ["Yes"],
                             "SWEMWBS": [f"{20 + i},5" for i in range(n)] + ["20"],
                             "Age": [str(a) for a in rng.integers(20, 80, n + 1)],
                             "female": [str(v) for v in rng.integers(0, 2, n + 1)],
                             "prior_dna": [str(v) for v in rng.integers(0, 2, n + 1)]})
    return allocation, outcomes


def with_outcomes_file(sms, **fields):
    data = sms.data.model_copy(update={"outcomes": OutcomesFile(**fields)})
    return sms.model_copy(update={"data": data})


def test_unknown_ids_stop_the_analysis_by_default(sms):
    allocation, outcomes = make()
    protocol = with_outcomes_file(sms, columns={"attended": "Attended?"}, decimal_comma=True)
    with pytest.raises(DataError) as info:
        merge_outcomes(protocol, allocation, outcomes, outcomes_label="out.csv")
    [problem] = info.value.problems
    assert problem.code == "BF215" and problem.row == 18
    assert "pre-register `unknown_ids: exclude` under data.outcomes" in problem.hint


def test_unknown_ids_excluded_when_pre_registered_are_counted_in_the_flow(sms):
    allocation, outcomes = make()
    protocol = with_outcomes_file(sms, columns={"attended": "Attended?"}, decimal_comma=True, unknown_ids="exclude")
    data = merge_outcomes(protocol, allocation, outcomes)
    assert data.unknown_ids_excluded == 1 and len(data.frame) == 16
    assert data.frame["attended"].tolist() == [1.0, 0.0, 0.0, 1.0] * 4
    assert data.frame["swemwbs"].tolist() == [20.5 + i for i in range(16)]
    assert any("1 row(s) of the outcomes file are for ids not on the randomisation list" in n for n in data.notes)
    result = analyse_frames(protocol, allocation, outcomes, inference=False)
    assert result.consort is not None and result.consort.unknown_ids_excluded == 1
    assert sum(a.allocated for a in result.consort.arms) == 16


def test_the_flow_counts_excluded_records_beside_the_arms():
    flow = consort_flow(["a", "b", "a", "b"], [1.0, np.nan, 0.0, 1.0], unknown_ids_excluded=3)
    assert flow.unknown_ids_excluded == 3 and flow.randomised == 4
    with pytest.raises(ValueError, match="unknown_ids_excluded"):
        consort_flow(["a", "b"], [1.0, 0.0], unknown_ids_excluded=-1)


def test_outcome_ids_are_compared_in_their_canonical_form():
    proto = load_protocol(ROOT / "protocols" / "sms-link-worker.yaml")
    proto = proto.model_copy(update={"unit": proto.unit.model_copy(update={"id_type": "nhs_number"})})
    allocation = pd.DataFrame({"participant_id": ["9434765919", "9434765870"], "arm": ["usual", "sms"],
                               "stratum": ["A", "A"]})
    outcomes = pd.DataFrame({"participant_id": ["943 476 5919", " 943-476-5870 "], "attended": ["yes", "no"],
                             "swemwbs": ["20", "21"], "age": [40, 50], "female": [0, 1], "prior_dna": [1, 0]})
    data = merge_outcomes(proto, allocation, outcomes)
    assert data.frame["attended"].tolist() == [1.0, 0.0] and data.not_in_outcomes == 0
    outcomes.loc[1, "participant_id"] = "9434765919"
    with pytest.raises(DataError) as info:
        merge_outcomes(proto, allocation, outcomes)
    [problem] = info.value.problems
    assert problem.code == "BF212"
    assert problem.message == "1 id(s) on more than one row: '9434765919' in rows 2, 3 as '943 476 5919', '9434765919'"


def test_the_report_says_how_many_outcome_records_were_left_out(sms):
    from bitframe.analyse.results import AnalysisResult
    from bitframe.report.site import render_site_html

    path = ROOT / "tests" / "reference" / "report_synthesis" / "results" / "sms-link-worker.json"
    result = AnalysisResult.model_validate_json(path.read_text(encoding="utf-8"))
    assert result.consort is not None
    html = render_site_html(sms, result)
    assert "were never randomised" not in html
    result = result.model_copy(update={"consort": result.consort.model_copy(update={"unknown_ids_excluded": 2})})
    assert ("2 outcome record(s) for ids that were never randomised were left out, as the protocol pre-registered."
            in render_site_html(sms, result))


def test_xlsx_outcomes_are_named_by_sheet_and_row_and_blank_rows_noted_once(sms, tmp_path):
    from bitframe.data import read_table

    allocation, outcomes = make()
    outcomes = outcomes.iloc[:16].copy()
    outcomes.loc[5, "Attended?"] = "Maybe"
    blank = pd.DataFrame([[""] * outcomes.shape[1]] * 2, columns=outcomes.columns)
    path = tmp_path / "outcomes.xlsx"
    pd.concat([outcomes.iloc[:3], blank, outcomes.iloc[3:]]).to_excel(path, sheet_name="Follow-up", index=False)
    protocol = with_outcomes_file(sms, columns={"attended": "Attended?"}, decimal_comma=True)
    with pytest.raises(DataError) as info:
        merge_outcomes(protocol, allocation, read_table(path, infer_numbers=False), outcomes_label=str(path))
    [problem] = info.value.problems
    # data row 6 sits below two blank rows: Excel shows it as row 9
    assert problem.format().startswith(f"{path}, sheet 'Follow-up', row 9, column 'attended': error[BF213]: ")
    outcomes.loc[5, "Attended?"] = "No"
    pd.concat([outcomes.iloc[:3], blank, outcomes.iloc[3:]]).to_excel(path, sheet_name="Follow-up", index=False)
    data = merge_outcomes(protocol, allocation, read_table(path, infer_numbers=False), outcomes_label="outcomes.xlsx")
    assert [n for n in data.notes if "blank" in n] == ["skipped 2 blank row(s) of outcomes.xlsx: rows 5, 6"]


def test_scale_items_are_found_by_the_protocols_names_before_scoring():
    from bitframe.protocol.loader import parse_protocol

    items = [f"wb{i}" for i in range(1, 8)]
    text = (ROOT / "protocols" / "sms-link-worker.yaml").read_text(encoding="utf-8")
    text = text.replace("    column: swemwbs\n", "    column: swemwbs\n    scale: {name: swemwbs, items: ["
                        + ", ".join(items) + "]}\n", 1)
    mapping = ", ".join(f"{item}: 'Q{k + 1} (SWEMWBS)'" for k, item in enumerate(items))
    protocol = parse_protocol(text.replace("\nrandomisation:\n", f"\ndata:\n  outcomes:\n    columns: {{{mapping}}}\n"
                                           "\nrandomisation:\n", 1))
    allocation, outcomes = make()
    outcomes = outcomes.iloc[:16].drop(columns="SWEMWBS")
    for k in range(7):
        outcomes[f"Q{k + 1} (SWEMWBS)"] = ["3", "4"] * 8
    protocol = with_outcomes_file(protocol, columns=protocol.data.outcomes.columns | {"attended": "Attended?"})
    data = merge_outcomes(protocol, allocation, outcomes)
    # seven items answered 3 or 4: the metric scores of the published SWEMWBS conversion table
    assert data.frame["swemwbs"].tolist() == [19.25, 25.03] * 8  # raw 21 and 28 in scales.json
