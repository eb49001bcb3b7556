"""How the explorer shows an engine error: one way everywhere, message then hint."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widget import Widget

from safer_engine.errors import SaferError

ERROR_SECONDS = 20  # long enough to read a message and its hint twice; a click dismisses


def error_text(exc: SaferError) -> str:
    return f"{exc.message}\n{exc.hint}" if exc.hint else exc.message


def show_error(node: Widget | App[Any], exc: SaferError) -> None:
    """A notification with what is wrong and what to do; call from the UI thread."""
    notify_error(node, error_text(exc))


def notify_error(node: Widget | App[Any], text: str, severity: str = "error") -> None:
    """Any error (or warning) the same way: shown long enough to be read whole."""
    node.notify(text, severity=severity, timeout=ERROR_SECONDS, markup=False)  # type: ignore[arg-type]
