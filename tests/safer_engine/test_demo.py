from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from safer_engine.config import ExtractConfig, RMConfig, SAEConfig
from safer_engine.data.split import prompts_in_both_splits
from safer_engine.demo import demo_data_path, run_demo


def test_demo_builds_every_stage_then_reuses_them(tmp_path: Path, tiny_bert: Path) -> None:
    # The real demo trains MiniLM for minutes; the stages are the same with a tiny backbone.
    config = RMConfig(model=str(tiny_bert), max_steps=3, max_length=32, max_prompt_tokens=8)
    sae = SAEConfig(n_latents=64, k=4, epochs=1)
    # the tiny tokenizer knows no punctuation, so sentence ends would select no token
    extract = ExtractConfig(policy="all")
    first = run_demo(tmp_path / "ws", rm_config=config, extract_config=extract, sae_config=sae)
    stages = (
        "data",
        "reward model",
        "evaluation",
        "activations",
        "SAE",
        "codes",
        "salience",
        "attribution",
    )
    assert first.stages == dict.fromkeys((*stages, "retraining"), False)
    assert first.workspace.store_path.exists()
    assert (first.workspace.sae_dir(first.sae_id) / "salience.parquet").exists()
    table = pl.read_parquet(first.workspace.pairs_path)
    embedded = pl.read_parquet(demo_data_path())
    assert table.height == embedded.height
    assert set(table["pair_id"]) == set(embedded["pair_id"])
    assert {s.name for s in first.evaluation.slices} == {"safety", "general"}
    assert first.evaluation.overall.pairs == (embedded["split"] == "test").sum()
    comparison = first.comparison
    assert comparison.selection.source == "salience" and comparison.selection.features
    assert list(comparison.runs) == ["clean", "SAFER poisoning", "random flipping"]
    train = int((embedded["split"] == "train").sum())
    for label in ("SAFER poisoning", "random flipping"):
        run = comparison.runs[label].run
        assert sum(run.info["edited"].values()) == round(train * 0.05)
        assert run.plan is not None and run.status == "done"
    assert comparison.runs["clean"].run.plan is None
    again = run_demo(tmp_path / "ws", rm_config=config, extract_config=extract, sae_config=sae)
    assert again.stages == dict.fromkeys((*stages, "retraining"), True)
    assert again.evaluation == first.evaluation


def test_embedded_demo_data_is_split_by_objective_with_both_slices() -> None:
    table = pl.read_parquet(demo_data_path())
    assert prompts_in_both_splits(table) == []
    assert set(table["slice"]) == {"safety", "general"}
    assert set(table["split"]) == {"train", "test"}
    for column in ("prompt", "chosen", "rejected"):
        assert table[column].str.strip_chars().str.len_chars().min() > 0
    assert (table["chosen"] != table["rejected"]).all()
    assert table.select("prompt", "chosen", "rejected").is_unique().all()
    # every safety pair prefers the response humans scored less harmful
    safety = table.filter(pl.col("slice") == "safety")
    assert (safety["chosen_score"] < safety["rejected_score"]).all()


def test_provenance_matches_the_committed_file() -> None:
    path = demo_data_path()
    provenance = (path.parent / "PROVENANCE.md").read_text(encoding="utf-8")
    assert hashlib.sha256(path.read_bytes()).hexdigest() in provenance
    assert "MIT" in (path.parent / "LICENSE-pyrit.txt").read_text(encoding="utf-8")
