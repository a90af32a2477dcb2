"""The bytes behind a pyarrow text column, for checks that scan or compare them without Python strings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def string_bytes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A pyarrow ``string`` or ``large_string`` array as ``(offsets, data)`` without copying the text:
    cell ``i`` is the UTF-8 ``data[offsets[i]:offsets[i + 1]]`` (int64 offsets, the array's slice applied)."""
    import pyarrow as pa

    n = len(text)
    offsets_buffer, data_buffer = text.buffers()[1], text.buffers()[2]
    if n == 0 or offsets_buffer is None:
        return np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    width = np.dtype(np.int64 if pa.types.is_large_string(text.type) else np.int32)
    offsets = np.frombuffer(offsets_buffer, dtype=width, count=n + 1, offset=text.offset * width.itemsize)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, dtype=np.uint8)
    return offsets.astype(np.int64, copy=False), data


def cell_bytes(text: pa.Array) -> np.ndarray:
    """Every cell's UTF-8 bytes, one cell after another (a view of the array's data, no copy)."""
    offsets, data = string_bytes(text)
    return data[offsets[0]:offsets[-1]]


def all_visible_ascii(text: pa.Array) -> bool:
    """Whether every byte of every cell is a visible ASCII character (no space, no control character,
    nothing beyond ASCII): one pass over the bytes."""
    cells = cell_bytes(text)
    return not len(cells) or (int(cells.min()) > 0x20 and int(cells.max()) < 0x7F)


def first_bytes(text: pa.Array) -> np.ndarray:
    """Each cell's first byte, 0 for an empty or missing cell. An ASCII byte there is the cell's first
    character: UTF-8 never uses one inside another character."""
    offsets, data = string_bytes(text)
    return _bytes_at(data, offsets[:-1], offsets[1:] > offsets[:-1])


def last_bytes(text: pa.Array) -> np.ndarray:
    """Each cell's last byte, 0 for an empty or missing cell (an ASCII byte: its last character)."""
    offsets, data = string_bytes(text)
    return _bytes_at(data, offsets[1:] - 1, offsets[1:] > offsets[:-1])


def _bytes_at(data: np.ndarray, at: np.ndarray, filled: np.ndarray) -> np.ndarray:
    if not len(data):
        return np.zeros(len(at), dtype=np.uint8)
    return np.where(filled, data[np.clip(at, 0, len(data) - 1)], np.uint8(0))


def fixed_width_cells(text: pa.Array) -> np.ndarray | None:
    """The cells as the rows of an ``(n, width)`` view of their bytes when none is missing and all have
    one byte length (``(0, 0)`` for no cells); else None."""
    if text.null_count:
        return None
    n = len(text)
    if not n:
        return np.empty((0, 0), dtype=np.uint8)
    offsets, data = string_bytes(text)
    width = int(offsets[1] - offsets[0])
    if int(offsets[-1] - offsets[0]) != width * n or np.any(np.diff(offsets) != width):
        return None
    return data[offsets[0]:offsets[-1]].reshape(n, width)


def byte_words(cells: np.ndarray) -> np.ndarray:
    """Rows of bytes (:func:`fixed_width_cells`) as rows of 64-bit words, zero-padded to whole words:
    equal rows, equal words. Native order; ``.view(">u8")`` reads them big-endian, so that they compare
    as the text does. No copy when the rows are whole words already."""
    n, width = cells.shape
    words = max(1, -(-width // 8))
    if width == 8 * words:
        return cells.view(np.uint64)
    padded = np.zeros((n, 8 * words), dtype=np.uint8)
    padded[:, :width] = cells
    return padded.view(np.uint64)
