from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from safer_engine.analysis.code_chunks import read_rows
from safer_engine.errors import AnalysisError
from safer_engine.store.reader import memmap_dataset


def mapped(tmp_path: Path, array: np.ndarray) -> np.memmap:
    path = tmp_path / "codes.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("before", data=np.arange(7, dtype=np.int8))  # a non-zero offset
        f.create_dataset("x", data=array)
    with h5py.File(path, "r") as f:
        return memmap_dataset(path, f["x"])


def test_rows_of_a_memory_map_are_read_from_the_file(tmp_path: Path) -> None:
    array = np.arange(50 * 3, dtype=np.int32).reshape(50, 3)
    codes = mapped(tmp_path, array)
    assert isinstance(codes, np.memmap)
    for start, stop in ((0, 50), (10, 17), (45, 99), (60, 70)):
        rows = read_rows(codes, start, stop)
        assert not isinstance(rows, np.memmap)
        assert np.array_equal(rows, array[start:stop])
    # a slice of the map, a plain array: read as they are
    assert np.array_equal(read_rows(codes[5:], 2, 4), array[7:9])
    assert np.array_equal(read_rows(array, 2, 4), array[2:4])


def test_a_truncated_file_is_named(tmp_path: Path) -> None:
    codes = mapped(tmp_path, np.ones((4096, 16), dtype=np.float16))
    with open(codes.filename, "r+b") as f:
        f.truncate(int(codes.offset) + 100 * 16 * 2)
    with pytest.raises(AnalysisError, match="ended early"):
        read_rows(codes, 0, 200)
