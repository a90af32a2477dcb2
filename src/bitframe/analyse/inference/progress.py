"""A progress bar for long resampling runs, drawn only where someone is watching.

The library is quiet: a bar appears only inside :func:`show_progress` (the command line enters it
when standard error is a terminal, so neither tests nor pipes see one) or when a caller asks for
it explicitly (``ProgressBar(..., enabled=True)``). The bar is rich's, on standard error, so the
results on standard output stay clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["ProgressBar", "show_progress"]

_SHOWN: ContextVar[bool] = ContextVar("bitframe_progress", default=False)


@contextmanager
def show_progress(enabled: bool = True) -> Iterator[None]:
    """Within this block, :class:`ProgressBar` objects created without ``enabled`` draw themselves."""
    token = _SHOWN.set(enabled)
    try:
        yield
    finally:
        _SHOWN.reset(token)


class ProgressBar:
    """``advance(n)`` steps of ``total``; ``add_total(n)`` when more work is found; ``close()`` at the end."""

    def __init__(self, description: str, total: int = 0, *, enabled: bool | None = None):
        self._progress: Any = None
        if _SHOWN.get() if enabled is None else enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress(description, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(description, total=total)
            self._total = total

    def add_total(self, n: int) -> None:
        if self._progress is not None:
            self._total += n
            self._progress.update(self._task, total=self._total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
