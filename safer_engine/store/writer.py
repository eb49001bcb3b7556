"""Assemble a complete store from finished shards, then rename it into place.

Numbers only, contiguous and uncompressed where readers memory-map them. The file is written
as `store.h5.partial` and renamed over `store.h5` only when complete, so a crash, a full disk
or a cancel leaves the previous store untouched.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.errors import StoreError
from safer_engine.store.schema import ALIGNED, SCHEMA_VERSION, acts_group


@dataclass(frozen=True)
class StoreTexts:
    """The data's own texts and where each token lies in them (see `store/schema.py`)."""

    texts: list[str]
    prompt_text: np.ndarray
    response_text: np.ndarray
    char_start: np.ndarray
    char_end: np.ndarray


@dataclass(frozen=True)
class StoreTables:
    """Everything but the activations, known before the model runs."""

    tok_start: np.ndarray
    tok_end: np.ndarray
    resp_start: np.ndarray
    resp_end: np.ndarray
    pair_id: np.ndarray
    chosen_doc: np.ndarray
    rejected_doc: np.ndarray
    slice_codes: np.ndarray
    slice_names: list[str]
    split_codes: np.ndarray
    split_names: list[str]
    token_ids: np.ndarray
    pieces: list[str]
    texts: StoreTexts | None = None


def write_store(
    path: Path,
    tables: StoreTables,
    shards: Sequence[Path],
    layer: int,
    d_model: int,
    attrs: dict[str, Any],
) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        _write(partial, tables, shards, layer, d_model, attrs)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise StoreError(
                f"The disk filled up while writing {path.name}; the previous store is untouched.",
                "Free space (or use --keep selected for a smaller store) and run it again: "
                "finished shards are reused.",
            ) from exc
        raise StoreError(f"Cannot write {path}: {exc}", "Check the folder's permissions.") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write(
    partial: Path,
    tables: StoreTables,
    shards: Sequence[Path],
    layer: int,
    d_model: int,
    attrs: dict[str, Any],
) -> None:
    import h5py

    rows = sum(int(np.load(s, mmap_mode="r")["token_row"].shape[0]) for s in shards)
    with h5py.File(partial, "w", track_order=True, **ALIGNED) as f:
        f.attrs["schema_version"] = SCHEMA_VERSION
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value) if isinstance(value, dict) else value
        for name in ("tok_start", "tok_end", "resp_start", "resp_end"):
            f.create_dataset(f"docs/{name}", data=getattr(tables, name).astype(np.int64))
        f.create_dataset("pairs/pair_id", data=tables.pair_id.astype("S16"))
        f.create_dataset("pairs/chosen_doc", data=tables.chosen_doc.astype(np.int64))
        f.create_dataset("pairs/rejected_doc", data=tables.rejected_doc.astype(np.int64))
        for name, codes, names in (
            ("slice", tables.slice_codes, tables.slice_names),
            ("split", tables.split_codes, tables.split_names),
        ):
            ds = f.create_dataset(f"pairs/{name}", data=codes.astype(np.int16))
            ds.attrs["names"] = names
        f.create_dataset("tokens/ids", data=tables.token_ids.astype(np.int32))
        f.create_dataset("vocab/pieces", data=tables.pieces, dtype=h5py.string_dtype())
        if tables.texts is not None:
            _write_texts(f, tables.texts)
        group = f.create_group(acts_group(layer))
        values = group.create_dataset("values", shape=(rows, d_model), dtype=np.float16)
        columns = {
            name: group.create_dataset(name, shape=(rows,), dtype=dtype)
            for name, dtype in (("token_row", np.int64), ("doc", np.int64), ("selected", np.bool_))
        }
        start = 0
        for shard in shards:
            with np.load(shard) as part:
                end = start + part["token_row"].shape[0]
                values[start:end] = part["values"]
                for name, dataset in columns.items():
                    dataset[start:end] = part[name]
                start = end


def _write_texts(f: Any, texts: StoreTexts) -> None:
    encoded = [text.encode("utf-8") for text in texts.texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    f.create_dataset("texts/utf8", data=np.frombuffer(b"".join(encoded), dtype=np.uint8))
    f.create_dataset("texts/offsets", data=offsets)
    f.create_dataset("docs/prompt_text", data=texts.prompt_text.astype(np.int64))
    f.create_dataset("docs/response_text", data=texts.response_text.astype(np.int64))
    f.create_dataset("tokens/char_start", data=texts.char_start.astype(np.int32))
    f.create_dataset("tokens/char_end", data=texts.char_end.astype(np.int32))


def save_shard(path: Path, **arrays: np.ndarray) -> None:
    """Write one shard atomically: a shard file either is complete or does not exist."""
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, **arrays)  # type: ignore[arg-type]  # numpy's stub mistypes **kwds
    partial.replace(path)
