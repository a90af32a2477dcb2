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


@pytest.mark.parametrize("cells", [["P001", "é", "", "日本語", " x "], ["", ""], [], ["a", None, "bc"], ["\x00a", "b\x00"]])
@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_cell_bytes_and_each_cell_s_first_and_last_byte(cells, kind):
    """The cells' bytes back to back, and each cell's first and last byte (0 when it is empty or
    missing), for both offset widths and every slice."""
    from bitframe.arrowtext import all_visible_ascii, cell_bytes, first_bytes, last_bytes

    text = pa.array(cells, type=kind)
    for start in range(len(cells) + 1):
        part = [(c or "").encode() for c in cells[start:]]
        sliced = text.slice(start)
        assert cell_bytes(sliced).tobytes() == b"".join(part)
        assert first_bytes(sliced).tolist() == [c[0] if c else 0 for c in part]
        assert last_bytes(sliced).tolist() == [c[-1] if c else 0 for c in part]
        assert all_visible_ascii(sliced) == all(0x20 < b < 0x7F for c in part for b in c)


@pytest.mark.parametrize("cells", [["ab", "cd", "ef"], ["P0000001", "P0000002"], ["1234567890", "0987654321"],
                                   ["é", "ab"], ["", ""], [], ["a", "bc"], ["ab", None], ["x" * 17, "y" * 17]])
@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_fixed_width_cells_and_their_words(cells, kind):
    """Cells of one byte length as rows of bytes (None for mixed lengths or a missing cell), and those
    rows as zero-padded 64-bit words that compare, read big-endian, as the text does."""
    import numpy as np

    from bitframe.arrowtext import byte_words, fixed_width_cells

    text = pa.array(cells, type=kind)
    for start in range(len(cells) + 1):
        part = cells[start:]
        grid = fixed_width_cells(text.slice(start))
        lengths = {len(c.encode()) for c in part if c is not None}
        if None in part or len(lengths) > 1:
            assert grid is None
            continue
        assert grid is not None and [row.tobytes().decode() for row in grid] == part
        words = byte_words(grid)
        assert words.shape == (len(part), max(1, -(-grid.shape[1] // 8)))
        padded = [c.encode().ljust(8 * words.shape[1], b"\0") for c in part]
        assert [row.tobytes() for row in words] == padded
        order = np.lexsort(words.view(">u8").T[::-1]) if len(part) else np.zeros(0, dtype=int)
        assert [part[i] for i in order] == sorted(part, key=str.encode)
