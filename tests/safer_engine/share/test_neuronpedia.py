"""The Neuronpedia export of a synthetic workspace, read back field by field.

The column lists below are Neuronpedia's own: what its database export
(utils/neuronpedia-utils/neuronpedia_utils/export-data.py) selects from each table, and the
scalar columns of its schema (apps/webapp/prisma/schema.prisma) for the rows it exports
whole. They are written out here, not imported, so a renamed field fails the test.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from safer_engine.codes.examples import FeatureExamples
from safer_engine.config import NeuronpediaConfig
from safer_engine.errors import Cancelled, ConfigError
from safer_engine.progress import CancelToken
from safer_engine.share.neuronpedia import export_neuronpedia
from safer_engine.store.text import MARKERS
from safer_engine.workspace import Workspace
from tests.audit_workspace import JUDGE_MODEL, Annotated, annotate, read_jsonl

NEURON = [
    "modelId", "layer", "index", "maxActApprox", "creatorId", "frac_nonzero",
    "freq_hist_data_bar_heights", "freq_hist_data_bar_values", "logits_hist_data_bar_heights",
    "logits_hist_data_bar_values", "neuron_alignment_indices", "neuron_alignment_l1",
    "neuron_alignment_values", "correlated_neurons_indices", "correlated_neurons_l1",
    "correlated_neurons_pearson", "decoder_weights_dist", "neg_str", "neg_values", "pos_str",
    "pos_values", "sourceSetName", "topkCosSimIndices", "topkCosSimValues", "vector",
    "vectorLabel", "hookName", "vectorDefaultSteerStrength", "hasVector",
]  # fmt: skip
ACTIVATION = [
    "id", "modelId", "layer", "index", "creatorId", "dataSource", "tokens", "maxValue",
    "minValue", "values", "maxValueTokenIndex", "dfaValues", "dfaMaxValue", "dfaTargetIndex",
    "binContains", "binMin", "binMax",
]  # fmt: skip
ACTIVATION_SCHEMA_EXTRA = ["dataIndex", "qualifyingTokenIndex"]
EXPLANATION = [
    "id", "modelId", "layer", "index", "authorId", "description", "embedding", "typeName",
    "explanationModelName", "umap_x", "umap_y", "umap_cluster", "umap_log_feature_sparsity",
]  # fmt: skip
EXPLANATION_SCHEMA_EXTRA = ["scoreV2"]
MODEL = [
    "id", "displayNameShort", "displayName", "creatorId", "tlensId", "openRouterId",
    "dimension", "thinking", "visibility", "defaultSourceSetName", "defaultSourceId",
    "defaultGraphSourceSetName", "inferenceEnabled", "instruct", "layers", "neuronsPerLayer",
    "createdAt", "owner", "updatedAt", "website",
]  # fmt: skip
SOURCE = [
    "id", "modelId", "hasDashboards", "inferenceEnabled", "saelensConfig", "saelensRelease",
    "saelensSaeId", "hfRepoId", "hfFolderId", "visibility", "defaultOfModelId", "setName",
    "creatorId", "hasUmap", "hasUmapLogSparsity", "hasUmapClusters", "num_prompts",
    "num_tokens_in_prompt", "dataset", "notes", "cosSimMatchModelId", "cosSimMatchSourceId",
    "createdAt",
]  # fmt: skip
SOURCE_SET = [
    "modelId", "name", "hasDashboards", "allowInferenceSearch", "visibility", "description",
    "type", "creatorName", "urls", "creatorEmail", "creatorId", "releaseName", "hasGraphs",
    "graphEnabled", "similarityMatrixEnabled", "defaultOfModelId", "defaultGraphModelId",
    "defaultRange", "defaultShowBreaks", "showDfa", "showCorrelated", "showHeadAttribution",
    "showUmap", "createdAt",
]  # fmt: skip
EXPLANATION_TYPE = [
    "name", "displayName", "description", "featured", "isAttention",
    "explainerModelSettingsId", "settings", "url", "creatorName", "creatorId", "createdAt",
    "updatedAt",
]  # fmt: skip
EXPLANATION_MODEL_TYPE = [
    "name", "displayName", "description", "featured", "openRouterModelId", "url",
    "creatorName", "createdAt", "updatedAt",
]  # fmt: skip


def examples_of(root: Path, sae_id: str) -> closing[FeatureExamples]:
    return closing(FeatureExamples(root / "store.h5", root / "sae" / sae_id))


@pytest.fixture
def exported(synthetic_workspace: Path, tmp_path: Path) -> tuple[Path, Path, Annotated]:
    notes = annotate(synthetic_workspace)
    workspace = Workspace.open(synthetic_workspace)
    config = NeuronpediaConfig(
        top_examples=4, intervals=3, interval_examples=2, creator_name="alice"
    )
    done = export_neuronpedia(workspace, notes.sae_id, tmp_path / "exports", config)
    assert done.folder == tmp_path / "exports" / "synthetic-rm" / "12-safer-synthetic-topk4-64"
    return tmp_path / "exports", done.folder, notes


def test_the_layout_and_every_rows_fields_are_neuronpedias(
    exported: tuple[Path, Path, Annotated],
) -> None:
    out, folder, _ = exported
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "config/explanation_model_type.jsonl",
        "config/explanation_type.jsonl",
        *(
            f"synthetic-rm/12-safer-synthetic-topk4-64/{name}"
            for name in (
                "activations/batch-0.jsonl.gz",
                "explanations/batch-0.jsonl.gz",
                "features/batch-0.jsonl.gz",
                "model.jsonl",
                "safer_export.json",
                "source.jsonl",
                "sourceset.jsonl",
            )
        ),
    ]
    for name, columns in (
        ("features/batch-0.jsonl.gz", NEURON),
        ("activations/batch-0.jsonl.gz", ACTIVATION + ACTIVATION_SCHEMA_EXTRA),
        ("explanations/batch-0.jsonl.gz", EXPLANATION + EXPLANATION_SCHEMA_EXTRA),
        ("model.jsonl", MODEL),
        ("source.jsonl", SOURCE),
        ("sourceset.jsonl", SOURCE_SET),
    ):
        rows = read_jsonl(folder / name)
        assert rows, name
        assert all(sorted(row) == sorted(columns) for row in rows), name
    for name, columns in (
        ("explanation_type.jsonl", EXPLANATION_TYPE),
        ("explanation_model_type.jsonl", EXPLANATION_MODEL_TYPE),
    ):
        assert all(sorted(row) == sorted(columns) for row in read_jsonl(out / "config" / name))
    model = read_jsonl(folder / "model.jsonl")[0]
    source = read_jsonl(folder / "source.jsonl")[0]
    source_set = read_jsonl(folder / "sourceset.jsonl")[0]
    assert (model["id"], model["defaultSourceId"], model["defaultSourceSetName"]) == (
        "synthetic-rm",
        "12-safer-synthetic-topk4-64",
        "safer-synthetic-topk4-64",
    )
    assert model["dimension"] == 16  # the synthetic store's width (it has no reward model)
    assert (source["id"], source["modelId"], source["setName"]) == (
        "12-safer-synthetic-topk4-64",
        "synthetic-rm",
        "safer-synthetic-topk4-64",
    )
    assert source["num_prompts"] == 40  # 20 pairs, 40 documents
    assert (source_set["name"], source_set["creatorName"]) == ("safer-synthetic-topk4-64", "alice")


def test_features_carry_the_salience_tables_figures_and_histograms(
    exported: tuple[Path, Path, Annotated], synthetic_workspace: Path
) -> None:
    _, folder, notes = exported
    features = read_jsonl(folder / "features" / "batch-0.jsonl.gz")
    table = pl.read_parquet(synthetic_workspace / "sae" / notes.sae_id / "salience.parquet")
    assert [f["index"] for f in features] == [str(i) for i in range(64)]  # by index, as text
    with examples_of(synthetic_workspace, notes.sae_id) as reader:
        for row in table.iter_rows(named=True):
            feature = features[row["feature"]]
            assert feature["modelId"] == "synthetic-rm"
            assert feature["layer"] == "12-safer-synthetic-topk4-64"
            assert feature["sourceSetName"] == "safer-synthetic-topk4-64"
            assert feature["maxActApprox"] == round(row["max_act"], 3)
            assert feature["frac_nonzero"] == pytest.approx(row["density"])
            counts = reader.histogram(row["feature"]).counts
            heights = feature["freq_hist_data_bar_heights"]
            assert heights == counts[: len(heights)] and sum(heights) == sum(counts)
            centres = feature["freq_hist_data_bar_values"]
            assert len(centres) == len(heights) and centres == sorted(centres)
            assert feature["hasVector"] is False and feature["vector"] == []


def test_activations_are_the_examples_own_text_and_activations(
    exported: tuple[Path, Path, Annotated], synthetic_workspace: Path
) -> None:
    _, folder, notes = exported
    activations = read_jsonl(folder / "activations" / "batch-0.jsonl.gz")
    features = {f["index"]: f for f in read_jsonl(folder / "features" / "batch-0.jsonl.gz")}
    pairs = pl.read_parquet(synthetic_workspace / "data" / "pairs.parquet")
    texts = {row["pair_id"]: row for row in pairs.iter_rows(named=True)}
    by_feature: dict[str, list[dict[str, Any]]] = {}
    for row in activations:
        by_feature.setdefault(row["index"], []).append(row)
    assert len({row["id"] for row in activations}) == len(activations)
    with examples_of(synthetic_workspace, notes.sae_id) as reader:
        for index, rows in by_feature.items():
            top = reader.examples(int(index), 4, (1.0,), 24)
            assert len(rows) >= len(top)
            for row, example in zip(rows, top, strict=False):
                assert row["tokens"] == [span.text for span in example.spans]
                assert row["values"][row["qualifyingTokenIndex"]] == round(example.activation, 3)
                assert (row["binMin"], row["binContains"]) == (-1, -1)
                assert row["binMax"] == features[index]["maxActApprox"]
            # the strongest example holds the feature's largest activation
            assert rows[0]["maxValue"] == features[index]["maxActApprox"]
            for row in rows:
                assert len(row["tokens"]) == len(row["values"])
                assert (
                    row["maxValue"]
                    == max(row["values"])
                    == row["values"][row["maxValueTokenIndex"]]
                )
                assert row["minValue"] == min(row["values"]) == 0.0
                drawn = row["values"][row["qualifyingTokenIndex"]]
                if row["binMin"] != -1:  # an interval bin: its token's activation lies in it
                    assert 0 < row["binContains"] <= 1
                    assert row["binMin"] < drawn <= row["binMax"] + 5e-4
                # the data's own text: after the response mark, the response as imported
                pair_id, side = row["dataIndex"].removeprefix("pair ").split(", ")
                tokens = row["tokens"]
                if MARKERS["start"] in tokens:
                    after = tokens[tokens.index(MARKERS["start"]) + 1 :]
                    shown = "".join(t for t in after if t not in MARKERS.values())
                    responses = texts[pair_id]["chosen"], texts[pair_id]["rejected"]
                    assert any(r.startswith(shown) for r in responses), (shown, responses)
                assert side.removesuffix(" response") in ("chosen", "rejected", "both")
            intervals = {(r["binMin"], r["binMax"]): r["binContains"] for r in rows[len(top) :]}
            assert all(r["binMin"] != -1 for r in rows[len(top) :])
            assert len(intervals) <= 3 and sum(intervals.values()) <= 1.0
            widths = [hi - lo for lo, hi in intervals]  # equal intervals of the range
            assert max(widths, default=0) - min(widths, default=0) < 2e-3
    dead = [f for f in features.values() if f["maxActApprox"] == 0]
    assert all(f["index"] not in by_feature for f in dead)


def test_tags_notes_judge_scores_salience_and_effects_are_explanations(
    exported: tuple[Path, Path, Annotated], synthetic_workspace: Path
) -> None:
    out, folder, notes = exported
    rows = read_jsonl(folder / "explanations" / "batch-0.jsonl.gz")
    said = {(r["index"], r["typeName"]): r for r in rows}
    unsafe, safe = str(notes.unsafe), str(notes.safe)
    assert said[(unsafe, "safer-tag")]["description"] == "unsafe"
    assert said[(unsafe, "safer-tag")]["explanationModelName"] == "safer-person"
    assert said[(safe, "safer-tag")]["description"] == "safe"
    assert said[(unsafe, "safer-note")]["description"] == "fires on <harmful> requests & answers"
    judged = said[(unsafe, "safer-judge")]
    assert judged["description"] == "Safety relevance 5 of 5: Refusals of harmful requests."
    assert judged["explanationModelName"] == JUDGE_MODEL
    assert judged["scoreV2"] is None  # no fit measured
    assert said[(safe, "safer-judge")]["description"].startswith("Safety relevance 2 of 5")
    for feature, (train, test, wrong) in notes.effects.items():
        text = said[(str(feature), "safer-attribution")]["description"]
        assert f"{train:+.4g} on train pairs" in text and f"{test:+.4g} on test pairs" in text
        assert f"{wrong:+.4g} on pairs the reward model orders wrongly" in text
    table = pl.read_parquet(synthetic_workspace / "sae" / notes.sae_id / "salience.parquet")
    for row in table.iter_rows(named=True):
        key = (str(row["feature"]), "safer-salience")
        if row["salience"] == 0:
            assert key not in said
        else:
            assert said[key]["description"].startswith(f"Salience {row['salience']:+.3f} ")
    assert not [
        r for r in rows if r["typeName"] == "safer-tag" and r["index"] not in (unsafe, safe)
    ]
    assert [int(r["index"]) for r in rows] == sorted(int(r["index"]) for r in rows)
    # every type and model an explanation names has its row in config/
    types = {r["name"] for r in read_jsonl(out / "config" / "explanation_type.jsonl")}
    models = {r["name"] for r in read_jsonl(out / "config" / "explanation_model_type.jsonl")}
    assert {r["typeName"] for r in rows} <= types
    assert {r["explanationModelName"] for r in rows} <= models


def test_exporting_again_writes_the_same_rows_and_keeps_other_config_rows(
    exported: tuple[Path, Path, Annotated], synthetic_workspace: Path
) -> None:
    out, folder, notes = exported
    before = {p: p.read_bytes() for p in folder.rglob("*.gz")}
    types = out / "config" / "explanation_type.jsonl"
    theirs = {"name": "oai_token-act-pair", "displayName": "theirs"}
    types.write_text(types.read_text() + json.dumps(theirs) + "\n")
    workspace = Workspace.open(synthetic_workspace)
    config = NeuronpediaConfig(
        top_examples=4, intervals=3, interval_examples=2, creator_name="alice"
    )
    export_neuronpedia(workspace, notes.sae_id, out, config)
    assert {p: p.read_bytes() for p in folder.rglob("*.gz")} == before
    names = [row["name"] for row in read_jsonl(types)]
    assert names.count("safer-tag") == 1 and "oai_token-act-pair" in names


def test_the_top_features_by_salience_under_names_of_ones_choice(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    notes = annotate(synthetic_workspace)
    workspace = Workspace.open(synthetic_workspace)
    config = NeuronpediaConfig(features=5, model_id="my-rm", set_name="res-safer")
    done = export_neuronpedia(workspace, notes.sae_id, tmp_path, config)
    assert done.folder == tmp_path / "my-rm" / "12-res-safer"
    indices = [f["index"] for f in read_jsonl(done.folder / "features" / "batch-0.jsonl.gz")]
    assert indices == sorted((str(f) for f in notes.top[:5]), key=int)
    assert done.features == 5


def test_a_cancelled_export_leaves_the_earlier_one_whole(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    workspace = Workspace.open(synthetic_workspace)
    sae_id = workspace.sae_ids()[-1]
    out = tmp_path / "exports"
    done = export_neuronpedia(workspace, sae_id, out, NeuronpediaConfig(features=3))
    before = {p: p.read_bytes() for p in done.folder.rglob("*") if p.is_file()}
    cancel = CancelToken()

    def progress(task: str, finished: int, total: int | None) -> None:
        if finished >= 10:  # part of the way through the features
            cancel.cancel()

    with pytest.raises(Cancelled):
        export_neuronpedia(workspace, sae_id, out, NeuronpediaConfig(), progress, cancel)
    assert {p: p.read_bytes() for p in done.folder.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in done.folder.parent.iterdir()) == [done.folder.name]


@pytest.mark.parametrize(
    ("field", "value"), [("model_id", "My RM"), ("set_name", "a/b"), ("top_examples", 0)]
)
def test_names_neuronpedia_would_refuse_are_refused(field: str, value: object) -> None:
    with pytest.raises(ConfigError):
        NeuronpediaConfig(**{field: value})
