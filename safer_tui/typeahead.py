"""Keys typed ahead of a screen act on that screen: the app lets a key through only when the
key before it is done, a screen it opened mounted and focused included.

Textual hands a key to the focused widget by posting it there; the binding it triggers runs
when the key has bubbled back up to the app, and a screen that binding asks for is pushed
some messages later (Enter: the table's `Selected`, the screen's `OpenFeature`, the app's
push). Keys that arrived meanwhile, typed quickly or read together over SSH, had already
been posted to the old screen's focused widget and ran the old screen's bindings: Enter then
j j moved the list instead of the page, Enter then Esc left the page open, and a search typed
right after `/` tagged and sorted features. Here a key that arrives while the one before is
being handled waits until every message queue of the app and its screens is empty and every
widget mounted, then goes wherever the focus is by then.
"""

from __future__ import annotations

from collections import deque
from time import monotonic

from textual import events
from textual.app import App
from textual.widget import Widget

SETTLE_S = 0.002
"""How often a waiting key looks whether the key before it is done."""
LONGEST_WAIT_S = 1.0
"""A key waits no longer than this: a widget whose messages never stop (an animation) must
not hold the keyboard."""


class TypeAheadApp(App[None]):
    """An app that handles the keys it is sent one at a time, each to its end."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: deque[events.Key] = deque()
        self._busy_since: float | None = None
        """When the key being handled was let through; None when none is."""

    async def on_event(self, event: events.Event) -> None:
        # A key from the terminal is not forwarded; once forwarded it bubbles back up here
        # to run its binding and must pass.
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._busy_since is None:
                self.set_timer(SETTLE_S, self._settle)
            elif self._waiting or not self._settled():
                self._waiting.append(event)
                return
            self._busy_since = monotonic()
        await super().on_event(event)

    async def _settle(self) -> None:
        """Let the next waiting key through once the keys before it are done; look again
        soon while they are not, or while keys come."""
        assert self._busy_since is not None  # set when this timer was
        if not self._settled() and monotonic() - self._busy_since < LONGEST_WAIT_S:
            self.set_timer(SETTLE_S, self._settle)
            return
        if not self._waiting:
            self._busy_since = None
            return
        self._busy_since = monotonic()
        self.set_timer(SETTLE_S, self._settle)
        await super().on_event(self._waiting.popleft())

    def _settled(self) -> bool:
        """Whether nothing is left to do for the keys handled so far: no message waits
        anywhere, and every widget (a new screen's too) has run its mount handlers."""
        if self.message_queue_size:
            return False
        return all(
            node.is_mounted and not node.message_queue_size
            for screen in self.screen_stack
            for node in screen.walk_children(Widget, with_self=True)
        )
