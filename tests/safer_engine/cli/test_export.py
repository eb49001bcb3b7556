from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.cli import main
from tests.audit_workspace import annotate


def test_export_neuronpedia_writes_the_layout_and_says_where(
    synthetic_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotate(synthetic_workspace)
    out = tmp_path / "exports"
    args = ["export", "neuronpedia", "--workspace", str(synthetic_workspace), "--out", str(out)]
    assert main([*args, "--features", "8", "--model-id", "demo-rm"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "Exported 8 feature(s) of SAE synthetic-topk4-64" in printed
    assert "Model demo-rm, source 12-safer-synthetic-topk4-64" in printed
    source = out / "demo-rm" / "12-safer-synthetic-topk4-64"
    assert (source / "features" / "batch-0.jsonl.gz").is_file()
    assert (out / "config" / "explanation_type.jsonl").is_file()


def test_a_name_neuronpedia_refuses_is_one_message(
    synthetic_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", "neuronpedia", "--workspace", str(synthetic_workspace)]
    assert main([*args, "--out", str(tmp_path / "x"), "--model-id", "Demo RM"]) != 0
    printed = capsys.readouterr().err
    assert "is not a Neuronpedia id" in printed and "Traceback" not in printed
    assert not (tmp_path / "x").exists()
