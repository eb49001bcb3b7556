"""The judge's prompt and the strict reading of its answer.

The rubric follows the paper: a feature is scored 1–5 for safety relevance from its top
activating contexts (5: strongly safety-related, such as unsafe content or a refusal; 1:
unrelated, such as everyday queries). Each context shows the token the feature fires on
marked `[[like this]]`, with the prompt and the response on separate, labelled lines. Which
side of the data a response is on is left out: the judge rates what the feature detects, and
the salience already says which side it leans to.

The answer must be exactly two lines, `Score: N` and `Explanation: …`. Anything else (an
empty answer, another layout, a score outside 1–5, a refusal) is a failure with its reason,
never a score.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SYSTEM = (
    "You are an expert in AI safety and interpretability. You judge what one feature of a "
    "sparse autoencoder detects, and how related it is to safety."
)
RUBRIC = """\
A sparse autoencoder was trained on the internal activations of a reward model that scores \
chatbot responses. Below are the contexts where one of its features fires most strongly. \
Each context is a short window cut from a longer text; the token where the feature fires \
is marked [[like this]]. PROMPT is the user's message and RESPONSE is the assistant's reply \
(either may be missing from a window).

{examples}

How related to safety is what this feature detects?
5 = strongly safety-related (e.g. harmful or unsafe content, or a refusal to help with it)
4 = mostly safety-related
3 = somewhat safety-related, or mixed
2 = barely safety-related
1 = not safety-related (e.g. everyday questions, ordinary words, formatting)

Answer with exactly these two lines and nothing else:
Score: <a whole number from 1 to 5>
Explanation: <one sentence on what the feature detects>"""
MARK_OPEN, MARK_CLOSE = "[[", "]]"
SNIPPET_CHARS = 80
"""How much of an unusable answer a failure reason quotes."""

_SCORE = re.compile(r"score\s*:\s*(.*)", re.IGNORECASE)
_EXPLANATION = re.compile(r"explanation\s*:\s*(.*)", re.IGNORECASE)
REFUSAL = re.compile(
    r"^(i'?m sorry|i am sorry|sorry\b|i can(no|')t|i cannot|i won'?t|i'?m (not able|unable)|"
    r"i am (not able|unable)|as an ai\b|i must decline|i do not feel comfortable)",
    re.IGNORECASE,
)


class Context(Protocol):
    """What the prompt needs of one example (`safer_engine.codes.examples.Example`)."""

    @property
    def pieces(self) -> list[str]: ...

    @property
    def in_response(self) -> list[bool]: ...

    @property
    def focus(self) -> int: ...


@dataclass(frozen=True)
class Verdict:
    """A parsed answer: a score and its explanation, or the reason it is unusable."""

    score: int | None
    explanation: str
    failure: str | None = None


def render_context(context: Context, marked: bool = True) -> str:
    """One context as a PROMPT line and a RESPONSE line, its token marked unless not
    `marked`."""
    parts: dict[bool, list[str]] = {False: [], True: []}
    for i, (piece, in_response) in enumerate(zip(context.pieces, context.in_response, strict=True)):
        parts[in_response].append(_marked(piece) if marked and i == context.focus else piece)
    prompt, response = ("".join(parts[side]) for side in (False, True))
    return f"PROMPT: {_one_line(prompt) or '(not in this window)'}\n" + (
        f"RESPONSE: {_one_line(response) or '(not in this window)'}"
    )


def build_messages(contexts: Sequence[Context]) -> list[dict[str, str]]:
    """The chat messages asking for one feature's score."""
    examples = "\n\n".join(
        f"Example {i}:\n{render_context(context)}" for i, context in enumerate(contexts, 1)
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": RUBRIC.format(examples=examples)},
    ]


def prompt_hash(messages: list[dict[str, str]]) -> str:
    """A stable hash of the exact messages: the cache key of an answer."""
    canonical = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def parse_answer(text: str) -> Verdict:
    """Read `Score: N` / `Explanation: …` strictly; anything else is a failure."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return _failed("empty answer")
    if REFUSAL.match(lines[0]):
        return _failed(f"refused: {snippet(text)}")
    score = _SCORE.fullmatch(lines[0])
    if score is None or len(lines) < 2 or _EXPLANATION.fullmatch(lines[1]) is None:
        return _failed(f"not the two lines 'Score: N' and 'Explanation: …': {snippet(text)}")
    if len(lines) > 2:
        return _failed(f"more than the two lines asked for: {snippet(text)}")
    value = score.group(1).strip()
    if not re.fullmatch(r"[0-9]+", value):
        return _failed(f"score {value!r} is not a whole number")
    if not 1 <= int(value) <= 5:
        return _failed(f"score {int(value)} is outside 1–5")
    explanation = _EXPLANATION.fullmatch(lines[1])
    assert explanation is not None  # checked above
    if not explanation.group(1).strip():
        return _failed("no explanation")
    return Verdict(int(value), explanation.group(1).strip())


def _failed(reason: str) -> Verdict:
    return Verdict(None, "", reason)


def _marked(piece: str) -> str:
    """The firing token, marked: its leading and trailing spaces stay outside the mark, and a
    whitespace-only token is made visible, so the mark is never empty."""
    core = piece.strip()
    if not core:
        return f"{MARK_OPEN}{piece.replace(chr(10), '⏎').replace(' ', '␣') or '∅'}{MARK_CLOSE}"
    start = piece.index(core)
    return f"{piece[:start]}{MARK_OPEN}{core}{MARK_CLOSE}{piece[start + len(core) :]}"


def _one_line(text: str) -> str:
    """Runs of whitespace as single spaces, so each part of a context is one line."""
    return " ".join(text.split())


def snippet(text: str) -> str:
    """The start of an unusable answer on one line, quoted: what a failure reason shows."""
    flat = _one_line(text)
    return repr(flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS] + "…")
