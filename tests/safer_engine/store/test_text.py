"""What the explorer shows of a document: the data's own text, each token's characters with
its value, every cut marked; a store without texts falls back to token pieces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safer_engine.store.reader import StoreReader
from safer_engine.store.text import CUT, START, STOP, DocumentText, Span, plain_text
from safer_engine.store.writer import StoreTables, StoreTexts, save_shard, write_store

PROMPT = "Hello there. My boyfriend is\ncheating on me."
RESPONSE = "I'm really sorry,\n\nbut I can't help 🙂. The rest was never read."
# (piece as an uncased tokenizer re-joins it, part: x = neither text, p = prompt,
# r = response, character span in that text). The model saw the prompt from "My" (its
# first words were clipped) and the response up to the emoji (max_length cut the rest);
# " really" is a BPE token whose span holds the space before it, and the emoji is two
# byte tokens sharing one character.
TOKENS = [
    ("[cls]", "x", (-1, -1)),
    (" my", "p", (13, 15)),
    (" boyfriend", "p", (15, 25)),
    (" is", "p", (25, 28)),
    ("\n", "p", (28, 29)),
    ("cheating", "p", (29, 37)),
    (" on", "p", (37, 40)),
    (" me", "p", (40, 43)),
    (".", "p", (43, 44)),
    (" assistant:", "x", (-1, -1)),
    ("i", "r", (0, 1)),
    ("'m", "r", (1, 3)),
    (" really", "r", (3, 10)),
    (" sorry", "r", (10, 16)),
    (",", "r", (16, 17)),
    ("\n\n", "r", (17, 19)),
    ("but", "r", (19, 22)),
    (" i", "r", (22, 24)),
    (" can", "r", (24, 28)),
    ("'t", "r", (28, 30)),
    (" help", "r", (30, 35)),
    (" \u00f0", "r", (35, 37)),
    ("\u0178\u2122\u201a", "r", (36, 37)),
    ("[sep]", "x", (-1, -1)),
]


def write_store_of(path: Path, texts: bool = True) -> Path:
    """One document (TOKENS) in a store; every response token stored, with values 0."""
    pieces = sorted({piece for piece, _, _ in TOKENS})
    ids = np.array([pieces.index(piece) for piece, _, _ in TOKENS], dtype=np.int32)
    response = [i for i, (_, part, _) in enumerate(TOKENS) if part == "r"]
    spans = np.array([span for _, _, span in TOKENS], dtype=np.int32)
    store_texts = StoreTexts(
        texts=[PROMPT, RESPONSE],
        prompt_text=np.array([0]),
        response_text=np.array([1]),
        char_start=spans[:, 0],
        char_end=spans[:, 1],
    )
    tables = StoreTables(
        tok_start=np.array([0]),
        tok_end=np.array([len(TOKENS)]),
        resp_start=np.array([response[0]]),
        resp_end=np.array([response[-1] + 1]),
        pair_id=np.array([b"p0"]),
        chosen_doc=np.array([0]),
        rejected_doc=np.array([0]),
        slice_codes=np.zeros(1, dtype=np.int16),
        slice_names=["safety"],
        split_codes=np.zeros(1, dtype=np.int16),
        split_names=["train"],
        token_ids=ids,
        pieces=pieces,
        texts=store_texts if texts else None,
    )
    shard = path.with_name("shard.npz")
    save_shard(
        shard,
        values=np.zeros((len(response), 4), dtype=np.float16),
        token_row=np.array(response, dtype=np.int64),
        doc=np.zeros(len(response), dtype=np.int64),
        selected=np.ones(len(response), dtype=bool),
    )
    attrs = {"config": {}, "data_fingerprint": "x", "layer": 1, "d_model": 4}
    attrs |= {"normalise": False, "policy": "all", "model": "hand-made"}
    write_store(path, tables, [shard], 1, 4, attrs)
    return path


@pytest.fixture
def store(tmp_path: Path) -> StoreReader:
    return StoreReader(write_store_of(tmp_path / "store.h5"))


def values_on(*tokens: int, value: float = 1.0) -> np.ndarray:
    out = np.zeros(len(TOKENS), dtype=np.float32)
    out[list(tokens)] = value
    return out


def shaded(spans: list[Span]) -> list[str]:
    return [s.text for s in spans if s.token and s.value]


def test_the_store_keeps_the_texts_and_spans(store: StoreReader) -> None:
    assert store.has_texts
    assert (store.doc_prompt(0), store.doc_response(0)) == (PROMPT, RESPONSE)
    starts, ends = store.doc_char_spans(0)
    for i, (piece, part, _) in enumerate(TOKENS):
        text = {"p": PROMPT, "r": RESPONSE}.get(part)
        if text is not None and piece.isascii():  # each span is its piece, in the data's case
            assert text[starts[i] : ends[i]].lower().strip() == piece.strip()


def test_a_response_is_the_datas_own_text_and_its_unread_end_is_marked(
    store: StoreReader,
) -> None:
    text = DocumentText(store)
    assert text.original
    spans = text.response(0, values_on(12, 16, 21))  # " really", "but", the emoji's 1st byte
    assert plain_text(spans) == RESPONSE  # case, newlines and the unread rest
    stop = [s.part for s in spans].index("stop")
    assert spans[stop].text == STOP
    assert plain_text(spans[:stop]) == RESPONSE[:37]  # what the model read, to the emoji
    assert spans[stop + 1 :] == [Span(RESPONSE[37:], "unseen")]
    # a token's leading space is not shaded; both byte tokens of 🙂 are one span
    assert shaded(spans) == ["really", "but", "🙂"]
    assert all(s.value == 0 for s in spans[stop:])


def test_overlapping_byte_tokens_keep_the_strongest_value(store: StoreReader) -> None:
    values = values_on(21, value=0.5)
    values[22] = -2.0
    (emoji,) = [s for s in DocumentText(store).response(0, values) if s.text == "🙂"]
    assert emoji.value == -2.0 and emoji.token


def test_a_prompt_shows_what_the_model_never_read_before_the_mark(store: StoreReader) -> None:
    spans = DocumentText(store).prompt(0)
    assert [s.part for s in spans] == ["unseen", "stop", "prompt"]
    assert plain_text(spans) == PROMPT
    assert spans[0].text == "Hello there. " and spans[2].text.startswith("My boyfriend is\n")


def test_a_window_marks_where_text_is_left_out(store: StoreReader) -> None:
    text = DocumentText(store)
    # tokens 5..12: "cheating on me." then the response's start "I'm really"
    spans = text.window(0, 5, 13, values_on(12)[5:13], focus=12)
    parts = [s.part for s in spans]
    assert parts[0] == "cut" and spans[0].text == CUT  # the prompt goes on before
    assert parts.count("start") == 1 and spans[parts.index("start")].text == START
    assert plain_text(spans) == "cheating on me.I'm really"
    assert parts[-1] == "cut"  # the response goes on after
    (focus,) = [s for s in spans if s.focus]
    assert (focus.text, focus.value, focus.part) == ("really", 1.0, "response")
    # a window that reaches the last stored token ends where the model stopped reading
    end = text.window(0, 16, 24, values_on(20)[16:24], focus=20)
    assert end[0].part == "cut" and end[-1].text == STOP
    assert plain_text(end) == "but I can't help 🙂"


def test_a_store_without_texts_shows_the_tokens_pieces(tmp_path: Path) -> None:
    with StoreReader(write_store_of(tmp_path / "old.h5", texts=False)) as old:
        text = DocumentText(old)
        assert not old.has_texts and not text.original
        response = text.response(0, values_on(12))
        assert plain_text(response) == "".join(piece for piece, part, _ in TOKENS if part == "r")
        assert shaded(response) == [" really"]
        assert plain_text(text.prompt(0)).startswith("[cls] my boyfriend")
        window = text.window(0, 5, 13, values_on(12)[5:13], focus=12)
        assert [s.part for s in window].count("start") == 1
        assert [s.text for s in window if s.focus] == [" really"]
