"""The rows of a Neuronpedia export, field for field as Neuronpedia names them.

Neuronpedia's database export (`utils/neuronpedia-utils/neuronpedia_utils/export-data.py`,
https://github.com/hijohnnylin/neuronpedia/blob/main/utils/neuronpedia-utils/neuronpedia_utils/export-data.py)
writes, per model and source, the columns of its tables `Neuron` (the features), `Activation`
and `Explanation`, and the whole `Model`, `Source` and `SourceSet` rows; their types and
meanings are those of its schema
(https://github.com/hijohnnylin/neuronpedia/blob/main/apps/webapp/prisma/schema.prisma) and
of SAEDashboard's converter, which makes the same rows from its dashboards
(https://github.com/jbloomAus/SAEDashboard/blob/main/sae_dashboard/neuronpedia/neuronpedia_export.py
and `neuronpedia_converter.py`). Each function below builds one row as a dict whose keys are
exactly those names (camelCase and snake_case mixed, as Neuronpedia has them); what a
reward model's SAE has no counterpart for (logit tables, correlated neurons, decoder weights
per head, UMAP coordinates) is left at the schema's own empty default.

SAFER's own findings travel as explanations of their own types (`EXPLANATION_TYPES`): a
person's tag and note, the judge's safety-relevance score (its fit as the explanation's
score), the salience and the attribution's effect.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from safer_engine.share.attribution import Effect
from safer_engine.share.features import FeatureFacts
from safer_engine.store.text import Span

TOOL = "safer-explorer"
"""The explanation model name of what SAFER explorer computed itself (salience, effect)."""
PERSON = "safer-person"
"""The explanation model name of what a person wrote (a tag, a note)."""

EXPLANATION_TYPES = {
    "safer-tag": (
        "SAFER tag",
        "A person's safety tag of the feature: safe (it marks what a safe answer does), "
        "unsafe, irrelevant or unsure.",
    ),
    "safer-note": ("SAFER note", "A person's note on the feature."),
    "safer-judge": (
        "SAFER judge",
        "An LLM judge's safety relevance of the feature from its top contexts, 1 (none) to "
        "5 (strongly safety-related), with its one-line reason; scoreV2 is the judge's fit.",
    ),
    "safer-salience": (
        "SAFER salience",
        "How differently the feature fires on chosen and rejected responses: "
        "(A_c − A_r) / (A_c + A_r + 2m) over the selected tokens (SAFER, arXiv 2507.00665).",
    ),
    "safer-attribution": (
        "SAFER effect",
        "The feature's mean attribution to the reward margin r(chosen) − r(rejected).",
    ),
}
"""Every explanation type the export writes: name → (display name, description)."""


def cuid(*parts: object) -> str:
    """A 25-character id in the shape of Neuronpedia's cuids, the same for the same parts, so
    exporting twice writes the same rows."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()
    return "c" + digest[:24]


def rounded(values: list[float]) -> list[float]:
    """To 3 decimals, as SAEDashboard's converter rounds every list it exports."""
    return [round(float(v), 3) for v in values]


def model_row(
    model_id: str,
    display_name: str,
    creator_id: str,
    owner: str,
    dimension: int,
    layers: int,
    neurons_per_layer: int,
    default_set: str,
    default_source: str,
    created: str,
) -> dict[str, Any]:
    """The `Model` row."""
    return {
        "id": model_id,
        "displayNameShort": model_id,
        "displayName": display_name,
        "creatorId": creator_id,
        "tlensId": None,
        "openRouterId": None,
        "dimension": dimension,
        "thinking": False,
        "visibility": "PUBLIC",
        "defaultSourceSetName": default_set,
        "defaultSourceId": default_source,
        "defaultGraphSourceSetName": None,
        "inferenceEnabled": False,
        "instruct": False,
        "layers": layers,
        "neuronsPerLayer": neurons_per_layer,
        "createdAt": created,
        "owner": owner,
        "updatedAt": created,
        "website": None,
    }


def source_set_row(
    model_id: str, name: str, description: str, creator_id: str, creator_name: str, created: str
) -> dict[str, Any]:
    """The `SourceSet` row: the family of SAEs the source belongs to."""
    return {
        "modelId": model_id,
        "name": name,
        "hasDashboards": True,
        "allowInferenceSearch": False,
        "visibility": "PUBLIC",
        "description": description,
        "type": "",
        "creatorName": creator_name,
        "urls": [],
        "creatorEmail": None,
        "creatorId": creator_id,
        "releaseName": None,
        "hasGraphs": False,
        "graphEnabled": False,
        "similarityMatrixEnabled": False,
        "defaultOfModelId": None,
        "defaultGraphModelId": None,
        "defaultRange": 1,
        "defaultShowBreaks": True,
        "showDfa": False,
        "showCorrelated": False,
        "showHeadAttribution": False,
        "showUmap": False,
        "createdAt": created,
    }


def source_row(
    model_id: str,
    source_id: str,
    set_name: str,
    creator_id: str,
    saelens_config: dict[str, Any] | None,
    num_prompts: int,
    dataset: str,
    notes: str,
    created: str,
) -> dict[str, Any]:
    """The `Source` row: the SAE (Neuronpedia's "layer" of every feature is its id)."""
    return {
        "id": source_id,
        "modelId": model_id,
        "hasDashboards": True,
        "inferenceEnabled": False,
        "saelensConfig": saelens_config,
        "saelensRelease": None,
        "saelensSaeId": None,
        "hfRepoId": None,
        "hfFolderId": None,
        "visibility": "PUBLIC",
        "defaultOfModelId": None,
        "setName": set_name,
        "creatorId": creator_id,
        "hasUmap": False,
        "hasUmapLogSparsity": False,
        "hasUmapClusters": False,
        "num_prompts": num_prompts,
        "num_tokens_in_prompt": None,
        "dataset": dataset,
        "notes": notes,
        "cosSimMatchModelId": None,
        "cosSimMatchSourceId": None,
        "createdAt": created,
    }


def feature_row(
    model_id: str,
    source_id: str,
    set_name: str,
    creator_id: str,
    facts: FeatureFacts,
    histogram: tuple[list[float], list[float]],
) -> dict[str, Any]:
    """The `Neuron` row of one feature: `maxActApprox` its largest activation,
    `frac_nonzero` the share of stored tokens it fires on, and `freq_hist_data_bar_values` /
    `_heights` its activation histogram (bin centres, counts)."""
    centres, counts = histogram
    return {
        "modelId": model_id,
        "layer": source_id,
        "index": str(facts.feature),
        "maxActApprox": round(facts.max_act, 3),
        "creatorId": creator_id,
        "frac_nonzero": facts.density,
        "freq_hist_data_bar_heights": rounded(counts),
        "freq_hist_data_bar_values": rounded(centres),
        "logits_hist_data_bar_heights": [],
        "logits_hist_data_bar_values": [],
        "neuron_alignment_indices": [],
        "neuron_alignment_l1": [],
        "neuron_alignment_values": [],
        "correlated_neurons_indices": [],
        "correlated_neurons_l1": [],
        "correlated_neurons_pearson": [],
        "decoder_weights_dist": [],
        "neg_str": [],
        "neg_values": [],
        "pos_str": [],
        "pos_values": [],
        "sourceSetName": set_name,
        "topkCosSimIndices": [],
        "topkCosSimValues": [],
        "vector": [],
        "vectorLabel": None,
        "hookName": None,
        "vectorDefaultSteerStrength": 10,
        "hasVector": False,
    }


def activation_row(
    model_id: str,
    source_id: str,
    feature: int,
    creator_id: str,
    spans: list[Span],
    data_source: str,
    data_index: str,
    bin_range: tuple[float, float, float],
    number: int,
) -> dict[str, Any]:
    """The `Activation` row of one example: `tokens` are the example's text cut at its
    tokens (the data's own text, the marks where text is left out kept as tokens of their
    own), `values` the feature's activation on each (0 between tokens), `maxValue` and
    `maxValueTokenIndex` the largest and where it is, `qualifyingTokenIndex` the token the
    example was drawn for. `binMin`/`binMax`/`binContains` are the activation bin it was
    drawn from and the share of the feature's activations in it; the top bin is −1/max/−1,
    as SAEDashboard writes it."""
    tokens = [span.text for span in spans]
    values = rounded([span.value if span.token else 0.0 for span in spans])
    focus = next((i for i, span in enumerate(spans) if span.focus), -1)
    peak = max(values, default=0.0)
    bin_min, bin_max, contains = bin_range
    return {
        "id": cuid(model_id, source_id, feature, "activation", number),
        "modelId": model_id,
        "layer": source_id,
        "index": str(feature),
        "creatorId": creator_id,
        "dataSource": data_source,
        "dataIndex": data_index,
        "tokens": tokens,
        "maxValue": peak,
        "minValue": min(values, default=0.0),
        "values": values,
        "maxValueTokenIndex": values.index(peak) if values else 0,
        "qualifyingTokenIndex": focus if focus >= 0 else None,
        "dfaValues": [],
        "dfaMaxValue": None,
        "dfaTargetIndex": None,
        "binMin": bin_min,
        "binMax": bin_max,
        "binContains": contains,
    }


def explanation_row(
    model_id: str,
    source_id: str,
    feature: int,
    author_id: str,
    type_name: str,
    model_name: str,
    description: str,
    score: float | None = None,
) -> dict[str, Any]:
    """One `Explanation` row; `scoreV2` is its score where it has one (the judge's fit)."""
    return {
        "id": cuid(model_id, source_id, feature, type_name, model_name),
        "modelId": model_id,
        "layer": source_id,
        "index": str(feature),
        "authorId": author_id,
        "description": description,
        "embedding": None,
        "typeName": type_name,
        "explanationModelName": model_name,
        "scoreV2": score,
        "umap_x": None,
        "umap_y": None,
        "umap_cluster": None,
        "umap_log_feature_sparsity": None,
    }


def explanations_of(
    model_id: str, source_id: str, author_id: str, facts: FeatureFacts, n_features: int
) -> list[dict[str, Any]]:
    """What SAFER says of one feature, as explanations: its salience, a person's tag and
    note, the judge's score and the attribution's effect, where each exists."""

    def row(type_name: str, model_name: str, text: str, score: float | None = None) -> Any:
        return explanation_row(
            model_id, source_id, facts.feature, author_id, type_name, model_name, text, score
        )

    rows = []
    if facts.salience != 0:
        rows.append(row("safer-salience", TOOL, salience_text(facts, n_features)))
    if facts.tag and not facts.tag_by_judge:
        rows.append(row("safer-tag", PERSON, facts.tag))
    if facts.note:
        rows.append(row("safer-note", PERSON, facts.note))
    judgement = facts.judgement
    if judgement is not None and judgement.score is not None:
        reason = f": {judgement.explanation}" if judgement.explanation else ""
        text = f"Safety relevance {judgement.score} of 5{reason}"
        rows.append(row("safer-judge", judgement.model, text, facts.fit))
    if facts.effect is not None:
        rows.append(row("safer-attribution", TOOL, effect_text(facts.effect)))
    return rows


def salience_text(facts: FeatureFacts, n_features: int) -> str:
    leans = {"chosen": "chosen", "rejected": "rejected"}.get(facts.leans)
    return (
        f"Salience {facts.salience:+.3f} (rank {facts.rank:,} of {n_features:,} by |salience|): "
        f"fires more on {leans} responses"
    )


def effect_text(effect: Effect) -> str:
    parts = [("train pairs", effect.train), ("test pairs", effect.test)]
    parts.append(("pairs the reward model orders wrongly", effect.wrong))
    said = [f"{value:+.4g} on {name}" for name, value in parts if not math.isnan(value)]
    return "Mean attribution to the reward margin: " + ", ".join(said)


def explanation_type_rows(creator_id: str, creator_name: str, created: str) -> list[dict[str, Any]]:
    """The `ExplanationType` rows the explanations refer to."""
    return [
        {
            "name": name,
            "displayName": display,
            "description": description,
            "featured": False,
            "isAttention": False,
            "explainerModelSettingsId": None,
            "settings": None,
            "url": "https://arxiv.org/abs/2507.00665",
            "creatorName": creator_name,
            "creatorId": creator_id,
            "createdAt": created,
            "updatedAt": created,
        }
        for name, (display, description) in EXPLANATION_TYPES.items()
    ]


def explanation_model_rows(judge_models: list[str], created: str) -> list[dict[str, Any]]:
    """The `ExplanationModelType` rows: the person, the tool and each judge model."""
    described = {
        PERSON: ("A person", "Written by a person in SAFER explorer."),
        TOOL: ("SAFER explorer", "Computed by SAFER explorer from the SAE's codes."),
    }
    for name in judge_models:
        described.setdefault(name, (name, f"The LLM judge model {name}."))
    return [
        {
            "name": name,
            "displayName": display,
            "description": description,
            "featured": False,
            "openRouterModelId": None,
            "url": None,
            "creatorName": "SAFER explorer",
            "createdAt": created,
            "updatedAt": created,
        }
        for name, (display, description) in described.items()
    ]
