"""`safer attribute` on a tiny trained reward model and SAE: the terms against the model's
own first-order change, ablations, resuming, and the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safer_engine.artifacts import ABLATION_SUMMARY
from safer_engine.attribution.ablation import text_ablations
from safer_engine.attribution.decompose import standardised
from safer_engine.attribution.files import (
    attribution_dir,
    feature_text_attributions,
    read_effects,
    read_pairs,
)
from safer_engine.attribution.stage import attribute, load_runner
from safer_engine.attribution.texts import TextRunner
from safer_engine.cli import main
from safer_engine.config import AttributionConfig
from safer_engine.errors import WorkspaceError
from safer_engine.store.reader import StoreReader
from safer_engine.train.stage import margins_stage
from safer_engine.workspace import Workspace

pytestmark = pytest.mark.slow


def attributed(root: Path, **settings: int) -> tuple[Workspace, str]:
    workspace = Workspace.open(root)
    sae_id = workspace.sae_ids()[-1]
    attribute(workspace, sae_id, AttributionConfig(**settings))  # type: ignore[arg-type]
    return workspace, sae_id


def runner_of(workspace: Workspace, sae_id: str, reader: StoreReader) -> TextRunner:
    return load_runner(
        workspace.rm_model_dir, workspace.sae_dir(sae_id), reader, AttributionConfig()
    )


def scaled_reward(runner: TextRunner, doc: int, epsilon: float) -> float:
    """The text's reward with the SAE's features and error (h − μ − s·b_dec) scaled by
    1 + ε at every token."""
    import torch

    from safer_engine.models.batching import pad_batch

    tokens = runner.reader.doc_tokens(doc).tolist()
    inputs = pad_batch([tokens], runner.pad_id)

    def grow(h: torch.Tensor) -> torch.Tensor:
        u, scale = standardised(h[0], runner.reader.normalise)
        explained = scale[:, None] * (u - runner.sae.b_dec)
        return h + epsilon * explained[None]

    with torch.inference_mode():
        return float(runner.swap.rewards(inputs, grow)[0])


def test_features_and_error_are_the_margins_first_order_change(encoded_workspace: Path) -> None:
    workspace, sae_id = attributed(encoded_workspace)
    pairs = read_pairs(workspace.sae_dir(sae_id))
    assert pairs.height == 20 and pairs["top_feature"].list.len().min() >= 1
    eps = 1e-3
    with StoreReader(workspace.store_path) as reader:
        runner = runner_of(workspace, sae_id, reader)
        for row in range(0, 20, 7):
            change = 0.0
            for doc, sign in ((reader.chosen_doc[row], 1), (reader.rejected_doc[row], -1)):
                up, down = scaled_reward(runner, doc, eps), scaled_reward(runner, doc, -eps)
                change += sign * (up - down) / (2 * eps)
            first_order = pairs["features"][row] + pairs["error"][row]
            assert change == pytest.approx(first_order, rel=2e-2, abs=1e-4)
    margins_stage(workspace)  # the margins `safer eval` computes: the same rewards
    margins = pl.read_parquet(workspace.rm_dir / "margins.parquet")
    joined = pairs.join(margins, on="pair_id")
    np.testing.assert_allclose(joined["margin"], joined["margin_right"], atol=1e-4)


def test_ablating_a_feature_the_reward_ignores_changes_nothing(encoded_workspace: Path) -> None:
    """At the last block a BERT reward reads only the [CLS] token: a feature that fires on
    other tokens alone moves nothing, and its attribution says so."""
    workspace, sae_id = attributed(encoded_workspace)
    with StoreReader(workspace.store_path) as reader:
        runner = runner_of(workspace, sae_id, reader)
        import torch

        hidden: list[torch.Tensor] = []
        doc = int(reader.chosen_doc[0])
        tokens = reader.doc_tokens(doc).tolist()
        from safer_engine.models.batching import pad_batch

        with torch.inference_mode():
            runner.swap.rewards(pad_batch([tokens], runner.pad_id), lambda h: hidden.append(h) or h)
            u, _ = standardised(hidden[0][0], reader.normalise)
            z = runner.sae.encode(u)
        fires = (z[1:] > 0).any(0) & (z[0] == 0)
        ignored = int(torch.nonzero(fires)[0, 0])
        read = int(torch.nonzero(z[0] > 0)[0, 0])
        effects = text_ablations(runner, doc, [ignored, read])
    assert effects[0] == pytest.approx(0.0, abs=1e-6)
    assert abs(effects[1]) > 1e-4  # the same ablation of a feature [CLS] carries does move it
    texts = feature_text_attributions(workspace.sae_dir(sae_id), ignored)
    assert texts[doc] == pytest.approx(0.0, abs=1e-7)


def test_the_command_attributes_checks_and_reports(
    encoded_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(encoded_workspace)
    assert main(["attribute", "--workspace", ws, "--check", "6", "--check-features", "3"]) == 0
    printed = capsys.readouterr().out
    assert "Attributed" in printed and "20 pairs" in printed and "explain" in printed
    assert "Checked" in printed and "Spearman" in printed
    sae_dir = next(encoded_workspace.glob("sae/*"))
    check = json.loads((attribution_dir(sae_dir) / ABLATION_SUMMARY).read_text())
    assert check["pairs"] == 6 and check["features"] == 18
    assert check["spearman_low"] <= check["spearman"] <= check["spearman_high"]
    effects = read_effects(sae_dir)
    assert effects.columns == [
        "feature",
        "effect_train",
        "effect_test",
        "effect_wrong",
        "direction",
    ]
    assert main(["attribute", "--workspace", ws]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_check_needs_attributions_first(encoded_workspace: Path) -> None:
    from safer_engine.attribution.stage import check_attributions
    from safer_engine.config import AblationCheckConfig

    workspace = Workspace.open(encoded_workspace)
    with pytest.raises(WorkspaceError, match="no attributions"):
        check_attributions(workspace, workspace.sae_ids()[-1], AblationCheckConfig(pairs=3))


def test_two_processes_equal_one_and_resume_after_a_kill(
    encoded_workspace: Path, tmp_path: Path
) -> None:
    from tests.accelerate_launch import launch

    single = Path(shutil.copytree(encoded_workspace, tmp_path / "single"))
    workspace, sae_id = attributed(single, shard_docs=4)
    reference = read_pairs(workspace.sae_dir(sae_id))
    args = ["attribute", "--workspace", str(encoded_workspace), "--shard-docs", "4"]
    killed = launch(*args, script=Path(__file__).with_name("kill_after_a_shard.py"))
    assert killed.returncode != 0
    shards = list(encoded_workspace.glob("sae/*/attribution.shards/shard-*.npz"))
    assert shards and not (encoded_workspace / "sae" / sae_id / "attribution").exists()

    resumed = launch(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("Attributed") == 1  # only the main process reports
    assert f"{len(shards)} shard(s) reused" in resumed.stdout
    got = read_pairs(encoded_workspace / "sae" / sae_id)
    assert got["pair_id"].to_list() == reference["pair_id"].to_list()
    for column in ("margin", "features", "error", "rest"):
        np.testing.assert_allclose(got[column], reference[column], rtol=1e-5, atol=1e-6)
    assert got["top_feature"].to_list() == reference["top_feature"].to_list()
