"""What the Edits screen says about a plan: what it does, to how many pairs of each slice,
and which safety features scored it and why they count as such. Plain text, no widget."""

from __future__ import annotations

from rich.text import Text

from safer_engine.service.edits import PlannedEdits

MODE_TEXT = {
    "poison": "flip the {n} highest-scoring of {train} train pairs",
    "denoise": "remove the {n} lowest-scoring of {train} train pairs",
    "random-flip": "flip {n} of {train} train pairs drawn at random (seed {seed})",
    "random-remove": "remove {n} of {train} train pairs drawn at random (seed {seed})",
}
SIDES = ("safe", "unsafe")


def ratio_text(ratio: float) -> str:
    return f"{ratio:g}%"


def plan_summary(planned: PlannedEdits) -> Text:
    """The plan's id and what it does, its edits by slice, and its safety features."""
    plan, request = planned.plan, planned.request
    what = MODE_TEXT[request.mode].format(
        n=f"{len(plan.edits):,}", train=f"{plan.train_pairs:,}", seed=request.seed
    )
    summary = Text.assemble(("Plan ", "bold"), (planned.plan_id, "bold"), f": {what}\n")
    for number, (name, edited, train) in enumerate(planned.by_slice()):
        summary.append(" · " if number else "by slice: ")
        summary.append(f"{name} {edited:,}", style="bold")
        summary.append(f" of {train:,}")
    if planned.source is not None:
        summary.append("\n").append_text(features_text(planned))
    return summary


def features_text(planned: PlannedEdits) -> Text:
    """Which features scored the plan, saying for each source what made them safety
    features: a person's tag, the judge's score, or salience alone."""
    chosen = (planned.plan.selection or {}).get("features", [])
    count = len(chosen)
    sides = f"{len(planned.safe)} safe, {len(planned.unsafe)} unsafe"
    noun = "feature" if count == 1 else "features"
    if planned.source in ("salience", "effect"):
        by = planned.source
        text = Text(f"scored by the top {count} {noun} by |{by}| ({sides})")
        return text.append(f" · chosen by {by} alone, not by tags or the judge", style="yellow")
    tagged = sum(1 for f in chosen if f.get("tag") in SIDES)
    judged = count - tagged
    if planned.source == "tags":
        return Text(f"scored by {count} tagged safety {noun} ({sides})")
    threshold = (planned.plan.selection or {}).get("config", {}).get("judge_threshold", 5)
    text = Text(f"scored by {count} safety {noun} ({sides}): {tagged} tagged, ")
    text.append(f"{judged} judged {threshold} or more")
    if not judged:
        text.append(" · none judged that high, so these are the tags alone", style="yellow")
    return text
