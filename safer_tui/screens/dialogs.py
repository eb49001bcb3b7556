"""Small dialogs over any screen: a yes/no question, one line of input (notes, searches, a
plan's settings), and the judge's."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, RadioButton, RadioSet, Static

from safer_engine.service.judging import (
    DEFAULT_TOP,
    FIT_CONTEXTS,
    LOCAL_MODEL,
    JudgeRequest,
    OpenAIEnvironment,
)


class ConfirmScreen(ModalScreen[bool]):
    """A question answered with y, or n (or Esc); Enter is no answer, so a key pressed twice
    never says yes."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm-box {
        width: 64; height: auto; padding: 1 2; border: round $warning; background: $surface;
    }
    """

    BINDINGS = [
        Binding("y", "dismiss(True)", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        text = Text(self.question, style="bold")
        if self.detail:
            text.append(f"\n\n{self.detail}")
        text.append("\n\ny yes · n no", style="dim")
        with Vertical(id="confirm-box"):
            yield Static(text)


class AskScreen(ModalScreen[str | None]):
    """One line of input: Enter submits it (stripped), Esc cancels."""

    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    #ask-box {
        width: 72; height: auto; padding: 1 2; border: round $accent; background: $surface;
    }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, prompt: str, value: str, input_id: str = "ask-input") -> None:
        super().__init__()
        self.prompt, self.value, self.input_id = prompt, value, input_id

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box"):
            yield Static(Text(self.prompt))
            yield Input(value=self.value, id=self.input_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())


class LineScreen(ModalScreen[str | None]):
    """One line of input over the list; Enter submits it, Escape cancels."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, prompt: str, value: str, input_id: str, placeholder: str = "") -> None:
        super().__init__()
        self.prompt, self.value, self.input_id = prompt, value, input_id
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box", classes="dialog"):
            yield Static(Text(self.prompt))
            yield Input(value=self.value, placeholder=self.placeholder, id=self.input_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self.submitted(event.value))

    def submitted(self, value: str) -> str:
        return value


class NoteScreen(LineScreen):
    """Edit one feature's note (kept as typed, spaces included)."""

    def __init__(self, feature: int, note: str) -> None:
        prompt = f"Note for feature {feature} (Enter saves, Esc cancels)"
        super().__init__(prompt, note, "note-input")
        self.feature, self.note = feature, note


class SearchScreen(LineScreen):
    """A search: ids and notes, a word, a pair's text. It opens empty, the current search
    shown as its placeholder: Enter on nothing then clears it, as the prompt says, rather
    than submitting the current search again."""

    def __init__(self, prompt: str, current: str) -> None:
        placeholder = f'now: "{current}" · Enter on nothing clears' if current else ""
        super().__init__(
            f"{prompt} · Enter applies, Enter on nothing clears, Esc cancels",
            "",
            "search-input",
            placeholder,
        )

    def submitted(self, value: str) -> str:
        return value.strip()


class CheckButton(Checkbox):
    """A check box that reads without colour: X when checked, blank when not."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button


class ChoiceButton(RadioButton):
    """A radio button whose choice reads without colour: ● when chosen, blank when not
    (Textual's draws ● in both, told apart by colour alone)."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "●" if self.value else " "
        return super()._button


class JudgeScreen(ModalScreen[JudgeRequest | None]):
    """Which features to judge (the marked ones, or the top N by |salience|) and with which
    backend; Enter starts, Esc cancels."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("enter", "start", "Start", priority=True),
    ]

    def __init__(self, marked: list[int], openai: OpenAIEnvironment) -> None:
        super().__init__()
        self.marked = marked
        self.openai = openai

    def compose(self) -> ComposeResult:
        missing = bool(self.openai.missing)
        with Vertical(id="judge-box", classes="dialog"):
            yield Static(
                Text.assemble(
                    ("Ask an LLM judge", "bold"),
                    " how related to safety each feature is: 1 to 5, from its top contexts. "
                    "Its scores are suggestions; your tags win.",
                )
            )
            if self.marked:
                with Horizontal(classes="judge-row"):
                    yield Label("features", classes="judge-name")
                    with RadioSet(id="judge-which", compact=True):
                        yield ChoiceButton(f"the {len(self.marked)} marked", value=True)
                        yield ChoiceButton("the top N by |salience|")
            with Horizontal(classes="judge-row"):
                yield Label("top N" if not self.marked else "N", classes="judge-name")
                yield Input(
                    str(DEFAULT_TOP), id="judge-top", type="integer", max_length=5, compact=True
                )
                yield Label(" (features that fire at all)", classes="dim")
            with Horizontal(classes="judge-row"):
                yield Label("backend", classes="judge-name")
                with RadioSet(id="judge-backend", compact=True):
                    unset = " and ".join(self.openai.missing) + " unset"
                    openai = unset if missing else "a chat-completions server"
                    yield ChoiceButton(f"openai: {openai}", value=not missing)
                    yield ChoiceButton(f"local: {LOCAL_MODEL} on this machine", value=missing)
            # Enter on local loads a model here: say so, above all when it is chosen for you
            yield Static(
                Text.assemble(
                    ("openai", "bold"),
                    f": {self.openai.describe()}; ",
                    ("local", "bold"),
                    ": loads a 135M model on this machine (minutes on a CPU), offline, a "
                    "weak judge",
                ),
                id="judge-where",
                classes="dim",
            )
            with Horizontal(classes="judge-row"):
                yield Label("fit", classes="judge-name")
                yield CheckButton(
                    f"also score their fit ({FIT_CONTEXTS} calls each)",
                    id="judge-fit",
                    compact=True,
                )
            yield Static(
                "Enter starts · Esc cancels · Tab, arrows, space choose. Esc on the list "
                "stops a run; finished answers are kept.",
                classes="dim",
            )

    def on_mount(self) -> None:
        self.query_one("#judge-backend", RadioSet).focus()

    def action_start(self) -> None:
        self.dismiss(self.request())

    def request(self) -> JudgeRequest:
        backend = self.query_one("#judge-backend", RadioSet).pressed_index
        value = self.query_one("#judge-top", Input).value.strip()
        top = max(1, int(value)) if value.isdigit() else DEFAULT_TOP
        use_marked = (
            bool(self.marked) and self.query_one("#judge-which", RadioSet).pressed_index == 0
        )
        return JudgeRequest(
            backend="local" if backend == 1 else "openai",
            top=top,
            features=tuple(self.marked) if use_marked else (),
            score=self.query_one("#judge-fit", CheckButton).value,
        )


def duration(seconds: float) -> str:
    """`4 s`, `2 min 36 s`, `1 h 05 min` (or `under a second`): how long something took, to
    the unit that matters."""
    whole = round(seconds)
    if whole < 1:
        return "under a second"
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class RecipeScreen(ModalScreen[str | None]):
    """Which recipe a retrain uses: 1 fast (a proxy, seconds), 2 full (the real retrain),
    each with the time its latest run took on this workspace; Esc cancels."""

    DEFAULT_CSS = """
    RecipeScreen { align: center middle; }
    #recipe-box {
        width: 76; height: auto; padding: 1 2; border: round $accent; background: $surface;
    }
    """

    BINDINGS = [
        Binding("1,f", "dismiss('fast')", "Fast"),
        Binding("2,u", "dismiss('full')", "Full"),
        Binding("escape", "dismiss(None)", "Cancel"),
    ]

    def __init__(self, what: str, last: dict[str, float]) -> None:
        super().__init__()
        self.what, self.last = what, last

    def took(self, recipe: str) -> str:
        seconds = self.last.get(recipe)
        return f"last run here: {duration(seconds)}" if seconds is not None else "not run here yet"

    def compose(self) -> ComposeResult:
        text = Text(f"Retrain on {self.what} with which recipe?", style="bold")
        text.append("\n\n1 fast", style="bold")
        text.append(
            " · a head on the frozen pretrained backbone: seconds per run, a proxy of the "
            f"real retrain ({self.took('fast')})"
        )
        text.append("\n2 full", style="bold")
        text.append(
            " · the whole reward model, trained as the analysed one was: the real retrain, "
            f"minutes or more per run ({self.took('full')})"
        )
        text.append(
            "\n\nThe clean run of the same seed and recipe comes first (the full recipe's "
            "seed-0 clean run is the analysed model itself).\n1/f fast · 2/u full · Esc cancel",
            style="dim",
        )
        with Vertical(id="recipe-box"):
            yield Static(text)
