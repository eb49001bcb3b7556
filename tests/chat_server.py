"""A real chat-completions server on 127.0.0.1 (stdlib `http.server` in a thread, port 0),
answering from a script or a rule, counting what it was sent. The judge's clients talk HTTP
to it exactly as they would to vLLM or OpenAI."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD = "Score: 4\nExplanation: fires on refusals to help with harm."


@dataclass
class Answer:
    """What the server sends for one request."""

    status: int = 200
    content: str | None = GOOD
    prompt_tokens: int = 120
    completion_tokens: int = 12
    finish_reason: str = "stop"
    body: bytes | None = None
    """Sent as is instead of a chat completion (a broken server)."""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Never answer (until the server stops)."""
    logprobs: list[dict[str, Any]] | None = None
    """The choice's `logprobs.content`: each answer token with its top alternatives."""


def ok(content: str | None = GOOD, **kwargs: Any) -> Answer:
    return Answer(content=content, **kwargs)


def yes_no(said: bool, p_yes: float | None = None) -> Answer:
    """A one-word answer; with `p_yes`, with the log-probabilities a server gives when asked
    (the answer token, and yes and no among its alternatives)."""
    word = "yes" if said else "no"
    if p_yes is None:
        return ok(word)
    top = [
        {"token": "yes", "logprob": math.log(p_yes), "bytes": None},
        {"token": "no", "logprob": math.log(1 - p_yes), "bytes": None},
    ]
    chosen = top[0] if said else top[1]
    return ok(word, logprobs=[{**chosen, "top_logprobs": top}])


def error(status: int, message: str = "error", **headers: str) -> Answer:
    body = json.dumps({"error": {"message": message, "type": "test", "code": status}})
    return Answer(status=status, body=body.encode(), headers=headers)


class ChatServer:
    """Answers each POST to …/chat/completions with the next scripted `Answer`, then with
    `rule(request)` when a rule is set, else with `default`."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.default = ok()
        self.rule: Callable[[dict[str, Any]], Answer] | None = None
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def next_answer(self, request: dict[str, Any], auth: str | None) -> Answer:
        with self._lock:
            self.requests.append(request)
            self.auth.append(auth)
            if self.script:
                return self.script.pop(0)
        return self.rule(request) if self.rule is not None else self.default

    @contextmanager
    def running(self) -> Iterator[ChatServer]:
        # A short poll interval: shutdown() waits for one, at every test's teardown.
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self.release.set()  # let hung handlers return
            self._server.shutdown()
            self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, b'{"error": {"message": "no such path"}}', {})
                answer = server.next_answer(request, self.headers.get("Authorization"))
                if answer.hang:
                    server.release.wait(30)
                    return None
                body = answer.body if answer.body is not None else _completion(request, answer)
                return self._send(answer.status, body, answer.headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

        return Handler


def _completion(request: dict[str, Any], answer: Answer) -> bytes:
    usage = {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }
    message = {"role": "assistant", "content": answer.content}
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "finish_reason": answer.finish_reason,
    }
    if answer.logprobs is not None:
        choice["logprobs"] = {"content": answer.logprobs}
    completion = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", ""),
        "choices": [choice],
        "usage": usage,
    }
    return json.dumps(completion).encode()
