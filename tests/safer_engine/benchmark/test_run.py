"""A tiny noise benchmark on random models runs end to end, resumes after being interrupted
without redoing anything finished, writes its report, and leaves noisy workspaces that are
normal workspaces."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
import pytest

from safer_engine.benchmark.run import grid, run_noise_benchmark
from safer_engine.config import NoiseBenchmarkConfig
from safer_engine.errors import BenchmarkError, Cancelled, ConfigError
from safer_engine.progress import CancelToken
from safer_engine.retrain.recipes import make_recipe
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import list_runs

CONFIG = NoiseBenchmarkConfig(noise=(25.0,), seeds=2)
FAST = {"epochs": 2, "hidden": 8}
LOOP = ["data", "rm", "margins", "eval", "extract", "sae/", "encode/", "salience/", "scores/"]


def test_config_and_grid() -> None:
    assert [c.name for c in grid(NoiseBenchmarkConfig(noise=(5, 10), seeds=2))] == [
        "noise-5-s0",
        "noise-5-s1",
        "noise-10-s0",
        "noise-10-s1",
    ]
    for bad in ((0.0,), (51.0,), (-5.0,)):
        with pytest.raises(ConfigError, match="at most 50") as caught:
            NoiseBenchmarkConfig(noise=bad)
        assert caught.value.hint
    with pytest.raises(ConfigError, match="--methods"):
        NoiseBenchmarkConfig(methods=("safer", "oracle"))
    with pytest.raises(ConfigError, match="--folds"):
        NoiseBenchmarkConfig(folds=1)


def test_an_interrupted_benchmark_resumes_and_reports(encoded_workspace: Path) -> None:
    source = Workspace.open(encoded_workspace)
    recipe = make_recipe(source, "fast", FAST)
    cancel = CancelToken()

    def stop_in_the_second_cell(task: str, done: int, total: int | None) -> None:
        if task.startswith("noise-25-s1 (2/2): tokenising"):
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_noise_benchmark(source, CONFIG, recipe, stop_in_the_second_cell, cancel)
    first = Workspace.open(encoded_workspace / "benchmarks" / "noise-25-s0")
    done = [run for run in list_runs(first) if not run.is_base]
    assert len(done) == 1 + 3 + 5 and all(run.status == "done" for run in done)
    files = {path: path.stat().st_mtime_ns for path in first.root.rglob("*") if path.is_file()}

    result = run_noise_benchmark(source, CONFIG, recipe)
    rewritten = [p for p, t in files.items() if not p.exists() or p.stat().st_mtime_ns != t]
    assert rewritten == []  # nothing of the finished cell was written again
    one, two = result.outcomes
    assert one.ran == () and one.trained == 0  # the finished cell is reused whole
    assert [key for key in two.ran if not any(key.startswith(s) for s in LOOP)] == []
    assert two.trained == 9  # noisy + 3 folds + 4 methods + oracle
    for outcome in result.outcomes:
        assert outcome.flipped == 2 and outcome.safety_train == 8
        assert set(outcome.detection) == {"safer", "margin", "cleanlab", "random"}
        assert set(outcome.accuracy) == {
            "noisy",
            "clean",
            "oracle",
            "safer",
            "margin",
            "cleanlab",
            "random",
        }
        assert 0 <= outcome.detection["safer"].auroc <= 1
    text = result.report.read_text()
    assert "## 25% of the safety train pairs flipped (2 of 8; 2 seeds)" in text
    assert "cleanlab (out-of-fold)" in text and "Best at finding the flipped pairs" in text
    assert (result.report.parent / "report.png").read_bytes()[:4] == b"\x89PNG"
    summary = pl.read_parquet(result.report.parent / "summary.parquet")
    assert set(summary["method"]) >= {"safer", "oracle", "clean"}

    again = run_noise_benchmark(source, CONFIG, recipe)
    assert (again.ran, again.trained) == (0, 0)
    assert [o.detection for o in again.outcomes] == [o.detection for o in result.outcomes]

    # the noisy workspace is a normal one, with the truth beside its data
    noisy, _ = first.pairs()
    truth = json.loads((first.root / "benchmark" / "noise.json").read_text())
    assert sorted(noisy.filter(pl.col("flipped"))["pair_id"]) == truth["flipped_pairs"]
    assert first.stale() == []
    (base,) = [run for run in list_runs(first) if run.is_base]  # its accuracy, for the Runs tab
    assert base.info["accuracy"] == one.rm_accuracy
    margins = pl.read_parquet(first.rm_dir / "margins.parquet").filter(pl.col("split") == "test")
    assert one.rm_accuracy["all"] == pytest.approx(float((margins["margin"] > 0).mean()))
    ranked = pl.read_parquet(first.root / "benchmark" / "rankings.parquet")
    assert ranked.height == 8 and {"safer_rank", "cleanlab_rank"} <= set(ranked.columns)

    # SAFER by effect: each noisy workspace is attributed, the rest of its loop reused
    by_effect = dataclasses.replace(CONFIG, select="effect", methods=("safer",))
    effect = run_noise_benchmark(source, by_effect, recipe)
    for outcome in effect.outcomes:
        assert "by effect" in outcome.features["safer"]
        assert [key for key in outcome.ran if not key.startswith(("attribution/", "scores/"))] == []
        assert outcome.trained <= 1  # the removal of its top pairs, unless the same as before
    assert (first.sae_dir(first.sae_ids()[-1]) / "attribution" / "pairs.parquet").exists()


def test_a_workspace_without_safety_pairs(trained_workspace: Path) -> None:
    source = Workspace.open(trained_workspace)
    recipe = make_recipe(source, "fast", FAST)
    pairs_path = source.pairs_path
    pl.read_parquet(pairs_path).with_columns(pl.lit("general").alias("slice")).write_parquet(
        pairs_path
    )
    with pytest.raises(BenchmarkError, match="no safety train pairs"):
        run_noise_benchmark(source, CONFIG, recipe)
