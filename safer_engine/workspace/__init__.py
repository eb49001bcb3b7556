"""A workspace: one analysis on disk, its manifest, its stages and its runs."""

from safer_engine.workspace.layout import Workspace, default_workspace
from safer_engine.workspace.stages import Stage, StageRecord

__all__ = ["Stage", "StageRecord", "Workspace", "default_workspace"]
