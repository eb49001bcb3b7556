"""Which tokens a feature table's statistics cover, in words a screen can show.

Salience, the chosen / rejected sums and the firing rates cover the tokens the selection
policy chose (the paper's sentence ends by default), while a feature's examples come from
every stored token. The salience stage writes the same figures over every stored token
(`*_all` columns) and the token totals; older tables lack them, and then only the policy is
known (from the `extract` stage's config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

NOUNS = {
    "sentence_end": "sentence-end tokens",
    "last": "last tokens",
    "all": "response tokens",
}
"""What the selected tokens are called, by selection policy."""
TOKEN_COLUMNS = ("tokens_chosen", "tokens_rejected")
ALL_TOKEN_COLUMNS = ("tokens_chosen_all", "tokens_rejected_all")


def count_text(n: float) -> str:
    """A token count in at most 7 characters: 4,951 or 12.3M."""
    return f"{n:,.0f}" if n < 1e6 else f"{n / 1e6:.1f}M"


@dataclass(frozen=True)
class Coverage:
    """The tokens behind a feature table's figures: the selected ones and every stored one
    (weighted token totals: a text used in two pairs counts twice on each side)."""

    policy: str
    """The selection policy (`sentence_end`, `all`, `last`), or "" when unknown."""
    selected: float | None
    """Tokens of chosen plus rejected responses that the selected figures cover; None when
    the table does not say."""
    every: float | None
    """The same over every stored token; None when the table has no all-token figures."""

    @classmethod
    def of(cls, table: pl.DataFrame, policy: str = "") -> Coverage:
        """Read from a salience table; `policy` is the fallback for tables without theirs."""
        if "selection" in table.columns and table.height:
            policy = str(table["selection"][0]) or policy
        first: dict[str, Any] = table.row(0, named=True) if table.height else {}
        selected = every = None
        if all(name in first for name in TOKEN_COLUMNS):
            selected = float(first["tokens_chosen"] + first["tokens_rejected"])
        if all(name in first for name in ALL_TOKEN_COLUMNS):
            every = float(first["tokens_chosen_all"] + first["tokens_rejected_all"])
        return cls(policy, selected, every)

    @property
    def known(self) -> bool:
        """Whether anything is known about the tokens (hand-made tables say nothing)."""
        return bool(self.policy) or self.selected is not None

    @property
    def noun(self) -> str:
        return NOUNS.get(self.policy, "selected tokens")

    @property
    def has_all(self) -> bool:
        """Whether all-token figures exist AND differ from the selected ones: with the `all`
        policy, or a store that keeps only the selected tokens, they are the same."""
        return self.every is not None and self.every != self.selected

    def selected_text(self) -> str:
        """'4,951 sentence-end tokens' (or only the noun when the count is unknown)."""
        if self.selected is None:
            return self.noun
        return f"{count_text(self.selected)} {self.noun}"

    def every_text(self) -> str:
        """'all 24,000 tokens'."""
        return f"all {count_text(self.every or 0)} tokens"
