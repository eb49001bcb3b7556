"""What the explorer shows of a document's text (see `safer_engine.store.text`), for the
screens, which reach the engine through this package only."""

from __future__ import annotations

from collections.abc import Sequence

from safer_engine.analysis.word_search import matching_pieces
from safer_engine.store.text import CUT, MARKERS, START, STOP, Part, Span, plain_text

__all__ = ["CUT", "MARKERS", "START", "STOP", "Part", "Span", "plain_text", "word_hits"]


def word_hits(spans: Sequence[Span], query: str) -> list[bool]:
    """Which spans are tokens a word search for `query` counts (the rule of
    `safer_engine.analysis.word_search`, on each token's own text); none for an empty
    query."""
    if not query.split():
        return [False] * len(spans)
    hits = set(matching_pieces([span.text if span.token else "" for span in spans], query))
    return [i in hits for i in range(len(spans))]
