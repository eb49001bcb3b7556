from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from safer_engine.cli import main, parse_columns
from safer_engine.errors import ConfigError
from tests.conftest import pair, write_jsonl


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safer_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_data_info_prints_schema_counts_lengths_and_problems(
    fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "info", str(fixture_data / "hh_rlhf.jsonl")]) == 0
    printed = capsys.readouterr().out
    assert "HH-RLHF" in printed
    assert "2 usable of 3 rows read" in printed
    assert "Pairs by slice and split" in printed
    assert "Length in characters" in printed
    assert "row 3, column prompt: prompt is empty" in printed


def test_data_info_json(fixture_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(fixture_data / "rewardbench.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == "RewardBench"
    assert report["pairs"] == 5
    assert sum(n for _, _, n in report["summary"]["counts"]) == 5


def test_column_mapping_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "good": "b", "bad": "c"}])
    assert main(["data", "info", str(path), "--columns", "prompt=q,chosen=good,rejected=bad"]) == 0
    assert "1 usable of 1 rows read" in capsys.readouterr().out


def test_parse_columns_rejects_malformed_items() -> None:
    assert parse_columns("prompt=q, chosen = good") == {"prompt": "q", "chosen": "good"}
    with pytest.raises(ConfigError, match="is not NAME=COLUMN"):
        parse_columns("prompt")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "info", "missing.jsonl"], "no such file or folder"),
        (["data", "info", "tests"], "is a folder but not a data set"),
        (["data", "info", "pyproject.toml"], "unsupported file type .toml"),
        (
            ["data", "info", "tests/fixtures/data/generic.csv", "--preference", "x"],
            "preference must be one of",
        ),
    ],
)
def test_bad_input_gives_one_message_and_no_traceback(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "data", "info", "missing.jsonl")
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert "no such file or folder" in result.stderr


def test_data_import_creates_a_workspace(
    tmp_path: Path, fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "ws"
    source = str(fixture_data / "pku_saferlhf.jsonl")
    assert main(["data", "import", source, "--workspace", str(workspace)]) == 0
    assert "Pairs written to" in capsys.readouterr().out
    assert main(["data", "import", source, "--workspace", str(workspace)]) == 0
    assert "Pairs unchanged in" in capsys.readouterr().out
    assert (workspace / "data" / "pairs.parquet").is_file()


def test_rows_skipped_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [pair("q", "a", "b"), pair("q", "a", "b")])
    assert main(["data", "info", str(path)]) == 0
    assert "Problems: 1 duplicate" in capsys.readouterr().out


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
    from safer_engine.workspace import Workspace

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


def test_extract_store_info_and_check(
    trained_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(trained_workspace)
    assert main(["extract", "--workspace", ws, "--layer", "1", "--policy", "all"]) == 0
    assert "Extracted layer 1: 40 texts" in capsys.readouterr().out
    assert main(["extract", "--workspace", ws, "--layer", "1", "--policy", "all"]) == 0
    assert "Store up to date" in capsys.readouterr().out
    assert main(["store", "info", "--workspace", ws]) == 0
    printed = capsys.readouterr().out
    assert "acts/1/values" in printed and "float16" in printed
    assert main(["store", "check", "--workspace", ws]) == 0
    assert "Store OK" in capsys.readouterr().out


def test_store_check_reports_damage_and_fails(trained_workspace: Path) -> None:
    import h5py

    ws = str(trained_workspace)
    assert main(["extract", "--workspace", ws]) == 0
    with h5py.File(trained_workspace / "store.h5", "r+") as f:
        f["docs/tok_start"][2] += 1
    result = run_cli("store", "check", "--workspace", ws)
    assert result.returncode == 2
    assert "not contiguous" in result.stdout
    assert "failed 1 check(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_extract_with_a_layer_out_of_range(trained_workspace: Path) -> None:
    result = run_cli("extract", "--workspace", str(trained_workspace), "--layer", "9")
    assert result.returncode == 2
    assert "Layer 9 is out of range: the model has 2 blocks" in result.stderr
    assert "Choose --layer between 1 and 2" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "info", "x.csv", "--jsn"], "No such option: --jsn"),
        (["trian-rm"], "No such command 'trian-rm'. Did you mean 'train-rm'?"),
        (["train-rm"], "Missing option '--workspace'"),
        (["train-rm", "--workspace", "w", "--max-steps", "x"], "Invalid value for '--max-steps'"),
    ],
)
def test_usage_errors_are_usage_errors(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Internal error" not in result.stderr
    assert "Traceback" not in result.stderr


def test_bare_safer_shows_help_and_succeeds() -> None:
    result = run_cli()
    assert result.returncode == 0
    assert "train-rm" in result.stdout
    assert "Internal error" not in result.stdout + result.stderr


def test_debug_is_accepted_after_the_command() -> None:
    result = run_cli("data", "info", "missing.jsonl", "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_failed_import_creates_no_workspace(tmp_path: Path) -> None:
    result = run_cli(
        "data", "import", str(tmp_path / "missing.jsonl"), "--workspace", str(tmp_path / "ws")
    )
    assert result.returncode == 2
    assert not (tmp_path / "ws").exists()


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
    assert "Report written to" in printed and "eval-" in printed


def test_train_sae_encode_and_salience(
    trained_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(trained_workspace)
    assert main(["extract", "--workspace", ws, "--policy", "all"]) == 0
    sae = [
        "train-sae",
        "--workspace",
        ws,
        "--n-latents",
        "32",
        "--k",
        "4",
        "--epochs",
        "5",
        "--batch-size",
        "64",
    ]
    assert main(sae) == 0
    printed = capsys.readouterr().out
    assert "SAE trained (32 latents, k=4" in printed and "variance explained" in printed
    assert main(sae) == 0
    assert "SAE up to date" in capsys.readouterr().out
    assert main(["encode", "--workspace", ws]) == 0
    assert "Encoded" in capsys.readouterr().out
    table = tmp_path / "salience.csv"
    assert main(["salience", "--workspace", ws, "--top", "3", "--csv", str(table)]) == 0
    printed = capsys.readouterr().out
    assert "Most salient features" in printed
    assert table.read_text().startswith("feature,salience")


def test_sae_commands_say_which_step_is_missing(trained_workspace: Path) -> None:
    ws = str(trained_workspace)
    result = run_cli("train-sae", "--workspace", ws)
    assert result.returncode == 2
    assert "has no activation store yet" in result.stderr
    assert "safer extract" in result.stderr
    result = run_cli("salience", "--workspace", ws)
    assert result.returncode == 2
    assert "has no SAE yet" in result.stderr
    result = run_cli("train-sae", "--workspace", ws, "--k", "9", "--n-latents", "4")
    assert result.returncode == 2
    assert "cannot exceed" in result.stderr


def test_tui_on_a_missing_workspace_and_without_a_terminal(
    tmp_path: Path, encoded_workspace: Path
) -> None:
    result = run_cli("tui", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    result = run_cli("tui", str(tmp_path))
    assert result.returncode == 2
    assert "not a SAFER workspace" in result.stderr
    result = run_cli("tui", str(encoded_workspace))  # stdin and stdout are pipes here
    assert result.returncode == 0
    assert "Not a terminal: open the explorer later with `safer tui" in result.stdout


def test_labels_export_and_import(
    encoded_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.labels import LabelStore

    ws = str(encoded_workspace)
    sae_id = json.loads((encoded_workspace / "workspace.json").read_text())["stages"]["sae"]["id"]
    with LabelStore.open(encoded_workspace / "labels.sqlite", author="alice") as store:
        store.tag(sae_id, 3, "safe")
        store.note(sae_id, 3, "refusal")
    exported = tmp_path / "tags.csv"
    assert main(["labels", "export", "--workspace", ws, str(exported)]) == 0
    assert "Exported 1 labelled feature(s)" in capsys.readouterr().out
    assert exported.read_text().splitlines()[0] == "feature,tag,note,author,at"
    bad = tmp_path / "bad.csv"
    bad.write_text("feature,tag\n4,safe\n5,kind\n")
    result = run_cli("labels", "import", "--workspace", ws, str(bad))
    assert result.returncode == 2
    assert "line 3" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("feature,tag\n4,unsafe\n5,irrelevant\n")
    assert main(["labels", "import", "--workspace", ws, str(good)]) == 0
    assert "Imported 2 label row(s)" in capsys.readouterr().out
    with LabelStore.open(encoded_workspace / "labels.sqlite") as store:
        tags = {f: label.tag for f, label in store.current(sae_id).items()}
    assert tags == {3: "safe", 4: "unsafe", 5: "irrelevant"}


@pytest.mark.parametrize(
    ("command", "default"),
    [("tui", "the demo workspace"), ("train-sae", "8 × activation"), ("eval", "all with")],
)
def test_help_shows_the_documented_defaults(command: str, default: str) -> None:
    # rich would read "[default: …]" as markup and drop it
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert default in " ".join(result.stdout.split())
