"""`safer report`: the audit report, one self-contained HTML file a colleague opens in any
browser (no server, no network: its style and charts are inside it)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from safer_engine.config import ReportConfig
from safer_engine.errors import WorkspaceError
from safer_engine.files import write_text_atomic
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.report.feature_sections import features_section, pair_scores_section
from safer_engine.report.gather import AuditData, gather
from safer_engine.report.page import page
from safer_engine.report.result_sections import (
    benchmark_section,
    experiment_section,
    plans_section,
    runs_section,
)
from safer_engine.report.sections import (
    accuracy_section,
    header,
    missing_section,
    overview_section,
)
from safer_engine.workspace import Workspace
from safer_engine.workspace.manifest import now


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    bytes: int
    seconds: float
    features: int
    """Features shown with their examples."""
    missing: list[str]
    """What the workspace does not have yet (the report says so too)."""


def write_report(
    workspace: Workspace,
    sae_id: str,
    out: Path,
    config: ReportConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> WrittenReport:
    """Gather, render and write the report to `out` (written beside it, then renamed, so a
    cancel or a failure leaves any earlier report whole)."""
    cancel = cancel or CancelToken()
    if Path(out).is_dir():
        raise WorkspaceError(
            f"{out} is a folder; the report is one HTML file.",
            f"Name the file, e.g. `--out {Path(out) / 'audit.html'}`.",
        )
    started = time.perf_counter()
    data = gather(workspace, sae_id, config, now(), progress, cancel)
    cancel.check("the report")
    progress("writing the page", 0, None)
    html = render(data)
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(out), html)
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot write the report to {out}: {exc}.",
            "Check that you can write there and that the disk has free space, or name a file "
            "elsewhere with --out.",
        ) from exc
    return WrittenReport(
        Path(out),
        len(html.encode("utf-8")),
        time.perf_counter() - started,
        len(data.features),
        data.missing,
    )


def render(data: AuditData) -> str:
    """The report's HTML."""
    made = {
        "sae_id": data.sae_id,
        "workspace": str(data.workspace),
        "config": data.config.to_dict(),
    }
    body = [
        header(data),
        overview_section(data),
        accuracy_section(data),
        features_section(data),
        pair_scores_section(data),
        plans_section(data),
        runs_section(data),
        experiment_section(data),
        benchmark_section(data),
        missing_section(data),
    ]
    title = f"SAFER audit report · {data.sae_id}"
    return page(title, [part for part in body if part], json.dumps(made, indent=1))
