"""A synthetic encoded workspace opens, checks and reads like a real one, and is reproducible."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest

from safer_engine.activations.selection import select
from safer_engine.artifacts import CODES_FILE, FEATURES_FILE, SALIENCE_FILE
from safer_engine.errors import Cancelled, ConfigError
from safer_engine.progress import CancelToken
from safer_engine.store.check import check_store
from safer_engine.store.reader import StoreReader
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace, synthetic_sae_id
from safer_engine.workspace import Workspace

TINY = {"n_pairs": 20, "tokens_per_doc": 12, "n_latents": 64, "k": 4}
SAE = synthetic_sae_id(TINY["n_latents"], TINY["k"])


def build(root: Path, seed: int = 0) -> Path:
    return build_synthetic_workspace(root, **TINY, seed=seed)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("synthetic") / "ws")


def test_the_store_opens_and_passes_the_check(tiny: Path) -> None:
    workspace = Workspace.open(tiny)
    data = workspace.stage("data")
    assert data is not None
    assert check_store(workspace.store_path, data.fingerprint) == []
    with StoreReader(workspace.store_path) as store:
        assert store.n_pairs == 20
        assert store.n_docs == 40
        assert store.token_ids.shape == (40 * 12,)
        assert store.layer == workspace.stage("extract").info["layer"]  # type: ignore[union-attr]
        assert store.pair_ids() == sorted(store.pair_ids())  # extract orders pairs by id
        assert store.doc_text(0).split()  # words, not ids


def test_selected_rows_are_the_papers_sentence_ends(tiny: Path) -> None:
    with StoreReader(Workspace.open(tiny).store_path) as store:
        rows = np.asarray(store.token_row)
        selected = rows[np.asarray(store.selected)]
        expected = []
        for doc in range(store.n_docs):
            lo, hi = int(store.resp_start[doc]), int(store.resp_end[doc])
            pieces = [store.pieces[int(t)] for t in store.token_ids[lo:hi]]
            expected += [lo + p for p in select("sentence_end", pieces)]
        assert selected.tolist() == expected
        assert 0 < selected.size < rows.size


def test_the_manifest_records_each_stage(tiny: Path) -> None:
    workspace = Workspace.open(tiny)
    extract, encode = workspace.stage("extract"), workspace.stage("encode", SAE)
    assert extract is not None and encode is not None
    assert encode.sae_id == SAE
    assert encode.inputs["extract"] == extract.fingerprint
    with StoreReader(workspace.store_path) as store:
        assert encode.info["rows"] == extract.info["rows"] == store.values.shape[0]
        assert extract.info["selected"] == int(np.asarray(store.selected).sum())
    pairs, fingerprint = workspace.pairs()
    assert pairs.height == 20
    assert fingerprint == workspace.stage("data").fingerprint  # type: ignore[union-attr]
    assert workspace.stale() == []
    salience = workspace.stage("salience", SAE)
    assert salience is not None and salience.inputs == {f"encode/{SAE}": encode.fingerprint}


def test_codes_have_distinct_latents_per_row_and_a_complete_index(tiny: Path) -> None:
    sae_dir = Workspace.open(tiny).sae_dir(SAE)
    with h5py.File(sae_dir / CODES_FILE) as f:
        idx = f["codes_idx"][()]
        assert idx.shape[1] == 4
        assert f.attrs["n_latents"] == 64
        assert all(len(set(row)) == len(row) for row in idx.tolist())
    with h5py.File(sae_dir / FEATURES_FILE) as f:
        assert f["by_feature/offsets"].shape == (65,)
        assert f["stats/salience"].shape == (64,)


def test_salience_has_n_latents_rows_and_leaders_of_both_signs(tiny: Path) -> None:
    table = pl.read_parquet(Workspace.open(tiny).sae_dir(SAE) / SALIENCE_FILE)
    assert table.height == 64
    assert sorted(table["feature"].to_list()) == list(range(64))
    top = table.sort("rank").head(10)
    assert (top["salience"] > 0.2).any()
    assert (top["salience"] < -0.2).any()


def test_same_seed_same_bytes_other_seed_other_table(tiny: Path, tmp_path: Path) -> None:
    again = build(tmp_path / "again")
    other = build(tmp_path / "other", seed=1)
    table = (tiny / "sae" / SAE / SALIENCE_FILE).read_bytes()
    assert (again / "sae" / SAE / SALIENCE_FILE).read_bytes() == table
    assert (other / "sae" / SAE / SALIENCE_FILE).read_bytes() != table
    with StoreReader(tiny / "store.h5") as a, StoreReader(again / "store.h5") as b:
        assert np.array_equal(np.asarray(a.token_ids), np.asarray(b.token_ids))
        assert np.array_equal(np.asarray(a.values), np.asarray(b.values))


def test_the_top_feature_has_examples(tiny: Path) -> None:
    from safer_engine.codes.examples import FeatureExamples

    workspace = Workspace.open(tiny)
    table = pl.read_parquet(workspace.sae_dir(SAE) / SALIENCE_FILE)
    feature = int(table.sort("rank")["feature"][0])
    examples = FeatureExamples(workspace.store_path, workspace.sae_dir(SAE))
    try:
        found = examples.examples(feature)
        assert found
        best = found[0]
        assert best.activation > 0
        (focus,) = [span for span in best.spans if span.focus]
        assert focus.value == pytest.approx(best.activation, rel=1e-3)
        assert focus.part == "response"
    finally:
        examples.close()


def test_the_explorer_opens_it(tiny: Path) -> None:
    from safer_engine.service.explorer import Explorer

    data = Explorer.open(tiny)
    try:
        assert data.sae_id == SAE
        assert data.features.height == 64
        assert data.reader().store.n_pairs == 20
    finally:
        data.close()


def test_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_latents"):
        build_synthetic_workspace(tmp_path / "ws", 4, 12, n_latents=8, k=4)
    with pytest.raises(ConfigError, match="tokens_per_doc"):
        build_synthetic_workspace(tmp_path / "ws", 4, 2, n_latents=64, k=4)


def test_cancel_leaves_no_store_and_no_codes(tmp_path: Path) -> None:
    cancel = CancelToken()

    def stop_at_codes(task: str, done: int, total: int | None) -> None:
        if task == "synthetic codes":
            cancel.cancel()

    with pytest.raises(Cancelled):
        build_synthetic_workspace(tmp_path / "ws", **TINY, progress=stop_at_codes, cancel=cancel)
    workspace = Workspace.open(tmp_path / "ws")
    assert workspace.stage("encode", SAE) is None
    assert not (workspace.sae_dir(SAE) / CODES_FILE).exists()
    assert not list(workspace.sae_dir(SAE).glob("*.partial"))
    assert not (tmp_path / "ws" / "store.h5.shards").exists()


def test_example_windows_find_the_rows_of_their_tokens(tiny: Path) -> None:
    from safer_engine.codes.examples import FeatureExamples

    workspace = Workspace.open(tiny)
    examples = FeatureExamples(workspace.store_path, workspace.sae_dir(SAE))
    try:
        rows = np.array(examples.token_rows)
        n_tokens = int(examples.store.token_ids.shape[0])
        for lo, hi in ((0, 5), (3, 40), (100, 101), (0, n_tokens), (n_tokens, n_tokens)):
            assert examples.rows_between(lo, hi) == tuple(np.searchsorted(rows, [lo, hi]))
        for row, token in enumerate(rows.tolist()):
            lo, hi = max(0, token - 7), token + 4
            expected = tuple(np.searchsorted(rows, [lo, hi]))
            assert examples.rows_between(lo, hi, (row, token)) == expected
    finally:
        examples.close()


def test_memory_mapped_datasets_are_aligned(tmp_path: Path) -> None:
    """Misaligned memmaps make numpy copy the whole array before every search."""
    import h5py

    from safer_engine.store.reader import StoreReader, memmap_dataset

    root = build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4)
    workspace = Workspace.open(root)
    with StoreReader(workspace.store_path) as store:
        for array in (
            store.token_row,
            store.token_ids,
            store.row_doc,
            store.values,
            store.text_utf8,
            store.char_start,
            store.char_end,
        ):
            assert isinstance(array, np.memmap) and array.flags.aligned
    sae_dir = workspace.sae_dir(workspace.sae_ids()[-1])
    for path, names in (
        (sae_dir / CODES_FILE, ("codes_idx", "codes_val")),
        (sae_dir / FEATURES_FILE, ("by_feature/rows", "by_feature/vals")),
    ):
        with h5py.File(path) as f:
            for name in names:
                array = memmap_dataset(path, f[name])
                assert isinstance(array, np.memmap) and array.flags.aligned, name


def test_the_store_keeps_the_pairs_texts_and_each_tokens_span(tiny: Path) -> None:
    workspace = Workspace.open(tiny)
    table = workspace.pairs()[0].sort("pair_id")
    with StoreReader(workspace.store_path) as store:
        assert store.has_texts
        for pair, row in enumerate(table.iter_rows(named=True)):
            chosen, rejected = int(store.chosen_doc[pair]), int(store.rejected_doc[pair])
            assert store.doc_prompt(chosen) == store.doc_prompt(rejected) == row["prompt"]
            assert store.doc_response(chosen) == row["chosen"]
            assert store.doc_response(rejected) == row["rejected"]
        cut = 0
        for doc in range(store.n_docs):
            starts, ends = store.doc_char_spans(doc)
            split = int(store.resp_start[doc] - store.tok_start[doc])
            texts = (store.doc_prompt(doc), store.doc_response(doc))
            for i, token in enumerate(store.doc_tokens(doc).tolist()):
                text = texts[i >= split]
                assert text[starts[i] : ends[i]].strip() == store.pieces[token].strip()
            # the spans tile each text's start, as a BPE tokenizer's offsets do
            for part, text in zip((slice(0, split), slice(split, None)), texts, strict=True):
                joined = "".join(text[a:b] for a, b in zip(starts[part], ends[part], strict=True))
                assert joined == text[: int(ends[part][-1])]
            cut += int(ends[-1]) < len(texts[1])  # the rest of a phrase the model never read
        assert 0 < cut < store.n_docs
