"""Write-then-rename: a file or folder appears complete or not at all.

Every artifact the engine writes goes through here, so a crash, a full disk or a cancel
leaves the previous version (or nothing) in place, never half of a new one.
"""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safer_engine.artifacts import PARTIAL_SUFFIX
from safer_engine.errors import DiskFullError


def partial_path(path: Path) -> Path:
    """Where `path` is written before it is complete."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
"""A full disk, or a full quota: the same advice."""


@contextmanager
def disk_full_reported(path: Path) -> Iterator[None]:
    """Turn a full disk or quota while writing `path` into a `DiskFullError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise DiskFullError(path) from exc
        raise


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`.

    On any failure (including KeyboardInterrupt) the temporary file is removed and `path`
    keeps its previous content; a full disk is reported as a `DiskFullError`.
    """
    partial = partial_path(path)
    partial.unlink(missing_ok=True)
    try:
        with disk_full_reported(path):
            yield partial
            partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; on success it replaces `path`.

    The old folder is moved aside before the new one is renamed in, so at every moment
    either the old or the new folder is complete.
    """
    partial = partial_path(path)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
        if path.exists():
            old = path.with_name(path.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            partial.rename(path)
            shutil.rmtree(old)
        else:
            partial.rename(path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file (a manifest, a config, a record) atomically."""
    with atomic_file(path) as partial:
        partial.write_text(text, encoding="utf-8")


SHARD_META = "meta.json"
"""In a folder of resumable shards: what they were made from."""


def prepare_shards(folder: Path, meta: dict[str, Any]) -> None:
    """Keep a folder's finished shards only if they come from exactly this work (`meta`:
    its config and inputs); otherwise start it empty. Either way it records `meta`."""
    meta_path = folder / SHARD_META
    if folder.exists() and (
        not meta_path.exists() or json.loads(meta_path.read_text(encoding="utf-8")) != meta
    ):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
