"""Concatenable text pieces for every token id, so readers rebuild text without a tokenizer."""

from __future__ import annotations

from typing import Any

ANCHOR = "a"


def vocab_pieces(tokenizer: Any) -> list[str]:
    """piece[id] such that joining pieces reproduces decoded text, spaces included.

    Decoding a token alone loses its leading space (WordPiece, SentencePiece) or shows
    continuation marks; decoding it after an anchor token and cutting the anchor's text
    off keeps exactly what the token adds to running text.
    """
    anchor_ids = tokenizer(ANCHOR, add_special_tokens=False)["input_ids"][:1]
    anchor_text = tokenizer.decode(anchor_ids)
    size = len(tokenizer)
    decoded = tokenizer.batch_decode(
        [[*anchor_ids, i] for i in range(size)], clean_up_tokenization_spaces=False
    )
    return [text[len(anchor_text) :] if text.startswith(anchor_text) else text for text in decoded]
