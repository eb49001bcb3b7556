"""The fixed names of everything a workspace holds, in one place.

Readers (the explorer, `safer store check`) and writers (the stages) find files through these
names only, so a layout change is one edit. Constants only: importing this module costs
nothing and pulls in no other module.
"""

from __future__ import annotations

MANIFEST = "workspace.json"
"""The workspace's manifest: what each stage ran with and produced."""

DATA_DIR = "data"
PAIRS_FILE = "pairs.parquet"
"""The canonical pairs table, under `data/`."""
DATA_CONFIG = "data_config.json"

RM_DIR = "rm"
"""The analysed reward model (full fine-tune) and its evaluation."""
MODEL_DIR = "model"
"""A trained model folder (safetensors + tokenizer), under `rm/` or a run's folder."""
RM_CONFIG = "rm_config.json"
RM_INFO = "safer_rm.json"
"""Written inside every model folder we train: its text format, base model and data."""
CHECKPOINTS_DIR = "checkpoints"
EVAL_FILE = "eval.json"

STORE_FILE = "store.h5"
"""Activations, tokens and documents (see `safer_engine.store.schema`)."""
GENERIC_DIR = "generic"
"""Activations of generic text for the SAE's first training stage, one `.npy` per text file."""

SAE_ROOT = "sae"
SAE_CFG = "cfg.json"
"""sae-lens's config file: a folder holding it is an SAE."""
SAE_WEIGHTS = "sae_weights.safetensors"
SAE_INFO = "safer_sae.json"
"""Our record of how an SAE was trained and how healthy it came out."""
CODES_FILE = "codes.h5"
"""Top-k SAE codes of every stored activation row (see `safer_engine.codes.schema`)."""
FEATURES_FILE = "features.h5"
"""Per-feature statistics and the example index built from the codes."""
SALIENCE_FILE = "salience.parquet"
"""The feature table: salience, rates, maxima and densities of every feature."""

SCORES_DIR = "scores"
"""Pair scores of the current safety features, under `sae/<id>/`."""
PAIR_SCORES_FILE = "pair_scores.parquet"
SELECTION_FILE = "selection.json"
"""The safety features (P and N) and the rule that chose them, beside what used them."""

ATTRIBUTION_DIR = "attribution"
"""Each text's and pair's reward attributed to the SAE's features, under `sae/<id>/`."""
ATTRIBUTION_PAIRS = "pairs.parquet"
"""Per pair: margin, the features', error's and rest's attributions, the top features."""
ATTRIBUTION_FEATURES = "features.parquet"
"""Per feature: its mean attribution to the margin (effect) over train, test, wrong pairs."""
ATTRIBUTION_TEXTS = "texts.parquet"
"""Per (text, feature) that fired: the feature's attribution to the text's reward."""
ATTRIBUTION_SUMMARY = "summary.json"
"""The run's config, inputs and faithfulness figures."""
ATTRIBUTION_CONFIG = "attribution_config.json"
ABLATION_FILE = "ablation.parquet"
"""`safer attribute --check`: each ablated (pair, feature), its attribution and real effect."""
ABLATION_SUMMARY = "ablation.json"

LABELS_FILE = "labels.sqlite"
"""Feature tags, notes and judge suggestions (SQLite, append-only)."""

EDITS_DIR = "edits"
"""Edit plans, one folder each (`edits/<plan-id>/plan.json`)."""
PLAN_FILE = "plan.json"

RUNS_DIR = "runs"
"""Retraining runs, one folder each (`runs/<run-id>/`)."""
RUN_FILE = "run.json"
EVAL_PAIRS_FILE = "eval_pairs.parquet"
"""Each test pair's reward margin under a run: what the experiment's intervals are made of."""
FROZEN_CACHE_DIR = "cache/frozen"
"""The fast recipe's frozen backbone features, one folder per data set and settings."""
EXPERIMENTS_DIR = "experiments"
"""Experiment reports (`experiments/<id>/report.md`, `report.png`)."""
"""A run's record: recipe, plan, inputs, status and results."""

RM_MARGINS_FILE = "margins.parquet"
"""Every pair's margin r(chosen) − r(rejected) under the analysed reward model, under `rm/`."""

BENCHMARKS_DIR = "benchmarks"
"""Noise benchmarks of a workspace: a noisy workspace per level and seed
(`benchmarks/noise-<X>-s<seed>/`) and the reports (`benchmarks/report-<id>/`)."""
BENCHMARK_DIR = "benchmark"
"""In a noisy workspace: what the benchmark knows and the models do not (`noise.json`), each
method's ranking and the pair lists its plans edit."""
NOISE_FILE = "noise.json"
RANKINGS_FILE = "rankings.parquet"
FLIPPED_COLUMN = "flipped"
"""A noisy workspace's pairs table marks the pairs the benchmark flipped (the truth)."""
CLEAN_PAIR_ID_COLUMN = "clean_pair_id"
"""...and names each pair's id in the clean data it was made from."""

PARTIAL_SUFFIX = ".partial"
"""Appended to a file or folder while it is written; renamed away when complete."""
