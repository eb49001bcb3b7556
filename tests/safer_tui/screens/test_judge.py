"""The LLM judge in the explorer: its column on the Features screen, its suggestion on the
feature page, and a judging run from the app against the chat-completions server on
127.0.0.1 (tests/chat_server.py), cancelled with Esc too."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, Static

from safer_engine.labels import LabelStore
from safer_tui.app import SaferApp
from safer_tui.screens.dialogs import JudgeScreen
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.widgets.progress_line import ProgressLine
from tests.chat_server import Answer, ChatServer, ok
from tests.safer_tui.conftest import add_judgements
from tests.safer_tui.helpers import cell, sae_id, settle, shown, status, table

pytestmark = pytest.mark.anyio


async def test_the_judge_column_shows_scores_and_failures_and_sorts(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(30))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert [cell(app, f, "judge") for f in range(5)] == ["5", "1", "4", "✗", ""]
        assert "judge" in [c.name for c in table(app).columns()]
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        screen.set_sort("judge")  # as the palette's "Sort by judge"
        await pilot.pause()
        assert shown(app)[:4] == [0, 2, 1, 3]  # 5, 4, 1, then the failure
        assert "sort judge ↓" in status(app)
        await pilot.press("S")  # 1 to 5; failures and features never judged stay last
        await pilot.pause()
        assert shown(app)[:4] == [1, 2, 0, 3] and "sort judge ↑" in status(app)
        # a header click sorts by it too
        widget = table(app)
        before = [c.name for c in widget.columns()].index("judge")
        x = widget.region.x + 2 + sum(w + 1 for w in widget.widths()[:before]) + 2
        screen.set_sort("salience")
        await pilot.pause()
        await pilot.click(offset=(x, widget.region.y))
        await pilot.pause()
        assert shown(app)[:4] == [0, 2, 1, 3]


async def test_new_judgements_show_at_the_next_poll(features_workspace) -> None:  # type: ignore[no-untyped-def]
    root = features_workspace(30)
    app = SaferApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert cell(app, 9, "judge") == ""
        with LabelStore.open(root / "labels.sqlite", author="cli") as labels:
            add_judgements(labels, {9: 3})
        app.screen.poll_labels()  # type: ignore[attr-defined]  # what the 2 s timer calls
        await pilot.pause()
        assert cell(app, 9, "judge") == "3"


def stats(app: SaferApp) -> str:
    return str(app.screen.query_one("#feature-stats", Static).content)


async def test_the_feature_page_shows_the_suggestion_and_a_disagreeing_tag(
    synthetic_workspace: Path,
) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first, second, third = shown(app)[:3]
        with LabelStore.open(synthetic_workspace / "labels.sqlite") as labels:
            add_judgements(labels, {first: 1, second: 5, third: None}, sae_id(synthetic_workspace))
        await pilot.press("t")  # `first` tagged safe; the judge scored it 1
        await pilot.press("g", "enter")
        await settle(app, pilot)
        text = stats(app)
        assert "judge 1/5 (judge-test, a suggestion): judged 1: fires on refusals" in text
        assert "the tag 'safe' disagrees; the tag wins" in text
        assert "tag safe" in text
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert "judge 5/5" in stats(app) and "disagrees" not in stats(app)
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert "judge ✗ no usable answer (answer: no 'Score: N' line)" in stats(app)
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert "judge not judged" in stats(app)


def choices(dialog: JudgeScreen, selector: str) -> str:
    """The labels of a set of radio buttons."""
    return " | ".join(str(b.label) for b in dialog.query_one(selector).query(RadioButton))


def marks(dialog: JudgeScreen) -> list[str]:
    """What each backend's button shows inside its brackets, colour aside."""
    buttons = dialog.query_one("#judge-backend").query(RadioButton)
    return [str(button.render()).split("▐", 1)[1][0] for button in buttons]


async def open_judge(pilot: Pilot[None]) -> JudgeScreen:
    await pilot.press("J")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, JudgeScreen)
    return screen


async def judged(app: SaferApp, pilot: Pilot[None]) -> FeaturesScreen:
    """The Features screen once the judge's worker ended and its result is shown."""
    await app.workers.wait_for_complete()
    screen = app.screen
    assert isinstance(screen, FeaturesScreen)
    for _ in range(200):  # a bound, not a timing: the result arrives as a posted message
        await pilot.pause()
        if not screen.query_one("#judge-progress", ProgressLine).busy:
            break
    return screen


async def test_a_judge_run_from_the_app(synthetic_workspace: Path, judge_env: ChatServer) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        top = shown(app)[:5]
        dialog = await open_judge(pilot)
        assert "judge-test at http://127.0.0.1" in str(
            dialog.query_one("#judge-where", Static).content
        )
        dialog.query_one("#judge-top", Input).value = "5"
        await pilot.press("enter")
        screen = await judged(app, pilot)
        assert judge_env.calls == 5
        assert [cell(app, f, "judge") for f in top] == ["4"] * 5
        assert "Judge: judged 5, cached 0, failed 0 (judge-test)" in status(app)
        assert not screen.query_one("#judge-progress", ProgressLine).display
        # the marked features, this time: the two below the top five
        await pilot.press("end")
        await pilot.press("home", *["j"] * 5, "space", "space")
        marked = sorted(screen.view.marked)
        dialog = await open_judge(pilot)
        assert "the 2 marked" in choices(dialog, "#judge-which")
        await pilot.press("enter")
        await judged(app, pilot)
        assert judge_env.calls == 7 and not screen.view.marked
        assert all(cell(app, f, "judge") == "4" for f in marked)
        assert app.data is not None and set(app.data.judgements()) == set(top) | set(marked)


async def test_esc_stops_a_judge_run_and_keeps_what_finished(
    synthetic_workspace: Path, judge_env: ChatServer
) -> None:
    judge_env.script = [ok(), ok()]
    judge_env.default = Answer(hang=True)  # the rest never answer until the server stops
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_judge(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        assert app.data is not None
        for _ in range(400):  # a bound, not a timing: two answers come at once
            await pilot.pause(0.02)
            if len(app.data.judgements()) == 2:
                break
        assert screen.query_one("#judge-progress", ProgressLine).busy
        token = screen.judging.token
        await pilot.press("escape")
        assert token is not None and token.cancelled
        await judged(app, pilot)
        assert len(app.data.judgements()) == 2  # both finished answers were kept
        assert "Judge stopped: judged 2" in status(app)
        screen.poll_labels()
        await pilot.pause()
        assert sorted(cell(app, f, "judge") for f in shown(app))[-2:] == ["4", "4"]


async def test_a_missing_environment_is_said_in_the_apps_words(
    synthetic_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("SAFER_JUDGE_MODEL", raising=False)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dialog = await open_judge(pilot)
        backend = str(dialog.query_one("#judge-where", Static).content)
        assert "needs OPENAI_BASE_URL and SAFER_JUDGE_MODEL" in backend
        # Enter would load a model here: the dialog says so, and why openai is not chosen
        assert "loads a 135M model on this machine (minutes on a CPU)" in backend
        labels = choices(dialog, "#judge-backend")
        assert "openai: OPENAI_BASE_URL and SAFER_JUDGE_MODEL unset" in labels
        assert dialog.request().backend == "local"  # chosen for you: openai cannot run
        assert marks(dialog) == [" ", "●"]  # the choice reads without colour
        await pilot.press("space")  # pick openai (the first) anyway
        await pilot.pause()
        assert dialog.request().backend == "openai" and marks(dialog) == ["●", " "]
        await pilot.press("enter")
        await judged(app, pilot)
        messages = " ".join(n.message for n in app._notifications)
        assert "OPENAI_BASE_URL" in messages and "the local backend" in messages


async def test_read_only_labels_do_not_start_the_judge(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.data is not None
        app.data.read_only = True
        await pilot.press("J")
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)
        assert "read-only here: judgements cannot be saved" in status(app)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_a_judge_run_that_fails_is_said_whole_and_not_as_a_success(
    tmp_path: Path, judge_env: ChatServer, size: tuple[int, int]
) -> None:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace
    from tests.safer_tui.helpers import screen_lines

    root = build_synthetic_workspace(
        tmp_path / "ws", n_pairs=20, tokens_per_doc=12, n_latents=64, k=4
    )
    judge_env.default = Answer(status=401, content=None)  # a refused key stops the run
    app = SaferApp(root, author="alice")
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause()
        await open_judge(pilot)
        await pilot.press("enter")
        await judged(app, pilot)
        said = status(app)
        assert said.startswith("Judge failed: ") and "Judge: judged 0" not in said
        [note] = app._notifications
        assert note.timeout >= 20
        await pilot.pause(0.3)  # the toast slides in
        drawn = " ".join(line.strip(" ▌") for line in screen_lines(app)[:-1])  # no footer
        words = note.message.split()
        assert " ".join(words[-4:]) in " ".join(drawn.split())  # its hint's end is shown


async def test_the_judges_progress_says_how_many_are_done(
    tmp_path: Path, judge_env: ChatServer
) -> None:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    root = build_synthetic_workspace(
        tmp_path / "ws", n_pairs=20, tokens_per_doc=12, n_latents=64, k=4
    )
    judge_env.script = [ok(), ok()]
    judge_env.default = Answer(hang=True)  # the rest wait until Esc
    app = SaferApp(root, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dialog = await open_judge(pilot)
        dialog.query_one("#judge-top", Input).value = "5"
        await pilot.press("enter")
        assert app.data is not None
        for _ in range(400):  # a bound, not a timing: two answers come at once
            await pilot.pause(0.02)
            if len(app.data.judgements()) == 2:
                break
        await pilot.pause(0.05)
        line = app.screen.query_one("#judge-progress", ProgressLine)
        assert "2 of 5" in str(line.query_one("Label", Static).content)
        await pilot.press("escape")
        await judged(app, pilot)


async def test_a_judge_run_with_the_fit_fills_the_fit_column_and_the_page(
    synthetic_workspace: Path, judge_env: ChatServer
) -> None:
    from safer_tui.screens.dialogs import CheckButton
    from tests.chat_server import yes_no

    explained = iter(range(100))

    def rule(request: dict[str, object]) -> Answer:
        asked = str(request["messages"][1]["content"])  # type: ignore[index]
        if "Going by the description alone" in asked:
            return yes_no(True, 0.6)
        return ok(f"Score: 4\nExplanation: pattern {next(explained)}.")

    judge_env.rule = rule
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "fit" not in [c.name for c in table(app).columns()]  # nothing scored yet
        top = shown(app)[:2]
        dialog = await open_judge(pilot)
        dialog.query_one("#judge-top", Input).value = "2"
        fit = dialog.query_one("#judge-fit", CheckButton)
        assert not fit.value and "▐ ▌" in str(fit.render())
        fit.value = True
        assert "▐X▌" in str(fit.render())  # checked reads without colour
        await pilot.press("enter")
        await judged(app, pilot)
        assert "judged 2, cached 0, failed 0; fit 2, cached 0, failed 0 (judge-test)" in status(app)
        assert "fit" in [c.name for c in table(app).columns()]
        assert [cell(app, f, "fit") for f in top] == ["0.50", "0.50"]  # always yes: chance
        assert cell(app, shown(app)[2], "fit") == ""
        await pilot.press("home", "enter")
        await settle(app, pilot)
        assert "fit 0.50 balanced accuracy, AUC 0.50 on" in stats(app)
