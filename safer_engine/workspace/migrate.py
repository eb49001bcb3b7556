"""Manifest version 1 → 2: each stage's ad-hoc record becomes a `StageRecord`.

Version 1 linked stages by the finish time of their upstream stage (`rm_finished`,
`extract_finished`) or by an SAE file's mtime. Those links become input fingerprints: an old
stage's fingerprint is derived from its key and finish time, so it is the same on every
read, and a link that no longer held in version 1 becomes an input that matches nothing, so
the stage stays stale as it was.

Version 1 wrote an SAE's feature index and statistics into `codes.h5` itself; the migrated
salience record names that file as its artifact, and readers look there when there is no
`features.h5`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from safer_engine import artifacts as names

STALE = "stale-in-version-1"


def legacy_fingerprint(key: str, finished: str) -> str:
    return hashlib.sha256(f"{key}@{finished}".encode()).hexdigest()[:16]


def migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """The version-2 shape of a version-1 (or version-0) manifest; `data` is not changed."""
    old = data.get("stages", {})
    new: dict[str, dict[str, Any]] = {}
    fps = {
        name: legacy_fingerprint(name, str(entry.get("finished"))) for name, entry in old.items()
    }

    def link(name: str, finished: Any) -> str:
        """The fingerprint of upstream stage `name` if the v1 link to it still held."""
        upstream = old.get(name)
        if upstream is not None and upstream.get("finished") == finished:
            return fps[name]
        return STALE

    def add(kind: str, entry: dict[str, Any], sae_id: str | None = None, **parts: Any) -> None:
        key = f"{kind}/{sae_id}" if sae_id else kind
        reserved = {"config", "finished", "versions", "id", "fingerprint"}
        info = {k: v for k, v in entry.items() if k not in reserved and k not in parts["drop"]}
        new[key] = {
            "kind": kind,
            "sae_id": sae_id,
            "config": parts.get("config", entry.get("config", {})),
            "inputs": parts["inputs"],
            "artifacts": parts["artifacts"],
            "fingerprint": parts.get("fingerprint", fps.get(kind, "")),
            "finished": entry.get("finished", ""),
            "versions": entry.get("versions", {}),
            "info": info,
        }

    if (data_entry := old.get("data")) is not None:
        fingerprint = str(data_entry.get("fingerprint"))
        add(
            "data",
            data_entry,
            inputs={"source": fingerprint},
            artifacts=[f"{names.DATA_DIR}/{names.PAIRS_FILE}"],
            fingerprint=fingerprint,
            drop=(),
        )
    data_fp = str((old.get("data") or {}).get("fingerprint"))

    def data_link(entry: dict[str, Any]) -> str:
        return new["data"]["fingerprint"] if entry.get("data_fingerprint") == data_fp else STALE

    if (rm := old.get("rm")) is not None:
        add(
            "rm",
            rm,
            inputs={"data": data_link(rm)},
            artifacts=[f"{names.RM_DIR}/{names.MODEL_DIR}"],
            drop=("data_fingerprint",),
        )
    if (evaluated := old.get("eval")) is not None and evaluated.get("report") == names.EVAL_FILE:
        add(
            "eval",
            evaluated,
            config={"split": evaluated.get("split", "test")},
            inputs={"data": data_link(evaluated), "rm": link("rm", evaluated.get("rm_finished"))},
            artifacts=[f"{names.RM_DIR}/{names.EVAL_FILE}"],
            drop=("data_fingerprint", "rm_finished", "split"),
        )
    if (extract := old.get("extract")) is not None:
        add(
            "extract",
            extract,
            inputs={"data": data_link(extract), "rm": link("rm", extract.get("rm_finished"))},
            artifacts=[names.STORE_FILE],
            drop=("data_fingerprint", "rm_finished"),
        )
    _migrate_sae(old, fps, link, add)
    return {**data, "manifest_version": 2, "stages": new}


def _migrate_sae(old: dict[str, Any], fps: dict[str, str], link: Any, add: Any) -> None:
    """The SAE, its codes and its salience, each recorded under the SAE's id."""
    sae, encode = old.get("sae"), old.get("encode")
    if sae is not None:
        sae_dir = f"{names.SAE_ROOT}/{sae['id']}"
        add(
            "sae",
            sae,
            sae["id"],
            inputs={"extract": link("extract", sae.get("extract_finished"))},
            artifacts=[f"{sae_dir}/{names.SAE_CFG}", f"{sae_dir}/{names.SAE_WEIGHTS}"],
            drop=("extract_finished",),
        )
    if encode is None:
        return
    sae_id = str(encode["id"])
    sae_dir = f"{names.SAE_ROOT}/{sae_id}"
    inputs = {"extract": link("extract", encode.get("extract_finished"))}
    if encode.get("synthetic") is None:
        # v1 compared the weights' mtime, which a copy changes; an encoding recorded after
        # the SAE of the same id was trained used that SAE.
        trained = str(sae.get("finished")) if sae is not None and sae["id"] == sae_id else None
        held = trained is not None and str(encode.get("finished")) >= trained
        inputs[f"sae/{sae_id}"] = fps["sae"] if held else STALE
    codes = f"{sae_dir}/{names.CODES_FILE}"
    drop = ("extract_finished", "sae_mtime", "split")
    add("encode", encode, sae_id, config={}, inputs=inputs, artifacts=[codes], drop=drop)
    add(
        "salience",
        encode,
        sae_id,
        config={"split": encode.get("split", "train")},
        inputs={f"encode/{sae_id}": fps["encode"]},
        artifacts=[codes, f"{sae_dir}/{names.SALIENCE_FILE}"],
        fingerprint=legacy_fingerprint("salience", str(encode.get("finished"))),
        drop=drop,
    )
