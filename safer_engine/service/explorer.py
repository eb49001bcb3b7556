"""The engine as the explorer sees it: one facade over a workspace's features, examples,
pairs and labels, so the screens keep only presentation.

Only torch-free modules are used (polars, numpy, h5py, sqlite), so the explorer opens
workspaces on machines without a GPU stack and starts fast. Every failure reaches the caller
as a `SaferError` (message and hint); nothing else escapes the facade's methods.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.analysis.word_search import WordMatches, features_on_word
from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.codes.reader import Histogram
from safer_engine.config import ReportConfig, SelectionConfig
from safer_engine.errors import SaferError, StoreError, WorkspaceError
from safer_engine.labels import Label, LabelStore
from safer_engine.progress import CancelToken, Progress
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.stage import compute_pair_scores, current_selection, score_pairs
from safer_engine.service.attribution import Attributions, PairDrivers, Trust
from safer_engine.service.coverage import Coverage
from safer_engine.service.judging import (
    Fit,
    Judgement,
    JudgeOutcome,
    JudgeRequest,
    last_fit,
    last_judgement,
    latest_fits,
    latest_judgements,
    run_judge,
)
from safer_engine.service.pair_list import PairTexts, pair_of_doc, pair_texts
from safer_engine.service.pairs import PairRanking, PairView, pair_view, ranking_from
from safer_engine.service.tagging import TagChange, TagHistory
from safer_engine.service.text import Span
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import COMMANDS, ENCODE, EXTRACT, RM, SAE, SALIENCE

T = TypeVar("T")
__all__ = [
    "OLD_TEXT",
    "Example",
    "Explorer",
    "Fit",
    "Histogram",
    "JudgeOutcome",
    "JudgeRequest",
    "Judgement",
    "PairDrivers",
    "PairRanking",
    "PairView",
    "TagChange",
    "Trust",
]
OLD_TEXT = (
    "Text re-joined from the model's tokens (this store predates the data's own text): "
    "`safer extract --force` and the stages after it show the original."
)


def os_errors_as(
    error: Callable[[OSError], SaferError],
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A decorator: an `OSError` inside the method becomes `error(exc)`, one user-facing
    message; the engine's own errors pass through."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return method(*args, **kwargs)
            except SaferError:
                raise
            except OSError as exc:
                raise error(exc) from exc

        return wrapper

    return decorate


user_errors = os_errors_as(
    lambda exc: StoreError(
        f"Cannot read the workspace's files: {exc}.",
        "Check that the workspace is complete and readable, then open it again.",
    )
)
"""A file-system failure (a vanished or unreadable file) as a `StoreError`."""


class Explorer:
    """An opened workspace's SAE features, the labels store they are tagged in, and the
    store and codes behind them (opened on first use, from any worker thread, once)."""

    def __init__(
        self,
        workspace: Workspace,
        sae_id: str,
        features: pl.DataFrame,
        labels: LabelStore,
        read_only: bool,
    ) -> None:
        self.workspace = workspace
        self.sae_id = sae_id
        self.features = features
        self._labels = labels
        self.read_only = read_only
        extract = workspace.stage(EXTRACT)
        policy = str(extract.config.get("policy", "")) if extract else ""
        self.coverage = Coverage.of(features, policy)
        """Which tokens the feature table's figures cover."""
        self._examples: FeatureExamples | None = None
        self._opening = threading.Lock()
        self._history = TagHistory(labels, sae_id)
        self._pair_texts = PairTexts(workspace)
        self.attributions = Attributions(workspace.sae_dir(sae_id))
        """Why the reward model prefers a response, when `safer attribute` ran."""

    @classmethod
    @user_errors
    def open(cls, root: Path, author: str | None = None) -> Explorer:
        """Open for exploring, or say which step is missing (a `WorkspaceError`)."""
        workspace = Workspace.open(root)
        sae_id = _explored_sae(workspace)
        table_path = workspace.sae_dir(sae_id) / names.SALIENCE_FILE
        if not table_path.exists():
            raise WorkspaceError(
                f"SAE {sae_id} has no salience table yet.",
                f"Run `safer encode --workspace {workspace.root}`.",
            )
        attributions = Attributions(workspace.sae_dir(sae_id))
        features = attributions.with_effects(pl.read_parquet(table_path))
        labels, read_only = _open_labels(workspace.labels_path, author)
        return cls(workspace, sae_id, features, labels, read_only)

    # -- labels ----------------------------------------------------------------------------

    def labels(self) -> dict[int, Label]:
        """The current tag and note of every labelled feature."""
        return self._labels.current(self.sae_id)

    def last_label_change(self) -> tuple[int, int]:
        """Cheap to poll: changes when anyone (another explorer, the CLI, a judge run) labels
        or judges anything; the newest tag or note's id and the newest judgement's."""
        return self._labels.last_change(), last_judgement(self._labels)

    def last_fit_change(self) -> int:
        """Cheap to poll: the newest explanation fit's id (see `last_label_change`)."""
        return last_fit(self._labels)

    def tag(self, features: list[int], tag: str) -> TagChange:
        """Tag (or with "" clear) the features; the change can be undone with `undo_tag`."""
        return self._history.tag(features, tag)

    def undo_tag(self) -> TagChange | None:
        """Restore the tags before this session's last tag change (None: nothing to undo)."""
        return self._history.undo()

    def note(self, feature: int, text: str) -> None:
        self._labels.note(self.sae_id, feature, text)

    def judgements(self) -> dict[int, Judgement]:
        """Each judged feature's latest judge score, or its latest failure when it has none."""
        return latest_judgements(self._labels, self.sae_id)

    def fits(self) -> dict[int, Fit]:
        """Each judged feature's fit of its current explanation, or its failure."""
        return latest_fits(self._labels, self.sae_id)

    @user_errors
    def judge(self, request: JudgeRequest, progress: Progress, cancel: CancelToken) -> JudgeOutcome:
        """Run the LLM judge (from a thread worker): see `service.judging.run_judge`."""
        return run_judge(
            self.workspace, self.sae_id, self._labels.author, request, progress, cancel
        )

    def export_labels(self) -> tuple[Path, int]:
        """The current labels as `labels-<sae>.csv` in the workspace; (path, features)."""
        target = self.workspace.root / f"labels-{self.sae_id}.csv"
        return target, self._labels.export_csv(self.sae_id, target)

    @user_errors
    def write_report(self, progress: Progress, cancel: CancelToken) -> tuple[Path, int]:
        """The audit report (`safer report`) as `audit-<sae>.html` in the workspace; (path,
        bytes)."""
        from safer_engine.report.write import write_report

        target = self.workspace.root / f"audit-{self.sae_id}.html"
        done = write_report(self.workspace, self.sae_id, target, ReportConfig(), progress, cancel)
        return done.path, done.bytes

    # -- features --------------------------------------------------------------------------

    def feature_row(self, feature: int) -> dict[str, Any]:
        """The feature table's row of one feature."""
        return self.features.filter(pl.col("feature") == feature).row(0, named=True)

    @user_errors
    def examples(self, feature: int) -> tuple[list[Example], Histogram]:
        """The feature's examples around its activation quantiles, and its histogram."""
        reader = self.reader()
        return reader.examples(feature), reader.histogram(feature)

    @user_errors
    def feature_attributions(self, feature: int) -> dict[int, float]:
        """Text (store document) → this feature's attribution to the text's reward; empty
        without attributions."""
        return self.attributions.of_feature(feature)

    @user_errors
    def word_search(self, query: str, progress: Progress, cancel: CancelToken) -> WordMatches:
        reader = self.reader()
        store = reader.store
        return features_on_word(
            store.pieces,
            store.token_ids,
            store.token_row,
            reader.idx,
            reader.val,
            reader.n_latents,
            query,
            progress,
            cancel,
        )

    # -- pairs -----------------------------------------------------------------------------

    @user_errors
    def rank_pairs(
        self,
        progress: Progress,
        cancel: CancelToken,
        config: SelectionConfig | None = None,
    ) -> PairRanking:
        """Every pair scored by the selected safety features (the rule of `safer
        score-pairs`): saved scores are reused while the selection is unchanged, otherwise
        one pass over the codes (and, unless the workspace is read-only, saved)."""
        config = config or SelectionConfig()
        judged = judge_scores(self.workspace, self.sae_id)
        flipped = self.flipped_pairs()
        if not self.read_only:
            result = score_pairs(self.workspace, self.sae_id, config, judged, progress, cancel)
            return ranking_from(result.table, result.selection, result.reused, flipped=flipped)
        selection = current_selection(self.workspace, self.sae_id, config, judged)
        sae_dir = self.workspace.sae_dir(self.sae_id)
        table = compute_pair_scores(self.workspace.store_path, sae_dir, selection, progress, cancel)
        return ranking_from(table, selection, reused=False, flipped=flipped)

    @user_errors
    def flipped_pairs(self) -> frozenset[str] | None:
        """The pair ids a noise benchmark flipped, in one of its noisy workspaces (`safer
        benchmark noise` keeps the truth in a `flipped` column of the pairs); None elsewhere."""
        path = self.workspace.pairs_path
        if not path.exists() or names.FLIPPED_COLUMN not in pl.scan_parquet(path).collect_schema():
            return None
        table = pl.read_parquet(path, columns=["pair_id", names.FLIPPED_COLUMN])
        return frozenset(table.filter(pl.col(names.FLIPPED_COLUMN))["pair_id"].to_list())

    @user_errors
    def pair(self, pair: int) -> PairView:
        return pair_view(self.reader(), pair)

    @user_errors
    def pair_matches(self, text: str) -> np.ndarray:
        """A bool per pair: its prompt or a response contains `text` (any case), or its id is
        `text` (a numpy array; the first call reads every text)."""
        return self._pair_texts.matches(self.reader(), text)

    @user_errors
    def pair_texts(self, pairs: list[int]) -> list[tuple[str, str]]:
        """Each pair's prompt and chosen response as the data holds them (the Pairs
        list's preview)."""
        return pair_texts(self.reader(), pairs)

    @user_errors
    def pair_drivers(self, pair: int) -> PairDrivers | None:
        """What moves the pair's margin, when `safer attribute` ran."""
        return self.attributions.drivers(self.pair_id(pair))

    @user_errors
    def mistakes(self) -> np.ndarray:
        """The test pairs the reward model orders wrong, most wrong first (empty without
        attributions)."""
        return self.attributions.mistakes()

    @user_errors
    def attribution_trust(self) -> Trust:
        """Whether an ablation check agreed with the attributions."""
        return self.attributions.trust()

    @user_errors
    def pair_id(self, pair: int) -> str:
        """The pair's id in the data, as every screen shows it."""
        return self.reader().pair_id(pair)

    @user_errors
    def pair_of_doc(self, doc: int) -> int | None:
        """The first pair with this document (a feature example's) as a response."""
        return pair_of_doc(self.reader(), doc)

    @user_errors
    def shading(self, doc: int, safe: list[int], unsafe: list[int]) -> list[Span]:
        """The whole response, each token's text with Σ safe − Σ unsafe activations on it."""
        return self.reader().response_shading(doc, safe, unsafe)

    @user_errors
    def original_text(self) -> bool:
        """Whether the store holds the data's own texts; stores from before they were kept
        show texts re-joined from the model's tokens (see `OLD_TEXT`)."""
        return self.reader().original_text

    # -- lifetime --------------------------------------------------------------------------

    @user_errors
    def reader(self) -> FeatureExamples:
        """The store and codes, opened on first use (a feature page, the pairs, a search)."""
        with self._opening:
            if self._examples is None:
                if not self.workspace.store_path.exists():
                    raise WorkspaceError(
                        f"{self.workspace.root} has no activation store.",
                        "Run `safer extract --workspace DIR`.",
                    )
                self._examples = FeatureExamples(
                    self.workspace.store_path, self.workspace.sae_dir(self.sae_id)
                )
            return self._examples

    def close(self) -> None:
        self._labels.close()
        if self._examples is not None:
            self._examples.close()


def _explored_sae(workspace: Workspace) -> str:
    """The SAE whose salience (or, in older workspaces, codes) was computed last."""
    records = workspace.records().values()
    done = [r for r in records if r.kind in (SALIENCE, ENCODE) and r.sae_id]
    if done:
        return str(max(done, key=lambda r: (r.finished, r.kind == SALIENCE)).sae_id)
    missing = [kind for kind in (RM, EXTRACT, SAE, ENCODE) if not _has(workspace, kind)]
    steps = ", then ".join(
        f"`{COMMANDS[kind].replace('DIR', str(workspace.root))}`" for kind in missing
    )
    raise WorkspaceError(f"{workspace.root} has no SAE features yet.", f"Run {steps}.")


def _has(workspace: Workspace, kind: str) -> bool:
    return any(r.kind == kind for r in workspace.records().values())


def _open_labels(path: Path, author: str | None) -> tuple[LabelStore, bool]:
    """Writable when possible; otherwise read-only, so browsing still works."""
    try:
        return LabelStore.open(path, author), False
    except SaferError:
        if not path.exists():
            raise
        return LabelStore.open(path, author, read_only=True), True
