from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.chat_server import ChatServer

FIXTURES = Path(__file__).parent / "fixtures"
MODEL_FIXTURES = frozenset(
    {"tiny_bert", "tiny_llama", "trained_workspace", "encoded_workspace", "extracted"}
)
"""Fixtures that train (or run) a model: tests using them are marked `slow`."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that train models; servers and embedded models are marked by hand."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def fixture_data() -> Path:
    return FIXTURES / "data"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def pair(prompt: str, chosen: str, rejected: str, **extra: Any) -> dict[str, Any]:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, **extra}


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import save_tiny_bert

    return save_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


def make_trained_workspace(root: Path, model: Path, pairs: Any = None) -> Path:
    """A workspace with the separable pairs (or `pairs`, a DataFrame) imported and a tiny RM
    trained for a few steps."""
    from safer_engine.config import DataConfig, RMConfig
    from safer_engine.data.load import load_preferences
    from safer_engine.data.stage import import_data
    from safer_engine.train.stage import train_rm_stage
    from safer_engine.workspace import Workspace
    from tests.tiny_models import separable_pairs

    data = root.parent / f"{root.name}-pairs.parquet"
    (separable_pairs() if pairs is None else pairs).write_parquet(data)
    workspace = Workspace.open(root, create=True)
    import_data(workspace, load_preferences(DataConfig(str(data))))
    train_rm_stage(
        workspace, RMConfig(model=str(model), max_steps=3, max_length=32, max_prompt_tokens=8)
    )
    return root


@pytest.fixture(scope="session")
def trained_workspace_template(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> Path:
    return make_trained_workspace(tmp_path_factory.mktemp("template") / "ws", tiny_bert)


@pytest.fixture
def trained_workspace(trained_workspace_template: Path, tmp_path: Path) -> Path:
    """A fresh copy per test: tests may extract into it or damage it."""
    import shutil

    return Path(shutil.copytree(trained_workspace_template, tmp_path / "ws"))


@pytest.fixture(scope="session")
def encoded_workspace_template(
    trained_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny trained workspace, extracted, with a small SAE trained and encoded."""
    import shutil

    from safer_engine.activations.stage import extract_stage
    from safer_engine.config import ExtractConfig, SAEConfig
    from safer_engine.sae.stage import encode_stage, train_sae_stage
    from safer_engine.salience.stage import salience_stage
    from safer_engine.workspace import Workspace

    root = Path(
        shutil.copytree(trained_workspace_template, tmp_path_factory.mktemp("encoded") / "ws")
    )
    workspace = Workspace.open(root)
    # the fixture's texts have no punctuation, so sentence_end would select no token
    extract_stage(workspace, ExtractConfig(layer=2, policy="all"))
    sae_id, _ = train_sae_stage(workspace, SAEConfig(n_latents=64, k=4, epochs=10, batch_size=64))
    encode_stage(workspace, sae_id)
    salience_stage(workspace, sae_id)
    return root


@pytest.fixture
def encoded_workspace(encoded_workspace_template: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(encoded_workspace_template, tmp_path / "ws"))


@pytest.fixture(scope="session")
def synthetic_workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny encoded workspace made up from a seed (`safer_engine.testing`): no model is
    trained, so tests on it are quick, and every build is byte-identical."""
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    root = tmp_path_factory.mktemp("synthetic") / "ws"
    return build_synthetic_workspace(root, n_pairs=20, tokens_per_doc=12, n_latents=64, k=4)


@pytest.fixture
def synthetic_workspace(synthetic_workspace_template: Path, tmp_path: Path) -> Path:
    """A fresh copy per test: tests tag, note, plan and damage it."""
    import shutil

    return Path(shutil.copytree(synthetic_workspace_template, tmp_path / "ws"))


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A chat-completions server on 127.0.0.1 answering from a script (tests/chat_server.py)."""
    from tests.chat_server import ChatServer

    with ChatServer().running() as server:
        yield server


@pytest.fixture
def judge_env(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    """The openai judge backend's environment, pointing at `chat_server`."""
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.base_url)
    monkeypatch.setenv("SAFER_JUDGE_MODEL", "judge-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    return chat_server
