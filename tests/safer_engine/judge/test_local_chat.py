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


def test_a_random_model_is_guided_into_the_answer_format(tiny_llama: Path, tmp_path: Path) -> None:
    db = tmp_path / "labels.sqlite"
    report = judge_locally(db, str(tiny_llama), [1, 2])
    assert report.stopped is None
    t = report.totals
    assert (t.judged + t.failed, t.calls, t.retries) == (2, 2, 0)
    assert t.prompt_tokens > 100 and 0 < t.completion_tokens <= 2 * (8 + 1)  # max_tokens 8
    for judgement in report.results.values():
        # the score is the model's most likely of 1-5 after "Score:"; an empty explanation
        # (likely from random weights) still fails the strict parse
        assert judgement.answer.startswith("Score: ") and "\nExplanation:" in judgement.answer
        assert (judgement.score is not None) != (judgement.failure_kind == "answer")
        assert (judgement.backend, judgement.model, judgement.base_url) == (
            "local",
            str(tiny_llama),
            None,
        )
    assert all(score is None or 1 <= score <= 5 for _, score, _, _ in stored(db))
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


@pytest.fixture(scope="module")
def yes_no_llama(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny chat model with words of its own for yes and no (the fixture's tokenizer
    reads both as unknown)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    tokenizer.add_tokens(["yes", "no", "Example"])
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    model.resize_token_embeddings(len(tokenizer))
    torch.manual_seed(0)  # new rows of their own: resizing gives them all the same mean
    with torch.no_grad():
        for weights in (model.get_input_embeddings().weight, model.lm_head.weight):
            weights[-3:] = torch.randn(3, weights.shape[1])
    path = tmp_path_factory.mktemp("yes_no_llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_a_model_that_cannot_spell_yes_and_no_apart_is_refused(tiny_llama: Path) -> None:
    import asyncio

    from safer_engine.judge.fit_prompt import fit_messages
    from tests.safer_engine.judge import Context

    backend = LocalChat(str(tiny_llama), max_tokens=8)
    with pytest.raises(ModelError, match="no tokens of their own for yes and no"):
        asyncio.run(backend.choose(fit_messages("x", [Context(1)], "detection"), [""], True))


def test_asked_yes_or_no_a_random_model_answers_in_the_form_with_probabilities(
    yes_no_llama: Path,
) -> None:
    import asyncio

    from safer_engine.judge.fit_prompt import (
        answer_prefixes,
        fit_messages,
        parse_answers,
        yes_probabilities,
    )
    from tests.safer_engine.judge import Context

    backend = LocalChat(str(yes_no_llama), max_tokens=8)
    contexts = [Context(1), Context(2), Context(3)]

    async def ask() -> list:  # type: ignore[type-arg]
        one = await backend.choose(fit_messages("x", contexts[:1], "detection"), [""], True)
        many = await backend.choose(
            fit_messages("x", contexts, "fuzzing"), answer_prefixes(3), False
        )
        await backend.close()
        return [one, many]

    one, many = asyncio.run(ask())
    assert parse_answers(one, 1).said is not None and one.text in ("yes", "no")
    said = parse_answers(many, 3).said
    assert said is not None and len(said) == 3
    assert many.text.splitlines()[0].startswith("Example 1: ")
    for reply, n in ((one, 1), (many, 3)):
        p_yes = yes_probabilities(reply, n)  # the local model always gives them
        assert p_yes is not None and all(0 < p < 1 for p in p_yes)
        parsed = parse_answers(reply, n).said
        assert parsed == [p > 0.5 for p in p_yes]  # it answers the likelier word
    assert backend.stats.calls == 2 and backend.stats.completion_tokens == 4
