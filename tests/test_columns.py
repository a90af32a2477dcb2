"""Issue 14: the protocol finds the file's columns by its own names (mapped, or spelt alike)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import bitframe as bf
from bitframe.data import blank_rows, header_key, read_table, resolve_columns, sheet_rows
from bitframe.errors import DataError, ProtocolError
from bitframe.protocol import parse_protocol
from bitframe.randomise.from_protocol import randomise_protocol, randomise_protocol_file
from bitframe.randomise.output import verify, write_allocation

ROOT = Path(__file__).resolve().parents[1]
SMS = (ROOT / "protocols" / "sms-link-worker.yaml").read_text()


def with_data(section: str) -> str:
    return SMS.replace("\nrandomisation:\n", f"\n{section}\nrandomisation:\n", 1)


def test_headers_compare_ignoring_case_spaces_underscores_and_hyphens():
    assert header_key(" NHS Number ") == header_key("nhs_number") == header_key("NHS-number") == "nhs number"
    assert header_key("GP\u00a0practice") == header_key("gp practice")  # a no-break space is spacing too
    assert header_key("NHS\u200bNumber") != header_key("nhs number")  # an invisible character is not


def test_a_header_spelt_otherwise_is_read_by_the_protocols_name():
    frame = pd.DataFrame({" NHS Number ": ["1"], "GP Practice": ["Elm Road"], "Unnamed: 2": [""]})
    renamed, used = resolve_columns(frame, {"nhs_number": "id column", "gp_practice": "stratum column"})
    assert list(renamed.columns) == ["nhs_number", "gp_practice", "Unnamed: 2"]
    assert used == {"nhs_number": " NHS Number ", "gp_practice": "GP Practice"}


def test_a_mapped_header_is_read_and_an_absent_one_is_named_with_the_mapping():
    frame = pd.DataFrame({"NHS No.": ["1"], "Surgery": ["Elm Road"]})
    renamed, used = resolve_columns(frame, {"nhs_number": "id column", "practice": "stratum column"},
                                    headers={"nhs_number": "nhs no.", "practice": "Surgery"},
                                    mapping_name="data.participants.columns")
    assert list(renamed.columns) == ["nhs_number", "practice"] and used["nhs_number"] == "NHS No."
    with pytest.raises(DataError) as info:
        resolve_columns(frame, {"nhs_number": "id column"}, headers={"nhs_number": "NHS No"}, file="gp.csv",
                        mapping_name="data.participants.columns")
    [p] = info.value.problems
    assert (p.code, p.row, p.field) == ("BF204", 1, "nhs_number")
    assert p.message == ("id column 'nhs_number' is not in the file (mapped by data.participants.columns to the "
                         "header 'NHS No')")
    assert p.hint.startswith("did you mean 'NHS No.'?")


def test_an_unmatched_name_gets_a_did_you_mean_that_says_how_to_map_it():
    frame = pd.DataFrame({"NHS Num": ["1"], "Practice": ["x"]})
    with pytest.raises(DataError) as info:
        resolve_columns(frame, {"nhs_number": "id column"}, file="gp.csv", mapping_name="data.participants.columns")
    [p] = info.value.problems
    assert p.message == "id column 'nhs_number' is not in the file"
    assert p.hint == ("did you mean 'NHS Num'? If so, map it under data.participants.columns: `nhs_number: NHS Num`. "
                      "Columns in the file: 'NHS Num', 'Practice'")


def test_an_invisible_character_in_a_header_is_named():
    frame = pd.DataFrame({"NHS\u200bNumber": ["1"]})
    with pytest.raises(DataError) as info:
        resolve_columns(frame, {"nhs_number": "id column"})
    [p] = info.value.problems
    assert p.hint == "the header 'NHS\u200bNumber' has U+200B ZERO WIDTH SPACE: delete it in the file"


def test_two_headers_that_could_each_be_the_column_are_refused():
    frame = pd.DataFrame({"NHS Number": ["1"], "nhs-number": ["2"]})
    with pytest.raises(DataError) as info:
        resolve_columns(frame, {"nhs_number": "id column"})
    [p] = info.value.problems
    assert p.code == "BF210"
    assert p.message == "id column 'nhs_number': the headers 'NHS Number', 'nhs-number' could each be it"


def test_a_renamed_header_may_not_shadow_a_column_of_that_name():
    frame = pd.DataFrame({"Practice Code": ["A"], "practice": ["Elm Road"]})
    with pytest.raises(DataError) as info:
        resolve_columns(frame, {"practice": "stratum column"}, headers={"practice": "Practice Code"})
    assert [p.code for p in info.value.problems] == ["BF210"]


def test_optional_names_are_renamed_when_found_and_left_alone_otherwise():
    frame = pd.DataFrame({"ID": ["1"], "Prior DNA": [1]})
    renamed, _ = resolve_columns(frame, {"id": "id column"}, optional=["prior_dna", "age"])
    assert list(renamed.columns) == ["id", "prior_dna"]


def test_row_numbers_and_sheet_survive_renaming(tmp_path):
    path = tmp_path / "gp.csv"
    path.write_text("NHS Number,Practice\n1,A\n,\n2,B\n", encoding="utf-8")
    frame = read_table(path, infer_numbers=False)
    renamed, _ = resolve_columns(frame, {"nhs_number": "id column"})
    assert sheet_rows(renamed) == sheet_rows(frame) == [2, 4] and blank_rows(renamed) == [3]


# ----------------------------------------------------------------------------- the protocol


def problems(text: str) -> list[tuple[str, str, int | None]]:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, label="t.yaml")
    return [(p.code, p.message, p.line) for p in info.value.problems]


def test_the_data_section_is_validated_where_it_is_written():
    text = with_data("data:\n  participants:\n    columns:\n      practise: Practice Name\n"
                     "      participant_id: Practice Name\n"
                     "  outcomes:\n    binary_values:\n      wellbeing: {yes: [Y], no: [N]}\n")
    found = problems(text)
    line = text.splitlines().index("      practise: Practice Name") + 1
    assert ("BF147", "'practise' is not a column the protocol reads from the participants file", line) in found
    assert ("BF147", "'participant_id' and 'practise' are both mapped to the header 'Practice Name'",
            line + 1) in found
    assert ("BF147", "outcome 'wellbeing' is continuous, not binary", line + 4) in found


def test_unknown_keys_and_values_of_the_data_section_are_refused():
    found = problems(with_data("data:\n  outcomes:\n    unknown_ids: drop\n    decimal_coma: true\n"))
    assert {code for code, _, _ in found} == {"BF110", "BF113"}


# ----------------------------------------------------------------------------- randomise and verify


def gp_export(tmp_path: Path) -> Path:
    path = tmp_path / "gp.csv"
    rows = [f"P-{i:03d},{['Elm Road', 'Hill Surgery'][i % 2]}" for i in range(40)]
    path.write_text("Participant ID,GP Practice\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_randomise_and_verify_read_the_mapped_headers(tmp_path):
    protocol = parse_protocol(with_data("data:\n  participants:\n    columns: {practice: GP Practice}\n"))
    path = gp_export(tmp_path)
    allocation = randomise_protocol_file(protocol, path)
    # "Participant ID" is participant_id by spelling alone; 'GP Practice' is practice by the mapping
    assert allocation.manifest["participant_headers"] == {"participant_id": "Participant ID", "practice": "GP Practice"}
    assert list(allocation.table.columns[:3]) == ["participant_id", "arm", "stratum"]
    assert set(allocation.table["stratum"]) == {"practice=Elm Road", "practice=Hill Surgery"}
    written = write_allocation(allocation, tmp_path / "list.csv")
    report = verify(written.list_csv, path)
    assert report.ok, report.report()
    # the same table given as a DataFrame is read the same way, and so is the notebook API's
    frame = pd.read_csv(path, dtype=str)
    assert randomise_protocol(protocol, frame).csv == allocation.csv
    assert bf.randomise(protocol, path).csv == allocation.csv
    assert bf.verify(protocol, path, written.list_csv).ok
