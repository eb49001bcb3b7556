"""The local backend on the tiny random Llama chat model: offline, and its garbage answers
are failures, never scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.errors import ModelError
from safer_engine.judge import judge_features
from safer_engine.judge.local_chat import LocalChat
from safer_engine.labels import JudgementLog, LabelStore
from tests.safer_engine.judge import plan_of, stored


def judge_locally(db: Path, model: str, features: list[int]):  # type: ignore[no-untyped-def]
    backend = LocalChat(model, max_tokens=8)
    with LabelStore.open(db) as store:
        log = JudgementLog(store)
        return judge_features(plan_of(backend, features, log), backend, log, concurrency=4)


def test_a_random_model_s_answers_are_stored_as_failures(tiny_llama: Path, tmp_path: Path) -> None:
    db = tmp_path / "labels.sqlite"
    report = judge_locally(db, str(tiny_llama), [1, 2])
    assert report.stopped is None
    t = report.totals
    assert (t.judged, t.failed, t.calls, t.retries) == (0, 2, 2, 0)
    assert t.prompt_tokens > 100 and 0 < t.completion_tokens <= 16
    for judgement in report.results.values():
        assert judgement.failure_kind == "answer" and judgement.failure
        assert (judgement.backend, judgement.model, judgement.base_url) == (
            "local",
            str(tiny_llama),
            None,
        )
    assert [score for _, score, _, _ in stored(db)] == [None, None]
    again = judge_locally(db, str(tiny_llama), [1, 2])
    assert again.totals.cached == 2 and again.totals.calls == 0


def test_the_local_judge_stays_offline(tmp_path: Path) -> None:
    report = judge_locally(tmp_path / "labels.sqlite", "some-org/some-chat-model", [1])
    assert isinstance(report.stopped, ModelError)
    assert "runs offline" in report.stopped.message and "smollm2" in report.stopped.hint
    assert report.totals.calls == 0 and stored(tmp_path / "labels.sqlite") == []


@pytest.mark.slow
def test_a_model_without_a_chat_template_is_refused(tiny_bert: Path, tmp_path: Path) -> None:
    report = judge_locally(tmp_path / "labels.sqlite", str(tiny_bert), [1])
    assert isinstance(report.stopped, ModelError)
    assert "no chat template" in report.stopped.message
