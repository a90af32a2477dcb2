"""Helpers the verb modules share: messages on standard error, plain tables, JSON outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    import pandas as pd


def echo_err(text: str) -> None:
    typer.echo(text, err=True)


MISSING = "\u2013"  # how a console table shows a missing value (never "None" or "NaN")


def print_frame(frame: pd.DataFrame, columns: list[str], formats: dict[str, str] | None = None) -> None:
    """A plain-text table on standard output (stable for tests and pipes); a missing value shows as "–"."""
    import pandas as pd

    def missing(v: Any) -> bool:
        if v is None:
            return True
        try:
            return bool(pd.isna(v))
        except (TypeError, ValueError):  # a list or array in a cell is a value, not a missing one
            return False

    formats = formats or {}
    shown = frame[[c for c in columns if c in frame.columns]].copy()
    for col in shown.columns:
        fmt = formats.get(col)
        shown[col] = shown[col].map(lambda v, f=fmt: MISSING if missing(v) else format(v, f) if f else v)
    typer.echo(shown.to_string(index=False))


def write_json(path: Path, data: Any, *, force: bool) -> None:
    from bitframe.io import ensure_writable, write_text_atomic

    ensure_writable([path], force=force)
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")
