"""The openai backend against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from safer_engine.errors import Cancelled, JudgeError
from safer_engine.judge.openai_chat import OpenAIChat, OpenAISettings
from tests.chat_server import Answer, ChatServer, error, ok
from tests.safer_engine.judge import run_judge, stored


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "labels.sqlite"


def test_a_good_answer_is_stored_with_its_tokens(judge_env: ChatServer, db: Path) -> None:
    report = run_judge(db, [3], max_tokens=50)
    assert report.stopped is None
    judgement = report.results[3]
    assert (judgement.score, judgement.explanation) == (4, "fires on refusals to help with harm.")
    assert (judgement.prompt_tokens, judgement.completion_tokens) == (120, 12)
    assert (judgement.backend, judgement.model) == ("openai", "judge-test")
    assert judgement.base_url == judge_env.base_url and judgement.author == "tester"
    t = report.totals
    assert (t.judged, t.failed, t.calls, t.retries) == (1, 0, 1, 0)
    assert (t.prompt_tokens, t.completion_tokens) == (120, 12)
    request = judge_env.requests[0]
    assert request["model"] == "judge-test" and request["temperature"] == 0
    assert request["max_tokens"] == 50 and [m["role"] for m in request["messages"]] == [
        "system",
        "user",
    ]
    assert judge_env.auth == ["Bearer sk-test-secret"]
    assert stored(db) == [(3, 4, None, None)]


def test_the_key_is_never_written_or_shown(judge_env: ChatServer, db: Path) -> None:
    run_judge(db, [1])
    assert b"sk-test-secret" not in db.read_bytes()
    assert "sk-test-secret" not in repr(OpenAISettings.from_env())


def test_malformed_answers_are_stored_as_failures_and_cached(
    judge_env: ChatServer, db: Path
) -> None:
    judge_env.script = [
        ok("I think it is a 4."),
        ok(""),
        ok("Score: 9\nExplanation: very unsafe"),
        ok("I'm sorry, but I can't help with that."),
        ok(None),
        ok("Score", finish_reason="length"),
    ]
    report = run_judge(db, range(6))
    assert report.stopped is None and report.totals.failed == 6 and report.totals.judged == 0
    failures = {f: (j.failure_kind, j.failure) for f, j in report.results.items()}
    assert failures[0][1].startswith("not the two lines")
    assert failures[1][1] == failures[4][1] == "empty answer"
    assert failures[2][1] == "score 9 is outside 1–5"
    assert failures[3][1].startswith("refused")
    assert failures[5][1].endswith("(cut off at --max-tokens)")
    assert {kind for kind, _ in failures.values()} == {"answer"}
    assert report.results[0].answer == "I think it is a 4."
    assert all(score is None for _, score, _, _ in stored(db))
    again = run_judge(db, range(6))
    assert judge_env.calls == 6 and again.totals.cached == 6 and again.totals.calls == 0
    retried = run_judge(db, range(6), retry_failed=True)
    assert judge_env.calls == 12 and retried.totals.judged == 6


def test_a_refusal_field_is_a_failure(judge_env: ChatServer, db: Path) -> None:
    judge_env.script = [_refusal("I will not rate this.")]
    report = run_judge(db, [1])
    assert report.results[1].failure == "refused: 'I will not rate this.'"


def test_429_then_success_is_retried_and_counted(judge_env: ChatServer, db: Path) -> None:
    judge_env.script = [error(429, "slow down"), error(429, "slow down")]
    report = run_judge(db, [1])
    assert report.results[1].score == 4
    assert (report.totals.calls, report.totals.retries, judge_env.calls) == (3, 2, 3)


def test_retry_after_is_waited_for(judge_env: ChatServer, db: Path) -> None:
    judge_env.script = [error(429, "slow down", **{"Retry-After": "0.3"})]
    start = time.monotonic()
    report = run_judge(db, [1])
    assert report.results[1].score == 4 and time.monotonic() - start >= 0.3


def test_endless_rate_limiting_stops_the_run_and_keeps_what_finished(
    judge_env: ChatServer, db: Path
) -> None:
    judge_env.script = [ok()]
    judge_env.default = error(429, "rate limited")
    report = run_judge(db, [1, 2, 3], retries=2)
    assert isinstance(report.stopped, JudgeError)
    assert "kept rate-limiting requests (HTTP 429) (3 tries)" in report.stopped.message
    assert "--concurrency" in report.stopped.hint
    assert list(report.results) == [1] and stored(db) == [(1, 4, None, None)]
    assert (report.totals.calls, report.totals.retries) == (4, 2)


def test_server_errors_are_retried_then_the_feature_fails(judge_env: ChatServer, db: Path) -> None:
    judge_env.default = error(500, "boom")
    report = run_judge(db, [1], retries=2)
    assert report.stopped is None
    failure = report.results[1]
    assert failure.failure_kind == "request" and failure.failure == "HTTP 500: boom (3 tries)"
    assert (report.totals.calls, report.totals.retries, report.totals.failed) == (3, 2, 1)
    assert stored(db) == [(1, None, "request", "HTTP 500: boom (3 tries)")]
    judge_env.default = ok()
    again = run_judge(db, [1])  # a failed request is asked again, not served from the cache
    assert again.results[1].score == 4 and again.totals.cached == 0


def test_a_hang_times_out(judge_env: ChatServer, db: Path) -> None:
    judge_env.script = [Answer(hang=True), Answer(hang=True)]
    start = time.monotonic()
    report = run_judge(db, [1], timeout=0.3, retries=1)
    assert time.monotonic() - start < 5
    assert report.results[1].failure == "no answer within 0.3 s (2 tries)"
    assert report.totals.retries == 1


def test_requests_failing_in_a_row_stop_the_run(judge_env: ChatServer, db: Path) -> None:
    judge_env.default = error(503, "overloaded")
    report = run_judge(db, range(6), retries=0)
    assert isinstance(report.stopped, JudgeError)
    assert "failed 3 requests in a row" in report.stopped.message
    assert judge_env.calls == 3 and len(stored(db)) == 3


def test_a_wrong_key_stops_at_once(judge_env: ChatServer, db: Path) -> None:
    judge_env.default = error(401, "Incorrect API key provided: sk-test-secret")
    report = run_judge(db, [1, 2])
    assert isinstance(report.stopped, JudgeError)
    assert "refused the API key (HTTP 401)" in report.stopped.message
    assert "OPENAI_API_KEY" in report.stopped.hint
    assert "sk-test-secret" not in str(report.stopped)
    assert judge_env.calls == 1 and stored(db) == []


def test_an_unknown_model_stops_at_once(judge_env: ChatServer, db: Path) -> None:
    judge_env.default = error(404, "model not found")
    report = run_judge(db, [1])
    assert isinstance(report.stopped, JudgeError) and "no model 'judge-test'" in str(report.stopped)


def test_a_reply_that_is_not_a_chat_completion_fails_the_feature(
    judge_env: ChatServer, db: Path
) -> None:
    judge_env.script = [Answer(body=b"<html>proxy error</html>")]
    report = run_judge(db, [1])
    assert report.results[1].failure == "the server's reply is not a chat completion"


def test_an_unreachable_server_stops_the_run(
    db: Path, judge_env: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    report = run_judge(db, [1], retries=1)
    assert isinstance(report.stopped, JudgeError)
    assert f"Cannot reach the judge server at http://127.0.0.1:{port}/v1" in str(report.stopped)
    assert "OPENAI_BASE_URL" in report.stopped.hint
    assert (report.totals.calls, report.totals.retries) == (2, 1)


def test_concurrent_requests_are_all_stored(judge_env: ChatServer, db: Path) -> None:
    report = run_judge(db, range(10), concurrency=4)
    assert report.stopped is None and report.totals.judged == 10 and judge_env.calls == 10
    assert sorted(f for f, *_ in stored(db)) == list(range(10))


def test_cancel_keeps_finished_judgements_and_stops_hung_requests(
    judge_env: ChatServer, db: Path
) -> None:
    from safer_engine.progress import CancelToken

    judge_env.script = [ok(), Answer(hang=True)]
    cancel = CancelToken()

    def progress(task: str, done: int, total: int | None) -> None:
        if done == 1:
            cancel.cancel()

    start = time.monotonic()
    report = run_judge(db, [1, 2, 3], progress=progress, cancel=cancel, timeout=30)
    assert time.monotonic() - start < 5  # the hung request was cancelled, not waited for
    assert isinstance(report.stopped, Cancelled) and "kept" in report.stopped.hint
    assert stored(db) == [(1, 4, None, None)]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "OPENAI_BASE_URL and SAFER_JUDGE_MODEL"),
        ({"OPENAI_BASE_URL": "http://x/v1"}, "SAFER_JUDGE_MODEL"),
        ({"SAFER_JUDGE_MODEL": "m", "OPENAI_BASE_URL": " "}, "OPENAI_BASE_URL"),
    ],
)
def test_missing_settings_are_named(env: dict[str, str], missing: str) -> None:
    with pytest.raises(JudgeError, match=f"needs {missing} set") as raised:
        OpenAISettings.from_env(env)
    assert "--backend local" in raised.value.hint


def test_backoff_doubles_and_a_longer_retry_after_wins() -> None:
    chat = OpenAIChat(
        OpenAISettings("http://x/v1", "m"), max_tokens=8, timeout=1, retries=3, backoff=0.5
    )
    assert [chat._delay(a, None) for a in range(3)] == [0.5, 1.0, 2.0]
    assert chat._delay(0, 5.0) == 5.0 and chat._delay(0, 1e6) == 60.0


def _refusal(text: str) -> Answer:
    import json

    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "judge-test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": text},
                "finish_reason": "stop",
            }
        ],
    }
    return Answer(body=json.dumps(body).encode())
