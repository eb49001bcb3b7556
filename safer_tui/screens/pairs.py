"""Pairs ranked by safety score from the tagged features, both responses side by side with
every token shaded green (safe features) or red (unsafe features)."""

from __future__ import annotations

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from safer_tui.screens.help import HelpScreen
from safer_tui.workspace_data import WorkspaceData

SAFE_RGB, UNSAFE_RGB, BASE = (0, 170, 80), (200, 40, 40), 30
SHOWN_PAIRS = 2000  # the table lists the highest-scoring pairs; scores cover every pair
HELP_KEYS = [
    ("j / k", "previous / next pair"),
    ("g", "open the pair's strongest feature"),
    ("Esc", "back to the features"),
    ("F1 / ?", "this help"),
]


def shade(pieces: list[tuple[str, float]], peak: float) -> Text:
    text = Text()
    for piece, score in pieces:
        strength = min(1.0, abs(score) / peak) if peak > 0 else 0.0
        style = Style()
        if strength > 0:
            rgb = SAFE_RGB if score > 0 else UNSAFE_RGB
            r, g, b = (int(c * strength + BASE * (1 - strength)) for c in rgb)
            style = Style(bgcolor=Color.from_rgb(r, g, b))
        text.append(piece.replace("\n", "⏎\n"), style=style)
    return text


class PairsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("j", "move(1)", "Next", show=False),
        Binding("k", "move(-1)", "Prev", show=False),
        Binding("g", "strongest", "Strongest feature"),
        Binding("f1,question_mark", "help", "Help"),
    ]

    def __init__(self, data: WorkspaceData) -> None:
        super().__init__()
        self.data = data
        labels = data.current_labels()
        self.safe = sorted(f for f, label in labels.items() if label.tag == "safe")
        self.unsafe = sorted(f for f, label in labels.items() if label.tag == "unsafe")
        self.strongest: list[tuple[int, float]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="pairs", cursor_type="row", zebra_stripes=True)
        yield Static(id="pair-features")
        with Horizontal(id="pair-sides"):
            yield VerticalScroll(Static(id="chosen-text"), id="chosen-side")
            yield VerticalScroll(Static(id="rejected-text"), id="rejected-side")
        yield Footer()

    def on_mount(self) -> None:
        examples = self.data.examples
        scores = examples.pair_scores(self.safe, self.unsafe)
        slices, slice_names = examples.store.codes("slice")
        splits, split_names = examples.store.codes("split")
        order = np.argsort(-scores, kind="stable")[:SHOWN_PAIRS]
        table = self.query_one(DataTable)
        for name, width in (("pair", 6), ("score", 8), ("slice", 9), ("split", 6)):
            table.add_column(name, width=width, key=name)
        for pair in order.tolist():
            table.add_row(
                str(pair),
                f"{scores[pair]:+.3f}",
                slice_names[slices[pair]],
                split_names[splits[pair]],
                key=str(pair),
            )
        self.sub_title = (
            f"{len(scores):,} pairs by score from {len(self.safe)} safe and "
            f"{len(self.unsafe)} unsafe tagged features"
        )
        self.query_one("#chosen-side").border_title = "chosen"
        self.query_one("#rejected-side").border_title = "rejected"
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_pair(int(event.row_key.value))

    def show_pair(self, pair: int) -> None:
        examples = self.data.examples
        chosen = int(examples.store.chosen_doc[pair])
        rejected = int(examples.store.rejected_doc[pair])
        sides = [
            examples.response_shading(doc, self.safe, self.unsafe) for doc in (chosen, rejected)
        ]
        peak = max((abs(v) for side in sides for _, v in side), default=0.0)
        self.query_one("#chosen-text", Static).update(shade(sides[0], peak))
        self.query_one("#rejected-text", Static).update(shade(sides[1], peak))
        self.strongest = examples.strongest_features(chosen, rejected)
        listed = ", ".join(f"{f} ({v:+.1f})" for f, v in self.strongest) or "none"
        self.query_one("#pair-features", Static).update(
            f"Strongest features (chosen − rejected): {listed}"
        )

    def action_move(self, delta: int) -> None:
        table = self.query_one(DataTable)
        (table.action_cursor_down if delta > 0 else table.action_cursor_up)()

    def action_strongest(self) -> None:
        from safer_tui.screens.feature import FeatureScreen

        if self.strongest:
            order = [f for f, _ in self.strongest]
            self.app.push_screen(FeatureScreen(self.data, order, 0))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Pairs", HELP_KEYS))
