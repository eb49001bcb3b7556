"""A complete encoded workspace of any size, made up from a seed: for benchmarks and fixtures.

The explorer's performance promises are about a 20M-token store, and snapshot tests of its
screens need a workspace that is byte-identical on every machine. Neither can come from
running a real reward model and SAE on a 2-core CPU, so this module makes one up from the
texts of `synthetic_text`, random activations and structured top-k codes. Everything goes
through the project's REAL writers and stages (`save_shard` + `write_store`, `write_codes`,
the salience stage, the workspace's stage records), so the result opens, checks and reads
exactly like a workspace that `safer demo` built. There is no reward model and no SAE
weights: the `extract` and `sae` stages record the synthetic spec instead.

Like `safer extract`, pairs are ordered by pair id, each (prompt, response) is a document,
every response token is stored and the paper's sentence ends are selected (by the engine's
own `sentence_end_mask`). Codes: per row, k distinct latents with Zipf-like popularity and
exponential activations; a few "trigger" latents fire strongly on given word pieces
(" sorry", " weapon", ...) and two "tone" latents on refusal / harmful text, so salience has
clear leaders of both signs. Work runs in chunks (memory stays in the hundreds of MB for 20M
tokens) with progress and cancel checks. Same arguments, same bytes: the random streams are
seeded and chunk sizes are constants.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.activations.selection import sentence_end_mask
from safer_engine.codes.writer import Codes, write_codes
from safer_engine.config import DataConfig, ExtractConfig
from safer_engine.data.fingerprint import table_fingerprint
from safer_engine.data.load import save_table
from safer_engine.data.stage import data_stage
from safer_engine.errors import ConfigError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.salience.stage import salience_stage
from safer_engine.store.reader import StoreReader
from safer_engine.store.writer import StoreTables, StoreTexts, save_shard, write_store
from safer_engine.testing.synthetic_text import (
    N_SPECIAL,
    PAIR_CHUNK,
    SLICES,
    SPLITS,
    STYLE_CODES,
    STYLES,
    TONES,
    TRAIN_SHARE,
    TRIGGERS,
    Corpus,
    Vocab,
    make_corpus,
)
from safer_engine.workspace import Stage, StageRecord, Workspace
from safer_engine.workspace.stages import DATA, ENCODE, EXTRACT, SAE

LAYER = 12
CODE_ROWS = 1 << 16
ZIPF_S = 0.6  # latent popularity ∝ rank^-0.6, as benchmarks/salience.py
TONE_RATE = 0.3  # how often a tone latent fires on a token of its kind of text


def build_synthetic_workspace(
    root: Path,
    n_pairs: int,
    tokens_per_doc: int,
    n_latents: int,
    k: int,
    d_model: int = 16,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Create a new encoded workspace at `root` (which must be absent or empty).

    `n_pairs` pairs make `2 * n_pairs` documents of exactly `tokens_per_doc` tokens each
    (a prompt of about a sixth to a third of it, then the response). Returns the
    workspace's resolved root; its SAE id is `synthetic_sae_id(n_latents, k)`.
    """
    spec = {"n_pairs": n_pairs, "tokens_per_doc": tokens_per_doc, "n_latents": n_latents}
    spec |= {"k": k, "d_model": d_model, "seed": seed}
    _validate(spec)
    cancel = cancel or CancelToken()
    workspace = Workspace.open(root, create=True)
    text_rng, acts_rng, codes_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    vocab = Vocab.build()
    corpus = make_corpus(vocab, n_pairs, tokens_per_doc, text_rng, progress, cancel)
    data = _write_data(workspace, corpus.table, spec)
    _write_store(workspace, vocab, corpus, d_model, data.fingerprint, acts_rng, progress, cancel)
    _record_extract(workspace, corpus, data, spec)
    sae_id = synthetic_sae_id(n_latents, k)
    workspace.record(Stage(SAE, spec, workspace.inputs(SAE, sae_id), (), sae_id))
    rows = _write_codes(workspace, sae_id, vocab, corpus, spec, codes_rng, progress, cancel)
    encode = Stage(
        ENCODE, {}, workspace.inputs(ENCODE, sae_id), _codes_artifact(workspace, sae_id), sae_id
    )
    workspace.record(encode, rows=rows, k=k)
    salience_stage(workspace, sae_id, "train", progress, cancel)
    return workspace.root


def synthetic_sae_id(n_latents: int, k: int) -> str:
    return f"synthetic-topk{k}-{n_latents}"


def _codes_artifact(workspace: Workspace, sae_id: str) -> tuple[str, ...]:
    return (workspace.relative(workspace.sae_dir(sae_id) / names.CODES_FILE),)


def _spec_hash(spec: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _validate(spec: dict[str, int]) -> None:
    for name in ("n_pairs", "k", "d_model"):
        if spec[name] < 1:
            raise ConfigError(f"{name} must be at least 1, not {spec[name]}.")
    if spec["tokens_per_doc"] < 4:
        raise ConfigError(f"tokens_per_doc must be at least 4, not {spec['tokens_per_doc']}.")
    if spec["n_latents"] < spec["k"] + N_SPECIAL:
        raise ConfigError(
            f"n_latents ({spec['n_latents']}) must be at least k + {N_SPECIAL} "
            f"({spec['k'] + N_SPECIAL}): {N_SPECIAL} latents are reserved for triggers and tones."
        )


# --- texts and store ----------------------------------------------------------------------


def _write_data(workspace: Workspace, table: pl.DataFrame, spec: dict[str, int]) -> StageRecord:
    """The canonical pairs table and the `data` stage, as `safer data import` records them."""
    save_table(table, workspace.pairs_path)
    config = DataConfig(source="synthetic", seed=spec["seed"], test_fraction=1 - TRAIN_SHARE)
    config.save(workspace.pairs_path.parent / names.DATA_CONFIG)
    fingerprint = table_fingerprint(table)
    return workspace.record(
        data_stage(config, fingerprint),
        fingerprint=fingerprint,
        schema="synthetic",
        origin="safer_engine.testing.synthetic_workspace",
        pairs=table.height,
        skipped={},
        synthetic=spec,
    )


def _store_tables(vocab: Vocab, corpus: Corpus) -> StoreTables:
    length = corpus.tokens.shape[1]
    tok_start = np.arange(corpus.n_docs, dtype=np.int64) * length
    return StoreTables(
        tok_start=tok_start,
        tok_end=tok_start + length,
        resp_start=tok_start + corpus.prompt_len,
        resp_end=tok_start + length,
        pair_id=corpus.pair_ids,
        chosen_doc=np.arange(0, corpus.n_docs, 2, dtype=np.int64),
        rejected_doc=np.arange(1, corpus.n_docs, 2, dtype=np.int64),
        slice_codes=corpus.slice_codes,
        slice_names=list(SLICES),
        split_codes=corpus.split_codes,
        split_names=list(SPLITS),
        token_ids=corpus.tokens.reshape(-1),
        pieces=vocab.pieces,
        texts=_store_texts(vocab, corpus),
    )


def _store_texts(vocab: Vocab, corpus: Corpus) -> StoreTexts:
    """The data's texts and each token's character span in them, as `safer extract` keeps
    them: a text is its tokens' pieces joined and stripped (`Vocab.text`), so a token's
    span ends where the running length of its part's pieces does, less the first piece's
    leading space. Response texts run on past the stored tokens (the rest of a phrase)."""
    index: dict[str, int] = {}
    prompt = [index.setdefault(text, len(index)) for text in corpus.prompts]
    response = [index.setdefault(text, len(index)) for text in corpus.responses]
    length = np.array([len(p) for p in vocab.pieces], dtype=np.int32)
    lead = np.array([len(p) - len(p.lstrip()) for p in vocab.pieces], dtype=np.int32)
    start = np.empty(corpus.tokens.shape, dtype=np.int32)
    end = np.empty(corpus.tokens.shape, dtype=np.int32)
    for first in range(0, corpus.n_docs, 2 * PAIR_CHUNK):  # bounded temporaries
        docs = slice(first, min(first + 2 * PAIR_CHUNK, corpus.n_docs))
        tokens, prompt_len = corpus.tokens[docs], corpus.prompt_len[docs]
        rows = np.arange(tokens.shape[0])
        in_prompt = np.arange(tokens.shape[1])[None, :] < prompt_len[:, None]
        sizes = length[tokens]
        running = np.cumsum(sizes, axis=1, dtype=np.int32)
        prompt_chars = running[rows, prompt_len - 1]
        strip = np.where(in_prompt, lead[tokens[:, :1]], lead[tokens[rows, prompt_len]][:, None])
        end[docs] = running - np.where(in_prompt, 0, prompt_chars[:, None]) - strip
        start[docs] = np.maximum(end[docs] - sizes, 0)
    return StoreTexts(
        texts=list(index),
        prompt_text=np.array(prompt, dtype=np.int64),
        response_text=np.array(response, dtype=np.int64),
        char_start=start.reshape(-1),
        char_end=end.reshape(-1),
    )


def _shard(
    vocab: Vocab, corpus: Corpus, docs: slice, d_model: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One shard as `safer extract --keep response` saves it: every response token."""
    tokens, prompt_len = corpus.tokens[docs], corpus.prompt_len[docs]
    length = tokens.shape[1]
    keep = np.arange(length)[None, :] >= prompt_len[:, None]
    selected = sentence_end_mask(vocab.delimiter[tokens], prompt_len)
    doc, column = np.nonzero(keep)
    first = docs.start or 0
    values = rng.standard_normal((doc.size, d_model), dtype=np.float32).astype(np.float16)
    return {
        "values": values,
        "token_row": (doc + first) * length + column,
        "doc": (doc + first).astype(np.int64),
        "selected": selected[doc, column],
    }


def _write_store(
    workspace: Workspace,
    vocab: Vocab,
    corpus: Corpus,
    d_model: int,
    fingerprint: str,
    rng: np.random.Generator,
    progress: Progress,
    cancel: CancelToken,
) -> None:
    folder = workspace.store_path.with_name(workspace.store_path.name + ".shards")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        shards = []
        for number, first in enumerate(range(0, corpus.n_docs, 2 * PAIR_CHUNK)):
            cancel.check("writing the synthetic store")
            progress("synthetic activations", first, corpus.n_docs)
            path = folder / f"shard-{number:05d}.npz"
            docs = slice(first, min(first + 2 * PAIR_CHUNK, corpus.n_docs))
            save_shard(path, **_shard(vocab, corpus, docs, d_model, rng))
            shards.append(path)
        progress("writing store", corpus.n_docs, corpus.n_docs)
        config = ExtractConfig(layer=LAYER)
        attrs: dict[str, Any] = {
            "config": config.to_dict(),
            "data_fingerprint": fingerprint,
            "layer": LAYER,
            "d_model": d_model,
            "normalise": config.normalise,
            "policy": config.policy,
            "model": "synthetic",
            "rm_info": json.dumps({"base_model": "synthetic"}),
        }
        write_store(
            workspace.store_path, _store_tables(vocab, corpus), shards, LAYER, d_model, attrs
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _record_extract(
    workspace: Workspace, corpus: Corpus, data: StageRecord, spec: dict[str, int]
) -> None:
    """The `extract` stage, with the synthetic spec in place of a reward model."""
    with StoreReader(workspace.store_path) as reader:
        rows = int(reader.values.shape[0])
        selected = int(np.count_nonzero(np.asarray(reader.selected)))
    stage = Stage(
        EXTRACT,
        ExtractConfig(layer=LAYER).to_dict(),
        {DATA: data.fingerprint, "synthetic": _spec_hash(spec)},
        (workspace.relative(workspace.store_path),),
    )
    workspace.record(
        stage,
        layer=LAYER,
        docs=corpus.n_docs,
        tokens=int(corpus.tokens.size),
        rows=rows,
        selected=selected,
        synthetic=spec,
    )


# --- codes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Latents:
    """Which latent plays which part, and every latent's activation scale."""

    trigger: np.ndarray  # int32 per token id: its trigger latent, or -1
    trigger_strength: np.ndarray  # float32 per token id
    tone: np.ndarray  # int32 per style code: its tone latent, or -1
    pool: np.ndarray  # int32: the other latents, most popular first
    scale: np.ndarray  # float32 per latent

    @classmethod
    def draw(cls, vocab: Vocab, n_latents: int, rng: np.random.Generator) -> _Latents:
        order = rng.permutation(n_latents).astype(np.int32)
        trigger = np.full(len(vocab.pieces), -1, dtype=np.int32)
        strength = np.zeros(len(vocab.pieces), dtype=np.float32)
        for latent, (piece, power) in zip(order, TRIGGERS, strict=False):
            at = vocab.pieces.index(piece)
            trigger[at], strength[at] = latent, power
        tone = np.full(len(STYLES), -1, dtype=np.int32)
        for latent, style in zip(order[len(TRIGGERS) :], TONES, strict=False):
            tone[STYLE_CODES[style]] = latent
        scale = rng.lognormal(0.0, 0.5, n_latents).astype(np.float32)
        return cls(trigger, strength, tone, order[N_SPECIAL:], scale)


def _code_chunk(
    latents: _Latents,
    tokens: np.ndarray,
    styles: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of one chunk of rows: slot j draws from the pool latents ranked j mod k (so a
    row never repeats a latent); a trigger token puts its latent in slot 0, a tone latent
    may take slot 1."""
    n = tokens.shape[0]
    size = (latents.pool.size - np.arange(k) + k - 1) // k  # pool latents per slot
    span = (size + 1.0) ** (1 - ZIPF_S) - 1
    u = rng.random((n, k), dtype=np.float32)
    within = ((1 + u * span) ** (1 / (1 - ZIPF_S))).astype(np.int64) - 1
    idx = latents.pool[np.arange(k) + k * np.minimum(within, size - 1)]
    val = rng.standard_exponential((n, k), dtype=np.float32) * latents.scale[idx]
    val[rng.random((n, k), dtype=np.float32) < 0.01] = 0
    hit = np.flatnonzero(latents.trigger[tokens] >= 0)
    idx[hit, 0] = latents.trigger[tokens[hit]]
    val[hit, 0] = 6 * latents.trigger_strength[tokens[hit]] * (1 + 0.25 * rng.random(hit.size))
    if k > 1:
        tone = latents.tone[styles]
        fire = np.flatnonzero((tone >= 0) & (rng.random(n) < TONE_RATE))
        idx[fire, 1] = tone[fire]
        val[fire, 1] = 2 + rng.standard_exponential(fire.size, dtype=np.float32)
    return idx.astype(np.int32), val.astype(np.float16)


def _write_codes(
    workspace: Workspace,
    sae_id: str,
    vocab: Vocab,
    corpus: Corpus,
    spec: dict[str, int],
    rng: np.random.Generator,
    progress: Progress,
    cancel: CancelToken,
) -> int:
    """`codes.h5` through the encode stage's writer; returns the rows."""
    n_latents, k = spec["n_latents"], spec["k"]
    sae_dir = workspace.sae_dir(sae_id)
    sae_dir.mkdir(parents=True, exist_ok=True)
    latents = _Latents.draw(vocab, n_latents, rng)
    tokens = corpus.tokens.reshape(-1)
    with StoreReader(workspace.store_path) as reader:
        n_rows = int(reader.values.shape[0])

        def codes() -> Codes:
            for start in range(0, n_rows, CODE_ROWS):
                cancel.check("making synthetic codes")
                progress("synthetic codes", start, n_rows)
                rows = slice(start, start + CODE_ROWS)
                chunk_tokens = tokens[np.asarray(reader.token_row[rows])]
                chunk_styles = corpus.style[np.asarray(reader.row_doc[rows])]
                yield (rows, *_code_chunk(latents, chunk_tokens, chunk_styles, k, rng))
            cancel.check("making synthetic codes")  # before the codes file is renamed in

        attrs = {
            "store_fingerprint": reader.data_fingerprint,
            "layer": reader.layer,
            "sae_cfg": _sae_cfg(spec),
        }
        write_codes(sae_dir / names.CODES_FILE, n_rows, n_latents, k, attrs, codes())
    progress("synthetic codes", n_rows, n_rows)
    return n_rows


def _sae_cfg(spec: dict[str, int]) -> dict[str, Any]:
    return {
        "architecture": "synthetic",
        "d_in": spec["d_model"],
        "d_sae": spec["n_latents"],
        "k": spec["k"],
        "metadata": {"model_name": "synthetic", "hook_layer": LAYER, "seed": spec["seed"]},
    }
