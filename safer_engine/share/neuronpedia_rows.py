"""A feature's examples and histogram as Neuronpedia rows: its strongest examples (the top
bin) and examples around lower quantiles (interval bins), each with the share of the
feature's activations in its bin, and its activation histogram."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.config import NeuronpediaConfig
from safer_engine.share import neuronpedia_records as rows
from safer_engine.share.analysis import dataset_name
from safer_engine.share.examples import ExamplePairs
from safer_engine.workspace import Workspace

QUANTILES = (0.9, 0.5, 0.1)
"""The interval bins below the top one: examples around these quantiles of activation."""


@dataclass(frozen=True)
class ExportNames:
    """Who the export says it is about."""

    model_id: str
    set_name: str
    source_id: str


class ActivationRows:
    """A feature's `Activation` rows: its strongest examples (the top bin), then examples
    around each of `QUANTILES` (interval bins) not already in the top bin."""

    def __init__(
        self,
        workspace: Workspace,
        reader: FeatureExamples,
        names_: ExportNames,
        config: NeuronpediaConfig,
    ) -> None:
        self.reader, self.names, self.config = reader, names_, config
        self.dataset = dataset_name(workspace)
        self.pairs = ExamplePairs(reader)

    def of(self, feature: int, max_act: float) -> list[dict[str, Any]]:
        codes = self.reader.codes
        start, end = int(codes.offsets[feature]), int(codes.offsets[feature + 1])
        if end == start:
            return []  # a dead feature has no examples
        window = self.config.context
        top = self.reader.examples(feature, self.config.top_examples, (1.0,), window)
        groups: list[tuple[tuple[float, float, float], list[Example]]] = [
            ((-1.0, round(max_act, 3), -1.0), top)
        ]
        if self.config.quantile_examples:
            seen = {e.token for e in top}
            lower = self.reader.examples(feature, self.config.quantile_examples, QUANTILES, window)
            vals = np.asarray(codes.vals[start:end], dtype=np.float32)
            for q in QUANTILES:
                group = [e for e in lower if e.quantile == q and e.token not in seen]
                if group:
                    lo = min(e.activation for e in group)
                    hi = max(e.activation for e in group)
                    contains = float(np.count_nonzero((vals >= lo) & (vals <= hi)) / vals.size)
                    groups.append(((round(lo, 3), round(hi, 3), round(contains, 4)), group))
                    seen |= {e.token for e in group}
        found: list[dict[str, Any]] = []
        for bin_range, group in groups:
            for example in group:
                found.append(
                    rows.activation_row(
                        self.names.model_id,
                        self.names.source_id,
                        feature,
                        self.config.creator_id,
                        example.spans,
                        self.dataset,
                        self._data_index(example),
                        bin_range,
                        len(found),
                    )
                )
        return found

    def _data_index(self, example: Example) -> str:
        """The pair the example's text comes from, and the side its response is on."""
        pair_id = self.pairs.pair_id(example)
        if pair_id is None:
            return f"document {example.doc}"
        return f"pair {pair_id}, {example.side} response"


class Histograms:
    """Each feature's activation histogram from the SAE's statistics: the bins' centres and
    counts, up to its last non-empty bin (the bins are shared by every feature)."""

    def __init__(self, reader: FeatureExamples) -> None:
        self.hist = reader.codes.hist
        edges = reader.codes.stat("hist_edges").astype(np.float64)
        self.centres = ((edges[:-1] + edges[1:]) / 2).tolist()

    def of(self, feature: int) -> tuple[list[float], list[float]]:
        counts = np.asarray(self.hist[feature], dtype=np.float64)
        filled = np.flatnonzero(counts)
        end = int(filled[-1]) + 1 if filled.size else 0
        return self.centres[:end], counts[:end].tolist()
