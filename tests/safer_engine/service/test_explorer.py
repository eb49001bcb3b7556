"""The explorer's facade: everything a screen needs, and every failure as a SaferError."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.artifacts import CODES_FILE
from safer_engine.errors import SaferError, WorkspaceError
from safer_engine.progress import CancelToken, no_progress
from safer_engine.service.explorer import Explorer
from safer_engine.service.text import plain_text


def test_features_examples_pairs_and_labels(encoded_workspace: Path) -> None:
    explorer = Explorer.open(encoded_workspace, author="alice")
    try:
        top = int(explorer.features.sort("rank")["feature"][0])
        assert explorer.feature_row(top)["rank"] == 1
        examples, histogram = explorer.examples(top)
        assert examples and len(histogram.counts) == 32
        # the shared edges, from 0 to the largest activation of any feature
        assert len(histogram.edges) == 33 and histogram.edges[0] == 0
        assert histogram.edges == sorted(histogram.edges)
        assert explorer.feature_row(top)["max_act"] <= histogram.edges[-1]
        explorer.tag([top], "safe")
        assert explorer.labels()[top].tag == "safe" and explorer.last_label_change()[0] > 0
        ranking = explorer.rank_pairs(no_progress, CancelToken())
        assert ranking.selection.source == "tags" and ranking.selection.safe == [top]
        assert not ranking.reused and explorer.rank_pairs(no_progress, CancelToken()).reused
        best = int(ranking.order[0])
        view = explorer.pair(best)
        assert view.pair == best and view.prompt
        assert ranking.s_chosen[best] - ranking.s_rejected[best] == (
            pytest.approx(ranking.scores[best])
        )
        shading = explorer.shading(view.chosen_doc, [top], [])
        assert plain_text(shading) == explorer.reader().store.doc_response(view.chosen_doc)
        assert plain_text(view.prompt) == explorer.reader().store.doc_prompt(view.chosen_doc)
        assert view.original and explorer.original_text()
        assert explorer.coverage.policy == "all"  # the fixture selects every token
        path, count = explorer.export_labels()
        assert count == 1 and path.read_text().startswith("feature,tag")
    finally:
        explorer.close()


def test_missing_or_damaged_files_are_saferrors(encoded_workspace: Path) -> None:
    explorer = Explorer.open(encoded_workspace)
    try:
        (encoded_workspace / "store.h5").rename(encoded_workspace / "moved.h5")
        with pytest.raises(WorkspaceError, match="has no activation store"):
            explorer.examples(0)
        (encoded_workspace / "moved.h5").rename(encoded_workspace / "store.h5")
        sae_dir = explorer.workspace.sae_dir(explorer.sae_id)
        (sae_dir / CODES_FILE).write_bytes(b"not hdf5")
        with pytest.raises(SaferError, match=r"codes\.h5 is damaged"):
            explorer.examples(0)
    finally:
        explorer.close()


def test_the_pairs_a_noise_benchmark_flipped(encoded_workspace: Path) -> None:
    import polars as pl

    from safer_engine.artifacts import FLIPPED_COLUMN, PAIRS_FILE

    explorer = Explorer.open(encoded_workspace)
    try:
        assert explorer.flipped_pairs() is None  # not a benchmark's workspace
        assert explorer.rank_pairs(no_progress, CancelToken()).flipped is None
        path = encoded_workspace / "data" / PAIRS_FILE
        pairs = pl.read_parquet(path)
        flipped = set(pairs["pair_id"][:3].to_list())
        pairs.with_columns(
            pl.col("pair_id").is_in(list(flipped)).alias(FLIPPED_COLUMN)
        ).write_parquet(path)
        assert explorer.flipped_pairs() == flipped
        ranking = explorer.rank_pairs(no_progress, CancelToken())
        assert ranking.flipped is not None and int(ranking.flipped.sum()) == 3
        reader = explorer.reader()
        marked = {reader.pair_id(p) for p in range(len(ranking.scores)) if ranking.was_flipped(p)}
        assert marked == flipped
    finally:
        explorer.close()


def test_a_version_1_workspace_shows_token_text_and_says_so(tmp_path: Path) -> None:
    """A store from before texts were kept: examples, prompts and responses are the
    tokens' pieces re-joined, `original_text` is False, and the coverage comes from the
    extract stage's policy (the old table has no all-token figures)."""
    import shutil

    from safer_engine.service.explorer import OLD_TEXT

    fixture = Path(__file__).parents[2] / "fixtures" / "workspace_v1"
    root = Path(shutil.copytree(fixture, tmp_path / "ws"))
    explorer = Explorer.open(root)
    try:
        assert not explorer.original_text()
        assert "safer extract --force" in OLD_TEXT
        assert explorer.coverage.policy == "all" and not explorer.coverage.has_all
        assert explorer.coverage.selected_text() == "response tokens"
        top = int(explorer.features.sort("rank")["feature"][0])
        found, _ = explorer.examples(top)
        assert found and all(any(s.focus for s in e.spans) for e in found)
        view = explorer.pair(0)
        assert not view.original and plain_text(view.prompt).startswith("[CLS] User :")
        assert plain_text(explorer.shading(view.chosen_doc, [top], [])).strip()
    finally:
        explorer.close()
