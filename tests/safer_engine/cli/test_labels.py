from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.cli import main
from safer_engine.workspace import Workspace
from tests.safer_engine.cli import run_cli


def test_labels_export_and_import(
    encoded_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.labels import LabelStore

    ws = str(encoded_workspace)
    sae_id = Workspace.open(encoded_workspace).sae_ids()[-1]
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
