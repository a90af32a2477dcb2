"""The outcomes file as the protocol describes it (``data.outcomes``): columns, values and ids.

Site teams export outcomes from GP systems and council databases: headers spelt their own way,
binary outcomes written ``Yes``/``No``, ``-99`` or ``not known`` for a value nobody recorded,
``3,5`` for three and a half. This module reads such a file as the protocol declares it and
nothing else, so what the analysis counts is what was pre-registered:

* columns are found by the protocol's names (:func:`map_columns`): mapped in
  ``data.outcomes.columns`` (``data.participants.columns`` for the participant file) or spelt
  alike, ignoring case, spaces, ``_`` and ``-`` (:func:`bitframe.data.resolve_columns`);
* binary outcomes (:func:`code_outcome`) read :data:`YES` and :data:`NO` (trimmed, any case;
  ``1.0`` and ``0.0`` are the numbers 1 and 0) unless ``data.outcomes.binary_values`` declares
  the outcome's own spellings, which then replace them;
* :data:`ALWAYS_MISSING` and the declared ``missing_codes`` are missing values (attrition);
* numbers use a decimal point, or a decimal comma when ``decimal_comma`` is declared (a point
  is then refused: ``1.000`` could be a thousand);
* ids are compared in the canonical form of :mod:`bitframe.identifiers` (``unit.id_type``), an
  id copied from a list with the ``'`` that keeps a formula-like id as text is that id, and
  rows whose id is not on the list stop the analysis or, with ``unknown_ids: exclude``, are left
  out and counted (:func:`unknown_ids`).

Every problem names the file (and sheet), the column and the rows as the spreadsheet numbers
them (header = row 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bitframe.data import (
    arrow_text,
    blank_text,
    file_label,
    keep_rows,
    resolve_columns,
    row_numbers,
    text_numbers,
    with_numbers,
)
from bitframe.errors import DataError, Problem
from bitframe.protocol.columns import analysis_columns, outcome_columns, participant_columns

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from bitframe.protocol.schema import Outcome, OutcomesFile, Protocol

__all__ = ["ALWAYS_MISSING", "NO", "YES", "IdCodes", "code_outcome", "duplicate_ids", "id_problems", "map_columns",
           "quote_rows", "unknown_ids", "usable_ids"]

#: Spellings of a binary outcome read as 1 and 0 unless the protocol declares its own.
YES: tuple[str, ...] = ("yes", "y", "true", "1")
NO: tuple[str, ...] = ("no", "n", "false", "0")
#: Cell contents that are always a missing value (compared trimmed, ignoring case).
ALWAYS_MISSING: tuple[str, ...] = ("", "na", "n/a", "nan", "null", "none", ".")
#: At most this many row numbers are quoted in one message.
ROWS_QUOTED = 10


def quote_rows(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:ROWS_QUOTED])
    return shown + (f" and {len(rows) - ROWS_QUOTED} more" if len(rows) > ROWS_QUOTED else "")


def map_columns(
    protocol: Protocol,
    outcomes: pd.DataFrame,
    baseline: pd.DataFrame | None,
    *,
    outcomes_label: str,
    baseline_label: str,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The outcomes (and participant) tables with their columns renamed to the protocol's names.

    The id and every outcome column must be in the outcomes file; covariates, subgroups, the
    received-intervention and cluster columns are renamed wherever they are found (the list, the
    outcomes or the participant file may hold them). Columns that are not the id, an outcome, a
    stratum or a cluster become numbers where every cell is one. Every problem of both files is
    raised together.
    """
    problems: list[Problem] = []
    id_column = protocol.unit.id_column
    # outcome cells stay text for code_outcome; scale items become numbers for scoring
    text = [id_column, *(o.column for o in protocol.outcomes), *participant_columns(protocol)]
    try:
        outcomes, _ = resolve_columns(outcomes, outcome_columns(protocol), optional=analysis_columns(protocol),
                                      headers=protocol.data.outcomes.columns, file=outcomes_label,
                                      mapping_name="data.outcomes.columns")
        outcomes = with_numbers(outcomes, text)
    except DataError as exc:
        problems += exc.problems
    if baseline is not None:
        try:
            baseline, _ = resolve_columns(
                baseline, {id_column: "id column"},
                optional=[*analysis_columns(protocol), *participant_columns(protocol)],
                headers=protocol.data.participants.columns, file=baseline_label,
                mapping_name="data.participants.columns")
            baseline = with_numbers(baseline, text)
        except DataError as exc:
            problems += exc.problems
    if problems:
        raise DataError(problems)
    return outcomes, baseline


class IdCodes:
    """The canonical ids of several files as codes of one dictionary: equal ids have equal codes, so
    the duplicate checks, the check for unknown ids and the merge are integer work on ids hashed once
    (a lookup per check hashed a million ids again each time).

    Ids of one byte length in every file, up to 8 bytes (a system's numbers) or of 9 to 19 digits (NHS
    numbers), are hashed as integers (:func:`_id_words`), the first file's once and the others looked
    up among them: half the time of pyarrow's hash of 100,000-row files as text, which other ids get."""

    def __init__(self, *ids: pd.Series):
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = [arrow_text(i) for i in ids]
        words = _id_words(texts)
        if words is not None:
            self.codes, self.size = _word_codes(*words)
            return
        encoded = pc.dictionary_encode(pa.chunked_array(texts, type=pa.large_string()), null_encoding="encode")
        # the chunks share one dictionary, growing chunk by chunk; their codes are read in place
        chunks = [c.indices.to_numpy() for c in encoded.chunks]
        lengths = [len(i) for i in ids]
        self.size = max((len(c.dictionary) for c in encoded.chunks), default=0)
        self.codes = (chunks if [len(c) for c in chunks] == lengths else
                      np.split(np.concatenate([np.zeros(0, np.int32), *chunks]), np.cumsum(lengths)[:-1]))

    def found(self, file: int, table: int) -> np.ndarray:
        """Which rows of ``file`` have an id that is in ``table``."""
        present = np.zeros(self.size, dtype=bool)
        present[self.codes[table]] = True
        return present[self.codes[file]]

    def positions(self, file: int, table: int) -> np.ndarray:
        """For each row of ``file``, the first row of ``table`` with its id, else -1."""
        codes = self.codes[table]
        first = np.full(self.size, -1, dtype=np.intp)
        if np.bincount(codes, minlength=self.size).max(initial=0) > 1:  # a repeated id: its first row
            _, at = np.unique(codes, return_index=True)
            first[codes[at]] = at
        else:
            first[codes] = np.arange(len(codes))
        return first[self.codes[file]]


def _id_words(texts: list[pa.Array]) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Each column's ids as 64-bit integers, equal integers for equal ids, when every id of every
    column has one byte length and none is missing: up to 8 bytes, the integers those bytes spell
    (zero-padded); 9 to 19 ASCII digits (NHS numbers), the numbers they write. Also the first
    column's integers as they compare in the ids' text order. Else None."""
    from bitframe.arrowtext import byte_words, fixed_width_cells

    cells = []
    for text in texts:
        grid = fixed_width_cells(text)
        if grid is None:
            return None
        cells.append(grid)
    widths = {grid.shape[1] for grid in cells if len(grid)}
    if len(widths) > 1 or 0 in widths:
        return None
    width = widths.pop() if widths else 0
    if width <= 8:
        words = [byte_words(grid)[:, 0] for grid in cells]
        return words, words[0].view(">u8")  # read big-endian, the integers compare as the text does (no copy)
    if width <= 19 and all(not grid.size or (int(grid.min()) >= 0x30 and int(grid.max()) <= 0x39) for grid in cells):
        words = [_decimal(grid) for grid in cells]
        return words, words[0]
    return None


def _decimal(grid: np.ndarray) -> np.ndarray:
    """Rows of ASCII digits (at most 19) as the numbers they write: one pass per digit."""
    value = np.zeros(len(grid), dtype=np.uint64)
    for column in grid.T:
        value *= np.uint64(10)
        value += column - np.uint8(0x30)
    return value


def _word_codes(words: list[np.ndarray], ordered: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Codes of one dictionary for the id integers of each file, and the dictionary's size: the first
    file's factorised (its row numbers when its ids are strictly increasing in ``ordered``, as a list
    in id order is), the others' looked up among its ids or, failing that, among those of the others."""
    import pandas as pd

    first = words[0]
    if np.all(ordered[1:] > ordered[:-1]):  # ids in strictly increasing order are unique
        codes, known = np.arange(len(first)), first
    else:
        codes, known = pd.factorize(first)
    out = [codes]
    table = pd.Index(known)
    rest = []
    for file in words[1:]:
        found = codes if np.array_equal(file, first) else table.get_indexer(file)  # codes are only read
        out.append(found)
        rest.append(found < 0)
    size = len(known)
    unknown = [file[r] for file, r in zip(words[1:], rest)]
    if any(len(u) for u in unknown):
        extra, new = pd.factorize(np.concatenate(unknown))
        size += len(new)
        for found, r, part in zip(out[1:], rest, np.split(extra + len(known), np.cumsum([len(u) for u in unknown])[:-1])):
            found[r] = part
    return out, size


def id_problems(
    frame: pd.DataFrame, id_column: str, ids: pd.Series, refused: dict[int, str], codes: np.ndarray, label: str,
) -> list[Problem]:
    """The problems with the ids of ``frame`` (as written) whose canonical forms are ``ids``
    (:func:`bitframe.data.canonical_ids`, with the reasons ``refused``) and dictionary ``codes``
    (:class:`IdCodes`): refused ids (BF211, the identifier rule), blank ids (BF211) and ids on more
    than one row after normalising (BF212, each written form shown)."""
    rows = row_numbers(frame)
    raw = frame[id_column].reset_index(drop=True)
    where = file_label(frame, label)
    problems = [Problem("BF211", message, file=where, row=int(rows[position]), field=id_column,
                        hint="correct the id in the file (retype it to drop invisible characters)")
                for position, message in list(refused.items())[:ROWS_QUOTED]]
    if len(refused) > ROWS_QUOTED:
        problems.append(Problem("BF211", f"... and {len(refused) - ROWS_QUOTED} more id(s) refused", file=where,
                                field=id_column))
    blank = blank_text(ids)
    if blank.any():
        at = rows[blank].tolist()
        problems.append(Problem("BF211", f"blank id in rows {quote_rows(at)}", file=where, row=at[0],
                                field=id_column, hint="every row needs an id"))
    return problems + duplicate_ids(ids, raw, usable_ids(ids, refused, blank), codes, rows=rows, where=where,
                                    id_column=id_column)


def usable_ids(ids: pd.Series, refused: dict[int, str], blank: np.ndarray | None = None) -> np.ndarray:
    """Which canonical ``ids`` are neither blank (``blank``, when the caller has it) nor ``refused``."""
    usable = ~(blank_text(ids) if blank is None else blank)
    usable[list(refused)] = False
    return usable


def duplicate_ids(
    ids: pd.Series, raw: pd.Series, usable: np.ndarray, codes: np.ndarray, *, rows: np.ndarray, where: str,
    id_column: str,
) -> list[Problem]:
    """A problem (BF212) naming the usable ``ids`` (canonical; ``codes`` from :class:`IdCodes`) on more
    than one row, with the forms ``raw`` writes them in; ``rows`` are the spreadsheet's row numbers."""
    dup = np.flatnonzero((np.bincount(codes)[codes] > 1) & usable) if len(codes) else codes
    if not len(dup):
        return []
    dup_codes = codes[dup]
    _, first = np.unique(dup_codes, return_index=True)
    groups = dup_codes[np.sort(first)]  # in the order the ids first appear
    shown = []
    for code in groups[:3]:
        index = dup[dup_codes == code]
        value = ids.iloc[index[0]]
        forms = list(dict.fromkeys(raw.iloc[index].astype(str)))
        as_typed = "" if forms == [value] else " as " + ", ".join(repr(f) for f in forms)
        shown.append(f"'{value}' in rows {quote_rows(rows[index].tolist())}{as_typed}")
    more = f"; and {len(groups) - 3} more" if len(groups) > 3 else ""
    return [Problem("BF212", f"{len(groups)} id(s) on more than one row: " + "; ".join(shown) + more,
                    file=where, row=int(rows[dup[0]]), field=id_column, hint="each unit may appear only once")]


def unknown_ids(
    outcomes: pd.DataFrame, id_column: str, listed: pd.Series, known: np.ndarray, coding: OutcomesFile, label: str,
) -> tuple[pd.DataFrame, int, list[Problem]]:
    """Rows of ``outcomes`` whose (canonical) id is not on the list (``known``: which are): a problem
    (BF215) under ``unknown_ids: error``, or left out under ``exclude``. Returns the rows kept, how
    many were left out and the problems."""
    import pandas as pd
    import pyarrow.compute as pc

    from bitframe.spreadsheet import restore_cell

    ids = outcomes[id_column]
    stray = ~known
    if not stray.any():  # every id is on the list: nothing to restore or leave out
        return outcomes, 0, []
    stray &= ~blank_text(ids)
    # An id copied from a list bitframe wrote may keep the ' that kept a formula-like id as text
    # (spreadsheet.py); it is that id unless the file also has the id as written.
    quoted = np.flatnonzero(stray & pc.starts_with(arrow_text(ids), "'").fill_null(False).to_numpy(
        zero_copy_only=False))
    copied = {int(position): restore_cell(str(ids.iloc[position])) for position in quoted}
    if copied:
        restored = pd.Series(list(copied.values()), dtype=object)
        usable = _is_in(restored, listed) & ~_is_in(restored, ids)
        copied = {position: value for (position, value), ok in zip(copied.items(), usable) if ok}
    if copied:
        fixed = ids.to_numpy(dtype=object, copy=True)
        fixed[list(copied)] = list(copied.values())
        outcomes = outcomes.assign(**{id_column: fixed})
        ids = outcomes[id_column]
        stray[list(copied)] = False
    if not stray.any():
        return outcomes, 0, []
    if coding.unknown_ids == "exclude":
        return keep_rows(outcomes, ~stray), int(stray.sum()), []
    rows = row_numbers(outcomes)[stray].tolist()
    return outcomes, 0, [Problem(
        "BF215", f"{len(rows)} outcome row(s) for ids that are not on the randomisation list: rows {quote_rows(rows)} "
        f"(e.g. '{ids[stray].iloc[0]}')", file=file_label(outcomes, label), row=rows[0], field=id_column,
        hint="outcomes can only be analysed for randomised units: check the ids or the list, or pre-register "
             "`unknown_ids: exclude` under data.outcomes to leave such rows out (they are counted)")]


def _is_in(values: pd.Series, table: pd.Series) -> np.ndarray:
    """Which of ``values`` are among ``table`` (non-null), by pyarrow's hash lookup: pandas' isin on
    text columns of a million ids takes seconds."""
    import pyarrow.compute as pc

    found = pc.is_in(arrow_text(values), value_set=arrow_text(table).drop_null()).fill_null(False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def code_outcome(
    values: pd.Series, outcome: Outcome, coding: OutcomesFile, *, rows: Sequence[int] | np.ndarray, label: str,
) -> tuple[np.ndarray, list[Problem]]:
    """An outcome column as floats (NaN when missing) as ``coding`` declares it, and a problem
    (BF213) naming the rows whose values it cannot read. ``rows`` are the spreadsheet's row
    numbers of ``values``."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    values = values.reset_index(drop=True)
    out = np.full(len(values), np.nan)
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        codes = [c for c in (_number(c, decimal_comma=False) for c in coding.missing_codes) if c is not None]
        missing = np.isnan(numbers) | np.isin(numbers, codes)
        out[~missing] = numbers[~missing]
        if outcome.type == "binary":
            bad = ~missing & ~np.isin(numbers, (0.0, 1.0))
        elif outcome.type == "count":
            bad = ~missing & (~np.isfinite(numbers) | (numbers < 0) | (numbers != np.floor(numbers)))
        else:
            bad = ~missing & ~np.isfinite(numbers)
        hint = _hint(outcome, coding, [])
    else:
        text = _trimmed(pc.fill_null(arrow_text(values), ""))
        missing_keys = {*ALWAYS_MISSING, *(c.strip().casefold() for c in coding.missing_codes)}
        if outcome.type == "binary":
            key = _casefold(text)
            missing = _among(key, missing_keys)
            declared = coding.binary_values.get(outcome.id)
            yes = {v.strip().casefold() for v in declared.yes} if declared else set(YES)
            no = {v.strip().casefold() for v in declared.no} if declared else set(NO)
            is_yes, is_no = _among(key, yes), _among(key, no)
            if not declared:  # 1.0 and 0.0 (a float column written out) are the numbers 1 and 0
                other = np.flatnonzero(~missing & ~is_yes & ~is_no)
                numbers = text_numbers(text.take(other))
                is_yes[other[numbers == 1]], is_no[other[numbers == 0]] = True, True
            out[is_yes], out[is_no] = 1.0, 0.0
            bad = ~missing & ~is_yes & ~is_no
        else:
            missing = _missing(text, missing_keys)
            parsed = _numbers(_emptied(text, missing), decimal_comma=coding.decimal_comma)
            bad = ~missing & ~np.isfinite(parsed)
            if outcome.type == "count":
                bad |= ~missing & ~np.isnan(parsed) & ((parsed < 0) | (parsed != np.floor(parsed)))
            out[~missing & ~bad] = parsed[~missing & ~bad]
        hint = _hint(outcome, coding, text.filter(pa.array(bad)).to_pylist() if bad.any() else [])
    out[missing] = np.nan
    out[bad] = np.nan
    if not bad.any():
        return out, []
    at = [int(rows[int(i)]) for i in np.flatnonzero(bad)]
    distinct = list(dict.fromkeys(values[bad].astype(str).tolist()))
    examples = ", ".join(repr(v) for v in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    expected = {"binary": "yes or no", "count": "a whole number of 0 or more"}.get(outcome.type, "a number")
    return out, [Problem(
        "BF213", f"{outcome.type} outcome '{outcome.id}' has values that are not {expected} in rows {quote_rows(at)} "
        f"({examples})", file=label, row=at[0], field=outcome.column, hint=hint)]


def _visible_ascii(byte: np.ndarray) -> np.ndarray:
    return (byte > 0x20) & (byte < 0x7F)


def _trimmed(text: pa.Array) -> pa.Array:
    """``utf8_trim_whitespace`` of a column without nulls; the column itself, not a copy, when no cell
    starts or ends with a byte of white space (only ASCII and the bytes of other characters can be)."""
    import pyarrow.compute as pc

    from bitframe.arrowtext import all_visible_ascii, first_bytes, last_bytes, string_bytes

    if not all_visible_ascii(text):  # a byte that may be white space: look at each cell's ends
        offsets, _ = string_bytes(text)
        ends = _visible_ascii(first_bytes(text)) & _visible_ascii(last_bytes(text))
        if not np.all((offsets[1:] == offsets[:-1]) | ends):
            return pc.utf8_trim_whitespace(text)
    return text


def _missing(text: pa.Array, keys: set[str]) -> np.ndarray:
    """Which trimmed cells of a column without nulls are, case folded, among ``keys``. Only empty cells
    and those whose first character could begin a key are folded and looked up: a cell starting with an
    ASCII character folds to a text starting with its lower case, so ``0.35`` can be no key that
    starts with a letter."""
    import pyarrow as pa

    from bitframe.arrowtext import first_bytes, string_bytes

    offsets, _ = string_bytes(text)
    begins = np.zeros(256, dtype=bool)
    begins[0x80:] = True  # a character beyond ASCII may fold to anything
    for key in keys:
        if key and ord(key[0]) < 0x80:
            begins[ord(key[0])] = True
    begins[ord("A"):ord("Z") + 1] = begins[ord("a"):ord("z") + 1]
    candidates = np.flatnonzero((offsets[1:] == offsets[:-1]) | begins[first_bytes(text)])
    missing = np.zeros(len(text), dtype=bool)
    if len(candidates) == len(text):
        return _among(_casefold(text), keys)
    if len(candidates):
        missing[candidates] = _among(_casefold(text.take(pa.array(candidates))), keys)
    return missing


def _emptied(text: pa.Array, rows: np.ndarray) -> pa.Array:
    """``text`` with the cells of ``rows`` (a mask) empty: the column itself when they are already."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from bitframe.arrowtext import string_bytes

    offsets, _ = string_bytes(text)
    if not np.any(rows & (offsets[1:] > offsets[:-1])):
        return text
    return pc.if_else(pa.array(rows), "", text)


def _casefold(text: pa.Array) -> pa.Array:
    """``str.casefold`` of every cell: pyarrow's lower case for ASCII cells (the same), Python's for the rest."""
    import pyarrow as pa
    import pyarrow.compute as pc

    key = pc.ascii_lower(text)
    other = np.flatnonzero(~pc.string_is_ascii(text).to_numpy(zero_copy_only=False))
    if not len(other):
        return key
    mask = np.zeros(len(text), dtype=bool)
    mask[other] = True
    folded = [cell.casefold() for cell in text.take(other).to_pylist()]
    return pc.replace_with_mask(key, pa.array(mask), pa.array(folded, type=key.type))


def _among(key: pa.Array, values: set[str]) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.is_in(key, value_set=pa.array(sorted(values), type=key.type)).to_numpy(zero_copy_only=False)


def _numbers(text: pa.Array, *, decimal_comma: bool) -> np.ndarray:
    """Trimmed text cells as numbers, NaN where a cell is not one (as :func:`_number`, for a column)."""
    import pyarrow.compute as pc

    if decimal_comma:
        text = pc.if_else(pc.match_substring(text, "."), "x", pc.replace_substring(text, ",", ".", max_replacements=1))
    parsed = text_numbers(text)
    return np.where(np.isfinite(parsed), parsed, np.nan)


def _number(text: str, *, decimal_comma: bool) -> float | None:
    """``text`` as a number (``None`` if it is not one); with ``decimal_comma`` the comma is the
    decimal separator and a point is refused."""
    text = text.strip()
    if decimal_comma:
        if "." in text:
            return None
        text = text.replace(",", ".", 1) if text.count(",") == 1 else text
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _hint(outcome: Outcome, coding: OutcomesFile, bad: list[str]) -> str:
    fix = "correct or blank those cells (blank = missing, counted as attrition)"
    if outcome.type == "binary":
        declared = coding.binary_values.get(outcome.id)
        if declared:
            return f"{fix}; the protocol reads {', '.join(declared.yes)} as yes and {', '.join(declared.no)} as no"
        return (f"{fix}, or declare the file's spellings under data.outcomes.binary_values "
                f"(`{outcome.id}: {{yes: [...], no: [...]}}`) or codes meaning 'not known' under "
                f"data.outcomes.missing_codes; read by default: {'/'.join(YES)} as yes, {'/'.join(NO)} as no, "
                "in any case")
    if any(_number(v, decimal_comma=True) is not None for v in bad) and not coding.decimal_comma:
        return f"{fix}; if the file writes decimals with a comma (3,5), declare `decimal_comma: true` under data.outcomes"
    if coding.decimal_comma and any("." in v for v in bad):
        return f"{fix}; the protocol declares decimal commas, so a decimal point is ambiguous (1.000 may be a thousand)"
    return f"{fix}, or declare codes meaning 'not known' under data.outcomes.missing_codes"
