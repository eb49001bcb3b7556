"""Snapshots at 80×24 of what attributions add: the Features screen's effect column, and the
Pairs screen's line of the features that drive a pair, on the test pairs the reward model
orders wrong (synthetic attributions, `safer_engine.testing.synthetic_attribution`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.testing.synthetic_attribution import write_synthetic_attribution
from safer_tui.app import SaferApp


@pytest.fixture
def attributed(synthetic_workspace: Path) -> Path:
    write_synthetic_attribution(synthetic_workspace, seed=3, spearman=0.93)
    return synthetic_workspace


def test_features_with_effect(snap_compare, attributed: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(attributed, author="alice"), terminal_size=(80, 24))


def test_pairs_the_model_orders_wrong(snap_compare, attributed: Path) -> None:  # type: ignore[no-untyped-def]
    async def wrong_pairs(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("f", "f", "f")  # general, safety, then the wrong ones
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = SaferApp(attributed, author="alice")
    assert snap_compare(app, run_before=wrong_pairs, terminal_size=(80, 24))
