"""How well each judge explanation fits its feature, kept in `labels.sqlite` beside the
judgements (through `LabelStore`'s connection, locking and error translation).

A fit is the judge's yes/no answers on held-out contexts (where the feature fires and where
it does not) scored against the truth: the balanced accuracy, and the AUC where the answers
came with probabilities. Rows are append-only, keyed like judgements: the SAE, the feature,
the method (detection, fuzzing), the hash of every prompt sent and the backend and model
that answered. A fit holds the explanation it scored, so it is shown only beside that
explanation. Torch-free: the explorer and the score stage read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from safer_engine.config.fit import FitMethod
from safer_engine.labels.fold import check_feature, utc_now
from safer_engine.labels.judgements import JudgementLog
from safer_engine.labels.store import LabelStore

FitFailureKind = Literal["answer", "request", "contexts"]
"""answer: too many answers were unusable (asking again gets the same answers, so it is
cached); request: a call failed (the next run asks again); contexts: the store has too few
held-out contexts to score it (the same next time, so it is cached)."""

_COLUMNS = (
    "sae_id, feature, method, prompt_hash, backend, model, base_url, explanation, "
    "balanced_accuracy, auc, firing, silent, unusable, failure, failure_kind, answers, calls, "
    "prompt_tokens, completion_tokens, author, at"
)
_INSERT = f"INSERT INTO fits ({_COLUMNS}) VALUES ({', '.join('?' * 21)})"


@dataclass(frozen=True)
class Fit:
    """One scoring of one explanation: its figures, or the reason there are none."""

    sae_id: str
    feature: int
    method: FitMethod
    prompt_hash: str
    backend: str
    model: str
    base_url: str | None
    explanation: str
    """The judge's explanation that was scored."""
    balanced_accuracy: float | None
    """Mean of the share of firing contexts answered yes and silent ones answered no."""
    auc: float | None
    """Area under the ROC curve of P(yes), when every usable answer had probabilities."""
    firing: int
    """Held-out contexts where the feature fires that got a usable answer."""
    silent: int
    """Held-out contexts where it does not fire that got a usable answer."""
    unusable: int
    failure: str | None
    failure_kind: FitFailureKind | None
    answers: str = "[]"
    """JSON: each context's kind (firing, near, random), the answer and P(yes)."""
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    author: str = ""
    at: str = ""

    @property
    def ok(self) -> bool:
        """Whether this has figures."""
        return self.balanced_accuracy is not None

    @property
    def reusable(self) -> bool:
        """Whether a later run with the same prompts may take this instead of asking again."""
        return self.ok or self.failure_kind in ("answer", "contexts")


class FitLog:
    """The fits of one labels database; writes go through its `LabelStore`."""

    def __init__(self, store: LabelStore) -> None:
        self.store = store

    def add(self, fit: Fit) -> Fit:
        """Store one fit (as its own transaction, so an interruption keeps it)."""
        if fit.ok == (fit.failure is not None):
            raise ValueError("a fit has either a balanced accuracy or a failure")
        stored = replace(
            fit, feature=check_feature(fit.feature), author=self.store.author, at=utc_now()
        )
        with self.store.transaction() as conn:
            conn.execute(_INSERT, _values(stored))
        return stored

    def cached(
        self,
        sae_id: str,
        method: FitMethod,
        backend: tuple[str, str],
        prompts: dict[int, str],
        retry_failed: bool,
    ) -> dict[int, Fit]:
        """For each feature → prompt hash, the latest reusable fit of exactly those prompts
        by this backend (name, model); cached failures count unless `retry_failed`."""
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM fits WHERE sae_id = ? AND method = ? AND backend = ? "
            "AND model = ? ORDER BY id",
            (sae_id, method, *backend),
        )
        found: dict[int, Fit] = {}
        for fit in _fits(rows):
            if prompts.get(fit.feature) != fit.prompt_hash:
                continue
            if fit.ok or (fit.reusable and not retry_failed):
                found[fit.feature] = fit
        return found

    def latest(self, sae_id: str, method: FitMethod = "detection") -> dict[int, Fit]:
        """Each judged feature's latest fit of its latest judgement's explanation (its latest
        figures, or its latest failure when it has none); fits of older explanations are
        left out, since they say nothing about the one shown."""
        explained = {
            feature: judgement.explanation
            for feature, judgement in JudgementLog(self.store).latest(sae_id).items()
            if judgement.ok
        }
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM fits WHERE sae_id = ? AND method = ? ORDER BY id",
            (sae_id, method),
        )
        scored: dict[int, Fit] = {}
        failed: dict[int, Fit] = {}
        for fit in _fits(rows):
            if explained.get(fit.feature) == fit.explanation:
                (scored if fit.ok else failed)[fit.feature] = fit
        return {f: scored.get(f) or failed[f] for f in sorted(scored.keys() | failed.keys())}

    def last_id(self) -> int:
        """The id of the newest fit: cheap to poll, like `LabelStore.last_change`."""
        rows = self.store.query("SELECT max(id) FROM fits", ())
        return int(rows[0][0] or 0) if rows else 0


def fits(labels_path: Path, sae_id: str, method: FitMethod = "detection") -> dict[int, Fit]:
    """Each judged feature's latest fit of its current explanation (see `FitLog.latest`);
    {} when nothing was scored. Opens the database read-only."""
    if not Path(labels_path).exists():
        return {}
    with LabelStore.open(Path(labels_path), read_only=True) as store:
        return FitLog(store).latest(sae_id, method)


def _values(f: Fit) -> tuple[Any, ...]:
    return tuple(getattr(f, name.strip()) for name in _COLUMNS.split(","))


def _fits(rows: Iterable[tuple[Any, ...]]) -> Iterable[Fit]:
    return (Fit(*row) for row in rows)
