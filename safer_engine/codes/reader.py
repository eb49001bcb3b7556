"""Read an SAE's codes and feature files without torch: memory maps over contiguous datasets.

The explorer opens these on machines without a GPU stack, so this module imports only numpy
and h5py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from safer_engine import artifacts as names
from safer_engine.codes import schema
from safer_engine.errors import StoreError
from safer_engine.store.reader import memmap_dataset


class CodesReader:
    """`codes.h5` and the feature index and statistics of one SAE folder, opened read-only."""

    def __init__(self, sae_dir: Path, features: bool = True) -> None:
        """Open the codes, and unless `features` is False the feature index and statistics
        (the salience stage reads the codes before those exist)."""
        self.sae_dir = Path(sae_dir)
        self.codes_path = self.sae_dir / names.CODES_FILE
        own_file = self.sae_dir / names.FEATURES_FILE
        # Workspaces from before the salience stage kept the index inside codes.h5.
        self.features_path = own_file if own_file.exists() else self.codes_path
        self._codes = _open(self.codes_path, "Run `safer encode --workspace DIR`.")
        try:
            self._features = (
                self._codes
                if self.features_path == self.codes_path
                else _open(self.features_path, "Run `safer encode --workspace DIR --force`.")
            )
            self._load_codes()
            if features:
                self._load_features()
        except BaseException:
            self.close()
            raise

    def _load_codes(self) -> None:
        codes = self._codes
        try:
            self.n_latents = int(codes.attrs["n_latents"])
            self.k = int(codes.attrs["k"])
            self.idx = memmap_dataset(self.codes_path, codes[schema.IDX])
            self.val = memmap_dataset(self.codes_path, codes[schema.VAL])
        except KeyError as exc:
            raise _incomplete(self.sae_dir, exc) from exc

    def _load_features(self) -> None:
        features = self._features
        try:
            self.offsets = features[schema.OFFSETS][()]
            self.rows = memmap_dataset(self.features_path, features[schema.ROWS])
            self.vals = memmap_dataset(self.features_path, features[schema.VALS])
            self.hist = memmap_dataset(self.features_path, features[schema.stat("hist")])
        except KeyError as exc:
            raise _incomplete(self.sae_dir, exc) from exc

    @property
    def n_rows(self) -> int:
        return int(self.idx.shape[0])

    def stat(self, name: str) -> np.ndarray:
        """One per-feature statistic (see `safer_engine.codes.schema`)."""
        return np.asarray(self._features[schema.stat(name)][()])

    def histogram(self, feature: int) -> list[int]:
        return [int(v) for v in np.asarray(self.hist[feature])]

    def close(self) -> None:
        for handle in {id(f): f for f in _opened(self)}.values():
            handle.close()

    def __enter__(self) -> CodesReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _incomplete(sae_dir: Path, exc: KeyError) -> StoreError:
    return StoreError(
        f"The SAE codes in {sae_dir} lack part of their layout ({exc}).",
        "Run `safer encode --workspace DIR --force` to write them again.",
    )


def _opened(reader: CodesReader) -> list[Any]:
    return [getattr(reader, name) for name in ("_codes", "_features") if hasattr(reader, name)]


def _open(path: Path, hint: str) -> Any:
    import h5py

    if not path.exists():
        raise StoreError(f"No SAE codes at {path}.", hint)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise StoreError(
            f"{path} is not a readable HDF5 file (truncated or corrupted: {exc}).",
            "Run `safer encode --workspace DIR --force` to write it again.",
        ) from exc
