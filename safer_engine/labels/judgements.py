"""An LLM judge's safety-relevance scores of SAE features, kept in `labels.sqlite` beside the
tags (through `LabelStore`'s connection, locking and error translation).

Every answer is a row, append-only like the tags: a score from 1 to 5 with a one-line
explanation, or a failure with its reason. A row is keyed by the SAE, the feature, the hash
of the exact prompt and the backend and model that answered, so asking again with the same
prompt can be skipped. Torch-free: the explorer and the score stage read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from safer_engine.labels.fold import check_feature, utc_now
from safer_engine.labels.store import LabelStore

FailureKind = Literal["answer", "request"]
"""answer: the model answered, but not a usable score (cached like a score, since asking the
same prompt again gets the same answer); request: the call itself failed (a timeout, a
server error), so the next run asks again."""

_COLUMNS = (
    "sae_id, feature, prompt_hash, backend, model, base_url, score, explanation, failure, "
    "failure_kind, answer, prompt_tokens, completion_tokens, author, at"
)
_INSERT = f"INSERT INTO judgements ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"
MAX_ANSWER_CHARS = 2_000
"""A stored raw answer is cut here: enough to see why it did not parse."""


@dataclass(frozen=True)
class Judgement:
    """One judge answer about one feature: a score, or the reason there is none."""

    sae_id: str
    feature: int
    prompt_hash: str
    backend: str
    model: str
    base_url: str | None
    score: int | None
    explanation: str
    failure: str | None
    failure_kind: FailureKind | None
    answer: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    author: str = ""
    at: str = ""

    @property
    def ok(self) -> bool:
        """Whether this is a usable score."""
        return self.score is not None

    @property
    def reusable(self) -> bool:
        """Whether a later run with the same prompt may take this instead of asking again."""
        return self.ok or self.failure_kind == "answer"


class JudgementLog:
    """The judgements of one labels database; writes go through its `LabelStore`."""

    def __init__(self, store: LabelStore) -> None:
        self.store = store

    def add(self, judgement: Judgement) -> Judgement:
        """Store one judgement (as its own transaction, so an interruption keeps it)."""
        if (judgement.score is None) == (judgement.failure is None):
            raise ValueError("a judgement has either a score or a failure")
        stored = replace(
            judgement,
            feature=check_feature(judgement.feature),
            answer=judgement.answer[:MAX_ANSWER_CHARS],
            author=self.store.author,
            at=utc_now(),
        )
        with self.store.transaction() as conn:
            conn.execute(_INSERT, _values(stored))
        return stored

    def cached(
        self, sae_id: str, backend: str, model: str, prompts: dict[int, str], retry_failed: bool
    ) -> dict[int, Judgement]:
        """For each feature → prompt hash, the latest reusable answer to exactly that prompt
        by this backend and model (answer failures count unless `retry_failed`)."""
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM judgements WHERE sae_id = ? AND backend = ? AND model = ? "
            "ORDER BY id",
            (sae_id, backend, model),
        )
        found: dict[int, Judgement] = {}
        for judgement in _judgements(rows):
            if prompts.get(judgement.feature) != judgement.prompt_hash:
                continue
            if judgement.ok or (judgement.reusable and not retry_failed):
                found[judgement.feature] = judgement
        return found

    def latest(self, sae_id: str) -> dict[int, Judgement]:
        """Each judged feature's latest score, or its latest failure when it has no score."""
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM judgements WHERE sae_id = ? ORDER BY id", (sae_id,)
        )
        scored: dict[int, Judgement] = {}
        failed: dict[int, Judgement] = {}
        for judgement in _judgements(rows):
            (scored if judgement.ok else failed)[judgement.feature] = judgement
        return {f: scored.get(f) or failed[f] for f in sorted(scored.keys() | failed.keys())}

    def count(self, sae_id: str) -> int:
        """How many judgement rows this SAE has (every answer and failure ever stored)."""
        rows = self.store.query("SELECT count(*) FROM judgements WHERE sae_id = ?", (sae_id,))
        return int(rows[0][0]) if rows else 0


def judgements(labels_path: Path, sae_id: str) -> dict[int, Judgement]:
    """The latest usable judgement of each judged feature of `sae_id` (its latest score, or
    its latest failure when no answer was usable); {} when nothing was ever judged.

    Opens the database read-only, so it works on workspaces the caller cannot write.
    """
    if not Path(labels_path).exists():
        return {}
    with LabelStore.open(Path(labels_path), read_only=True) as store:
        return JudgementLog(store).latest(sae_id)


def _values(j: Judgement) -> tuple[Any, ...]:
    return (
        j.sae_id,
        j.feature,
        j.prompt_hash,
        j.backend,
        j.model,
        j.base_url,
        j.score,
        j.explanation,
        j.failure,
        j.failure_kind,
        j.answer,
        j.prompt_tokens,
        j.completion_tokens,
        j.author,
        j.at,
    )


def _judgements(rows: Iterable[tuple[Any, ...]]) -> Iterable[Judgement]:
    return (Judgement(*row) for row in rows)
