"""Planning on a workspace folder with a salience table and a stand-in examples reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from safer_engine import artifacts as names
from safer_engine.config import JudgeConfig
from safer_engine.errors import JudgeError
from safer_engine.judge import JudgePlan, judged_sae, plan_judging
from safer_engine.labels import Judgement, JudgementLog, LabelStore
from safer_engine.workspace import Workspace
from tests.safer_engine.judge import SAE, Context

SALIENCE = {0: 0.1, 1: -0.9, 2: 0.8, 3: 0.0, 4: -0.5, 5: 0.3}
DEAD = {2}
KEY = ("openai", "m", "http://x/v1")
ASKED: list[tuple[int, int]] = []
"""(feature, contexts) of every examples() call."""


class Examples:
    """Stands in for `FeatureExamples`: feature 2 never fires."""

    def __init__(self, store_path: Path, sae_dir: Path) -> None:
        self.n_latents = len(SALIENCE)

    def examples(self, feature: int, per_quantile: int, quantiles: tuple[float, ...]) -> list:
        assert quantiles == (1.0,)
        ASKED.append((feature, per_quantile))
        return [] if feature in DEAD else [Context(feature)] * per_quantile

    def close(self) -> None:
        pass


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    folder = workspace.sae_dir(SAE)
    folder.mkdir(parents=True)
    table = pl.DataFrame({"feature": list(SALIENCE), "salience": list(SALIENCE.values())})
    table.write_parquet(folder / names.SALIENCE_FILE)
    monkeypatch.setattr("safer_engine.judge.plan.FeatureExamples", Examples)
    ASKED.clear()
    return workspace


def plan(ws: Workspace, log: JudgementLog | None = None, **settings: Any) -> JudgePlan:
    return plan_judging(ws, SAE, JudgeConfig(**settings), KEY, log)


def test_top_n_takes_the_largest_salience_and_passes_over_features_that_never_fire(
    ws: Workspace,
) -> None:
    planned = plan(ws, top=3, examples=5)
    assert [job.feature for job in planned.jobs] == [1, 4, 5]
    assert [job.salience for job in planned.jobs] == [-0.9, -0.5, 0.3]
    assert planned.never_fire == [2]
    assert ASKED == [(1, 5), (2, 5), (4, 5), (5, 5)]
    assert (planned.backend, planned.model, planned.base_url) == KEY
    assert planned.to_ask == planned.jobs


def test_top_beyond_the_live_features_takes_them_all(ws: Workspace) -> None:
    assert [job.feature for job in plan(ws, top=50).jobs] == [1, 4, 5, 0, 3]


def test_listed_features_keep_their_order(ws: Workspace) -> None:
    planned = plan(ws, features="5,0")
    assert [job.feature for job in planned.jobs] == [5, 0]


@pytest.mark.parametrize(
    ("features", "message"),
    [("2", "Feature 2 of SAE L2-topk4-32 never fires"), ("6", "Feature 6 is not in SAE")],
)
def test_listed_features_must_exist_and_fire(ws: Workspace, features: str, message: str) -> None:
    with pytest.raises(JudgeError, match=message):
        plan(ws, features=features)


def test_stored_answers_to_the_same_prompt_are_attached(ws: Workspace) -> None:
    first = plan(ws, top=2)
    with LabelStore.open(ws.labels_path) as store:
        log = JudgementLog(store)
        job = first.jobs[0]
        log.add(
            Judgement(
                SAE, job.feature, job.prompt_hash, "openai", "m", None, 3, "x", None, None, ""
            )
        )
        planned = plan(ws, log, top=2)
        other_model = plan_judging(ws, SAE, JudgeConfig(top=2), ("openai", "n", None), log)
    assert planned.jobs[0].cached is not None and planned.jobs[0].cached.score == 3
    assert [j.feature for j in planned.to_ask] == [first.jobs[1].feature]
    assert len(other_model.to_ask) == 2
    fewer_contexts = plan(ws, top=2, examples=3)  # another prompt: not the same answer
    assert fewer_contexts.jobs[0].prompt_hash != job.prompt_hash


def test_a_workspace_without_an_sae_or_salience_says_what_to_run(ws: Workspace) -> None:
    with pytest.raises(JudgeError, match="has no SAE yet") as raised:
        judged_sae(ws, None)
    assert "safer train-sae" in raised.value.hint
    (ws.sae_dir(SAE) / names.SALIENCE_FILE).unlink()
    with pytest.raises(JudgeError, match="has no salience table yet") as raised:
        plan(ws)
    assert "safer encode" in raised.value.hint
