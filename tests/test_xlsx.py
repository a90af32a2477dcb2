"""The one-sheet .xlsx writer (bitframe.xlsx): values read back exactly by openpyxl and pandas,
text always a string cell, unwritable text refused with its row and column, bytes reproducible."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from bitframe import xlsx
from bitframe.errors import DataError
from bitframe.xlsx import EXCEL_MAX_CELL_CHARS, column_letters, frame_to_xlsx

AWKWARD = [
    "a & b", "<tag>", "x > y", 'say "hi"', "it's", "&amp; already escaped", "]]>",
    "  leading", "trailing  ", " both ", "\ttab first", "line\nbreak", "carriage\rreturn", "crlf\r\n",
    "Zoë Ångström", "名字", "emoji \U0001f600", "e\u0301 combining", "\u200f rtl mark",
    "_x not an escape", "x" * EXCEL_MAX_CELL_CHARS, "12345678901234567890", "007",
]


def _cells(data: bytes) -> list[list[openpyxl.cell.cell.Cell]]:
    return [list(row) for row in openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows()]


def test_text_reads_back_exactly_with_openpyxl_and_pandas():
    frame = pd.DataFrame({"text": AWKWARD, "n": np.arange(len(AWKWARD))})
    data = frame_to_xlsx(frame, sheet="awkward & <odd>")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["awkward & <odd>"]
    assert [c.value for c in book.active["A"]] == ["text", *AWKWARD]
    read = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False, engine="openpyxl")
    assert read["text"].tolist() == AWKWARD
    assert read["n"].tolist() == [str(i) for i in range(len(AWKWARD))]


def test_missing_and_empty_cells_and_numbers():
    frame = pd.DataFrame({
        "id": ["A1", None, ""],
        "count": pd.array([2**62, None, -7], dtype="Int64"),  # beyond 2**53: exact as written
        "share": [0.1, np.nan, 1e20],
        "flag": pd.array([True, None, False], dtype="boolean"),
        "arm": pd.Categorical(["b", None, "a"], categories=["a", "b", "unused"]),
    })
    rows = _cells(frame_to_xlsx(frame))
    assert [c.value for c in rows[0]] == ["id", "count", "share", "flag", "arm"]
    assert [(c.value, c.data_type) for c in rows[1]] == [("A1", "s"), (2**62, "n"), (0.1, "n"), (True, "b"), ("b", "s")]
    assert [c.value for c in rows[2]] == [None] * 5  # a missing value is no cell
    assert [c.value for c in rows[3]][1:] == [-7, 1e20, False, "a"]
    assert rows[3][0].value in ("", None)  # an empty string is an empty cell either way
    read = pd.read_excel(io.BytesIO(frame_to_xlsx(frame)), dtype=str, keep_default_na=False)
    assert read["count"].tolist() == [str(2**62), "", "-7"]


def test_text_that_looks_like_a_formula_or_an_error_is_a_string_cell():
    values = ["=1+1", "=HYPERLINK(\"http://x\",\"y\")", "+1", "-1", "@SUM(A1)", "#N/A", "#REF!", "#DIV/0!", "TRUE"]
    frame = pd.DataFrame({"v": values, "c": pd.Categorical(values)})
    rows = _cells(frame_to_xlsx(frame))
    cells = [c for row in rows[1:] for c in row]
    assert {c.data_type for c in cells} == {"s"}
    assert [row[0].value for row in rows[1:]] == values
    assert [row[1].value for row in rows[1:]] == values


@pytest.mark.parametrize(
    ("value", "what"),
    [("bell\x07", "control character"), ("nul\x00", "control character"), ("\x1b[31m", "control character"),
     ("odd\ufffe", "control character"), ("_x0041_", "_xHHHH_"), ("x" * (EXCEL_MAX_CELL_CHARS + 1), "32,767")],
)
def test_text_the_file_cannot_hold_is_refused_with_row_and_column(value, what, monkeypatch):
    monkeypatch.setattr(xlsx, "_CHUNK_ROWS", 3)  # the bad cell is in the third chunk
    frame = pd.DataFrame({"id": [f"P{i}" for i in range(9)], "note": ["fine"] * 9})
    frame.loc[7, "note"] = value
    with pytest.raises(DataError) as exc:
        frame_to_xlsx(frame, file="list.xlsx")
    problem = exc.value.problems[0]
    assert (problem.code, problem.file, problem.row, problem.field) == ("BF905", "list.xlsx", 9, "note")
    assert what in problem.message


def test_unwritable_header_and_category_are_refused():
    with pytest.raises(DataError) as exc:
        frame_to_xlsx(pd.DataFrame({"bad\x01name": [1]}))
    assert exc.value.problems[0].row == 1
    with pytest.raises(DataError, match="BF905"):
        frame_to_xlsx(pd.DataFrame({"arm": pd.Categorical(["b\x02"])}))


def test_rows_across_chunks_keep_their_order(monkeypatch):
    monkeypatch.setattr(xlsx, "_CHUNK_ROWS", 4)
    frame = pd.DataFrame({"id": [f"P{i:02d}" for i in range(11)], "sequence": np.arange(1, 12)})
    read = pd.read_excel(io.BytesIO(frame_to_xlsx(frame)), dtype=str)
    assert read.to_dict("list") == {"id": [f"P{i:02d}" for i in range(11)], "sequence": [str(i) for i in range(1, 12)]}


def test_bytes_are_reproducible_and_the_package_is_complete():
    frame = pd.DataFrame({"id": ["a", "b"], "arm": pd.Categorical(["x", "y"])})
    first, second = frame_to_xlsx(frame), frame_to_xlsx(frame)
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as package:
        assert package.testzip() is None
        assert {i.date_time for i in package.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert set(package.namelist()) == {
            "[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
            "xl/styles.xml", "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml",
        }
        assert b'<dimension ref="A1:B3"/>' in package.read("xl/worksheets/sheet1.xml")


def test_column_letters_follow_excel():
    # Excel's columns run A..Z, AA..ZZ, AAA.., the last of 16,384 being XFD (Excel specifications and limits).
    assert [column_letters(i) for i in (0, 25, 26, 51, 701, 702, 16383)] == ["A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]


def test_many_columns_land_in_their_own_cells():
    frame = pd.DataFrame({f"c{i}": [i] for i in range(30)})
    rows = _cells(frame_to_xlsx(frame))
    assert [c.coordinate for c in rows[1]][25:28] == ["Z2", "AA2", "AB2"]
    assert [c.value for c in rows[1]] == list(range(30))


def test_an_infinite_number_is_refused():
    with pytest.raises(ValueError, match="infinite"):
        frame_to_xlsx(pd.DataFrame({"x": [1.0, np.inf]}))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_the_file(tmp_path):
    frame = pd.DataFrame({"text": AWKWARD, "n": np.arange(len(AWKWARD)), "arm": pd.Categorical(AWKWARD[:2] * 11 + ["a"])})
    (tmp_path / "t.xlsx").write_bytes(frame_to_xlsx(frame))
    # CSV export as UTF-8 (character set 76), comma-separated, fields in double quotes
    subprocess.run(["soffice", "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1",
                    "--outdir", str(tmp_path), str(tmp_path / "t.xlsx")],
                   check=True, capture_output=True, timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    read = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert read["n"].tolist() == [str(i) for i in range(len(frame))]
    assert read["arm"].tolist() == [str(v) for v in frame["arm"]]
    # LibreOffice takes a CR LF inside a cell as one line break (openpyxl reads it back as written)
    assert read["text"].tolist() == [v.replace("\r\n", "\n") for v in AWKWARD]


def test_an_unwritable_category_is_refused_at_its_first_row_and_an_unused_one_is_left_out():
    arm = pd.Categorical(["a", "a", "b\x02", "b\x02"], categories=["a", "b\x02", "unused\x03"])
    with pytest.raises(DataError) as exc:
        frame_to_xlsx(pd.DataFrame({"id": list("wxyz"), "arm": arm}))
    assert (exc.value.problems[0].row, exc.value.problems[0].field) == (4, "arm")
    data = frame_to_xlsx(pd.DataFrame({"arm": pd.Categorical(["b", None], categories=["a\x01", "b"])}))
    assert [c.value for row in _cells(data) for c in row] == ["arm", "b"]  # "a\x01" is not in the file


@pytest.mark.parametrize("name", ["", "x" * 32, "a/b", "a:b", "[x]", "'quoted"])
def test_a_sheet_name_excel_refuses_is_refused(name):
    with pytest.raises(ValueError, match="sheet"):
        frame_to_xlsx(pd.DataFrame({"x": [1]}), sheet=name)


def test_the_row_limit_is_excels(monkeypatch):
    monkeypatch.setattr(xlsx, "SHEET_MAX_ROWS", 4)  # 1,048,576 rows in Excel; a small limit keeps the test fast
    frame_to_xlsx(pd.DataFrame({"x": [1, 2, 3]}))
    with pytest.raises(ValueError, match="at most 3 below its header"):
        frame_to_xlsx(pd.DataFrame({"x": [1, 2, 3, 4]}))


@pytest.mark.parametrize("dtype", ["str", pd.StringDtype("python"), object])
def test_text_columns_of_every_text_dtype(dtype):
    frame = pd.DataFrame({"id": pd.Series(["a&b", None, " c"], dtype=dtype), "mixed": pd.Series([1, "x", None], dtype=object)})
    rows = _cells(frame_to_xlsx(frame))
    assert [[c.value for c in row] for row in rows] == [["id", "mixed"], ["a&b", "1"], [None, "x"], [" c", None]]
