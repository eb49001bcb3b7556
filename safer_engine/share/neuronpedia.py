"""`safer export neuronpedia`: an SAE's features in the layout Neuronpedia exports and imports.

Neuronpedia's own export (`export-data.py`, cited in `neuronpedia_records`) writes

    <out>/config/explanation_type.jsonl, explanation_model_type.jsonl
    <out>/<model id>/<source id>/model.jsonl, sourceset.jsonl, source.jsonl
    <out>/<model id>/<source id>/features/batch-<n>.jsonl.gz
    <out>/<model id>/<source id>/activations/batch-<n>.jsonl.gz
    <out>/<model id>/<source id>/explanations/batch-<n>.jsonl.gz

with 1,024 features (and their activations) per batch, ordered by feature index, gzipped at
level 5; the source's id is `<layer>-<source set name>`. This writes the same, from the
workspace's codes, statistics, labels and judgements; `safer_export.json` beside the records
says what was exported and how. The source's folder is written beside its final name and
renamed into place, so a cancel or a failure leaves the previous export (or none).
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safer_engine import artifacts as names
from safer_engine.codes.examples import FeatureExamples
from safer_engine.config import NeuronpediaConfig
from safer_engine.errors import WorkspaceError
from safer_engine.files import atomic_dir, write_text_atomic
from safer_engine.labels.fold import default_author
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.share import neuronpedia_records as rows
from safer_engine.share.analysis import dataset_name, finished, json_object, model_config
from safer_engine.share.features import FeatureFacts, feature_facts
from safer_engine.share.neuronpedia_rows import ActivationRows, ExportNames, Histograms
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace
from safer_engine.workspace.manifest import now
from safer_engine.workspace.stages import EXTRACT, RM, SALIENCE

BATCH = 1024
"""Features per batch file, and explanations per batch file, as Neuronpedia's export."""
GZIP_LEVEL = 5
RECORD = "safer_export.json"


@dataclass(frozen=True)
class NeuronpediaExport:
    """What was written, where."""

    folder: Path
    """<out>/<model id>/<source id>."""
    names: ExportNames
    features: int
    activations: int
    explanations: int
    bytes: int
    seconds: float


def export_neuronpedia(
    workspace: Workspace,
    sae_id: str,
    out: Path,
    config: NeuronpediaConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> NeuronpediaExport:
    """Write the SAE's features, their examples and SAFER's findings under `out`."""
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    facts = feature_facts(workspace, sae_id)
    chosen = _chosen(facts, config.features)
    reader = FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id))
    try:
        names_ = export_names(workspace, sae_id, reader.store, config)
        folder = Path(out) / names_.model_id / names_.source_id
        folder.parent.mkdir(parents=True, exist_ok=True)
        with atomic_dir(folder) as partial:
            counts = _write_source(
                workspace, sae_id, reader, facts, chosen, names_, config, partial, progress, cancel
            )
        _write_config(Path(out) / "config", facts, config)
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot write the export to {out}: {exc}.",
            "Choose a folder you can write with --out, and check it has free space.",
        ) from exc
    finally:
        reader.close()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return NeuronpediaExport(
        folder, names_, len(chosen), counts[0], counts[1], size, time.perf_counter() - started
    )


def export_names(
    workspace: Workspace, sae_id: str, store: StoreReader, config: NeuronpediaConfig
) -> ExportNames:
    """The model id, source set name and source id the export uses."""
    model_id = config.model_id or slug(Path(store.model).name) + "-rm"
    set_name = config.set_name or "safer-" + slug(re.sub(r"^L\d+-", "", sae_id))
    return ExportNames(model_id, set_name, f"{store.layer}-{set_name}")


def slug(text: str) -> str:
    """`text` as a Neuronpedia id: lowercase letters, digits, - and _."""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")[:100] or "model"


def _chosen(facts: list[FeatureFacts], top: int) -> list[FeatureFacts]:
    """The features to export (the top N by |salience|, or all), by feature index."""
    picked = sorted(facts, key=lambda f: f.rank)[:top] if top else facts
    return sorted(picked, key=lambda f: f.feature)


def _write_source(
    workspace: Workspace,
    sae_id: str,
    reader: FeatureExamples,
    facts: list[FeatureFacts],
    chosen: list[FeatureFacts],
    names_: ExportNames,
    config: NeuronpediaConfig,
    folder: Path,
    progress: Progress,
    cancel: CancelToken,
) -> tuple[int, int]:
    """Every file of the source's folder; (activations, explanations) written."""
    creator = config.creator_id
    creator_name = config.creator_name or default_author()
    model_info = model_config(workspace)
    created = finished(workspace, RM) or finished(workspace, SALIENCE, sae_id) or now()
    sae_cfg = json_object(workspace.sae_dir(sae_id) / names.SAE_CFG) or None
    store = reader.store
    _write_jsonl(
        folder / "model.jsonl",
        [
            rows.model_row(
                names_.model_id,
                f"{store.model} reward model (SAFER)",
                creator,
                creator_name,
                int(model_info.get("hidden_size", store.d_model)),
                int(model_info.get("num_hidden_layers", 0)),
                int(model_info.get("intermediate_size", 0)),
                names_.set_name,
                names_.source_id,
                created,
            )
        ],
    )
    description = f"SAFER: TopK SAE on the residual stream of a {store.model} reward model"
    _write_jsonl(
        folder / "sourceset.jsonl",
        [
            rows.source_set_row(
                names_.model_id, names_.set_name, description, creator, creator_name, created
            )
        ],
    )
    _write_jsonl(
        folder / "source.jsonl",
        [
            rows.source_row(
                names_.model_id,
                names_.source_id,
                names_.set_name,
                creator,
                sae_cfg,
                store.n_docs,
                dataset_name(workspace),
                _notes(workspace, sae_id, reader),
                finished(workspace, SALIENCE, sae_id) or created,
            )
        ],
    )
    examples = ActivationRows(workspace, reader, names_, config)
    histograms = Histograms(reader)
    n_activations = 0
    for number, batch in enumerate(_batches(chosen, BATCH)):
        features = []
        activations: list[dict[str, Any]] = []
        for done, item in enumerate(batch, start=number * BATCH):
            cancel.check("the Neuronpedia export")
            progress("features and their examples", done, len(chosen))
            features.append(
                rows.feature_row(
                    names_.model_id,
                    names_.source_id,
                    names_.set_name,
                    creator,
                    item,
                    histograms.of(item.feature),
                )
            )
            activations += examples.of(item.feature, item.max_act)
        _write_gz(folder / "features" / f"batch-{number}.jsonl.gz", features)
        _write_gz(folder / "activations" / f"batch-{number}.jsonl.gz", activations)
        n_activations += len(activations)
    progress("features and their examples", len(chosen), len(chosen))
    explained = [
        row
        for item in chosen
        for row in rows.explanations_of(
            names_.model_id, names_.source_id, creator, item, len(facts)
        )
    ]
    for number, batch_rows in enumerate(_batches(explained, BATCH)):
        _write_gz(folder / "explanations" / f"batch-{number}.jsonl.gz", batch_rows)
    record = {
        "sae_id": sae_id,
        "workspace": str(workspace.root),
        "config": config.to_dict(),
        "features": len(chosen),
        "activations": n_activations,
        "explanations": len(explained),
    }
    write_text_atomic(folder / RECORD, json.dumps(record, indent=2) + "\n")
    return n_activations, len(explained)


def _write_config(folder: Path, facts: list[FeatureFacts], config: NeuronpediaConfig) -> None:
    """The explanation types and models the explanations name, added to what a folder of
    Neuronpedia's own exports already lists (rows of the same name are replaced)."""
    created = now()
    judges = sorted({f.judgement.model for f in facts if f.judgement is not None})
    creator_name = config.creator_name or default_author()
    folder.mkdir(parents=True, exist_ok=True)
    for name, new in (
        (
            "explanation_type.jsonl",
            rows.explanation_type_rows(config.creator_id, creator_name, created),
        ),
        ("explanation_model_type.jsonl", rows.explanation_model_rows(judges, created)),
    ):
        path = folder / name
        ours = {row["name"] for row in new}
        kept = [row for row in _read_jsonl(path) if row.get("name") not in ours]
        _write_jsonl(path, [*kept, *new])


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(_line(record) for record in records))


def _write_gz(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(_line(record) for record in records).encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _notes(workspace: Workspace, sae_id: str, reader: FeatureExamples) -> str:
    extract = workspace.stage(EXTRACT)
    policy = str(extract.config.get("policy", "")) if extract is not None else ""
    salience = workspace.stage(SALIENCE, sae_id)
    split = str(salience.config.get("split", "")) if salience is not None else ""
    codes = reader.codes
    return (
        f"SAFER explorer ({sae_id}): a TopK SAE (k={codes.k}, {codes.n_latents:,} latents) on "
        f"the residual stream after block {reader.store.layer} of a reward model trained from "
        f"{reader.store.model}. Salience compares chosen and rejected responses of the {split} "
        f"split on their {policy.replace('_', ' ')} tokens; examples are the data's own text."
    )
