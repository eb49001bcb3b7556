"""Wrapping an example's styled chunks: at spaces, every line starting in the same column."""

from __future__ import annotations

from rich.style import Style

from safer_tui.widgets.example_lines import wrap_chunks

PLAIN, BOLD = Style(), Style(bold=True)


def lines_of(chunks: list[tuple[str, Style]], width: int) -> list[str]:
    return ["".join(segment.text for segment in line) for line in wrap_chunks(chunks, width)]


def test_lines_break_at_spaces_and_never_start_with_one() -> None:
    # a word made of several tokens ("che" + "ating") is never broken between them
    chunks = [("My boyfriend is", PLAIN), (" che", BOLD), ("ating", BOLD), (" on me.", PLAIN)]
    assert lines_of(chunks, 12) == ["My boyfriend", "is cheating", "on me."]
    assert lines_of(chunks, 40) == ["My boyfriend is cheating on me."]
    for width in range(9, 40):  # from the longest word, "boyfriend"
        lines = lines_of(chunks, width)
        assert all(line and not line[0].isspace() and len(line) <= width for line in lines)
        assert " ".join(lines) == "My boyfriend is cheating on me."


def test_a_leading_space_is_dropped_and_styles_are_kept() -> None:
    chunks = [(" Sure", BOLD), (",", PLAIN), (" here", BOLD)]
    (line,) = wrap_chunks(chunks, 20)
    assert [(s.text, s.style) for s in line] == [
        ("Sure", BOLD),
        (",", PLAIN),
        (" ", BOLD),
        ("here", BOLD),
    ]


def test_only_a_word_wider_than_the_line_is_split() -> None:
    chunks = [("a supercalifragilistic word", PLAIN)]
    assert lines_of(chunks, 10) == ["a", "supercalif", "ragilistic", "word"]
    assert lines_of([("漢字漢字漢字", PLAIN)], 8) == ["漢字漢字", "漢字"]  # wide characters
