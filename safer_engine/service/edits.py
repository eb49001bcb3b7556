"""Edit plans for the explorer's Edits screen: plan (nothing written, not even the pair
scores: a preview must not change what other commands read), save (the plan and the scores
it ranks by), export, and find a planned pair in the store, all as plain data.

The rules are the engine's (`safer_engine.edits`): the same plan as `safer edit plan` with
the same settings, exported exactly as `safer edit export`. Every failure reaches the caller as
a `SaferError`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from safer_engine.config import SELECT_SOURCES, EditConfig, SelectionConfig
from safer_engine.edits.export import (
    FORMATS,
    ExportResult,
    export_format,
    export_plan,
    manifest_path,
)
from safer_engine.edits.plan import Edit, EditPlan
from safer_engine.edits.stage import preview_plan, save_plan
from safer_engine.errors import EditError
from safer_engine.progress import CancelToken, Progress
from safer_engine.scores.stage import PairScores, save_pair_scores
from safer_engine.service.explorer import Explorer, os_errors_as, user_errors
from safer_engine.workspace.stages import DATA

__all__ = [
    "FORMATS",
    "MODES",
    "RATIOS",
    "SOURCES",
    "Edit",
    "EditPlan",
    "EditRequest",
    "EditsService",
    "ExportResult",
    "PlannedEdits",
    "export_format",
]

MODES: tuple[str, ...] = ("poison", "denoise", "random-flip", "random-remove")
"""The modes the explorer plans (manual plans come from a file: `safer edit plan`)."""
SOURCES: tuple[str, ...] = SELECT_SOURCES
RATIOS: tuple[float, ...] = (0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 30.0)
"""The ratios `+` and `-` step through; any other can be typed."""
EXPORTS_DIR = "exports"
T = TypeVar("T")


@dataclass(frozen=True)
class EditRequest:
    """What the Edits screen asks for: the settings of `safer edit plan`."""

    mode: str = "poison"
    ratio: float = 5.0
    select: str = "auto"
    seed: int = 0

    @property
    def scored(self) -> bool:
        """poison and denoise rank pairs by their score; the random modes need no SAE."""
        return self.mode in ("poison", "denoise")


@dataclass(frozen=True)
class PlannedEdits:
    """A plan as the screen shows it, before (or after) it is saved."""

    request: EditRequest
    plan: EditPlan
    train_by_slice: dict[str, int]
    """Train pairs per slice, to show the edited ones against."""
    safe: list[int]
    """The safety features behind the scores (empty for random plans)."""
    unsafe: list[int]
    source: str | None
    """Where the safety features came from (tags, judge, salience); None for random plans."""
    scores: PairScores | None = field(default=None, compare=False)
    """The pair scores the plan ranks by, in memory until the plan is saved."""

    @property
    def plan_id(self) -> str:
        return self.plan.plan_id

    @property
    def edits(self) -> tuple[Edit, ...]:
        return self.plan.edits

    @property
    def action(self) -> str:
        return self.plan.action

    def by_slice(self) -> list[tuple[str, int, int]]:
        """(slice, edited pairs, train pairs) of every slice, the safety slice first."""
        names = sorted(
            set(self.train_by_slice) | set(self.plan.counts), key=lambda n: (n != "safety", n)
        )
        return [(n, self.plan.counts.get(n, 0), self.train_by_slice.get(n, 0)) for n in names]


writes = os_errors_as(
    lambda exc: EditError(
        f"Cannot write {exc.filename or 'the file'}: {exc.strerror or exc}.",
        "Choose a writable place with free space (or make the workspace writable).",
    )
)
"""A failed write (a read-only folder, a path that is a file) as an `EditError`."""


class EditsService:
    """Edit plans of an opened workspace's train pairs, scored by its explored SAE."""

    def __init__(self, explorer: Explorer) -> None:
        self.explorer = explorer
        self.workspace = explorer.workspace
        self._pair_index: dict[str, int] | None = None
        self._indexing = threading.Lock()

    @user_errors
    def plan(self, request: EditRequest, progress: Progress, cancel: CancelToken) -> PlannedEdits:
        """The plan of `request`; nothing is written (saved pair scores are reused while the
        safety features are unchanged, new ones kept in memory until `save`)."""
        if request.mode not in MODES:
            raise EditError(f"Unknown edit mode {request.mode!r}.", f"Use one of {MODES}.")
        config = EditConfig(mode=request.mode, ratio=request.ratio, seed=request.seed)  # type: ignore[arg-type]
        selection = SelectionConfig(select=request.select)  # type: ignore[arg-type]
        plan, scores = preview_plan(
            self.workspace, config, selection, self.explorer.sae_id, progress, cancel
        )
        pairs, _ = self.workspace.pairs()
        train = pairs.filter(pairs["split"] == "train")["slice"].value_counts()
        chosen = plan.selection or {}
        features = chosen.get("features", [])
        return PlannedEdits(
            request=request,
            plan=plan,
            train_by_slice={str(s): int(n) for s, n in train.iter_rows()},
            safe=[int(f["feature"]) for f in features if f["side"] == "safe"],
            unsafe=[int(f["feature"]) for f in features if f["side"] == "unsafe"],
            source=chosen.get("source"),
            scores=scores,
        )

    @writes
    def save(self, planned: PlannedEdits) -> Path:
        """`edits/<plan-id>/plan.json` (the same plan saved twice is the same file), and the
        pair scores it ranks by, as `safer edit plan` saves both."""
        if planned.scores is not None:
            save_pair_scores(self.workspace, planned.scores)
        return save_plan(self.workspace, planned.plan)

    def default_export(self, planned: PlannedEdits) -> Path:
        return self.workspace.root / EXPORTS_DIR / f"{planned.plan_id}.parquet"

    def export_exists(self, out: Path) -> bool:
        """Whether exporting to `out` would overwrite something (and so needs a yes)."""
        return out.exists() or manifest_path(out).exists()

    def target(self, out: Path) -> Path:
        """Where an export to `out` goes: relative paths are in the workspace."""
        out = out.expanduser()
        return out if out.is_absolute() else self.workspace.root / out

    def missing_folder(self, out: Path) -> Path | None:
        """The outermost folder an export to `out` would have to create outside the workspace
        (None when its folder exists, or is missing inside the workspace): a typo there
        should not leave folders behind without a yes."""
        folder = self.target(out).parent
        if folder.exists() or folder.resolve().is_relative_to(self.workspace.root):
            return None
        while not folder.parent.exists():
            folder = folder.parent
        return folder

    @writes
    def export(
        self, planned: PlannedEdits, out: Path, force: bool = False, make_folders: bool = False
    ) -> ExportResult:
        """The edited train split in its source's schema, in the format `out`'s name asks for
        (see `export_format`), with a manifest beside it; the plan is saved too, so the
        manifest's plan id names a file. Nothing is overwritten unless `force`, and no folder
        is created outside the workspace unless `make_folders`."""
        out = self.target(out)
        missing = self.missing_folder(out)
        if missing is not None and not make_folders:
            raise EditError(
                f"{missing} does not exist.",
                "Export into an existing folder or into the workspace, or create it first.",
            )
        pairs, _ = self.workspace.pairs()
        data = self.workspace.stage(DATA)
        schema = str(data.info.get("schema", "")) if data else ""
        preference = str(data.config.get("preference", "safer")) if data else "safer"
        self.save(planned)
        return export_plan(pairs, planned.plan, schema, preference, out, export_format(out), force)

    @user_errors
    def pair_index(self, pair_id: str) -> int | None:
        """The store's number of a pair (what the pair views take), or None if not stored."""
        with self._indexing:
            if self._pair_index is None:
                ids = self.explorer.reader().store.pair_ids()
                self._pair_index = {str(p): i for i, p in enumerate(ids)}
            return self._pair_index.get(pair_id)
