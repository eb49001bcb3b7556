"""Runs: reward models trained in a workspace, each with its recipe, data, model and eval.

The analysed reward model (`rm/`, the `rm` stage) is the base run. Retraining on edited
data never touches it: each retrain is a folder `runs/<run-id>/` holding `run.json` (the
recipe, the edit plan, the input fingerprints, the status), its model and its `eval.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from safer_engine import artifacts as names
from safer_engine.errors import WorkspaceError
from safer_engine.files import write_text_atomic
from safer_engine.workspace.layout import Workspace
from safer_engine.workspace.manifest import now
from safer_engine.workspace.stages import EVAL, RM

BASE_RUN = "base"
RunStatus = Literal["pending", "running", "done", "failed"]
STATUSES: tuple[str, ...] = ("pending", "running", "done", "failed")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Run:
    """One trained (or training) reward model of a workspace."""

    run_id: str
    status: RunStatus
    config: dict[str, Any]
    """The recipe it was trained with."""
    inputs: dict[str, str]
    """Fingerprints of what it was trained on: the data, and the plan for a retrain."""
    plan: str | None = None
    """The edit plan's id for a retrain; None for the base run and clean runs."""
    started: str = ""
    finished: str = ""
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_base(self) -> bool:
        return self.run_id == BASE_RUN

    @property
    def recipe(self) -> str:
        """`full` or `fast`: the base run is the full recipe's; a retrain records its own
        (runs from before the full recipe existed were all fast)."""
        if self.is_base:
            return "full"
        name = self.config.get("recipe")
        return name if isinstance(name, str) else "fast"

    @property
    def seed(self) -> int | None:
        seed = self.config.get("seed")
        return int(seed) if seed is not None else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_run_id(run_id: str) -> str:
    """`run_id` if it can name a folder on every system; a WorkspaceError otherwise."""
    if run_id == BASE_RUN or not _RUN_ID.match(run_id):
        raise WorkspaceError(
            f"{run_id!r} cannot name a run.",
            f"Use letters, digits, '.', '_' and '-' (not {BASE_RUN!r}), at most 100 characters.",
        )
    return run_id


def run_dir(workspace: Workspace, run_id: str) -> Path:
    """Where a run keeps its files (the base run: `rm/`)."""
    if run_id == BASE_RUN:
        return workspace.rm_dir
    return workspace.runs_dir / check_run_id(run_id)


def run_model_dir(workspace: Workspace, run_id: str) -> Path:
    return run_dir(workspace, run_id) / names.MODEL_DIR


def run_eval_path(workspace: Workspace, run_id: str) -> Path:
    return run_dir(workspace, run_id) / names.EVAL_FILE


def write_run(workspace: Workspace, run: Run) -> Run:
    """Save a retrain's record (atomically) in its folder, creating the folder."""
    folder = workspace.runs_dir / check_run_id(run.run_id)
    if run.status not in STATUSES:
        raise WorkspaceError(f"Unknown run status {run.status!r}.", f"Use one of {STATUSES}.")
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / names.RUN_FILE, json.dumps(run.to_dict(), indent=2) + "\n")
    return run


def read_run(workspace: Workspace, run_id: str) -> Run:
    """One run by id; the base run is read from the workspace's `rm` stage."""
    if run_id == BASE_RUN:
        base = _base_run(workspace)
        if base is None:
            raise WorkspaceError(
                f"{workspace.root} has no reward model yet.",
                "Run `safer train-rm --workspace DIR` first.",
            )
        return base
    path = run_dir(workspace, run_id) / names.RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Run(**data)
    except FileNotFoundError:
        raise WorkspaceError(
            f"{workspace.root} has no run {run_id!r}.", "List the runs with `safer runs list`."
        ) from None
    except (OSError, json.JSONDecodeError, TypeError) as exc:
        raise WorkspaceError(
            f"The record of run {run_id!r} ({path}) is damaged: {exc}.",
            "Delete the run's folder and start it again.",
        ) from exc


def list_runs(workspace: Workspace) -> list[Run]:
    """The base run (when trained), then every retrain by the time it started."""
    base = _base_run(workspace)
    retrains = []
    if workspace.runs_dir.is_dir():
        for folder in workspace.runs_dir.iterdir():
            if (folder / names.RUN_FILE).is_file():
                retrains.append(read_run(workspace, folder.name))
    retrains.sort(key=lambda run: (run.started, run.run_id))
    return ([base] if base is not None else []) + retrains


def compared_runs(runs: list[Run]) -> list[tuple[Run, Run]]:
    """Each finished edited run with the finished clean run it is compared with: the one it
    records, or (for runs from before that was recorded) the clean run of its setting."""
    by_id = {r.run_id: r for r in runs if r.status == "done"}
    retrains = [r for r in runs if not r.is_base and r.status == "done"]
    clean = {_same_setting(r): r for r in retrains if r.plan is None}
    found = []
    for run in retrains:
        named = run.info.get("clean_run")
        base = by_id.get(named) if named else clean.get(_same_setting(run))
        if run.plan is not None and base is not None:
            found.append((run, base))
    return found


def _same_setting(run: Run) -> str:
    """What an edited run shares with its clean run: recipe, seed, backbone, data, cache."""
    inputs = {k: v for k, v in run.inputs.items() if k != "plan"}
    return json.dumps([run.config, inputs], sort_keys=True)


def start_run(
    workspace: Workspace,
    run_id: str,
    config: dict[str, Any],
    inputs: dict[str, str],
    plan: str | None = None,
) -> Run:
    """Record a retrain as running (a resumed run keeps its first start time)."""
    started = now()
    path = workspace.runs_dir / check_run_id(run_id) / names.RUN_FILE
    if path.exists():
        started = read_run(workspace, run_id).started or started
    return write_run(workspace, Run(run_id, "running", config, inputs, plan, started=started))


def finish_run(workspace: Workspace, run: Run, error: str = "", **info: Any) -> Run:
    """Record a retrain as done (or failed with `error`), with what it measured."""
    status: RunStatus = "failed" if error else "done"
    done = Run(
        run.run_id,
        status,
        run.config,
        run.inputs,
        run.plan,
        started=run.started,
        finished=now(),
        error=error,
        info={**run.info, **info},
    )
    return write_run(workspace, done)


def _base_run(workspace: Workspace) -> Run | None:
    rm = workspace.stage(RM)
    if rm is None:
        return None
    evaluated = workspace.stage(EVAL)
    info = dict(rm.info)
    if evaluated is not None and evaluated.inputs.get(RM) == rm.fingerprint:
        info["eval"] = names.EVAL_FILE
        # as retrains keep theirs, so every listing shows the analysed model's accuracy
        info["accuracy"] = eval_accuracy(workspace.rm_dir / names.EVAL_FILE)
    return Run(
        BASE_RUN,
        "done",
        rm.config,
        {key: value for key, value in rm.inputs.items()},
        started=rm.finished,
        finished=rm.finished,
        info=info,
    )


def eval_accuracy(path: Path) -> dict[str, float]:
    """Accuracy per slice (and `all`) of an `eval.json`; empty when it cannot be read."""
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        found = {s["name"]: float(s["accuracy"]) for s in report.get("slices", [])}
        return {"all": float(report["overall"]["accuracy"]), **found}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
