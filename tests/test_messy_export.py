"""Issue 14 acceptance: a messy GP-system export goes through randomise -> verify (xlsx) -> analyse
by the CLI, read only through the protocol's ``data:`` section, each problem reported once at the
row the spreadsheet shows (header = row 1) and on its sheet.

The export is built here, as a site's would look: header "NHS Number", NHS numbers typed with
spaces, hyphens, surrounding spaces or as Excel numbers, one person twice (the same NHS number
written two ways, Excel rows 12 and 54), a practice with a trailing space, two blank rows, dates
as text and an unnamed extra column; then outcomes with Yes/No, missing codes, decimal commas, a
blank row and an id that was never randomised.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from bitframe.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMS = (ROOT / "protocols" / "sms-link-worker.yaml").read_text(encoding="utf-8")
PRACTICES = ["Elm Road", "Hill Surgery", "Market Street", "Riverside"]
DUPLICATE = "9434765919"  # NHS England's example number: valid Modulus 11 check digit

OUTCOME_CODING = """    missing_codes: ["-99", not known]
    decimal_comma: true
    unknown_ids: exclude
"""


def protocol_text(*, outcome_coding: bool) -> str:
    data = ("data:\n  participants:\n"
            "    columns: {practice: 'Registered practice', age: 'Age (years)', female: 'Female (1 = yes)'}\n"
            "  outcomes:\n"
            "    columns: {nhs_number: 'NHS No', attended: 'Attended appointment?', swemwbs: 'SWEMWBS (7-35)'}\n"
            + (OUTCOME_CODING if outcome_coding else ""))
    text = SMS.replace("  id_column: participant_id\n", "  id_column: nhs_number\n  id_type: nhs_number\n")
    text = text.replace("{name: participant_id, type: id}", "{name: nhs_number, type: id}")
    text = text.replace("permutations: 2000", "permutations: 0")
    return text.replace("\nrandomisation:\n", f"\n{data}\nrandomisation:\n", 1)


def nhs_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """Valid NHS numbers (Modulus 11: weights 10..2, check digit 11 - sum mod 11; 10 is invalid)."""
    found: list[str] = []
    while len(found) < n:
        nine = "".join(str(d) for d in rng.integers(0, 10, 9))
        check = 11 - sum(int(d) * w for d, w in zip(nine, range(10, 1, -1))) % 11
        if check != 10 and nine[0] != "0" and nine + str(check % 11) != DUPLICATE:
            found.append(nine + str(check % 11))
    return found


def written(number: str, k: int) -> object:
    """An NHS number as one of the ways exports write it."""
    return [f"{number[:3]} {number[3:6]} {number[6:]}", f"{number[:3]}-{number[3:6]}-{number[6:]}",
            f" {number} ", int(number)][k % 4]


def export(path: Path, records: list[dict | None], sheet: str) -> None:
    """Write ``records`` (None: a blank row) as an Excel sheet, headers in the first row."""
    columns = list(next(r for r in records if r is not None))
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(columns)
    for record in records:
        ws.append([None] * len(columns) if record is None else [record[c] for c in columns])
    book.save(path)


def gp_export(numbers: list[str], rng: np.random.Generator) -> list[dict | None]:
    records: list[dict | None] = []
    for k, number in enumerate(numbers):
        records.append({
            "NHS Number": written(number, k), "Registered practice": PRACTICES[k % 4],
            "Age (years)": int(rng.integers(18, 90)), "Female (1 = yes)": int(rng.integers(0, 2)),
            "Prior DNA": int(rng.integers(0, 2)), "Referral date": f"{k % 28 + 1:02d}/02/2026",
            "": "see notes" if k % 7 == 0 else None,
        })
    # Excel rows: the header is row 1, records[i] is row i + 2
    records.insert(18, None)
    records.insert(19, None)  # rows 20 and 21 are blank
    records[10]["NHS Number"] = "943 476 5919"  # row 12
    records[52]["NHS Number"] = int(DUPLICATE)  # row 54: the same person again
    records[30]["Registered practice"] = "Elm Road "  # row 32
    return records


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_messy_gp_export_goes_through_randomise_verify_and_analyse(tmp_path, capsys):
    rng = np.random.default_rng(14)
    protocol = tmp_path / "trial.yaml"
    protocol.write_text(protocol_text(outcome_coding=True), encoding="utf-8")
    numbers = nhs_numbers(61, rng)
    records = gp_export(numbers[:60], rng)
    people = tmp_path / "gp-export.xlsx"
    export(people, records, "Export")
    lst = tmp_path / "list.csv"

    # 1. randomise refuses the export, naming each problem once at its Excel row and sheet
    code, out, err = run(capsys, "randomise", protocol, "-p", people, "-o", lst, "--xlsx")
    assert code == 1 and "Traceback" not in err and not lst.exists()
    assert err.count("error[") == 2
    assert (f"gp-export.xlsx, sheet 'Export', row 54, column 'nhs_number': error[BF206]: id '{DUPLICATE}' appears "
            f"2 times, in rows 12, 54 (as '943 476 5919', '{DUPLICATE}')") in err
    assert ("gp-export.xlsx, sheet 'Export', row 32, column 'practice': error[BF208]: value 'Elm Road ' is not "
            "allowed in 'practice' (rows 32)") in err
    assert "hint: 'Elm Road ' has a trailing space: delete it in the file" in err

    # 2. the site corrects those two rows; the list is randomised, the blank rows noted once
    records[52]["NHS Number"] = written(numbers[60], 1)  # the second person's own number
    records[30]["Registered practice"] = "Elm Road"
    export(people, records, "Export")
    code, out, err = run(capsys, "randomise", protocol, "-p", people, "-o", lst, "--xlsx")
    assert code == 0, err
    assert out.count("blank row") == 1 and "note: skipped 2 blank row(s) of gp-export.xlsx: 20, 21" in out
    manifest = json.loads((tmp_path / "list.manifest.json").read_text(encoding="utf-8"))
    assert manifest["n"] == 60 and manifest["blank_rows_skipped"] == [20, 21]
    assert manifest["participant_headers"] == {"nhs_number": "NHS Number", "practice": "Registered practice"}
    listed = pd.read_csv(lst, dtype=str)
    assert listed["nhs_number"].str.fullmatch(r"\d{10}").all() and DUPLICATE in set(listed["nhs_number"])

    # 3. the Excel copy of the list verifies against the export, read through the recorded headers
    code, out, err = run(capsys, "verify", protocol, "-p", people, "--list", tmp_path / "list.xlsx")
    assert code == 0, out + err

    # 4. messy outcomes: Yes/No, 'not known', -99, decimal commas, a blank row, a stranger's id
    ids = listed["nhs_number"].tolist()
    outcome_rows: list[dict | None] = [
        {"NHS No": written(pid, k + 1), "Attended appointment?": ["Yes", "No", "yes", " NO", "not known"][k % 5],
         "SWEMWBS (7-35)": "-99" if k % 9 == 0 else f"{20 + k % 10},5"}
        for k, pid in enumerate(ids)]
    outcome_rows.insert(5, None)  # row 7 is blank
    outcome_rows.append({"NHS No": "401 023 2137", "Attended appointment?": "Yes", "SWEMWBS (7-35)": "22"})
    outcomes = tmp_path / "outcomes.xlsx"
    export(outcomes, outcome_rows, "Follow-up")
    stranger_row = len(outcome_rows) + 1

    # without the coding declared, each kind of value is one problem naming its rows, and the
    # stranger's row stops the analysis
    undeclared = tmp_path / "undeclared.yaml"
    undeclared.write_text(protocol_text(outcome_coding=False), encoding="utf-8")
    code, out, err = run(capsys, "analyse", undeclared, "--list", lst, "--outcomes", outcomes, "--participants", people)
    assert code == 1 and "Traceback" not in err
    assert err.count("error[") == 3
    where = "outcomes.xlsx, sheet 'Follow-up'"
    assert f"{where}, row 6, column 'attended': error[BF213]: binary outcome 'attended' has values" in err
    assert "or codes meaning 'not known' under data.outcomes.missing_codes" in err
    assert f"{where}, row 3, column 'swemwbs': error[BF213]: continuous outcome 'wellbeing' has values" in err
    assert "declare `decimal_comma: true` under data.outcomes" in err
    assert (f"{where}, row {stranger_row}, column 'nhs_number': error[BF215]: 1 outcome row(s) for ids that are "
            f"not on the randomisation list: rows {stranger_row} (e.g. '4010232137')") in err

    # as pre-registered, the same files are analysed: codes read, the stranger left out and counted
    results = tmp_path / "results.json"
    code, out, err = run(capsys, "analyse", protocol, "--list", lst, "--outcomes", outcomes, "--participants", people,
                         "--json", results)
    assert code == 0, err
    assert out.count("blank row") == 1 and "skipped 1 blank row(s)" in out
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["consort"]["unknown_ids_excluded"] == 1
    assert sum(a["allocated"] for a in data["consort"]["arms"]) == 60
    # 'not known' is every fifth person: lost to follow-up on the primary outcome, as attrition
    assert sum(a["lost"] for a in data["consort"]["arms"]) == 12
    # -99 is every ninth person's wellbeing: missing, not a score of -99; 21,5 is 21.5
    arms = dict(zip(listed["nhs_number"], listed["arm"]))
    for arm in ("usual", "sms"):
        summary = next(s for s in data["outcome_summaries"] if s["outcome"] == "wellbeing" and s["arm"] == arm)
        scores = [20 + k % 10 + 0.5 for k, pid in enumerate(ids) if arms[pid] == arm and k % 9]
        assert summary["missing"] == sum(1 for k, pid in enumerate(ids) if arms[pid] == arm and k % 9 == 0)
        assert summary["n"] == len(scores) and summary["mean"] == pytest.approx(np.mean(scores), rel=1e-12)
