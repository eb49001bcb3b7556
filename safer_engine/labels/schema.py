"""The tables of `labels.sqlite` and the schema version they make.

Versions: 1 had `feature_labels` only; 2 adds `judgements`. Every writable open runs these
`CREATE … IF NOT EXISTS` statements and stamps the version, so upgrading a version-1 file is
creating the new table, and its tags are untouched. A version-1 file opened read-only simply
has no judgements (a missing table reads as empty).
"""

from __future__ import annotations

SCHEMA_VERSION = 2

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

SCHEMA = FEATURE_LABELS + JUDGEMENTS
"""Every statement of the current version, `;`-separated."""
