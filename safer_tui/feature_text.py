"""What a feature's page says: its statistics with the tag, the note and the LLM judge's
suggestion, and its examples as labelled lines of text shaded by the feature's activation."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text

from safer_engine.labels import Label
from safer_engine.service.coverage import Coverage
from safer_engine.service.explorer import Example, Fit, Judgement
from safer_engine.service.text import Span, word_hits
from safer_tui.feature_columns import cut
from safer_tui.fit_view import fit_line
from safer_tui.shading import BAR, MARK, MATCH, SHADE, UNSEEN, shade_style
from safer_tui.widgets.example_lines import Chunk, Row

SIDE_STYLES = {
    "chosen": "bold green",
    "rejected": "bold red",
    "both": "bold yellow",
    "none": "dim",
}
LABEL_WIDTH = 18  # "rejected top   6.5": side, quantile, activation


def example_label(example: Example) -> Chunk:
    rank = "top" if example.quantile >= 1.0 else f"p{round(example.quantile * 100):02d}"
    label = f"{example.side:>8} {rank:>3} {example.activation:5.1f}"
    return label, Style.parse(SIDE_STYLES.get(example.side, ""))


def pair_label(pair_id: str | None) -> Chunk:
    """The label's second line: the id of the pair the example's response belongs to (as
    the Pairs and Edits screens show it; 16 characters, so without a word before it)."""
    return (f"{pair_id:>{LABEL_WIDTH}}" if pair_id is not None else ""), Style(dim=True)


def newlines(text: str) -> str:
    """Line breaks as a visible ⏎ (an example is one paragraph), with room to wrap after."""
    return text.replace("\n", "⏎") + (" " if text.endswith("\n") else "")


def span_chunk(span: Span, peak: float) -> Chunk:
    """One span as the examples draw it: markers in their colours, the prompt dim, text the
    model never read dim and italic, each token on a background as strong as its value."""
    if span.part == "start":
        return " ▍", BAR  # where the prompt ends and the response starts
    if span.part == "stop":
        return " ✂", MARK
    if span.part == "cut":
        return span.text, MARK
    if span.part == "unseen":
        return newlines(span.text), UNSEEN
    style = Style(dim=span.part == "prompt", bold=span.focus, underline=span.focus)
    if span.token:
        strength = min(1.0, abs(span.value) / peak) if peak > 0 else 0.0
        style += shade_style(SHADE, strength)
    return newlines(span.text), style


def shaded(example: Example, peak: float, word: str = "") -> list[Chunk]:
    """The example's text, each token on a background as strong as its activation; the
    prompt dimmed, a bar where the response starts, and the tokens a word search for `word`
    counts marked."""
    chunks: list[Chunk] = []
    for span, hit in zip(example.spans, word_hits(example.spans, word), strict=True):
        chunk = span_chunk(span, peak)
        chunks += marked(chunk) if hit else [chunk]
    return chunks


def marked(chunk: Chunk) -> list[Chunk]:
    """A search's match: the chunk's text marked, the spaces around it left as they are."""
    text, style = chunk
    start, end = len(text) - len(text.lstrip()), len(text.rstrip())
    parts = [(text[:start], style), (text[start:end], style + MATCH), (text[end:], style)]
    return [part for part in parts if part[0]]


def attribution_label(value: float) -> Chunk:
    """The label's third line: this feature's attribution to the example text's reward
    (what removing it would change, to first order)."""
    return f"{'reward':>8} {value:+9.4f}", Style(dim=True)


def example_rows(
    examples: list[Example],
    pair_ids: list[str | None] | None = None,
    word: str = "",
    attributions: list[float | None] | None = None,
) -> list[Row]:
    """Labels (side, quantile, activation; the pair's id and, with attributions, the
    feature's attribution to the text's reward under them) and shaded text of each example,
    shaded relative to the strongest shown; the tokens of a word search marked."""
    peak = max((e.activation for e in examples), default=0.0)
    pair_ids = pair_ids if pair_ids is not None else [None] * len(examples)
    attributions = attributions if attributions is not None else [None] * len(examples)
    rows: list[Row] = []
    for e, pair_id, value in zip(examples, pair_ids, attributions, strict=True):
        labels = [example_label(e), pair_label(pair_id)]
        if value is not None:
            labels.append(attribution_label(value))
        rows.append((labels, shaded(e, peak, word)))
    return rows


def compact(value: float) -> str:
    """A sum in at most 7 characters: 20.0, 12345, 1.23M."""
    if abs(value) < 1e4:
        return f"{value:.1f}"
    return f"{value:,.0f}" if abs(value) < 1e6 else f"{value / 1e6:.2f}M"


def rate(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


FIGURES = tuple(
    f"{kind}_{side}" for kind in ("sum", "fire_rate", "mean_act") for side in ("chosen", "rejected")
)


def figures_table(row: dict[str, Any], coverage: Coverage, width: int = 78) -> list[str]:
    """The chosen / rejected figures as aligned lines: a header, the selected tokens (what
    salience uses) and, where they differ, every stored token (what examples come from).
    Lines wider than `width` leave out the mean activations, so no line wraps."""
    kinds = [("", coverage.selected_text())]
    if coverage.has_all and all(f"{name}_all" in row for name in FIGURES):
        kinds.append(("_all", coverage.every_text()))
    cells = [["chosen / rejected", "sums", "firing", "mean act"]]
    for suffix, label in kinds:
        cells.append(
            [
                label,
                f"{compact(row['sum_chosen' + suffix])} / {compact(row['sum_rejected' + suffix])}",
                f"{rate(row['fire_rate_chosen' + suffix])} / "
                f"{rate(row['fire_rate_rejected' + suffix])}",
                f"{rate(row['mean_act_chosen' + suffix])} / "
                f"{rate(row['mean_act_rejected' + suffix])}",
            ]
        )
    lines = aligned(cells)
    return lines if max(map(len, lines)) <= width else aligned([line[:3] for line in cells])


def aligned(cells: list[list[str]]) -> list[str]:
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]


RELEVANT = ("safe", "unsafe")
EXPLAINED = 90  # characters of the judge's explanation shown: two lines at 60 columns


def disagrees(tag: str | None, score: int | None) -> bool:
    """Whether a person's tag and the judge's score say different things: a safety tag on
    a feature the judge scored 1 or 2, or "irrelevant" on one it scored 4 or 5."""
    if not tag or score is None:
        return False
    return (tag in RELEVANT and score <= 2) or (tag == "irrelevant" and score >= 4)


def judge_text(judgement: Judgement | None, label: Label | None) -> Text:
    """The judge's suggestion: its score and explanation (or why it has none), and, when a
    person's tag says otherwise, that the tag wins."""
    text = Text.assemble(("judge ", "bold"))
    if judgement is None:
        return text.append("not judged (J on the list asks an LLM judge)", style="dim")
    if judgement.score is None:
        text.append("✗ no usable answer", style="bold")
        text.append(f" ({judgement.failure_kind}: {judgement.failure})", style="dim")
    else:
        text.append(f"{judgement.score}/5", style="bold")
        text.append(f" ({judgement.model}, a suggestion)", style="dim")
        if judgement.explanation:
            text.append(": ").append(cut(" ".join(judgement.explanation.split()), EXPLAINED))
    human = label.human_tag if label else None
    if disagrees(human, judgement.score):
        text.append("\n")
        text.append(f"the tag {human!r} disagrees; the tag wins", style="yellow")
    return text


def stats_text(
    feature: int,
    row: dict[str, Any],
    label: Label | None,
    where: str,
    coverage: Coverage,
    judgement: Judgement | None = None,
    width: int = 78,
    fit: Fit | None = None,
) -> Text:
    """Statistics, tag, the judge's suggestion and the whole note; built as Text so a note's
    brackets are never read as markup. Every line but the judge's and the note fits 78
    columns, so without them the height is the same on every page."""
    tag = (label.tag or "untagged") if label else "untagged"
    header, *figures = figures_table(row, coverage, width)
    text = Text.assemble(
        (f"Feature {feature}", "bold"),
        f" ({where})",
        f"  salience {row['salience']:+.3f}",
        f"  effect {row['effect']:+.4f}" if "effect" in row else "",
        "  tag ",
        (tag, "bold"),
        "\n",
        (header, "dim"),
    )
    for line in figures:
        text.append("\n" + line)
    text.append(f"\ndensity {row['density']:.4f} · max {row['max_act']:.1f} (every token)")
    text.append("\n").append(judge_text(judgement, label))
    if (fitted := fit_line(judgement, fit)) is not None:
        text.append("\n").append(fitted)
    if label and label.note:
        text.append("\nnote: ", style="bold")
        text.append(label.note)
    return text
