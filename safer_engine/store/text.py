"""A document's text as the explorer shows it: the data's own prompt and response (case,
newlines, full length), each token's stretch of characters carrying a value (a feature's
activation, or the tagged features' sum), and every cut marked.

The store maps each token to its character span in the raw prompt or response, so nothing
here needs a tokenizer. Text the model never read (the start of a prompt clipped to its last
tokens, the end of a response cut at the model's `max_length`) is shown unshaded after
`STOP`. Stores written before texts were kept have only token pieces: their documents come
back as the pieces re-joined (the model's view: lowercased by uncased tokenizers, special
tokens included), and `original` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from safer_engine.store.reader import StoreReader

Part = Literal["prompt", "response", "unseen", "special", "cut", "start", "stop"]
"""What a span is: text of the prompt or the response (as the model read it), text the model
never read, a token with no characters of the data (a special token standing in for a
response cut entirely), or one of the three markers below."""
CUT = "…"
"""Text is left out here (an example's window ends, or the text goes on)."""
START = "▍"
"""The prompt ends and the response starts."""
STOP = "✂"
"""The model's input ends here (a response cut at max_length) or, in a prompt, starts here
(a prompt clipped to its last tokens): the text on the far side was never read."""
MARKERS: dict[Part, str] = {"cut": CUT, "start": START, "stop": STOP}


@dataclass(frozen=True)
class Span:
    """A stretch of a document's text with what the screen needs to style it."""

    text: str
    part: Part
    value: float = 0.0
    """The value of the token this text belongs to; 0 between tokens."""
    token: bool = False
    """The text of a token (shaded by `value`), not the text between tokens."""
    focus: bool = False
    """The token an example was drawn for."""


def marker(part: Part) -> Span:
    return Span(MARKERS[part], part)


def plain_text(spans: Sequence[Span]) -> str:
    """The text of the spans without the markers."""
    return "".join(s.text for s in spans if s.part not in MARKERS)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    value: float
    focus: bool
    piece: str


def _text_spans(text: str, tokens: Sequence[_Token], part: Part, lo: int, hi: int) -> list[Span]:
    """text[lo:hi] as spans: each token's characters with its value, the text between tokens
    plain. Tokens come in order; a token with no characters left (byte pieces of one
    character share its span) adds its value and focus to the token before it, and a token
    with no characters at all (start < 0) shows as its piece only when it carries a value or
    the focus."""
    spans: list[Span] = []
    pos = lo
    for token in tokens:
        if token.start < 0:
            if token.value or token.focus:
                piece = token.piece.strip() or "·"
                spans.append(Span(piece, "special", token.value, True, token.focus))
            continue
        start, end = max(token.start, pos), min(token.end, hi)
        if end <= start:
            if spans and spans[-1].token:
                last = spans[-1]
                value = max(last.value, token.value, key=abs)
                spans[-1] = replace(last, value=value, focus=last.focus or token.focus)
            continue
        # A BPE token's span holds the space before its word: that space is text between
        # words, not part of the shaded word (unless the token is nothing but whitespace).
        stripped = len(text[start:end]) - len(text[start:end].lstrip())
        if stripped < end - start:
            start += stripped
        if start > pos:
            spans.append(Span(text[pos:start], part))
        spans.append(Span(text[start:end], part, token.value, True, token.focus))
        pos = end
    if pos < hi:
        spans.append(Span(text[pos:hi], part))
    return spans


class DocumentText:
    """Spans of a store's documents: examples' windows, whole responses, whole prompts."""

    def __init__(self, store: StoreReader) -> None:
        self.store = store

    @property
    def original(self) -> bool:
        """Whether the store holds the data's own texts (else: token pieces re-joined)."""
        return self.store.has_texts

    def _tokens(self, lo: int, hi: int, values: np.ndarray, focus: int | None) -> list[_Token]:
        s = self.store
        starts = np.asarray(s.char_start[lo:hi]).tolist()
        ends = np.asarray(s.char_end[lo:hi]).tolist()
        ids = np.asarray(s.token_ids[lo:hi]).tolist()
        return [
            _Token(a, b, float(v), lo + i == focus, s.pieces[t])
            for i, (a, b, v, t) in enumerate(zip(starts, ends, values.tolist(), ids, strict=True))
        ]

    # -- an example: a window of tokens around one ------------------------------------------

    def window(self, doc: int, lo: int, hi: int, values: np.ndarray, focus: int) -> list[Span]:
        """The text of tokens [lo, hi) of a document, `values` on each token and `focus` (a
        token row) marked: the prompt's part, `START`, the response's part, with `CUT` where
        text is left out and `STOP` where the model's input ended."""
        if not self.original:
            return self._window_pieces(doc, lo, hi, values, focus)
        s = self.store
        r0, r1 = int(s.resp_start[doc]), int(s.resp_end[doc])
        tokens = self._tokens(lo, hi, values, focus)
        spans: list[Span] = []
        prompt = [t for i, t in enumerate(tokens) if lo + i < r0 and t.start >= 0]
        if prompt:
            text = s.doc_prompt(doc)
            first, last = prompt[0].start, max(t.end for t in prompt)
            if text[:first].strip():
                spans.append(marker("cut"))
            spans += _text_spans(text, prompt, "prompt", first, last)
            if text[last:].strip():
                spans.append(marker("cut"))
        response = [t for i, t in enumerate(tokens) if r0 <= lo + i < r1]
        if not response:
            return spans
        text = s.doc_response(doc)
        mapped = [t for t in response if t.start >= 0]
        if lo <= r0:  # the window holds the response's start
            first = 0
            spans.append(marker("start"))
        else:
            first = mapped[0].start if mapped else 0
            if text[:first].strip():
                spans.append(marker("cut"))
        last = max((t.end for t in mapped), default=first)
        spans += _text_spans(text, response, "response", first, last)
        if text[last:].strip():  # the window ends, or the model read no further
            spans.append(marker("stop" if hi >= r1 else "cut"))
        return spans

    def _window_pieces(
        self, doc: int, lo: int, hi: int, values: np.ndarray, focus: int
    ) -> list[Span]:
        s = self.store
        r0, r1 = int(s.resp_start[doc]), int(s.resp_end[doc])
        spans: list[Span] = []
        ids = np.asarray(s.token_ids[lo:hi]).tolist()
        for i, (t, value) in enumerate(zip(ids, values.tolist(), strict=True)):
            row = lo + i
            in_response = r0 <= row < r1
            if in_response and (row == r0 and row > lo):
                spans.append(marker("start"))
            part: Part = "response" if in_response else "prompt"
            spans.append(Span(s.pieces[t], part, float(value), True, row == focus))
        return spans

    # -- a pair's texts, whole --------------------------------------------------------------

    def response(self, doc: int, values: np.ndarray) -> list[Span]:
        """The whole response, `values` (one per token of the document) on its tokens; what
        the model never read follows `STOP`, unshaded."""
        s = self.store
        t0, r0, r1 = int(s.tok_start[doc]), int(s.resp_start[doc]), int(s.resp_end[doc])
        if not self.original:
            ids = np.asarray(s.token_ids[r0:r1]).tolist()
            spans = [
                Span(s.pieces[t], "response", float(v), True)
                for t, v in zip(ids, values[r0 - t0 : r1 - t0].tolist(), strict=True)
            ]
            if spans:  # the space the first piece carries is the format's, not the text's
                spans[0] = replace(spans[0], text=spans[0].text.lstrip())
            return spans
        text = s.doc_response(doc)
        tokens = self._tokens(r0, r1, values[r0 - t0 : r1 - t0], None)
        seen = max((t.end for t in tokens if t.start >= 0), default=0)
        spans = _text_spans(text, tokens, "response", 0, seen)
        if text[seen:].strip():
            spans += [marker("stop"), Span(text[seen:], "unseen")]
        return spans

    def prompt(self, doc: int) -> list[Span]:
        """The whole prompt; what the model never read of it (the start of a prompt clipped
        to its last tokens) comes before `STOP`, as "unseen"."""
        s = self.store
        t0, r0 = int(s.tok_start[doc]), int(s.resp_start[doc])
        if not self.original:
            pieces = "".join(s.pieces[t] for t in np.asarray(s.token_ids[t0:r0]).tolist())
            return [Span(pieces.strip(), "prompt")]
        text = s.doc_prompt(doc)
        starts = np.asarray(s.char_start[t0:r0])
        ends = np.asarray(s.char_end[t0:r0])
        mapped = starts >= 0
        if not mapped.any():  # the template rewrote the prompt: what the model read is unknown
            return [Span(text, "prompt")]
        first, last = int(starts[mapped].min()), int(ends[mapped].max())
        spans: list[Span] = []
        if text[:first].strip():
            spans += [Span(text[:first], "unseen"), marker("stop")]
        else:
            first = 0
        if text[last:].strip():
            spans += [Span(text[first:last], "prompt"), marker("stop"), Span(text[last:], "unseen")]
        else:
            spans.append(Span(text[first:], "prompt"))
        return spans
