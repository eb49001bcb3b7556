"""The judge's scores and its explanations' fits as selection reads them: feature → 1–5 and
feature → balanced accuracy, failures left out."""

from __future__ import annotations

from safer_engine.labels.fits import fits
from safer_engine.labels.judgements import judgements
from safer_engine.workspace import Workspace


def judge_scores(workspace: Workspace, sae_id: str) -> dict[int, int]:
    """Each judged feature's latest usable score; none when nothing was judged."""
    if not workspace.labels_path.exists():
        return {}
    found = judgements(workspace.labels_path, sae_id)
    return {feature: j.score for feature, j in found.items() if j.score is not None}


def judge_fits(workspace: Workspace, sae_id: str) -> dict[int, float]:
    """Each judged feature's fit (detection's balanced accuracy) of its current explanation;
    none when nothing was scored."""
    if not workspace.labels_path.exists():
        return {}
    found = fits(workspace.labels_path, sae_id).items()
    return {f: fit.balanced_accuracy for f, fit in found if fit.balanced_accuracy is not None}
