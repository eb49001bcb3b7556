"""`safer store check`: verify a store's integrity and say exactly what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safer_engine.errors import StoreError
from safer_engine.store.reader import StoreReader

SCAN_ROWS = 65536


def check_store(path: Path, data_fingerprint: str | None = None, quick: bool = False) -> list[str]:
    """Every problem found, as one sentence each; an empty list means the store is sound.

    `quick` checks only what needs no pass over the tokens or activations (the file opens,
    its layout, documents, pairs, dataset lengths and data fingerprint): what `safer
    extract` checks before it calls a store up to date.
    """
    try:
        reader = StoreReader(path)
    except StoreError as exc:
        return [exc.message]
    with reader:
        if quick:
            return [
                *_check_docs(reader),
                *_check_pairs(reader),
                *_check_lengths(reader),
                *_check_fingerprint(reader, data_fingerprint),
            ]
        return [
            *_check_docs(reader),
            *_check_pairs(reader),
            *_check_tokens(reader),
            *_check_rows(reader),
            *_check_values(reader),
            *_check_fingerprint(reader, data_fingerprint),
        ]


def _check_docs(r: StoreReader) -> list[str]:
    problems = []
    n_tokens = int(r.token_ids.shape[0])
    starts, ends = r.tok_start, r.tok_end
    if len(starts) and starts[0] != 0:
        problems.append(f"docs/tok_start[0] is {starts[0]}, not 0.")
    gaps = np.flatnonzero(starts[1:] != ends[:-1])
    if gaps.size:
        problems.append(
            f"docs/tok_start is not contiguous with tok_end at {gaps.size} "
            f"document(s), first at document {gaps[0] + 1}."
        )
    if np.any(ends < starts):
        problems.append("docs/tok_end is below tok_start for some documents.")
    if len(ends) and ends[-1] != n_tokens:
        problems.append(f"docs end at token {ends[-1]} but tokens/ids has {n_tokens}.")
    outside = np.flatnonzero(
        (r.resp_start < starts) | (r.resp_end > ends) | (r.resp_end < r.resp_start)
    )
    if outside.size:
        problems.append(
            f"{outside.size} document(s) have a response span outside their "
            f"tokens, first document {outside[0]}."
        )
    return problems


def _check_pairs(r: StoreReader) -> list[str]:
    bad = np.flatnonzero(
        (r.chosen_doc < 0)
        | (r.chosen_doc >= r.n_docs)
        | (r.rejected_doc < 0)
        | (r.rejected_doc >= r.n_docs)
    )
    return (
        [f"{bad.size} pair(s) point to missing documents, first pair {bad[0]}."] if bad.size else []
    )


def _check_tokens(r: StoreReader) -> list[str]:
    vocab = len(r.pieces)
    ids = np.asarray(r.token_ids)
    bad = np.flatnonzero((ids < 0) | (ids >= vocab))
    return (
        [
            f"{bad.size} token id(s) are outside the vocabulary of {vocab}, first at "
            f"token row {bad[0]}."
        ]
        if bad.size
        else []
    )


def _lengths_differ(r: StoreReader) -> list[str]:
    lengths = {int(a.shape[0]) for a in (r.values, r.token_row, r.row_doc, r.selected)}
    return (
        [f"activation datasets disagree in length: {sorted(lengths)}."] if len(lengths) > 1 else []
    )


def _check_lengths(r: StoreReader) -> list[str]:
    if differ := _lengths_differ(r):
        return differ
    if r.values.shape[1:] != (r.d_model,):
        return [f"activations have width {r.values.shape[1:]}, but d_model is {r.d_model}."]
    return []


def _check_rows(r: StoreReader) -> list[str]:
    if differ := _lengths_differ(r):
        return differ
    problems = _check_lengths(r)
    rows = np.asarray(r.token_row)
    docs = np.asarray(r.row_doc)
    if rows.size and np.any(np.diff(rows) <= 0):
        first = int(np.flatnonzero(np.diff(rows) <= 0)[0]) + 1
        problems.append(f"acts token_row is not strictly increasing (row {first}).")
    if np.any((docs < 0) | (docs >= r.n_docs)):
        problems.append("acts doc points to missing documents.")
        return problems
    owner = np.searchsorted(r.tok_end, rows, side="right")
    wrong = np.flatnonzero(owner != docs)
    if wrong.size:
        problems.append(
            f"{wrong.size} activation row(s) name the wrong document, first row {wrong[0]}."
        )
    outside = np.flatnonzero((rows < r.resp_start[docs]) | (rows >= r.resp_end[docs]))
    if outside.size:
        problems.append(
            f"{outside.size} activation row(s) are not response tokens, first row {outside[0]}."
        )
    return problems


def _check_values(r: StoreReader) -> list[str]:
    bad, first = 0, -1
    for start in range(0, r.values.shape[0], SCAN_ROWS):
        block = np.asarray(r.values[start : start + SCAN_ROWS])
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            if first < 0:
                first = start + int(np.flatnonzero(~finite)[0])
            bad += int((~finite).sum())
    return [f"{bad} activation row(s) hold NaN or inf, first row {first}."] if bad else []


def _check_fingerprint(r: StoreReader, expected: str | None) -> list[str]:
    if expected is None or r.data_fingerprint == expected:
        return []
    return [
        f"the store was extracted from other data (fingerprint "
        f"{r.data_fingerprint[:12]}…) than the workspace's pairs ({expected[:12]}…)."
    ]
