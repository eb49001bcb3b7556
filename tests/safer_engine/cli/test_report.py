from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.cli import main
from tests.audit_workspace import annotate


def test_report_writes_one_html_file_and_says_what_is_missing(
    synthetic_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = annotate(synthetic_workspace)
    out = tmp_path / "audit.html"
    args = ["report", "--workspace", str(synthetic_workspace), "--out", str(out)]
    assert main([*args, "--features", "1"]) == 0
    output = capsys.readouterr().out
    printed = " ".join(output.split())
    # a long path wraps anywhere, even inside a name: read it without the line breaks
    assert f"Wrote {out}" in output.replace("\n", "") and "1 feature(s) with examples" in printed
    assert "Pair scores: `safer score-pairs`." in printed
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and f'id="feature-{notes.unsafe}"' in html


def test_a_workspace_without_salience_is_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.workspace import Workspace

    Workspace.open(tmp_path / "ws", create=True)
    args = ["report", "--workspace", str(tmp_path / "ws"), "--out", str(tmp_path / "a.html")]
    assert main(args) != 0
    printed = capsys.readouterr().err
    assert "has no SAE with a salience table yet" in printed and "Traceback" not in printed
