"""Whether the Hugging Face hub can be asked at all, found out in a few seconds.

Without a network, `datasets.load_dataset` and `from_pretrained` retry for half a minute or
more, logging each retry, before they fail. So a hub id is checked first with one short
connection to the hub's host (or to the proxy that reaches it); when that fails the hub
libraries are put in offline mode for the rest of the process, so they answer from their
cache at once, and their own log lines are kept quiet.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 3.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "ON", "YES", "TRUE"}
HUB_LOGGERS = ("huggingface_hub", "datasets", "fsspec", "filelock", "urllib3")


def offline_variable() -> str | None:
    """The environment variable that puts the hub libraries offline, if one is set."""
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().upper() in _TRUE:
            return name
    return None


def hub_host() -> str:
    """The host of the hub endpoint (`HF_ENDPOINT`, as the hub libraries read it)."""
    return urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).hostname or "huggingface.co"


def hub_unreachable(timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why the hub cannot be reached (no name resolution, no route, refused, timed out), or
    None when a TCP connection to it (or to the proxy for it) opens within `timeout_s`."""
    url = urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    proxy = None if proxy_bypass(host) else getproxies().get(url.scheme or "https")
    if proxy:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parts.hostname or host, parts.port or 8080
    outcome: list[str | None] = []

    def connect() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(_reason(exc))

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout_s + 0.5)
    if not outcome:
        return f"no answer from {host} within {timeout_s:g} s"
    return outcome[0]


def _reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve: no network or no DNS"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "the connection timed out"
    return exc.strerror or type(exc).__name__


def go_offline() -> None:
    """Put the hub libraries in offline mode (their cache only) for the rest of this process:
    the environment variable for modules not imported yet, their constants for the others."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
    config = sys.modules.get("datasets.config")
    if config is not None:
        config.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
        config.HF_DATASETS_OFFLINE = True  # type: ignore[attr-defined]


def check_hub() -> tuple[str | None, str | None]:
    """(the offline variable that is set, why the hub cannot be reached): at most one is not
    None. When the hub cannot be reached, offline mode is turned on (`go_offline`)."""
    variable = offline_variable()
    if variable is not None:
        return variable, None
    reason = hub_unreachable()
    if reason is not None:
        go_offline()
    return None, reason


@contextmanager
def quiet_hub_logs() -> Iterator[None]:
    """Keep the hub libraries' warnings (retries, cache notes) off the terminal: our own
    message says what went wrong."""
    loggers = [logging.getLogger(name) for name in HUB_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR + 10)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
