"""A one-sheet .xlsx written column by column, for tables of up to Excel's 1,048,576 rows.

An .xlsx is a zip of a few XML parts; only the sheet grows with the table. The sheet's XML is
built a column at a time with Arrow string kernels and streamed into the zip in chunks of rows,
so a million-row list takes a few CPU-seconds and bounded memory (openpyxl needed about 35 s;
why this is not a library is in docs/decisions/0016-own-xlsx-writer.md).

Cells: integers and floats are numbers, booleans are booleans, missing values are no cell, and
everything else is a string cell -- never a formula or an error value, whatever the text (a
cell reading ``=1+1`` or ``#N/A`` stays text). Categorical columns go through the shared-string
table (each category once), other text is written inline. Text is XML-escaped, ``\\r`` is a
character reference (an XML parser would turn a raw one into ``\\n``), and leading or trailing
white space is kept (``xml:space="preserve"``).

Text the file cannot carry faithfully is refused (:class:`~bitframe.errors.DataError`, BF905,
naming the spreadsheet row and column) rather than changed: characters XML 1.0 forbids (control
characters other than tab, line feed and carriage return; U+FFFE, U+FFFF), text of the form
``_xHHHH_`` (Excel reads it as an escaped character, other readers as written), and cells over
Excel's 32,767 characters.

The bytes depend only on the table: every zip entry has the same fixed time stamp, so the file
has the same SHA-256 each time it is written.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING

from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["EXCEL_MAX_CELL_CHARS", "SHEET_MAX_ROWS", "column_letters", "frame_to_xlsx"]

#: Rows of an Excel sheet, the header included.
SHEET_MAX_ROWS = 1_048_576
#: Characters of a cell (Excel's specification and limits).
EXCEL_MAX_CELL_CHARS = 32_767

#: Rows turned into XML at a time: the sheet streams into the zip, so memory stays bounded.
_CHUNK_ROWS = 100_000
#: A zip entry over 2 GiB needs ZIP64 headers, declared before the entry is written.
_ZIP64_BYTES = 2**31 - 1
#: Fixed entry times make the bytes (and so the SHA-256 in a manifest) reproducible.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    _DECLARATION
    + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_PACKAGE_RELS = (
    _DECLARATION
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    _DECLARATION
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
# The smallest style sheet Excel accepts: one font, the two fills it requires, one border, one format.
_STYLES = (
    _DECLARATION
    + f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

# What XML 1.0 forbids, and Excel's own escape form _xHHHH_ (Python's syntax; RE2's for Arrow).
_FORBIDDEN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_EXCEL_ESCAPE = "_x[0-9A-Fa-f]{4}_"
_UNWRITABLE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]|" + _EXCEL_ESCAPE
_EDGE_SPACE = r"^[ \t\n\r]|[ \t\n\r]$"


def column_letters(index: int) -> str:
    """Excel's name of the 0-based column ``index``: A, ..., Z, AA, ..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


_REFERENCES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))


def _join(*parts: pa.Array | str, null_handling: str = "emit_null") -> pa.Array:
    """The parts joined row by row (a ``str`` is the same in every row); the last part is the separator."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = [pa.scalar(part, pa.large_string()) if isinstance(part, str) else part for part in parts]
    return pc.binary_join_element_wise(*arrays, null_handling=null_handling, null_replacement="")


def _escape_text(text: str) -> str:
    for char, reference in _REFERENCES:
        text = text.replace(char, reference)
    return text


def _escape(text: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    for char, reference in _REFERENCES:
        text = pc.replace_substring(text, char, reference)
    return text


def _first_unwritable(text: pa.Array) -> int | None:
    """The position of the first value of ``text`` the file cannot carry as it is, if any."""
    import pyarrow.compute as pc

    bad = pc.or_kleene(pc.match_substring_regex(text, _UNWRITABLE), pc.greater(pc.utf8_length(text), EXCEL_MAX_CELL_CHARS))
    return pc.index(bad, True).as_py() if pc.any(bad).as_py() else None


def _unwritable(value: str, *, row: int, column: str, file: str | None) -> DataError:
    if len(value) > EXCEL_MAX_CELL_CHARS:
        what = f"holds {len(value):,} characters; an Excel cell holds at most {EXCEL_MAX_CELL_CHARS:,}"
    elif (escape := re.search(_EXCEL_ESCAPE, value)) is not None:
        what = f"holds {value!r}: Excel reads {escape.group()!r} as an escaped character (_xHHHH_), other readers do not"
    else:
        char = next(c for c in value if re.fullmatch(_FORBIDDEN, c))
        what = f"holds {value!r}: the control character U+{ord(char):04X} cannot be carried in an .xlsx (XML 1.0)"
    return DataError(
        Problem(
            "BF905",
            f"the Excel copy cannot hold this cell as it is: it {what}",
            file=file,
            row=row,
            field=column,
            hint="write the CSV only (without --xlsx), or correct the value in the input",
        )
    )


def _check_text(text: pa.Array, *, first_row: int, column: str, file: str | None) -> None:
    """Refuse (BF905) the first cell of ``text`` that the file cannot carry as it is."""
    position = _first_unwritable(text)
    if position is not None:
        raise _unwritable(text[position].as_py(), row=first_row + position, column=column, file=file)


def _text_cells(text: pa.Array, ref: pa.Array) -> pa.Array:
    """Inline string cells (``ref`` is ``<c r="B2``); a missing value gives null (no cell)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spaced = pc.fill_null(pc.match_substring_regex(text, _EDGE_SPACE), False)
    opening = pc.if_else(spaced, pa.scalar('" t="inlineStr"><is><t xml:space="preserve">', pa.large_string()),
                         pa.scalar('" t="inlineStr"><is><t>', pa.large_string()))
    return _join(ref, opening, _escape(text), "</t></is></c>", "")


def _header_row(names: list[str], *, file: str | None) -> bytes:
    import pyarrow as pa

    text = pa.array(names, pa.large_string())
    _check_text(text, first_row=1, column="(header)", file=file)
    refs = pa.array([f'<c r="{column_letters(i)}1' for i in range(len(names))], pa.large_string())
    cells = _text_cells(text, refs).to_pylist()
    return ('<row r="1">' + "".join(cells) + "</row>").encode("utf-8")


def _column_kind(series: pd.Series) -> str:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "shared"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "text"


def _concatenated(rows: pa.Array) -> memoryview:
    """The values of a string array back to back, without copying them."""
    from bitframe.arrowtext import cell_bytes

    return cell_bytes(rows).data


def frame_to_xlsx(frame: pd.DataFrame, *, sheet: str = "Sheet1", file: str | None = None) -> bytes:
    """``frame`` as an .xlsx workbook of one sheet named ``sheet`` (header row, then one row per row).

    ``file`` names the workbook in a BF905 error. Raises ``ValueError`` if ``sheet`` is not a name
    Excel allows, the table has more rows than a sheet holds or a float column holds an infinity.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not 0 < len(sheet) <= 31 or any(char in sheet for char in "[]:*?/\\") or sheet.startswith("'"):
        raise ValueError(f"The 'sheet' parameter must be an Excel sheet name (1-31 characters, none of []:*?/\\). "
                         f"Got {sheet!r} instead.")
    n_rows = len(frame)
    if n_rows + 1 > SHEET_MAX_ROWS:
        raise ValueError(
            f"The table has {n_rows:,} rows; an Excel sheet holds at most {SHEET_MAX_ROWS - 1:,} below its header."
        )
    names = [str(name) for name in frame.columns]
    kinds = [_column_kind(frame[name]) for name in frame.columns]
    letters = [column_letters(i) for i in range(len(names))]

    # The categories a column uses, each once in the shared-string table; a code's entry there.
    shared: list[str] = []
    shared_index: dict[int, np.ndarray] = {}
    for i, name in enumerate(frame.columns):
        if kinds[i] == "shared":
            codes = frame[name].cat.codes.to_numpy()
            categories = frame[name].cat.categories
            used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(categories)))
            text = [str(categories[int(u)]) for u in used]
            position = _first_unwritable(pa.array(text, pa.large_string()))
            if position is not None:
                row = 2 + int(np.flatnonzero(codes == used[position])[0])
                raise _unwritable(text[position], row=row, column=names[i], file=file)
            shared_index[i] = np.full(len(categories), -1, dtype=np.int64)
            shared_index[i][used] = np.arange(len(shared), len(shared) + len(used))
            shared.extend(text)
    shared_xml = "".join(
        f'<si><t xml:space="preserve">{_escape_text(s)}</t></si>' if re.search(_EDGE_SPACE, s)
        else f"<si><t>{_escape_text(s)}</t></si>"
        for s in shared
    )
    texts = {i: _as_text(frame[name]) for i, name in enumerate(frame.columns) if kinds[i] == "text"}
    # An upper bound of the sheet's size: escaping grows text at most five-fold ("&" -> "&amp;").
    text_bytes = sum(int(pc.sum(pc.binary_length(text)).as_py() or 0) for text in texts.values())
    zip64 = 5 * text_bytes + 80 * (n_rows + 1) * (len(names) + 1) > _ZIP64_BYTES

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as package:
        def entry(name: str) -> zipfile.ZipInfo:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            return info

        package.writestr(entry("[Content_Types].xml"), _CONTENT_TYPES)
        package.writestr(entry("_rels/.rels"), _PACKAGE_RELS)
        package.writestr(entry("xl/workbook.xml"), _workbook(sheet))
        package.writestr(entry("xl/_rels/workbook.xml.rels"), _WORKBOOK_RELS)
        package.writestr(entry("xl/styles.xml"), _STYLES)
        package.writestr(
            entry("xl/sharedStrings.xml"),
            _DECLARATION + f'<sst xmlns="{_MAIN}" uniqueCount="{len(shared)}">{shared_xml}</sst>',
        )
        last = f"{letters[-1]}{n_rows + 1}" if names else "A1"
        with package.open(entry("xl/worksheets/sheet1.xml"), "w", force_zip64=zip64) as part:
            part.write(f'{_DECLARATION}<worksheet xmlns="{_MAIN}"><dimension ref="A1:{last}"/><sheetData>'.encode())
            part.write(_header_row(names, file=file))
            for start in range(0, n_rows, _CHUNK_ROWS):
                chunk = frame.iloc[start : start + _CHUNK_ROWS]
                row_numbers = pc.cast(pa.array(np.arange(start + 2, start + 2 + len(chunk))), pa.large_string())
                cells = []
                for i, name in enumerate(chunk.columns):
                    ref = _join(f'<c r="{letters[i]}', row_numbers, "")
                    if kinds[i] == "text":
                        text = texts[i].slice(start, len(chunk))
                        _check_text(text, first_row=start + 2, column=names[i], file=file)
                        cells.append(_text_cells(text, ref))
                    else:
                        cells.append(_value_cells(chunk[name], kinds[i], ref, shared_index.get(i), column=names[i]))
                rows = _join('<row r="', row_numbers, '">', *cells, "</row>", "", null_handling="replace")
                part.write(_concatenated(rows))
            part.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def _as_text(series: pd.Series) -> pa.Array:
    import pandas as pd
    import pyarrow as pa

    if isinstance(series.dtype, pd.StringDtype):  # text already (Arrow-backed: handed over without a copy)
        return pa.array(series, pa.large_string(), from_pandas=True)
    values = series.astype(object).where(series.notna(), None).map(str, na_action="ignore")
    return pa.array(values, pa.large_string(), from_pandas=True)


def _value_cells(
    series: pd.Series, kind: str, ref: pa.Array, shared_index: np.ndarray | None, *, column: str
) -> pa.Array:
    """The XML of a chunk of a number, boolean or categorical column (null where the cell is missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if shared_index is not None:
        codes = series.cat.codes.to_numpy()
        index = pa.array(shared_index[codes], mask=codes < 0)
        return _join(ref, '" t="s"><v>', pc.cast(index, pa.large_string()), "</v></c>", "")
    values = pa.array(series, from_pandas=True)
    if kind == "float" and pc.any(pc.is_inf(values)).as_py():
        raise ValueError(f"The column {column!r} holds an infinite number, which an Excel cell cannot hold.")
    kind_attribute = '" t="b"><v>' if kind == "bool" else '"><v>'
    number = pc.cast(pc.cast(values, pa.int8()) if kind == "bool" else values, pa.large_string())
    return _join(ref, kind_attribute, number, "</v></c>", "")


def _workbook(sheet: str) -> str:
    from xml.sax.saxutils import quoteattr

    return (
        _DECLARATION
        + f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        f'<sheet name={quoteattr(sheet)} sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
