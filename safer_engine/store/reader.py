"""Read a store without torch or transformers: memory maps over contiguous datasets.

The explorer opens stores through this module on machines without a GPU stack, so it
imports only numpy and h5py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.errors import StoreError
from safer_engine.store.schema import SCHEMA_VERSION, TEXT_DATASETS, acts_group

EPS = 1e-6


def memmap_dataset(path: Path, dataset: Any) -> Any:
    """A numpy memmap of a contiguous, uncompressed dataset; the dataset itself otherwise."""
    offset = dataset.id.get_offset()
    if offset is None or dataset.chunks is not None or dataset.compression is not None:
        return dataset
    return np.memmap(path, dtype=dataset.dtype, mode="r", offset=offset, shape=dataset.shape)


def normalise_rows(values: np.ndarray) -> np.ndarray:
    """The paper's per-token standardisation over the hidden dim, in float32."""
    x = values.astype(np.float32)
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return (x - mean) / (std + EPS)


def rebuild_store_hint(path: Path) -> str:
    """The one advice every command gives for a store that is damaged or fails a check."""
    return f"Rebuild it with `safer extract --workspace {Path(path).parent} --force`."


def damaged_store(path: Path, detail: str) -> StoreError:
    """The error every reader raises for a store that is truncated, corrupted or incomplete."""
    return StoreError(
        f"The activation store {path} is damaged ({detail}).", rebuild_store_hint(path)
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split()) if text else type(exc).__name__


class StoreReader:
    """Open `store.h5` read-only; small tables load eagerly, big ones are memory-mapped."""

    def __init__(self, path: Path) -> None:
        import h5py

        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(
                f"No store at {self.path}.", "Create it with `safer extract --workspace DIR`."
            )
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise damaged_store(self.path, f"truncated or corrupted: {_first_line(exc)}") from exc
        version = int(self._file.attrs.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            self._file.close()
            raise StoreError(
                f"{self.path} has store schema {version}; this version reads up to "
                f"{SCHEMA_VERSION}.",
                "Upgrade safer-explorer to open it.",
            )
        try:
            self._load()
        except KeyError as exc:
            self._file.close()
            raise damaged_store(
                self.path, f"part of its layout is missing: {_first_line(exc)}"
            ) from exc
        except (OSError, ValueError, TypeError) as exc:  # corrupted metadata or dataset headers
            self._file.close()
            raise damaged_store(self.path, f"unreadable layout: {_first_line(exc)}") from exc

    def _load(self) -> None:
        f = self._file
        attrs = f.attrs
        self.layer = int(attrs["layer"])
        self.d_model = int(attrs["d_model"])
        self.normalise = bool(attrs["normalise"])
        self.config: dict[str, Any] = json.loads(attrs["config"])
        self.data_fingerprint = str(attrs["data_fingerprint"])
        self.model = str(attrs["model"])
        self.tok_start = f["docs/tok_start"][()]
        self.tok_end = f["docs/tok_end"][()]
        self.resp_start = f["docs/resp_start"][()]
        self.resp_end = f["docs/resp_end"][()]
        self.chosen_doc = f["pairs/chosen_doc"][()]
        self.rejected_doc = f["pairs/rejected_doc"][()]
        self.token_ids = memmap_dataset(self.path, f["tokens/ids"])
        group = f[acts_group(self.layer)]
        self.values = memmap_dataset(self.path, group["values"])
        self.token_row = memmap_dataset(self.path, group["token_row"])
        self.row_doc = memmap_dataset(self.path, group["doc"])
        self.selected = memmap_dataset(self.path, group["selected"])
        self._pieces: list[str] | None = None
        self._load_texts()

    def _load_texts(self) -> None:
        """The data's own texts, when the store has them (stores written before they were
        kept have only `vocab/pieces`)."""
        f = self._file
        self.has_texts = all(name in f for name in TEXT_DATASETS)
        if not self.has_texts:
            return
        self.text_utf8 = memmap_dataset(self.path, f["texts/utf8"])
        self.text_offsets = f["texts/offsets"][()]
        self.prompt_text = f["docs/prompt_text"][()]
        self.response_text = f["docs/response_text"][()]
        self.char_start = memmap_dataset(self.path, f["tokens/char_start"])
        self.char_end = memmap_dataset(self.path, f["tokens/char_end"])

    @property
    def h5(self) -> Any:
        """The open h5py file, for tools that walk the whole layout."""
        return self._file

    @property
    def n_docs(self) -> int:
        return int(self.tok_start.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.chosen_doc.shape[0])

    @property
    def pieces(self) -> list[str]:
        """Text piece of every token id (read on first use: the vocabulary is large)."""
        if self._pieces is None:
            self._pieces = [
                p.decode("utf-8") if isinstance(p, bytes) else p
                for p in self._file["vocab/pieces"][()]
            ]
        return self._pieces

    def pair_ids(self) -> list[str]:
        return [p.decode("ascii") for p in self._file["pairs/pair_id"][()]]

    def codes(self, name: str) -> tuple[np.ndarray, list[str]]:
        """Per-pair codes and names of `slice` or `split`."""
        ds = self._file[f"pairs/{name}"]
        return ds[()], [str(n) for n in ds.attrs["names"]]

    def doc_tokens(self, doc: int) -> np.ndarray:
        return np.asarray(self.token_ids[self.tok_start[doc] : self.tok_end[doc]])

    def doc_pieces(self, doc: int) -> list[tuple[str, bool]]:
        """Each token's text piece of a document, and whether it is in the response."""
        start = int(self.tok_start[doc])
        lo, hi = int(self.resp_start[doc]), int(self.resp_end[doc])
        return [
            (self.pieces[int(t)], lo <= start + i < hi) for i, t in enumerate(self.doc_tokens(doc))
        ]

    def doc_text(self, doc: int) -> str:
        """The document as its tokens' pieces re-join it (template and special tokens
        included; for the data's own text see `doc_prompt` and `doc_response`)."""
        return "".join(piece for piece, _ in self.doc_pieces(doc))

    @property
    def n_texts(self) -> int:
        return int(self.text_offsets.shape[0] - 1) if self.has_texts else 0

    def text(self, index: int) -> str:
        """One of the data's own texts, by its index in `texts/offsets`."""
        lo, hi = int(self.text_offsets[index]), int(self.text_offsets[index + 1])
        return bytes(np.asarray(self.text_utf8[lo:hi])).decode("utf-8")

    def doc_prompt(self, doc: int) -> str:
        """The document's prompt as the data holds it (requires `has_texts`)."""
        return self.text(int(self.prompt_text[doc]))

    def doc_response(self, doc: int) -> str:
        """The document's response as the data holds it (requires `has_texts`)."""
        return self.text(int(self.response_text[doc]))

    def doc_char_spans(self, doc: int) -> tuple[np.ndarray, np.ndarray]:
        """Each token's (start, end) character span in the document's prompt or response."""
        lo, hi = int(self.tok_start[doc]), int(self.tok_end[doc])
        return np.asarray(self.char_start[lo:hi]), np.asarray(self.char_end[lo:hi])

    def token_window(self, row: int, before: int, after: int) -> np.ndarray:
        """Token ids around a token row, clipped to its document."""
        doc = int(np.searchsorted(self.tok_end, row, side="right"))
        lo = max(int(self.tok_start[doc]), row - before)
        hi = min(int(self.tok_end[doc]), row + after + 1)
        return np.asarray(self.token_ids[lo:hi])

    def activations(
        self, rows: np.ndarray | slice | None = None, normalise: bool | None = None
    ) -> np.ndarray:
        """Activation rows as float32, standardised when the store says so (or when asked)."""
        chosen = self.values[slice(None) if rows is None else rows]
        values = np.asarray(chosen)
        if self.normalise if normalise is None else normalise:
            return normalise_rows(values)
        return values.astype(np.float32)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
