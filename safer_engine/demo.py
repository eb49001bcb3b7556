"""`safer demo`: the whole loop on the embedded demo data, reusing finished stages."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from safer_engine.config import DataConfig
from safer_engine.data.stage import ImportResult, import_data
from safer_engine.errors import DataError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.workspace import Workspace

DEMO_FILE = Path("demo") / "pairs.parquet"


def demo_data_path() -> Path:
    """The embedded demo pairs: in the source tree, or where a wheel install put them."""
    candidates = (
        Path(__file__).resolve().parents[1] / "assets" / DEMO_FILE,
        Path(sys.prefix) / "share" / "safer-explorer" / DEMO_FILE,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(
        "The embedded demo data is missing from this installation.",
        "Reinstall safer-explorer, or rebuild it with scripts/build_demo_data.py.",
    )


@dataclass(frozen=True)
class DemoResult:
    """The demo workspace and what each stage did."""

    workspace: Workspace
    data: ImportResult


def run_demo(
    root: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> DemoResult:
    workspace = Workspace.open(root, create=True)
    config = DataConfig(source=str(demo_data_path()))
    data = import_data(workspace, config, progress, cancel)
    return DemoResult(workspace=workspace, data=data)
