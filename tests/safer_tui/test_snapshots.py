"""Snapshots of the explorer's screens at 80×24 and 160×48, on a fixed feature table."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.labels import LabelStore
from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp

SAE = "L2-topk4-12"


@pytest.fixture
def fixed_workspace(tmp_path: Path) -> Path:
    """A workspace whose feature table is written by hand, so every pixel is reproducible."""
    workspace = Workspace.open(tmp_path / "ws", create=True)
    workspace.record_stage("encode", id=SAE)
    n = 12
    salience = [((-1) ** i) * (0.9 - 0.07 * i) for i in range(n)]
    table = pl.DataFrame(
        {
            "feature": list(range(n)),
            "salience": salience,
            "abs_salience": [abs(s) for s in salience],
            "mean_act_diff": [s * 2 for s in salience],
            "firing_rate_diff": [s / 2 for s in salience],
            "density": [0.01 * (i + 1) for i in range(n)],
            "max_act": [10.0 - i for i in range(n)],
        }
    )
    workspace.sae_dir(SAE).mkdir(parents=True)
    table.write_parquet(workspace.sae_dir(SAE) / "salience.parquet")
    with LabelStore.open(workspace.root / "labels.sqlite", author="alice") as labels:
        labels.tag(SAE, 0, "unsafe")
        labels.tag(SAE, 1, "safe")
        labels.note(SAE, 1, "refusal: I can't help with that")
    return workspace.root


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_features_screen(snap_compare, fixed_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(fixed_workspace, author="alice"), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_help_screen(snap_compare, fixed_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(fixed_workspace), press=["f1"], terminal_size=size)


def test_message_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    # a fixed path: the message names it, and the snapshot must not change between runs
    assert snap_compare(SaferApp(Path("/nonexistent/safer-workspace")), terminal_size=(80, 24))
