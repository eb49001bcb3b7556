"""One small hierarchy of user-facing errors.

Every failure a user can cause is raised as a `SaferError` carrying a message (what is wrong)
and a hint (what to do next). The CLI and the explorer print these two lines and nothing
else; `--debug` adds the traceback.
"""

from __future__ import annotations


class SaferError(Exception):
    """A failure the user can act on."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(SaferError):
    """A configuration value is out of range or inconsistent."""


class DataError(SaferError):
    """A preference data source cannot be read or has no usable rows."""


class SchemaError(DataError):
    """A table's columns match none of the known preference-data schemas."""


class ModelError(SaferError):
    """A model cannot be found, loaded or used as a reward model."""


class TrainingError(SaferError):
    """Training or evaluation cannot start or cannot go on."""


class StoreError(SaferError):
    """An activation store cannot be written, read or trusted."""


class WorkspaceError(SaferError):
    """A workspace folder is missing, incomplete or from an incompatible version."""


class Cancelled(SaferError):
    """Long work was cancelled by the user; nothing partial was kept (unless `hint` says so:
    work written piece by piece, such as judgements, keeps the pieces that finished)."""

    def __init__(
        self, what: str = "the operation", hint: str = "Nothing partial was written; run it again."
    ) -> None:
        super().__init__(f"Cancelled {what}.", hint)


class AnalysisError(SaferError):
    """Arrays handed to an analysis function have the wrong shape, type or values."""


class JudgeError(SaferError):
    """An LLM judge cannot be reached, refuses us, or cannot judge what it was asked to."""


class DiskFullError(SaferError):
    """The disk filled up while a file was written; the previous file is untouched."""

    def __init__(self, path: object) -> None:
        name = getattr(path, "name", path)
        super().__init__(
            f"The disk filled up while writing {name}; nothing was replaced.",
            "Free some space and run the command again.",
        )


class EditError(SaferError):
    """An edit plan cannot be made, applied or exported."""


class BenchmarkError(SaferError):
    """A benchmark cannot run on this data, or a method cannot rank its pairs."""
