"""What every judge backend is: an async `complete(messages) -> Reply`, with its counters.

A backend raises `RequestFailed` when one request failed for good (after its retries): that
feature gets a failure row and the run goes on. Anything that would fail every request the
same way (a refused key, an unreachable server, endless rate limiting, a model that cannot
load) is a `SaferError` instead, and stops the run; what finished is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TokenChoice:
    """One token of an answer with its log-probability and its likeliest alternatives."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()
    """(token, log-probability) of the likeliest tokens at this place."""


@dataclass(frozen=True)
class Reply:
    """One answer: its text and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: bool = False
    """The answer stopped at the token limit."""
    refusal: str | None = None
    """The server's own refusal field (OpenAI), when it refused instead of answering."""
    logprobs: tuple[TokenChoice, ...] | None = None
    """Each answer token's log-probabilities, when asked for and given."""


class RequestFailed(Exception):
    """One request failed after its retries; `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CallStats:
    """What a backend did during one run."""

    calls: int = 0
    """Requests sent (or local generations run), retries included."""
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def count(self, reply: Reply) -> Reply:
        """Add one answer's tokens; returns it."""
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        return reply


class ChatBackend(Protocol):
    """A judge model behind a chat interface."""

    name: str
    """The backend's kind, "openai" or "local": part of every cache key."""
    model: str
    """The model answering, as recorded with each judgement: part of every cache key."""
    base_url: str | None
    """Where the model is served (recorded, not a key); None for the local backend."""
    stats: CallStats

    async def start(self) -> None:
        """Get ready to answer (connect, load the model); called once per run."""

    async def complete(self, messages: list[dict[str, str]]) -> Reply:
        """Answer one conversation; `RequestFailed` when this request failed for good."""
        ...

    async def choose(
        self, messages: list[dict[str, str]], prefixes: list[str], logprobs: bool
    ) -> Reply:
        """Answer a question asked to be answered with one line per prefix, each the prefix
        then yes or no (`judge.fit_prompt`). A server answers freely, with the tokens'
        log-probabilities when `logprobs`; a local model is guided into the form and gives
        P(yes) against P(no) always. `RequestFailed` as `complete`."""
        ...

    async def close(self) -> None:
        """Release connections or the model."""
