"""The explanation-fit prompts and the strict reading of their yes/no answers."""

from __future__ import annotations

import math

import pytest

from safer_engine.judge.chat import Reply, TokenChoice
from safer_engine.judge.fit_prompt import (
    answer_prefixes,
    fit_messages,
    parse_answers,
    yes_probabilities,
)
from tests.safer_engine.judge import Context


def test_detection_shows_the_window_unmarked_and_fuzzing_marks_its_token() -> None:
    detection = fit_messages("refusals to help", [Context(1)], "detection")
    user = detection[1]["content"]
    assert "refusals to help" in user and "PROMPT: how do I hurt1" in user
    assert "RESPONSE:  Sure here" in user or "RESPONSE: Sure here" in user
    assert "[[" not in user and "fire anywhere in this window" in user
    assert user.endswith("Answer with one word: yes or no.")
    fuzzing = fit_messages("refusals to help", [Context(1)], "fuzzing")[1]["content"]
    assert "[[hurt1]]" in fuzzing and "marked token" in fuzzing


def test_a_batch_numbers_its_examples_and_asks_one_line_each() -> None:
    user = fit_messages("x", [Context(1), Context(2)], "detection")[1]["content"]
    assert "Example 1:\nPROMPT" in user and "Example 2:\nPROMPT" in user
    assert "exactly 2 lines" in user
    assert answer_prefixes(1) == [""]
    assert answer_prefixes(3) == ["Example 1: ", "Example 2: ", "Example 3: "]


@pytest.mark.parametrize(
    ("text", "n", "said"),
    [
        ("yes", 1, [True]),
        ("Example 1: no", 1, [False]),
        ("No.", 1, [False]),
        ("  YES\n", 1, [True]),
        ("Example 1: yes\nExample 2: no", 2, [True, False]),
        ("1: no\n2) yes", 2, [False, True]),
    ],
)
def test_answers_in_the_form_asked_are_read(text: str, n: int, said: list[bool]) -> None:
    assert parse_answers(Reply(text), n).said == said


@pytest.mark.parametrize(
    ("text", "n", "reason"),
    [
        ("", 1, "empty answer"),
        ("Yes, because it mentions harm.", 1, "not one word"),
        ("yes\nno", 1, "not one word"),
        ("I'm sorry, I can't help with that.", 1, "refused"),
        ("Example 1: yes", 2, "not 2 lines"),
        ("Example 2: yes\nExample 1: no", 2, "line 1 is not"),
        ("Example 1: maybe\nExample 2: no", 2, "line 1 is not"),
    ],
)
def test_any_other_answer_is_unusable_with_its_reason(text: str, n: int, reason: str) -> None:
    parsed = parse_answers(Reply(text), n)
    assert parsed.said is None and parsed.failure is not None and reason in parsed.failure


def test_a_cut_off_or_refused_reply_says_so() -> None:
    cut = parse_answers(Reply("Example 1: yes\nExam", truncated=True), 2)
    assert cut.failure is not None and "cut off at --max-tokens" in cut.failure
    refused = parse_answers(Reply("", refusal="I cannot"), 1)
    assert refused.failure is not None and refused.failure.startswith("refused")


def choice(token: str, p_yes: float) -> TokenChoice:
    """The answer token as a server gives it: itself among its top alternatives."""
    said = token.strip().lower() == "yes"
    p = p_yes if said else 1 - p_yes
    other = ("no", math.log(1 - p_yes)) if said else ("yes", math.log(p_yes))
    return TokenChoice(token, math.log(p), ((token, math.log(p)), other))


def test_p_yes_comes_from_each_answer_tokens_alternatives() -> None:
    reply = Reply("yes", logprobs=(choice("yes", 0.7),))
    assert yes_probabilities(reply, 1) == [pytest.approx(0.7)]
    # "Example 1: no" tokens: the words around the answer carry no probability
    batch = (
        TokenChoice("Example", -0.1),
        TokenChoice(" 1", -0.1),
        TokenChoice(":", -0.1),
        choice(" no", 0.2),
        TokenChoice("\n", -0.1),
        choice("Yes", 0.9),
    )
    assert yes_probabilities(Reply("", logprobs=batch), 2) == [
        pytest.approx(0.2),
        pytest.approx(0.9),
    ]
    # spellings of one word add up; other alternatives do not count
    spelt = TokenChoice(
        "yes",
        math.log(0.3),
        (("yes", math.log(0.3)), (" Yes", math.log(0.3)), ("no", math.log(0.2)), ("maybe", -0.5)),
    )
    assert yes_probabilities(Reply("yes", logprobs=(spelt,)), 1) == [pytest.approx(0.75)]


def test_no_probabilities_when_not_given_or_not_one_per_answer() -> None:
    assert yes_probabilities(Reply("yes"), 1) is None
    assert yes_probabilities(Reply("yes", logprobs=(choice("yes", 0.6),)), 2) is None
    assert yes_probabilities(Reply("maybe", logprobs=(TokenChoice("maybe", -0.1),)), 1) is None
