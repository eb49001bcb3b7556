"""Rewrite the key tables of the explorer's page (docs/explorer.md) from the screens' bindings.

Each table sits between `<!-- keys: NAME -->` and `<!-- /keys -->`;
tests/scripts/test_explorer_keys.py fails while one differs from what the bindings say. Run
from the repository root: `python scripts/explorer_keys.py`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from safer_tui.app import SaferApp
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.help_keys import markdown_table, with_app
from safer_tui.screens.pairs import PairsScreen
from safer_tui.widgets.feature_table import FeatureTable

PAGE = Path(__file__).resolve().parent.parent / "docs" / "explorer.md"
TABLES = {
    "features": markdown_table(
        with_app([*FeatureTable.BINDINGS, *FeaturesScreen.BINDINGS], SaferApp.BINDINGS), "keys"
    ),
    "pairs": markdown_table(PairsScreen.BINDINGS, "keys (Pairs)"),
}
BLOCK = re.compile(r"(<!-- keys: (\w+) -->\n).*?(\n<!-- /keys -->)", re.DOTALL)


def rewritten(text: str) -> str:
    """The page with every key table as the bindings say."""
    return BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)] + m.group(3), text)


def main() -> int:
    text = PAGE.read_text(encoding="utf-8")
    new = rewritten(text)
    if new != text:
        PAGE.write_text(new, encoding="utf-8")
        print(f"Rewrote the key tables in {PAGE}.")
    else:
        print("The key tables are current.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
