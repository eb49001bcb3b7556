"""A feature's examples and histogram as Neuronpedia rows: its strongest examples (the top
bin) and examples from equal intervals of its activation range below (interval bins, as
SAEDashboard draws them), each bin with the share of the feature's activations in it, and
its activation histogram."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.config import NeuronpediaConfig
from safer_engine.share import neuronpedia_records as rows
from safer_engine.share.analysis import dataset_name
from safer_engine.share.examples import ExamplePairs
from safer_engine.workspace import Workspace


@dataclass(frozen=True)
class ExportNames:
    """Who the export says it is about."""

    model_id: str
    set_name: str
    source_id: str


class ActivationRows:
    """A feature's `Activation` rows: its strongest examples (the top bin), then examples
    from each of `intervals` equal intervals of (0, its largest activation] (interval bins),
    none shown twice."""

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
        found: list[dict[str, Any]] = []
        for bin_range, group in self._groups(feature, max_act):
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

    def _groups(
        self, feature: int, max_act: float
    ) -> list[tuple[tuple[float, float, float], list[Example]]]:
        """(binMin, binMax, binContains) and the examples of each bin, the top one first,
        then each interval from the highest down, none shown twice."""
        codes, config = self.reader.codes, self.config
        start, end = int(codes.offsets[feature]), int(codes.offsets[feature + 1])
        if end == start:
            return []  # a dead feature has no examples
        top = self.reader.examples(feature, config.top_examples, (1.0,), config.context)
        groups = [((-1.0, round(max_act, 3), -1.0), top)]
        seen = {e.token for e in top}
        # the feature's activations, strongest first: an interval's are a run of ranks
        descending = -np.asarray(codes.vals[start:end], dtype=np.float32)
        count = descending.size
        edges = np.linspace(0.0, max_act, config.intervals + 1)
        for low, high in reversed(list(itertools.pairwise(edges))):
            first = int(np.searchsorted(descending, -high, side="left"))
            last = int(np.searchsorted(descending, -low, side="left"))
            if last <= first or not config.interval_examples:
                continue
            # examples around the middle rank of the interval, kept only if inside it
            middle = 1.0 - (first + last - 1) / 2 / max(count - 1, 1)
            drawn = self.reader.examples(
                feature, config.interval_examples, (middle,), config.context
            )
            group = [e for e in drawn if low < e.activation <= high and e.token not in seen]
            seen |= {e.token for e in group}
            contains = round((last - first) / count, 4)
            groups.append(((round(float(low), 3), round(float(high), 3), contains), group))
        return [(bin_range, group) for bin_range, group in groups if group]

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
