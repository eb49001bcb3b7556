"""Read an SAE's codes and feature files without torch: memory maps over contiguous datasets.

The explorer opens these on machines without a GPU stack, so this module imports only numpy
and h5py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine import artifacts as names
from safer_engine.codes import schema
from safer_engine.errors import StoreError
from safer_engine.store.reader import memmap_dataset


@dataclass(frozen=True)
class Histogram:
    """A feature's nonzero activations over every stored token, counted in bins."""

    counts: list[int]
    edges: list[float]
    """The bins' edges (one more than the counts): linear from 0 to the largest activation
    of any feature, shared by every feature of the SAE."""


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
        self._codes = _open(self.codes_path)
        try:
            self._load_codes()
            if features:
                self._features = (
                    self._codes
                    if self.features_path == self.codes_path
                    else _open(self.features_path)
                )
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
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise damaged_sae_file(self.codes_path, _layout_problem(exc)) from exc

    def _load_features(self) -> None:
        features = self._features
        try:
            self.offsets = features[schema.OFFSETS][()]
            self.rows = memmap_dataset(self.features_path, features[schema.ROWS])
            self.vals = memmap_dataset(self.features_path, features[schema.VALS])
            self.hist = memmap_dataset(self.features_path, features[schema.stat("hist")])
            self.hist_edges = [float(e) for e in features[schema.stat("hist_edges")][()]]
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise damaged_sae_file(self.features_path, _layout_problem(exc)) from exc

    @property
    def n_rows(self) -> int:
        return int(self.idx.shape[0])

    def stat(self, name: str) -> np.ndarray:
        """One per-feature statistic (see `safer_engine.codes.schema`)."""
        return np.asarray(self._features[schema.stat(name)][()])

    def histogram(self, feature: int) -> Histogram:
        return Histogram([int(v) for v in np.asarray(self.hist[feature])], self.hist_edges)

    def close(self) -> None:
        for handle in {id(f): f for f in _opened(self)}.values():
            handle.close()

    def __enter__(self) -> CodesReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rebuild_sae_files_hint(sae_dir: Path) -> str:
    """The one advice every command gives for an SAE's damaged codes or feature files."""
    sae_dir = Path(sae_dir)
    return (
        f"Rebuild them with `safer encode --workspace {sae_dir.parent.parent} "
        f"--sae {sae_dir.name} --force`."
    )


def damaged_sae_file(path: Path, detail: str) -> StoreError:
    """The error for a codes or features file that is truncated, corrupted or incomplete."""
    return StoreError(
        f"The SAE file {path} is damaged ({detail}).", rebuild_sae_files_hint(Path(path).parent)
    )


def sae_files_damage(sae_dir: Path, features: bool = True) -> str | None:
    """Why the SAE's codes (and, unless `features` is False, feature files) do not open;
    None when they open (or are absent: a missing file is not damage)."""
    try:
        CodesReader(sae_dir, features=features).close()
    except StoreError as exc:
        return None if exc.message.startswith(_MISSING) else exc.message
    return None


def feature_count(sae_dir: Path) -> int | None:
    """How many features the SAE has: the rows of its salience table, else its codes'
    latent count, else its sae-lens config's `d_sae`; None when none of them can be read."""
    sae_dir = Path(sae_dir)
    table = sae_dir / names.SALIENCE_FILE
    if table.exists():
        try:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(table).metadata.num_rows)
        except (OSError, ValueError):  # damaged: ask the next source
            pass
    try:
        with CodesReader(sae_dir, features=False) as codes:
            return codes.n_latents
    except StoreError:
        pass
    try:
        config = json.loads((sae_dir / names.SAE_CFG).read_text(encoding="utf-8"))
        return int(config["d_sae"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _layout_problem(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, KeyError):
        return f"part of its layout is missing: {text}"
    return f"unreadable layout: {text}"


def _opened(reader: CodesReader) -> list[Any]:
    return [getattr(reader, name) for name in ("_codes", "_features") if hasattr(reader, name)]


_MISSING = "No SAE file at"


def _open(path: Path) -> Any:
    import h5py

    if not path.exists():
        raise StoreError(
            f"{_MISSING} {path}.",
            f"Run `safer encode --workspace {path.parent.parent.parent} --sae {path.parent.name}`.",
        )
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        detail = " ".join(str(exc).split())
        raise damaged_sae_file(path, f"truncated or corrupted: {detail}") from exc
