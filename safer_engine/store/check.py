"""`safer store check`: verify a store's integrity and say exactly what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safer_engine.errors import StoreError
from safer_engine.store.reader import StoreReader
from safer_engine.store.schema import TEXT_DATASETS

SCAN_ROWS = 65536
SCAN_TOKENS = 1 << 22


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
            *_check_texts(reader),
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


def _check_texts(r: StoreReader) -> list[str]:
    """The data's own texts, when the store has them: all of their datasets, offsets that
    cut valid UTF-8, documents that name existing texts, and every token's character span
    inside the text it belongs to."""
    present = [name for name in TEXT_DATASETS if name in r.h5]
    if not present:
        return []  # a store from before texts were kept: readers use vocab/pieces
    if len(present) < len(TEXT_DATASETS):
        missing = ", ".join(n for n in TEXT_DATASETS if n not in present)
        return [f"the store has some text datasets but lacks {missing}."]
    problems = []
    offsets = r.text_offsets
    n_bytes = int(r.text_utf8.shape[0])
    if offsets.size == 0 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        return ["texts/offsets does not start at 0 and increase."]
    if offsets[-1] != n_bytes:
        return [f"texts/offsets ends at byte {offsets[-1]}, but texts/utf8 has {n_bytes}."]
    lengths = np.zeros(r.n_texts, dtype=np.int64)
    for i in range(r.n_texts):
        try:
            lengths[i] = len(r.text(i))
        except UnicodeDecodeError:
            problems.append(f"text {i} is not valid UTF-8.")
            return problems
    for name, docs in (("prompt_text", r.prompt_text), ("response_text", r.response_text)):
        if docs.shape != (r.n_docs,):
            return [f"docs/{name} has shape {docs.shape}, not ({r.n_docs},)."]
        bad = np.flatnonzero((docs < 0) | (docs >= r.n_texts))
        if bad.size:
            return [f"docs/{name} names missing texts at {bad.size} document(s), first {bad[0]}."]
    n_tokens = int(r.token_ids.shape[0])
    for name, array in (("char_start", r.char_start), ("char_end", r.char_end)):
        if array.shape != (n_tokens,):
            return [f"tokens/{name} has shape {array.shape}, but tokens/ids has {n_tokens}."]
    return problems + _check_char_spans(r, lengths)


def _check_char_spans(r: StoreReader, lengths: np.ndarray) -> list[str]:
    """Every token's span inside its own text: prompt tokens in the prompt, response tokens
    in the response, none after the response; -1 (no text) on both ends or neither."""
    bad: dict[str, tuple[int, int]] = {}
    n_tokens = int(r.token_ids.shape[0])
    for lo in range(0, n_tokens, SCAN_TOKENS):
        hi = min(lo + SCAN_TOKENS, n_tokens)
        tokens = np.arange(lo, hi)
        doc = np.minimum(np.searchsorted(r.tok_end, tokens, side="right"), r.n_docs - 1)
        start = np.asarray(r.char_start[lo:hi]).astype(np.int64)
        end = np.asarray(r.char_end[lo:hi]).astype(np.int64)
        in_prompt = tokens < r.resp_start[doc]
        after = tokens >= r.resp_end[doc]
        text = np.where(in_prompt, r.prompt_text[doc], r.response_text[doc])
        mapped = start >= 0
        checks = {
            "have only one end of a span": mapped != (end >= 0),
            "end before they start": mapped & (end < start),
            "lie past the end of their text": mapped & (end > lengths[text]),
            "map text after the response": mapped & after,
        }
        for what, wrong in checks.items():
            at = np.flatnonzero(wrong)
            if at.size:
                count, first = bad.get(what, (0, lo + int(at[0])))
                bad[what] = (count + int(at.size), first)
    return [
        f"tokens/char_start and char_end: {count} token(s) {what}, first token {first}."
        for what, (count, first) in bad.items()
    ]
