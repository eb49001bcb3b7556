"""The stage model: what a stage is, what it records, and when its record is still current.

Every step of the pipeline is a stage: a kind (data, rm, extract, ...), optionally an SAE id
for the per-SAE stages, the config it ran with, the fingerprints of its inputs, and the
artifacts it wrote. Finishing a stage records all of this with a fingerprint of its own,
which downstream stages record as their input. A stage is current exactly when its config and
every input fingerprint match the record and every upstream stage is current too, so a change
anywhere upstream makes everything below it stale and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

DATA = "data"
RM = "rm"
EVAL = "eval"
EXTRACT = "extract"
GENERIC = "generic"
SAE = "sae"
ENCODE = "encode"
SALIENCE = "salience"
SCORES = "scores"
MARGINS = "margins"
ATTRIBUTION = "attribution"

PER_SAE = frozenset({SAE, ENCODE, SALIENCE, SCORES, ATTRIBUTION})
"""Kinds recorded once per SAE id (`sae/<id>`, ...); the others once per workspace."""

UPSTREAM: dict[str, tuple[str, ...]] = {
    DATA: (),
    RM: (DATA,),
    EVAL: (DATA, RM),
    EXTRACT: (DATA, RM),
    GENERIC: (EXTRACT,),  # its layer is the store's
    SAE: (EXTRACT,),  # and GENERIC when the SAE was pretrained on generic text
    ENCODE: (EXTRACT, SAE),
    SALIENCE: (ENCODE,),
    SCORES: (ENCODE, SALIENCE),  # and the labels, through the selection in its config
    MARGINS: (DATA, RM),
    ATTRIBUTION: (EXTRACT, SAE),  # the store's tokens and layer, the SAE's weights
}
"""Each kind's required inputs. Per-SAE kinds depend on the stages of the same SAE id."""

COMMANDS: dict[str, str] = {
    DATA: "safer data import DATA --workspace DIR",
    RM: "safer train-rm --workspace DIR",
    EVAL: "safer eval --workspace DIR",
    EXTRACT: "safer extract --workspace DIR",
    GENERIC: "safer train-sae --workspace DIR --pretrain-text FILE",
    SAE: "safer train-sae --workspace DIR",
    ENCODE: "safer encode --workspace DIR",
    SALIENCE: "safer encode --workspace DIR",
    SCORES: "safer score-pairs --workspace DIR",
    MARGINS: "safer benchmark noise --workspace DIR",
    ATTRIBUTION: "safer attribute --workspace DIR",
}
"""The command that makes each kind, for messages that say what to run next."""


def stage_key(kind: str, sae_id: str | None = None) -> str:
    """The manifest key of a stage: its kind, or `kind/<sae id>` for per-SAE kinds."""
    if kind in PER_SAE:
        if not sae_id:
            raise ValueError(f"stage {kind!r} needs an SAE id")
        return f"{kind}/{sae_id}"
    return kind


def upstream_keys(kind: str, sae_id: str | None = None) -> list[str]:
    """The keys of a stage's required inputs."""
    return [stage_key(up, sae_id if up in PER_SAE else None) for up in UPSTREAM[kind]]


@dataclass(frozen=True)
class Stage:
    """A stage about to run: what it is, how it is configured and what it reads."""

    kind: str
    config: dict[str, Any]
    inputs: dict[str, str]
    """Upstream stage key (or an outside input's name) → fingerprint."""
    artifacts: tuple[str, ...]
    """Paths relative to the workspace root that the stage writes."""
    sae_id: str | None = None

    @property
    def key(self) -> str:
        return stage_key(self.kind, self.sae_id)


@dataclass(frozen=True)
class StageRecord:
    """A finished stage as the manifest keeps it."""

    kind: str
    config: dict[str, Any]
    inputs: dict[str, str]
    artifacts: list[str]
    fingerprint: str
    """Identifies this stage's output; downstream stages record it as their input."""
    finished: str
    versions: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    """What the run measured or produced (counts, seconds, metrics); not compared."""
    sae_id: str | None = None

    @property
    def key(self) -> str:
        return stage_key(self.kind, self.sae_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def new_fingerprint(stage: Stage, finished: str) -> str:
    """A fingerprint for an output that cannot be hashed cheaply (a model, a store).

    It changes on every run, even with the same config and inputs: training is not
    bit-reproducible, so a rerun's output is a different input for everything downstream.
    """
    payload = json.dumps(
        [stage.key, stage.config, stage.inputs, finished, secrets.token_hex(8)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
