"""Ask the judge about each planned feature, store every answer as it arrives, and report.

Requests run concurrently on one asyncio loop (at most `concurrency` in flight); answers are
parsed and written to `labels.sqlite` one by one as they complete, each in its own
transaction, so a cancel, Ctrl+C or a fatal error keeps every judgement that finished. A
`CancelToken` is polled while waiting; Ctrl+C cancels the requests in flight at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from safer_engine.errors import Cancelled, SaferError
from safer_engine.judge.chat import ChatBackend, Reply, RequestFailed
from safer_engine.judge.concurrent import ConcurrentRun
from safer_engine.judge.plan import FeatureJob, JudgePlan
from safer_engine.judge.rubric import Verdict, parse_answer
from safer_engine.labels.judgements import Judgement, JudgementLog
from safer_engine.progress import CancelToken, Progress, no_progress

JUDGE_TASK = "judging"
KEPT_HINT = "Every finished judgement was kept; run it again to judge the rest."

_Outcome = tuple[FeatureJob, Reply | RequestFailed]
"""One feature's reply, or how its request failed."""


@dataclass
class JudgeTotals:
    """What one run did."""

    judged: int = 0
    """New scores."""
    cached: int = 0
    """Stored answers reused without a call."""
    failed: int = 0
    """New failures: unusable answers and failed requests."""
    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class JudgeReport:
    """Each planned feature's judgement so far, the totals, and why the run stopped early."""

    plan: JudgePlan
    results: dict[int, Judgement] = field(default_factory=dict)
    totals: JudgeTotals = field(default_factory=JudgeTotals)
    stopped: SaferError | None = None
    """The error that ended the run before every feature was judged (None: it finished)."""

    def rows(self) -> list[tuple[FeatureJob, Judgement | None]]:
        """Every planned feature in plan order, with its judgement (None: not judged yet)."""
        return [(job, self.results.get(job.feature)) for job in self.plan.jobs]

    def add(self, judgement: Judgement) -> None:
        """Count in one new judgement."""
        self.results[judgement.feature] = judgement
        if judgement.ok:
            self.totals.judged += 1
        else:
            self.totals.failed += 1


def judge_features(
    plan: JudgePlan,
    backend: ChatBackend,
    log: JudgementLog,
    concurrency: int = 4,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> JudgeReport:
    """Judge every planned feature without a cached answer, storing each answer in `log`.

    Never raises for a user-facing failure: the report's `stopped` holds it (a `JudgeError`,
    a `Cancelled`, …), and its results hold what finished, already stored.
    """
    report = JudgeReport(plan, {job.feature: job.cached for job in plan.jobs if job.cached})
    report.totals.cached = len(report.results)
    if plan.to_ask:
        run = _Run(plan, backend, log, report, progress, cancel)
        try:
            asyncio.run(run.ask_all(concurrency))
        except SaferError as exc:
            report.stopped = exc
        except KeyboardInterrupt:
            report.stopped = Cancelled("judging", KEPT_HINT)
        finally:
            stats, totals = backend.stats, report.totals
            totals.calls, totals.retries = stats.calls, stats.retries
            totals.prompt_tokens = stats.prompt_tokens
            totals.completion_tokens = stats.completion_tokens
    return report


class _Run(ConcurrentRun):
    """One pass over the features to ask, on one event loop."""

    what = "judging"
    kept_hint = KEPT_HINT

    def __init__(
        self,
        plan: JudgePlan,
        backend: ChatBackend,
        log: JudgementLog,
        report: JudgeReport,
        progress: Progress,
        cancel: CancelToken | None,
    ) -> None:
        super().__init__(backend, cancel)
        self.plan, self.log, self.report, self.progress = plan, log, report, progress

    async def ask_all(self, concurrency: int) -> None:
        jobs = self.plan.to_ask
        self.progress(JUDGE_TASK, 0, len(jobs))
        limit = asyncio.Semaphore(concurrency)
        await self.run(self._ask(job, limit) for job in jobs)

    async def _ask(self, job: FeatureJob, limit: asyncio.Semaphore) -> _Outcome | None:
        """One feature's reply or failed request; None once the run is stopping."""
        async with limit:
            if self.fatal is not None:  # send nothing new
                return None
            try:
                return job, await self.backend.complete(job.messages)
            except RequestFailed as exc:
                return job, exc
            except SaferError as exc:
                self.fatal = self.fatal or exc
                return None

    def _store(self, job: FeatureJob, outcome: Reply | RequestFailed) -> None:
        judgement = self.log.add(self._judgement(job, outcome))
        self.report.add(judgement)
        self.count(judgement.failure_kind, judgement.failure)
        status = f"score {judgement.score}" if judgement.ok else "failed"
        self.progress(f"feature {job.feature}: {status}", self.done, len(self.plan.to_ask))

    def _judgement(self, job: FeatureJob, outcome: Reply | RequestFailed) -> Judgement:
        plan = self.plan
        key = (plan.sae_id, job.feature, job.prompt_hash, plan.backend, plan.model, plan.base_url)
        if isinstance(outcome, RequestFailed):
            return Judgement(*key, None, "", outcome.reason, "request", "")
        verdict = verdict_of(outcome)
        return Judgement(
            *key,
            verdict.score,
            verdict.explanation,
            verdict.failure,
            None if verdict.failure is None else "answer",
            outcome.text,
            outcome.prompt_tokens,
            outcome.completion_tokens,
        )


def verdict_of(reply: Reply) -> Verdict:
    """The parsed answer, with what the reply itself says about why it may be unusable."""
    if reply.refusal:
        return Verdict(None, "", f"refused: {' '.join(reply.refusal.split())[:80]!r}")
    verdict = parse_answer(reply.text)
    if verdict.failure is not None and reply.truncated:
        return Verdict(None, "", f"{verdict.failure} (cut off at --max-tokens)")
    return verdict
