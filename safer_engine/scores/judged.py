"""The judge's scores as selection reads them: feature → 1–5, failures left out."""

from __future__ import annotations

from safer_engine.labels.judgements import judgements
from safer_engine.workspace import Workspace


def judge_scores(workspace: Workspace, sae_id: str) -> dict[int, int]:
    """Each judged feature's latest usable score; none when nothing was judged."""
    if not workspace.labels_path.exists():
        return {}
    found = judgements(workspace.labels_path, sae_id)
    return {feature: j.score for feature, j in found.items() if j.score is not None}
