"""Whether the hub can be reached is found out in a few seconds, without the network."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from safer_engine import hub

HUB_VARIABLES = (*hub.OFFLINE_VARIABLES, "HF_ENDPOINT", "HTTPS_PROXY", "https_proxy")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts online-looking, and whatever it turns offline is put back after it."""
    for name in (*HUB_VARIABLES, "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_an_unreachable_hub_is_found_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    started = time.perf_counter()
    reason = hub.hub_unreachable()
    assert reason is not None and "refused" in reason.lower()
    assert time.perf_counter() - started < 2
    assert hub.hub_host() == "127.0.0.1"


def test_a_reachable_hub_or_proxy_is_found(monkeypatch: pytest.MonkeyPatch, listening: int) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listening}")
    assert hub.hub_unreachable() is None
    # behind a proxy only the proxy has to answer
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{listening}")
    assert hub.hub_unreachable() is None


def test_offline_variables_and_going_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    assert hub.offline_variable() is None
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert hub.offline_variable() == "HF_DATASETS_OFFLINE"
    assert hub.check_hub() == ("HF_DATASETS_OFFLINE", None)
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    variable, reason = hub.check_hub()
    assert variable is None and reason is not None
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    assert hub.offline_variable() == "HF_HUB_OFFLINE"
