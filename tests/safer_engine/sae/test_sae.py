from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest

from safer_engine.activations.stage import extract_stage, generic_stage
from safer_engine.artifacts import CODES_FILE, SALIENCE_FILE
from safer_engine.codes.examples import FeatureExamples
from safer_engine.config import ExtractConfig, SAEConfig, flag
from safer_engine.errors import ConfigError, StoreError, WorkspaceError
from safer_engine.sae.encode import encode_rows, load_sae
from safer_engine.sae.stage import encode_stage, resolve_sae, train_sae_stage
from safer_engine.sae.train import (
    init_b_dec,
    measure,
    sae_lens_config,
    train_sae,
    trainer_config,
)
from safer_engine.salience.stage import salience_stage
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace

SMALL = SAEConfig(n_latents=32, k=4, epochs=30, batch_size=64, eval_rows=2000)


@pytest.fixture
def extracted(trained_workspace: Path) -> Workspace:
    workspace = Workspace.open(trained_workspace)
    # the fixture's texts have no punctuation, so sentence_end would select no token
    extract_stage(workspace, ExtractConfig(layer=2, shard_docs=16, policy="all"))
    return workspace


def test_training_reduces_reconstruction_error(extracted: Workspace, tmp_path: Path) -> None:
    import torch
    from sae_lens.saes.topk_sae import TopKTrainingSAE

    with StoreReader(extracted.store_path) as reader:
        torch.manual_seed(SMALL.seed)
        untrained = TopKTrainingSAE(sae_lens_config(16, 32, 4, "cpu", "tiny", 2))
        rows = np.arange(reader.values.shape[0])
        before = measure(untrained, reader, rows, 2000, 0)
    result = train_sae(extracted.store_path, SMALL, tmp_path / "sae")
    assert result.metrics.variance_explained > before.variance_explained + 0.2
    assert result.metrics.mean_l0 <= 4
    info = json.loads((tmp_path / "sae" / "safer_sae.json").read_text())
    assert info["metrics"]["variance_explained"] == result.metrics.variance_explained
    assert (tmp_path / "sae" / "cfg.json").exists()
    assert (tmp_path / "sae" / "sae_weights.safetensors").exists()


def test_our_sae_loads_in_sae_lens_and_gives_the_stored_codes(extracted: Workspace) -> None:
    import torch
    from sae_lens import SAE

    sae_id, _ = train_sae_stage(extracted, SMALL)
    encode_stage(extracted, sae_id)
    sae = SAE.load_from_disk(str(extracted.sae_dir(sae_id)), device="cpu")
    with (
        StoreReader(extracted.store_path) as reader,
        h5py.File(extracted.sae_dir(sae_id) / CODES_FILE) as f,
    ):
        x = torch.from_numpy(reader.activations(slice(0, 50)))
        with torch.inference_mode():
            dense = sae.encode(x)
        values, indices = dense.topk(4, dim=-1)
        assert np.array_equal(np.sort(f["codes_idx"][:50], 1), np.sort(indices.numpy(), 1))
        assert np.allclose(
            np.sort(f["codes_val"][:50].astype(np.float32), 1),
            np.sort(values.numpy(), 1),
            atol=1e-2,
        )


def test_an_sae_trained_by_sae_lens_encodes_into_our_store(
    extracted: Workspace, tmp_path: Path
) -> None:
    import torch
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.training.sae_trainer import SAETrainer

    torch.manual_seed(0)
    sae = StandardTrainingSAE(
        StandardTrainingSAEConfig(d_in=16, d_sae=24, dtype="float32", device="cpu")
    )
    data = iter(lambda: torch.randn(32, 16), None)
    trainer = SAETrainer(
        SAETrainerConfig(
            total_training_samples=320,
            train_batch_size_samples=32,
            lr_end=1e-5,
            logger=LoggingConfig(log_to_wandb=False),
        ),
        sae,
        data,
    )
    trainer.fit().save_inference_model(str(tmp_path / "relu-sae"))

    sae_id = resolve_sae(extracted, str(tmp_path / "relu-sae"))
    assert sae_id == "relu-sae"
    result = encode_stage(extracted, sae_id)
    assert result is not None
    assert result.k == 24  # a non-TopK SAE keeps min(64, d_sae) strongest latents
    assert salience_stage(extracted, sae_id) is not None
    assert (extracted.sae_dir(sae_id) / SALIENCE_FILE).exists()


def test_feature_index_and_contexts(extracted: Workspace) -> None:
    sae_id, _ = train_sae_stage(extracted, SMALL)
    encode_stage(extracted, sae_id)
    salience_stage(extracted, sae_id)
    table = pl.read_parquet(extracted.sae_dir(sae_id) / SALIENCE_FILE)
    assert table["abs_salience"][0] > 0
    feature = int(table["feature"][0])
    reader = FeatureExamples(extracted.store_path, extracted.sae_dir(sae_id))
    contexts = reader.examples(feature, per_quantile=3, quantiles=(1.0,))
    reader.close()
    assert contexts
    activations = [c.activation for c in contexts]
    assert activations == sorted(activations, reverse=True)
    with h5py.File(extracted.sae_dir(sae_id) / CODES_FILE) as f:
        idx, val = f["codes_idx"][()], f["codes_val"][()].astype(np.float32)
    assert activations[0] == pytest.approx(float(val[idx == feature].max()), rel=1e-3)


def test_stage_reuse_and_missing_prerequisites(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    with pytest.raises(WorkspaceError, match="has no activation store yet"):
        train_sae_stage(workspace, SMALL)
    with pytest.raises(WorkspaceError, match="has no SAE yet"):
        resolve_sae(workspace, None)
    extract_stage(workspace, ExtractConfig(layer=2, shard_docs=16))
    sae_id, first = train_sae_stage(workspace, SMALL)
    assert first is not None
    assert train_sae_stage(workspace, SMALL) == (sae_id, None)
    assert encode_stage(workspace, sae_id) is not None
    assert encode_stage(workspace, sae_id) is None
    with pytest.raises(WorkspaceError, match="has no SAE 'nope'") as unknown:
        resolve_sae(workspace, "nope")
    assert sae_id in unknown.value.hint


def test_sae_of_another_width_is_refused(extracted: Workspace, tmp_path: Path) -> None:
    from sae_lens.saes.topk_sae import TopKTrainingSAE

    TopKTrainingSAE(sae_lens_config(8, 16, 2, "cpu", "other", 1)).save_inference_model(
        str(tmp_path / "narrow")
    )
    sae_id = resolve_sae(extracted, str(tmp_path / "narrow"))
    with pytest.raises(
        StoreError, match="reads 8-wide activations, but the store's layer 2 is 16 wide"
    ):
        encode_stage(extracted, sae_id)
    assert not (extracted.sae_dir(sae_id) / CODES_FILE).exists()


def test_k_larger_than_latents() -> None:
    with pytest.raises(ConfigError, match=r"k \(8\) cannot exceed n_latents \(4\)"):
        SAEConfig(n_latents=4, k=8)
    with pytest.raises(ConfigError, match="cannot exceed"):
        SAEConfig(k=100).resolved(8)


def test_nan_activations_are_refused(extracted: Workspace, tmp_path: Path) -> None:
    with h5py.File(extracted.store_path, "r+") as f:
        f["acts/2/values"][3, 0] = np.nan
    with pytest.raises(StoreError, match="NaN or inf"):
        train_sae(extracted.store_path, SMALL, tmp_path / "sae")
    assert not (tmp_path / "sae").exists()


def test_encode_rows_keeps_the_k_strongest(extracted: Workspace) -> None:
    sae_id, _ = train_sae_stage(extracted, SMALL)
    sae = load_sae(extracted.sae_dir(sae_id))
    with StoreReader(extracted.store_path) as reader:
        idx, val = encode_rows(sae, reader.activations(slice(0, 5)), 4)
    assert idx.shape == val.shape == (5, 4)
    assert np.all(np.diff(val.astype(np.float32), axis=1) <= 0)
    # raw rows standardised on the SAE's device give the codes of rows standardised by numpy
    with StoreReader(extracted.store_path) as reader:
        raw = np.asarray(reader.values[0:64])
        on_device = encode_rows(sae, raw, 4, normalise=True)
        by_numpy = encode_rows(sae, reader.activations(slice(0, 64)), 4)
    assert np.array_equal(on_device[0], by_numpy[0])
    assert np.allclose(on_device[1].astype(np.float32), by_numpy[1].astype(np.float32), atol=1e-2)


def test_two_stage_training_on_generic_text_first(extracted: Workspace, tmp_path: Path) -> None:
    text = tmp_path / "generic.txt"
    text.write_text(
        "question number 1 about something\n\nSure here is how to do it\n\n"
        "I cannot help with that request number 2",
        encoding="utf-8",
    )
    config = SAEConfig(
        n_latents=32, k=4, epochs=5, batch_size=16, pretrain_text=str(text), pretrain_epochs=3
    )
    generic = generic_stage(extracted, text, config.pretrain_tokens)
    assert generic_stage(extracted, text, config.pretrain_tokens) == generic  # reused
    sae_id, result = train_sae_stage(extracted, config, generic=generic)
    assert result is not None
    info = json.loads((extracted.sae_dir(sae_id) / "safer_sae.json").read_text())
    assert set(info["steps"]) == {"generic", "preference"}
    assert info["steps"]["generic"] >= 1
    assert info["config"]["pretrain_text"] == str(text)


def test_missing_generic_text_file(extracted: Workspace, tmp_path: Path) -> None:
    from safer_engine.errors import DataError

    config = SAEConfig(n_latents=32, k=4, pretrain_text=str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="no such text file"):
        generic_stage(extracted, Path(str(config.pretrain_text)), config.pretrain_tokens)
    with pytest.raises(WorkspaceError, match="no generic activations"):
        train_sae_stage(extracted, config)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("lr_decay", -0.1),
        ("lr_decay", 1.0),
        ("decoder_init_norm", 0.0),
        ("decoder_init_norm", -0.5),
        ("decoder_init_norm", 1000.0),
        ("b_dec_init", "median"),
    ],
)
def test_initialisation_and_schedule_settings_are_validated(setting: str, value: object) -> None:
    with pytest.raises(ConfigError, match=flag(setting)):
        SAEConfig(**{setting: value})  # type: ignore[arg-type]


def test_sae_starts_from_the_decoder_norm_and_the_data_mean() -> None:
    import torch
    from sae_lens.saes.topk_sae import TopKTrainingSAE

    torch.manual_seed(0)
    sae = TopKTrainingSAE(sae_lens_config(16, 32, 4, "cpu", "tiny", 2, decoder_init_norm=0.5))
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.full((32,), 0.5))
    assert torch.equal(sae.W_enc, sae.W_dec.T)
    values = np.random.default_rng(0).normal(3.0, 1.0, (100, 16)).astype(np.float32)
    init_b_dec(sae, values)
    assert np.allclose(sae.b_dec.detach().numpy(), values.mean(0), atol=1e-6)


def test_learning_rate_is_constant_then_falls_to_zero() -> None:
    import torch
    from sae_lens.saes.topk_sae import TopKTrainingSAE
    from sae_lens.training.sae_trainer import SAETrainer

    settings = trainer_config(SAEConfig(batch_size=10, learning_rate=1e-3), 1.0, 100, "cpu")
    assert (settings.total_training_steps, settings.lr_decay_steps) == (10, 3)
    assert trainer_config(SAEConfig(lr_decay=0.0), 1.0, 100, "cpu").lr_decay_steps == 0
    sae = TopKTrainingSAE(sae_lens_config(16, 32, 4, "cpu", "tiny", 2))
    trainer = SAETrainer(settings, sae, iter(lambda: torch.randn(10, 16), None))
    rates = []
    for _ in range(10):
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    assert rates[:7] == pytest.approx([1e-3] * 7)
    assert rates[7] > rates[8] > rates[9] > 0
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_defaults_train_a_healthier_sae_than_sae_lens_initialisation(
    extracted: Workspace, tmp_path: Path
) -> None:
    # sae-lens's own start (decoder rows of norm 0.1, zero decoder bias) at the old constant
    # 4e-4 learning rate, against our defaults, both for SMALL's 30 epochs
    old = SAEConfig(
        n_latents=32,
        k=4,
        epochs=30,
        batch_size=64,
        eval_rows=2000,
        learning_rate=4e-4,
        lr_decay=0.0,
        decoder_init_norm=0.1,
        b_dec_init="zeros",
    )
    before = train_sae(extracted.store_path, old, tmp_path / "old").metrics
    after = train_sae(extracted.store_path, SMALL, tmp_path / "new").metrics
    assert after.variance_explained > before.variance_explained + 0.2
    assert after.dead_fraction <= before.dead_fraction
    # sae-lens's start leaves about 18 of the 32 latents dead here and ours none; 2 in one CI
    # run from before the tiny models' weights were seeded, hence the margin
    assert after.dead_fraction <= 3 / 32, (before, after)
