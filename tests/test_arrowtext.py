"""bitframe.arrowtext: the offsets and bytes of a pyarrow text column, read without copying it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bitframe.arrowtext import string_bytes


@pytest.mark.parametrize("cells", [["P001", "é", "", "日本語", "x,y"], ["", ""], [], ["a", None, "bc"]])
@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_each_cell_is_its_slice_of_the_bytes_also_in_a_slice_of_the_array(cells, kind):
    """Cell i is data[offsets[i]:offsets[i + 1]] decoded as UTF-8 (a missing cell is empty), for both
    offset widths, the whole array and every slice of it."""
    text = pa.array(cells, type=kind)
    for start in range(len(cells) + 1):
        part = text.slice(start)
        offsets, data = string_bytes(part)
        assert len(offsets) == len(part) + 1
        got = [data[offsets[i]:offsets[i + 1]].tobytes().decode("utf-8") for i in range(len(part))]
        assert got == [c if c is not None else "" for c in cells[start:]]
