"""The Pairs screen's sort, filters and text search, and a feature example's pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from safer_engine.progress import CancelToken, no_progress
from safer_engine.scores.selection import Selection
from safer_engine.service.explorer import Explorer
from safer_engine.service.pair_list import PairQuery, choices, pair_order
from safer_engine.service.pairs import ranking_from


def ranking() -> object:
    table = pl.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(5)],
            "score": [0.5, -1.0, 2.0, 0.0, 1.5],
            "s_chosen": [0.0] * 5,
            "s_rejected": [0.0] * 5,
            "slice": ["safety", "chat", "safety", "chat", "reasoning"],
            "split": ["train", "test", "test", "train", "train"],
        }
    )
    return ranking_from(table, Selection.__new__(Selection), reused=False)


def test_sorts_and_filters() -> None:
    r = ranking()
    assert pair_order(r, PairQuery()).tolist() == [2, 4, 0, 3, 1]  # type: ignore[arg-type]
    assert pair_order(r, PairQuery(descending=False)).tolist() == [1, 3, 0, 4, 2]  # type: ignore[arg-type]
    assert pair_order(r, PairQuery(sort="pair", descending=False)).tolist() == [0, 1, 2, 3, 4]  # type: ignore[arg-type]
    # by slice name, then highest score first
    assert pair_order(r, PairQuery(sort="slice", descending=False)).tolist() == [3, 1, 4, 2, 0]  # type: ignore[arg-type]
    assert pair_order(r, PairQuery(slice="safety")).tolist() == [2, 0]  # type: ignore[arg-type]
    assert pair_order(r, PairQuery(split="train")).tolist() == [4, 0, 3]  # type: ignore[arg-type]
    matches = np.array([True, True, False, False, True])
    assert pair_order(r, PairQuery(split="train"), matches).tolist() == [4, 0]  # type: ignore[arg-type]
    assert pair_order(r, PairQuery(), shown=2).tolist() == [2, 4]  # type: ignore[arg-type]
    assert choices(r.slices) == ["chat", "reasoning", "safety"]  # type: ignore[attr-defined]


def test_search_finds_text_in_any_case_and_pair_ids(encoded_workspace: Path) -> None:
    explorer = Explorer.open(encoded_workspace)
    try:
        store = explorer.reader().store
        pair = 3
        response = store.doc_response(int(store.rejected_doc[pair]))
        word = max(response.split(), key=len)
        found = explorer.pair_matches(word.upper())
        assert found[pair]
        for hit in np.flatnonzero(found).tolist():
            texts = [
                store.doc_prompt(int(store.chosen_doc[hit])),
                store.doc_response(int(store.chosen_doc[hit])),
                store.doc_response(int(store.rejected_doc[hit])),
            ]
            assert any(word.lower() in text.lower() for text in texts)
        by_id = explorer.pair_matches(explorer.reader().pair_id(pair))
        assert np.flatnonzero(by_id).tolist() == [pair]
        assert not explorer.pair_matches("no text has this: qzxv").any()
        # a document's pair: the feature page links each example to it
        doc = int(store.rejected_doc[pair])
        linked = explorer.pair_of_doc(doc)
        assert linked is not None and doc in (store.chosen_doc[linked], store.rejected_doc[linked])
        ranked = explorer.rank_pairs(no_progress, CancelToken())
        assert pair_order(ranked, PairQuery(search=word), found).tolist()
    finally:
        explorer.close()


def test_search_without_the_data_table_reads_the_store(encoded_workspace: Path) -> None:
    explorer = Explorer.open(encoded_workspace)
    try:
        store = explorer.reader().store
        word = max(store.doc_prompt(int(store.chosen_doc[0])).split(), key=len)
        with_table = explorer.pair_matches(word)
    finally:
        explorer.close()
    (encoded_workspace / "data" / "pairs.parquet").unlink()
    explorer = Explorer.open(encoded_workspace)
    try:
        assert (explorer.pair_matches(word) == with_table).all()
    finally:
        explorer.close()


def test_a_pairs_texts_are_the_datas_own(synthetic_workspace: Path) -> None:
    explorer = Explorer.open(synthetic_workspace)
    try:
        store = explorer.reader().store
        pairs = [3, 0, 3]
        expected = [
            (store.doc_prompt(doc), store.doc_response(doc))
            for doc in (int(store.chosen_doc[p]) for p in pairs)
        ]
        assert explorer.pair_texts(pairs) == expected
        table = pl.read_parquet(synthetic_workspace / "data" / "pairs.parquet")
        row = table.filter(pl.col("pair_id") == explorer.pair_id(0)).row(0, named=True)
        assert explorer.pair_texts([0]) == [(row["prompt"], row["chosen"])]
        assert explorer.pair_texts([]) == []
    finally:
        explorer.close()
