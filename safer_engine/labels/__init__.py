"""Feature labels: tags, notes and judge suggestions in an append-only SQLite table, and the
judge's scores and their explanations' fits beside them.

`judgements(labels_path, sae_id)` and `fits(labels_path, sae_id)` are imported from their
modules themselves: re-exported here, each function would shadow its module's name.
"""

from safer_engine.labels.csv_io import CSV_COLUMNS, CsvImport
from safer_engine.labels.fits import Fit, FitLog
from safer_engine.labels.fold import SOURCES, TAGS, Label, LabelRow
from safer_engine.labels.judgements import Judgement, JudgementLog
from safer_engine.labels.store import SCHEMA_VERSION, LabelStore

__all__ = [
    "CSV_COLUMNS",
    "SCHEMA_VERSION",
    "SOURCES",
    "TAGS",
    "CsvImport",
    "Fit",
    "FitLog",
    "Judgement",
    "JudgementLog",
    "Label",
    "LabelRow",
    "LabelStore",
]
