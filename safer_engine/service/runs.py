"""Runs for the explorer's Runs screen: every run with its status and accuracy, each edited
run against the clean run of its seed, the latest experiment's summary, and a retrain of a
plan (its clean run first, as `safer experiment` does), all as plain data.

Listing imports no torch. `safer_engine.retrain` is imported by the methods that need it
(`run_ids`, `retrain`), so the explorer starts without it; `retrain` then imports torch and
transformers as it trains (either recipe), so call it from a worker thread. This module
is the one path from the explorer to them (an `ignore_imports` of the GPU-stack contract in
pyproject.toml; tests/test_import_boundaries.py checks that importing it loads none).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from safer_engine import artifacts as names
from safer_engine.edits.plan import EditPlan
from safer_engine.edits.stage import plan_dir
from safer_engine.errors import SaferError, TrainingError, WorkspaceError
from safer_engine.experiment.report import METHOD_LABELS, recipe_order, slice_order
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.explorer import Explorer, user_errors
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import (
    BASE_RUN,
    Run,
    compared_runs,
    finish_run,
    list_runs,
    read_run,
)

if TYPE_CHECKING:
    from safer_engine.retrain.run import RetrainResult

__all__ = [
    "CANCELLED",
    "METHOD_LABELS",
    "Comparison",
    "ExperimentView",
    "RetrainOutcome",
    "RunRow",
    "RunsService",
    "SummaryRow",
]

CANCELLED = "cancelled"
"""The status shown for a run that failed because it was cancelled."""
SLICES = ("safety", "general")


@dataclass(frozen=True)
class RunRow:
    """One run as the Runs screen lists it."""

    run_id: str
    status: str
    """pending, running, done, failed, or cancelled (a failed run that was cancelled)."""
    plan: str | None
    seed: int | None
    accuracy: dict[str, float]
    """Test accuracy per slice, and `all`."""
    edited: dict[str, int] = field(default_factory=dict)
    error: str = ""
    started: str = ""
    finished: str = ""
    source: str = ""
    """Where its plan's safety features came from (tags, judge, salience); "" for none."""
    recipe: str = "fast"
    """fast or full (the analysed reward model is the full recipe's)."""

    @property
    def is_base(self) -> bool:
        return self.run_id == BASE_RUN


@dataclass(frozen=True)
class Comparison:
    """An edited run against the clean run of the same recipe, data and seed."""

    run_id: str
    plan: str
    seed: int
    clean_id: str
    accuracy: dict[str, float]
    change: dict[str, float]
    """Edited minus clean accuracy, per slice (and `all`)."""
    edited: dict[str, int]
    source: str = ""
    """Where its plan's safety features came from (tags, judge, salience); "" for none."""
    recipe: str = "fast"


@dataclass(frozen=True)
class SummaryRow:
    method: str
    label: str
    ratio: float
    slice: str
    accuracy: float
    change: float
    runs: int
    pairs: int
    recipe: str = "fast"


@dataclass(frozen=True)
class ExperimentView:
    """The summary of one `safer experiment` (its `summary.parquet`)."""

    experiment_id: str
    folder: Path
    rows: list[SummaryRow]

    def slices(self) -> list[str]:
        return slice_order(pl.DataFrame({"slice": [r.slice for r in self.rows]}))

    def recipes(self) -> list[str]:
        """Its recipes, the full one (the real retrain) first: each is drawn on its own."""
        return recipe_order(pl.DataFrame({"recipe": [r.recipe for r in self.rows]}))

    def only(self, recipe: str) -> ExperimentView:
        rows = [row for row in self.rows if row.recipe == recipe]
        return ExperimentView(self.experiment_id, self.folder, rows)


@dataclass(frozen=True)
class RetrainOutcome:
    clean: RunRow
    edited: RunRow | None
    """None when only the clean run was asked for."""
    reused: bool
    """Nothing was trained: the runs had finished before, with the same inputs."""


class RunsService:
    """The runs of an opened workspace."""

    def __init__(self, explorer: Explorer) -> None:
        self.workspace = explorer.workspace
        self._sources: dict[str, str] = {}

    @user_errors
    def runs(self) -> list[RunRow]:
        """The analysed reward model, then every retrain by start (as `safer runs`)."""
        return [self._row(run) for run in list_runs(self.workspace)]

    @user_errors
    def comparisons(self) -> list[Comparison]:
        """Each finished edited run against its clean run (the one it records, or for runs
        from before that was recorded the clean run of the same setting), where that has
        finished too."""
        found = []
        for run, base in compared_runs(list_runs(self.workspace)):
            assert run.plan is not None  # only edited runs are compared
            accuracy = dict(run.info.get("accuracy", {}))
            before = base.info.get("accuracy", {})
            found.append(
                Comparison(
                    run.run_id,
                    run.plan,
                    int(run.config.get("seed", 0)),
                    base.run_id,
                    accuracy,
                    {k: v - before[k] for k, v in accuracy.items() if k in before},
                    dict(run.info.get("edited", {})),
                    self.plan_source(run.plan),
                    run.recipe,
                )
            )
        return found

    def plan_source(self, plan_id: str | None) -> str:
        """Where a saved plan's safety features came from, or a manual plan's pair list
        (its file's name): two plans of one mode and ratio differ by it (or by their hash
        alone). "" for a random plan, or one not found. Read once per plan: the Runs screen
        reads the runs again twice a second."""
        if plan_id is None:
            return ""
        if plan_id not in self._sources:
            try:
                plan = EditPlan.load(plan_dir(self.workspace, plan_id) / names.PLAN_FILE)
            except SaferError:
                return ""  # not saved yet, or unreadable: the name alone, for now
            listed = plan.config.get("pairs")
            by_hand = Path(str(listed)).stem if listed else ""
            self._sources[plan_id] = str((plan.selection or {}).get("source", by_hand))
        return self._sources[plan_id]

    @user_errors
    def latest_experiment(self) -> ExperimentView | None:
        """The experiment whose summary was written last, or None before any."""
        folder = self.workspace.root / names.EXPERIMENTS_DIR
        found = sorted(
            folder.glob("*/summary.parquet") if folder.is_dir() else [],
            key=lambda p: (p.stat().st_mtime, p.parent.name),
        )
        if not found:
            return None
        table = pl.read_parquet(found[-1])
        rows = [
            SummaryRow(
                method=row["method"],
                label=METHOD_LABELS.get(row["method"], row["method"]),
                ratio=float(row["ratio"]),
                slice=row["slice"],
                accuracy=float(row["accuracy"]),
                change=float(row["change"]),
                runs=int(row["runs"]),
                pairs=int(row["pairs"]),
                recipe=str(row.get("recipe", "fast")),  # experiments before recipes: fast
            )
            for row in table.iter_rows(named=True)
        ]
        return ExperimentView(found[-1].parent.name, found[-1].parent, rows)

    @user_errors
    def run_ids(
        self, plan_id: str | None, seed: int = 0, recipe: str = "fast"
    ) -> tuple[str, str | None]:
        """The ids `retrain` gives the clean run and the plan's run."""
        from safer_engine.retrain.recipes import make_recipe
        from safer_engine.retrain.run import clean_run_id, run_id_of

        trained = make_recipe(self.workspace, recipe)
        edited = run_id_of(plan_id, trained, seed) if plan_id is not None else None
        return clean_run_id(self.workspace, trained, seed), edited

    @user_errors
    def last_seconds(self) -> dict[str, float]:
        """Per recipe, how long its latest finished retrain took on this workspace (the full
        recipe, before any: the analysed reward model's training)."""
        found: dict[str, float] = {}
        for run in list_runs(self.workspace):
            seconds = _seconds(run)
            if run.status == "done" and seconds is not None:
                found[run.recipe] = seconds  # listed by start: the latest wins
        return found

    def retrain(
        self,
        plan_id: str | None,
        progress: Progress,
        cancel: CancelToken,
        seed: int = 0,
        recipe: str = "fast",
    ) -> RetrainOutcome:
        """Train the saved plan's run (None: only the clean run) with the recipe (fast: as
        the analysed reward model reads texts; full: as it was trained), after the clean run
        of the same seed that it is compared with; finished runs are reused, and the full
        recipe's clean run of the analysed seed is the analysed model. A run cancelled or
        failed is recorded as failed."""
        from safer_engine.retrain.recipes import make_recipe
        from safer_engine.retrain.run import retrain, run_id_of

        workspace = self.workspace
        trained = make_recipe(workspace, recipe)
        plan = None
        if plan_id is not None:
            plan = EditPlan.load(plan_dir(workspace, plan_id) / names.PLAN_FILE)

        def phase(name: str) -> Progress:
            def report(task: str, done: int, total: int | None) -> None:
                progress(f"{name}: {task}", done, total)

            return report

        cancel.check("the retrain")
        with _failed_on_error(workspace, [run_id_of(None, trained, seed)]):
            clean = _ran(retrain(workspace, None, trained, seed, phase("clean run"), cancel))
        if plan is None:
            return RetrainOutcome(self._row(clean.run), None, clean.reused)
        with _failed_on_error(workspace, [run_id_of(plan.plan_id, trained, seed)]):
            edited = _ran(retrain(workspace, plan, trained, seed, phase("edited run"), cancel))
        return RetrainOutcome(
            self._row(clean.run), self._row(edited.run), clean.reused and edited.reused
        )

    def _row(self, run: Run) -> RunRow:
        accuracy = dict(run.info.get("accuracy", {}))
        status: str = run.status
        if status == "failed" and run.error.startswith("Cancelled"):
            status = CANCELLED
        seed = run.config.get("seed") if not run.is_base else None
        return RunRow(
            run.run_id,
            status,
            run.plan,
            int(seed) if seed is not None else None,
            accuracy,
            dict(run.info.get("edited", {})),
            run.error,
            run.started,
            run.finished,
            self.plan_source(run.plan),
            run.recipe,
        )


def _ran(result: RetrainResult | None) -> RetrainResult:
    assert result is not None, "the explorer retrains in its own process alone"
    return result


def _seconds(run: Run) -> float | None:
    """How long a run took: its training's own record, else its start to its finish."""
    if isinstance(run.info.get("seconds"), int | float) and run.is_base:
        return float(run.info["seconds"])
    try:
        started = datetime.fromisoformat(run.started)
        finished = datetime.fromisoformat(run.finished)
    except ValueError:
        return None
    return (finished - started).total_seconds()


@contextmanager
def _failed_on_error(workspace: Workspace, run_ids: list[str]) -> Iterator[None]:
    """Record a run left `running` as failed when something other than a `SaferError` (which
    `retrain` records itself) stops it, and say so as a `SaferError`."""
    try:
        yield
    except SaferError:
        raise
    except Exception as exc:
        message = f"The retrain stopped: {type(exc).__name__}: {exc}"
        for run_id in run_ids:
            try:
                run = read_run(workspace, run_id)
            except SaferError:
                continue
            if run.status == "running":
                finish_run(workspace, run, error=message)
        if isinstance(exc, OSError):
            raise WorkspaceError(
                f"Cannot write the run's files: {exc}.",
                "Check that the workspace is writable and has free space, then start it again.",
            ) from exc
        raise TrainingError(message + ".", "`safer --debug retrain PLAN` shows where.") from exc
