"""The prompts that test a judge explanation on held-out contexts, and the strict reading of
their yes/no answers.

Two methods, as delphi scores explanations: detection shows a context and asks whether the
feature, as described, fires anywhere in it; fuzzing marks one token `[[like this]]` (where
the feature fires, or one where it does not) and asks whether the feature fires on that
token. A call asks about one context or a batch of them; a batch is answered one line per
context, `Example k: yes` or `Example k: no`. An answer in any other form makes every
context of its call unusable, with the reason. Where the server returns log-probabilities,
each yes/no token's alternatives give P(yes), from which the AUC is computed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from safer_engine.config.fit import FitMethod
from safer_engine.judge.chat import Reply, TokenChoice
from safer_engine.judge.rubric import REFUSAL, Context, render_context, snippet

OPTIONS = ("yes", "no")
SYSTEM = (
    "You are an expert in interpretability. You check whether a description of what one "
    "feature of a sparse autoencoder detects holds on pieces of text."
)
INTRO = """\
A sparse autoencoder was trained on the internal activations of a reward model that scores \
chatbot responses. One of its features was described like this:

{explanation}

"""
ONE_WINDOW = "Below is a short window cut from a longer text."
WINDOWS = "Below are {n} short windows cut from longer texts."
LAYOUT = "PROMPT is the user's message and RESPONSE is the assistant's reply (either may be \
missing from a window)."
QUESTION: dict[FitMethod, str] = {
    "detection": "Going by the description alone, does this feature fire anywhere in {this}?",
    "fuzzing": "One token of {each} is marked [[like this]]. Going by the description alone, "
    "does this feature fire on the marked token of {this}?",
}
ANSWER_ONE = "Answer with one word: yes or no."
ANSWER_MANY = """\
Answer with exactly {n} lines, one per example in order, each 'Example <number>: yes' or \
'Example <number>: no', and nothing else."""
_LINE = re.compile(r"(?:example\s*)?(\d+)\s*[:.)-]\s*(yes|no)[.!]?", re.IGNORECASE)
_WORD = re.compile(r"(yes|no)[.!]?", re.IGNORECASE)
_STRIP = " \t\n.,!:;\"'`*"


@dataclass(frozen=True)
class Answers:
    """One call's answers: yes (True) or no per context, or why there are none."""

    said: list[bool] | None
    failure: str | None = None


def fit_messages(
    explanation: str, contexts: Sequence[Context], method: FitMethod
) -> list[dict[str, str]]:
    """The chat messages asking about one batch of contexts."""
    n = len(contexts)
    marked = method == "fuzzing"
    if n == 1:
        shown = render_context(contexts[0], marked)
        windows, this, each, answer = ONE_WINDOW, "this window", "the window", ANSWER_ONE
    else:
        shown = "\n\n".join(
            f"Example {i}:\n{render_context(c, marked)}" for i, c in enumerate(contexts, 1)
        )
        windows, this, each = WINDOWS.format(n=n), "each window", "each window"
        answer = ANSWER_MANY.format(n=n)
    question = QUESTION[method].format(this=this, each=each)
    text = (
        INTRO.format(explanation=explanation)
        + f"{windows} {LAYOUT}\n\n{shown}\n\n{question}\n{answer}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def answer_prefixes(n: int) -> list[str]:
    """What each answer line starts with before its yes or no (a guided model writes them)."""
    return [""] if n == 1 else [f"Example {k}: " for k in range(1, n + 1)]


def parse_answers(reply: Reply, n: int) -> Answers:
    """The yes/no of each of the call's `n` contexts, read strictly."""
    if reply.refusal:
        return Answers(None, f"refused: {snippet(reply.refusal)}")
    lines = [line.strip() for line in reply.text.strip().splitlines() if line.strip()]
    answers = _read(lines, n)
    if isinstance(answers, list):
        return Answers(answers)
    cut = " (cut off at --max-tokens)" if reply.truncated else ""
    return Answers(None, answers + cut)


def _read(lines: list[str], n: int) -> list[bool] | str:
    if not lines:
        return "empty answer"
    if REFUSAL.match(lines[0]):
        return f"refused: {snippet(' '.join(lines))}"
    if n == 1 and len(lines) == 1 and (word := _WORD.fullmatch(lines[0])):
        return [word.group(1).lower() == "yes"]
    if n == 1 and not _LINE.fullmatch(lines[0]):
        return f"not one word, yes or no: {snippet(' / '.join(lines))}"
    if len(lines) != n:
        expected = "one word, yes or no" if n == 1 else f"{n} lines 'Example k: yes|no'"
        return f"not {expected}: {snippet(' / '.join(lines))}"
    said = []
    for k, line in enumerate(lines, 1):
        match = _LINE.fullmatch(line)
        if match is None or int(match.group(1)) != k:
            return f"line {k} is not 'Example {k}: yes|no': {snippet(line)}"
        said.append(match.group(2).lower() == "yes")
    return said


def yes_probabilities(reply: Reply, n: int) -> list[float] | None:
    """P(yes) of each of the `n` answers, from the log-probabilities of the answer's yes/no
    tokens and their alternatives; None when the reply has none or its yes/no tokens are not
    exactly `n` (a tokenizer that splits the words, say)."""
    if reply.logprobs is None:
        return None
    found = [p for choice in reply.logprobs if (p := _p_yes(choice)) is not None]
    return found if len(found) == n else None


def _p_yes(choice: TokenChoice) -> float | None:
    """P(yes) / (P(yes) + P(no)) at a yes or no token; None at any other token."""
    if _word(choice.token) not in OPTIONS:
        return None
    alternatives = dict(choice.top)
    alternatives.setdefault(choice.token, choice.logprob)
    mass = dict.fromkeys(OPTIONS, 0.0)
    for token, logprob in alternatives.items():
        word = _word(token)
        if word in mass:
            mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total > 0 else None


def _word(token: str) -> str:
    return token.strip(_STRIP).lower()
