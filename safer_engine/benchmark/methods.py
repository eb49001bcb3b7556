"""The noise benchmark's methods and reference runs by name, and how tables call them: plain
constants, so its summaries can be read (the audit report) without loading the loop."""

from __future__ import annotations

SAFER_JUDGE = "safer-judge"
REFERENCES = ("noisy", "oracle", "clean")
"""Runs that are not methods: the noisy data unedited, the flipped pairs removed (the
oracle) and the clean data."""
METHOD_LABELS = {
    "safer": "SAFER (pair score)",
    SAFER_JUDGE: "SAFER (judge's features)",
    "margin": "noisy RM's margin",
    "cleanlab": "cleanlab (out-of-fold)",
    "random": "random",
    "noisy": "no removal (noisy data)",
    "oracle": "oracle: the flipped pairs removed",
    "clean": "clean data",
}
