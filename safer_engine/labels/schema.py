"""The tables of `labels.sqlite` and the schema version they make.

Versions: 1 had `feature_labels` only; 2 adds `judgements`; 3 adds `fits`. Every writable
open runs these `CREATE … IF NOT EXISTS` statements and stamps the version, so upgrading an
older file is creating the new tables, and its tags and judgements are untouched. An older
file opened read-only simply has no judgements or fits (a missing table reads as empty).
"""

from __future__ import annotations

SCHEMA_VERSION = 3

FEATURE_LABELS = """
CREATE TABLE IF NOT EXISTS feature_labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sae_id TEXT NOT NULL,
    feature INTEGER NOT NULL,
    tag TEXT,
    note TEXT,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feature_labels_by_feature ON feature_labels (sae_id, feature, id);
"""

# One row per judge answer (or failed request), append-only like the tags. The CHECKs keep
# a failure from ever passing for a score: a row has a score in 1..5 or a failure reason.
JUDGEMENTS = """
CREATE TABLE IF NOT EXISTS judgements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sae_id TEXT NOT NULL,
    feature INTEGER NOT NULL,
    prompt_hash TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    base_url TEXT,
    score INTEGER CHECK (score IS NULL OR score BETWEEN 1 AND 5),
    explanation TEXT NOT NULL DEFAULT '',
    failure TEXT,
    failure_kind TEXT CHECK (failure_kind IS NULL OR failure_kind IN ('answer', 'request')),
    answer TEXT NOT NULL DEFAULT '',
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    CHECK ((score IS NULL) != (failure IS NULL)),
    CHECK ((failure IS NULL) = (failure_kind IS NULL))
);
CREATE INDEX IF NOT EXISTS judgements_by_key
    ON judgements (sae_id, backend, model, feature, prompt_hash, id);
"""

# One row per scoring of one judge explanation (or its failure), append-only: how well the
# explanation predicts where the feature fires on held-out contexts. The CHECKs keep a
# failure from passing for a figure, and every figure in its range.
FITS = """
CREATE TABLE IF NOT EXISTS fits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sae_id TEXT NOT NULL,
    feature INTEGER NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('detection', 'fuzzing')),
    prompt_hash TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    base_url TEXT,
    explanation TEXT NOT NULL,
    balanced_accuracy REAL CHECK (balanced_accuracy IS NULL OR balanced_accuracy BETWEEN 0 AND 1),
    auc REAL CHECK (auc IS NULL OR auc BETWEEN 0 AND 1),
    firing INTEGER NOT NULL DEFAULT 0,
    silent INTEGER NOT NULL DEFAULT 0,
    unusable INTEGER NOT NULL DEFAULT 0,
    failure TEXT,
    failure_kind TEXT
        CHECK (failure_kind IS NULL OR failure_kind IN ('answer', 'request', 'contexts')),
    answers TEXT NOT NULL DEFAULT '[]',
    calls INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    CHECK ((balanced_accuracy IS NULL) != (failure IS NULL)),
    CHECK ((failure IS NULL) = (failure_kind IS NULL)),
    CHECK (auc IS NULL OR balanced_accuracy IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS fits_by_key
    ON fits (sae_id, method, backend, model, feature, prompt_hash, id);
"""

SCHEMA = FEATURE_LABELS + JUDGEMENTS + FITS
"""Every statement of the current version, `;`-separated."""
