from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from safer_engine.codes.parts import (
    CodesLayout,
    CodesParts,
    finish_parts,
    parts_folder,
    prepare_parts,
)
from safer_engine.files import partial_path

LAYOUT = CodesLayout(n_rows=10, k=3, n_latents=50, part_rows=4)
ATTRS = {"layer": 2, "sae_cfg": {"d_in": 16}}


def random_codes(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, LAYOUT.n_latents, size=(LAYOUT.n_rows, LAYOUT.k)).astype(np.int32)
    return idx, rng.random((LAYOUT.n_rows, LAYOUT.k)).astype(np.float16)


def write_parts(target: Path, parts: list[int], idx: np.ndarray, val: np.ndarray) -> None:
    writer = CodesParts(target, LAYOUT)
    for part in parts:
        rows = LAYOUT.rows(part)
        writer.write(rows.start, idx[rows.start : rows.stop], val[rows.start : rows.stop])
        writer.mark_done(part)
    writer.close()


def test_parts_written_in_any_order_make_one_codes_file(tmp_path: Path) -> None:
    target = tmp_path / "codes.h5"
    idx, val = random_codes(0)
    assert [len(LAYOUT.rows(p)) for p in range(LAYOUT.parts)] == [4, 4, 2]
    prepare_parts(target, LAYOUT, ATTRS, {"store": [1, 2]})
    write_parts(target, [2, 0], idx, val)
    assert CodesParts(target, LAYOUT).missing() == [1]
    write_parts(target, [1], idx, val)
    finish_parts(target)
    with h5py.File(target) as f:
        assert np.array_equal(f["codes_idx"][()], idx)
        assert np.array_equal(f["codes_val"][()], val)
        assert (f.attrs["n_latents"], f.attrs["k"], f.attrs["layer"]) == (50, 3, 2)
        assert json.loads(f.attrs["sae_cfg"]) == {"d_in": 16}
        assert f["codes_idx"].id.get_offset() is not None  # contiguous: the reader maps it
    assert not parts_folder(target).exists() and not partial_path(target).exists()


def test_done_parts_are_kept_only_for_the_same_inputs(tmp_path: Path) -> None:
    target = tmp_path / "codes.h5"
    idx, val = random_codes(1)
    prepare_parts(target, LAYOUT, ATTRS, {"store": [1, 2]})
    write_parts(target, [0, 1], idx, val)
    prepare_parts(target, LAYOUT, ATTRS, {"store": [1, 2]})
    assert CodesParts(target, LAYOUT).missing() == [2]
    prepare_parts(target, LAYOUT, ATTRS, {"store": [1, 3]})  # the store changed
    assert CodesParts(target, LAYOUT).missing() == [0, 1, 2]
    write_parts(target, [0], idx, val)
    prepare_parts(target, LAYOUT, {**ATTRS, "layer": 3}, {"store": [1, 3]})
    assert CodesParts(target, LAYOUT).missing() == [0, 1, 2]


def test_no_rows_make_an_empty_codes_file(tmp_path: Path) -> None:
    target = tmp_path / "codes.h5"
    empty = CodesLayout(n_rows=0, k=3, n_latents=50, part_rows=4)
    prepare_parts(target, empty, ATTRS, {})
    assert empty.parts == 0 and CodesParts(target, empty).missing() == []
    finish_parts(target)
    with h5py.File(target) as f:
        assert f["codes_idx"].shape == (0, 3)


def test_rows_outside_the_file_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "codes.h5"
    idx, val = random_codes(2)
    prepare_parts(target, LAYOUT, ATTRS, {})
    parts = CodesParts(target, LAYOUT)
    with pytest.raises(ValueError, match="at row 8"):
        parts.write(8, idx[:4], val[:4])  # rows 8..12 of 10
    with pytest.raises(ValueError, match="shape"):
        parts.write(0, idx[:2, :2], val[:2, :2])  # k = 2, not 3
    parts.close()


def test_the_codes_blocks_are_reserved_on_the_disk(tmp_path: Path) -> None:
    target = tmp_path / "codes.h5"
    big = CodesLayout(n_rows=200_000, k=64, n_latents=16_384, part_rows=65_536)
    prepare_parts(target, big, ATTRS, {})
    allocated = partial_path(target).stat().st_blocks * 512
    assert allocated >= big.n_rows * big.k * 6  # not sparse: a full disk shows at once


def test_a_partial_file_that_does_not_open_is_started_over(tmp_path: Path) -> None:
    target = tmp_path / "codes.h5"
    idx, val = random_codes(3)
    prepare_parts(target, LAYOUT, ATTRS, {})
    write_parts(target, [0], idx, val)
    partial_path(target).write_bytes(b"damaged by a crash")
    prepare_parts(target, LAYOUT, ATTRS, {})
    assert CodesParts(target, LAYOUT).missing() == [0, 1, 2]
