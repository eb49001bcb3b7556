"""The Pairs screen's line on what moves a pair's margin: its features by attribution
(signed: + toward the chosen response), the SAE error's share, and whether ablation
confirmed the attributions; none is shown as an explanation where ablation disagreed."""

from __future__ import annotations

from rich.text import Text

from safer_engine.service.explorer import PairDrivers, Trust

WRONG = "wrong"
"""The `f` filter after the slices: the test pairs the reward model orders wrong."""


def drivers_text(drivers: PairDrivers, trust: Trust, listed: int) -> Text:
    """`margin +1.234 · driven by 12 +0.031, 7 −0.020 · error 18%`; a pair ordered wrong
    lists the features that pushed it the wrong way (toward rejected) first."""
    text = Text.assemble(("margin ", "bold"), (f"{drivers.margin:+.3f}", "bold"))
    if trust.checked and not trust.agrees:
        return text.append(
            f" · attributions {trust.describe()}: not shown as an explanation", style="yellow"
        )
    wrong_way = drivers.margin <= 0
    ordered = sorted(drivers.drivers, key=lambda d: d[1]) if wrong_way else drivers.drivers
    text.append(" · wrong way first: " if wrong_way else " · driven by: ")
    for i, (feature, value) in enumerate(ordered[:listed]):
        text.append(", " if i else "").append(f"{feature} ")
        text.append(f"{value:+.3f}", style="green" if value > 0 else "red")
    if not drivers.drivers:
        text.append("no feature fires", style="dim")
    text.append(f" · error {drivers.error_share:.0%}")
    if not trust.checked:
        text.append(" · unchecked (safer attribute --check)", style="dim")
    return text
