"""One pair of an edit plan: its prompt and both responses side by side, shaded by the safety
features that scored it, with what the plan does to it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from safer_engine.errors import SaferError
from safer_engine.service.edits import Edit
from safer_engine.service.explorer import Explorer
from safer_tui.errors import show_error
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import PLAN_PAIR_NOTES, help_rows
from safer_tui.shading import shade
from safer_tui.widgets.key_footer import KeyFooter
from safer_tui.widgets.prompt_view import PromptView


class PairScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("J", "scroll_sides(1)", "Scroll"),
        Binding("K", "scroll_sides(-1)", "Scroll up", show=False),
        Binding("o", "toggle_prompt", "Prompt", tooltip="whole prompt / its last lines"),
        Binding("f1,question_mark", "help", "Help", tooltip="this help"),
    ]
    DEFAULT_CSS = """
    #plan-pair-info { height: auto; padding: 0 1; background: $boost; }
    #plan-pair-prompt { height: auto; max-height: 3; padding: 0 1; }
    #plan-pair-prompt.expanded { max-height: 40%; }
    #plan-pair-sides { height: 1fr; }
    #plan-chosen, #plan-rejected { width: 1fr; border: round $primary; padding: 0 1; }
    """

    def __init__(
        self, data: Explorer, pair: int, edit: Edit, safe: list[int], unsafe: list[int]
    ) -> None:
        super().__init__()
        self.data, self.pair, self.edit = data, pair, edit
        self.safe, self.unsafe = safe, unsafe
        self.expanded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="plan-pair-info")
        with VerticalScroll(id="plan-pair-prompt"):
            yield PromptView()
        with Horizontal(id="plan-pair-sides"):
            yield VerticalScroll(Static(id="plan-chosen-text"), id="plan-chosen")
            yield VerticalScroll(Static(id="plan-rejected-text"), id="plan-rejected")
        yield KeyFooter()

    def on_mount(self) -> None:
        edit = self.edit
        self.sub_title = f"pair {edit.pair_id}"
        try:
            view = self.data.pair(self.pair)
            docs = (view.chosen_doc, view.rejected_doc)
            sides = [self.data.shading(d, self.safe, self.unsafe) for d in docs]
        except SaferError as exc:
            show_error(self, exc)
            return
        what = "flipped: chosen and rejected swap" if edit.action == "flip" else "removed"
        info = Text.assemble(
            ("pair ", "bold"), (edit.pair_id, "bold"), f" · {edit.slice} · ", (what, "bold")
        )
        if edit.score is not None:
            info.append(f" · score {edit.score:+.3f}, rank {edit.rank:,}")
        info.append(f"\n{edit.reason}", style="dim")
        if self.safe or self.unsafe:
            info.append(" · shaded by the plan's safety features (green safe, red unsafe)")
        self.query_one("#plan-pair-info", Static).update(info)
        self.query_one(PromptView).show(view.prompt, self.expanded)
        peak = max((abs(s.value) for side in sides for s in side), default=0.0)
        after = ("rejected after the flip", "chosen after the flip")
        for number, (name, spans) in enumerate(zip(("chosen", "rejected"), sides, strict=True)):
            self.query_one(f"#plan-{name}-text", Static).update(shade(spans, peak, False))
            panel = self.query_one(f"#plan-{name}")
            panel.border_title = name + (f" · {after[number]}" if edit.action == "flip" else "")

    def action_toggle_prompt(self) -> None:
        self.expanded = not self.expanded
        self.query_one("#plan-pair-prompt").set_class(self.expanded, "expanded")
        prompt = self.query_one(PromptView)
        prompt.show(prompt.spans, self.expanded)

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.app.BINDINGS, PLAN_PAIR_NOTES)
        self.app.push_screen(HelpScreen("Plan pair", rows))

    def action_scroll_sides(self, direction: int) -> None:
        for name in ("chosen", "rejected"):
            panel = self.query_one(f"#plan-{name}", VerticalScroll)
            step = max(1, panel.scrollable_content_region.height // 2)
            panel.scroll_relative(y=direction * step, animate=False)
