from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safer_engine.activations.vocab import piece_text, vocab_pieces
from safer_engine.store.check import check_store
from safer_engine.store.reader import StoreReader
from safer_engine.store.writer import StoreTables, save_shard, write_store

ODD_PIECES: list[bytes | str] = [
    b"\x00",  # NUL: HDF5's variable-length strings cannot hold it
    b"\xa1",  # a lone continuation byte: not UTF-8 on its own
    b"\xf0\x9f",  # the first half of an emoji
    b"\x98\x80",  # its second half
    "é",
    b"",
    " plain",
    b"a\x00b\xff",
]


def byte_level_tokenizer():  # type: ignore[no-untyped-def]
    """A GPT-2-style byte-level BPE over every byte and a few words (as SmolLM2's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from safer_engine.activations.vocab import _byte_level_alphabet

    alphabet = sorted(_byte_level_alphabet(), key=lambda ch: _byte_level_alphabet()[ch])
    vocab = {"<pad>": 0, **{ch: i + 1 for i, ch in enumerate(alphabet)}}
    vocab["Ġhello"] = len(vocab)
    merges = [("Ġ", "h"), ("Ġh", "e"), ("Ġhe", "l"), ("Ġhel", "l"), ("Ġhell", "o")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>")


def test_byte_level_pieces_are_the_bytes_the_model_reads() -> None:
    tokenizer = byte_level_tokenizer()
    pieces = vocab_pieces(tokenizer)
    assert pieces[tokenizer.convert_tokens_to_ids("Ā")] == b"\x00"
    assert pieces[tokenizer.convert_tokens_to_ids("¡")] == b"\xa1"
    assert pieces[tokenizer.convert_tokens_to_ids("Ġhello")] == b" hello"
    text = "say hello 🙂\x00 ünï\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert b"".join(pieces[i] for i in ids) == text.encode("utf-8")
    assert piece_text(pieces[tokenizer.convert_tokens_to_ids("¡")]) == "\ufffd"


def write_tiny_store(path: Path, pieces: list[bytes | str]) -> Path:
    """A one-document store whose vocabulary is `pieces`."""
    n = len(pieces)
    shard = path.with_name("shard.npz")
    save_shard(
        shard,
        values=np.zeros((n, 4), dtype=np.float16),
        token_row=np.arange(n, dtype=np.int64),
        doc=np.zeros(n, dtype=np.int64),
        selected=np.ones(n, dtype=bool),
    )
    tables = StoreTables(
        tok_start=np.array([0]),
        tok_end=np.array([n]),
        resp_start=np.array([0]),
        resp_end=np.array([n]),
        pair_id=np.array([b"p0"], dtype="S16"),
        chosen_doc=np.array([0]),
        rejected_doc=np.array([0]),
        slice_codes=np.array([0], dtype=np.int16),
        slice_names=["all"],
        split_codes=np.array([0], dtype=np.int16),
        split_names=["train"],
        token_ids=np.arange(n, dtype=np.int32),
        pieces=pieces,
    )
    attrs = {"config": {}, "data_fingerprint": "fp", "layer": 1, "d_model": 4}
    write_store(path, tables, [shard], 1, 4, {**attrs, "normalise": True, "model": "m"})
    return path


def test_any_vocabulary_round_trips_byte_for_byte(tmp_path: Path) -> None:
    path = write_tiny_store(tmp_path / "store.h5", ODD_PIECES)
    assert check_store(path) == []
    with StoreReader(path) as store:
        assert store.piece_bytes == [p.encode() if isinstance(p, str) else p for p in ODD_PIECES]
        assert store.vocab_size == len(ODD_PIECES)
        assert store.pieces[0] == "\x00" and store.pieces[1] == "\ufffd"
        assert store.pieces[4] == "é"
        # the emoji's two halves join into the character
        assert "🙂" not in store.doc_text(0) and "\U0001f600" in store.doc_text(0)


def test_schema_1_vocabularies_stay_readable() -> None:
    fixture = Path(__file__).parents[2] / "fixtures" / "workspace_v1" / "store.h5"
    with StoreReader(fixture) as store:
        assert store.vocab_size == len(store.piece_bytes) == len(store.pieces) > 0
        assert all(isinstance(p, bytes) for p in store.piece_bytes)
        assert [p.decode("utf-8") for p in store.piece_bytes] == store.pieces
        assert store.doc_text(0) == "".join(p for p, _ in store.doc_pieces(0))


def test_damaged_vocabulary_offsets_are_named(tmp_path: Path) -> None:
    import h5py

    path = write_tiny_store(tmp_path / "store.h5", ODD_PIECES)
    with h5py.File(path, "r+") as f:
        f["vocab/offsets"][-1] -= 1
    assert any("vocab/offsets ends at byte" in p for p in check_store(path))


@pytest.mark.parametrize("missing", ["vocab/offsets", "vocab/bytes"])
def test_a_store_without_a_vocabulary_is_damaged(tmp_path: Path, missing: str) -> None:
    import h5py

    path = write_tiny_store(tmp_path / "store.h5", ODD_PIECES)
    with h5py.File(path, "r+") as f:
        del f[missing]
    assert any("is damaged" in p for p in check_store(path, quick=True))
