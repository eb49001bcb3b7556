"""Feature labels: tags, notes and judge suggestions in an append-only SQLite table."""

from safer_engine.labels.csv_io import CSV_COLUMNS, CsvImport
from safer_engine.labels.fold import SOURCES, TAGS, Label, LabelRow
from safer_engine.labels.store import SCHEMA_VERSION, LabelStore

__all__ = [
    "CSV_COLUMNS",
    "SCHEMA_VERSION",
    "SOURCES",
    "TAGS",
    "CsvImport",
    "Label",
    "LabelRow",
    "LabelStore",
]
