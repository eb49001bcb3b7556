"""The held-out contexts a judge explanation is tested on: where the feature fires, drawn
across its activation quantiles, and where it does not, half of them near misses.

A context is the same token window the judge saw its examples in. No held-out window shares
text with a window the explanation was made from, nor with another held-out window: windows
are compared by the texts they show (the prompt's and the response's, by text id) and their
token positions from the response's start, so the same response under another prompt counts
as the same text; and no two windows read the same (the same tokens cut from other texts).
A context where the feature does not fire has no activation on any coded token of its
window. Near misses are what a vague explanation gets wrong: another window of
a response the feature fires in, or of a text close to it in the store (another response to
the same prompt, a neighbouring document); the rest are drawn at random. Every draw is
seeded by the feature, so the same store gives the same contexts (and the same prompts,
whose hashes are the cache keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal

import numpy as np

from safer_engine.codes.examples import Example, FeatureExamples

ContextKind = Literal["firing", "near", "random"]
NEIGHBOURS = 3
"""Documents on either side of one the feature fires in that count as close in the store."""
RANDOM_TRIES = 20
"""Random documents tried per context still wanted, before giving up on a rare gap."""

Place = tuple[int, int, int]
"""Text id, first and end token offset from the response's start."""


@dataclass(frozen=True)
class HeldOutContext:
    """One context to ask about, and whether the feature fires in it."""

    example: Example
    kind: ContextKind

    @property
    def firing(self) -> bool:
        return self.kind == "firing"


@dataclass(frozen=True)
class HeldOut:
    """A feature's held-out contexts: the firing ones, then the silent ones."""

    contexts: list[HeldOutContext]

    @property
    def firing(self) -> int:
        return sum(c.firing for c in self.contexts)

    @property
    def silent(self) -> int:
        return len(self.contexts) - self.firing

    @property
    def near_misses(self) -> int:
        return sum(c.kind == "near" for c in self.contexts)


@dataclass(frozen=True)
class _Window:
    """What a window shows: the places of its text, and its tokens (two windows of the same
    tokens read the same, whichever texts they are cut from)."""

    places: list[Place]
    tokens: bytes


@dataclass
class _Used:
    """The text already shown: the explained and the chosen windows."""

    by_text: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    tokens: set[bytes] = field(default_factory=set)

    def clashes(self, window: _Window) -> bool:
        return window.tokens in self.tokens or any(
            first < end_b and first_b < end
            for text, first, end in window.places
            for first_b, end_b in self.by_text.get(text, ())
        )

    def add(self, window: _Window) -> None:
        self.tokens.add(window.tokens)
        for text, first, end in window.places:
            self.by_text.setdefault(text, []).append((first, end))


def held_out_contexts(
    reader: FeatureExamples,
    feature: int,
    explained: Sequence[Example],
    firing: int,
    silent: int,
    seed: int = 0,
) -> HeldOut:
    """Up to `firing` contexts where the feature fires and `silent` where it does not (half
    of them near misses), none sharing text with the `explained` ones or each other."""
    used = _Used()
    for example in explained:
        used.add(_window(reader, example.doc, *reader.window_of(example.doc, example.token)))
    rng = np.random.default_rng([seed, feature])
    fired = _firing(reader, feature, used, firing)
    near = _silent(reader, feature, _close_docs(reader, fired), silent // 2, used, rng, "near")
    docs = rng.permutation(reader.store.n_docs)[: RANDOM_TRIES * max(silent, 1)]
    wanted = silent - len(near)
    others = _silent(reader, feature, docs.tolist(), wanted, used, rng, "random", once=True)
    return HeldOut([*fired, *near, *others])


def _window(reader: FeatureExamples, doc: int, lo: int, hi: int) -> _Window:
    """What the window [lo, hi) of `doc` shows: the prompt's and the response's text."""
    s = reader.store
    start = int(s.resp_start[doc])
    places = []
    if lo < start:
        places.append((int(s.prompt_text[doc]), lo - start, min(hi, start) - start))
    if hi > start:
        places.append((int(s.response_text[doc]), max(lo, start) - start, hi - start))
    return _Window(places, np.asarray(s.token_ids[lo:hi]).tobytes())


def _firing(reader: FeatureExamples, feature: int, used: _Used, n: int) -> list[HeldOutContext]:
    """Up to `n` windows around activations spread evenly over the feature's ranking: at
    each target rank, the first one from there down whose text is still unseen."""
    codes, s = reader.codes, reader.store
    start, end = int(codes.offsets[feature]), int(codes.offsets[feature + 1])
    count = end - start
    if not count or not n:
        return []
    rows = np.asarray(codes.rows[start:end])
    taken = np.zeros(count, dtype=bool)
    found: list[HeldOutContext] = []
    targets = np.unique(np.rint(np.linspace(0, count - 1, min(n, count))).astype(np.int64))
    for target in targets.tolist():
        for rank in chain(range(target, count), range(target - 1, -1, -1)):
            if taken[rank]:
                continue
            taken[rank] = True  # `used` only grows: a window that overlaps now always will
            row = int(rows[rank])
            doc, token = int(s.row_doc[row]), int(s.token_row[row])
            window = _window(reader, doc, *reader.window_of(doc, token))
            if used.clashes(window):
                continue
            used.add(window)
            quantile = 1.0 - rank / max(count - 1, 1)
            found.append(HeldOutContext(reader.example_at(feature, row, quantile), "firing"))
            break
    return found


def _close_docs(reader: FeatureExamples, fired: list[HeldOutContext]) -> list[int]:
    """Where near misses come from, closest first: the documents the firing contexts are
    in, then other responses to their prompts, then their neighbours in the store."""
    s = reader.store
    docs = list(dict.fromkeys(c.example.doc for c in fired))
    prompts = {int(s.prompt_text[d]) for d in docs}
    same_prompt = np.flatnonzero(np.isin(s.prompt_text, list(prompts))).tolist()
    neighbours = [
        d + step
        for d in docs
        for offset in range(1, NEIGHBOURS + 1)
        for step in (-offset, offset)
        if 0 <= d + step < s.n_docs
    ]
    return list(dict.fromkeys(chain(docs, same_prompt, neighbours)))


def _silent(
    reader: FeatureExamples,
    feature: int,
    docs: list[int],
    n: int,
    used: _Used,
    rng: np.random.Generator,
    kind: ContextKind,
    once: bool = False,
) -> list[HeldOutContext]:
    """Up to `n` windows where the feature does not fire, one per document in turn (going
    round again until no document has one left, unless `once`)."""
    found: list[HeldOutContext] = []
    open_docs = list(docs)
    while len(found) < n and open_docs:
        still_open = []
        for doc in open_docs:
            if len(found) == n:
                break
            row = _silent_row(reader, feature, doc, used, rng)
            if row is not None:
                found.append(HeldOutContext(reader.example_at(feature, row, 0.0), kind))
                still_open.append(doc)
        open_docs = [] if once else still_open
    return found


def _silent_row(
    reader: FeatureExamples, feature: int, doc: int, used: _Used, rng: np.random.Generator
) -> int | None:
    """A random coded token of `doc` whose window the feature does not fire in and whose
    text is unseen (its row, now marked used); None if there is none."""
    s = reader.store
    rows = reader.doc_rows(doc)
    if rows.stop <= rows.start:
        return None
    first = int(s.tok_start[doc])
    fires = np.r_[0, np.cumsum(reader.doc_activations(feature, doc) > 0)]
    for offset in rng.permutation(rows.stop - rows.start).tolist():
        row = rows.start + offset
        token = int(reader.token_rows[row])
        lo, hi = reader.window_of(doc, token)
        if fires[hi - first] - fires[lo - first]:
            continue
        window = _window(reader, doc, lo, hi)
        if not used.clashes(window):
            used.add(window)
            return row
    return None
