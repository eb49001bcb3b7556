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


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, str]:
    """A tiny encoded workspace (64 features) made without any model."""
    from safer_engine.testing.synthetic_workspace import (
        build_synthetic_workspace,
        synthetic_sae_id,
    )

    return build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4), synthetic_sae_id(64, 4)


def test_labels_csv_with_three_bad_rows_names_all_three(
    synthetic: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, sae_id = synthetic
    bad = tmp_path / "bad.csv"
    bad.write_text("feature,tag\n1,safe\nseven,safe\n2,unsafe\n3,kind\n64,safe\n")
    assert main(["labels", "import", "--workspace", str(root), str(bad)]) == 2
    printed = capsys.readouterr().err
    assert "has 3 bad row(s); nothing was imported" in printed
    assert "line 3: feature 'seven' is not a whole number" in printed
    assert "line 5: unknown tag 'kind'" in printed
    assert f"line 6: SAE {sae_id} has no feature 64 (it has 64)" in printed
    assert "Traceback" not in printed
    from safer_engine.labels import LabelStore

    with LabelStore.open(root / "labels.sqlite") as store:
        assert store.current(sae_id) == {}


def test_labels_import_of_unknown_features_needs_allow_unknown(
    synthetic: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = synthetic
    tags = tmp_path / "tags.csv"
    tags.write_text("feature,tag\n63,safe\n100,unsafe\n")
    assert main(["labels", "import", "--workspace", str(root), str(tags)]) == 2
    assert "line 3: " in capsys.readouterr().err
    assert main(["labels", "import", "--workspace", str(root), str(tags), "--allow-unknown"]) == 0
    assert "Imported 2 label row(s)" in capsys.readouterr().out


def test_labels_import_clears_on_an_empty_tag_and_says_so(
    synthetic: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.labels import LabelStore

    root, sae_id = synthetic
    with LabelStore.open(root / "labels.sqlite") as store:
        store.tag(sae_id, 5, "unsafe")
    tags = tmp_path / "tags.csv"
    tags.write_text("feature,tag,note\n5,,\n6,safe,why\n")
    assert main(["labels", "import", "--workspace", str(root), str(tags)]) == 0
    assert "2 label row(s) into SAE" in capsys.readouterr().out
    with LabelStore.open(root / "labels.sqlite") as store:
        assert {f: label.tag for f, label in store.current(sae_id).items()} == {6: "safe"}


def test_labels_clear(synthetic: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    from safer_engine.labels import LabelStore

    root, sae_id = synthetic
    ws = ["--workspace", str(root)]
    with LabelStore.open(root / "labels.sqlite") as store:
        for feature, tag in enumerate(["safe", "safe", "unsafe", "unsure", "safe"]):
            store.tag(sae_id, feature, tag)
    assert main(["labels", "clear", *ws, "--tag", "safe"]) == 0
    assert "Cleared the tags of 3 feature(s) tagged safe" in capsys.readouterr().out
    assert main(["labels", "clear", *ws, "--features", "2, 9"]) == 0
    assert "Cleared the tags of 1 feature(s)" in capsys.readouterr().out
    assert main(["labels", "clear", *ws, "--all", "--sae", sae_id]) == 0
    assert "Cleared the tags of 1 feature(s)" in capsys.readouterr().out
    with LabelStore.open(root / "labels.sqlite") as store:
        assert store.current(sae_id) == {}
    for args in ([], ["--all", "--tag", "safe"], ["--tag", "nice"], ["--features", "1,x"]):
        result = run_cli("labels", "clear", *ws, *args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
