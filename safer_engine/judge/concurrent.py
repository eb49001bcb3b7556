"""What a judge run and an explanation-scoring run share: many calls in flight on one event
loop, each outcome stored as it arrives, and the rules that stop the run early.

A subclass says how one job is asked (`_ask`, returning the job and its outcome, or None once
the run is stopping) and how an outcome is stored (`_store`, which calls `count` with the
stored record's failure). The run stops on the first `SaferError` any call raised (kept in
`fatal`, raised once the outcomes in hand are stored), on a bug, on a cancel, or when
`MAX_FAILED_IN_A_ROW` requests failed in a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

from safer_engine.errors import Cancelled, JudgeError, SaferError
from safer_engine.judge.chat import ChatBackend
from safer_engine.progress import CancelToken

MAX_FAILED_IN_A_ROW = 3
"""Requests failing one after another (timeouts, server errors) stop the run: the server is
down or overwhelmed, and waiting out every remaining job's retries would help nobody."""
POLL_S = 0.1
"""How often a run looks for a cancel while calls are in flight."""


class ConcurrentRun:
    """The loop, the stopping rules and the failure count of one run over many jobs."""

    what = "the run"
    """What a cancel says it cancelled."""
    failing = "requests"
    """What failed in a row, for the message that stops the run."""
    kept_hint = "Every finished answer was kept; run it again to ask the rest."

    def __init__(self, backend: ChatBackend, cancel: CancelToken | None) -> None:
        self.backend, self.cancel = backend, cancel
        self.fatal: SaferError | None = None
        """The first error that stops the run, raised once the answers in hand are stored."""
        self.failed_in_a_row = 0
        self.last_failure: str | None = None
        self.done = 0

    async def run(self, asks: Iterable[Coroutine[Any, Any, Any]]) -> None:
        """Run every ask at once (their own semaphore limits how many call at a time),
        storing each outcome as it comes in."""
        tasks: set[asyncio.Task[Any]] = set()
        try:
            await self.backend.start()
            tasks = {asyncio.create_task(ask) for ask in asks}
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(
                    pending, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED
                )
                self._finish(done)
                if self.cancel is not None and self.cancel.cancelled:
                    raise Cancelled(self.what, self.kept_hint)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.backend.close()

    def _finish(self, done: set[asyncio.Task[Any]]) -> None:
        """Store every outcome that came in, then stop on a fatal error (or a bug) or when
        too many requests failed in a row."""
        bug: BaseException | None = None
        for task in done:
            error = task.exception()
            if error is not None:
                bug = bug or error
            elif (outcome := task.result()) is not None:
                self._store(*outcome)
        if bug is not None:
            raise bug
        if self.fatal is not None:
            raise self.fatal
        if self.failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            raise JudgeError(
                f"The judge failed {self.failed_in_a_row} {self.failing} in a row (the last: "
                f"{self.last_failure}).",
                "Check the judge server and its log. " + self.kept_hint,
            )

    def count(self, failure_kind: str | None, failure: str | None) -> None:
        """One more outcome stored: a failed request adds to the failures in a row, anything
        else ends them."""
        self.done += 1
        if failure_kind == "request":
            self.failed_in_a_row += 1
            self.last_failure = failure
        else:
            self.failed_in_a_row = 0

    def _store(self, *outcome: Any) -> None:
        raise NotImplementedError
