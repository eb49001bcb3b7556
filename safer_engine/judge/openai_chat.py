"""The `openai` judge backend: any chat-completions server (vLLM, llama.cpp server, Ollama,
OpenAI) through the `openai` client.

Where it is and which model come from the environment (`OPENAI_BASE_URL`,
`SAFER_JUDGE_MODEL`, `OPENAI_API_KEY`); the key is only handed to the client, never stored
or shown. Answers are greedy (temperature 0) so that a cached answer stands for a new one.
Retries are ours, not the client's, so they can be counted: rate limits (429), server
errors (5xx), timeouts and lost connections are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from safer_engine.errors import JudgeError
from safer_engine.judge.chat import CallStats, Reply, RequestFailed, TokenChoice

if TYPE_CHECKING:
    from openai import AsyncOpenAI

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_MODEL = "SAFER_JUDGE_MODEL"
ENV_KEY = "OPENAI_API_KEY"
NO_KEY = "no-key"
"""Sent when OPENAI_API_KEY is unset: local servers need no key, and the client needs one."""
MAX_WAIT_S = 60.0
"""The longest wait before a retry, whatever a Retry-After header asks."""
RETRIED_STATUS = frozenset({408, 409, 429})
"""Besides 5xx: request timeout, conflict (a busy server) and rate limiting."""
MESSAGE_CHARS = 200
TOP_LOGPROBS = 5
"""Alternatives asked for at each answer token: enough to find both yes and no."""
TOKENS_PER_LINE = 8
"""Room for one answer line ('Example 12: yes') when a batch is asked about."""


@dataclass(frozen=True)
class OpenAISettings:
    """Where the judge is served and which model answers."""

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenAISettings:
        """Read the settings; a `JudgeError` naming what is missing."""
        env = os.environ if environ is None else environ
        missing = [name for name in (ENV_BASE_URL, ENV_MODEL) if not env.get(name, "").strip()]
        if missing:
            raise JudgeError(
                f"The openai judge backend needs {' and '.join(missing)} set.",
                f"Set {ENV_BASE_URL} to the server's address (usually ending in /v1) and "
                f"{ENV_MODEL} to the model it serves ({ENV_KEY} too if it needs a key), "
                "or judge on this machine with --backend local.",
            )
        base_url = env[ENV_BASE_URL].strip().rstrip("/")
        return cls(base_url, env[ENV_MODEL].strip(), env.get(ENV_KEY, "").strip())


@dataclass(frozen=True)
class _Problem:
    """How one failed attempt is handled: retried or not, and what it ends as."""

    reason: str
    retry: bool
    fatal: bool = False
    hint: str = ""
    retry_after: float | None = None


class OpenAIChat:
    """A chat-completions client with counted retries, a timeout and token counts."""

    name = "openai"

    def __init__(
        self,
        settings: OpenAISettings,
        *,
        max_tokens: int,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.base_url: str | None = settings.base_url
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.stats = CallStats()
        self._client: AsyncOpenAI | None = None

    async def start(self) -> None:
        from openai import AsyncOpenAI

        # Made inside the run's event loop, which its connections belong to.
        self._client = AsyncOpenAI(
            base_url=self.settings.base_url,
            api_key=self.settings.api_key or NO_KEY,
            timeout=self.timeout,
            max_retries=0,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def complete(self, messages: list[dict[str, str]]) -> Reply:
        return await self._create(messages, self.max_tokens, {})

    async def choose(
        self, messages: list[dict[str, str]], prefixes: list[str], logprobs: bool
    ) -> Reply:
        # each line is "Example k: yes": a few tokens, however short --max-tokens is
        room = max(self.max_tokens, TOKENS_PER_LINE * len(prefixes))
        extra = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if logprobs else {}
        return await self._create(messages, room, extra)

    async def _create(
        self, messages: list[dict[str, str]], max_tokens: int, extra: dict[str, Any]
    ) -> Reply:
        if self._client is None:
            await self.start()
        attempt = 0
        while True:
            self.stats.calls += 1
            try:
                response = await self._client.chat.completions.create(  # type: ignore[union-attr]
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=0,
                    **extra,
                )
            except Exception as exc:
                problem = self._problem(exc)
                if not problem.retry or attempt >= self.retries:
                    raise self._final(problem, attempt + 1) from exc
                await asyncio.sleep(self._delay(attempt, problem.retry_after))
                attempt += 1
                self.stats.retries += 1
                continue
            return self.stats.count(_reply(response))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff, or the server's Retry-After when longer, capped."""
        return min(MAX_WAIT_S, max(self.backoff * 2**attempt, retry_after or 0.0))

    def _final(self, problem: _Problem, tries: int) -> Exception:
        """What a problem ends as once it is not retried (any more)."""
        reason = problem.reason + (f" ({tries} tries)" if tries > 1 else "")
        if problem.fatal:
            return JudgeError(reason[0].upper() + reason[1:] + ".", problem.hint)
        return RequestFailed(reason)

    def _problem(self, exc: Exception) -> _Problem:
        """Sort one failed attempt: retry it, fail this feature, or stop the run."""
        import openai

        url, model = self.base_url, self.model
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return _Problem(
                f"the judge server at {url} refused the API key (HTTP {exc.status_code})",
                retry=False,
                fatal=True,
                hint=f"Check {ENV_KEY} (read from the environment, never stored).",
            )
        if isinstance(exc, openai.NotFoundError):
            return _Problem(
                f"the judge server at {url} has no model {model!r} or no chat-completions "
                "endpoint (HTTP 404)",
                retry=False,
                fatal=True,
                hint=f"Check {ENV_MODEL}, and that {ENV_BASE_URL} is the address under which "
                "/chat/completions is served (usually ending in /v1).",
            )
        if isinstance(exc, openai.RateLimitError):
            return _Problem(
                f"the judge server at {url} kept rate-limiting requests (HTTP 429)",
                retry=True,
                fatal=True,
                hint="Lower --concurrency, raise --retries or --backoff, or wait. Finished "
                "judgements are kept; a rerun asks only for the rest.",
                retry_after=_retry_after(exc),
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retry = status >= 500 or status in RETRIED_STATUS
            return _Problem(f"HTTP {status}: {_message(exc)}", retry=retry)
        if isinstance(exc, openai.APITimeoutError):
            return _Problem(f"no answer within {self.timeout:g} s", retry=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            return _Problem(
                f"cannot reach the judge server at {url}{cause}",
                retry=True,
                fatal=True,
                hint=f"Check {ENV_BASE_URL} and that the server is running.",
            )
        if isinstance(exc, (ValueError, openai.APIResponseValidationError)):
            return _Problem("the server's reply is not a chat completion", retry=False)
        raise exc


def _reply(response: Any) -> Reply:
    """The answer and its token counts from a chat completion."""
    try:
        choice = response.choices[0]
        message = choice.message
        usage = response.usage
    except (AttributeError, IndexError, TypeError) as exc:
        raise RequestFailed("the server's reply is not a chat completion") from exc
    return Reply(
        text=message.content or "",
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        truncated=choice.finish_reason == "length",
        refusal=getattr(message, "refusal", None) or None,
        logprobs=_logprobs(getattr(choice, "logprobs", None)),
    )


def _logprobs(found: Any) -> tuple[TokenChoice, ...] | None:
    """The answer tokens' log-probabilities (`choice.logprobs.content`), when given."""
    content = getattr(found, "content", None)
    if not content:
        return None
    try:
        return tuple(
            TokenChoice(
                str(item.token),
                float(item.logprob),
                tuple((str(t.token), float(t.logprob)) for t in item.top_logprobs or ()),
            )
            for item in content
        )
    except (AttributeError, TypeError, ValueError):
        return None  # a server's malformed extra: the answer itself still counts


def _retry_after(exc: Any) -> float | None:
    """A Retry-After header's seconds (its date form is ignored)."""
    try:
        return float(exc.response.headers.get("retry-after", ""))
    except (AttributeError, ValueError):
        return None


def _message(exc: Any) -> str:
    """The server's own error message (its `error.message`), else the client's."""
    body = getattr(exc, "body", None)
    found = body.get("message") if isinstance(body, dict) else None
    text = found if isinstance(found, str) and found.strip() else str(exc)
    return " ".join(text.split())[:MESSAGE_CHARS]
