from __future__ import annotations

import numpy as np
import pytest

from safer_engine.activations.selection import is_delimiter, select, selected_flat, sentence_ends


def words(text: str) -> list[str]:
    return text.split(" ")


def test_run_ends_after_the_first_five_positions_and_five_apart() -> None:
    #        0    1    2   3    4   5  6    7   8   9  10  11 12 13 14  15   16
    text = "one two three four five . six seven eight . nine , ten ? ! eleven ."
    # 5 is the sixth position (past the skip); 9 is 4 after 5: too close; "? !" is one run
    # ending at 14, 3 after 11: too close; 16 is 5 after 11
    assert sentence_ends(words(text)) == [5, 11, 16]


def test_delimiters_within_the_skip_are_dropped() -> None:
    assert sentence_ends(words("Hi . Yes . ok now")) == []
    assert sentence_ends(words("Hi . Yes . ok now .")) == [6]


def test_a_run_selects_its_last_token() -> None:
    pieces = ["a", "b", "c", "d", "e", "f", ".", "\n", "\n\n", "g"]
    assert sentence_ends(pieces) == [8]


def test_text_without_delimiters_selects_nothing() -> None:
    assert sentence_ends(words("no punctuation at all in this long answer here")) == []
    assert select("sentence_end", []) == []


@pytest.mark.parametrize(
    ("piece", "expected"),
    [
        (".", True),
        (" ?", True),
        ("?!", True),
        (".\n\n", True),
        ("\n", True),
        ("end.", False),
        ("", False),
        (" ", False),
        (":", False),
    ],
)
def test_delimiter_tokens(piece: str, expected: bool) -> None:
    assert is_delimiter(piece) is expected


def test_all_and_last_policies() -> None:
    pieces = words("a b c")
    assert select("all", pieces) == [0, 1, 2]
    assert select("last", pieces) == [2]
    assert select("last", []) == []


@pytest.mark.parametrize("policy", ["sentence_end", "all", "last"])
def test_selection_over_many_responses_equals_each_alone(policy: str) -> None:
    rng = np.random.default_rng(0)
    words = ["a", "b", ".", ",", "?!", "\n", " ", "x.y", "; "]
    responses = [
        [words[i] for i in rng.integers(0, len(words), size=n)] for n in (0, 1, 4, 7, 30, 64, 3)
    ]
    lengths = np.array([len(r) for r in responses], dtype=np.int64)
    flags = np.array([is_delimiter(p) for r in responses for p in r], dtype=bool)
    mask = selected_flat(policy, flags, lengths)  # type: ignore[arg-type]
    at = 0
    for response in responses:
        assert np.flatnonzero(mask[at : at + len(response)]).tolist() == select(
            policy,  # type: ignore[arg-type]
            response,
        )
        at += len(response)
