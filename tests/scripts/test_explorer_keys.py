"""The explorer page's key tables are the screens' bindings (scripts/explorer_keys.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "explorer_keys.py"


def test_the_explorer_key_tables_are_the_bindings() -> None:
    """`python scripts/explorer_keys.py` rewrites them when the bindings change."""
    spec = importlib.util.spec_from_file_location("explorer_keys", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = script.PAGE.read_text(encoding="utf-8")
    assert page.count("<!-- keys: ") == len(script.TABLES)
    assert "| `t` | tag safe |" in page
    assert script.rewritten(page) == page, "run python scripts/explorer_keys.py"
