"""`safer judge` on the tiny encoded workspace (64 features), against a chat-completions
server on 127.0.0.1 or the tiny local chat model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from safer_engine import artifacts as names
from safer_engine.cli import main
from safer_engine.labels.judgements import judgements
from safer_engine.workspace import Workspace
from tests.chat_server import ChatServer, error


def rows(ws: Path) -> list[tuple[int, int | None, str | None]]:
    conn = sqlite3.connect(ws / names.LABELS_FILE)
    try:
        return conn.execute("SELECT feature, score, failure_kind FROM judgements").fetchall()
    finally:
        conn.close()


def judge(ws: Path, *args: str) -> int:
    return main(["judge", "--workspace", str(ws), *args])


def flat(text: str) -> str:
    """Printed text with its line wrapping undone."""
    return " ".join(text.split())


def firing(ws: Path) -> list[bool]:
    """Whether each feature of the workspace's SAE fires at all (training the fixture is not
    reproducible, so which ones do differs between runs)."""
    import numpy as np

    from safer_engine.codes.reader import CodesReader

    sae_id = Workspace.open(ws).sae_ids()[-1]
    codes = CodesReader(ws / "sae" / sae_id)
    try:
        return (np.diff(np.asarray(codes.offsets)) > 0).tolist()
    finally:
        codes.close()


def test_top_20_stores_20_judgements_and_a_rerun_makes_no_calls(
    encoded_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sum(firing(encoded_workspace)) >= 20, "the fixture SAE has too few live features"
    assert judge(encoded_workspace, "--top", "20") == 0
    assert judge_env.calls == 20
    stored = rows(encoded_workspace)
    assert len(stored) == 20 and {score for _, score, _ in stored} == {4}
    printed = flat(capsys.readouterr().out)
    assert "Judge: safety relevance" in printed and "fires on refusals" in printed
    assert "Judged 20, cached 0, failed 0; 20 call(s), 0 retries" in printed
    assert "2,400 prompt + 240 completion tokens" in printed
    assert f"model judge-test at {judge_env.base_url}" in printed

    assert judge(encoded_workspace, "--top", "20") == 0
    assert judge_env.calls == 20 and len(rows(encoded_workspace)) == 20
    assert "Judged 0, cached 20, failed 0; 0 call(s)" in flat(capsys.readouterr().out)
    sae_id = Workspace.open(encoded_workspace).sae_ids()[-1]
    latest = judgements(encoded_workspace / names.LABELS_FILE, sae_id)
    assert len(latest) == 20 and all(
        j.score == 4 and j.model == "judge-test" for j in latest.values()
    )


def test_the_top_features_are_the_most_salient(
    encoded_workspace: Path, judge_env: ChatServer
) -> None:
    import polars as pl

    sae_id = Workspace.open(encoded_workspace).sae_ids()[-1]
    table = pl.read_parquet(encoded_workspace / "sae" / sae_id / names.SALIENCE_FILE)
    assert judge(encoded_workspace, "--top", "3") == 0
    judged = {feature for feature, _, _ in rows(encoded_workspace)}
    strongest = table.sort(pl.col("salience").abs(), descending=True)["feature"].to_list()
    assert judged == set(strongest[:3])


def test_dry_run_shows_the_prompt_and_the_calls_and_makes_none(
    encoded_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert judge(encoded_workspace, "--top", "5", "--dry-run") == 0
    printed = flat(capsys.readouterr().out)
    assert "Prompt of feature" in printed and "[[" in printed and "PROMPT: " in printed
    assert "RESPONSE: " in printed and "Score: <a whole number from 1 to 5>" in printed
    assert "a run would make 5 call(s) (0 cached). Nothing was called." in printed
    assert judge_env.calls == 0 and not (encoded_workspace / names.LABELS_FILE).exists()
    assert judge(encoded_workspace, "--top", "3") == 0
    capsys.readouterr()
    assert judge(encoded_workspace, "--top", "5", "--dry-run") == 0
    assert "a run would make 2 call(s) (3 cached)" in flat(capsys.readouterr().out)
    assert judge_env.calls == 3


def test_a_dry_run_needs_no_server(
    encoded_workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OPENAI_BASE_URL", "SAFER_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert judge(encoded_workspace, "--top", "2", "--dry-run") == 0
    printed = capsys.readouterr()
    assert "Prompt of feature" in printed.out and "Nothing was called." in flat(printed.out)
    assert "cached answers were not counted" in flat(printed.err)
    assert judge(encoded_workspace, "--top", "2") == 2  # a real run does need it
    assert "needs OPENAI_BASE_URL and SAFER_JUDGE_MODEL" in flat(capsys.readouterr().err)


def test_explicit_features_and_failures_in_the_table(
    encoded_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.chat_server import ok

    live = [f for f, fires in enumerate(firing(encoded_workspace)) if fires][:2]
    judge_env.script = [ok("Score: 8\nExplanation: too much")]
    listed = ",".join(map(str, live))
    assert judge(encoded_workspace, "--features", listed, "--concurrency", "1") == 0
    printed = flat(capsys.readouterr().out)
    assert "failed" in printed and "answer: score 8 is outside 1–5" in printed
    assert rows(encoded_workspace) == [(live[0], None, "answer"), (live[1], 4, None)]


def test_a_listed_feature_that_never_fires_is_one_message(
    encoded_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = [f for f, fires in enumerate(firing(encoded_workspace)) if not fires]
    if not dead:
        pytest.skip("every feature of this fixture SAE fires")
    assert judge(encoded_workspace, "--features", f"{dead[0]}") == 2
    printed = flat(capsys.readouterr().err)
    assert f"Feature {dead[0]} of SAE" in printed and "never fires" in printed
    assert "Leave it out of --features" in printed and judge_env.calls == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sae", "nope"], "has no SAE 'nope'"),
        (["--top", "0"], "--top must be at least 1, not 0"),
        (["--top", "3", "--features", "1"], "--top and --features both"),
        (["--features", "99"], "Feature 99 is not in SAE"),
        (["--features", "x"], "--features must be feature ids"),
    ],
)
def test_bad_input_is_one_message(
    encoded_workspace: Path,
    judge_env: ChatServer,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert judge(encoded_workspace, *args) == 2
    printed = flat(capsys.readouterr().err)
    assert message in printed and "Traceback" not in printed
    assert judge_env.calls == 0


def test_missing_settings_and_a_wrong_key(
    encoded_workspace: Path,
    judge_env: ChatServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SAFER_JUDGE_MODEL")
    assert judge(encoded_workspace) == 2
    printed = flat(capsys.readouterr().err)
    assert "needs SAFER_JUDGE_MODEL set" in printed and "--backend local" in printed
    monkeypatch.setenv("SAFER_JUDGE_MODEL", "judge-test")
    judge_env.default = error(401, "bad key")
    assert judge(encoded_workspace, "--top", "3") == 2
    captured = capsys.readouterr()
    assert "refused the API key (HTTP 401)" in flat(captured.err)
    assert "not judged" in captured.out  # the table still shows where the run stopped
    assert "sk-test-secret" not in captured.out + captured.err


def test_an_sae_without_salience_says_what_to_run(
    encoded_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sae_id = Workspace.open(encoded_workspace).sae_ids()[-1]
    (encoded_workspace / "sae" / sae_id / names.SALIENCE_FILE).unlink()
    assert judge(encoded_workspace) == 2
    printed = flat(capsys.readouterr().err)
    assert "has no salience table yet" in printed and "safer encode" in printed


def test_the_local_backend_guides_a_random_model_into_the_format(
    encoded_workspace: Path, tiny_llama: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--backend", "local", "--local-model", str(tiny_llama), "--top", "2"]
    assert judge(encoded_workspace, *args, "--max-tokens", "8") == 0
    printed = flat(capsys.readouterr().out)
    assert "2 call(s)" in printed
    stored = rows(encoded_workspace)
    assert len(stored) == 2
    # each answer is either a guided score 1-5 or, when the random model wrote no
    # explanation, a failure: never anything in between
    for _, score, kind in stored:
        assert (score is not None and 1 <= score <= 5 and kind is None) or kind == "answer"
    assert judge(encoded_workspace, *args, "--max-tokens", "8") == 0
    assert "0 call(s)" in flat(capsys.readouterr().out)


def test_ctrl_c_keeps_finished_judgements_and_exits_130(
    encoded_workspace: Path, judge_env: ChatServer
) -> None:
    """A real SIGINT to a real `safer judge` whose server hangs after two answers."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.chat_server import Answer, ok

    judge_env.script = [ok(), ok()]
    judge_env.default = Answer(hang=True)
    command = [sys.executable, "-m", "safer_engine.cli", "judge", "--workspace"]
    process = subprocess.Popen(
        [*command, str(encoded_workspace), "--top", "6", "--concurrency", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    while judge_env.calls < 4 and time.monotonic() < deadline:  # two answered, two hung
        time.sleep(0.05)
    assert judge_env.calls == 4
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - start < 5  # the hung requests were cancelled, not waited for
    assert process.returncode == 130, err
    assert "Cancelled judging" in flat(err) and "Every finished judgement was kept" in flat(err)
    assert "not judged" in out
    assert len(rows(encoded_workspace)) == 2
