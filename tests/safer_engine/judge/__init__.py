"""Helpers of the judge tests: plans built by hand, without a workspace."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from safer_engine.config import JudgeConfig
from safer_engine.judge import ChatBackend, JudgePlan, JudgeReport, judge_features, make_backend
from safer_engine.judge.plan import FeatureJob, with_cached
from safer_engine.judge.rubric import build_messages, prompt_hash
from safer_engine.labels import JudgementLog, LabelStore
from safer_engine.progress import CancelToken, Progress, no_progress

SAE = "L2-topk4-32"


class Context:
    def __init__(self, feature: int) -> None:
        self.pieces = ["how", " do", " I", f" hurt{feature}", " Sure", " here"]
        self.in_response = [False] * 4 + [True] * 2
        self.focus = 3


def job(feature: int) -> FeatureJob:
    messages = build_messages([Context(feature)])
    return FeatureJob(feature, 0.5 - feature / 100, messages, prompt_hash(messages))


def plan_of(
    backend: ChatBackend,
    features: Iterable[int],
    log: JudgementLog | None = None,
    retry_failed: bool = False,
) -> JudgePlan:
    """A plan of these features, with the answers `log` already holds."""
    jobs = [job(f) for f in features]
    if log is not None:
        jobs = with_cached(jobs, log, SAE, (backend.name, backend.model), retry_failed)
    return JudgePlan(SAE, backend.name, backend.model, backend.base_url, jobs)


def run_judge(
    db: Path,
    features: Iterable[int],
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    **settings: object,
) -> JudgeReport:
    """Judge `features` with the openai backend (from the environment) into `db`."""
    config = JudgeConfig(**{"backoff": 0.01, "concurrency": 1, **settings})  # type: ignore[arg-type]
    backend = make_backend(config)
    with LabelStore.open(db, author="tester") as store:
        log = JudgementLog(store)
        plan = plan_of(backend, features, log, config.retry_failed)
        return judge_features(plan, backend, log, config.concurrency, progress, cancel)


def stored(db: Path) -> list[tuple[object, ...]]:
    """Every judgement row: (feature, score, failure_kind, failure)."""
    with LabelStore.open(db) as store:
        return store.query(
            "SELECT feature, score, failure_kind, failure FROM judgements ORDER BY id", ()
        )
