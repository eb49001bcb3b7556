"""How the explorer shows an engine error: one way everywhere, message then hint."""

from __future__ import annotations

from textual.widget import Widget

from safer_engine.errors import SaferError

ERROR_SECONDS = 8


def error_text(exc: SaferError) -> str:
    return f"{exc.message}\n{exc.hint}" if exc.hint else exc.message


def show_error(node: Widget, exc: SaferError) -> None:
    """A notification with what is wrong and what to do; call from the UI thread."""
    node.notify(error_text(exc), severity="error", timeout=ERROR_SECONDS)
