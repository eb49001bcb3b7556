"""The judge as the explorer reaches it: judgements on the explorer's connection, the openai
environment, and a judging run against the chat-completions server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.errors import Cancelled, JudgeError
from safer_engine.labels import Judgement, JudgementLog, LabelStore
from safer_engine.progress import CancelToken, no_progress
from safer_engine.service import judging
from safer_engine.service.explorer import Explorer
from safer_engine.service.judging import JudgeRequest, openai_environment
from tests.chat_server import ChatServer, ok


def test_the_environment_names_are_the_openai_backends() -> None:
    from safer_engine.judge import openai_chat

    assert judging.ENV_BASE_URL == openai_chat.ENV_BASE_URL
    assert judging.ENV_MODEL == openai_chat.ENV_MODEL
    assert judging.ENV_KEY == openai_chat.ENV_KEY


def test_the_openai_environment_is_described_without_its_key() -> None:
    missing = openai_environment({})
    assert missing.missing == ["OPENAI_BASE_URL", "SAFER_JUDGE_MODEL"]
    assert "needs OPENAI_BASE_URL and SAFER_JUDGE_MODEL" in missing.describe()
    env = openai_environment(
        {"OPENAI_BASE_URL": "http://h:1/v1/", "SAFER_JUDGE_MODEL": "m", "OPENAI_API_KEY": "sk-x"}
    )
    assert env.missing == [] and env.describe() == "m at http://h:1/v1 (with a key)"
    assert "sk-x" not in repr(env)


def test_a_run_stores_judgements_that_the_explorer_reads(
    encoded_workspace: Path, judge_env: ChatServer
) -> None:
    explorer = Explorer.open(encoded_workspace, author="alice")
    try:
        before = explorer.last_label_change()
        assert explorer.judgements() == {}
        outcome = explorer.judge(JudgeRequest(top=3), no_progress, CancelToken())
        assert (outcome.judged, outcome.cached, outcome.failed, outcome.calls) == (3, 0, 0, 3)
        assert outcome.stopped is None and outcome.model == "judge-test"
        assert "judged 3, cached 0, failed 0 (judge-test)" in outcome.summary()
        found = explorer.judgements()
        assert len(found) == 3 and {j.score for j in found.values()} == {4}
        assert explorer.last_label_change()[1] > before[1]  # the list's poll sees them
        again = explorer.judge(JudgeRequest(top=3), no_progress, CancelToken())
        assert (again.judged, again.cached, judge_env.calls) == (0, 3, 3)
    finally:
        explorer.close()


def test_marked_features_that_never_fire_are_left_out(
    encoded_workspace: Path, judge_env: ChatServer
) -> None:
    explorer = Explorer.open(encoded_workspace)
    try:
        density = dict(zip(*explorer.features.select("feature", "density"), strict=True))
        dead = [f for f, d in density.items() if d == 0]
        live = [f for f, d in density.items() if d > 0][:2]
        outcome = explorer.judge(
            JudgeRequest(features=(*live, *dead[:1])), no_progress, CancelToken()
        )
        assert outcome.judged == 2 and set(explorer.judgements()) == set(live)
        assert outcome.never_fire == dead[:1]
        if dead:
            with pytest.raises(JudgeError, match="None of the marked features ever fires"):
                explorer.judge(JudgeRequest(features=(dead[0],)), no_progress, CancelToken())
    finally:
        explorer.close()


def test_a_missing_environment_says_what_to_set(
    encoded_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("SAFER_JUDGE_MODEL", raising=False)
    explorer = Explorer.open(encoded_workspace)
    try:
        with pytest.raises(JudgeError, match="OPENAI_BASE_URL") as raised:
            explorer.judge(JudgeRequest(top=2), no_progress, CancelToken())
        assert "the local backend" in raised.value.hint and "--backend" not in raised.value.hint
    finally:
        explorer.close()


def test_a_cancelled_run_keeps_what_finished(
    encoded_workspace: Path, judge_env: ChatServer
) -> None:
    judge_env.script = [ok(), ok()]
    judge_env.default = ok()
    cancel = CancelToken()
    seen: list[str] = []

    def progress(task: str, done: int, total: int | None) -> None:
        seen.append(task)
        if done == 2 and task.startswith("feature"):
            cancel.cancel()

    explorer = Explorer.open(encoded_workspace)
    try:
        outcome = explorer.judge(JudgeRequest(top=10), progress, cancel)
        assert isinstance(outcome.stopped, Cancelled)
        assert "kept" in outcome.stopped.hint
        assert 2 <= outcome.judged < 10 and len(explorer.judgements()) == outcome.judged
    finally:
        explorer.close()


def test_judgements_of_a_read_only_version_1_file_read_as_none(tmp_path: Path) -> None:
    import sqlite3

    from safer_engine.labels.schema import FEATURE_LABELS

    path = tmp_path / "labels.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(FEATURE_LABELS)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with LabelStore.open(path, read_only=True) as store:
        assert judging.latest_judgements(store, "sae") == {}
        assert judging.last_judgement(store) == 0
    with LabelStore.open(path) as store:  # upgraded on a writable open
        JudgementLog(store).add(
            Judgement("sae", 3, "h", "openai", "m", None, 5, "x", None, None, "")
        )
        assert judging.last_judgement(store) == 1
        assert judging.latest_judgements(store, "sae")[3].score == 5


def test_a_run_with_the_fit_scores_each_explanation_for_the_explorer(
    synthetic_workspace: Path, judge_env: ChatServer
) -> None:
    from tests.chat_server import Answer, yes_no

    explained = iter(range(100))

    def rule(request: dict[str, object]) -> Answer:
        asked = request["messages"][1]["content"]  # type: ignore[index]
        if "Going by the description alone" in asked:
            return yes_no(False, 0.3)
        return ok(f"Score: 4\nExplanation: pattern {next(explained)}.")

    judge_env.rule = rule
    explorer = Explorer.open(synthetic_workspace)
    try:
        assert explorer.fits() == {} and explorer.last_fit_change() == 0
        request = JudgeRequest(top=2, score=True)
        assert "scoring the fit" in request.describe()
        outcome = explorer.judge(request, no_progress, CancelToken())
        assert outcome.stopped is None and outcome.fits == (2, 0, 0)
        assert "; fit 2, cached 0, failed 0 (judge-test)" in outcome.summary()
        found = explorer.fits()
        assert set(found) == set(explorer.judgements()) and len(found) == 2
        assert {fit.balanced_accuracy for fit in found.values()} == {0.5}  # always "no"
        assert explorer.last_fit_change() == 2
        calls = judge_env.calls
        again = explorer.judge(request, no_progress, CancelToken())
        assert again.fits == (0, 2, 0) and judge_env.calls == calls
        plain = explorer.judge(JudgeRequest(top=2), no_progress, CancelToken())
        assert plain.fits is None and "fit" not in plain.summary()
    finally:
        explorer.close()
