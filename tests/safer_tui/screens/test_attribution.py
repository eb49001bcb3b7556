"""Attributions in the explorer, from a synthetic attribution file: the effect column and
filters, the feature page's effect and per-example attribution, and the Pairs screen's
driving features and its filter of the pairs the reward model orders wrong."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from rich.text import Text
from textual.widgets import Static

from safer_engine.attribution.files import feature_text_attributions, read_effects, read_pairs
from safer_engine.testing.synthetic_attribution import write_synthetic_attribution
from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp
from safer_tui.screens.feature_page import FeatureScreen
from tests.safer_tui.helpers import cell, settle, shown, status
from tests.safer_tui.screens.test_feature_page import examples_text
from tests.safer_tui.screens.test_pairs import scored

pytestmark = pytest.mark.anyio
REWARD = re.compile(r"reward +([+-]\d+\.\d{4})")


@pytest.fixture
def attributed(synthetic_workspace: Path) -> Path:
    write_synthetic_attribution(synthetic_workspace, seed=3)
    return synthetic_workspace


def sae_dir(root: Path) -> Path:
    workspace = Workspace.open(root)
    return workspace.sae_dir(workspace.sae_ids()[-1])


def text_of(screen: object, selector: str) -> str:
    content = screen.query_one(selector, Static).content  # type: ignore[attr-defined]
    return content.plain if isinstance(content, Text) else str(content)


async def test_the_effect_column_sorts_and_filters(attributed: Path) -> None:
    effects = read_effects(sae_dir(attributed))
    effect = dict(zip(effects["feature"].to_list(), effects["effect_train"].to_list(), strict=True))
    app = SaferApp(attributed, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        first = shown(app)[0]
        assert cell(app, first, "effect") == f"{effect[first]:+.4f}"
        app.screen.set_sort("effect")  # type: ignore[attr-defined]
        await pilot.pause()
        listed = shown(app)
        magnitudes = [abs(effect[f]) for f in listed]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert "|effect| ↓" in status(app)
        app.screen.set_filter("effect −")  # type: ignore[attr-defined]
        await pilot.pause()
        assert shown(app) and all(effect[f] < 0 for f in shown(app))


async def test_without_attributions_there_is_no_effect_column_or_filter(
    synthetic_workspace: Path,
) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        view = app.screen.view  # type: ignore[attr-defined]
        assert "effect" not in [c.name for c in app.screen.table.columns()]  # type: ignore[attr-defined]
        assert "effect +" not in view.filters


async def test_the_feature_page_shows_effect_and_each_examples_attribution(
    attributed: Path,
) -> None:
    app = SaferApp(attributed, author="alice")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        feature = shown(app)[0]
        await pilot.press("enter")
        await settle(app, pilot)
        page = app.screen
        assert isinstance(page, FeatureScreen)
        stats = text_of(page, "#feature-stats")
        effects = read_effects(sae_dir(attributed))
        value = effects.filter(pl.col("feature") == feature)["effect_train"][0]
        assert f"effect {value:+.4f}" in stats
        drawn = [float(v) for v in REWARD.findall("\n".join(examples_text(app)))]
        texts = feature_text_attributions(sae_dir(attributed), feature)
        assert drawn and set(drawn) <= {round(v, 4) for v in texts.values()} | {0.0}


async def test_the_pairs_screen_lists_a_pairs_drivers_and_the_wrong_pairs(
    attributed: Path,
) -> None:
    pairs = read_pairs(sae_dir(attributed)).with_row_index("pair")
    wrong = pairs.filter((pl.col("split") == "test") & (pl.col("margin") <= 0)).sort("margin")
    assert wrong.height >= 1
    app = SaferApp(attributed, author="alice")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        screen = await scored(app, pilot)
        drivers = text_of(screen, "#pair-drivers")
        row = pairs.row(int(screen.pair), named=True)  # type: ignore[arg-type]
        assert f"margin {row['margin']:+.3f}" in drivers
        assert f"{row['top_feature'][0]} {row['top_attribution'][0]:+.3f}" in drivers
        assert "unchecked" in drivers
        for _ in range(len(set(pairs["slice"].to_list())) + 1):  # past the slices
            await pilot.press("f")
            await settle(app, pilot)
        assert np.array_equal(screen.order, wrong["pair"].to_numpy())
        assert "test pairs ordered wrong" in text_of(screen, "#pairs-status")
        assert "wrong way first" in text_of(screen, "#pair-drivers")
        await pilot.press("f")
        await settle(app, pilot)
        assert len(screen.order) == pairs.height


async def test_attributions_ablation_disagreed_with_are_not_an_explanation(
    synthetic_workspace: Path,
) -> None:
    write_synthetic_attribution(synthetic_workspace, seed=3, spearman=0.2)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        screen = await scored(app, pilot)
        drivers = text_of(screen, "#pair-drivers")
        assert "disagrees with ablation (Spearman 0.20)" in drivers
        assert "driven by" not in drivers and "wrong way" not in drivers
