"""The footer: as many of the screen's keys as the terminal has room for, in the order the
screen lists them, and always its help and quit keys, so nothing is cut mid-word at 80 or
60 columns. F1 lists every key."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = frozenset({"help", "quit", "app.quit"})
"""Actions shown however narrow the terminal: the way to every other key, and out."""


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self.shown: list[Binding] = []

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        found: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in found:
                found[binding.action] = (binding, enabled, tooltip)
        keys = list(found.values())
        width = self.app.size.width
        fitted = fit([(b, self.app.get_key_display(b)) for b, _, _ in keys], width)
        self.shown = [b for b, _, _ in keys if b in fitted]
        for binding, enabled, tooltip in keys:
            if binding not in fitted:
                continue
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        palette = self.app.COMMAND_PALETTE_BINDING
        if self.app.ENABLE_COMMAND_PALETTE and palette in self.screen.active_bindings:
            _, binding, enabled, _ = self.screen.active_bindings[palette]
            used = sum(cost(b, self.app.get_key_display(b)) for b in self.shown)
            display = self.app.get_key_display(binding)
            if used + cost(binding, display) + 1 <= width:  # the last, if there is room
                yield FooterKey(
                    binding.key,
                    display,
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                )

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self.recompose)


def cost(binding: Binding, display: str) -> int:
    """Cells a compact footer key takes: 'key description' and a space after."""
    return cell_len(display) + 1 + cell_len(binding.description) + 1


def fit(keys: list[tuple[Binding, str]], width: int) -> set[Binding]:
    """The keys to show in `width` cells: every one kept by `ALWAYS`, then the others in
    their order while they fit."""
    kept = {b for b, _ in keys if b.action in ALWAYS}
    used = sum(cost(b, d) for b, d in keys if b in kept)
    for binding, display in keys:
        if binding in kept:
            continue
        if used + cost(binding, display) > width:
            break
        kept.add(binding)
        used += cost(binding, display)
    return kept
