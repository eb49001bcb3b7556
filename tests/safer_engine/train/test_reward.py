from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safer_engine.config import RMConfig
from safer_engine.errors import Cancelled, TrainingError
from safer_engine.models.registry import resolve_model
from safer_engine.models.reward_model import choose_format, load_reward_model, load_tokenizer
from safer_engine.progress import CancelToken, no_progress
from safer_engine.train.evaluate import evaluate_reward_model, score_texts
from safer_engine.train.pairs import encode_pairs, pack_batches
from safer_engine.train.reward import train_reward_model
from tests.tiny_models import separable_pairs


def tiny_config(model: Path, **overrides: object) -> RMConfig:
    settings = {
        "model": str(model),
        "max_length": 32,
        "max_prompt_tokens": 8,
        "learning_rate": 1e-2,
        "batch_texts": 8,
        "max_steps": 40,
        "save_steps": 100,
        "warmup_ratio": 0.0,
        **overrides,
    }
    return RMConfig(**settings)  # type: ignore[arg-type]


def untrained_margin(model_path: Path, table: pl.DataFrame) -> float:
    """Mean r(chosen) − r(rejected) of the randomly initialised model.

    A random model ranks these look-alike pairs all one way, so its accuracy is 0 or 1 by
    chance; the margin is what training must move."""
    source = resolve_model(str(model_path))
    tokenizer = load_tokenizer(source)
    model = load_reward_model(source, tokenizer)
    encoded = encode_pairs(
        table, tokenizer, choose_format(tokenizer, 32, 8), no_progress, CancelToken()
    )
    rewards = score_texts(model, encoded, tokenizer.pad_token_id, 16, no_progress, CancelToken())
    return float(np.mean(rewards[encoded.pairs[:, 0]] - rewards[encoded.pairs[:, 1]]))


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["tiny_bert", "tiny_llama"])
def test_loss_falls_and_accuracy_rises_on_a_separable_fixture(
    backbone: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model_path = request.getfixturevalue(backbone)
    table = separable_pairs()
    before = untrained_margin(model_path, table)
    result = train_reward_model(table, "fp", tiny_config(model_path), tmp_path)
    assert result.steps == 40
    assert result.losses[-1] < result.losses[0] * 0.5
    report = evaluate_reward_model(result.model_dir, table, split="all")
    assert report.overall.accuracy == 1.0
    assert report.margins.mean > max(before, 0.0) + 1.0
    saved = json.loads((result.model_dir / "safer_rm.json").read_text())
    assert saved["data_fingerprint"] == "fp"
    assert saved["format"]["kind"] == ("plain" if backbone == "tiny_bert" else "chat_template")
    assert (result.model_dir / "model.safetensors").exists()
    assert not (tmp_path / "checkpoints").exists()


def test_packed_batches_keep_every_pair_with_both_texts() -> None:
    from safer_engine.train.pairs import EncodedPairs

    # prompt 0 has 3 texts and 3 pairs, prompt 1 has 2 texts and 1 pair
    encoded = EncodedPairs(
        texts=[[1], [2], [3], [4], [5]],
        pairs=np.array([[0, 1], [0, 2], [1, 2], [3, 4]]),
        pair_prompt=np.array([0, 0, 0, 1]),
    )
    batches = pack_batches(encoded, max_texts=3, seed=0)
    seen = set()
    for batch in batches:
        assert len(batch.texts) <= 3
        for local_c, local_r in batch.pairs.tolist():
            seen.add((batch.texts[local_c], batch.texts[local_r]))
    assert seen == {(0, 1), (0, 2), (1, 2), (3, 4)}
    assert len(pack_batches(encoded, max_texts=5, seed=0)) == 1


def test_interrupted_training_resumes_from_its_last_checkpoint(
    tiny_bert: Path, tmp_path: Path
) -> None:
    table = separable_pairs()
    config = tiny_config(tiny_bert, max_steps=6, save_steps=2)
    cancel = CancelToken()

    def stop_at_three(task: str, done: int, total: int | None) -> None:
        if task == "training" and done == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train_reward_model(table, "fp", config, tmp_path, stop_at_three, cancel)
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "model").exists()
    result = train_reward_model(table, "fp", config, tmp_path)
    assert result.resumed_from in {"checkpoint-2", "checkpoint-3"}
    assert result.steps == 6
    assert (tmp_path / "model" / "safer_rm.json").exists()


def test_checkpoints_from_other_data_are_refused(tiny_bert: Path, tmp_path: Path) -> None:
    table = separable_pairs()
    config = tiny_config(tiny_bert, max_steps=4, save_steps=2)
    cancel = CancelToken()

    def stop(task: str, done: int, total: int | None) -> None:
        if task == "training" and done == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train_reward_model(table, "old", config, tmp_path, stop, cancel)
    with pytest.raises(TrainingError, match="trained on other data") as info:
        train_reward_model(table, "new", config, tmp_path)
    assert "--fresh" in info.value.hint
    assert train_reward_model(table, "new", config, tmp_path, fresh=True).resumed_from is None


def test_too_few_pairs(tiny_bert: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="Only 4 training pairs"):
        train_reward_model(separable_pairs().head(5), "fp", tiny_config(tiny_bert), tmp_path)
    assert not any(tmp_path.iterdir())


def test_two_cpu_processes_with_accelerate_launch(tiny_bert: Path, tmp_path: Path) -> None:
    from safer_engine.config import DataConfig
    from safer_engine.data.load import load_preferences
    from safer_engine.data.stage import import_data
    from safer_engine.workspace import Workspace

    data = tmp_path / "pairs.parquet"
    separable_pairs().write_parquet(data)
    workspace = Workspace.open(tmp_path / "ws", create=True)
    import_data(workspace, load_preferences(DataConfig(str(data))))
    launcher = Path(sys.executable).parent / "accelerate"
    result = subprocess.run(
        [
            str(launcher),
            "launch",
            "--cpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "safer_engine.cli",
            "train-rm",
            "--workspace",
            str(workspace.root),
            "--model",
            str(tiny_bert),
            "--max-steps",
            "4",
            "--batch-texts",
            "8",
            "--max-length",
            "32",
            "--max-prompt-tokens",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("Reward model trained") == 1  # only the main process reports
    assert (workspace.rm_model_dir / "model.safetensors").exists()
    assert workspace.stage("rm") is not None


def test_out_of_memory_becomes_advice_and_writes_no_model(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import Trainer

    def exhausted(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(Trainer, "train", exhausted)
    with pytest.raises(TrainingError, match="Out of memory") as info:
        train_reward_model(separable_pairs(), "fp", tiny_config(tiny_bert), tmp_path)
    assert "--batch-texts" in info.value.hint
    assert not (tmp_path / "model").exists()


def test_the_same_seed_trains_the_same_model(tiny_llama: Path, tmp_path: Path) -> None:
    """tiny_llama is a causal LM, so its reward head starts from new random weights: seeded,
    two trainings in one process (the global generator moved on between them) are equal."""
    from safetensors.numpy import load_file

    table = separable_pairs()
    config = tiny_config(tiny_llama, max_steps=2)
    first = load_file(
        train_reward_model(table, "fp", config, tmp_path / "a").model_dir / "model.safetensors"
    )
    second = load_file(
        train_reward_model(table, "fp", config, tmp_path / "b").model_dir / "model.safetensors"
    )
    assert first.keys() == second.keys() and "score.weight" in first
    assert all(np.array_equal(first[name], second[name]) for name in first)
