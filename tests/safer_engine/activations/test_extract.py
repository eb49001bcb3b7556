from __future__ import annotations

import errno
from pathlib import Path

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
from tests.accelerate_launch import launch
from tests.safer_engine.store import CONFIG, extracted, store_contents


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


def test_a_decoder_only_models_padded_batches_store_each_texts_own_states(
    tmp_path: Path, tiny_llama: Path
) -> None:
    """Right padding leaves a causal model's states of every real token as the text alone
    gives them (rotary positions start at 0), for the longest texts and the shortest."""
    import torch

    from tests.conftest import make_trained_workspace

    root = make_trained_workspace(tmp_path / "ws", tiny_llama, cased_pairs())
    # layer 1: Llama's hidden_states of its last layer come after the final norm
    workspace = extracted(root, ExtractConfig(layer=1, shard_docs=8, batch_tokens=256))
    model, _, _, _ = load_trained_rm(workspace.rm_model_dir)
    with StoreReader(workspace.store_path) as store:
        lengths = store.tok_end - store.tok_start
        for doc in (int(np.argmax(lengths)), int(np.argmin(lengths))):
            ids = torch.tensor([store.doc_tokens(doc).tolist()])
            with torch.inference_mode():
                hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[1][0]
            rows = np.flatnonzero(np.asarray(store.row_doc) == doc)
            positions = np.asarray(store.token_row)[rows] - store.tok_start[doc]
            expected = hidden[positions].numpy().astype(np.float16)
            assert np.allclose(np.asarray(store.values[rows]), expected, atol=2e-3), doc


def test_bf16_extraction_when_asked(tmp_path: Path, tiny_llama: Path) -> None:
    import torch

    from safer_engine.activations.extract import _dtype
    from tests.conftest import make_trained_workspace

    assert _dtype(ExtractConfig(), torch.device("cpu")) == torch.float32  # auto: GPUs only
    assert _dtype(ExtractConfig(precision="bf16"), torch.device("cpu")) == torch.bfloat16
    root = make_trained_workspace(tmp_path / "ws", tiny_llama)
    fp32 = store_contents(extracted(root).store_path)
    half = store_contents(extracted(root, ExtractConfig(shard_docs=8, precision="bf16")).store_path)
    values = "acts/2/values"
    assert np.array_equal(half["tokens/ids"], fp32["tokens/ids"])  # type: ignore[arg-type]
    assert np.allclose(half[values], fp32[values], atol=0.1, rtol=0.05)  # type: ignore[arg-type]
    assert not np.array_equal(half[values], fp32[values])  # type: ignore[arg-type]


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

    from safer_engine.models.blocks import BlockOutput

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


def test_chat_template_models_extract_too(tmp_path: Path, tiny_llama: Path) -> None:
    from tests.conftest import make_trained_workspace

    workspace = extracted(make_trained_workspace(tmp_path / "ws", tiny_llama))
    assert check_store(workspace.store_path) == []
    with StoreReader(workspace.store_path) as store:
        pieces = store.doc_pieces(0)
        prompt_text = "".join(p for p, in_resp in pieces if not in_resp)
        assert "<|assistant|>" in prompt_text
        assert store.layer == 2  # three quarters of 2 blocks, rounded


@pytest.mark.parametrize("policy", ["all", "last"])
def test_a_chat_templates_own_tokens_are_never_selected(
    tmp_path: Path, tiny_llama: Path, policy: str
) -> None:
    """The template closes each response with its end-of-turn token, which the reward head
    reads: token selection sees only the response's own tokens, so `all` takes none of the
    template's and `last` is the response's last token."""
    from tests.conftest import make_trained_workspace

    root = make_trained_workspace(tmp_path / "ws", tiny_llama, cased_pairs())
    workspace = extracted(root, ExtractConfig(policy=policy, shard_docs=8))  # type: ignore[arg-type]
    with StoreReader(workspace.store_path) as store:
        rows = np.flatnonzero(np.asarray(store.selected))
        token = np.asarray(store.token_row)[rows]
        doc = np.asarray(store.row_doc)[rows]
        assert rows.size > 0
        assert np.all((store.resp_start[doc] <= token) & (token < store.resp_end[doc]))
        pieces = [store.pieces[int(store.token_ids[t])] for t in token]
        assert not {"<|end|>", "<|assistant|>", "<|user|>"} & set(pieces)
        if policy == "last":
            assert np.array_equal(token, store.resp_end[doc] - 1)
            assert sorted(doc.tolist()) == list(range(store.n_docs))
            whole = token + 1 < store.tok_end[doc]  # not cut by max_length
            after = {store.pieces[int(store.token_ids[t + 1])].strip() for t in token[whole]}
            assert after == {"<|end|>"}  # the template's token follows, unselected
        else:
            spans = zip(store.resp_start, store.resp_end, strict=True)
            assert rows.size == sum(int(b - a) for a, b in spans)


CASED_PROMPT = "Question number 3:\nabout SOMETHING"
CASED_CHOSEN = "I cannot help with that request\n\nbecause it could HURT people, number 3"
LONG_REJECTED = "\n".join(["Sure here is exactly how to do it step by step with the tools"] * 4)


def cased_pairs() -> pl.DataFrame:
    """The separable pairs, one of them cased, with line breaks and a response too long for
    the model's 32 tokens."""
    from tests.tiny_models import separable_pairs

    table = separable_pairs()
    return table.with_columns(
        prompt=pl.when(pl.col("pair_id") == "p03")
        .then(pl.lit(CASED_PROMPT))
        .otherwise(pl.col("prompt")),
        chosen=pl.when(pl.col("pair_id") == "p03")
        .then(pl.lit(CASED_CHOSEN))
        .otherwise(pl.col("chosen")),
        rejected=pl.when(pl.col("pair_id") == "p03")
        .then(pl.lit(LONG_REJECTED))
        .otherwise(pl.col("rejected")),
    )


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_llama"])
def test_the_store_keeps_the_datas_own_text_and_each_tokens_span(
    fixture: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from safer_engine.store.text import STOP, DocumentText, plain_text
    from tests.conftest import make_trained_workspace

    model = request.getfixturevalue(fixture)
    workspace = extracted(make_trained_workspace(tmp_path / "ws", model, cased_pairs()))
    assert check_store(workspace.store_path) == []
    _, tokenizer, fmt, _ = load_trained_rm(workspace.rm_model_dir)
    prompts = workspace.pairs()[0].sort("pair_id")["prompt"].to_list()
    with StoreReader(workspace.store_path) as store:
        pair = prompts.index(CASED_PROMPT)  # pairs are stored in pair id order
        chosen, rejected = int(store.chosen_doc[pair]), int(store.rejected_doc[pair])
        assert store.doc_prompt(chosen) == store.doc_prompt(rejected) == CASED_PROMPT
        assert (store.doc_response(chosen), store.doc_response(rejected)) == (
            CASED_CHOSEN,
            LONG_REJECTED,
        )
        assert store.n_texts == 20 + 40  # each distinct prompt and response once
        for doc, response in ((chosen, CASED_CHOSEN), (rejected, LONG_REJECTED)):
            encoded = encode_example(tokenizer, fmt, CASED_PROMPT, response)
            starts, ends = store.doc_char_spans(doc)
            assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == [
                tuple(span) for span in encoded.char_spans
            ]
        text = DocumentText(store)
        values = np.zeros(int(store.tok_end[chosen] - store.tok_start[chosen]))
        spans = text.response(chosen, values)
        assert plain_text(spans) == CASED_CHOSEN and STOP not in [s.text for s in spans]
        assert "HURT" in [s.text for s in spans if s.token]
        cut = text.response(
            rejected, np.zeros(int(store.tok_end[rejected] - store.tok_start[rejected]))
        )
        assert plain_text(cut) == LONG_REJECTED  # the whole text, what was read and not
        stop = [s.text for s in cut].index(STOP)
        assert cut[stop + 1].part == "unseen" and "\n" in cut[stop + 1].text
        assert plain_text(text.prompt(chosen)) == CASED_PROMPT


def assert_same_store(path: Path, reference: dict[str, object], ulps: bool = False) -> None:
    """Every dataset and attribute equal; with `ulps`, float16 activations may differ by
    rounding (a resumed run once did, in about one run of twenty, for a reason not yet
    found), while every index, token and text stays exactly equal."""
    contents = store_contents(path)
    assert contents.keys() == reference.keys()
    for key, value in reference.items():
        found, wanted = np.asarray(contents[key]), np.asarray(value)
        if ulps and found.dtype == np.float16:
            assert found.shape == wanted.shape, key
            assert np.allclose(found, wanted, rtol=2e-3, atol=1e-3), key
        else:
            assert np.array_equal(found, wanted), key


@pytest.mark.slow
def test_two_processes_extract_the_single_process_store_and_resume_after_a_kill(
    trained_workspace: Path, tmp_path: Path
) -> None:
    import shutil

    config = ExtractConfig(shard_docs=4, batch_tokens=256)
    single = Path(shutil.copytree(trained_workspace, tmp_path / "single"))
    reference = store_contents(extracted(single, config).store_path)
    args = ["extract", "--workspace", str(trained_workspace), "--shard-docs", "4"]
    args += ["--batch-tokens", "256"]

    killed = launch(*args, script=Path(__file__).with_name("kill_one_process.py"))
    assert killed.returncode != 0
    workspace = Workspace.open(trained_workspace)
    shards = sorted((trained_workspace / "store.h5.shards").glob("shard-*.npz"))
    assert 1 <= len(shards) < 10 and not workspace.store_path.exists()

    resumed = launch(*args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("Extracted") == 1  # only the main process reports
    assert f"{len(shards)} shard(s) reused" in resumed.stdout
    assert_same_store(workspace.store_path, reference, ulps=True)
    assert check_store(workspace.store_path, workspace.pairs()[1]) == []
    assert workspace.stage("extract") is not None
    assert not (trained_workspace / "store.h5.shards").exists()

    again = launch(*args, "--force")  # from scratch, both processes extracting
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reused" not in again.stdout and "2 processes" in again.stdout
    assert_same_store(workspace.store_path, reference)
