"""The Edits screen's service: plans as `safer edit plan` makes them, nothing saved until asked,
exports as `safer edit export` writes them, and every failure as a SaferError."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.config import EditConfig, SelectionConfig
from safer_engine.edits.stage import plan_edits
from safer_engine.errors import EditError
from safer_engine.progress import CancelToken, no_progress
from safer_engine.service.edits import EditRequest, EditsService, export_format
from safer_engine.service.explorer import Explorer
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace


@pytest.fixture
def explorer(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = build_synthetic_workspace(
        tmp_path / "ws", n_pairs=60, tokens_per_doc=12, n_latents=64, k=4
    )
    opened = Explorer.open(root, author="alice")
    yield opened
    opened.close()


def plan(service: EditsService, **fields: object):  # type: ignore[no-untyped-def]
    return service.plan(EditRequest(**fields), no_progress, CancelToken())  # type: ignore[arg-type]


def test_plans_match_the_cli_and_save_nothing(explorer: Explorer) -> None:
    service = EditsService(explorer)
    planned = plan(service, mode="poison", ratio=10, select="salience")
    same = plan_edits(
        explorer.workspace,
        EditConfig(mode="poison", ratio=10),
        SelectionConfig(select="salience"),
        explorer.sae_id,
    )
    assert planned.plan == same
    assert not (explorer.workspace.root / "edits").exists()
    assert planned.source == "salience" and len(planned.safe) + len(planned.unsafe) > 0
    train = sum(planned.train_by_slice.values())
    assert train == planned.plan.train_pairs
    assert len(planned.edits) == round(train * 0.1)
    by_slice = planned.by_slice()
    assert by_slice[0][0] == "safety"
    assert sum(edited for _, edited, _ in by_slice) == len(planned.edits)
    assert all(edited <= total for _, edited, total in by_slice)
    ranks = [edit.rank for edit in planned.edits]
    assert ranks == sorted(ranks) and ranks[0] == 1

    random = plan(service, mode="random-remove", ratio=10, seed=3)
    assert random.source is None and random.safe == [] and random.action == "remove"
    assert all(edit.score is None for edit in random.edits)
    assert plan(service, mode="random-remove", ratio=10, seed=4).plan_id != random.plan_id

    path = service.save(planned)
    assert path.is_file() and planned.plan_id in str(path)


def test_export_twice_gives_the_same_bytes_and_needs_force(explorer: Explorer) -> None:
    service = EditsService(explorer)
    planned = plan(service, mode="random-flip", ratio=20)
    out = service.default_export(planned)
    assert not service.export_exists(out)
    first = service.export(planned, out)
    data, manifest = out.read_bytes(), first.manifest.read_bytes()
    assert first.rows == planned.plan.train_pairs and service.export_exists(out)
    with pytest.raises(EditError, match="already exists"):
        service.export(planned, out)
    again = service.export(planned, out, force=True)
    assert again.fingerprint == first.fingerprint
    assert out.read_bytes() == data and again.manifest.read_bytes() == manifest
    # relative paths are in the workspace; the name picks the format
    jsonl = service.export(planned, Path("exports/flip.jsonl"))
    assert jsonl.path == explorer.workspace.root / "exports" / "flip.jsonl"
    assert export_format(jsonl.path) == "jsonl" and export_format(Path("x/folder")) == "hf"
    assert (explorer.workspace.root / "edits" / planned.plan_id / "plan.json").is_file()
    with pytest.raises(EditError, match="Cannot write"):  # a folder that is a file
        service.export(planned, out / "inside.parquet")


def test_pair_index_and_errors(explorer: Explorer) -> None:
    service = EditsService(explorer)
    planned = plan(service, mode="poison", ratio=10, select="salience")
    first = planned.edits[0]
    index = service.pair_index(first.pair_id)
    assert index is not None and explorer.reader().pair_id(index) == first.pair_id
    assert service.pair_index("no-such-pair") is None
    with pytest.raises(EditError, match="tags"):  # nothing tagged: no safety features
        plan(service, mode="poison", ratio=10, select="tags")
    with pytest.raises(EditError, match="rounds to 0"):
        plan(service, mode="random-flip", ratio=0.1)
    with pytest.raises(EditError, match="Unknown edit mode"):
        plan(service, mode="manual")
