"""The judge backend a config asks for."""

from __future__ import annotations

from collections.abc import Mapping

from safer_engine.config import JudgeConfig
from safer_engine.judge.chat import ChatBackend
from safer_engine.judge.local_chat import LocalChat
from safer_engine.judge.openai_chat import OpenAIChat, OpenAISettings


def make_backend(config: JudgeConfig, environ: Mapping[str, str] | None = None) -> ChatBackend:
    """The openai backend (its settings read from `environ`, default the process's
    environment) or the local one. Connects and loads nothing yet."""
    if config.backend == "local":
        return LocalChat(config.local_model, max_tokens=config.max_tokens)
    return OpenAIChat(
        OpenAISettings.from_env(environ),
        max_tokens=config.max_tokens,
        timeout=config.timeout,
        retries=config.retries,
        backoff=config.backoff,
    )
