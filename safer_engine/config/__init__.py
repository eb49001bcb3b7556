"""Configuration dataclasses, one per stage, validated on construction and saved as JSON."""

from safer_engine.config.attribution import AblationCheckConfig, AttributionConfig
from safer_engine.config.base import Config, field_docs, flag
from safer_engine.config.benchmark import NOISE_METHODS, NoiseBenchmarkConfig
from safer_engine.config.data import PREFERENCES, DataConfig, Preference
from safer_engine.config.edits import EDIT_MODES, EditConfig
from safer_engine.config.experiment import ExperimentConfig
from safer_engine.config.fit import FitConfig
from safer_engine.config.judge import JudgeConfig
from safer_engine.config.model import ExtractConfig, RMConfig
from safer_engine.config.recipe import RecipeConfig
from safer_engine.config.sae import SAEConfig
from safer_engine.config.scores import SELECT_SOURCES, SelectionConfig
from safer_engine.config.share import NeuronpediaConfig, ReportConfig

__all__ = [
    "EDIT_MODES",
    "NOISE_METHODS",
    "PREFERENCES",
    "SELECT_SOURCES",
    "AblationCheckConfig",
    "AttributionConfig",
    "Config",
    "DataConfig",
    "EditConfig",
    "ExperimentConfig",
    "ExtractConfig",
    "FitConfig",
    "JudgeConfig",
    "NeuronpediaConfig",
    "NoiseBenchmarkConfig",
    "Preference",
    "RMConfig",
    "RecipeConfig",
    "ReportConfig",
    "SAEConfig",
    "SelectionConfig",
    "field_docs",
    "flag",
]
