"""Marking a search's matches in shown text."""

from __future__ import annotations

from rich.text import Text

from safer_tui.shading import MATCH, mark_search, prompt_text


def marked(text: Text) -> list[str]:
    return [text.plain[span.start : span.end] for span in text.spans if span.style == MATCH]


def test_every_match_in_any_case_is_marked() -> None:
    text = Text("Sorry, I'm sorry. SORRY!")
    assert marked(mark_search(text, " sorry ")) == ["Sorry", "sorry", "SORRY"]
    assert marked(mark_search(Text("a+b or ab"), "A+B")) == ["a+b"]  # literally, not a pattern
    assert marked(mark_search(Text("nothing here"), "")) == []


def test_the_prompts_label_is_never_a_match() -> None:
    from safer_engine.service.text import Span

    text = prompt_text([Span("Write a prompt\nplease", "prompt")], expanded=False, search="prompt")
    assert text.plain == "prompt Write a prompt⏎ please"
    assert [span.start for span in text.spans if span.style == MATCH] == [15]
