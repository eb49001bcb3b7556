"""Every distinct text of the store attributed, in resumable shards.

Each text runs forward and backward once through the reward model (`LayerSwap.gradient`),
its tokens exactly as the store holds them, and its reward's first-order terms are split
among the SAE's features, its error and the rest (`decompose`). A finished shard is saved
atomically, so a run stopped by Ctrl-C or kill -9 resumes at the missing shards; under
`accelerate launch` each process attributes its share of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.activations.shard_work import length_batches
from safer_engine.attribution.decompose import TextAttributions, decompose
from safer_engine.attribution.layer_grad import LayerSwap
from safer_engine.config import AttributionConfig
from safer_engine.launch import ProcessShare, wait_for_files
from safer_engine.models.batching import pad_batch
from safer_engine.progress import CancelToken, Progress
from safer_engine.store.reader import StoreReader
from safer_engine.store.writer import save_shard

SHARD_LAYOUT = 1
"""Bumped when a shard's contents change, so a resumed run never mixes two layouts."""
RESUME_HINT = "Finished shards are kept; run it again to resume."
SHARD_FIELDS = ("doc", "reward", "error", "rest", "offsets", "feature", "value")


@dataclass(frozen=True)
class Attributed:
    """The attributions of every text (store document), in document order."""

    reward: np.ndarray  # float64 [texts]
    texts: TextAttributions


def shard_path(folder: Path, number: int) -> Path:
    return folder / f"shard-{number:05d}.npz"


def shard_docs(n_docs: int, per_shard: int) -> list[range]:
    return [range(s, min(s + per_shard, n_docs)) for s in range(0, n_docs, per_shard)]


@dataclass
class TextRunner:
    """The model, its layer and the SAE, ready to attribute batches of stored texts."""

    swap: LayerSwap
    sae: Any
    reader: StoreReader
    config: AttributionConfig
    pad_id: int
    device: Any

    def shard(self, docs: range, cancel: CancelToken) -> dict[str, np.ndarray]:
        """One shard's texts attributed: the arrays its file holds (`SHARD_FIELDS`)."""
        tokens = [self.reader.doc_tokens(d) for d in docs]
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        parts: dict[int, tuple[float, TextAttributions, int]] = {}
        for batch in length_batches(lengths, self.config.batch_tokens):
            cancel.check("attribution", RESUME_HINT)
            attributed, rewards = self._batch([tokens[i].tolist() for i in batch])
            for row, i in enumerate(batch):
                parts[i] = (float(rewards[row]), attributed, row)
        return _shard_arrays(docs, parts)

    def _batch(self, sequences: Sequence[list[int]]) -> tuple[TextAttributions, np.ndarray]:
        import torch

        inputs = {k: v.to(self.device) for k, v in pad_batch(sequences, self.pad_id).items()}
        taken = self.swap.gradient(inputs)
        mask = inputs["attention_mask"].bool()
        owner = torch.arange(len(sequences), device=self.device)[:, None].expand_as(mask)[mask]
        attributed = decompose(
            self.sae,
            taken.hidden[mask],
            taken.gradient[mask],
            owner,
            len(sequences),
            self.reader.normalise,
        )
        return attributed, taken.rewards.cpu().numpy()


def _shard_arrays(
    docs: range, parts: dict[int, tuple[float, TextAttributions, int]]
) -> dict[str, np.ndarray]:
    features, values, counts = [], [], []
    error, rest, reward = [], [], []
    for i in range(len(docs)):
        text_reward, attributed, row = parts[i]
        lo, hi = attributed.offsets[row], attributed.offsets[row + 1]
        features.append(attributed.feature[lo:hi])
        values.append(attributed.value[lo:hi])
        counts.append(hi - lo)
        error.append(attributed.error[row])
        rest.append(attributed.rest[row])
        reward.append(text_reward)
    return {
        "doc": np.arange(docs.start, docs.stop, dtype=np.int64),
        "reward": np.array(reward, dtype=np.float64),
        "error": np.array(error, dtype=np.float64),
        "rest": np.array(rest, dtype=np.float64),
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "feature": np.concatenate(features).astype(np.int32) if features else np.zeros(0),
        "value": np.concatenate(values).astype(np.float32) if values else np.zeros(0),
    }


def attribute_shards(
    runner: TextRunner,
    folder: Path,
    progress: Progress,
    cancel: CancelToken,
    share: ProcessShare,
) -> list[Path]:
    """Attribute this process's share of the missing shards; the main process then waits
    for every shard. Returns all shard paths, in document order."""
    shards = shard_docs(runner.reader.n_docs, runner.config.shard_docs)
    missing = [n for n in range(len(shards)) if not shard_path(folder, n).exists()]
    share.barrier()  # every process listed the missing shards before any writes one
    done = runner.reader.n_docs - sum(len(shards[n]) for n in missing)
    progress("attributing texts", done, runner.reader.n_docs)
    for number in share.mine(missing):
        save_shard(shard_path(folder, number), **runner.shard(shards[number], cancel))
        done += len(shards[number])
        progress("attributing texts", done, runner.reader.n_docs)
    paths = [shard_path(folder, n) for n in range(len(shards))]
    if share.is_main:
        wait_for_files(paths, progress, cancel, "attribution", RESUME_HINT)
    return paths


def read_shards(paths: Sequence[Path]) -> Attributed:
    """Every shard's texts, joined in document order."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SHARD_FIELDS}
    shift = 0
    for path in paths:
        with np.load(path) as shard:
            for name in SHARD_FIELDS:
                values = shard[name]
                if name == "offsets":
                    values = values[:-1] + shift
                    shift += int(shard["offsets"][-1])
                parts[name].append(values)
    joined = {name: np.concatenate(parts[name]) for name in SHARD_FIELDS}
    texts = TextAttributions(
        error=joined["error"],
        rest=joined["rest"],
        offsets=np.append(joined["offsets"], shift).astype(np.int64),
        feature=joined["feature"].astype(np.int32),
        value=joined["value"].astype(np.float32),
    )
    return Attributed(joined["reward"], texts)
