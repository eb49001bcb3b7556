"""`codes.h5` written in parts, by one process or by several at once, and resumed after a kill.

The file is created first, beside its final name, with both datasets contiguous and their
blocks reserved on the disk, so a disk too small says so before any work. Each part's rows
then go straight to their byte range with `pwrite`: no HDF5 call, so processes writing
different parts need no coordination. A part is marked done (an empty file) only once its
bytes are synced, so a killed run resumes at the unmarked parts; when every part is marked,
the file is renamed into place.

    codes.h5.partial          the file being written
    codes.h5.parts/meta.json  what it is the codes of; a mismatch starts it over
    codes.h5.parts/part-NNNNN.done
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.codes import schema
from safer_engine.files import disk_full_reported, partial_path
from safer_engine.store.schema import ALIGNED

PARTS_SUFFIX = ".parts"
PARTS_META = "meta.json"
PARTS_LAYOUT = 1
"""Bumped when what a part holds changes, so a resumed run never mixes two layouts."""


@dataclass(frozen=True)
class CodesLayout:
    """The shape of a codes file and how its rows are cut into parts."""

    n_rows: int
    k: int
    n_latents: int
    part_rows: int

    @property
    def parts(self) -> int:
        return -(-self.n_rows // self.part_rows)

    def rows(self, part: int) -> range:
        start = part * self.part_rows
        return range(start, min(start + self.part_rows, self.n_rows))


def parts_folder(target: Path) -> Path:
    return target.with_name(target.name + PARTS_SUFFIX)


def prepare_parts(
    target: Path, layout: CodesLayout, attrs: dict[str, Any], identity: dict[str, Any]
) -> None:
    """Keep a partial file and its done parts only if they are the codes of exactly this
    store, SAE and layout, and the file still opens; otherwise start a new, empty one. Run
    by the main process alone."""
    folder, partial = parts_folder(target), partial_path(target)
    meta = json.dumps(
        {"layout": PARTS_LAYOUT, "shape": asdict(layout), "attrs": attrs, "inputs": identity},
        sort_keys=True,
        default=str,
    )
    meta_path = folder / PARTS_META
    if meta_path.exists() and meta_path.read_text("utf-8") == meta and _opens(partial):
        return
    discard_parts(target)
    with disk_full_reported(target):
        _create(partial, layout, attrs)
        folder.mkdir(parents=True)
        meta_path.write_text(meta, encoding="utf-8")


def _opens(partial: Path) -> bool:
    import h5py

    try:
        with h5py.File(partial, "r") as f:
            return all(f[name].id.get_offset() is not None for name in (schema.IDX, schema.VAL))
    except (OSError, KeyError):  # missing, or damaged by a crash of the machine
        return False


def _create(partial: Path, layout: CodesLayout, attrs: dict[str, Any]) -> None:
    import h5py

    spans = []
    with h5py.File(partial, "w", **ALIGNED) as f:
        for name, dtype in ((schema.IDX, np.int32), (schema.VAL, np.float16)):
            data = f.create_dataset(name, shape=(layout.n_rows, layout.k), dtype=dtype)
            if layout.n_rows:  # a contiguous dataset's storage is placed at its first write
                data[layout.n_rows - 1] = 0
                spans.append((data.id.get_offset(), data.id.get_storage_size()))
        _set_attrs(f, {"n_latents": layout.n_latents, "k": layout.k, **attrs})
    fd = os.open(partial, os.O_RDWR)
    try:
        for offset, size in spans:  # HDF5 leaves the file sparse: reserve the blocks now
            os.posix_fallocate(fd, offset, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_attrs(f: Any, attrs: dict[str, Any]) -> None:
    """A codes file's attributes; dicts (the SAE's config) are kept as JSON."""
    for key, value in attrs.items():
        f.attrs[key] = json.dumps(value, default=str) if isinstance(value, dict) else value


def discard_parts(target: Path) -> None:
    """Remove an unfinished run's partial file and marks."""
    shutil.rmtree(parts_folder(target), ignore_errors=True)
    partial_path(target).unlink(missing_ok=True)


class CodesParts:
    """Writes parts' rows into the partial file of a prepared run."""

    def __init__(self, target: Path, layout: CodesLayout) -> None:
        import h5py

        self.target, self.layout = target, layout
        self._folder, self._partial = parts_folder(target), partial_path(target)
        with h5py.File(self._partial, "r") as f:
            self._offsets = {name: f[name].id.get_offset() for name in (schema.IDX, schema.VAL)}
        self._fd = os.open(self._partial, os.O_WRONLY)

    def done_mark(self, part: int) -> Path:
        return self._folder / f"part-{part:05d}.done"

    def missing(self) -> list[int]:
        return [p for p in range(self.layout.parts) if not self.done_mark(p).exists()]

    def write(self, start: int, idx: np.ndarray, val: np.ndarray) -> None:
        """The codes of rows start..start + len(idx)."""
        rows = (len(idx), self.layout.k)
        if idx.shape != rows or val.shape != rows or start + rows[0] > self.layout.n_rows:
            raise ValueError(f"codes of shape {idx.shape} and {val.shape} at row {start}")
        for name, codes, dtype in ((schema.IDX, idx, np.int32), (schema.VAL, val, np.float16)):
            data = np.ascontiguousarray(codes, dtype=dtype)
            at = self._offsets[name] + start * self.layout.k * data.itemsize
            self._pwrite(data.data.cast("B"), at)

    def _pwrite(self, data: memoryview, at: int) -> None:
        with disk_full_reported(self.target):
            while data:
                written = os.pwrite(self._fd, data, at)
                data, at = data[written:], at + written

    def mark_done(self, part: int) -> None:
        with disk_full_reported(self.target):
            os.fsync(self._fd)
            self.done_mark(part).touch()

    def close(self) -> None:
        os.close(self._fd)


def finish_parts(target: Path) -> None:
    """Every part is done: the partial file becomes `target`, the marks go."""
    partial = partial_path(target)
    with disk_full_reported(target):
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        partial.replace(target)
        folder = os.open(target.parent, os.O_RDONLY)  # the rename itself, durable
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    shutil.rmtree(parts_folder(target))
