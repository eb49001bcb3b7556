"""`safer judge --score` on the synthetic workspace against a chat-completions server on
127.0.0.1: the fit beside each judgement, its cache, what a dry run counts, its failures, and
`safer score-pairs --min-fit` using it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safer_engine.cli import main
from safer_engine.labels.fits import fits
from safer_engine.workspace import Workspace
from tests.chat_server import Answer, ChatServer, ok, yes_no
from tests.safer_engine.cli import run_cli

FIT_QUESTION = "Going by the description alone"
SMALL = ("--top", "2", "--examples", "2", "--score-firing", "3", "--score-silent", "2")


def flat(text: str) -> str:
    return " ".join(text.split())


def judge(ws: Path, *args: str) -> int:
    return main(["judge", "--workspace", str(ws), *SMALL, *args])


def always(said: bool, p_yes: float | None = 0.7) -> Any:
    """A judge that explains each feature in words of its own, then says `said` about every
    context (so the balanced accuracy is 0.5, and the AUC too: every P(yes) is the same)."""
    explained = iter(range(1000))

    def rule(request: dict[str, Any]) -> Answer:
        if FIT_QUESTION in request["messages"][1]["content"]:
            return yes_no(said, p_yes)
        return ok(f"Score: 5\nExplanation: pattern {next(explained)}.")

    return rule


def test_score_gives_every_judged_feature_a_fit_and_a_rerun_reuses_it(
    synthetic_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    judge_env.rule = always(True)
    assert judge(synthetic_workspace, "--score") == 0
    printed = flat(capsys.readouterr().out)
    assert "fit" in printed and "auc" in printed and "0.50" in printed
    assert "Explanation fits: scored 2, cached 0, failed 0 on 3 + 2 held-out contexts" in printed
    calls = judge_env.calls
    assert calls == 2 + 2 * 5  # two judgements, then one call per context
    sae_id = Workspace.open(synthetic_workspace).sae_ids()[-1]
    stored = fits(synthetic_workspace / "labels.sqlite", sae_id)
    assert len(stored) == 2 and {f.balanced_accuracy for f in stored.values()} == {0.5}
    assert {f.auc for f in stored.values()} == {0.5}

    assert judge(synthetic_workspace, "--score") == 0
    again = flat(capsys.readouterr().out)
    assert "Judged 0, cached 2" in again and "Explanation fits: scored 0, cached 2" in again
    assert judge_env.calls == calls


def test_dry_run_counts_the_scoring_calls_and_makes_none(
    synthetic_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    judge_env.rule = always(False)
    assert judge(synthetic_workspace, "--score", "--fuzz", "--dry-run") == 0
    printed = flat(capsys.readouterr().out)
    assert "the 2 feature(s) without one yet, up to 20 more" in printed  # (3+2) × 2 methods
    assert judge_env.calls == 0
    assert judge(synthetic_workspace) == 0  # judged, not scored
    capsys.readouterr()
    assert judge(synthetic_workspace, "--score", "--dry-run") == 0
    assert "Scoring the 2 stored explanation(s) would make 10 call(s) (0 score(s) cached)" in (
        flat(capsys.readouterr().out)
    )
    assert judge_env.calls == 2


def test_unusable_answers_show_as_a_failed_fit_with_the_reason(
    synthetic_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    explained = iter(range(1000))

    def rule(request: dict[str, Any]) -> Answer:
        if FIT_QUESTION in request["messages"][1]["content"]:
            return ok("Perhaps, in some sense.")
        return ok(f"Score: 5\nExplanation: pattern {next(explained)}.")

    judge_env.rule = rule
    assert judge(synthetic_workspace, "--score") == 0
    printed = flat(capsys.readouterr().out)
    assert "failed" in printed and "fit: answer:" in printed and "unusable" in printed
    assert "Explanation fits: scored 0, cached 0, failed 2" in printed


def test_min_fit_selects_only_judged_features_that_fit(
    synthetic_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    judge_env.rule = always(True)
    assert judge(synthetic_workspace, "--score") == 0
    ws = str(synthetic_workspace)
    capsys.readouterr()
    assert main(["score-pairs", "--workspace", ws, "--select", "judge"]) == 0
    assert "Safety features from judge: 0 safe (P), 2 unsafe (N)" in flat(capsys.readouterr().out)
    assert main(["score-pairs", "--workspace", ws, "--select", "judge", "--min-fit", "0.7"]) == 0
    assert "from judge: 0 safe (P), 0 unsafe (N)" in flat(capsys.readouterr().out)
    assert main(["score-pairs", "--workspace", ws, "--select", "judge", "--min-fit", "0.5"]) == 0
    assert "from judge: 0 safe (P), 2 unsafe (N)" in flat(capsys.readouterr().out)


def test_fuzz_needs_score() -> None:
    result = run_cli("judge", "--workspace", "/nonexistent", "--fuzz")
    assert result.returncode == 2 and "Give --score too." in flat(result.stderr)
    assert "Traceback" not in result.stderr
