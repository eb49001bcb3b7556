"""The report's opening sections: what it is about, the data and the models, the reward
model's accuracy, and what the workspace does not have yet."""

from __future__ import annotations

from html import escape
from typing import Any

from safer_engine import __version__
from safer_engine.report.gather import AuditData
from safer_engine.report.page import interval, number, paragraph, section, table

CONTENTS = (
    ("overview", "Data and models"),
    ("accuracy", "Reward model accuracy"),
    ("features", "Safety features"),
    ("pair-scores", "Pair scores"),
    ("plans", "Edit plans"),
    ("runs", "Runs"),
    ("experiment", "Experiment"),
    ("benchmark", "Noise benchmark"),
)


def header(data: AuditData) -> str:
    lines = [
        "<header><h1>SAFER audit report</h1>",
        paragraph(
            f"Workspace {data.workspace} · SAE {data.sae_id} · written {data.written} by "
            f"safer-explorer {__version__}",
            "meta",
        ),
        paragraph(
            "What a reward model learned about safety, read through a sparse autoencoder on its "
            "activations (SAFER, arXiv 2507.00665): the features that separate chosen from "
            "rejected answers, the examples they fire on, the pairs they score, and what "
            "editing those pairs did to the retrained reward model."
        ),
        "<nav><ol>"
        + "".join(f'<li><a href="#{anchor}">{escape(title)}</a></li>' for anchor, title in CONTENTS)
        + "</ol></nav></header>",
    ]
    return "\n".join(lines)


def overview_section(data: AuditData) -> str:
    overview = data.overview
    parts = []
    if overview.data is not None:
        summary = overview.data
        parts.append(
            paragraph(
                f"Preference data {overview.dataset or '(unnamed)'}: "
                f"{sum(n for _, _, n in summary.counts):,} pairs, "
                f"{summary.distinct_prompts:,} distinct prompts, "
                f"{summary.distinct_responses:,} distinct responses."
            )
        )
        by_slice: dict[str, dict[str, int]] = {}
        for slice_name, split, count in summary.counts:
            by_slice.setdefault(slice_name, {})[split] = count
        rows = [
            [name, f"{c.get('train', 0):,}", f"{c.get('test', 0):,}", f"{sum(c.values()):,}"]
            for name, c in sorted(by_slice.items(), key=lambda kv: (kv[0] != "safety", kv[0]))
        ]
        parts.append(table(["slice", "train", "test", "total"], rows, 3))
    models = _model_rows(data)
    if models:
        parts.append(table(["", "what"], models))
    return section("overview", "Data and models", parts)


def _model_rows(data: AuditData) -> list[list[object]]:
    overview = data.overview
    rows: list[list[object]] = []
    rm = overview.rm
    if rm:
        steps = overview.rm_info.get("steps")
        rows.append(
            [
                "reward model",
                f"{rm.get('model')} backbone, Bradley–Terry loss, {rm.get('epochs')} epochs"
                f"{f' ({steps} steps)' if steps else ''}, learning rate {rm.get('learning_rate')}, "
                f"{rm.get('max_length')} tokens, seed {rm.get('seed')}",
            ]
        )
    extract = overview.extract
    if extract:
        rows.append(
            [
                "activations",
                f"residual stream after block {extract.get('layer')}, "
                f"{_count(extract.get('docs'))} documents, {_count(extract.get('tokens'))} "
                f"tokens ({_count(extract.get('rows'))} stored), "
                f"{_count(extract.get('selected'))} selected by the "
                f"{str(extract.get('policy', '')).replace('_', ' ')} policy",
            ]
        )
    sae = overview.sae
    metrics: dict[str, Any] = sae.get("metrics", {})
    health = ""
    if metrics:
        health = (
            f"; variance explained {number(metrics.get('variance_explained'))}, "
            f"{metrics.get('dead_fraction', 0):.1%} dead"
        )
    rows.append(
        [
            "SAE",
            f"{data.sae_id}: TopK, k = {sae.get('k')}, {data.n_features:,} latents{health}",
        ]
    )
    return rows


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def accuracy_section(data: AuditData) -> str:
    evaluation = data.overview.evaluation
    if evaluation is None:
        return section(
            "accuracy",
            "Reward model accuracy",
            [paragraph("Not evaluated yet: `safer eval` measures it on the held-out pairs.")],
        )
    slices = sorted(evaluation.get("slices", []), key=lambda s: (s["name"] != "safety", s["name"]))
    rows = [_accuracy_row(s) for s in [*slices, evaluation["overall"]]]
    margins = evaluation.get("margins", {})
    parts = [
        paragraph(
            f"The analysed reward model on the {evaluation.get('split', 'test')} split: the "
            "share of pairs it orders right, r(chosen) > r(rejected), with Wilson 95% intervals."
        ),
        table(["slice", "pairs", "accuracy", "95% interval"], rows, 3),
        paragraph(
            f"Margins r(chosen) − r(rejected): mean {number(margins.get('mean'), 2)}, median "
            f"{number(margins.get('median'), 2)}, 5th–95th percentile "
            f"{number(margins.get('p05'), 2)} to {number(margins.get('p95'), 2)}."
        ),
    ]
    rewardbench = evaluation.get("rewardbench")
    if rewardbench:
        rows = [[name, number(value)] for name, value in rewardbench.items()]
        parts += ["<h3>RewardBench</h3>", table(["section", "score"], rows, 1)]
    return section("accuracy", "Reward model accuracy", parts)


def _accuracy_row(found: dict[str, Any]) -> list[object]:
    return [
        found["name"],
        f"{found['pairs']:,}",
        number(found["accuracy"]),
        interval(found.get("ci_low"), found.get("ci_high")),
    ]


def missing_section(data: AuditData) -> str:
    if not data.missing:
        return ""
    items = "".join(f"<li>{escape(item)}</li>" for item in data.missing)
    return section("missing", "Not in this workspace yet", [f"<ul>{items}</ul>"])
