"""Hand-made runs and experiment summaries: what the Runs screen shows, with no training and
fixed times, so its tests and snapshots are exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import Run, write_run

RECIPE = {"recipe": {"epochs": 10, "hidden": 256}, "seed": 0, "backbone": "minilm"}
INPUTS = {"data": "d" * 64, "cache": "c" * 64}
EXPERIMENT = "experiment-0123abcd"


def run(run_id: str, plan: str | None, status: str, started: str, **info: Any) -> Run:
    error = str(info.pop("error", ""))
    finished = "" if status == "running" else started.replace(":00+", ":05+")
    return Run(
        run_id,
        status,  # type: ignore[arg-type]
        RECIPE,
        {**INPUTS, "plan": plan or ""},
        plan,
        started=started,
        finished=finished,
        error=error,
        info=info,
    )


def hand_made_runs(root: Path) -> list[Run]:
    """A clean run, two edited runs that finished, one cancelled and one running."""
    workspace = Workspace.open(root)
    runs = [
        run(
            "clean-rabc123-s0",
            None,
            "done",
            "2025-01-02T10:00:00+0000",
            accuracy={"all": 0.9, "safety": 0.92, "general": 0.85},
        ),
        run(
            "poison-5pct-1a2b3c4d-rabc123-s0",
            "poison-5pct-1a2b3c4d",
            "done",
            "2025-01-02T10:01:00+0000",
            accuracy={"all": 0.8, "safety": 0.8, "general": 0.84},
            edited={"safety": 9, "general": 1},
        ),
        run(
            "random-flip-5pct-s0-5e6f7a8b-rabc123-s0",
            "random-flip-5pct-s0-5e6f7a8b",
            "done",
            "2025-01-02T10:02:00+0000",
            accuracy={"all": 0.88, "safety": 0.9, "general": 0.86},
            edited={"safety": 8, "general": 2},
        ),
        run(
            "denoise-10pct-9c0d1e2f-rabc123-s0",
            "denoise-10pct-9c0d1e2f",
            "failed",
            "2025-01-02T10:03:00+0000",
            error="Cancelled training.",
        ),
    ]
    for found in runs:
        write_run(workspace, found)
    return runs


def hand_made_summary(root: Path) -> Path:
    """`experiments/<id>/summary.parquet` as `safer experiment` writes it, with round
    figures: SAFER poisoning costs safety accuracy, random flipping barely."""
    rows = []
    accuracy = {
        ("clean", 0.0): (0.92, 0.85),
        ("safer-poison", 1.0): (0.88, 0.85),
        ("safer-poison", 5.0): (0.76, 0.84),
        ("random-flip", 1.0): (0.92, 0.85),
        ("random-flip", 5.0): (0.9, 0.83),
        ("safer-denoise", 2.0): (0.93, 0.86),
        ("safer-denoise", 10.0): (0.94, 0.85),
        ("random-remove", 2.0): (0.92, 0.85),
        ("random-remove", 10.0): (0.91, 0.84),
    }
    for (method, ratio), (safety, general) in accuracy.items():
        for name, value, clean in (("safety", safety, 0.92), ("general", general, 0.85)):
            rows.append(
                {
                    "method": method,
                    "ratio": ratio,
                    "slice": name,
                    "runs": 3,
                    "pairs": 50 if name == "safety" else 10,
                    "accuracy": value,
                    "accuracy_low": value - 0.05,
                    "accuracy_high": min(1.0, value + 0.05),
                    "change": value - clean,
                    "change_low": value - clean - 0.03,
                    "change_high": value - clean + 0.03,
                    "edited": ratio,
                    "edited_in_slice": ratio,
                }
            )
    folder = root / "experiments" / EXPERIMENT
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(folder / "summary.parquet")
    return folder / "summary.parquet"
