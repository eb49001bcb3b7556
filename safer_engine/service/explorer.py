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

import polars as pl

from safer_engine import artifacts as names
from safer_engine.analysis.word_search import WordMatches, features_on_word
from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.config import SelectionConfig
from safer_engine.errors import SaferError, StoreError, WorkspaceError
from safer_engine.labels import Label, LabelStore
from safer_engine.progress import CancelToken, Progress
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.stage import compute_pair_scores, current_selection, score_pairs
from safer_engine.service.pairs import PairRanking, PairView, pair_view, ranking_from
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import COMMANDS, ENCODE, EXTRACT, RM, SAE, SALIENCE

T = TypeVar("T")
__all__ = ["Example", "Explorer", "PairRanking", "PairView"]


def user_errors(method: Callable[..., T]) -> Callable[..., T]:
    """Turn a file-system failure (a vanished or unreadable file) into a `SaferError`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except SaferError:
            raise
        except OSError as exc:
            raise StoreError(
                f"Cannot read the workspace's files: {exc}.",
                "Check that the workspace is complete and readable, then open it again.",
            ) from exc

    return wrapper


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
        self._examples: FeatureExamples | None = None
        self._opening = threading.Lock()

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
        features = pl.read_parquet(table_path)
        labels, read_only = _open_labels(workspace.labels_path, author)
        return cls(workspace, sae_id, features, labels, read_only)

    # -- labels ----------------------------------------------------------------------------

    def labels(self) -> dict[int, Label]:
        """The current tag and note of every labelled feature."""
        return self._labels.current(self.sae_id)

    def last_label_change(self) -> int:
        """Cheap to poll: changes when anyone (another explorer, the CLI) labels anything."""
        return self._labels.last_change()

    def tag(self, features: list[int], tag: str) -> None:
        if len(features) == 1:
            self._labels.tag(self.sae_id, features[0], tag)
        else:
            self._labels.bulk_tag(self.sae_id, features, tag)

    def note(self, feature: int, text: str) -> None:
        self._labels.note(self.sae_id, feature, text)

    def export_labels(self) -> tuple[Path, int]:
        """The current labels as `labels-<sae>.csv` in the workspace; (path, features)."""
        target = self.workspace.root / f"labels-{self.sae_id}.csv"
        return target, self._labels.export_csv(self.sae_id, target)

    # -- features --------------------------------------------------------------------------

    def feature_row(self, feature: int) -> dict[str, Any]:
        """The feature table's row of one feature."""
        return self.features.filter(pl.col("feature") == feature).row(0, named=True)

    @user_errors
    def examples(self, feature: int) -> tuple[list[Example], list[int]]:
        """The feature's examples around its activation quantiles, and its histogram."""
        reader = self.reader()
        return reader.examples(feature), reader.histogram(feature)

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
    def shading(self, doc: int, safe: list[int], unsafe: list[int]) -> list[tuple[str, float]]:
        """The response's pieces, each with Σ safe − Σ unsafe activations on its token."""
        return self.reader().response_shading(doc, safe, unsafe)

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
