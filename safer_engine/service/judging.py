"""The LLM judge as the explorer sees it: each feature's latest judgement and its
explanation's fit, where the openai backend would connect, and a judging run (and scoring)
from a thread worker.

Reading judgements is torch-free (`safer_engine.labels.judgements`). Running the judge needs
`safer_engine.judge`, whose local backend imports torch and transformers: `run_judge` imports
it inside the call, so importing this module (and the screens) never loads them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from safer_engine import artifacts as names
from safer_engine.config import FitConfig
from safer_engine.errors import Cancelled, JudgeError, SaferError
from safer_engine.labels import Fit, FitLog, Judgement, JudgementLog, LabelStore
from safer_engine.progress import CancelToken, Progress
from safer_engine.workspace import Workspace

__all__ = [
    "BACKENDS",
    "DEFAULT_TOP",
    "FIT_CONTEXTS",
    "Fit",
    "JudgeOutcome",
    "JudgeRequest",
    "Judgement",
    "OpenAIEnvironment",
    "last_fit",
    "last_judgement",
    "latest_fits",
    "latest_judgements",
    "openai_environment",
    "run_judge",
]

BACKENDS = ("openai", "local")
DEFAULT_TOP = 20
"""As `safer judge`: the head of the salience ranking, one call each."""
# The openai backend's environment (`safer_engine.judge.openai_chat`, which cannot be imported
# here without the local backend's torch; tests check that the names agree).
ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_MODEL = "SAFER_JUDGE_MODEL"
ENV_KEY = "OPENAI_API_KEY"
LOCAL_MODEL = "SmolLM2-135M"
FIT_CONTEXTS = FitConfig().score_firing + FitConfig().score_silent
"""Held-out contexts an explanation is tested on from the explorer (one call each)."""


@dataclass(frozen=True)
class OpenAIEnvironment:
    """Where the openai backend would connect, from the environment (the key is never kept)."""

    base_url: str
    model: str
    has_key: bool

    @property
    def missing(self) -> list[str]:
        """The variables that must be set before the backend can be used."""
        names = ((ENV_BASE_URL, self.base_url), (ENV_MODEL, self.model))
        return [name for name, value in names if not value]

    def describe(self) -> str:
        """'judge-test at http://…/v1', or what is missing."""
        if self.missing:
            return f"needs {' and '.join(self.missing)} (as `safer judge`)"
        return f"{self.model} at {self.base_url}" + (" (with a key)" if self.has_key else "")


def openai_environment(environ: Mapping[str, str] | None = None) -> OpenAIEnvironment:
    env = os.environ if environ is None else environ
    return OpenAIEnvironment(
        env.get(ENV_BASE_URL, "").strip().rstrip("/"),
        env.get(ENV_MODEL, "").strip(),
        bool(env.get(ENV_KEY, "").strip()),
    )


@dataclass(frozen=True)
class JudgeRequest:
    """What to judge from the explorer: the marked features, or the top N by |salience|."""

    backend: str = "openai"
    top: int = DEFAULT_TOP
    features: tuple[int, ...] = ()
    """Exactly these (the marked ones); empty: the top `top` that fire at all."""
    score: bool = False
    """Also score how well each explanation fits (as `safer judge --score`)."""

    def describe(self) -> str:
        what = f"{len(self.features)} marked" if self.features else f"top {self.top}"
        return f"{what} with {self.backend}" + (", scoring the fit" if self.score else "")


@dataclass(frozen=True)
class JudgeOutcome:
    """What one run from the explorer did; `stopped` says why it ended early (a `Cancelled`
    or a `JudgeError`, with every finished judgement kept)."""

    backend: str
    model: str
    planned: int
    judged: int
    cached: int
    failed: int
    calls: int
    never_fire: list[int] = field(default_factory=list)
    stopped: SaferError | None = None
    fits: tuple[int, int, int] | None = None
    """Explanation fits scored, cached and failed, when the run scored them."""

    def summary(self) -> str:
        """'judged 18, cached 2, failed 0 (judge-test)': the totals in one short line (with
        the fits' after a ';' when they were scored)."""
        text = f"judged {self.judged}, cached {self.cached}, failed {self.failed}"
        if self.fits is not None:
            scored, cached, failed = self.fits
            text += f"; fit {scored}, cached {cached}, failed {failed}"
        text += f" ({self.model})"
        if self.never_fire:
            text += f"; {len(self.never_fire)} never fire"
        return text


def latest_judgements(store: LabelStore, sae_id: str) -> dict[int, Judgement]:
    """Each judged feature's latest score, or its latest failure when it has none; read on
    the explorer's own connection, so a read-only (even version-1) labels file works too."""
    return JudgementLog(store).latest(sae_id)


def last_judgement(store: LabelStore) -> int:
    """The id of the newest judgement: cheap to poll, like `LabelStore.last_change`."""
    rows = store.query("SELECT max(id) FROM judgements", ())
    return int(rows[0][0] or 0) if rows else 0


def latest_fits(store: LabelStore, sae_id: str) -> dict[int, Fit]:
    """Each judged feature's fit of its current explanation (detection), or its failure."""
    return FitLog(store).latest(sae_id)


def last_fit(store: LabelStore) -> int:
    """The id of the newest fit: cheap to poll."""
    return FitLog(store).last_id()


def run_judge(
    workspace: Workspace,
    sae_id: str,
    author: str,
    request: JudgeRequest,
    progress: Progress,
    cancel: CancelToken,
) -> JudgeOutcome:
    """Plan and run one judging run (as `safer judge`), storing each answer as it arrives
    on a connection of its own (the explorer's stays free for the screens). Raises a
    `SaferError` for what stops it before any call (a missing environment, a cancel while
    planning); later trouble ends up in the outcome's `stopped`."""
    from safer_engine.config import JudgeConfig
    from safer_engine.judge import (
        judge_features,
        make_backend,
        plan_fits,
        plan_judging,
        score_explanations,
    )

    features, never_fire = _firing(workspace, sae_id, request.features)
    if request.features and not features:
        raise JudgeError(
            "None of the marked features ever fires on the stored tokens: there is nothing "
            "to show the judge.",
            "Mark features with a density above 0, or judge the top N instead.",
        )
    config = JudgeConfig(
        top=None if features else request.top,
        features=",".join(map(str, features)) or None,
        backend="local" if request.backend == "local" else "openai",
    )
    try:
        backend = make_backend(config)
    except JudgeError as exc:  # the CLI's advice, in the explorer's words
        hint = exc.hint.replace("--backend local", "the local backend")
        raise JudgeError(exc.message, hint) from exc
    key = (backend.name, backend.model, backend.base_url)
    with LabelStore.open(workspace.labels_path, author) as store:
        log = JudgementLog(store)
        plan = plan_judging(workspace, sae_id, config, key, log, progress, cancel)
        report = judge_features(plan, backend, log, config.concurrency, progress, cancel)
        fits = None
        if request.score and report.stopped is None:
            scoring, fit_log = FitConfig(score=True), FitLog(store)
            fit_plan = plan_fits(
                workspace,
                sae_id,
                plan.jobs,
                report.results,
                scoring,
                key,
                fit_log,
                config.retry_failed,
                progress,
                cancel,
            )
            fits = score_explanations(
                fit_plan, backend, fit_log, config.concurrency, scoring.logprobs, progress, cancel
            )
    totals = report.totals
    stopped = report.stopped or (fits.stopped if fits is not None else None)
    if isinstance(stopped, Cancelled):
        stopped = Cancelled("judging", "Every finished judgement was kept.")
    return JudgeOutcome(
        backend=plan.backend,
        model=plan.model,
        planned=len(plan.jobs),
        judged=totals.judged,
        cached=totals.cached,
        failed=totals.failed,
        calls=totals.calls,
        never_fire=never_fire + plan.never_fire,
        stopped=stopped,
        fits=None if fits is None else (fits.totals.scored, fits.totals.cached, fits.totals.failed),
    )


def _firing(
    workspace: Workspace, sae_id: str, features: tuple[int, ...]
) -> tuple[list[int], list[int]]:
    """The listed features that fire at all (density above 0), and those that never do: the
    judge has no contexts to read for them, so they are left out rather than refused."""
    if not features:
        return [], []
    path = workspace.sae_dir(sae_id) / names.SALIENCE_FILE
    table = pl.read_parquet(path, columns=["feature", "density"])
    density = dict(zip(table["feature"].to_list(), table["density"].to_list(), strict=True))
    firing = [f for f in features if density.get(f, 0.0) > 0]
    return firing, [f for f in features if f not in firing]
