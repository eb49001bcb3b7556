"""A reward model fast enough to retrain dozens of times on a laptop CPU.

The backbone stays frozen: `build_cache` runs it once per data set and keeps one pooled
vector per distinct text (see `frozen_cache`). `train_fast` then fits only a small MLP head
with the Bradley–Terry loss on (chosen, rejected) text-index pairs, in seconds on the demo
data. By default it trains on the full recipe's schedule: the same prompt-grouped steps, the
same epochs, learning rate and warm-up; a head trained far past that (10 epochs at 3e-3 on
random pair batches, this recipe's first default) fits nearly every flipped pair that the
full recipe leaves unfitted, and so overstates what poisoning does. Clean, poisoned and
denoised runs share the cache and differ only in the pairs they pass: a flipped pair is a
swapped row, a removed pair a missing row.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from safer_engine.config.recipe import RecipeConfig
from safer_engine.errors import ModelError, TrainingError
from safer_engine.files import atomic_dir
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.evaluate import EvalReport, report_from_margins
from safer_engine.train.frozen_cache import FrozenCache
from safer_engine.train.pairs import EncodedPairs, pack_batches

if TYPE_CHECKING:
    import torch

HEAD_WEIGHTS = "head.safetensors"
HEAD_INFO = "fast_rm.json"


@dataclass
class FastRM:
    """A trained head plus what it needs to score: its recipe and the cache it fits."""

    head: Any  # torch.nn.Module, built by `_new_head`
    recipe: RecipeConfig
    info: dict[str, Any]

    def save(self, folder: Path) -> None:
        """Write the head (safetensors) and its recipe; a crash leaves any old one intact."""
        from safetensors.torch import save_file

        with atomic_dir(folder) as partial:
            state = {k: v.detach().contiguous() for k, v in self.head.state_dict().items()}
            save_file(state, str(partial / HEAD_WEIGHTS))
            record = {"recipe": self.recipe.to_dict(), **self.info}
            text = json.dumps(record, indent=2) + "\n"
            (partial / HEAD_INFO).write_text(text, encoding="utf-8")


def load_fast_rm(folder: Path) -> FastRM:
    info_path = folder / HEAD_INFO
    if not info_path.exists():
        raise ModelError(f"No fast reward model in {folder}.", "Train one with train_fast.")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        recipe = RecipeConfig.from_dict(info.pop("recipe"))
        head = _new_head(int(info["width"]), recipe)
        head.load_state_dict(load_file(str(folder / HEAD_WEIGHTS)))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise ModelError(
            f"The fast reward model in {folder} cannot be read ({exc}).",
            "Train it again with train_fast.",
        ) from exc
    return FastRM(head.eval(), recipe, info)


def _new_head(width: int, recipe: RecipeConfig) -> Any:
    import torch
    from torch import nn

    class RewardHead(nn.Module):
        """Standardise the cached features, then an MLP down to one reward."""

        center: torch.Tensor
        scale: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("center", torch.zeros(width))
            self.register_buffer("scale", torch.ones(width))
            layers: list[nn.Module] = [nn.Dropout(recipe.dropout)]
            if recipe.hidden:
                layers += [nn.Linear(width, recipe.hidden), nn.GELU(), nn.Dropout(recipe.dropout)]
            layers.append(nn.Linear(recipe.hidden or width, 1))
            self.net = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net((x - self.center) / self.scale).squeeze(-1)

    return RewardHead()


def train_fast(
    cache: FrozenCache,
    train_pairs: np.ndarray,
    recipe: RecipeConfig,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> FastRM:
    """Fit a head on `train_pairs` [n, 2] = (chosen, rejected) indices into `cache.texts`.

    Seeded: the same cache, pairs, recipe and seed give the same head (on one thread)."""
    import torch

    cancel = cancel or CancelToken()
    pairs = _checked_pairs(train_pairs, len(cache.texts))
    started = time.perf_counter()
    # fork_rng: seeding must not change the caller's random stream
    with _threads(recipe.threads), torch.random.fork_rng():
        torch.manual_seed(seed)
        features = torch.from_numpy(cache.features)
        head = _new_head(features.shape[1], recipe)
        _standardise(head, features[np.unique(pairs)])
        steps = training_steps(pairs, cache.texts, recipe, seed)
        losses = _fit(head, features, steps, recipe, seed, progress, cancel)
    info = {
        "cache_key": cache.key,
        "width": int(features.shape[1]),
        "seed": seed,
        "train_pairs": len(pairs),
        "epoch_losses": losses,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return FastRM(head.eval(), recipe, info)


def _checked_pairs(train_pairs: np.ndarray, n_texts: int) -> np.ndarray:
    pairs = np.asarray(train_pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise TrainingError(
            f"train_pairs must be an integer array of shape [n, 2], not {pairs.dtype} "
            f"{list(pairs.shape)}.",
            "Pass (chosen, rejected) text indices, e.g. from FrozenCache.pairs_of(table).",
        )
    if len(pairs) == 0:
        raise TrainingError("No training pairs.", "Keep at least one pair in the train split.")
    if pairs.min() < 0 or pairs.max() >= n_texts:
        raise TrainingError(
            f"A text index is outside the cache's {n_texts} texts.",
            "Index the pairs with FrozenCache.pairs_of on the cache you train with.",
        )
    return np.ascontiguousarray(pairs, dtype=np.int64)


@contextmanager
def _threads(count: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _standardise(head: Any, train_features: torch.Tensor) -> None:
    """Centre and scale each feature by the training texts: blocks' outputs differ in scale
    by orders of magnitude, and one learning rate must suit them all."""
    head.center.copy_(train_features.mean(0))
    # one text has no spread, and a constant feature must not blow up unseen texts
    head.scale.copy_(train_features.std(0).nan_to_num(1.0).clamp_min(1e-4))


def _fit(
    head: Any,
    features: torch.Tensor,
    steps: list[torch.Tensor],
    recipe: RecipeConfig,
    seed: int,
    progress: Progress,
    cancel: CancelToken,
) -> list[float]:
    """AdamW with linear warm-up and decay over `steps` (each a [pairs, 2] tensor of text
    indices), taken in a new seeded order each epoch; returns each epoch's mean loss."""
    import torch

    from safer_engine.train.reward import bradley_terry_loss

    optimiser = torch.optim.AdamW(
        head.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay
    )
    total = _total_steps(recipe, len(steps))
    warmup = min(math.ceil(recipe.warmup_ratio * total), total - 1)
    # transformers' linear schedule with warm-up, as the full recipe's Trainer uses
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: (
            step / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))
        ),
    )
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    head.train()
    taken = 0
    while taken < total:
        progress("training", taken, total)
        epoch_loss, epoch_pairs = 0.0, 0
        for index in torch.randperm(len(steps), generator=order).tolist():
            if taken == total:
                break
            cancel.check("training")
            texts, local = torch.unique(steps[index], return_inverse=True)
            loss = bradley_terry_loss(head(features[texts]), local)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            taken += 1
            epoch_loss += float(loss.detach()) * len(steps[index])
            epoch_pairs += len(steps[index])
        losses.append(epoch_loss / max(1, epoch_pairs))
    progress("training", total, total)
    return losses


def _total_steps(recipe: RecipeConfig, per_epoch: int) -> int:
    if recipe.max_steps > 0:
        return recipe.max_steps
    return max(1, math.ceil(recipe.epochs * per_epoch))


def training_steps(
    pairs: np.ndarray, texts: list[tuple[str, str]], recipe: RecipeConfig, seed: int
) -> list[torch.Tensor]:
    """One epoch's steps: whole prompt groups packed as the full recipe packs them
    (`pack_batches`, every pair among a step's texts), or seeded random pair batches."""
    import torch

    if recipe.batching == "pairs":
        shuffled = np.random.default_rng(seed).permutation(len(pairs))
        return [
            torch.from_numpy(pairs[shuffled[start : start + recipe.batch_pairs]])
            for start in range(0, len(pairs), recipe.batch_pairs)
        ]
    prompts: dict[str, int] = {}
    group = np.array([prompts.setdefault(texts[c][0], len(prompts)) for c in pairs[:, 0]])
    batches = pack_batches(EncodedPairs([], pairs, group), recipe.batch_texts, seed)
    # a packed batch numbers its texts locally: back to the cache's text indices
    return [torch.from_numpy(np.asarray(b.texts, dtype=np.int64)[b.pairs]) for b in batches]


def score(model: FastRM, cache: FrozenCache, text_indices: np.ndarray | None = None) -> np.ndarray:
    """Rewards of the given texts of `cache` (all of them when None)."""
    import torch

    if model.info.get("cache_key") != cache.key:
        raise TrainingError(
            "This model was trained on another frozen cache (other backbone, settings or data).",
            "Score with the cache it was trained on, or train it again on this one.",
        )
    rows = np.arange(len(cache.texts)) if text_indices is None else np.asarray(text_indices)
    model.head.eval()
    with torch.inference_mode():
        rewards = model.head(torch.from_numpy(cache.features[rows]))
    return np.asarray(rewards.numpy(), dtype=np.float32)


def evaluate_fast(
    model: FastRM, cache: FrozenCache, table: pl.DataFrame, split: str = "test"
) -> EvalReport:
    """Pairwise accuracy per slice of `table`'s `split` ("all" for every pair)."""
    part = table if split == "all" else table.filter(pl.col("split") == split)
    if part.height == 0:
        raise TrainingError(
            f"The data has no pairs in split {split!r} to evaluate.",
            "Choose another split (train, test or all).",
        )
    pairs = cache.pairs_of(part)
    rewards = score(model, cache)
    return report_from_margins(part, rewards[pairs[:, 0]] - rewards[pairs[:, 1]], split)
