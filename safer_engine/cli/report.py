"""`safer report`: the analysis as one self-contained HTML file to send to a colleague."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import app, err, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import ReportConfig
from safer_engine.workspace import Workspace


@app.command("report")
@config_options(ReportConfig)
def report_command(
    config: ReportConfig,
    workspace: WorkspaceOption,
    out_file: Annotated[
        Path, typer.Option("--out", help="The HTML file to write (e.g. audit.html).")
    ],
    sae: Annotated[str | None, typer.Option(help="SAE id (default: the last one).")] = None,
) -> None:
    """An audit report in one HTML file: data, accuracy, safety features, scores and runs."""
    from safer_engine.report.write import write_report
    from safer_engine.share.features import analysed_sae

    ws = Workspace.open(workspace)
    sae_id = analysed_sae(ws, sae)
    with rich_progress(err, "Audit report") as progress:
        done = write_report(ws, sae_id, out_file, config, progress)
    out.print(
        f"[green]Wrote[/] {done.path} ({done.bytes / 1e6:.2f} MB, {done.features} feature(s) "
        f"with examples, {done.seconds:.1f} s): open it in any browser"
    )
    if done.missing:
        out.print("Not in the workspace yet (the report says so too):")
        for item in done.missing:
            out.print(f"  {item}", markup=False, highlight=False)
