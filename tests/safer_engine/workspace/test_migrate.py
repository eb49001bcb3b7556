"""A workspace written before the stage model (manifest version 1) still opens, and every
stage it finished is current under the new rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from safer_engine.activations.stage import store_is_current
from safer_engine.config import ExtractConfig, RMConfig
from safer_engine.sae.stage import encode_stage, sae_artifacts
from safer_engine.salience.stage import salience_stage, salience_stage_of
from safer_engine.service.explorer import Explorer
from safer_engine.train.stage import eval_is_current, rm_stage
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.runs import BASE_RUN, list_runs
from safer_engine.workspace.stages import SAE

FIXTURE = Path(__file__).parents[2] / "fixtures" / "workspace_v1"
SAE_ID = "L2-topk4-32"


@pytest.fixture
def old(tmp_path: Path) -> Workspace:
    return Workspace.open(Path(shutil.copytree(FIXTURE, tmp_path / "ws")))


def manifest_version(workspace: Workspace) -> int:
    return int(json.loads(workspace.manifest_path.read_text())["manifest_version"])


def test_every_finished_stage_of_a_version_1_workspace_is_current(old: Workspace) -> None:
    assert manifest_version(old) == 1
    assert sorted(old.records()) == sorted(
        ["data", "rm", "eval", "extract", f"sae/{SAE_ID}", f"encode/{SAE_ID}", f"salience/{SAE_ID}"]
    )
    assert old.stale() == []
    assert old.is_current(rm_stage(old, RMConfig.load(old.rm_dir / "rm_config.json")))
    assert eval_is_current(old)
    assert store_is_current(old, ExtractConfig(layer=2, policy="all"))
    assert old.is_current(salience_stage_of(old, SAE_ID, "train"))
    # the SAE's recorded config holds (today's defaults differ, so `safer train-sae` with
    # them would train a new one, as it should)
    recorded = old.stage(SAE, SAE_ID)
    assert recorded is not None
    stage = Stage(SAE, recorded.config, old.inputs(SAE, SAE_ID), sae_artifacts(old, SAE_ID), SAE_ID)
    assert old.is_current(stage)
    assert encode_stage(old, SAE_ID) is None
    assert salience_stage(old, SAE_ID) is None
    assert manifest_version(old) == 1  # reading never rewrites it


def test_the_explorer_reads_its_features_labels_and_examples(old: Workspace) -> None:
    explorer = Explorer.open(old.root)
    try:
        assert explorer.sae_id == SAE_ID
        assert explorer.labels()[3].tag == "safe"
        feature = int(explorer.features.sort("rank")["feature"][0])
        examples, histogram = explorer.examples(feature)
        assert examples and sum(histogram.counts) > 0
        assert len(histogram.edges) == len(histogram.counts) + 1
        # a store from before the texts were kept: no prompt, the tokens' pieces re-joined
        store = explorer.reader().store
        assert explorer.pair_texts([0]) == [("", store.doc_text(int(store.chosen_doc[0])))]
    finally:
        explorer.close()


def test_the_base_run_is_listed_with_its_evaluation(old: Workspace) -> None:
    (base,) = list_runs(old)
    assert base.run_id == BASE_RUN and base.status == "done"
    assert base.info["eval"] == "eval.json"


def test_the_next_record_writes_version_2_and_a_new_encoding_moves_the_index(
    old: Workspace,
) -> None:
    assert encode_stage(old, SAE_ID, force=True) is not None
    assert manifest_version(old) == 2
    assert set(old.stale()) == {f"salience/{SAE_ID}"}
    assert salience_stage(old, SAE_ID) is not None
    assert (old.sae_dir(SAE_ID) / "features.h5").exists()
    assert old.stale() == []
