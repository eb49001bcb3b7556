"""What a store holds: datasets with shapes, types and sizes, and its recorded config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safer_engine.store.reader import StoreReader


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    contiguous: bool


@dataclass(frozen=True)
class StoreInfo:
    path: Path
    file_bytes: int
    attrs: dict[str, Any]
    datasets: list[DatasetInfo]


def store_info(path: Path) -> StoreInfo:
    import h5py

    with StoreReader(path) as reader:
        datasets: list[DatasetInfo] = []

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                datasets.append(
                    DatasetInfo(
                        name=name,
                        shape=tuple(obj.shape),
                        dtype=str(obj.dtype),
                        bytes=int(obj.id.get_storage_size()),
                        contiguous=obj.chunks is None
                        and obj.id.get_offset() is not None
                        and obj.dtype.kind != "O",
                    )
                )

        reader.h5.visititems(visit)
        attrs = {
            k: (v.item() if hasattr(v, "item") else v)
            for k, v in reader.h5.attrs.items()
            if k != "rm_info"
        }
    return StoreInfo(path, path.stat().st_size, attrs, datasets)
