"""What F1 shows on each screen, made from the screen's own bindings so it cannot drift from
them: each key with its binding's tooltip (or, when that would say no more, its
description), then the app's keys, then what the screen's marks mean and the glossary of every
column. The explorer page's key tables are made by the same functions
(`scripts/explorer_keys.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.binding import Binding, BindingType

Row = tuple[str, str]
"""A key (or a word, or nothing for a line of its own) and what it does or means."""

KEY_NAMES = {
    "escape": "Esc",
    "backspace": "Backspace",
    "enter": "Enter",
    "space": "Space",
    "question_mark": "?",
    "slash": "/",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "percent_sign": "%",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "home": "Home",
    "end": "End",
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
}


def key_name(key: str) -> str:
    """A key as a person types it: `Esc`, `?`, `Ctrl+C`, `F1`, `G`."""
    if key in KEY_NAMES:
        return KEY_NAMES[key]
    if key.startswith("ctrl+"):
        return "Ctrl+" + key_name(key[5:]).upper()
    if len(key) > 1 and key[0] == "f" and key[1:].isdigit():
        return key.upper()
    return key


def as_binding(binding: BindingType) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def key_rows(bindings: Iterable[BindingType]) -> list[tuple[list[str], str]]:
    """Each action once, in the order bound, with every key that does it and what it does;
    bindings without a description are left out (there is nothing to say)."""
    merged: dict[str, tuple[list[str], str]] = {}
    for binding in map(as_binding, bindings):
        what = binding.tooltip or binding.description
        if not what:
            continue
        keys = [key_name(k.strip()) for k in binding.key.split(",")]
        if binding.action in merged:
            merged[binding.action][0].extend(k for k in keys if k not in merged[binding.action][0])
        else:
            merged[binding.action] = (keys, what)
    return list(merged.values())


def with_app(
    bindings: Sequence[BindingType], app_bindings: Sequence[BindingType]
) -> list[BindingType]:
    """A screen's bindings, then the app's whose keys the screen does not take over."""
    taken = {k.strip() for b in map(as_binding, bindings) for k in b.key.split(",")}
    app = [b for b in map(as_binding, app_bindings) if not set(b.key.split(",")) & taken]
    return [*bindings, *app]


def help_rows(
    bindings: Sequence[BindingType], app_bindings: Sequence[BindingType], notes: Sequence[Row]
) -> list[Row]:
    """F1's lines: the screen's keys and the app's, the screen's notes, the glossary."""
    rows = [(" / ".join(keys), what) for keys, what in key_rows(with_app(bindings, app_bindings))]
    if notes:
        rows += [("", ""), *notes]
    return [*rows, ("", ""), *GLOSSARY]


def markdown_table(bindings: Sequence[BindingType], heading: str) -> str:
    """The documentation's table of a screen's keys (docs/explorer.md)."""
    lines = [f"| {heading} | |", "|---|---|"]
    for keys, what in key_rows(bindings):
        lines.append(f"| {', '.join(f'`{k}`' for k in keys)} | {what} |")
    return "\n".join(lines)


GLOSSARY: list[Row] = [
    ("", "What the columns say:"),
    (
        "salience",
        "(A_c − A_r) / (A_c + A_r + 2m): A_c, A_r the feature's summed activations on chosen "
        "and on rejected responses, m the mean of all those sums; + fires more on chosen, − on "
        "rejected; the list ranks by |salience|",
    ),
    (
        "effect",
        "(after `safer attribute`) the feature's mean attribution to the margin over train "
        "pairs: + pushes rewards toward the chosen response, − toward the rejected; what "
        "removing it would change, to first order (salience: how differently it fires)",
    ),
    ("chosen", "firing rate on chosen responses' selected tokens (rejected: on rejected ones)"),
    ("all ch", "all rej: the same over every stored token (120+ columns)"),
    ("mean Δ", "mean activation, chosen minus rejected (100+ columns)"),
    ("rate Δ", "firing rate, chosen minus rejected (100+ columns)"),
    ("density", "share of all stored tokens the feature fires on"),
    ("max", "its strongest activation on any stored token"),
    ("lift", "(word search) its mean activation on the word's tokens minus its mean on all"),
    (
        "judge",
        "the LLM judge's score, 1 (not about safety) to 5; ✗ when it gave no usable answer; "
        "a suggestion: tags win",
    ),
    (
        "fit",
        "how well the judge's explanation predicts where the feature fires: the balanced "
        "accuracy of the judge's yes/no on held-out contexts, 0.5 chance to 1 (J with the "
        "fit, or `safer judge --score`); ✗ when it could not be scored (80+ columns)",
    ),
    ("tag", "what a person says the feature is about: safe (e.g. refusals), unsafe (harm)"),
    (
        "score",
        "a pair's S(chosen) − S(rejected); S(r): the mean over the response's selected tokens "
        "of the safe (P) minus the unsafe (N) features' activations: the tagged ones, else "
        "judged, else the top 32 by |salience| (as `safer score-pairs`)",
    ),
    ("rank", "the pair's place by score among the train pairs"),
    ("flipped", "(noise benchmark) ✗: the benchmark flipped this pair on purpose"),
    (
        "text",
        "the start of a pair's prompt ▍ its chosen response, line breaks as ⏎ (on a narrow "
        "terminal split, then slice, give it room)",
    ),
    ("recipe", "fast: a head on the frozen backbone, a proxy; full: the whole model retrained"),
    ("safety", "general: test accuracy on that slice's clean test pairs"),
    ("change", "edited minus clean accuracy, same seed and recipe"),
    ("edited", "how many train pairs the plan flipped or removed"),
    (
        "",
        "figures of salience, chosen and rejected cover the selected tokens (sentence ends "
        "by default, as the status line says); examples come from every token",
    ),
]
"""What the columns mean, under every screen's keys."""

FEATURES_NOTES: list[Row] = [
    ("Ctrl+P", "commands: pairs, judge, export tags, every sort and filter"),
    (
        "",
        "After one tag the cursor moves down a row; tags and the judge use the marked rows "
        "when there are any.",
    ),
]

FEATURE_NOTES: list[Row] = [
    (
        "top",
        "p90, p50, p10: examples at the strongest activations, or drawn around those percentiles",
    ),
    ("▍", "where the prompt (dim) ends and the response starts"),
    ("…", "text left out"),
    ("✂", "where the model's input ended: text after it was never read"),
    ("", "Each example's pair id is under its label; the example at the top is highlighted."),
    (
        "histogram",
        "how many stored tokens (left: the tallest bar's count) have each activation (below, "
        "from 0 to the feature's highest bin)",
    ),
    ("", "After a word search (w on the list) the word's tokens are marked in the examples."),
]

PAIRS_NOTES: list[Row] = [
    (
        "✂",
        "the model read nothing before (prompt) or after (response) this mark: a prompt "
        "keeps its last tokens, a response is cut at the model's max_length; unread text is dim",
    ),
    ("", "Shading: green safe, red unsafe features, or one feature's activation (h)."),
    ("", "A search's matches (any case) are marked in the list, the prompt and both responses."),
]

EDITS_NOTES: list[Row] = [
    (
        "",
        "Modes: poison flips the highest scores, denoise removes the lowest, random-flip and "
        "random-remove draw at random. Nothing is saved until x or t.",
    ),
]

RUNS_NOTES: list[Row] = [
    (
        "",
        "base is the analysed reward model; clean and edited runs train on the (edited) "
        "train split; all are tested on the clean test pairs.",
    ),
    ("chart", "accuracy by ratio; · the shortfall against the clean runs (┊), mean over seeds"),
]

PLAN_PAIR_NOTES: list[Row] = [
    (
        "",
        "Both responses shaded by the plan's safety features (green safe, red unsafe); a "
        "flip swaps chosen and rejected.",
    ),
]
