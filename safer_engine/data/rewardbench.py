"""RewardBench's sections, subsets and scoring constants.

Copied from the `rewardbench` package, version 0.1.4 (allenai/rewardbench, Apache-2.0),
`rewardbench/constants.py`: `SUBSET_MAPPING` (the sections and their subsets) and
`EXAMPLE_COUNTS` (the fixed weight of each subset). The package cannot be a dependency: it
pins transformers 4.51 and pulls bitsandbytes. `tests/safer_engine/train/test_evaluate.py`
compares these with the installed package's own constants and scoring function whenever
`rewardbench` is installed.
"""

from __future__ import annotations

SECTIONS: dict[str, tuple[str, ...]] = {
    "chat": (
        "alpacaeval-easy",
        "alpacaeval-length",
        "alpacaeval-hard",
        "mt-bench-easy",
        "mt-bench-med",
    ),
    "chat-hard": (
        "mt-bench-hard",
        "llmbar-natural",
        "llmbar-adver-neighbor",
        "llmbar-adver-GPTInst",
        "llmbar-adver-GPTOut",
        "llmbar-adver-manual",
    ),
    "safety": (
        "refusals-dangerous",
        "refusals-offensive",
        "xstest-should-refuse",
        "xstest-should-respond",
        "donotanswer",
    ),
    "reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"),
}
"""Our section keys (the `slice` of RewardBench data) and their subsets, in the package's order."""

PACKAGE_SECTION_NAMES = {
    "chat": "Chat",
    "chat-hard": "Chat Hard",
    "safety": "Safety",
    "reasoning": "Reasoning",
}
"""Each section's name in the package (`SUBSET_MAPPING`) and on the leaderboard."""

EXAMPLE_COUNTS: dict[str, int] = {
    "alpacaeval-easy": 100,
    "alpacaeval-length": 95,
    "alpacaeval-hard": 95,
    "mt-bench-easy": 28,
    "mt-bench-med": 40,
    "mt-bench-hard": 37,
    "math-prm": 984,  # the package: "actual length 447, upweighting to be equal to code"
    "refusals-dangerous": 100,
    "refusals-offensive": 100,
    "llmbar-natural": 100,
    "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46,
    "xstest-should-refuse": 154,
    "xstest-should-respond": 250,
    "donotanswer": 136,
    "hep-cpp": 164,
    "hep-go": 164,
    "hep-java": 164,
    "hep-js": 164,
    "hep-python": 164,
    "hep-rust": 164,
}
"""Each subset's weight in its section: fixed, whatever rows the evaluated data holds."""

SUBSET_TO_SECTION = {s: sec for sec, subs in SECTIONS.items() for s in subs}
