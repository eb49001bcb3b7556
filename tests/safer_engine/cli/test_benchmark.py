"""`safer benchmark noise`: bad input is one message with a hint; a tiny run prints the table
and where the report is; with --judge, SAFER is measured with the judge's features too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safer_engine.cli import main
from tests.chat_server import ChatServer, ok

TINY = ["--epochs", "2", "--hidden", "8", "--max-length", "32", "--max-prompt-tokens", "8"]


def general_only_workspace(root: Path) -> Path:
    from safer_engine.config import DataConfig
    from safer_engine.data.load import load_preferences
    from safer_engine.data.stage import import_data
    from safer_engine.workspace import Workspace

    rows = [
        {"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}", "slice": "general"}
        for i in range(12)
    ]
    source = root.parent / "general.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    import_data(Workspace.open(root, create=True), load_preferences(DataConfig(str(source))))
    return root


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["--noise", "0,10"], "above 0 and at most 50, not 0", "--noise 5,10,20"),
        (["--noise", "60"], "at most 50, not 60", "majority"),
        (["--methods", "safer,magic"], "not magic", "--methods safer,margin"),
    ],
)
def test_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str, hint: str
) -> None:
    code = main(["benchmark", "noise", "--workspace", str(tmp_path), *args])
    printed = " ".join(capsys.readouterr().err.split())
    assert code == 2 and message in printed and hint in printed and "Traceback" not in printed


def test_a_workspace_without_the_safety_slice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = general_only_workspace(tmp_path / "ws")
    assert main(["benchmark", "noise", "--workspace", str(ws)]) == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "has no safety train pairs" in printed and "slice column" in printed
    assert not (ws / "benchmarks").exists()


def test_a_tiny_benchmark_with_the_judge(
    encoded_workspace: Path, judge_env: ChatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    judge_env.default = ok("Score: 5\nExplanation: about harm.")
    args = ["benchmark", "noise", "--workspace", str(encoded_workspace), "--noise", "25"]
    args += ["--seeds", "1", "--methods", "safer,random", "--judge", *TINY]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "25% flipped" in printed and "SAFER (judge's" in printed
    assert "Report" in printed and "9 stages run now" in " ".join(printed.split())
    calls = judge_env.calls
    assert calls > 0
    assert main(args) == 0  # resumed: every answer is cached
    assert judge_env.calls == calls and "0 stages run now" in capsys.readouterr().out
