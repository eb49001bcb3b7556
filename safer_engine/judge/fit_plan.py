"""What scoring the judge's explanations asks: for each feature with a usable explanation,
its held-out contexts, the calls about them, and which scores are cached.

Planning makes no calls, so `--dry-run` counts them. The explanation's own contexts come
from the judge plan (`FeatureJob.contexts`), so the held-out ones never share text with them.
A scoring is keyed like a judgement: the hash of every prompt it sends (the explanation and
the contexts in them), the method, and the backend and model.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace

import numpy as np

from safer_engine.codes.examples import FeatureExamples
from safer_engine.config.fit import FitConfig, FitMethod
from safer_engine.judge.fit_prompt import answer_prefixes, fit_messages
from safer_engine.judge.holdout import ContextKind, HeldOutContext, held_out_contexts
from safer_engine.judge.plan import FeatureJob
from safer_engine.labels.fits import Fit, FitLog
from safer_engine.labels.judgements import Judgement
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.workspace import Workspace

FIT_PLAN_TASK = "choosing held-out contexts"


@dataclass(frozen=True)
class FitCall:
    """One request: its messages, the answer lines it asks for, and the truth of each."""

    messages: list[dict[str, str]]
    prefixes: list[str]
    kinds: tuple[ContextKind, ...]
    """Each context's kind in the order asked: firing, near (a near miss) or random."""


@dataclass(frozen=True)
class FitJob:
    """One explanation to score by one method, and its stored score when there is one."""

    feature: int
    method: FitMethod
    explanation: str
    calls: list[FitCall]
    prompt_hash: str
    unscorable: str | None = None
    """Why the store's contexts cannot score it (then there are no calls)."""
    cached: Fit | None = None


@dataclass(frozen=True)
class FitPlan:
    """The scorings of one run, in the judge plan's order."""

    sae_id: str
    backend: str
    model: str
    base_url: str | None
    jobs: list[FitJob]
    unexplained: list[int] = field(default_factory=list)
    """Planned features with no usable explanation to score."""

    @property
    def to_ask(self) -> list[FitJob]:
        """The jobs with no usable stored score."""
        return [job for job in self.jobs if job.cached is None]

    @property
    def calls(self) -> int:
        """The requests a run would send."""
        return sum(len(job.calls) for job in self.to_ask)


def plan_fits(
    workspace: Workspace,
    sae_id: str,
    features: list[FeatureJob],
    judgements: dict[int, Judgement],
    config: FitConfig,
    backend: tuple[str, str, str | None],
    log: FitLog | None,
    retry_failed: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> FitPlan:
    """The scorings of every planned feature whose judgement (in `judgements`) has an
    explanation; `backend` is (name, model, base URL), the key cached scores are found
    under in `log` (None: nothing is cached)."""
    name, model, base_url = backend
    explained = [job for job in features if _explanation(judgements.get(job.feature))]
    jobs: list[FitJob] = []
    reader = FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id))
    try:
        for done, job in enumerate(explained, 1):
            if cancel is not None:
                cancel.check("planning the explanation scores")
            held = held_out_contexts(
                reader, job.feature, job.contexts, config.score_firing, config.score_silent
            )
            explanation = _explanation(judgements[job.feature])
            for method in config.methods:
                jobs.append(_job(job.feature, method, explanation, held.contexts, config))
            progress(FIT_PLAN_TASK, done, len(explained))
    finally:
        reader.close()
    if log is not None:
        jobs = _with_cached(jobs, log, sae_id, (name, model), retry_failed)
    scored = {job.feature for job in explained}
    unexplained = [job.feature for job in features if job.feature not in scored]
    return FitPlan(sae_id, name, model, base_url, jobs, unexplained)


def calls_per_feature(config: FitConfig) -> int:
    """The most calls scoring one explanation takes (fewer when the store has fewer
    held-out contexts): what a dry run counts for a feature not judged yet."""
    contexts = config.score_firing + config.score_silent
    return math.ceil(contexts / config.score_batch) * len(config.methods)


def _explanation(judgement: Judgement | None) -> str:
    return judgement.explanation if judgement is not None and judgement.ok else ""


def _job(
    feature: int,
    method: FitMethod,
    explanation: str,
    contexts: list[HeldOutContext],
    config: FitConfig,
) -> FitJob:
    """The calls about `contexts`, shuffled (seeded by the feature) so that a batch mixes
    contexts where the feature fires with ones where it does not."""
    firing = sum(c.firing for c in contexts)
    unscorable = None
    if not firing:
        unscorable = "no held-out context where it fires: it fires only in the explained text"
    elif firing == len(contexts):
        unscorable = "no held-out context where it does not fire"
    calls: list[FitCall] = []
    if unscorable is None:
        order = np.random.default_rng([feature, len(contexts)]).permutation(len(contexts))
        shuffled = [contexts[i] for i in order.tolist()]
        step = config.score_batch
        for start in range(0, len(shuffled), step):
            batch = shuffled[start : start + step]
            calls.append(
                FitCall(
                    fit_messages(explanation, [c.example for c in batch], method),
                    answer_prefixes(len(batch)),
                    tuple(c.kind for c in batch),
                )
            )
    asked = {
        "method": method,
        "explanation": explanation,
        "calls": [call.messages for call in calls],
        "unscorable": unscorable,
    }
    canonical = json.dumps(asked, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    return FitJob(feature, method, explanation, calls, digest, unscorable)


def _with_cached(
    jobs: list[FitJob], log: FitLog, sae_id: str, backend: tuple[str, str], retry_failed: bool
) -> list[FitJob]:
    found: dict[tuple[int, str], Fit] = {}
    for method in {job.method for job in jobs}:
        hashes = {job.feature: job.prompt_hash for job in jobs if job.method == method}
        cached = log.cached(sae_id, method, backend, hashes, retry_failed)
        found |= {(feature, method): fit for feature, fit in cached.items()}
    return [replace(job, cached=found.get((job.feature, job.method))) for job in jobs]
