"""Progress reporting and cancellation shared by every long engine function.

Engine functions take a `Progress` callback and a `CancelToken`. The CLI renders progress
with rich; the explorer turns it into messages from thread workers. Neither kind of caller
is known here.
"""

from __future__ import annotations

import threading
from typing import Protocol

from safer_engine.errors import Cancelled


class Progress(Protocol):
    """Receives `(task, done, total)`; `total` is None when the amount of work is unknown."""

    def __call__(self, task: str, done: int, total: int | None) -> None: ...


def no_progress(task: str, done: int, total: int | None) -> None:
    """A `Progress` that discards updates, for callers that do not show any."""


class CancelToken:
    """Set from any thread; checked by the worker between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self, what: str = "the operation", hint: str | None = None) -> None:
        """Raise `Cancelled` if cancellation was requested; `hint` replaces its default
        advice for work that keeps what it finished."""
        if self._event.is_set():
            raise Cancelled(what) if hint is None else Cancelled(what, hint)
