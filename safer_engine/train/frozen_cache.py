"""The frozen half of the fast retraining recipe: one pooled vector per distinct text.

The backbone runs once over every distinct (prompt, response) text of a data set, all
splits, and each text keeps the mean of its hidden states after the chosen blocks. Texts are
numbered in sorted (prompt, response) order, so a table whose pairs were flipped or removed
numbers its texts exactly as the clean table did and reuses its cache: an edit is only a
change of the (chosen, rejected) index pairs that training receives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from safer_engine.errors import ConfigError, DataError
from safer_engine.files import atomic_dir
from safer_engine.models.blocks import num_layers
from safer_engine.models.registry import resolve_model
from safer_engine.models.reward_model import (
    Encoded,
    choose_format,
    encode_example,
    load_reward_model,
    load_tokenizer,
)
from safer_engine.progress import CancelToken, Progress, no_progress

if TYPE_CHECKING:
    import torch

    from safer_engine.config.recipe import RecipeConfig

CACHE_VERSION = 1
CACHE_INFO = "cache.json"
FEATURES = "features.safetensors"
TEXTS = "texts.parquet"


@dataclass(frozen=True)
class FrozenCache:
    """`features[i]` is the pooled vector of text `i` = `texts[i]` (prompt, response)."""

    features: np.ndarray
    texts: list[tuple[str, str]]
    info: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.info["key"])

    def text_index(self) -> dict[tuple[str, str], int]:
        return {text: i for i, text in enumerate(self.texts)}

    def pairs_of(self, table: pl.DataFrame) -> np.ndarray:
        """(chosen, rejected) text indices of every row of `table`, in row order."""
        index = self.text_index()
        rows = table.select("prompt", "chosen", "rejected").iter_rows()
        try:
            return np.array(
                [[index[(p, c)], index[(p, r)]] for p, c, r in rows], dtype=np.int64
            ).reshape(-1, 2)
        except KeyError as exc:
            raise DataError(
                "A pair's text is not in the frozen cache (it was built from other data).",
                "Build the cache from the full table the pairs come from, all splits.",
            ) from exc


def distinct_texts(table: pl.DataFrame) -> list[tuple[str, str]]:
    """Every (prompt, response) of the table once, sorted: independent of row order and of
    which side of a pair a response is on."""
    keys = {
        (prompt, response)
        for prompt, chosen, rejected in table.select("prompt", "chosen", "rejected").iter_rows()
        for response in (chosen, rejected)
    }
    return sorted(keys)


def texts_fingerprint(texts: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode("utf-8")).hexdigest()


def cache_key(backbone: str, location: str, recipe: RecipeConfig, fingerprint: str) -> str:
    settings = {
        "version": CACHE_VERSION,
        "backbone": backbone,
        "location": location,
        "recipe": recipe.cache_settings(),
        "texts": fingerprint,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()


def build_cache(
    backbone: str,
    table: pl.DataFrame,
    recipe: RecipeConfig,
    cache_dir: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> FrozenCache:
    """Pooled features of every distinct text of `table`, kept in `cache_dir`.

    A cache already there from the same backbone, cache settings and texts is loaded
    instead; any other is replaced once the new one is complete."""
    cancel = cancel or CancelToken()
    texts = distinct_texts(table)
    if not texts:
        raise DataError("The table has no pairs to cache.", "Import some data first.")
    source = resolve_model(backbone)
    key = cache_key(backbone, source.location, recipe, texts_fingerprint(texts))
    existing = load_cache(cache_dir)
    if existing is not None and existing.key == key:
        return existing
    cancel.check("building the frozen cache")
    tokenizer = load_tokenizer(source)
    fmt = choose_format(tokenizer, recipe.max_length, recipe.max_prompt_tokens)
    encoded = []
    for i, (prompt, response) in enumerate(texts):
        if i % 64 == 0:
            cancel.check("tokenising")
            progress("tokenising", i, len(texts))
        encoded.append(encode_example(tokenizer, fmt, prompt, response))
    model = load_reward_model(source, tokenizer)
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and recipe.max_length > positions:
        raise ConfigError(
            f"--max-length {recipe.max_length} is longer than the backbone's {positions} "
            "positions.",
            f"Use --max-length {positions} or less.",
        )
    layers = recipe.resolved_layers(num_layers(model))
    features = _pooled_features(
        model, encoded, layers, recipe, tokenizer.pad_token_id, progress, cancel
    )
    info = {
        "key": key,
        "backbone": backbone,
        "location": source.location,
        "recipe": recipe.cache_settings(),
        "layers": list(layers),
        "format": fmt.to_dict(),
        "texts": len(texts),
        "width": int(features.shape[1]),
    }
    cache = FrozenCache(features, texts, info)
    _save_cache(cache, cache_dir)
    return cache


def _pooled_features(
    model: Any,
    encoded: list[Encoded],
    layers: tuple[int, ...],
    recipe: RecipeConfig,
    pad_id: int,
    progress: Progress,
    cancel: CancelToken,
) -> np.ndarray:
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    width = int(model.config.hidden_size) * len(layers)
    features = np.zeros((len(encoded), width), dtype=np.float32)
    batches = _length_batches([len(e.input_ids) for e in encoded], recipe.batch_tokens)
    done = 0
    with torch.inference_mode():
        for rows in batches:
            cancel.check("building the frozen cache")
            progress("caching", done, len(encoded))
            ids, mask = _padded([encoded[i] for i in rows], pad_id, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                states = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            weights = _pool_weights([encoded[i] for i in rows], mask, recipe.pooling)
            pooled = [
                (states.hidden_states[layer].float() * weights[..., None]).sum(1)
                for layer in layers
            ]
            features[rows] = torch.cat(pooled, dim=1).cpu().numpy()
            done += len(rows)
    progress("caching", len(encoded), len(encoded))
    return features


def _length_batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Texts longest first, cut into batches of at most `batch_tokens` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        # the first text of a batch is its longest, so it sets the padded width
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= batch_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _padded(
    rows: list[Encoded], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(e.input_ids) for e in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, e in enumerate(rows):
        ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        mask[row, : len(e.input_ids)] = 1
    return ids.to(device), mask.to(device)


def _pool_weights(rows: list[Encoded], mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Per-token averaging weights: every real token, or the response's tokens only."""
    import torch

    weights = mask.float()
    if pooling == "response":
        weights = torch.zeros_like(weights)
        for row, e in enumerate(rows):
            weights[row, e.response_start : e.response_end] = 1.0
    return weights / weights.sum(1, keepdim=True)


def load_cache(cache_dir: Path) -> FrozenCache | None:
    """The cache in `cache_dir`, or None when there is none or it is incomplete."""
    info_path = cache_dir / CACHE_INFO
    if not info_path.exists():
        return None
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        features = load_file(str(cache_dir / FEATURES))["features"]
        frame = pl.read_parquet(cache_dir / TEXTS)
    except (OSError, ValueError, KeyError, SafetensorError):
        return None  # a damaged cache is rebuilt, never trusted
    texts = list(zip(frame["prompt"].to_list(), frame["response"].to_list(), strict=True))
    if features.shape[0] != len(texts):
        return None
    return FrozenCache(features, texts, info)


def _save_cache(cache: FrozenCache, cache_dir: Path) -> None:
    """Write beside `cache_dir` and rename into place: readers see the old cache or the new
    one, never a half-written folder."""
    from safetensors.numpy import save_file

    with atomic_dir(cache_dir) as partial:
        save_file({"features": cache.features}, str(partial / FEATURES))
        prompts, responses = zip(*cache.texts, strict=True)
        texts = pl.DataFrame({"prompt": list(prompts), "response": list(responses)})
        texts.write_parquet(partial / TEXTS)
        info = json.dumps(cache.info, indent=2) + "\n"
        (partial / CACHE_INFO).write_text(info, encoding="utf-8")
