"""The intake's vectorised checks (Arrow strings, dictionary codes) against simple per-cell references.

The references are the rules as written, one cell at a time in Python (ids: :func:`normalise_id`,
a ``Counter`` for duplicates, dicts for the merge; outcome cells: ``str.strip``/``str.casefold``
and ``pandas.to_numeric`` as the intake read them before it was vectorised). Hypothesis draws
messy cells: Unicode variants (NFC/NFD, zero-width and no-break spaces, case folding that changes
length), blanks, missing values and repeated ids.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bitframe.analyse.outcome_file import (
    ALWAYS_MISSING,
    NO,
    YES,
    IdCodes,
    _casefold,
    _hint,
    code_outcome,
    id_problems,
    quote_rows,
)
from bitframe.data import canonical_ids
from bitframe.identifiers import IdentifierError, normalise_id
from bitframe.protocol.schema import BinaryValues, Outcome, OutcomesFile

ID_PARTS = ["P1", "P2", "p1", "007", "7", "é", "e\u0301", "A B", " P1", "P1 ", "\u200b", "\u00a0", "\t", " ", "",
            "=1", "'=1", "943 476 5919", "9434765919", "943-476-5919", "9434765918", "ß", "SS", "İ"]
ids_strategy = st.lists(st.one_of(st.none(), st.sampled_from(ID_PARTS),
                                  st.lists(st.sampled_from(ID_PARTS), min_size=2, max_size=3).map("".join),
                                  st.text(max_size=4)), max_size=40)


def reference_id_problems(raw: list[str | None], id_type: str) -> tuple[list[str], list[tuple]]:
    """The id rules one id at a time: canonical forms, refused ids, blanks, duplicates after normalising."""
    rows = list(range(2, len(raw) + 2))
    ids, refused = [], {}
    for k, value in enumerate(raw):
        text = "" if value is None else value
        if not text.strip():
            ids.append(text)
            continue
        try:
            ids.append(normalise_id(text, id_type))
        except IdentifierError as exc:
            refused[k] = str(exc)
            ids.append(text)
    problems: list[tuple] = [("BF211", message, rows[k]) for k, message in list(refused.items())[:10]]
    if len(refused) > 10:
        problems.append(("BF211", f"... and {len(refused) - 10} more id(s) refused", None))
    blank = [not i.strip() for i in ids]
    if any(blank):
        at = [r for r, b in zip(rows, blank) if b]
        problems.append(("BF211", f"blank id in rows {quote_rows(at)}", at[0]))
    counts = Counter(ids)
    groups: dict[str, list[int]] = {}
    for k, value in enumerate(ids):
        if counts[value] > 1 and not blank[k] and k not in refused:
            groups.setdefault(value, []).append(k)
    if groups:
        shown = []
        for value, index in list(groups.items())[:3]:
            forms = list(dict.fromkeys(str(raw[i]) for i in index))
            as_typed = "" if forms == [value] else " as " + ", ".join(repr(f) for f in forms)
            shown.append(f"'{value}' in rows {quote_rows([rows[i] for i in index])}{as_typed}")
        more = f"; and {len(groups) - 3} more" if len(groups) > 3 else ""
        problems.append(("BF212", f"{len(groups)} id(s) on more than one row: " + "; ".join(shown) + more,
                         rows[min(min(i) for i in groups.values())]))
    return ids, problems


@given(raw=ids_strategy, id_type=st.sampled_from(["text", "nhs_number"]), dtype=st.sampled_from(["str", object]))
def test_id_checks_are_the_per_id_rules(raw, id_type, dtype):
    frame = pd.DataFrame({"pid": pd.Series(raw, dtype=dtype)})
    ids, refused = canonical_ids(frame["pid"], id_type)
    found = id_problems(frame, "pid", ids, refused, IdCodes(ids).codes[0], "f.csv")
    expected_ids, expected = reference_id_problems(raw, id_type)
    assert ids.tolist() == expected_ids
    assert [(p.code, p.message, p.row) for p in found] == expected
    assert {p.file for p in found} <= {"f.csv"} and {p.field for p in found} <= {"pid"}


@given(files=st.lists(st.lists(st.sampled_from(["a", "b", "c", "é", "e\u0301", "", "A"]), max_size=12),
                      min_size=1, max_size=3))
def test_id_codes_find_and_align_as_a_dictionary_does(files):
    assert_codes_of_one_dictionary(IdCodes(*(pd.Series(f, dtype="str") for f in files)), files)


def assert_codes_of_one_dictionary(codes: IdCodes, files: list[list[str]]) -> None:
    """Equal ids have equal codes and different ids different ones; ``found`` and ``positions`` are
    what a dictionary of each file's first rows gives."""
    for k, file in enumerate(files):
        assert codes.codes[k].tolist() == [codes.codes[k][file.index(v)] for v in file]  # equal ids, equal codes
        for t, table in enumerate(files):
            first = {v: i for i, v in reversed(list(enumerate(table)))}
            assert codes.found(k, t).tolist() == [v in first for v in file]
            assert codes.positions(k, t).tolist() == [first.get(v, -1) for v in file]
    # different ids never share a code
    pairs = {(v, int(c)) for f, cs in zip(files, codes.codes) for v, c in zip(f, cs)}
    assert len(pairs) == len({v for v, _ in pairs}) == len({c for _, c in pairs})


def reference_code(values: pd.Series, outcome: Outcome, coding: OutcomesFile) -> tuple[np.ndarray, np.ndarray, str]:
    """Text outcome cells coded as the intake coded them cell by cell (pandas' string methods and
    ``to_numeric``): the numbers, the cells it cannot read, and the hint."""
    text = values.astype("string").fillna("").str.strip()
    key = text.str.casefold()
    missing = key.isin({*ALWAYS_MISSING, *(c.strip().casefold() for c in coding.missing_codes)}).to_numpy()
    out = np.full(len(values), np.nan)
    if outcome.type == "binary":
        declared = coding.binary_values.get(outcome.id)
        is_yes = key.isin({v.strip().casefold() for v in declared.yes} if declared else set(YES)).to_numpy()
        is_no = key.isin({v.strip().casefold() for v in declared.no} if declared else set(NO)).to_numpy()
        if not declared:
            numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            is_yes, is_no = is_yes | (numbers == 1), is_no | (numbers == 0)
        out[is_yes], out[is_no] = 1.0, 0.0
        bad = ~missing & ~is_yes & ~is_no
    else:
        cells = text.where(~missing, "")
        if coding.decimal_comma:
            cells = cells.where(~cells.str.contains(".", regex=False), "x").str.replace(",", ".", n=1, regex=False)
        parsed = pd.to_numeric(cells.where(cells != "", "x"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        parsed = np.where(np.isfinite(parsed), parsed, np.nan)
        bad = ~missing & ~np.isfinite(parsed)
        if outcome.type == "count":
            bad |= ~missing & ~np.isnan(parsed) & ((parsed < 0) | (parsed != np.floor(parsed)))
        out[~missing & ~bad] = parsed[~missing & ~bad]
    out[missing | bad] = np.nan
    return out, bad, _hint(outcome, coding, text[bad].tolist())


CELLS = ["yes", " No ", "YES", "y", "TRUE", "false", "1", "0", "1.0", "0.0", "-0", "2", "3,5", "3.5", "1.000", "1,000",
         "NA", "n/a", "N/A", " ", "", ".", "nan", "NULL", "None", "not known", "Not Known", "-99", "inf", "-inf", "ß",
         "Straße", "STRASSE", "\u01c5", "\u0130", "\ufb01", "1e3", "1e0005", "\u0661\u0662", "\u00a01", "1\u200b", "Ja",
         "nein", "12345678901234567890", "+.5", "5."]


@given(cells=st.lists(st.one_of(st.none(), st.sampled_from(CELLS), st.text(max_size=4)), min_size=1, max_size=30),
       kind=st.sampled_from(["binary", "count", "continuous"]), declared=st.booleans(),
       missing_codes=st.sampled_from([[], ["-99"], ["Not Known", "STRASSE"]]), decimal_comma=st.booleans(),
       dtype=st.sampled_from(["str", object]))
def test_outcome_coding_is_the_per_cell_rules(cells, kind, declared, missing_codes, decimal_comma, dtype):
    outcome = Outcome(id="y", role="primary", type=kind, column="y")
    binary = {"y": BinaryValues(yes=["Ja", "ß"], no=["nein"])} if declared and kind == "binary" else {}
    coding = OutcomesFile(missing_codes=missing_codes, decimal_comma=decimal_comma, binary_values=binary)
    values = pd.Series(cells, dtype=dtype)
    rows = list(range(2, len(cells) + 2))
    out, found = code_outcome(values, outcome, coding, rows=rows, label="out.csv")
    expected, bad, hint = reference_code(values, outcome, coding)
    np.testing.assert_array_equal(out, expected)
    at = [r for r, b in zip(rows, bad) if b]
    assert [(p.row, p.hint) for p in found] == ([(at[0], hint)] if at else [])
    assert all(f"in rows {quote_rows(at)} (" in p.message for p in found)


@given(st.lists(st.one_of(st.none(), st.text(max_size=6))))
def test_casefold_is_pythons(cells):
    import pyarrow as pa

    text = pa.array([c or "" for c in cells], type=pa.large_string())
    assert _casefold(text).to_pylist() == [(c or "").casefold() for c in cells]


@pytest.mark.parametrize("id_type", ["text", "nhs_number"])
def test_ids_of_numbers_are_their_text(id_type):
    ids, refused = canonical_ids(pd.Series([7, 9434765919, None]), id_type)
    assert ids.tolist()[:2] == ["7.0", "9434765919.0"] and ids.tolist()[2] == ""
    assert (0 in refused) == (id_type == "nhs_number")


@given(st.lists(st.one_of(st.integers(0, 10**10 - 1).map(lambda n: f"{n:010d}"), st.sampled_from(ID_PARTS)),
                max_size=30))
def test_canonical_nhs_numbers_are_found_as_normalise_id_finds_them(cells):
    # NHS Data Dictionary, "NHS Number": Modulus 11 (identifiers.py); normalise_id is the reference
    import pyarrow as pa

    from bitframe.data import _valid_nhs_digits

    def canonical(cell: str) -> bool:
        try:
            return normalise_id(cell, "nhs_number") == cell
        except IdentifierError:
            return False

    text = pa.array(["x", *cells], type=pa.large_string()).slice(1)  # a slice, as a column may be
    assert _valid_nhs_digits(text).tolist() == [canonical(c) for c in cells]


WORD_IDS = {  # ids of one byte length: NUL bytes, multi-byte characters, NFC/NFD of one text
    1: ["a", "b", "\x00", "~"],
    3: ["abc", "é1", "e\u0301", "\x00\x00a", "a\x00\x00", "ÿa"],
    8: ["P0000001", "P0000002", "P0000010", "Q0000001", "é000001", "e\u0301abcde", "\x00" * 7 + "a", "a" + "\x00" * 7],
    10: ["9434765919", "9434765870", "0000000001", "1000000000", "0100000000", "9999999999"],  # NHS numbers: digits
    19: ["9999999999999999999", "0000000000000000000", "1844674407370955161", "1844674407370955162"],
    12: ["P00000000001", "P00000000002", "000000000003", "é0000000004"],  # not all digits: hashed as text
}


@given(data=st.data(), width=st.sampled_from(sorted(WORD_IDS)), in_order=st.booleans(), same=st.booleans(),
       offset=st.integers(0, 2), large=st.booleans())
def test_id_codes_of_short_fixed_width_ids_are_a_dictionarys(data, width, in_order, same, offset, large):
    """Ids of one byte length up to 8 are coded as the integers their bytes spell, and of 9 to 19 digits
    as the numbers they write: against a dict on the text, for lists in id order (their codes are row
    numbers), a participant file equal to the list, ids missing from the list, repeats, NUL bytes,
    multi-byte characters, ids that are not all digits, slices and both Arrow offset widths."""
    import pyarrow as pa

    from bitframe.analyse.outcome_file import _id_words

    assert all(len(v.encode()) == width for v in WORD_IDS[width])
    files = data.draw(st.lists(st.lists(st.sampled_from(WORD_IDS[width]), max_size=12), min_size=1, max_size=3))
    if in_order:
        files[0] = sorted(set(files[0]), key=str.encode)
    if same and len(files) > 2:
        files[2] = list(files[0])
    kind = pa.large_string() if large else pa.string()
    series = [pd.Series(pd.arrays.ArrowStringArray(pa.array(["pad"] * offset + f, type=kind).slice(offset)
                                                   .cast(pa.large_string()))) for f in files]
    spelt = width <= 8 or all(v.isdigit() and v.isascii() for f in files for v in f)
    assert (_id_words([pa.array(s.array) for s in series]) is not None) == spelt
    codes = IdCodes(*series)
    assert_codes_of_one_dictionary(codes, files)
    assert all(0 <= c < codes.size for cs in codes.codes for c in cs.tolist())


ARM_CELLS = ["control", "treatment", " control", "control ", "\u00a0treatment", "\tcontrol\n", "", " ", "Control",
             "contrôle", "control\u200b"]


@given(cells=st.lists(st.one_of(st.none(), st.sampled_from(ARM_CELLS)), max_size=25),
       dtype=st.sampled_from(["str", object, "string", "string[python]"]), offset=st.integers(0, 2))
def test_arm_labels_are_pandas_strip_isin_and_value_counts(cells, dtype, offset):
    """The list's arms from one factorisation against pandas' string methods on every row, as the
    intake read them before: stripped text (the column itself when nothing is stripped), the rows
    with an arm the protocol lacks and the counts per arm, on a column with an index not from 0."""
    from bitframe.analyse.intake import _arm_counts, _arm_labels

    column = pd.Series(cells, dtype=dtype, index=range(offset, offset + len(cells)), name="arm")
    arms, codes, labels = _arm_labels(column)
    written = column.astype("string")
    stripped = written.str.strip()
    expected = written if stripped.equals(written) else stripped
    pd.testing.assert_series_equal(arms, expected)
    arm_ids = ["control", "treatment"]
    unknown = ~np.array([label in arm_ids for label in labels] + [False])[codes]
    np.testing.assert_array_equal(unknown, ~expected.isin(arm_ids).to_numpy())
    assert _arm_counts(codes, labels) == expected.value_counts().to_dict()
    rows = np.arange(len(cells)) % 2 == 0
    assert _arm_counts(codes, labels, rows) == expected[rows].value_counts().to_dict()


@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["S1", "S2", "S3", "1", 1])),
                               st.one_of(st.none(), st.sampled_from(["control", "treatment", "1", 1, 1.0, ""]))),
                     max_size=30),
       dtype=st.sampled_from([object, "string"]))
@example(rows=[("1", 1), ("1", 1.0)], dtype=object)  # one value to factorize, two texts: a cluster with two arms
@example(rows=[("S1", True), ("S1", 1)], dtype=object)
def test_mixed_clusters_are_found_as_grouping_the_text_finds_them(rows, dtype):
    """Whether a cluster has more than one arm (or stratum), from codes, against the check's groupby of
    the text (``nunique``: missing values not counted, rows of no cluster dropped; 1 and "1" one text)."""
    from bitframe.analyse.intake import _any_mixed, _text_codes

    if dtype == "string":
        rows = [tuple(None if v is None else str(v) for v in row) for row in rows]
    frame = pd.DataFrame(rows, columns=["cluster", "arm"], dtype=dtype)
    values = frame[["cluster", "arm"]].dropna(subset=["cluster"]).astype(str)
    expected = bool((values.groupby("cluster")["arm"].nunique() > 1).any())
    assert _any_mixed(_text_codes(frame["cluster"]), _text_codes(frame["arm"])) == expected


MISSING_CELLS = ["", " ", "NA", "na", " n/a ", "N/A", "nan", "NaN", ".", "None", "NULL", "\u212a", "\u212aNOWN", "-99",
                 " -99", "0.35", "-1", "1e3", "ß", "SS", "ｎａ", "\u00a0NA\u00a0", "\u3000", "x", "Not Known", "\ufb01x"]


@given(cells=st.lists(st.one_of(st.sampled_from(MISSING_CELLS), st.text(max_size=4)), max_size=25),
       codes=st.sampled_from([[], ["-99"], ["Not Known", "kNOWN", "ss"], ["ﬁx"]]), offset=st.integers(0, 2),
       large=st.booleans())
def test_missing_cells_are_found_as_strip_and_casefold_find_them(cells, codes, offset, large):
    """The missing-value test folds and looks up only the cells whose first character could begin a
    code, and trims only when a cell may start or end with white space: against ``str.strip`` and
    ``str.casefold`` on every cell (Kelvin sign, ß, ligatures, no-break and ideographic spaces),
    on slices and both Arrow offset widths."""
    import pyarrow as pa

    from bitframe.analyse.outcome_file import _emptied, _missing, _trimmed

    keys = {*ALWAYS_MISSING, *(c.strip().casefold() for c in codes)}
    column = pa.array(["pad"] * offset + cells, type=pa.large_string() if large else pa.string()).slice(offset)
    trimmed = _trimmed(column)
    assert trimmed.to_pylist() == [c.strip() for c in cells]
    missing = _missing(trimmed, keys)
    assert missing.tolist() == [c.strip().casefold() in keys for c in cells]
    assert _emptied(trimmed, missing).to_pylist() == ["" if m else c.strip() for c, m in zip(cells, missing)]
