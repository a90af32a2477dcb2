"""How results show themselves in a notebook: one mixin shared by every stage's results.

A result class that has ``to_frame()`` (its tidy table) inherits :class:`FrameDisplay`
and Jupyter renders it as that table. pandas is imported only when a table is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class FrameDisplay:
    """Gives a result ``_repr_html_``: its ``to_frame()`` table as HTML."""

    def to_frame(self) -> pd.DataFrame:
        raise NotImplementedError(f"{type(self).__name__} must define to_frame() to be displayed as a table")

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)
