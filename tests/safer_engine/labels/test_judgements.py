from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from safer_engine.errors import WorkspaceError
from safer_engine.labels import SCHEMA_VERSION, Judgement, JudgementLog, LabelStore
from safer_engine.labels.judgements import judgements

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SAE = "L2-topk4-32"


def scored(feature: int, score: int, prompt: str = "h1", model: str = "m") -> Judgement:
    return Judgement(
        SAE, feature, prompt, "openai", model, "http://x/v1", score, "why", None, None, "Score"
    )


def failed(feature: int, kind: str = "answer", prompt: str = "h1") -> Judgement:
    return Judgement(SAE, feature, prompt, "openai", "m", None, None, "", "bad format", kind, "??")  # type: ignore[arg-type]


@pytest.fixture
def log(tmp_path: Path) -> JudgementLog:
    return JudgementLog(LabelStore.open(tmp_path / "labels.sqlite", author="alice"))


def test_a_version_1_database_is_upgraded_by_creating_the_table(tmp_path: Path) -> None:
    db = Path(shutil.copy(FIXTURES / "workspace_v1" / "labels.sqlite", tmp_path / "labels.sqlite"))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tags_before = conn.execute("SELECT * FROM feature_labels ORDER BY id").fetchall()
    conn.close()
    with LabelStore.open(db, read_only=True) as store:  # read-only: opens as it is
        assert JudgementLog(store).latest(SAE) == {}
    assert judgements(db, SAE) == {}
    with LabelStore.open(db) as store:
        JudgementLog(store).add(scored(3, 5))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert conn.execute("SELECT * FROM feature_labels ORDER BY id").fetchall() == tags_before
    conn.close()
    assert judgements(db, SAE)[3].score == 5


def test_a_missing_database_has_no_judgements(tmp_path: Path) -> None:
    assert judgements(tmp_path / "labels.sqlite", SAE) == {}
    assert not (tmp_path / "labels.sqlite").exists()


def test_a_stored_judgement_carries_author_time_and_everything_asked(log: JudgementLog) -> None:
    stored = log.add(replace(scored(7, 4), prompt_tokens=100, completion_tokens=9))
    assert stored.author == "alice" and stored.at.endswith("+00:00")
    assert log.latest(SAE) == {7: stored}


def test_the_latest_score_wins_and_a_failure_shows_only_without_one(log: JudgementLog) -> None:
    log.add(scored(1, 2))
    log.add(scored(1, 5, prompt="h2"))
    log.add(failed(1, "request"))
    log.add(failed(2))
    log.add(failed(2, "request"))
    latest = log.latest(SAE)
    assert latest[1].score == 5
    assert latest[2].failure_kind == "request" and not latest[2].ok
    assert log.latest("another-sae") == {}


def test_cache_matches_prompt_backend_and_model_and_skips_failed_requests(
    log: JudgementLog,
) -> None:
    log.add(scored(1, 3))
    log.add(scored(2, 3, model="other"))
    log.add(failed(3, "answer"))
    log.add(failed(4, "request"))
    log.add(scored(5, 3, prompt="old"))
    prompts = {f: "h1" for f in range(1, 6)}
    assert set(log.cached(SAE, "openai", "m", prompts, retry_failed=False)) == {1, 3}
    assert set(log.cached(SAE, "openai", "m", prompts, retry_failed=True)) == {1}
    assert log.cached(SAE, "local", "m", prompts, retry_failed=False) == {}


def test_a_judgement_has_a_score_or_a_failure_never_both(log: JudgementLog) -> None:
    with pytest.raises(ValueError):
        log.add(replace(scored(1, 3), failure="x", failure_kind="answer"))
    with pytest.raises(ValueError):
        log.add(replace(failed(1), failure=None, failure_kind=None))
    # The table itself refuses what the code would never write.
    with pytest.raises(WorkspaceError), log.store.transaction() as conn:
        conn.execute(
            "INSERT INTO judgements (sae_id, feature, prompt_hash, backend, model, score, "
            "author, at) VALUES ('s', 1, 'h', 'openai', 'm', 7, 'a', 't')"
        )
    assert log.count(SAE) == 0


def test_the_reader_is_torch_free() -> None:
    probe = (
        "import sys\nfrom safer_engine.labels.judgements import judgements\n"
        "print(','.join(m for m in ('torch', 'transformers', 'openai') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
