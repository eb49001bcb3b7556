from __future__ import annotations

from pathlib import Path

from tests.safer_engine.cli import run_cli


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
