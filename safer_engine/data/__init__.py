"""Preference data: load any supported source into one canonical table."""

from safer_engine.data.load import PreferenceData, load_preferences, save_table

__all__ = ["PreferenceData", "load_preferences", "save_table"]
