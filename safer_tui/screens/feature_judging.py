"""The Features screen's judge runs (`J`): which features and which backend, the run in a
`Background`, and what it did, said in the status line. The answers themselves show through
the list's poll of the labels, as they are stored."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.screen import Screen

from safer_engine.errors import Cancelled, SaferError
from safer_engine.service.explorer import Explorer, JudgeOutcome, JudgeRequest
from safer_engine.service.judging import openai_environment
from safer_tui.background import Background
from safer_tui.errors import show_error
from safer_tui.feature_view import FeatureView
from safer_tui.screens.dialogs import JudgeScreen
from safer_tui.widgets.progress_line import ProgressLine

SAY_SECONDS = 5.0  # how long a message stays in the status line


class FeatureJudging(Screen[None]):
    """The judge half of the Features screen, which provides the list it works on."""

    data: Explorer
    view: FeatureView

    def __init__(self) -> None:
        super().__init__()
        # calls to a server or a local model: seconds to minutes; answers are stored one by
        # one and the list's poll shows them as they come
        self.judging: Background[JudgeOutcome] = Background(
            self, "judge", self.judged, self.judge_failed, self.judge_failed
        )

    def read_only(self, what: str) -> bool:
        raise NotImplementedError  # the screen says whether labels can be written

    def say(self, text: str | Text, seconds: float = SAY_SECONDS) -> None:
        raise NotImplementedError  # the screen's status line

    def changed(self, keep: int | None = None, by_key: bool = True) -> None:
        raise NotImplementedError  # the screen redraws the list

    def current_feature(self) -> int | None:
        raise NotImplementedError

    def reload_labels(self, keep: int | None) -> None:
        raise NotImplementedError

    def action_judge(self) -> None:
        if self.read_only("judgements"):
            return
        if self.judging.running:
            self.say("The judge is running: Esc stops it.")
            return

        def start(request: JudgeRequest | None) -> None:
            if request is None:
                return
            if request.features:  # like a tag, a judge run uses up the marks
                self.view.marked.clear()
                self.changed(self.current_feature())
            line = self.query_one("#judge-progress", ProgressLine)
            line.start(f"judging the {request.describe()}", counted=True)
            self.judging.start(partial(self.data.judge, request), line)

        marked = sorted(self.view.marked)
        self.app.push_screen(JudgeScreen(marked, openai_environment()), start)

    def judged(self, outcome: JudgeOutcome) -> None:
        self.judge_ended(outcome, outcome.stopped)

    def judge_failed(self, error: SaferError) -> None:
        """What stopped a judge run before any call (Esc too, before the first answer)."""
        self.judge_ended(None, error)

    def judge_ended(self, outcome: JudgeOutcome | None, error: SaferError | None) -> None:
        self.reload_labels(self.current_feature())
        if isinstance(error, Cancelled):
            totals = f": {outcome.summary()}" if outcome else " before any call."
            self.say(Text.assemble(("Judge stopped", "bold"), totals), 2 * SAY_SECONDS)
        elif error is not None:
            # what stopped it first: totals alone ("judged 0, failed 0") read as success
            totals = f" ({outcome.summary()})" if outcome else ""
            failed = Text.assemble(("Judge failed", "bold red"), f": {error.message}{totals}")
            self.say(failed, 4 * SAY_SECONDS)
            show_error(self, error)
        elif outcome is not None:
            self.say(Text.assemble(("Judge", "bold"), f": {outcome.summary()}"), 2 * SAY_SECONDS)
