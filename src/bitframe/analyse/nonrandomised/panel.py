"""Checking the data of a non-randomised design before any estimator sees it.

Every problem is a located :class:`~bitframe.errors.DataError` naming the file, the column and
the spreadsheet rows (header = row 1), so an unbalanced panel, a treatment that switches off, too
few pre-periods or a donor pool of one is a message, never a traceback from the library beneath.

Codes:

=====  ==================================================================
BF230  a column the design names is missing from the data
BF231  the time column (or the start column) holds something other than whole numbers
BF232  a unit appears twice in one period
BF233  an unbalanced panel: some units lack some periods
BF234  treatment switches off, or a unit's start differs between its rows
BF235  too few periods before the start
BF236  too few units to compare with (no comparison units; a donor pool of one)
BF237  an outcome that is missing or not a number
=====  ==================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bitframe.data import sheet_rows
from bitframe.errors import DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

_SHOWN = 5


def _rows(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_SHOWN])
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}" + (f" (and {len(rows) - _SHOWN} more)"
                                                                      if len(rows) > _SHOWN else "")


def _fail(code: str, message: str, source: str, hint: str, *, field: str | None = None,
          row: int | None = None) -> DataError:
    return DataError(Problem(code, message, file=source, field=field, row=row, hint=hint))


def require_columns(data: pd.DataFrame, columns: dict[str, str], source: str) -> None:
    """BF230 for each column (``{name: what the design uses it for}``) missing from ``data``."""
    from bitframe.errors import did_you_mean

    problems = [Problem("BF230", f"column '{name}' ({what}) is not in the data", file=source, field=name,
                        hint=did_you_mean(name, [str(c) for c in data.columns])
                        or f"the columns are: {', '.join(map(str, data.columns))}")
                for name, what in columns.items() if name not in data.columns]
    if problems:
        raise DataError(problems)


def whole_numbers(data: pd.DataFrame, column: str, source: str, *, blank_is: int | None = None) -> pd.Series:
    """The column as whole numbers (BF231 naming the rows that are not); blanks become ``blank_is``."""
    import pandas as pd

    raw = data[column]
    if blank_is is not None:
        raw = raw.where(~(raw.isna() | (raw.astype(str).str.strip() == "")), blank_is)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() | (values.notna() & (values != values.round()))
    if bad.any():
        rows = [r for r, b in zip(sheet_rows(data), bad, strict=True) if b]
        raise _fail("BF231", f"column '{column}' must hold whole numbers (periods); {_rows(rows)} do not",
                    source, "number the periods 1, 2, 3, ... (e.g. months since the start of the data)",
                    field=column, row=rows[0])
    return values.astype("int64")


def numeric_outcome(data: pd.DataFrame, column: str, source: str) -> pd.Series:
    """The outcome as numbers (BF237 naming the rows that are missing or not numbers)."""
    import pandas as pd

    values = pd.to_numeric(data[column], errors="coerce")
    if values.isna().any():
        rows = [r for r, b in zip(sheet_rows(data), values.isna(), strict=True) if b]
        raise _fail("BF237", f"outcome column '{column}' is missing or not a number in {_rows(rows)}", source,
                    "these designs need every unit's outcome in every period: fill or impute the gaps first, "
                    "and say so in the report", field=column, row=rows[0])
    return values.astype("float64")


def check_panel(data: pd.DataFrame, *, unit: str, time: str, source: str) -> None:
    """BF232 for a unit twice in one period; BF233 for an unbalanced panel."""
    rows = sheet_rows(data)
    duplicated = data.duplicated([unit, time], keep="first")
    if duplicated.any():
        bad = [r for r, d in zip(rows, duplicated, strict=True) if d]
        raise _fail("BF232", f"a unit appears more than once in a period ('{unit}' and '{time}' repeat) in "
                    f"{_rows(bad)}", source, "keep one row per unit and period (aggregate first)",
                    field=unit, row=bad[0])
    periods = sorted(data[time].unique())
    counts = data.groupby(unit, sort=True)[time].nunique()
    short = counts[counts < len(periods)]
    if len(short):
        names = [str(u) for u in short.index[:_SHOWN]]
        first = data[unit].astype(str).isin(names)
        row = next(r for r, f in zip(rows, first, strict=True) if f)
        missing = sorted(set(periods) - set(data.loc[data[unit] == short.index[0], time]))
        raise _fail("BF233", f"unbalanced panel: {len(short)} of {len(counts)} units lack some of the "
                    f"{len(periods)} periods (unit '{names[0]}' lacks period(s) "
                    f"{', '.join(map(str, missing[:_SHOWN]))})", source,
                    "give every unit a row in every period (the estimators assume a balanced panel), or drop "
                    "the units or periods that are incomplete and say so in the report", field=unit, row=row)


def check_start_fixed(data: pd.DataFrame, *, unit: str, start: str, source: str) -> None:
    """BF234 when a unit's first treated period differs between its rows."""
    per_unit = data.groupby(unit)[start].nunique()
    varying = per_unit[per_unit > 1]
    if len(varying):
        name = varying.index[0]
        rows = [r for r, u in zip(sheet_rows(data), data[unit], strict=True) if u == name]
        raise _fail("BF234", f"unit '{name}' has more than one start in column '{start}' ({_rows(rows)})", source,
                    "give each unit one first treated period in every row (0 if never treated)",
                    field=start, row=rows[0])


def check_pre_periods(periods: Sequence[int], start: int, needed: int, *, what: str, source: str,
                      field: str) -> None:
    """BF235 when fewer than ``needed`` periods come before ``start``."""
    before = sum(1 for p in periods if p < start)
    if before < needed:
        raise _fail("BF235", f"{what} has {before} period(s) before its start ({start}); the design needs at least "
                    f"{needed}", source, "use data reaching further back, or lower `design.pre_periods` if the "
                    "design allows it", field=field)
