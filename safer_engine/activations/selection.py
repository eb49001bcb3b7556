"""Which response tokens feed salience and the SAE (the paper's token selection).

`sentence_end` is the paper's rule: the token that ends each run of `. , ? ! ; \\n` is a
candidate (consecutive delimiter tokens form one run); candidates in the first `skip`
response positions are dropped, and a candidate closer than `spacing` tokens to the previous
selected one is dropped too. `all` keeps every response token, `last` the final one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Policy = Literal["sentence_end", "all", "last"]
POLICIES: tuple[str, ...] = ("sentence_end", "all", "last")
DELIMITERS = frozenset(".,?!;\n")
SKIP = 5
SPACING = 5


def is_delimiter(piece: str) -> bool:
    """A token made only of delimiters (spaces aside), such as '.', '?!' or '.\\n\\n'."""
    core = piece.replace(" ", "").replace("\t", "")
    return bool(core) and all(ch in DELIMITERS for ch in core)


def sentence_end_mask(
    delimiter: np.ndarray, resp_start: np.ndarray, skip: int = SKIP, spacing: int = SPACING
) -> np.ndarray:
    """The sentence-end rule over many documents at once, as a bool mask of selected tokens.

    `delimiter` is bool [n_docs, length], each row a document whose response runs from
    column `resp_start[row]` to the row's end. Vectorised over documents; the spacing rule is
    greedy from the left, so it steps through the columns that hold a candidate.
    """
    n, length = delimiter.shape
    column = np.arange(length)
    after = np.zeros_like(delimiter)
    after[:, :-1] = delimiter[:, 1:]
    candidate = delimiter & ~after & (column[None, :] - resp_start[:, None] >= skip)
    selected = np.zeros_like(delimiter)
    last = np.full(n, -spacing, dtype=np.int64)
    for j in np.flatnonzero(candidate.any(axis=0)):
        take = candidate[:, j] & (j - last >= spacing)
        selected[:, j] = take
        last = np.where(take, j, last)
    return selected


def sentence_ends(pieces: list[str], skip: int = SKIP, spacing: int = SPACING) -> list[int]:
    """Positions (within the response) selected by the paper's sentence-end rule."""
    flags = np.array([[is_delimiter(piece) for piece in pieces]], dtype=bool).reshape(1, -1)
    mask = sentence_end_mask(flags, np.zeros(1, dtype=np.int64), skip, spacing)
    return [int(i) for i in np.flatnonzero(mask[0])]


def select(policy: Policy, pieces: list[str]) -> list[int]:
    if policy == "all":
        return list(range(len(pieces)))
    if policy == "last":
        return [len(pieces) - 1] if pieces else []
    return sentence_ends(pieces)


def selected_flat(policy: Policy, delimiter: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """`select` over many responses at once: `delimiter` is bool over the tokens of every
    response in turn (`lengths[i]` tokens of response i); returns which of them are selected,
    the same shape."""
    total = int(lengths.sum())
    if policy == "all":
        return np.ones(total, dtype=bool)
    mask = np.zeros(total, dtype=bool)
    ends = np.cumsum(lengths)
    if policy == "last":
        mask[ends[lengths > 0] - 1] = True
        return mask
    if total == 0:
        return mask
    starts = ends - lengths
    response = np.repeat(np.arange(lengths.shape[0]), lengths)
    column = np.arange(total) - starts[response]
    grid = np.zeros((lengths.shape[0], int(lengths.max())), dtype=bool)
    grid[response, column] = delimiter
    chosen = sentence_end_mask(grid, np.zeros(lengths.shape[0], dtype=np.int64))
    return chosen[response, column]
