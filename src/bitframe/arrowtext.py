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
