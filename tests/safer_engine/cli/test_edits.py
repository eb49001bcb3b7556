from __future__ import annotations

import json
from pathlib import Path

import pytest

from safer_engine.cli import main
from tests.safer_engine.cli import run_cli


def test_plan_list_and_export_twice(
    encoded_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(encoded_workspace)
    assert main(["edit", "plan", "--workspace", ws, "--mode", "poison", "--ratio", "25"]) == 0
    printed = capsys.readouterr().out
    counts_at, saved_at = printed.index("Edited pairs by slice"), printed.index("saved to")
    assert counts_at < saved_at  # what will change is shown before it is written
    plan_id = printed.split("Plan ")[1].split(":")[0].strip()
    plan = json.loads((encoded_workspace / "edits" / plan_id / "plan.json").read_text())
    assert len(plan["edits"]) == 4 and plan["selection"]["source"] == "salience"
    assert main(["edit", "list", "--workspace", ws]) == 0
    assert plan_id in capsys.readouterr().out
    for name in ("a.parquet", "b.parquet"):
        args = ["edit", "export", plan_id, "--workspace", ws, "--out", str(tmp_path / name)]
        assert main(args) == 0
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    again = run_cli(
        "edit", "export", plan_id, "--workspace", ws, "--out", str(tmp_path / "a.parquet")
    )
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    by_path = encoded_workspace / "edits" / plan_id
    assert (
        main(
            [
                "edit",
                "export",
                str(by_path),
                "--out",
                str(tmp_path / "c.jsonl"),
                "--format",
                "jsonl",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ratio", "0"], "above 0 and below 100"),
        (["--ratio", "1"], "rounds to 0 pairs"),
        (["--mode", "manual"], "needs --pairs FILE"),
        (["--mode", "manual", "--pairs", "/nonexistent.txt"], "no such file of pair ids"),
    ],
)
def test_bad_plans_are_one_message(encoded_workspace: Path, args: list[str], message: str) -> None:
    result = run_cli("edit", "plan", "--workspace", str(encoded_workspace), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_random_plans_need_no_sae(
    trained_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["edit", "plan", "--workspace", str(trained_workspace), "--mode", "random-flip"]
    assert main([*args, "--ratio", "50", "--seed", "3"]) == 0
    assert "Edited pairs by slice" in capsys.readouterr().out
    (plan,) = (trained_workspace / "edits").glob("*/plan.json")
    assert "random 50% of the train pairs (seed 3)" in plan.read_text()
    result = run_cli("edit", "plan", "--workspace", str(trained_workspace), "--mode", "poison")
    assert result.returncode == 2 and "has no SAE" in result.stderr


def test_export_follows_the_file_name_and_refuses_a_contradiction(
    encoded_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(encoded_workspace)
    assert main(["edit", "plan", "--workspace", ws, "--mode", "poison", "--ratio", "25"]) == 0
    plan_id = capsys.readouterr().out.split("Plan ")[1].split(":")[0].strip()
    export = ["edit", "export", plan_id, "--workspace", ws, "--out"]
    assert main([*export, str(tmp_path / "p.jsonl")]) == 0
    assert "jsonl to" in capsys.readouterr().out
    first = (tmp_path / "p.jsonl").read_text().splitlines()[0]
    assert json.loads(first)  # JSON lines, not parquet bytes
    manifest = json.loads((tmp_path / "p.jsonl.manifest.json").read_text())
    assert manifest["output"]["format"] == "jsonl"
    clash = run_cli(*export, str(tmp_path / "q.jsonl"), "--format", "parquet")
    assert clash.returncode == 2 and "does not match the file name q.jsonl" in clash.stderr
    assert not (tmp_path / "q.jsonl").exists()
