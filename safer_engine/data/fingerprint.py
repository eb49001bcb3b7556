"""Stable identities for pairs and whole tables, independent of row order and reloads."""

from __future__ import annotations

import hashlib

import polars as pl

SEPARATOR = "\x1f"


def pair_id(prompt: str, chosen: str, rejected: str) -> str:
    """16 hex digits of SHA-256 over the pair's texts."""
    text = SEPARATOR.join((prompt, chosen, rejected))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def with_pair_ids(frame: pl.DataFrame) -> pl.DataFrame:
    ids = [pair_id(*row) for row in frame.select("prompt", "chosen", "rejected").iter_rows()]
    return frame.with_columns(pl.Series("pair_id", ids, dtype=pl.Utf8))


def table_fingerprint(frame: pl.DataFrame) -> str:
    """SHA-256 over the sorted (pair_id, slice, split) rows: same content, same fingerprint."""
    rows = sorted(
        SEPARATOR.join(str(v) for v in row)
        for row in frame.select("pair_id", "slice", "split").iter_rows()
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
