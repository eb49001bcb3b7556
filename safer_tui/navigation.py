"""What a screen asks of the app: open another screen, start or cancel the retrain, keep
the Edits screen's settings. A screen posts one of these messages to itself; it bubbles up
to the app, which pushes the screen or starts the job. So no screen imports another screen
or the app, and the app alone knows which screen class answers which request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the explorer's first screen has no use for the edits' modules
    from safer_engine.service.edits import Edit, EditRequest


class OpenFeature(Message):
    """A feature's page, at `position` of `order` (`[` and `]` step through it);
    `returned` gets the feature the page showed last when it is left with Esc; `word`: the
    word search the features were found by, whose tokens the examples mark."""

    def __init__(
        self,
        order: list[int],
        position: int,
        returned: Callable[[int | None], None] | None = None,
        word: str = "",
    ) -> None:
        super().__init__()
        self.order, self.position, self.returned = order, position, returned
        self.word = word


class OpenPairs(Message):
    """The Pairs screen: `feature` the one `h` shades by, `pair` the pair shown first,
    `shade_feature` to start shading by the feature (asked from its page)."""

    def __init__(
        self, feature: int | None, pair: int | None = None, shade_feature: bool = False
    ) -> None:
        super().__init__()
        self.feature, self.pair, self.shade_feature = feature, pair, shade_feature


class OpenPlanPair(Message):
    """One pair of an edit plan, shaded by the plan's safety features."""

    def __init__(self, pair: int, edit: Edit, safe: list[int], unsafe: list[int]) -> None:
        super().__init__()
        self.pair, self.edit, self.safe, self.unsafe = pair, edit, safe, unsafe


class StartRetrain(Message):
    """Retrain a saved plan (None: the clean run) with a recipe, then show the Runs screen."""

    def __init__(self, plan_id: str | None, recipe: str) -> None:
        super().__init__()
        self.plan_id, self.recipe = plan_id, recipe


class EditsLeft(Message):
    """The Edits screen's settings as it was left, to open it with again."""

    def __init__(self, request: EditRequest) -> None:
        super().__init__()
        self.request = request
