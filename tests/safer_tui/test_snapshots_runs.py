"""Snapshots of the Edits and Runs screens at 80×24 and 60×20 (every footer whole, with help
and quit), on content that is the same on every
machine: a synthetic workspace (byte-identical builds, so the same plan) and hand-made run
records and experiment summary (fixed times, no durations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_tui.app import SaferApp
from tests.run_records import hand_made_runs, hand_made_summary


@pytest.fixture
def synthetic_workspace(tmp_path: Path) -> Path:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    return build_synthetic_workspace(
        tmp_path / "ws", n_pairs=60, tokens_per_doc=12, n_latents=64, k=4
    )


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.app.workers.wait_for_complete()
    for _ in range(3):
        await pilot.pause()


SIZES = [(80, 24), (60, 20)]
NAMES = [f"{w}x{h}" for w, h in SIZES]


@pytest.mark.parametrize("size", SIZES, ids=NAMES)
def test_edits_screen(snap_compare, synthetic_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def plan(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("e", "plus", "plus")  # 20% of the train pairs: a fuller table
        await settle(pilot)

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=plan, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=NAMES)
@pytest.mark.parametrize("tab", ["1", "2", "3"])
def test_runs_screen(
    snap_compare, synthetic_workspace: Path, tab: str, size: tuple[int, int]
) -> None:  # type: ignore[no-untyped-def]
    hand_made_runs(synthetic_workspace)
    hand_made_summary(synthetic_workspace)

    async def open_tab(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("r", tab)
        await settle(pilot)

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=open_tab, terminal_size=size)
