"""Edit plans: which train pairs to flip or remove, each with its score, rank and reason.

A plan is made once and applied deterministically: poison flips the top X% of train pairs by
pair score, denoise removes the bottom X%, the random baselines flip or remove X% drawn with a
seed, manual edits listed pair ids. The plan names the data it was made for (its fingerprint)
and the safety features behind the scores, so every edit can be traced.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.config import EditConfig
from safer_engine.errors import EditError
from safer_engine.files import write_text_atomic

PLAN_VERSION = 1


@dataclass(frozen=True)
class Edit:
    """One edited pair."""

    pair_id: str
    action: str
    """flip (swap chosen and rejected) or remove."""
    slice: str
    score: float | None
    """The pair score it was ranked by (None for random and manual edits)."""
    rank: int | None
    """1 = the highest score among the train pairs."""
    reason: str


@dataclass(frozen=True)
class EditPlan:
    """A complete, reproducible description of one edit of the train split."""

    plan_id: str
    config: dict[str, Any]
    data_fingerprint: str
    train_pairs: int
    edits: tuple[Edit, ...]
    selection: dict[str, Any] | None = None
    """The safety features the scores came from (poison and denoise only)."""
    version: int = PLAN_VERSION
    counts: dict[str, int] = field(default_factory=dict)
    """Edited pairs per slice."""

    @property
    def action(self) -> str:
        return self.edits[0].action if self.edits else "flip"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> EditPlan:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            edits = tuple(Edit(**e) for e in data.pop("edits"))
            return cls(edits=edits, **data)
        except FileNotFoundError:
            raise EditError(
                f"No edit plan at {path}.",
                "`safer edit list --workspace DIR` lists the plans; `safer edit plan` makes one.",
            ) from None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise EditError(
                f"{path} is not an edit plan ({exc}).",
                "Make the plan again with `safer edit plan`.",
            ) from exc


def make_plan(
    pairs: pl.DataFrame,
    data_fingerprint: str,
    config: EditConfig,
    scores: pl.DataFrame | None = None,
    selection: dict[str, Any] | None = None,
    manual_ids: list[str] | None = None,
) -> EditPlan:
    """The plan for the train pairs of `pairs` (canonical table). `scores` (pair_id, score)
    ranks them for poison and denoise; `manual_ids` lists the pairs of a manual plan."""
    train = pairs.filter(pl.col("split") == "train").select("pair_id", "slice")
    if train.height == 0:
        raise EditError("The data has no train pairs to edit.", "Import data with a train split.")
    if config.mode == "manual":
        edits = _manual(train, manual_ids or [], config.action)
    elif config.mode in ("poison", "denoise"):
        edits = _by_score(train, scores, config)
    else:
        edits = _random(train, config)
    counts: dict[str, int] = {}
    for edit in edits:
        counts[edit.slice] = counts.get(edit.slice, 0) + 1
    plan_id = _plan_id(config, data_fingerprint, selection, edits)
    return EditPlan(
        plan_id, config.to_dict(), data_fingerprint, train.height, edits, selection, counts=counts
    )


def edit_count(train_pairs: int, ratio: float) -> int:
    """How many pairs X% of the train pairs is; an error when it rounds to none."""
    n = round(train_pairs * ratio / 100)
    if n < 1:
        raise EditError(
            f"{ratio:g}% of {train_pairs:,} train pairs rounds to 0 pairs.",
            f"Use a ratio of at least {100 / train_pairs:.2g}%.",
        )
    return n


def _by_score(
    train: pl.DataFrame, scores: pl.DataFrame | None, config: EditConfig
) -> tuple[Edit, ...]:
    if scores is None or scores.height == 0:
        raise EditError(
            f"--mode {config.mode} ranks pairs by their pair score, and there are none.",
            "Run `safer score-pairs --workspace DIR` first.",
        )
    scored = train.join(scores.select("pair_id", "score"), on="pair_id", how="left")
    missing = scored.filter(pl.col("score").is_null()).height
    if missing:
        raise EditError(
            f"{missing:,} train pairs have no pair score (the scores are of other data).",
            "Run `safer score-pairs --workspace DIR` again on this workspace's data.",
        )
    # highest score first, ties by pair id: the ranking never depends on row order
    ranked = scored.sort(["score", "pair_id"], descending=[True, False]).with_row_index("at")
    n = edit_count(train.height, config.ratio)
    poison = config.mode == "poison"
    picked = ranked.head(n) if poison else ranked.tail(n).reverse()
    where = f"{'top' if poison else 'bottom'} {config.ratio:g}% by pair score"
    action = "flip" if poison else "remove"
    return tuple(
        Edit(
            row["pair_id"],
            action,
            row["slice"],
            float(row["score"]),
            int(row["at"]) + 1,
            f"{where} (rank {int(row['at']) + 1:,} of {ranked.height:,})",
        )
        for row in picked.iter_rows(named=True)
    )


def _random(train: pl.DataFrame, config: EditConfig) -> tuple[Edit, ...]:
    n = edit_count(train.height, config.ratio)
    ordered = train.sort("pair_id")  # the draw never depends on row order
    picked = np.sort(np.random.default_rng(config.seed).choice(ordered.height, n, replace=False))
    action = "flip" if config.mode == "random-flip" else "remove"
    reason = f"random {config.ratio:g}% of the train pairs (seed {config.seed})"
    return tuple(
        Edit(row["pair_id"], action, row["slice"], None, None, reason)
        for row in ordered[picked].iter_rows(named=True)
    )


def _manual(train: pl.DataFrame, ids: list[str], action: str) -> tuple[Edit, ...]:
    wanted = list(dict.fromkeys(ids))
    slices = dict(zip(train["pair_id"].to_list(), train["slice"].to_list(), strict=True))
    unknown = [pair for pair in wanted if pair not in slices]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise EditError(
            f"{len(unknown)} listed pair id(s) are not train pairs of this data: {shown}.",
            "List pair ids of the train split (the explorer's Pairs screen shows them).",
        )
    if not wanted:
        raise EditError("The list of pairs to edit is empty.", "Give one pair id per line.")
    return tuple(Edit(p, action, slices[p], None, None, "listed by hand") for p in wanted)


def _plan_id(
    config: EditConfig,
    data_fingerprint: str,
    selection: dict[str, Any] | None,
    edits: tuple[Edit, ...],
) -> str:
    payload = json.dumps(
        [config.to_dict(), data_fingerprint, selection, [e.pair_id for e in edits]],
        sort_keys=True,
    )
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]
    if config.mode == "manual":
        return f"manual-{config.action}-{digest}"
    seed = f"-s{config.seed}" if config.mode.startswith("random") else ""
    return f"{config.mode}-{config.ratio:g}pct{seed}-{digest}"
