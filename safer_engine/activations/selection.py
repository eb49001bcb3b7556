"""Which response tokens feed salience and the SAE (DESIGN §2, token selection).

`sentence_end` is the paper's rule: the token that ends each run of `. , ? ! ; \\n` is a
candidate (consecutive delimiter tokens form one run); candidates in the first `skip`
response positions are dropped, and a candidate closer than `spacing` tokens to the previous
selected one is dropped too. `all` keeps every response token, `last` the final one.
"""

from __future__ import annotations

from typing import Literal

Policy = Literal["sentence_end", "all", "last"]
POLICIES: tuple[str, ...] = ("sentence_end", "all", "last")
DELIMITERS = frozenset(".,?!;\n")
SKIP = 5
SPACING = 5


def is_delimiter(piece: str) -> bool:
    """A token made only of delimiters (spaces aside), such as '.', '?!' or '.\\n\\n'."""
    core = piece.replace(" ", "").replace("\t", "")
    return bool(core) and all(ch in DELIMITERS for ch in core)


def sentence_ends(pieces: list[str], skip: int = SKIP, spacing: int = SPACING) -> list[int]:
    """Positions (within the response) selected by the paper's sentence-end rule."""
    run_ends = [
        i
        for i, piece in enumerate(pieces)
        if is_delimiter(piece) and (i + 1 == len(pieces) or not is_delimiter(pieces[i + 1]))
    ]
    selected: list[int] = []
    for position in run_ends:
        if position < skip:
            continue
        if selected and position - selected[-1] < spacing:
            continue
        selected.append(position)
    return selected


def select(policy: Policy, pieces: list[str]) -> list[int]:
    if policy == "all":
        return list(range(len(pieces)))
    if policy == "last":
        return [len(pieces) - 1] if pieces else []
    return sentence_ends(pieces)
