"""`safer data …`: recognise, summarise and import preference data."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import err, group, out
from safer_engine.cli.options import config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.cli.render import show_data
from safer_engine.config import DataConfig
from safer_engine.data.load import load_preferences
from safer_engine.data.stage import import_data
from safer_engine.data.summary import summarise
from safer_engine.errors import ConfigError
from safer_engine.workspace import Workspace

data_app = group("data", "Load and inspect preference data.")
Source = Annotated[str, typer.Argument(help="File, save_to_disk folder or hub id.")]
Columns = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Map canonical names to your columns: prompt=question,chosen=good,rejected=bad "
        "(also slice=, split=).",
    ),
]


def parse_columns(text: str | None) -> dict[str, str]:
    """Parse `prompt=question,chosen=good` into {'prompt': 'question', 'chosen': 'good'}."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for item in text.split(","):
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ConfigError(
                f"--columns item {item!r} is not NAME=COLUMN.",
                "Example: --columns prompt=question,chosen=good,rejected=bad",
            )
        mapping[name.strip()] = column.strip()
    return mapping


def with_columns(config: DataConfig, columns: str | None) -> DataConfig:
    """The options' config with the parsed --columns."""
    return DataConfig.from_dict({**config.to_dict(), "columns": parse_columns(columns)})


@data_app.command("info")
@config_options(DataConfig, exclude=("source", "columns"))
def data_info(
    config: DataConfig,
    source: Source,
    columns_text: Columns = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Recognise a data set's schema and summarise its pairs and problems."""
    config = with_columns(config, columns_text)
    with rich_progress(err, "Loading") as progress:
        data = load_preferences(config, progress)
    if as_json:
        report = {
            "source": data.origin,
            "schema": data.schema,
            "rows_read": data.rows_read,
            "pairs": data.table.height,
            "fingerprint": data.fingerprint,
            "summary": asdict(summarise(data.table)),
            "problems": [asdict(p) for p in data.report.problems],
            "prompts_in_both_splits": len(data.leaked_prompts),
        }
        out.print_json(json.dumps(report))
        return
    show_data(out, data)


@data_app.command("import")
@config_options(DataConfig, exclude=("source", "columns"))
def data_import(
    config: DataConfig,
    source: Source,
    workspace: Annotated[Path, typer.Option(help="Workspace folder (created if new).")],
    columns_text: Columns = None,
) -> None:
    """Normalise a data set into a workspace's data/pairs.parquet."""
    config = with_columns(config, columns_text)
    with rich_progress(err, "Importing") as progress:
        data = load_preferences(config, progress)
    ws = Workspace.open(workspace, create=True)
    result = import_data(ws, data)
    show_data(out, result.data)
    verb = "unchanged in" if result.reused else "written to"
    out.print(f"[green]Pairs {verb}[/] {ws.pairs_path}")
