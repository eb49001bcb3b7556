"""Configuration dataclasses, one per stage, validated on construction and saved as JSON."""

from safer_engine.config.base import Config, field_docs, flag
from safer_engine.config.data import PREFERENCES, DataConfig, Preference
from safer_engine.config.judge import JudgeConfig
from safer_engine.config.model import ExtractConfig, RMConfig
from safer_engine.config.sae import SAEConfig

__all__ = [
    "PREFERENCES",
    "Config",
    "DataConfig",
    "ExtractConfig",
    "JudgeConfig",
    "Preference",
    "RMConfig",
    "SAEConfig",
    "field_docs",
    "flag",
]
