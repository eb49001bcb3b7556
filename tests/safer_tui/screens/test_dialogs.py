"""The small dialogs' own words: how long a run took, as the recipe question says it."""

from __future__ import annotations

import pytest

from safer_tui.screens.dialogs import duration


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.3, "under a second"),
        (4.4, "4 s"),
        (59.6, "1 min 00 s"),
        (156.0, "2 min 36 s"),
        (3 * 3600 + 5 * 60 + 20, "3 h 05 min"),
    ],
)
def test_durations_read_in_the_unit_that_matters(seconds: float, said: str) -> None:
    assert duration(seconds) == said
