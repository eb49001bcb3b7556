from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from rich.console import Console

from safer_engine.cli import main
from safer_engine.cli.render import show_eval
from safer_engine.train.evaluate import report_from_margins
from safer_engine.workspace import Workspace
from tests.safer_engine.cli import run_cli


def test_train_rm_then_eval(
    tmp_path: Path, tiny_bert: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.tiny_models import separable_pairs

    data = tmp_path / "pairs.parquet"
    separable_pairs().write_parquet(data)
    ws = str(tmp_path / "ws")
    assert main(["data", "import", str(data), "--workspace", ws]) == 0
    train = [
        "train-rm",
        "--workspace",
        ws,
        "--model",
        str(tiny_bert),
        "--max-steps",
        "30",
        "--learning-rate",
        "0.01",
        "--max-length",
        "32",
        "--max-prompt-tokens",
        "8",
    ]
    assert main(train) == 0
    assert "Reward model trained: 30 steps" in capsys.readouterr().out
    assert main(train) == 0
    assert "Reward model up to date" in capsys.readouterr().out
    assert main(["eval", "--workspace", ws, "--split", "all"]) == 0
    printed = capsys.readouterr().out
    assert "Pairwise accuracy on the all split" in printed
    report = json.loads((tmp_path / "ws" / "rm" / "eval.json").read_text())
    assert report["overall"]["pairs"] == 20
    assert report["overall"]["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train-rm", "--workspace", "{ws}"], "has no imported data yet"),
        (["eval", "--workspace", "{ws}"], "has no imported data yet"),
        (
            ["train-rm", "--workspace", "{ws}", "--max-length", "8", "--max-prompt-tokens", "8"],
            "must be below --max-length",
        ),
        (["train-rm", "--workspace", "{missing}"], "does not exist"),
    ],
)
def test_rm_commands_explain_what_is_missing(tmp_path: Path, args: list[str], message: str) -> None:

    Workspace.open(tmp_path / "ws", create=True)
    paths = {"ws": str(tmp_path / "ws"), "missing": str(tmp_path / "missing")}
    result = run_cli(*(a.format(**paths) for a in args))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_without_a_trained_model(tmp_path: Path, fixture_data: Path) -> None:
    ws = str(tmp_path / "ws")
    assert main(["data", "import", str(fixture_data / "generic.csv"), "--workspace", ws]) == 0
    result = run_cli("eval", "--workspace", ws)
    assert result.returncode == 2
    assert "No trained reward model" in result.stderr
    assert "safer train-rm" in result.stderr


def test_zero_max_steps_is_refused() -> None:
    result = run_cli("train-rm", "--workspace", "w", "--max-steps", "0")
    assert result.returncode == 2
    assert "--max-steps must be -1 (use --epochs) or at least 1, not 0" in result.stderr


def test_eval_on_other_data_scores_every_pair(
    tmp_path: Path, tiny_bert: Path, fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import make_trained_workspace

    ws = str(make_trained_workspace(tmp_path / "ws", tiny_bert))
    assert main(["eval", "--workspace", ws, "--data", str(fixture_data / "rewardbench.jsonl")]) == 0
    printed = capsys.readouterr().out
    assert "on the all split" in printed
    assert "RewardBench sections" in printed
    assert "Report written to" in printed and "eval-" in printed.replace("\n", "")


def test_eval_output_shows_the_rewardbench_overall_score() -> None:
    subsets = ["alpacaeval-hard", "llmbar-natural", "refusals-offensive", "math-prm"]
    table = pl.DataFrame({"slice": ["chat", "chat-hard", "safety", "reasoning"], "subset": subsets})
    console = Console(record=True, width=120)
    show_eval(console, report_from_margins(table, np.array([1.0, 1.0, -1.0, 1.0]), "all"))
    printed = console.export_text()
    assert "RewardBench overall score: 0.750" in printed
    assert "chat 1.000, chat-hard 1.000, safety 0.000, reasoning 1.000" in printed


def test_train_rm_on_a_missing_folder_names_both_ways_to_make_a_workspace(tmp_path: Path) -> None:
    result = run_cli("train-rm", "--workspace", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "safer data import" in result.stderr and "safer demo" in result.stderr
    assert "Traceback" not in result.stderr
