"""Ask the judge about each planned explanation's held-out contexts, score its answers, and
store each feature's fit as soon as all its answers are in.

Calls run concurrently on one asyncio loop (at most `concurrency` in flight, across every
feature); a feature's fit is written to `labels.sqlite` when its last call returns, in a
transaction of its own, so a cancel, Ctrl+C or a fatal error keeps every finished fit.
Trouble is sorted as the judge run sorts it: a failed request fails the feature's fit (asked
again next run); what would fail every request stops the run with its `SaferError`; too many
unusable answers are a stored failure with the reason.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safer_engine.analysis.classification import balanced_accuracy, roc_auc
from safer_engine.config.fit import FitMethod
from safer_engine.errors import Cancelled, SaferError
from safer_engine.judge.chat import ChatBackend, Reply, RequestFailed
from safer_engine.judge.concurrent import ConcurrentRun
from safer_engine.judge.fit_plan import FitJob, FitPlan
from safer_engine.judge.fit_prompt import parse_answers, yes_probabilities
from safer_engine.labels.fits import Fit, FitFailureKind, FitLog
from safer_engine.progress import CancelToken, Progress, no_progress

FIT_TASK = "scoring explanations"
KEPT_HINT = "Every finished score was kept; run it again to score the rest."
MAX_UNUSABLE = 0.5
"""Past this share of unusable answers an explanation gets no fit: the rest would say too
little about it."""

_Outcome = tuple[FitJob, list[Reply] | RequestFailed]


@dataclass
class FitTotals:
    """What one scoring run did."""

    scored: int = 0
    cached: int = 0
    failed: int = 0
    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class FitReport:
    """Each planned scoring's fit so far, the totals, and why the run stopped early."""

    plan: FitPlan
    results: dict[tuple[int, str], Fit] = field(default_factory=dict)
    totals: FitTotals = field(default_factory=FitTotals)
    stopped: SaferError | None = None

    def get(self, feature: int, method: str) -> Fit | None:
        return self.results.get((feature, method))

    def add(self, fit: Fit) -> None:
        self.results[(fit.feature, fit.method)] = fit
        if fit.ok:
            self.totals.scored += 1
        else:
            self.totals.failed += 1


def score_explanations(
    plan: FitPlan,
    backend: ChatBackend,
    log: FitLog,
    concurrency: int = 4,
    logprobs: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> FitReport:
    """Score every planned explanation without a cached fit, storing each fit in `log`.

    Never raises for a user-facing failure: the report's `stopped` holds it, and its results
    hold what finished, already stored.
    """
    report = FitReport(plan)
    for job in plan.jobs:
        if job.cached is not None:
            report.results[(job.feature, job.method)] = job.cached
    report.totals.cached = len(report.results)
    if plan.to_ask:
        stats = backend.stats
        before = (stats.calls, stats.retries, stats.prompt_tokens, stats.completion_tokens)
        run = _Run(plan, backend, log, report, logprobs, progress, cancel)
        try:
            asyncio.run(run.ask_all(concurrency))
        except SaferError as exc:
            report.stopped = exc
        except KeyboardInterrupt:
            report.stopped = Cancelled("scoring explanations", KEPT_HINT)
        finally:
            after = (stats.calls, stats.retries, stats.prompt_tokens, stats.completion_tokens)
            t = report.totals
            t.calls, t.retries, t.prompt_tokens, t.completion_tokens = (
                a - b for a, b in zip(after, before, strict=True)
            )
    return report


class _Run(ConcurrentRun):
    """One pass over the explanations to score, on one event loop."""

    what = "scoring explanations"
    failing = "explanation scores"
    kept_hint = KEPT_HINT

    def __init__(
        self,
        plan: FitPlan,
        backend: ChatBackend,
        log: FitLog,
        report: FitReport,
        logprobs: bool,
        progress: Progress,
        cancel: CancelToken | None,
    ) -> None:
        super().__init__(backend, cancel)
        self.plan, self.log, self.report = plan, log, report
        self.logprobs, self.progress = logprobs, progress

    async def ask_all(self, concurrency: int) -> None:
        jobs = self.plan.to_ask
        self.progress(FIT_TASK, 0, len(jobs))
        for job in jobs:
            if job.unscorable is not None:  # nothing to ask
                self._store(job, [])
        limit = asyncio.Semaphore(concurrency)
        await self.run(self._ask(job, limit) for job in jobs if job.unscorable is None)

    async def _ask(self, job: FitJob, limit: asyncio.Semaphore) -> _Outcome | None:
        """Every reply of one scoring, or its first failed request; None once stopping."""

        async def one(messages: list[dict[str, str]], prefixes: list[str]) -> Reply | None:
            async with limit:
                if self.fatal is not None:  # send nothing new
                    return None
                return await self.backend.choose(messages, prefixes, self.logprobs)

        calls = [asyncio.ensure_future(one(c.messages, c.prefixes)) for c in job.calls]
        try:
            replies = await asyncio.gather(*calls)
        except RequestFailed as exc:
            return job, exc
        except SaferError as exc:
            self.fatal = self.fatal or exc
            return None
        finally:
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)
        if any(reply is None for reply in replies):
            return None
        return job, [reply for reply in replies if reply is not None]

    def _store(self, job: FitJob, outcome: list[Reply] | RequestFailed) -> None:
        fit = self.log.add(self._fit(job, outcome))
        self.report.add(fit)
        self.count(fit.failure_kind, fit.failure)
        status = f"fit {fit.balanced_accuracy:.2f}" if fit.ok else "failed"
        self.progress(
            f"feature {job.feature} ({job.method}): {status}", self.done, len(self.plan.to_ask)
        )

    def _fit(self, job: FitJob, outcome: list[Reply] | RequestFailed) -> Fit:
        plan = self.plan
        key = Key(plan.sae_id, job.feature, job.method, job.prompt_hash, plan.backend, plan.model)
        if isinstance(outcome, RequestFailed):
            return failed_fit(key, plan.base_url, job.explanation, outcome.reason, "request")
        if job.unscorable is not None:
            return failed_fit(key, plan.base_url, job.explanation, job.unscorable, "contexts")
        return fit_of(job, outcome, key, plan.base_url)


@dataclass(frozen=True)
class Key:
    """What a fit is stored under."""

    sae_id: str
    feature: int
    method: FitMethod
    prompt_hash: str
    backend: str
    model: str

    def fit(self, base_url: str | None, explanation: str, **figures: Any) -> Fit:
        return Fit(
            sae_id=self.sae_id,
            feature=self.feature,
            method=self.method,
            prompt_hash=self.prompt_hash,
            backend=self.backend,
            model=self.model,
            base_url=base_url,
            explanation=explanation,
            **figures,
        )


def failed_fit(
    key: Key, base_url: str | None, explanation: str, reason: str, kind: FitFailureKind
) -> Fit:
    """A fit that failed before any answer could be scored."""
    return key.fit(
        base_url,
        explanation,
        balanced_accuracy=None,
        auc=None,
        firing=0,
        silent=0,
        unusable=0,
        failure=reason,
        failure_kind=kind,
    )


def fit_of(job: FitJob, replies: list[Reply], key: Key, base_url: str | None) -> Fit:
    """The explanation's fit from every reply of its calls: the balanced accuracy of the
    usable yes/no answers against the truth, and the AUC of P(yes) when every usable answer
    has one; a failure when too many answers were unusable."""
    truth: list[bool] = []
    said: list[bool] = []
    p_yes: list[float | None] = []
    answers: list[dict[str, object]] = []
    problems: list[str] = []
    for call, reply in zip(job.calls, replies, strict=True):
        parsed = parse_answers(reply, len(call.kinds))
        probabilities = yes_probabilities(reply, len(call.kinds)) if parsed.said else None
        for i, kind in enumerate(call.kinds):
            yes = parsed.said[i] if parsed.said else None
            p = probabilities[i] if probabilities else None
            answers.append({"kind": kind, "yes": yes, "p_yes": p})
            if yes is not None:
                truth.append(kind == "firing")
                said.append(yes)
                p_yes.append(p)
        if parsed.failure:
            problems.append(parsed.failure)
    total = sum(len(call.kinds) for call in job.calls)
    firing = sum(truth)
    figures: dict[str, Any] = {
        "firing": firing,
        "silent": len(truth) - firing,
        "unusable": total - len(said),
        "answers": json.dumps(answers),
        "calls": len(replies),
        "prompt_tokens": sum(r.prompt_tokens for r in replies),
        "completion_tokens": sum(r.completion_tokens for r in replies),
    }
    if figures["unusable"] > MAX_UNUSABLE * total or not firing or firing == len(truth):
        first = problems[0] if problems else "none"
        reason = f"{figures['unusable']} of {total} answers unusable (the first: {first})"
        return key.fit(
            base_url,
            job.explanation,
            balanced_accuracy=None,
            auc=None,
            failure=reason,
            failure_kind="answer",
            **figures,
        )
    known = np.asarray(truth)
    auc = None
    if all(p is not None for p in p_yes):
        auc = roc_auc(known, np.asarray(p_yes, dtype=np.float64))
    return key.fit(
        base_url,
        job.explanation,
        balanced_accuracy=balanced_accuracy(known, np.asarray(said)),
        auc=auc,
        failure=None,
        failure_kind=None,
        **figures,
    )
