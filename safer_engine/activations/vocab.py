"""Concatenable byte pieces for every token id, so readers rebuild text without a tokenizer.

A piece is bytes, not text: byte-level BPE vocabularies (GPT-2, Llama 3, SmolLM2) hold
tokens that are a NUL byte or a fragment of a multi-byte character, and SentencePiece's byte
fallback (`<0xE2>`) does too. Decoding such a token alone gives U+FFFD; its bytes are what
the model reads, and joining the bytes of a text's tokens decodes to the text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

ANCHOR = "a"
REPLACEMENT = "\ufffd"
_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@lru_cache(maxsize=1)
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the printable character standing for each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def token_bytes(token: str, decoded: str) -> bytes | None:
    """The exact bytes of a token whose decoded text lost some (holds U+FFFD), from its
    vocabulary string: a byte-level BPE token, or a byte-fallback `<0xNN>`. None when the
    string is neither, or its bytes do not decode to what the tokenizer decoded."""
    alphabet = _byte_level_alphabet()
    found = _BYTE_FALLBACK.fullmatch(token)
    if found:
        raw = bytes([int(found.group(1), 16)])
    elif token and all(ch in alphabet for ch in token):
        raw = bytes(alphabet[ch] for ch in token)
    else:
        return None
    # the decoder may strip or add a leading space: compare without it
    shown = raw.decode("utf-8", errors="replace")
    return raw if shown.strip() == decoded.strip() else None


def piece_text(piece: bytes) -> str:
    """A piece as text for display and token selection (a lone byte shows as U+FFFD)."""
    return piece.decode("utf-8", errors="replace")


def vocab_pieces(tokenizer: Any) -> list[bytes]:
    """piece[id] such that joining pieces reproduces decoded text, spaces included.

    Decoding a token alone loses its leading space (WordPiece, SentencePiece) or shows
    continuation marks; decoding it after an anchor token and cutting the anchor's text
    off keeps exactly what the token adds to running text. A token that decodes to U+FFFD
    (a lone byte of a multi-byte character) keeps its raw bytes instead.
    """
    anchor_ids = tokenizer(ANCHOR, add_special_tokens=False)["input_ids"][:1]
    anchor_text = tokenizer.decode(anchor_ids)
    size = len(tokenizer)
    decoded = tokenizer.batch_decode(
        [[*anchor_ids, i] for i in range(size)], clean_up_tokenization_spaces=False
    )
    texts = [text[len(anchor_text) :] if text.startswith(anchor_text) else text for text in decoded]
    pieces = [text.encode("utf-8") for text in texts]
    lossy = [i for i, text in enumerate(texts) if REPLACEMENT in text]
    if lossy:
        for i, token in zip(lossy, tokenizer.convert_ids_to_tokens(lossy), strict=True):
            raw = token_bytes(str(token), texts[i]) if token is not None else None
            if raw is not None:
                pieces[i] = raw
    return pieces
