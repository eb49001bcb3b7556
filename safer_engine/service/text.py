"""What the explorer shows of a document's text (see `safer_engine.store.text`), for the
screens, which reach the engine through this package only."""

from __future__ import annotations

from safer_engine.store.text import CUT, MARKERS, START, STOP, Part, Span, plain_text

__all__ = ["CUT", "MARKERS", "START", "STOP", "Part", "Span", "plain_text"]
