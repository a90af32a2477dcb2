"""Reading participant tables (CSV, xlsx, Parquet) and reporting every problem at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitframe.data import MISSING_TOKENS, blank_rows, read_participants, read_table, sheet_rows, validate_participants
from bitframe.errors import DataError
from bitframe.randomise import Design, randomise_file, write_allocation


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def codes(exc: pytest.ExceptionInfo) -> list[str]:
    return [p.code for p in exc.value.problems]


# ----------------------------------------------------------------------------- reading


def test_csv_keeps_ids_and_text_exactly(tmp_path):
    p = write(tmp_path / "p.csv", "pid,region,age,score\n007,NA,31,1.5\n010,EU,,2\n")
    df = read_table(p, text_columns=["pid", "region"])
    assert df["pid"].tolist() == ["007", "010"]
    assert df["region"].tolist() == ["NA", "EU"]  # North America is not a missing value
    assert df["age"].isna().tolist() == [False, True] and df["age"].iloc[0] == 31
    assert df["score"].tolist() == [1.5, 2.0]


def test_csv_without_inference_is_all_text(tmp_path):
    p = write(tmp_path / "p.csv", "pid,age\n1,31\n2,x\n")
    df = read_table(p, infer_numbers=False)
    assert df["age"].tolist() == ["31", "x"]
    assert read_table(p)["age"].tolist() == ["31", "x"]  # a non-number keeps the column as text


def test_csv_with_bom_and_blank_line_keeps_row_numbers(tmp_path):
    # Issue 14: a blank row is skipped (one note), and rows keep the numbers a spreadsheet shows.
    p = tmp_path / "p.csv"
    p.write_bytes("\ufeffpid,sex\nA1,F\n\nA3,M\n,\nA1,F\n".encode("utf-8"))
    df = read_table(p, text_columns=["pid", "sex"])
    assert list(df.columns) == ["pid", "sex"]
    assert df["pid"].tolist() == ["A1", "A3", "A1"]
    assert blank_rows(df) == [3, 5] and sheet_rows(df) == [2, 4, 6]
    with pytest.raises(DataError) as exc:
        validate_participants(df, id_column="pid", file="p.csv")
    assert exc.value.problems[0].format() == (
        "p.csv, row 6, column 'pid': error[BF206]: id 'A1' appears 2 times, in rows 2, 6\n"
        "  hint: ids must be unique: remove the duplicate or give it its own id"
    )


def test_xlsx_ids_as_strings(tmp_path):
    p = tmp_path / "p.xlsx"
    pd.DataFrame({"pid": ["007", "010"], "n": [3, 4], "clinic": [12, 13]}).to_excel(p, index=False)
    df = read_table(p, text_columns=["pid", "clinic"])
    assert df["pid"].tolist() == ["007", "010"]
    assert df["clinic"].tolist() == ["12", "13"]
    assert df["n"].tolist() == [3, 4]


def test_parquet_numbers_become_clean_text_ids(tmp_path):
    p = tmp_path / "p.parquet"
    pd.DataFrame({"pid": [101, 102], "clinic": [5.0, np.nan], "x": [0.5, 1.5]}).to_parquet(p)
    df = read_table(p, text_columns=["pid", "clinic"])
    assert df["pid"].tolist() == ["101", "102"]
    assert df["clinic"].tolist() == ["5", ""]
    assert df["x"].tolist() == [0.5, 1.5]


def test_unsupported_missing_empty_unreadable(tmp_path):
    with pytest.raises(DataError) as exc:
        read_table(tmp_path / "people.txt")
    assert str(exc.value) == (
        f"{tmp_path / 'people.txt'}: error[BF202]: unsupported file type '.txt'\n"
        "  hint: use one of: .csv (CSV), .xlsx (Excel), .parquet (Parquet)"
    )
    with pytest.raises(DataError) as exc:
        read_table(tmp_path / "nope.csv")
    assert codes(exc) == ["BF200"] and "file not found" in str(exc.value)
    with pytest.raises(DataError) as exc:
        read_table(write(tmp_path / "empty.csv", ""))
    assert codes(exc) == ["BF203"] and "the file is empty" in str(exc.value)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError) as exc:
        read_table(bad)
    assert codes(exc) == ["BF201"] and "cannot read the file as Excel" in str(exc.value)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("pid,name\n1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError) as exc:
        read_table(latin)
    assert codes(exc) == ["BF201"] and "not UTF-8" in str(exc.value)


def test_duplicate_header_names(tmp_path):
    with pytest.raises(DataError) as exc:
        read_table(write(tmp_path / "p.csv", "pid,sex,pid\n1,F,2\n"))
    assert codes(exc) == ["BF210"]
    assert exc.value.problems[0].field == "pid"


def test_header_only_file(tmp_path):
    with pytest.raises(DataError) as exc:
        read_participants(write(tmp_path / "p.csv", "pid,sex\n"), id_column="pid")
    assert codes(exc) == ["BF203"]
    assert "header but no data rows" in str(exc.value)


# ----------------------------------------------------------------------------- validation


def test_every_problem_reported_at_once(tmp_path):
    p = write(
        tmp_path / "people.csv",
        "pid,sex,regoin,clinic\nA1,F,N,c1\nA2,Femal,S,c1\nA1,M,N,c2\n,F,N,c3\nA5,,S,c4\n",
    )
    with pytest.raises(DataError) as exc:
        read_participants(p, id_column="pid", categorical={"sex": ["F", "M"], "region": None}, cluster_column="clinic")
    err = exc.value
    assert codes(exc) == ["BF204", "BF205", "BF206", "BF207", "BF208", "BF209"]
    text = str(err)
    f = str(p)
    assert (
        f"{f}, row 1, column 'region': error[BF204]: stratum/factor column 'region' is not in the file\n"
        "  hint: did you mean 'regoin'? Columns in the file: 'pid', 'sex', 'regoin', 'clinic'" in text
    )
    assert f"{f}, row 5, column 'pid': error[BF205]: blank id" in text
    assert f"{f}, row 4, column 'pid': error[BF206]: id 'A1' appears 2 times, in rows 2, 4" in text
    assert f"{f}, row 6, column 'sex': error[BF207]: missing value in 'sex'" in text
    assert (
        f"{f}, row 3, column 'sex': error[BF208]: value 'Femal' is not allowed in 'sex' (rows 3)\n"
        "  hint: allowed values: 'F', 'M'" in text
    )
    assert (
        f"{f}, row 2, column 'clinic': error[BF209]: person 'A1' is in different clusters ('c1', 'c2') in rows 2, 4"
        in text
    )
    assert text.endswith("6 problems found.")


def test_unexpected_value_suggests_close_match():
    df = pd.DataFrame({"pid": ["1", "2", "3"], "site": ["North", "Nroth", "Nroth"]})
    with pytest.raises(DataError) as exc:
        validate_participants(df, id_column="pid", categorical={"site": ["North", "South"]}, file="f.csv")
    p = exc.value.problems[0]
    assert (p.code, p.row, p.field) == ("BF208", 3, "site")
    assert p.message == "value 'Nroth' is not allowed in 'site' (rows 3, 4)"
    assert p.hint == "did you mean 'North'? Allowed: 'North', 'South'"


def test_cluster_varying_within_person():
    df = pd.DataFrame({"pid": ["p1", "p1", "p2", "p2"], "gp": ["g1", "g2", "g3", "g3"], "t": [1, 2, 1, 2]})
    with pytest.raises(DataError) as exc:
        validate_participants(df, id_column="pid", cluster_column="gp", unique_ids=False, file="long.csv")
    assert codes(exc) == ["BF209"]
    assert str(exc.value) == (
        "long.csv, row 2, column 'gp': error[BF209]: person 'p1' is in different clusters ('g1', 'g2') in rows 2, 3\n"
        "  hint: a person belongs to one cluster: correct the cluster on those rows"
    )
    validate_participants(
        df.assign(gp=["g1", "g1", "g3", "g3"]), id_column="pid", cluster_column="gp", unique_ids=False
    )


def test_many_problems_are_capped_with_a_count():
    df = pd.DataFrame({"pid": [""] * 100})
    with pytest.raises(DataError) as exc:
        validate_participants(df, id_column="pid")
    probs = exc.value.problems
    assert len(probs) == 21
    assert probs[-1].message == "... and 80 more problem(s) of this kind"


def test_duplicates_name_all_rows():
    df = pd.DataFrame({"pid": ["x", "y", "x", "z", "x"]})
    with pytest.raises(DataError) as exc:
        validate_participants(df, id_column="pid")
    assert exc.value.problems[0].message == "id 'x' appears 3 times, in rows 2, 4, 6"


def test_nothing_written_when_validation_fails(tmp_path):
    p = write(tmp_path / "p.csv", "pid,site\n1,A\n1,B\n")
    out = tmp_path / "out"
    design = Design("stratified_block", ("c", "t"), strata=("site",), block_sizes=(2,))

    def run():
        alloc = randomise_file(str(p), design, id_column="pid", seed=1)
        write_allocation(alloc, out / "list.csv")

    with pytest.raises(DataError) as exc:
        run()
    assert codes(exc) == ["BF206"]
    assert not out.exists()


# ----------------------------------------------------------------------------- as a spreadsheet shows it (issue 14)


def test_trailing_space_is_named_not_guessed():
    df = pd.DataFrame({"pid": ["1", "2"], "site": ["Elm Road ", "Elm Road\u200b"]})
    with pytest.raises(DataError) as exc:
        validate_participants(df, id_column="pid", categorical={"site": ["Elm Road", "Hill"]})
    hints = [p.hint for p in exc.value.problems]
    assert hints == [
        "'Elm Road ' has a trailing space: delete it in the file. Allowed: 'Elm Road', 'Hill'",
        "'Elm Road\u200b' has U+200B ZERO WIDTH SPACE: delete it in the file. Allowed: 'Elm Road', 'Hill'",
    ]


def test_xlsx_messages_name_the_sheet_and_the_excel_row(tmp_path):
    p = tmp_path / "gp.xlsx"
    frame = pd.DataFrame({"pid": ["A", None, "B", "A"], "site": ["N", None, "S", "N"]})
    with pd.ExcelWriter(p) as writer:
        frame.to_excel(writer, index=False, sheet_name="Export 1")
    with pytest.raises(DataError) as exc:
        read_participants(p, id_column="pid")
    (problem,) = exc.value.problems  # the blank row 3 is skipped, not reported
    assert problem.format().startswith(
        f"{p}, sheet 'Export 1', row 5, column 'pid': error[BF206]: id 'A' appears 2 times, in rows 2, 5"
    )


def test_randomise_notes_blank_rows_once(tmp_path, capsys):
    from pathlib import Path

    from bitframe.cli import main

    sms = Path(__file__).resolve().parents[1] / "protocols" / "sms-link-worker.yaml"
    people = write(tmp_path / "p.csv", "participant_id,practice\nP1,Elm Road\n,\n\nP2,Hill Surgery\n")
    assert main([
        "randomise", str(sms), "-p", str(people), "-o", str(tmp_path / "l.csv")]) == 0
    out = capsys.readouterr().out
    assert out.count("blank row") == 1 and "note: skipped 2 blank row(s) of p.csv: 3, 4" in out


# ----------------------------------------------------------------------------- the fast reader


@pytest.mark.parametrize("text", [
    "pid,x\n1,2\n\n3,4\n,\n",                      # blank lines stay rows of empty cells (then skipped)
    'pid,x\n"a\nb",2\n a ,"b""c"\nab"c,d\n',        # quoted newlines and quotes, spaces kept
    "pid,x\r\n1,2\r\n",                            # Windows line ends
    "\ufeffpid,x\n007,NA\n",                       # a byte-order mark; text kept as typed
    "pid,x\n1\n",                                  # a short row: pyarrow refuses, pandas fills
    "pid,,x\n1,2,3\n",                             # an unnamed column: pandas names it
    "pid,x\nJos\u00e9,\U0001f600 e\u0301\n",             # text beyond ASCII
])
def test_pyarrow_reader_reads_what_pandas_reads(tmp_path, text):
    import pandas as pd

    p = tmp_path / "p.csv"
    p.write_bytes(text.encode("utf-8"))
    expected = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False)
    got = read_table(p, infer_numbers=False)
    expected = expected[~(expected.apply(lambda c: c.str.strip()) == "").all(axis=1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.astype(got.dtypes.to_dict()))


@pytest.mark.parametrize("cell", [b"Jos\xe9", b"\xc0\xaf", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ab\xe2\x82"])
def test_pyarrow_reader_refuses_what_is_not_utf8(tmp_path, cell):
    # latin-1, an overlong '/', a lone continuation byte, a surrogate, beyond U+10FFFF, a cut-off character:
    # pyarrow leaves the file to pandas, which names the problem; valid UTF-8 is read as text
    from bitframe.data import _read_csv_arrow

    p = tmp_path / "p.csv"
    p.write_bytes(b"pid,name\nP1,ok\nP2," + cell + b"\n")
    assert _read_csv_arrow(p, ["pid", "name"]) is None
    p.write_bytes("pid,name\nP1,ok\nP2,\u00e9\U0001f600\n".encode())
    assert _read_csv_arrow(p, ["pid", "name"])["name"].tolist() == ["ok", "\u00e9\U0001f600"]


@pytest.mark.parametrize("cells", [
    ["+5", "5.", ".5", "1E+05", "-0", "007"], ["1", "", "NA", "3"], ["1234567890123456789", "1"],
    ["99999999999999999999", "2"], ["1e400", "1"], ["1e-400", "2.5"], ["inf", "1"], ["NAN", "1"], ["1,5", "2"],
    ["١٢", "3"], [repr(0.1 + 0.2), "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308"],
])
def test_numbers_are_the_numbers_pandas_reads(cells):
    # pandas.to_numeric is the reference the fast path must equal: value, type, and which columns stay text
    from bitframe.data import _maybe_numeric

    text = pd.Series(cells, dtype=str)
    reference = pandas_numbers(cells)
    got = _maybe_numeric(text)
    if reference is None:
        assert got.tolist() == cells
    else:
        assert got.dtype == reference.dtype
        np.testing.assert_array_equal(got.to_numpy(), reference.to_numpy())


def test_row_numbers_survive_pandas_operations_cheaply(tmp_path):
    p = write(tmp_path / "p.csv", "pid,x\nA,1\n\nB,2\n")
    frame = read_table(p)
    copied = frame.copy().merge(frame, on="pid")  # attrs are deep-copied into each result
    assert sheet_rows(frame) == [2, 4] and blank_rows(frame) == [3]
    assert sheet_rows(copied) == [2, 4]


def test_repeated_values_equal_pandas_duplicated_on_fixed_and_mixed_width_ids():
    """The fixed-width fast path (ids compared as the integers their bytes spell) flags exactly the rows
    ``Series.duplicated(keep=False)`` flags: mixed lengths, multi-byte characters, NFC/NFD pairs,
    missing cells, 8/10/32/33-byte ids, slices and both Arrow offset widths."""
    import numpy as np
    import pyarrow as pa

    from bitframe.data import arrow_text, repeated_values

    rng = np.random.default_rng(20)
    pool = ["a", "b", "ab", "é", "e\u0301", "", "12345678", "12345679", "9434765919", "9434765870",
            "x" * 32, "y" * 32, "x" * 33, "ÿÿ", "\u00ff\u00fe"]
    for _ in range(500):
        values = rng.choice(rng.choice(pool, int(rng.integers(1, 5))), int(rng.integers(0, 30))).tolist()
        if values and rng.random() < 0.2:
            values[int(rng.integers(0, len(values)))] = None
        in_order = sorted({v for v in values if v is not None})  # the one-pass path for files in id order
        with_repeat = in_order[:2] + in_order[1:2] + in_order[2:]
        for cells in (values, in_order, with_repeat):
            text = arrow_text(pd.Series(cells, dtype=object))
            for column in (text, text.slice(min(1, len(text))), text.cast(pa.string())):
                expected = pd.Series(column.to_pylist(), dtype=object).duplicated(keep=False).to_numpy()
                np.testing.assert_array_equal(repeated_values(column), expected)

    for width_ids in ([f"P{k:07d}" for k in range(1, 101)], [f"{k:010d}" for k in range(5, 400, 7)]):
        for cells in (width_ids, width_ids[:50] + width_ids[49:]):  # in id order: unique, then one repeat
            expected = pd.Series(cells, dtype=object).duplicated(keep=False).to_numpy()
            np.testing.assert_array_equal(repeated_values(arrow_text(pd.Series(cells, dtype=object))), expected)


@pytest.mark.parametrize("width", [8, 10, 16, 32])
def test_repeated_values_of_shuffled_fixed_width_ids_by_their_sorted_keys(width, monkeypatch):
    """Ids not in order are settled by sorting one folded key per id: no tie, no repeat. A repeat, and
    keys that tie for distinct ids (forced here with a fold that keeps only the last word), fall to
    hashing the cells, which flags exactly the rows ``Series.duplicated(keep=False)`` flags."""
    import numpy as np

    from bitframe import data
    from bitframe.data import arrow_text, repeated_values

    rng = np.random.default_rng(width)
    prefixes = ["A" * (width - 6), "B" * (width - 6)]  # ids sharing their leading words
    ids = [f"{prefixes[k % 2]}{k:06d}" for k in rng.permutation(2000)]
    repeat = [*ids[:1500], ids[7], *ids[1500:]]
    for cells in (ids, repeat):
        expected = pd.Series(cells, dtype=object).duplicated(keep=False).to_numpy()
        np.testing.assert_array_equal(repeated_values(arrow_text(pd.Series(cells, dtype=object))), expected)
    monkeypatch.setattr(data, "_FOLD", 0)  # every key is an id's last word: distinct ids tie
    if width > 8:
        words = np.zeros((2, 2), dtype=np.uint64)
        words[:, 1] = 7
        words[1, 0] = 1
        assert data._keys_tie(words)
    for cells in (ids, repeat):
        expected = pd.Series(cells, dtype=object).duplicated(keep=False).to_numpy()
        np.testing.assert_array_equal(repeated_values(arrow_text(pd.Series(cells, dtype=object))), expected)


def test_blank_text_is_python_strip_for_every_character():
    """``blank_text`` reads the first byte and asks pyarrow only about cells that may be white space:
    for each Unicode code point, alone and around text, it is blank exactly when ``str.strip`` leaves
    nothing (and as pyarrow's ``utf8_trim_whitespace`` leaves nothing, which it replaced)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bitframe.data import blank_text

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for cells in (chars, [c + c for c in chars], [c + "a" for c in chars], [" " + c for c in chars]):
        text = pa.array(cells, type=pa.large_string())
        expected = np.array([not c.strip() for c in cells])
        got = blank_text(pd.Series(pd.arrays.ArrowStringArray(text)))
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got, pc.equal(pc.utf8_trim_whitespace(text), "").to_numpy(zero_copy_only=False))


def test_blank_text_and_plain_ids_on_slices_missing_cells_and_both_offset_widths():
    """The byte-level tests against per-cell Python on awkward cells: empty, white space of several
    kinds, missing, non-ASCII, control characters, NUL, slices and ``string``/``large_string``."""
    import pyarrow as pa

    from bitframe.data import _plain_ascii, blank_text

    rng = np.random.default_rng(5)
    pool = ["", " ", "\t", "\u00a0", "\u3000", "a", "P01", "é", "e\u0301", "\x7f", "~", "\x00", "\u200b", " x", "x "]
    for _ in range(600):
        cells = ["".join(rng.choice(pool, int(rng.integers(1, 3)))) for _ in range(int(rng.integers(0, 12)))]
        cells = [None if rng.random() < 0.15 else c for c in cells]
        for kind in (pa.string(), pa.large_string()):
            column = pa.array(cells, type=kind)
            for part in (column, column.slice(min(1, len(column))), column.slice(0, max(0, len(column) - 1))):
                values = part.to_pylist()
                series = pd.Series(pd.arrays.ArrowStringArray(part.cast(pa.large_string())))
                np.testing.assert_array_equal(blank_text(series), [v is None or not v.strip() for v in values])
                plain = [v is not None and all(" " <= ch <= "~" for ch in v) and v == v.strip(" ") for v in values]
                np.testing.assert_array_equal(_plain_ascii(part), plain)


def test_canonical_ids_of_visible_ascii_are_normalise_ids():
    """Ids of visible ASCII only skip the per-id check (each is its own canonical form): against
    ``normalise_id`` on every id, with missing and empty cells, a space or a control character that
    sends the column down the per-id path, both Arrow offset widths and a slice."""
    import pyarrow as pa

    from bitframe.data import canonical_ids
    from bitframe.identifiers import IdentifierError, normalise_id

    rng = np.random.default_rng(11)
    pool = ["P0001", "007", "=1", "'=1", "a-b", "~", "A", "", None, "ID\t", " P1", "P 1", "\x7f", "é"]
    for _ in range(400):
        cells = rng.choice(np.array(pool, dtype=object), int(rng.integers(0, 10))).tolist()
        expected, refused = [], {}
        for k, cell in enumerate(cells):
            text = cell or ""
            try:
                expected.append(normalise_id(text) if text.strip() else text)
            except IdentifierError as exc:
                refused[k] = str(exc)
                expected.append(text)
        for kind in (pa.string(), pa.large_string()):
            column = pa.array(["pad", *cells], type=kind).slice(1).cast(pa.large_string())
            for raw in (pd.Series(pd.arrays.ArrowStringArray(column)), pd.Series(cells, dtype=object)):
                ids, why = canonical_ids(raw)
                assert ids.tolist() == expected and why == refused


# A column of plain numbers is read by one pyarrow cast (data._plain_numbers); pandas.to_numeric on the
# stripped cells, missing tokens as missing, is the reference it must equal for any column: value, type,
# sign of zero, and which columns stay text. Odd cells: spaces of every kind around a number, hexadecimal
# (which pyarrow's int64 cast reads), '+' (which it does not), long integers, inf/NaN, missing tokens.
PLAIN_NUMBERS = [
    st.integers(-(10**19), 10**19).map(str),
    st.integers(0, 999).map(lambda n: f"{n:05d}"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.3e}"),
]
ODD_CELLS = [
    st.sampled_from(["0x1F", "0X1f", "+5", "+0.5", "-0", "-0.0", "1e400", "1e-400", "inf", "-Infinity", "NaN", "nan",
                     " 1", "1 ", "\t2", "\u00a01", "1\u2003", "\x1c1", "\u0661", "1,5", "1_000", "0b1", "",
                     "99999999999999999999", "12345678901234567890", "-999999999999999999", "0000000000000000000001",
                     "1.", ".5", "5e+07", "NAN", "-nan", "+NaN", "Inf", "INFINITY"]),
    st.sampled_from(sorted(MISSING_TOKENS)),
    st.lists(st.sampled_from(["0", "1", "9", ".", "-", "+", "e", "x", "f", " ", "\u00a0"]), max_size=4).map("".join),
]
number_columns = st.one_of(
    st.lists(st.one_of(*PLAIN_NUMBERS), min_size=1, max_size=12),
    st.lists(st.one_of(*PLAIN_NUMBERS, *ODD_CELLS), min_size=1, max_size=12),
    st.lists(st.one_of(*PLAIN_NUMBERS), min_size=1, max_size=12).flatmap(
        lambda cells: st.tuples(st.integers(0, len(cells)), st.one_of(*ODD_CELLS)).map(
            lambda at: [*cells[:at[0]], at[1], *cells[at[0]:]])),
)


def pandas_numbers(cells: list[str]) -> pd.Series | None:
    """The column as pandas.to_numeric reads it, or None when it stays text."""
    stripped = pd.Series(cells, dtype=object).str.strip()
    missing = stripped.isin(MISSING_TOKENS)
    numbers = pd.to_numeric(stripped.where(~missing, None), errors="coerce")
    return None if missing.all() or numbers[~missing].isna().any() else numbers


def assert_same_numbers(got: np.ndarray | pd.Series, expected: pd.Series) -> None:
    got = np.asarray(got)
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.to_numpy().tobytes()  # bit for bit: -0.0 is not 0.0


NUMBER_PARTS = ["0", "1", "7", "9", ".", "-", "+", "e", "E", "inf", "nan", ",", " ", "x", "\u0661", "1e400", "1e-400",
                "12345678901234567890"]
numberish = st.lists(st.sampled_from(NUMBER_PARTS), max_size=5).map("".join)


@given(st.lists(st.one_of(st.none(), numberish), max_size=20))
def test_text_numbers_are_the_numbers_pandas_reads(cells):
    import pyarrow as pa

    from bitframe.data import text_numbers

    reference = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    np.testing.assert_array_equal(text_numbers(pa.array(cells, type=pa.large_string())), reference)


@given(st.lists(st.one_of(st.sampled_from(sorted(MISSING_TOKENS)), numberish), min_size=1, max_size=20))
def test_number_columns_are_what_pandas_reads(cells):
    # pandas.to_numeric is the reference: value, type, and which columns stay text
    from bitframe.data import _maybe_numeric

    text = pd.Series(cells, dtype=str)
    reference = pandas_numbers(cells)
    got = _maybe_numeric(text)
    if reference is None:
        assert got.tolist() == text.tolist()
    else:
        assert got.dtype == reference.dtype
        np.testing.assert_array_equal(got.to_numpy(), reference.to_numpy())


@given(number_columns, st.integers(0, 3), st.integers(0, 12), st.sampled_from(["string", "large_string"]))
def test_plain_number_columns_are_the_numbers_pandas_reads(cells, cut, split, width):
    import pyarrow as pa

    from bitframe.data import _maybe_numeric, _plain_numbers

    kind = getattr(pa, width)()
    # two chunks, the first a slice that starts inside its buffers, as a CSV reader's columns may be
    chunks = pa.chunked_array([pa.array(["junk"] * cut + cells[:split], kind).slice(cut),
                               pa.array(cells[split:], kind)])
    expected = pandas_numbers(cells)
    fast = _plain_numbers(chunks)
    if fast is not None:
        assert expected is not None
        assert_same_numbers(fast, expected)
    for column in (pd.Series(cells, dtype=str), pd.Series(pd.arrays.ArrowStringArray(chunks))):
        got = _maybe_numeric(column)
        if expected is None:
            assert got is column
        else:
            assert_same_numbers(got, expected)


def test_plain_number_columns_take_the_one_cast():
    import pyarrow as pa

    from bitframe.data import _plain_numbers

    def plain(cells):
        return _plain_numbers(pa.chunked_array([pa.array(cells, pa.large_string())]))

    assert plain(["7", "-3", "007", "-999999999999999999"]).dtype == np.int64
    assert plain(["0.5", "-3", "1e-400", "2.5E+07"]).tolist() == [0.5, -3.0, 0.0, 2.5e7]
    # not plain: the general path (pandas) reads them
    for cells in (["1", "0x1F"], ["1", "+5"], ["+5", "+6"], ["1", "1234567890123456789"], ["1", "12345678901234567890"],
                  ["1", " 2"], ["1", ""],
                  ["1", "NA"], ["1.5", "inf"], ["1.5", "NAN"], ["a", "1"]):
        assert plain(cells) is None


WHITE_SPACE = [" ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\u0085"]
blank_or_not = st.one_of(st.none(), st.sampled_from(["", "a", "0", "é", "\u200b", *WHITE_SPACE]),
                         st.lists(st.sampled_from(["", "a", "\u200b", *WHITE_SPACE]), max_size=3).map("".join))


@given(st.lists(st.lists(blank_or_not, min_size=3, max_size=3), max_size=12), st.sampled_from([str, object]))
def test_blank_rows_are_rows_of_cells_str_strip_empties(rows, dtype):
    from bitframe.data import _blank_rows

    frame = pd.DataFrame(rows, columns=["pid", "x", "y"], dtype=dtype)
    # a missing cell is not blank (read_table's frames have none: _as_text made them "")
    assert _blank_rows(frame).tolist() == [all(cell is not None and not cell.strip() for cell in row) for row in rows]


def test_arrow_white_space_is_what_str_strip_trims():
    # _blank_cells asks pyarrow which cells are white space; Python's str.strip is the reference, over
    # every code point
    from bitframe.data import _blank_cells

    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    got = _blank_cells(pd.Series(points, dtype=str))
    assert got.tolist() == [not p.strip() for p in points]


def test_text_columns_keep_their_cells_and_missing_ones_become_empty():
    from bitframe.data import _as_text

    whole = pd.DataFrame({"pid": pd.Series(["a", " b"], dtype=str), "x": pd.Series(["1", ""], dtype=str)})
    gaps = whole.assign(x=pd.Series(["1", None], dtype=str), y=pd.Series([None, "z"], dtype=object),
                        w=pd.Series([2.0, np.nan]))
    text = _as_text(gaps)
    assert list(text.columns) == ["pid", "x", "y", "w"]
    assert text.to_dict("list") == {"pid": ["a", " b"], "x": ["1", ""], "y": ["", "z"], "w": ["2", ""]}
