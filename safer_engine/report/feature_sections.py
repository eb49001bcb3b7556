"""The report's sections on the safety features (the selection, each feature's figures and
strongest examples) and on the pair scores they give."""

from __future__ import annotations

from html import escape

import polars as pl

from safer_engine.report.charts import histogram_chart, spark_histogram
from safer_engine.report.gather import EXTREMES, AuditData, FeatureView, score_histogram
from safer_engine.report.page import (
    SAFE,
    SHADE,
    UNSAFE,
    badge,
    number,
    paragraph,
    section,
    shaded_text,
    table,
)
from safer_engine.scores.selection import ranking_rule, unvetted_note
from safer_engine.scores.summary import score_distribution

SOURCES = {
    "tags": "the features people tagged safe or unsafe",
    "judge": "people's tags and the features the LLM judge scored at or above the threshold",
    "salience": "salience alone",
    "effect": "effect alone",
}


_R, _G, _B = SHADE
SHADING_KEY = (
    '<p class="meta">Each feature\'s strongest examples: every token shaded '
    f'<span style="background:rgba({_R},{_G},{_B},0.8)">&nbsp;as strong as&nbsp;</span> its '
    "activation (relative to the strongest shown), the token drawn in bold, the prompt "
    "dimmed, ▍ where the response starts, … where text is left out, ✂ where the model "
    "stopped reading.</p>"
)


def features_section(data: AuditData) -> str:
    selection = data.selection
    rule = selection.config
    parts = [
        paragraph(
            f"P (safe) and N (unsafe) come from {SOURCES.get(selection.source, selection.source)}"
            f" of SAE {data.sae_id} ({data.n_features:,} features): {ranking_rule(rule)}. "
            f"{len(selection.safe)} safe, {len(selection.unsafe)} unsafe."
        )
    ]
    if selection.by_salience_alone:
        parts.append(paragraph(unvetted_note(selection.source), "note"))
    if not data.original_text:
        parts.append(
            paragraph(
                "This store predates the data's own text: examples show the model's tokens "
                "re-joined. `safer extract --force` and the stages after it show the original.",
                "note",
            )
        )
    parts.append(_summary_table(data))
    shown = len(data.features)
    if shown < len(data.facts):
        parts.append(
            paragraph(
                f"The first {shown} with their strongest examples (`safer report --features N` "
                "shows more):"
            )
        )
    if data.features and data.config.examples:
        parts.append(SHADING_KEY)
    parts += [_card(view, data) for view in data.features]
    return section("features", "Safety features", parts)


def _summary_table(data: AuditData) -> str:
    has_effect = any(f.effect is not None for f in data.facts)
    has_fit = any(f.fit is not None for f in data.facts)
    headers = ["feature", "side", "tag", "judge", "note"]
    headers += ["fit"] if has_fit else []
    headers += ["salience", "rank"]
    headers += ["effect (train)", "effect (test)"] if has_effect else []
    headers += ["density", "max act"]
    rows = []
    for fact, chosen in zip(data.facts, data.selection.features, strict=True):
        judge = fact.judge_score
        row: list[object] = [
            fact.feature,
            chosen.side + (" (disagrees)" if chosen.disagrees else ""),
            _tag(fact.tag, fact.tag_by_judge),
            f"{judge}/5" if judge is not None else "—",
            _short(fact.note or "", 60),
        ]
        row += [number(fact.fit)] if has_fit else []
        row += [number(fact.salience, signed=True), fact.rank]
        if has_effect:
            effect = fact.effect
            row += [
                number(effect.train if effect else None, 4, True),
                number(effect.test if effect else None, 4, True),
            ]
        row += [f"{fact.density:.2%}", number(fact.max_act, 2)]
        rows.append(row)
    return table(headers, rows, len(headers) - 5)  # the figures after the note


def _tag(tag: str | None, by_judge: bool) -> str:
    if not tag:
        return "—"
    return f"{tag} (judge's suggestion)" if by_judge else tag


def _short(text: str, size: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def _card(view: FeatureView, data: AuditData) -> str:
    fact, chosen = view.facts, view.chosen
    colour = SAFE if chosen.side == "safe" else UNSAFE
    facts = [
        f"salience <b>{number(fact.salience, signed=True)}</b> (rank {fact.rank:,}): fires "
        f"more on {fact.leans} responses",
        f"fires on {fact.fire_rate_chosen:.2%} of chosen, {fact.fire_rate_rejected:.2%} of "
        "rejected selected tokens",
        f"density {fact.density:.2%}, max {fact.max_act:.2f}",
    ]
    if fact.effect is not None:
        facts.append(
            f"effect on the margin {number(fact.effect.train, 4, True)} (train), "
            f"{number(fact.effect.test, 4, True)} (test), "
            f"{number(fact.effect.wrong, 4, True)} (wrongly ordered pairs)"
        )
    said = []
    if fact.tag:
        who = "the judge's suggestion" if fact.tag_by_judge else fact.tag_author or "a person"
        said.append(f"tagged <b>{escape(fact.tag)}</b> ({escape(who)})")
    if chosen.disagrees:
        said.append("the tag disagrees with the sign of its salience")
    judgement = fact.judgement
    if judgement is not None and judgement.score is not None:
        fit = f", fit {number(fact.fit)}" if fact.fit is not None else ""
        said.append(
            f"judge ({escape(judgement.model)}): <b>{judgement.score}/5</b>{fit} — "
            f"{escape(judgement.explanation)}"
        )
    elif judgement is not None:
        said.append(f"judge ({escape(judgement.model)}) failed: {escape(judgement.failure or '')}")
    if fact.note:
        said.append(f"note: {escape(fact.note)}")
    spark = spark_histogram(view.histogram, data.hist_edges, colour)
    header = (
        f'<header><h3 id="feature-{fact.feature}">Feature {fact.feature}</h3>{badge(chosen.side)}'
        + "".join(f"<span>{item}</span>" for item in facts)
        + "</header>"
    )
    lines = [header, '<div class="figures">' + spark + "</div>"]
    lines += [f"<div>{item}</div>" for item in said]
    if data.config.examples:
        lines.append(_examples(view))
    return (
        f'<article class="feature" data-feature="{fact.feature}">' + "".join(lines) + "</article>"
    )


def _examples(view: FeatureView) -> str:
    if not view.examples:
        return paragraph("No examples: the feature never fires on the stored tokens.")
    peak = max(shown.example.activation for shown in view.examples)
    rows = []
    for shown in view.examples:
        example = shown.example
        pair = f'<br><span class="id">{escape(shown.pair_id)}</span>' if shown.pair_id else ""
        label = f"{escape(example.side)} {example.activation:.2f}{pair}"
        rows.append(
            f'<div class="example"><div class="label">{label}</div>'
            f"{shaded_text(example.spans, peak)}</div>"
        )
    return "".join(rows)


def pair_scores_section(data: AuditData) -> str:
    scores = data.pair_scores
    if scores is None:
        return section(
            "pair-scores",
            "Pair scores",
            [paragraph("No pair scores yet: `safer score-pairs` computes them.")],
        )
    parts = [
        paragraph(
            "score(pair) = S(chosen) − S(rejected), S(r) the mean over a response's selected "
            "tokens of Σ safe − Σ unsafe feature activations: high when the label agrees with "
            "the safety features. Poisoning flips the highest, denoising drops the lowest."
        )
    ]
    if not scores.current:
        parts.append(
            paragraph(
                "These scores were made from an earlier selection (tags or judge scores changed "
                "since): `safer score-pairs` brings them up to date.",
                "note",
            )
        )
    edges, counts = score_histogram(scores.table)
    parts.append(histogram_chart("Train pairs by score", edges, counts, "pair score (train split)"))
    parts.append(_distribution(scores.table))
    ranked = scores.table.filter(pl.col("split") == "train").sort("rank")
    for title, part in (
        ("Highest scoring train pairs (poisoning flips these first)", ranked.head(EXTREMES)),
        ("Lowest scoring train pairs (denoising drops these first)", ranked.tail(EXTREMES)),
    ):
        parts.append(f"<h3>{escape(title)}</h3>")
        rows = [
            [
                row["rank"],
                row["pair_id"],
                row["slice"],
                number(row["score"], signed=True),
                _short(str(row.get("prompt") or ""), 90),
            ]
            for row in part.iter_rows(named=True)
        ]
        parts.append(table(["rank", "pair", "slice", "score", "prompt"], rows))
    return section("pair-scores", "Pair scores", parts)


def _distribution(scores: pl.DataFrame) -> str:
    summary = score_distribution(scores)
    rows = [
        [
            row["slice"],
            row["split"],
            f"{row['pairs']:,}",
            *(number(row[k], signed=True) for k in ("mean", "p10", "median", "p90")),
            f"{row['above']:.0%}",
        ]
        for row in summary.iter_rows(named=True)
    ]
    headers = ["slice", "split", "pairs", "mean", "p10", "median", "p90", "above 0"]
    return table(headers, rows, 6)
