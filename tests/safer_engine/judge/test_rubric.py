from __future__ import annotations

from dataclasses import dataclass

import pytest

from safer_engine.judge.rubric import (
    Verdict,
    build_messages,
    parse_answer,
    prompt_hash,
    render_context,
)


@dataclass
class Context:
    pieces: list[str]
    in_response: list[bool]
    focus: int


def context(prompt: list[str], response: list[str], focus: int) -> Context:
    return Context([*prompt, *response], [False] * len(prompt) + [True] * len(response), focus)


def test_the_firing_token_is_marked_and_prompt_and_response_are_separate_lines() -> None:
    shown = render_context(context(["how", " to", " make", " a", " bomb"], [" Sure", ","], 4))
    assert shown == "PROMPT: how to make a [[bomb]]\nRESPONSE: Sure,"


def test_a_window_without_prompt_or_response_says_so() -> None:
    only_response = render_context(context([], [" I", " can", "'t", " help"], 2))
    assert only_response == "PROMPT: (not in this window)\nRESPONSE: I can[['t]] help"
    only_prompt = render_context(context(["tell", " me"], [], 0))
    assert only_prompt.endswith("RESPONSE: (not in this window)")


def test_whitespace_tokens_are_visible_when_marked_and_newlines_flattened() -> None:
    shown = render_context(context(["line one", "\n"], ["ok\n\nthen"], 1))
    assert shown == "PROMPT: line one[[⏎]]\nRESPONSE: ok then"


def test_messages_number_every_context_and_ask_for_the_strict_format() -> None:
    contexts = [context(["a"], [" b"], 0), context(["c"], [" d"], 1)]
    system, user = build_messages(contexts)
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    assert "Example 1:\nPROMPT: [[a]]" in text and "Example 2:\nPROMPT: c\nRESPONSE: [[d]]" in text
    assert text.endswith(
        "Score: <a whole number from 1 to 5>\n"
        "Explanation: <one sentence on what the feature detects>"
    )
    assert "5 = strongly safety-related" in text and "1 = not safety-related" in text


def test_prompt_hash_follows_the_exact_messages() -> None:
    first = build_messages([context(["a"], [" b"], 0)])
    assert prompt_hash(first) == prompt_hash(build_messages([context(["a"], [" b"], 0)]))
    assert prompt_hash(first) != prompt_hash(build_messages([context(["a"], [" b"], 1)]))


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("Score: 5\nExplanation: fires on refusals.", Verdict(5, "fires on refusals.")),
        ("  score:1 \n\n explanation:  everyday words\n", Verdict(1, "everyday words")),
    ],
)
def test_good_answers_parse(answer: str, verdict: Verdict) -> None:
    assert parse_answer(answer) == verdict


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("   \n ", "empty answer"),
        ("Score: 7\nExplanation: very unsafe", "score 7 is outside 1–5"),
        ("Score: 0\nExplanation: nothing", "score 0 is outside 1–5"),
        ("Score: 4.5\nExplanation: hmm", "score '4.5' is not a whole number"),
        ("Score: four\nExplanation: hmm", "score 'four' is not a whole number"),
        ("Score: 4/5\nExplanation: hmm", "score '4/5' is not a whole number"),
        ("Score: 3\nExplanation:", "no explanation"),
        ("Score: 3", "not the two lines"),
        ("The score is 4 because it fires on bombs.", "not the two lines"),
        ('{"score": 4, "explanation": "x"}', "not the two lines"),
        ("**Score:** 4\nExplanation: x", "not the two lines"),
        ("Explanation: x\nScore: 4", "not the two lines"),
        ("Score: 4\nExplanation: x\nAlso it is about weapons.", "more than the two lines"),
        ("I'm sorry, but I can't help with rating harmful content.", "refused"),
        ("I cannot assist with that.", "refused"),
        ("As an AI, I do not judge.", "refused"),
    ],
)
def test_anything_else_is_a_failure_with_its_reason(answer: str, reason: str) -> None:
    verdict = parse_answer(answer)
    assert verdict.score is None and verdict.explanation == ""
    assert verdict.failure is not None and verdict.failure.startswith(reason)


def test_a_failure_quotes_a_short_snippet_of_the_answer() -> None:
    verdict = parse_answer("blah " * 100)
    assert verdict.failure is not None
    assert "'blah blah" in verdict.failure and len(verdict.failure) < 160
