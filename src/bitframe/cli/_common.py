"""Helpers the verb modules share: messages on standard error, plain tables, JSON outputs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd


def arrow_memory_returned(*, at_once: bool) -> None:
    """Have a command's pyarrow work use the jemalloc pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` names
    one; with ``at_once``, freed pages go back to the system without jemalloc's decay delay.

    The default pool (mimalloc) keeps the memory of the CSV reader's buffers after they are freed,
    so the estimator's arrays come on top of it; jemalloc gives it back (`analyse`, 1,000,000 rows:
    peak memory 0.98 -> 0.87 GB, docs/decisions/0012-analyse-cli-start-up-and-memory.md). At once,
    before the fits allocate theirs, lowers `analyse`'s peak further (0.67-0.73 -> 0.59 GB at
    1,000,000 rows, 227 -> 194 MB at 100,000) for 0.05-0.5 CPU-seconds of page faults; `randomise`,
    whose memory is no concern, keeps the delay (1,000,000 rows: 2.05-2.16 -> 1.76-1.83 CPU-s, 459
    -> 552 MB; mimalloc: 2.6 s). Decision 0015. A library process keeps whatever pool its user chose;
    builds without jemalloc keep the default.
    """
    import contextlib
    import os

    import pyarrow as pa

    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    with contextlib.suppress(NotImplementedError):  # pyarrow built without jemalloc (e.g. on Windows)
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        if at_once:
            pa.jemalloc_set_decay_ms(0)


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused inside the block, and resumed as it was after.

    Reference counting still frees every object the moment its last reference goes; what the
    collector adds is finding objects that only refer to each other, and it looks for them by
    walking every tracked object, the libraries' hundreds of thousands of long-lived ones included,
    again and again while a command builds its options, imports its libraries and allocates.
    `analyse` and `randomise` leave about 1,200 such objects in all (counted at the end of 100,000-
    and 1,000,000-row analyses, 2,000 re-randomisations, non-randomised designs and a 1,000,000-row
    randomisation), while the walks cost 0.05 CPU-seconds of a 0.8 s analysis at 100,000 rows,
    0.1-0.24 s at 1,000,000 and 0.15 s of 2,000 re-randomisations, with the same peak memory
    (decision 0017). Commands not measured, and those that run for long (`serve`), keep it.
    """
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:  # an in-process caller (a test, a notebook) gets its collector back
            gc.enable()


def one_blas_thread() -> None:
    """One OpenBLAS thread for this command, unless the user chose a number (``OPENBLAS_NUM_THREADS``
    or ``OMP_NUM_THREADS``); only effective before numpy is first imported.

    The analysis's products are tall and thin (a million rows by a handful of columns): a second
    BLAS thread finished them no sooner on the 2-core machine but spun for 0.2-0.3 CPU-seconds at
    100,000 rows (`analyse`, HC2: 1.19-1.32 -> 0.98-0.99 CPU-s, wall time unchanged; 1,000,000
    rows: 4.35-4.80 -> 4.14-4.30, decision 0015).
    """
    import os

    if "OPENBLAS_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


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
