from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest

from safer_engine.activations.extract import extract_store
from safer_engine.activations.stage import extract_stage
from safer_engine.config import ExtractConfig
from safer_engine.errors import Cancelled, ModelError, StoreError
from safer_engine.models.reward_model import encode_example, load_trained_rm
from safer_engine.progress import CancelToken
from safer_engine.store.check import check_store
from safer_engine.store.reader import StoreReader, normalise_rows
from safer_engine.workspace import Workspace

CONFIG = ExtractConfig(shard_docs=8, batch_tokens=256)


def extracted(root: Path, config: ExtractConfig = CONFIG) -> Workspace:
    workspace = Workspace.open(root)
    extract_store(workspace, config)
    return workspace


def test_round_trip_texts_pairs_and_response_rows(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    table = pl.read_parquet(workspace.pairs_path).sort("pair_id")
    _, tokenizer, fmt, _ = load_trained_rm(workspace.rm_model_dir)
    with StoreReader(workspace.store_path) as store:
        assert store.pair_ids() == table["pair_id"].to_list()
        assert store.n_docs == 40  # 20 pairs, no shared responses
        row = table.row(3, named=True)
        doc = int(store.chosen_doc[3])
        encoded = encode_example(tokenizer, fmt, row["prompt"], row["chosen"])
        assert store.doc_tokens(doc).tolist() == encoded.input_ids
        response = "".join(p for p, in_resp in store.doc_pieces(doc) if in_resp)
        assert response.split() == row["chosen"].split()  # the tiny tokenizer keeps case
        assert store.doc_text(doc).split() == tokenizer.decode(encoded.input_ids).split()
        # keep=response stores every response token of every document, in order
        spans = (store.resp_end - store.resp_start).sum()
        assert store.values.shape == (spans, 16)
        rows = np.asarray(store.token_row)
        assert np.all(np.diff(rows) > 0)
        slices, names = store.codes("slice")
        assert [names[c] for c in slices] == table["slice"].to_list()


def test_stored_values_equal_the_models_hidden_state(trained_workspace: Path) -> None:
    import torch

    workspace = extracted(trained_workspace, ExtractConfig(layer=1, shard_docs=8))
    model, _, _, _ = load_trained_rm(workspace.rm_model_dir)
    with StoreReader(workspace.store_path) as store:
        doc = 5
        ids = torch.tensor([store.doc_tokens(doc).tolist()])
        with torch.inference_mode():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[1][0]
        rows = np.flatnonzero(np.asarray(store.row_doc) == doc)
        positions = np.asarray(store.token_row)[rows] - store.tok_start[doc]
        expected = hidden[positions].numpy().astype(np.float16)
        assert np.allclose(np.asarray(store.values[rows]), expected, atol=1e-3)
        assert np.allclose(store.activations(rows), normalise_rows(expected), atol=1e-2)


def test_memmap_reads_equal_h5py_reads(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    with StoreReader(workspace.store_path) as store, h5py.File(workspace.store_path) as f:
        assert isinstance(store.values, np.memmap)
        assert isinstance(store.token_ids, np.memmap)
        group = f[f"acts/{store.layer}"]
        assert np.array_equal(np.asarray(store.values), group["values"][()])
        assert np.array_equal(np.asarray(store.token_row), group["token_row"][()])
        assert np.array_equal(np.asarray(store.token_ids), f["tokens/ids"][()])


def store_contents(path: Path) -> dict[str, object]:
    contents: dict[str, object] = {}
    with h5py.File(path) as f:
        f.visititems(
            lambda name, obj: (
                contents.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
        contents.update({f"@{k}": v for k, v in f.attrs.items()})
    return contents


def test_resume_after_a_crash_gives_the_identical_store(
    trained_workspace: Path, tmp_path: Path
) -> None:
    import shutil

    clean = Path(shutil.copytree(trained_workspace, tmp_path / "clean"))
    reference = store_contents(extracted(clean).store_path)

    workspace = Workspace.open(trained_workspace)
    cancel = CancelToken()

    def crash_after_first_shard(task: str, done: int, total: int | None) -> None:
        if task == "extracting" and done >= 8:
            cancel.cancel()

    with pytest.raises(Cancelled):
        extract_store(workspace, CONFIG, crash_after_first_shard, cancel)
    shards = workspace.root / "store.h5.shards"
    assert (shards / "shard-00000.npz").exists()
    assert not workspace.store_path.exists()
    # what kill -9 leaves mid-write: half-written shard and store files
    (shards / "shard-00001.npz.partial.npz").write_bytes(b"half")
    (workspace.root / "store.h5.partial").write_bytes(b"half")
    extract_store(workspace, CONFIG)
    resumed = store_contents(workspace.store_path)
    assert resumed.keys() == reference.keys()
    for key, value in reference.items():
        assert np.array_equal(np.asarray(resumed[key]), np.asarray(value)), key
    assert not shards.exists()


def test_shards_from_another_config_are_not_reused(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        extract_store(
            workspace,
            CONFIG,
            lambda t, d, n: cancel.cancel() if t == "extracting" and d >= 8 else None,
            cancel,
        )
    result = extract_store(workspace, ExtractConfig(shard_docs=8, policy="last"))
    assert result.shards_reused == 0


def test_stage_reuses_an_up_to_date_store(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    assert extract_stage(workspace, CONFIG) is not None
    assert extract_stage(workspace, CONFIG) is None
    assert extract_stage(workspace, ExtractConfig(shard_docs=8, policy="all")) is not None


def test_layer_out_of_range(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    with pytest.raises(ModelError, match="Layer 3 is out of range: the model has 2 blocks"):
        extract_store(workspace, ExtractConfig(layer=3))
    assert not workspace.store_path.exists()


def test_blocks_that_cannot_be_located() -> None:
    from types import SimpleNamespace

    from torch import nn

    from safer_engine.activations.blocks import BlockOutput

    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = SimpleNamespace(num_hidden_layers=3)
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

    with pytest.raises(ModelError, match="Cannot locate the 3 transformer blocks of Odd"):
        BlockOutput(Odd(), 1)


def test_a_full_disk_leaves_the_previous_store_untouched(
    trained_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = extracted(trained_workspace)
    before = workspace.store_path.read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("safer_engine.store.writer._write", full)
    with pytest.raises(StoreError, match="disk filled up") as info:
        extract_store(workspace, ExtractConfig(shard_docs=8, policy="all"))
    assert "shards are reused" in info.value.hint
    assert workspace.store_path.read_bytes() == before
    assert not (workspace.root / "store.h5.partial").exists()


def damage(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    with h5py.File(path, "r+") as f:
        edit(f)


def test_check_passes_a_sound_store_and_names_each_corruption(
    trained_workspace: Path, tmp_path: Path
) -> None:
    workspace = extracted(trained_workspace)
    path = workspace.store_path
    fingerprint = str(workspace.stage("data")["fingerprint"])  # type: ignore[index]
    assert check_store(path, fingerprint) == []
    original = path.read_bytes()

    def with_damage(edit) -> list[str]:  # type: ignore[no-untyped-def]
        path.write_bytes(original)
        damage(path, edit)
        return check_store(path, fingerprint)

    def shift_start(f: h5py.File) -> None:
        f["docs/tok_start"][3] += 1

    def nan_value(f: h5py.File) -> None:
        f[f"acts/{f.attrs['layer']}/values"][7, 2] = np.nan

    def unsorted_rows(f: h5py.File) -> None:
        rows = f[f"acts/{f.attrs['layer']}/token_row"]
        rows[4], rows[5] = rows[5], rows[4]

    def wrong_doc(f: h5py.File) -> None:
        f[f"acts/{f.attrs['layer']}/doc"][0] = 9

    def bad_token(f: h5py.File) -> None:
        f["tokens/ids"][0] = 10_000

    def bad_pair(f: h5py.File) -> None:
        f["pairs/chosen_doc"][1] = 999

    assert "not contiguous" in " ".join(with_damage(shift_start))
    assert any("NaN or inf, first row 7" in p for p in with_damage(nan_value))
    assert any("not strictly increasing" in p for p in with_damage(unsorted_rows))
    assert any("wrong document" in p for p in with_damage(wrong_doc))
    assert any("outside the vocabulary" in p for p in with_damage(bad_token))
    assert any("missing documents, first pair 1" in p for p in with_damage(bad_pair))
    path.write_bytes(original)
    assert any("other data" in p for p in check_store(path, "0" * 64))
    path.write_bytes(original[: len(original) // 2])
    assert any("truncated or corrupted" in p for p in check_store(path, fingerprint))


def test_newer_schema_is_refused(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    damage(workspace.store_path, lambda f: f.attrs.__setitem__("schema_version", 99))
    with pytest.raises(StoreError, match="schema 99"):
        StoreReader(workspace.store_path)


def test_reader_does_not_import_torch(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from safer_engine.store.reader import StoreReader\n"
        f"r = StoreReader(Path({str(workspace.store_path)!r}))\n"
        "r.doc_text(0); r.activations(slice(0, 4)); r.token_window(5, 2, 2)\n"
        "print(','.join(m for m in ('torch', 'transformers', 'sae_lens') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_token_window_is_clipped_to_its_document(trained_workspace: Path) -> None:
    workspace = extracted(trained_workspace)
    with StoreReader(workspace.store_path) as store:
        start, end = int(store.tok_start[2]), int(store.tok_end[2])
        assert store.token_window(start, 3, 1).tolist() == store.doc_tokens(2)[:2].tolist()
        assert store.token_window(end - 1, 1, 5).tolist() == store.doc_tokens(2)[-2:].tolist()


def test_chat_template_models_extract_too(tmp_path: Path, tiny_llama: Path) -> None:
    from tests.conftest import make_trained_workspace

    workspace = extracted(make_trained_workspace(tmp_path / "ws", tiny_llama))
    assert check_store(workspace.store_path) == []
    with StoreReader(workspace.store_path) as store:
        pieces = store.doc_pieces(0)
        prompt_text = "".join(p for p, in_resp in pieces if not in_resp)
        assert "<|assistant|>" in prompt_text
        assert store.layer == 2  # three quarters of 2 blocks, rounded
