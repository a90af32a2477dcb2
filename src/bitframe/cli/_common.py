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


def print_frame(frame: pd.DataFrame, columns: list[str], formats: dict[str, str] | None = None) -> None:
    """A plain-text table on standard output (stable for tests and pipes)."""
    formats = formats or {}
    shown = frame[[c for c in columns if c in frame.columns]].copy()
    for col, fmt in formats.items():
        if col in shown.columns:
            shown[col] = shown[col].map(lambda v, f=fmt: "" if v is None or v != v else format(v, f))
    typer.echo(shown.to_string(index=False))


def write_json(path: Path, data: Any, *, force: bool) -> None:
    from bitframe.io import ensure_writable, write_text_atomic

    ensure_writable([path], force=force)
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")
