"""Held-out contexts on the synthetic workspace: they fire or not as labelled, never share
text with the explained contexts or each other, and are drawn the same way every time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.judge.holdout import NEIGHBOURS, HeldOut, held_out_contexts
from safer_engine.workspace import Workspace


@pytest.fixture
def reader(synthetic_workspace_template: Path) -> Iterator[FeatureExamples]:
    ws = Workspace.open(synthetic_workspace_template)
    found = FeatureExamples(ws.store_path, ws.sae_dir(ws.sae_ids()[-1]))
    yield found
    found.close()


def most_salient(reader: FeatureExamples, n: int = 8) -> list[int]:
    path = Path(reader.codes.sae_dir) / "salience.parquet"
    table = pl.read_parquet(path).sort("abs_salience", descending=True, maintain_order=True)
    return table["feature"][:n].to_list()


def text_shown(reader: FeatureExamples, example: Example) -> set[tuple[int, int]]:
    """Every (text id, token position from the response's start) the example's window shows:
    the same response (or prompt) in another document is the same text."""
    s = reader.store
    doc = example.doc
    start = int(s.resp_start[doc])
    lo = max(int(s.tok_start[doc]), example.token - 14)
    hi = min(int(s.tok_end[doc]), example.token + 8)
    return {
        (int(s.prompt_text[doc] if t < start else s.response_text[doc]), t - start)
        for t in range(lo, hi)
    }


def draw(
    reader: FeatureExamples, feature: int, explained: int = 3
) -> tuple[list[Example], HeldOut]:
    shown = reader.examples(feature, per_quantile=explained, quantiles=(1.0,))
    return shown, held_out_contexts(reader, feature, shown, firing=6, silent=6)


def test_held_out_contexts_never_share_text_with_the_explained_ones_or_each_other(
    reader: FeatureExamples,
) -> None:
    drawn = 0
    for feature in most_salient(reader):
        explained, held = draw(reader, feature)
        seen = set().union(*(text_shown(reader, e) for e in explained))
        for context in held.contexts:
            shown = text_shown(reader, context.example)
            assert not shown & seen, f"feature {feature}: {context.kind} overlaps"
            seen |= shown
            drawn += 1
    assert drawn > 40  # the fixture leaves room for most of them


def test_firing_contexts_fire_and_silent_ones_fire_nowhere_in_their_window(
    reader: FeatureExamples,
) -> None:
    kinds = set()
    for feature in most_salient(reader):
        _, held = draw(reader, feature)
        assert held.firing + held.silent == len(held.contexts)
        for context in held.contexts:
            kinds.add(context.kind)
            values = [span.value for span in context.example.spans if span.token]
            focus = [span.value for span in context.example.spans if span.focus]
            if context.firing:
                assert focus[0] > 0 and context.example.activation > 0
            else:
                assert max(values) == 0 and context.example.activation == 0
    assert kinds == {"firing", "near", "random"}


def test_firing_contexts_spread_over_the_activation_quantiles(reader: FeatureExamples) -> None:
    feature = max(most_salient(reader), key=lambda f: int(np.diff(reader.codes.offsets)[f]))
    _, held = draw(reader, feature, explained=2)
    quantiles = [c.example.quantile for c in held.contexts if c.firing]
    assert len(quantiles) >= 4
    assert max(quantiles) > 0.7 and min(quantiles) < 0.3  # not just the strongest


def test_near_misses_come_from_texts_close_to_where_it_fires(reader: FeatureExamples) -> None:
    s = reader.store
    checked = 0
    for feature in most_salient(reader):
        _, held = draw(reader, feature)
        assert held.near_misses <= 3  # at most half of the 6 silent ones
        firing = {c.example.doc for c in held.contexts if c.firing}
        prompts = {int(s.prompt_text[d]) for d in firing}
        for context in held.contexts:
            if context.kind == "near":
                doc = context.example.doc
                close = min(abs(doc - d) for d in firing) <= NEIGHBOURS
                assert doc in firing or int(s.prompt_text[doc]) in prompts or close
                checked += 1
    assert checked > 0


def test_the_same_store_gives_the_same_contexts(reader: FeatureExamples) -> None:
    feature = most_salient(reader)[0]
    first, second = draw(reader, feature)[1], draw(reader, feature)[1]
    where = [(c.kind, c.example.doc, c.example.token) for c in first.contexts]
    assert where == [(c.kind, c.example.doc, c.example.token) for c in second.contexts]
    other = held_out_contexts(reader, feature, [], firing=6, silent=6, seed=1)
    assert where != [(c.kind, c.example.doc, c.example.token) for c in other.contexts]
