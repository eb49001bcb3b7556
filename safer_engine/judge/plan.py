"""What a judging run asks: which features, each one's prompt, and which answers are cached.

Planning makes no calls, so `--dry-run` is a plan shown instead of run. Bad input (an SAE the
workspace lacks, a feature outside the SAE or one that never fires) is found here, before
any request is sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import polars as pl

from safer_engine import artifacts as names
from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.config import JudgeConfig
from safer_engine.errors import JudgeError
from safer_engine.judge.rubric import build_messages, prompt_hash
from safer_engine.labels.judgements import Judgement, JudgementLog
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.workspace import Workspace

PLAN_TASK = "reading each feature's top contexts"


@dataclass(frozen=True)
class FeatureJob:
    """One feature to judge: its prompt, and the stored answer to it when there is one."""

    feature: int
    salience: float
    messages: list[dict[str, str]]
    prompt_hash: str
    cached: Judgement | None = None
    contexts: tuple[Example, ...] = ()
    """The contexts in the prompt: the ones its explanation is made from, which scoring it
    never tests it on."""


@dataclass(frozen=True)
class JudgePlan:
    """The features of one run, in the order they are shown."""

    sae_id: str
    backend: str
    model: str
    base_url: str | None
    jobs: list[FeatureJob]
    never_fire: list[int] = field(default_factory=list)
    """Features of the top N by |salience| passed over because they never fire."""

    @property
    def to_ask(self) -> list[FeatureJob]:
        """The jobs with no usable stored answer: one call each."""
        return [job for job in self.jobs if job.cached is None]


def judged_sae(workspace: Workspace, sae: str | None) -> str:
    """The SAE to judge: `sae`, or the workspace's latest; a `JudgeError` if it lacks one."""
    known = workspace.sae_ids()
    if not known:
        raise JudgeError(
            f"{workspace.root} has no SAE yet, so there are no features to judge.",
            "Train and encode one first: `safer train-sae` then `safer encode`.",
        )
    if sae is None:
        return known[-1]
    if sae not in known:
        raise JudgeError(
            f"The workspace {workspace.root} has no SAE {sae!r}.",
            f"Its SAEs: {', '.join(known)}. Pass one of them with --sae.",
        )
    return sae


def plan_judging(
    workspace: Workspace,
    sae_id: str,
    config: JudgeConfig,
    backend: tuple[str, str, str | None],
    log: JudgementLog | None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> JudgePlan:
    """The features to judge with their prompts; `backend` is (name, model, base URL), the
    key under which cached answers are looked up in `log` (None: nothing is cached)."""
    name, model, base_url = backend
    salience = _salience(workspace, sae_id)
    reader = FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id))
    try:
        chosen = _choose(reader, sae_id, salience, config, progress, cancel)
        jobs = [
            FeatureJob(
                f,
                salience.get(f, math.nan),
                messages,
                prompt_hash(messages),
                contexts=tuple(chosen.contexts[f]),
            )
            for f, messages in chosen.prompts.items()
        ]
    finally:
        reader.close()
    if log is not None:
        jobs = with_cached(jobs, log, sae_id, (name, model), config.retry_failed)
    return JudgePlan(sae_id, name, model, base_url, jobs, chosen.never_fire)


def with_cached(
    jobs: list[FeatureJob],
    log: JudgementLog,
    sae_id: str,
    backend: tuple[str, str],
    retry_failed: bool,
) -> list[FeatureJob]:
    """The jobs, each with the stored answer of `backend` (name, model) to its exact prompt."""
    hashes = {job.feature: job.prompt_hash for job in jobs}
    cached = log.cached(sae_id, *backend, hashes, retry_failed)
    return [replace(job, cached=cached.get(job.feature)) for job in jobs]


@dataclass
class _Chosen:
    prompts: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    contexts: dict[int, list[Example]] = field(default_factory=dict)
    never_fire: list[int] = field(default_factory=list)


def _choose(
    reader: FeatureExamples,
    sae_id: str,
    salience: dict[int, float],
    config: JudgeConfig,
    progress: Progress,
    cancel: CancelToken | None,
) -> _Chosen:
    """Each chosen feature's prompt, from its top contexts."""
    explicit = config.feature_ids()
    chosen = _Chosen()
    wanted = len(explicit) if explicit is not None else config.n_top
    candidates = explicit if explicit is not None else _ranked(salience)
    for feature in candidates:
        if len(chosen.prompts) == wanted:
            break
        if cancel is not None:
            cancel.check("planning the judge run")
        contexts = _contexts(reader, sae_id, feature, config.examples, explicit is not None)
        if contexts is None:
            chosen.never_fire.append(feature)
            continue
        chosen.prompts[feature] = build_messages(contexts)
        chosen.contexts[feature] = contexts
        progress(PLAN_TASK, len(chosen.prompts), wanted)
    return chosen


def _contexts(
    reader: FeatureExamples, sae_id: str, feature: int, per_feature: int, explicit: bool
) -> list[Example] | None:
    """The feature's top contexts; None for a ranked feature that never fires."""
    if not 0 <= feature < reader.n_latents:
        raise JudgeError(
            f"Feature {feature} is not in SAE {sae_id}, which has {reader.n_latents:,} features.",
            f"Use feature ids from 0 to {reader.n_latents - 1}.",
        )
    contexts = reader.examples(feature, per_quantile=per_feature, quantiles=(1.0,))
    if contexts or not explicit:
        return contexts or None
    raise JudgeError(
        f"Feature {feature} of SAE {sae_id} never fires on the stored tokens: there are no "
        "contexts to judge it by.",
        "Leave it out of --features; the explorer's Features screen shows each one's density.",
    )


def _salience(workspace: Workspace, sae_id: str) -> dict[int, float]:
    """Each feature's salience, from the SAE's salience table."""
    path = workspace.sae_dir(sae_id) / names.SALIENCE_FILE
    if not path.exists():
        raise JudgeError(
            f"SAE {sae_id} has no salience table yet, so its features cannot be ranked.",
            f"Run `safer encode --workspace {workspace.root} --sae {sae_id}` first.",
        )
    table = pl.read_parquet(path, columns=["feature", "salience"])
    return dict(zip(table["feature"].to_list(), table["salience"].to_list(), strict=True))


def _ranked(salience: dict[int, float]) -> Iterator[int]:
    """Features by |salience|, largest first (ties by id); NaN last."""

    def key(feature: int) -> tuple[float, int]:
        value = salience[feature]
        return (-abs(value) if not math.isnan(value) else math.inf, feature)

    return iter(sorted(salience, key=key))
