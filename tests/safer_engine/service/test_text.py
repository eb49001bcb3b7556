"""Which tokens of a shown text a word search counts: the search's own rule, on the text."""

from __future__ import annotations

from safer_engine.service.text import Span, word_hits

SPANS = [
    Span("I'm", "response", 1.0, token=True),
    Span(" ", "response"),
    Span("Sorry", "response", 2.0, token=True),
    Span(", ", "response"),
    Span(" apolog", "response", 0.5, token=True),
    Span("ies", "response", 0.5, token=True),
    Span("sorry", "unseen"),  # never read by the model: no stored token
    Span("▍", "start"),
]


def test_a_word_matches_whole_tokens_in_any_case() -> None:
    assert word_hits(SPANS, "sorry") == [False, False, True, False, False, False, False, False]
    assert word_hits(SPANS, "SORRY apolog*") == [
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    assert not any(word_hits(SPANS, "sor"))  # a part of a word only with a *


def test_nothing_matches_an_empty_search() -> None:
    assert word_hits(SPANS, "  ") == [False] * len(SPANS)
    assert word_hits([], "sorry") == []
