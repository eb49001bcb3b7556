from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from safer_engine.labels import Judgement, JudgementLog, LabelStore
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import SALIENCE

SAE = "L2-topk4-12"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def feature_table(n: int) -> pl.DataFrame:
    """`n` features with alternating signs and every statistic distinct, written by hand."""
    salience = [((-1) ** i) * (0.9 - 0.9 * i / n) for i in range(n)]
    return pl.DataFrame(
        {
            "feature": list(range(n)),
            "salience": salience,
            "abs_salience": [abs(s) for s in salience],
            "mean_act_diff": [s * 2 for s in salience],
            "firing_rate_diff": [s / 2 for s in salience],
            "fire_rate_chosen": [0.5 + s / 4 for s in salience],
            "fire_rate_rejected": [0.5 - s / 4 for s in salience],
            "density": [0.01 * ((i * 7) % n + 1) for i in range(n)],
            "max_act": [10.0 - i * 9 / n for i in range(n)],
            # over every token, and how many tokens each kind of figure covers
            "fire_rate_chosen_all": [0.3 + s / 8 for s in salience],
            "fire_rate_rejected_all": [0.3 - s / 8 for s in salience],
            "tokens_chosen": [2480.0] * n,
            "tokens_rejected": [2471.0] * n,
            "tokens_chosen_all": [30512.0] * n,
            "tokens_rejected_all": [29488.0] * n,
            "selection": ["sentence_end"] * n,
        }
    )


@pytest.fixture
def features_workspace(tmp_path: Path) -> Callable[[int], Path]:
    """A workspace with only a feature table (no store): every pixel of the Features screen
    is reproducible. Features 0 and 1 are tagged, and 1 has a note; the judge scored 0, 1
    and 2 and failed on 3."""

    def build(n: int = 12) -> Path:
        workspace = Workspace.open(tmp_path / f"ws{n}", create=True)
        workspace.record(Stage(SALIENCE, {"split": "train"}, {}, (), SAE))
        workspace.sae_dir(SAE).mkdir(parents=True)
        feature_table(n).write_parquet(workspace.sae_dir(SAE) / "salience.parquet")
        with LabelStore.open(workspace.root / "labels.sqlite", author="alice") as labels:
            labels.tag(SAE, 0, "unsafe")
            labels.tag(SAE, 1, "safe")
            labels.note(SAE, 1, "refusal: I can't help with that")
            add_judgements(labels, {0: 5, 1: 1, 2: 4, 3: None})
        return workspace.root

    return build


def add_judgements(labels: LabelStore, scores: dict[int, int | None], sae: str = SAE) -> None:
    """Store a judge's answers: a score, or (None) an answer it could not parse."""
    log = JudgementLog(labels)
    for feature, score in scores.items():
        failure = None if score is not None else "no 'Score: N' line"
        explanation = f"judged {score}: fires on refusals" if score is not None else ""
        log.add(
            Judgement(
                sae,
                feature,
                "hash",
                "openai",
                "judge-test",
                "http://127.0.0.1:1/v1",
                score,
                explanation,
                failure,
                None if failure is None else "answer",
                "",
            )
        )
