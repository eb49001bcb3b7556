"""What an analysis is of, as both shared views name it: the preference data set, the analysed
model's config, when a stage finished, and JSON records read leniently (a missing or damaged
record is left out, not an error: the views show what there is)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import DATA


def json_object(path: Path) -> dict[str, Any]:
    """The JSON object in `path`; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_config(workspace: Workspace) -> dict[str, Any]:
    """The analysed reward model's transformers config ({} without one)."""
    return json_object(workspace.rm_model_dir / "config.json")


def finished(workspace: Workspace, kind: str, sae_id: str | None = None) -> str:
    """When a stage last finished ("" when it has not run)."""
    record = workspace.stage(kind, sae_id)
    return record.finished if record is not None else ""


def dataset_name(workspace: Workspace) -> str:
    """The preference data's name as it was imported (a file name or a hub id); "" before."""
    record = workspace.stage(DATA)
    if record is None:
        return ""
    origin = record.info.get("origin") or Path(str(record.config.get("source", ""))).name
    return str(origin)
