"""Scoring explanations on the synthetic workspace against a chat-completions server on
127.0.0.1 that answers from a fixed rule: yes where the feature fires and at near misses,
no at random contexts. So the balanced accuracy must be (1 + random / silent) / 2, and with
P(yes) 0.8 where it fires, 0.9 at near misses and 0.1 at random ones, the AUC random / silent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from safer_engine import artifacts as names
from safer_engine.config import FitConfig, JudgeConfig
from safer_engine.errors import JudgeError
from safer_engine.judge import (
    FitPlan,
    FitReport,
    JudgePlan,
    judge_features,
    make_backend,
    plan_fits,
    plan_judging,
    score_explanations,
)
from safer_engine.judge.fit_plan import calls_per_feature
from safer_engine.labels import FitLog, JudgementLog, LabelStore
from safer_engine.workspace import Workspace
from tests.chat_server import Answer, ChatServer, error, ok, yes_no

P_YES = {"firing": 0.8, "near": 0.9, "random": 0.1}


@dataclass
class Setup:
    ws: Workspace
    sae_id: str
    judge: JudgePlan
    server: ChatServer


@pytest.fixture
def judged(synthetic_workspace: Path, judge_env: ChatServer) -> Iterator[Setup]:
    """The three most salient features judged (from two contexts each), each explained in
    words of its own (so no two features' prompts are the same)."""
    judge_env.script = [ok(f"Score: 4\nExplanation: pattern number {i}.") for i in range(3)]
    ws = Workspace.open(synthetic_workspace)
    sae_id = ws.sae_ids()[-1]
    config = JudgeConfig(top=3, examples=2)
    backend = make_backend(config)
    key = (backend.name, backend.model, backend.base_url)
    with LabelStore.open(ws.labels_path, author="tester") as store:
        plan = plan_judging(ws, sae_id, config, key, JudgementLog(store))
        report = judge_features(plan, backend, JudgementLog(store))
    assert report.totals.judged == 3
    yield Setup(ws, sae_id, plan, judge_env)


def plan(setup: Setup, retry_failed: bool = False, **settings: Any) -> FitPlan:
    config = FitConfig(**{"score": True, "score_firing": 4, "score_silent": 4, **settings})
    backend = make_backend(JudgeConfig())
    key = (backend.name, backend.model, backend.base_url)
    with LabelStore.open(setup.ws.labels_path) as store:
        judgements = JudgementLog(store).latest(setup.sae_id)
        return plan_fits(
            setup.ws,
            setup.sae_id,
            setup.judge.jobs,
            judgements,
            config,
            key,
            FitLog(store),
            retry_failed,
        )


def run(setup: Setup, fits: FitPlan, logprobs: bool = True, **settings: Any) -> FitReport:
    backend = make_backend(JudgeConfig(**{"backoff": 0.01, **settings}))
    with LabelStore.open(setup.ws.labels_path, author="tester") as store:
        return score_explanations(fits, backend, FitLog(store), concurrency=4, logprobs=logprobs)


def answer_by_rule(fits: FitPlan, with_p: bool = True) -> Any:
    """The server's rule: each context's kind is looked up from its prompt."""
    kinds = {call.messages[1]["content"]: call.kinds for job in fits.jobs for call in job.calls}

    def rule(request: dict[str, Any]) -> Answer:
        asked = kinds[request["messages"][1]["content"]]
        assert request.get("logprobs", False) == with_p
        if len(asked) == 1:
            return yes_no(asked[0] != "random", P_YES[asked[0]] if with_p else None)
        lines = [
            f"Example {k}: {'no' if kind == 'random' else 'yes'}" for k, kind in enumerate(asked, 1)
        ]
        tokens = [yes_no(kind != "random", P_YES[kind]).logprobs[0] for kind in asked]  # type: ignore[index]
        return ok("\n".join(lines), logprobs=tokens if with_p else None)

    return rule


def expected(fits: FitPlan, feature: int, method: str = "detection") -> tuple[float, float]:
    """(balanced accuracy, AUC) the rule must give one feature."""
    job = next(j for j in fits.jobs if j.feature == feature and j.method == method)
    kinds = [kind for call in job.calls for kind in call.kinds]
    near, random = kinds.count("near"), kinds.count("random")
    return (1 + random / (near + random)) / 2, random / (near + random)


def test_the_fit_is_computed_from_the_answers_and_the_truth(judged: Setup) -> None:
    fits = plan(judged)
    assert len(fits.jobs) == 3 and fits.unexplained == []
    judged.server.rule = answer_by_rule(fits)
    before = judged.server.calls
    report = run(judged, fits)
    assert report.stopped is None
    assert report.totals.scored == 3 and report.totals.calls == fits.calls
    assert (
        judged.server.calls - before
        == fits.calls
        <= 3 * calls_per_feature(FitConfig(score=True, score_firing=4, score_silent=4))
    )
    for job in fits.jobs:
        fit = report.get(job.feature, "detection")
        assert fit is not None and fit.ok
        accuracy, auc = expected(fits, job.feature)
        assert fit.balanced_accuracy == pytest.approx(accuracy)
        assert fit.auc == pytest.approx(auc)
        assert fit.firing + fit.silent == sum(len(c.kinds) for c in job.calls) and fit.unusable == 0
    stored = FitLog(LabelStore.open(judged.ws.labels_path, read_only=True)).latest(judged.sae_id)
    assert {f: fit.balanced_accuracy for f, fit in stored.items()} == {
        job.feature: pytest.approx(expected(fits, job.feature)[0]) for job in fits.jobs
    }


def test_a_rerun_reuses_every_stored_fit(judged: Setup) -> None:
    fits = plan(judged)
    judged.server.rule = answer_by_rule(fits)
    run(judged, fits)
    calls = judged.server.calls
    again = plan(judged)
    assert again.to_ask == [] and again.calls == 0
    report = run(judged, again)
    assert judged.server.calls == calls and report.totals.cached == 3
    assert report.totals.calls == 0
    # another explanation is another prompt: scored again
    with LabelStore.open(judged.ws.labels_path) as store:
        rows = store.query("SELECT count(*) FROM fits", ())
    assert rows[0][0] == 3


def test_without_log_probabilities_there_is_no_auc(judged: Setup) -> None:
    fits = plan(judged, logprobs=False)
    judged.server.rule = answer_by_rule(fits, with_p=False)
    report = run(judged, fits, logprobs=False)
    for job in fits.jobs:
        fit = report.get(job.feature, "detection")
        assert fit is not None and fit.auc is None
        assert fit.balanced_accuracy == pytest.approx(expected(fits, job.feature)[0])


def test_batches_and_fuzzing_give_the_same_figures_in_fewer_calls(judged: Setup) -> None:
    fits = plan(judged, score_batch=3, fuzz=True)
    assert {job.method for job in fits.jobs} == {"detection", "fuzzing"}
    assert all(len(c.kinds) <= 3 for job in fits.jobs for c in job.calls)
    judged.server.rule = answer_by_rule(fits)
    report = run(judged, fits)
    assert report.totals.scored == 6
    for job in fits.jobs:
        fit = report.get(job.feature, job.method)
        assert fit is not None and fit.method == job.method
        accuracy, auc = expected(fits, job.feature, job.method)
        assert (fit.balanced_accuracy, fit.auc) == (pytest.approx(accuracy), pytest.approx(auc))


def test_unusable_answers_are_a_stored_failure_reused_until_retried(judged: Setup) -> None:
    fits = plan(judged)
    judged.server.rule = lambda request: ok("It depends on the context.")
    report = run(judged, fits)
    assert report.totals.failed == 3 and report.totals.scored == 0
    fit = report.get(fits.jobs[0].feature, "detection")
    assert fit is not None and fit.failure_kind == "answer" and fit.failure is not None
    assert "answers unusable" in fit.failure and "not one word" in fit.failure
    assert plan(judged).to_ask == []  # asking again gets the same answers
    retried = plan(judged, retry_failed=True)
    assert len(retried.to_ask) == 3
    judged.server.rule = answer_by_rule(retried)
    assert run(judged, retried).totals.scored == 3


def test_a_failed_request_is_stored_and_asked_again(judged: Setup) -> None:
    fits = plan(judged)
    broken = fits.jobs[0].feature
    prompts = {c.messages[1]["content"] for c in fits.jobs[0].calls}
    good = answer_by_rule(fits)
    judged.server.rule = lambda r: (
        error(500, "boom") if r["messages"][1]["content"] in prompts else good(r)
    )
    report = run(judged, fits, retries=0)
    assert report.stopped is None and report.totals.scored == 2
    fit = report.get(broken, "detection")
    assert fit is not None and fit.failure_kind == "request" and "HTTP 500" in str(fit.failure)
    again = plan(judged)
    assert [job.feature for job in again.to_ask] == [broken]
    judged.server.rule = good
    assert run(judged, again).totals.scored == 1


def test_a_server_that_fails_every_request_stops_the_run(judged: Setup) -> None:
    fits = plan(judged)
    judged.server.rule = lambda r: error(500, "down")
    report = run(judged, fits, retries=0)
    assert isinstance(report.stopped, JudgeError) and "in a row" in report.stopped.message
    assert report.totals.failed == 3  # each was stored before it stopped


def test_a_feature_explained_from_every_context_it_fires_in_cannot_be_scored(
    synthetic_workspace: Path, judge_env: ChatServer
) -> None:
    ws = Workspace.open(synthetic_workspace)
    sae_id = ws.sae_ids()[-1]
    config = JudgeConfig(top=1, examples=200)  # every context it fires in is in the prompt
    backend = make_backend(config)
    key = (backend.name, backend.model, backend.base_url)
    judge_env.script = [ok("Score: 4\nExplanation: everything.")]
    with LabelStore.open(ws.labels_path) as store:
        judge = plan_judging(ws, sae_id, config, key, JudgementLog(store))
        judge_features(judge, backend, JudgementLog(store))
    setup = Setup(ws, sae_id, judge, judge_env)
    fits = plan(setup)
    assert fits.calls == 0 and fits.jobs[0].unscorable is not None
    calls = judge_env.calls
    report = run(setup, fits)
    fit = report.get(fits.jobs[0].feature, "detection")
    assert fit is not None and fit.failure_kind == "contexts" and "fires only" in str(fit.failure)
    assert judge_env.calls == calls and plan(setup).to_ask == []  # cached: the same next time
    assert (ws.root / names.LABELS_FILE).exists()
