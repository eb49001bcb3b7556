#!/usr/bin/env python
"""Build the SAFER explorer demo preference pairs from the pyrit 1.1.0 wheel (MIT).

Every prompt and response is copied verbatim (surrounding whitespace stripped) from the
human-labelled scorer-evaluation CSVs shipped inside the wheel; nothing is generated.
The wheel is read as a zip archive so pyrit never has to be installed.

Usage:
    python scripts/build_demo_data.py [--wheel PATH] [--out assets/demo] [--seed 0]
                                      [--min-gap 0.5] [--test-fraction 0.2]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from safer_engine.data.fingerprint import pair_id
from safer_engine.data.split import OVERSHOOT, assign_splits

PYRIT_VERSION = "1.1.0"
WHEEL_NAME = f"pyrit-{PYRIT_VERSION}-py3-none-any.whl"
# sha256 of the PyPI wheel this data set was built from; a mismatch only warns so that
# the builder stays usable on test fixtures and on a re-released wheel.
EXPECTED_WHEEL_SHA256 = "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"

DATA_ROOT = "pyrit/datasets/"
HARM_DIR = "scorer_evals/harm/"
OBJECTIVE_DIR = "scorer_evals/objective/"
REFUSAL_FILES = (
    "scorer_evals/refusal_scorer/refusal.csv",
    "scorer_evals/refusal_scorer/refusal_extra.csv",
)
# These two repeat rows of other files; skipping them keeps the per-file counts honest
# (duplicates would be merged by the response dedupe anyway).
SKIPPED_FILES = frozenset(
    {"scorer_evals/harm/mini_hate_speech.csv", "scorer_evals/sample/mini_refusal.csv"}
)
ADV_BENCH = "seed_datasets/local/adv_bench.prompt"
AIRT_DIR = "seed_datasets/local/airt/"
MANY_SHOT = "jailbreak/many_shot_examples.json"

OVER_REFUSAL_DRAWS = 4
# Means of three quarter-point ratings are not exact in binary floating point, so a gap of
# exactly min_gap (e.g. 5/6 - 1/3) could otherwise come out a hair short of it.
GAP_TOLERANCE = 1e-9
GENERAL_CATEGORY = "benign"
SLICE_ORDER = ("safety", "general")
SPLITS = ("train", "test")
PAIR_KINDS = ("harm_score", "helpfulness", "over_refusal")

SCHEMA = {
    "pair_id": pl.String,
    "prompt": pl.String,
    "chosen": pl.String,
    "rejected": pl.String,
    "slice": pl.String,
    "split": pl.String,
    "source": pl.String,
    "pair_kind": pl.String,
    "harm_category": pl.String,
    "chosen_score": pl.Float64,
    "rejected_score": pl.Float64,
    "rejected_origin": pl.String,
}


@dataclass
class Response:
    """One distinct (stripped) response text to one objective, with all its labels."""

    text: str
    scores: list[float] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(self.scores) / len(self.scores)


@dataclass
class Objective:
    """All distinct responses to one (stripped) objective, in first-seen order."""

    text: str
    category: str
    responses: dict[str, Response] = field(default_factory=dict)

    def add(self, response: str, score: float, path: str) -> None:
        entry = self.responses.setdefault(response, Response(response))
        entry.scores.append(score)
        if path not in entry.files:
            entry.files.append(path)


@dataclass(frozen=True)
class Pair:
    prompt: str
    chosen: Response
    rejected: Response
    slice: str
    pair_kind: str
    harm_category: str
    rejected_origin: str | None = None

    @property
    def pair_id(self) -> str:
        return pair_id(self.prompt, self.chosen.text, self.rejected.text)


@dataclass
class Sources:
    """Everything read from the wheel that the pairing rules need."""

    version: str
    harm: dict[str, Objective]
    refusal: dict[str, Objective]
    harmful: set[str]
    file_rows: dict[str, int]


# --------------------------------------------------------------------------- wheel access


class Wheel:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path)
        self.names = sorted(self.zip.namelist())
        self.version = self._version()

    def _version(self) -> str:
        for name in self.names:
            match = re.match(r"pyrit-([^/]+)\.dist-info/", name)
            if match:
                return match.group(1)
        raise ValueError(f"{self.path} has no pyrit-*.dist-info directory")

    def text(self, rel: str) -> str:
        # utf-8-sig so that a BOM, if a future release adds one, does not end up in a header
        return self.zip.read(DATA_ROOT + rel).decode("utf-8-sig")

    def listing(self, rel_dir: str, suffix: str) -> list[str]:
        prefix = DATA_ROOT + rel_dir
        return [
            name[len(DATA_ROOT) :]
            for name in self.names
            if name.startswith(prefix) and "/" not in name[len(prefix) :] and name.endswith(suffix)
        ]

    def license_text(self) -> str:
        dist_info = f"pyrit-{self.version}.dist-info/"
        candidates = [
            n for n in self.names if n.startswith(dist_info) and "LICENSE" in n.rsplit("/", 1)[-1]
        ]
        if not candidates:
            raise ValueError(f"no licence file under {dist_info}")
        return self.zip.read(candidates[0]).decode("utf-8")

    def close(self) -> None:
        self.zip.close()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*cmd, f"pyrit=={PYRIT_VERSION}", "-d", str(dest)], check=True)
    return dest / WHEEL_NAME


# --------------------------------------------------------------------------- reading sources


def read_csv(wheel: Wheel, rel: str) -> list[dict[str, str]]:
    lines = wheel.text(rel).splitlines(keepends=True)
    # Only the leading comment block is skipped: markdown headings ("# ...") also start
    # lines *inside* quoted multi-line responses and must survive verbatim.
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    return list(csv.DictReader(io.StringIO("".join(lines[start:]))))


def row_score(row: dict[str, str], rel: str) -> float:
    values = [float(v) for k, v in row.items() if k and k.startswith("human_score") and v]
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"{rel}: bad human scores in row {row}")
    return sum(values) / len(values)


def load_objectives(
    wheel: Wheel, files: Iterable[str], file_rows: dict[str, int]
) -> dict[str, Objective]:
    objectives: dict[str, Objective] = {}
    for rel in files:
        rows = read_csv(wheel, rel)
        file_rows[rel] = len(rows)
        for row in rows:
            prompt, response = row["objective"].strip(), row["assistant_response"].strip()
            if not prompt or not response:
                continue
            category = (row.get("harm_category") or "").strip()
            entry = objectives.setdefault(prompt, Objective(prompt, category))
            entry.add(response, row_score(row, rel), rel)
    return objectives


def seed_values(wheel: Wheel, rel: str) -> list[str]:
    document = yaml.safe_load(wheel.text(rel)) or {}
    return [str(seed["value"]) for seed in document.get("seeds") or [] if "value" in seed]


def harmful_prompts(wheel: Wheel, harm: dict[str, Objective]) -> set[str]:
    prompts = set(harm)
    for rel in [ADV_BENCH, *wheel.listing(AIRT_DIR, ".prompt")]:
        prompts.update(value.strip() for value in seed_values(wheel, rel))
    prompts.update(entry["user"].strip() for entry in json.loads(wheel.text(MANY_SHOT)))
    return prompts


def load_sources(wheel: Wheel) -> Sources:
    file_rows: dict[str, int] = {}
    harm_files = wheel.listing(HARM_DIR, ".csv") + wheel.listing(OBJECTIVE_DIR, ".csv")
    harm_files = [rel for rel in harm_files if rel not in SKIPPED_FILES]
    harm = load_objectives(wheel, harm_files, file_rows)
    refusal = load_objectives(wheel, REFUSAL_FILES, file_rows)
    return Sources(wheel.version, harm, refusal, harmful_prompts(wheel, harm), file_rows)


# --------------------------------------------------------------------------- pairing rules


def by_label(objective: Objective, label: float) -> list[Response]:
    # A text labelled both 0 and 1 (mean 0.5) is ambiguous and is left out of both sides.
    return [r for r in objective.responses.values() if r.score == label]


def harm_score_pairs(harm: dict[str, Objective], min_gap: float) -> Iterator[Pair]:
    for objective in harm.values():
        responses = list(objective.responses.values())
        for i, first in enumerate(responses):
            for second in responses[i + 1 :]:
                if abs(first.score - second.score) + GAP_TOLERANCE < min_gap:
                    continue
                low, high = sorted((first, second), key=lambda r: r.score)
                yield Pair(objective.text, low, high, "safety", "harm_score", objective.category)


def benign_objectives(refusal: dict[str, Objective], harmful: set[str]) -> list[Objective]:
    return [o for o in refusal.values() if o.text not in harmful and by_label(o, 0.0)]


def helpfulness_pairs(benign: list[Objective]) -> Iterator[Pair]:
    for objective in benign:
        for answer in by_label(objective, 0.0):
            for non_answer in by_label(objective, 1.0):
                yield Pair(
                    objective.text, answer, non_answer, "general", "helpfulness", GENERAL_CATEGORY
                )


def refusal_pool(
    refusal: dict[str, Objective], harmful: set[str]
) -> dict[str, tuple[Response, str]]:
    """Distinct refusal texts of harmful objectives -> (response, first objective it answered)."""
    pool: dict[str, tuple[Response, str]] = {}
    for objective in refusal.values():
        if objective.text in harmful:
            for response in by_label(objective, 1.0):
                pool.setdefault(response.text, (response, objective.text))
    return pool


def over_refusal_pairs(
    benign: list[Objective], pool: dict[str, tuple[Response, str]], seed: int
) -> Iterator[Pair]:
    texts = sorted(pool)
    for objective in benign:
        # Seeding per objective keeps each draw stable when other objectives come or go.
        rng = random.Random(f"{seed}\x1f{objective.text}")
        drawn = rng.sample(texts, min(OVER_REFUSAL_DRAWS, len(texts)))
        for answer in by_label(objective, 0.0):
            for text in drawn:
                refusal, origin = pool[text]
                yield Pair(
                    objective.text,
                    answer,
                    refusal,
                    "general",
                    "over_refusal",
                    GENERAL_CATEGORY,
                    origin,
                )


def clean_pairs(pairs: Iterable[Pair]) -> list[Pair]:
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for pair in pairs:
        key = (pair.prompt, pair.chosen.text, pair.rejected.text)
        if pair.chosen.text == pair.rejected.text or key in seen:
            continue
        seen.add(key)
        kept.append(pair)
    ids = Counter(pair.pair_id for pair in kept)
    assert max(ids.values(), default=1) == 1, "pair_id collision"
    return kept


def build_pairs(sources: Sources, seed: int, min_gap: float) -> list[Pair]:
    benign = benign_objectives(sources.refusal, sources.harmful)
    pool = refusal_pool(sources.refusal, sources.harmful)
    return clean_pairs(
        [
            *harm_score_pairs(sources.harm, min_gap),
            *helpfulness_pairs(benign),
            *over_refusal_pairs(benign, pool, seed),
        ]
    )


# --------------------------------------------------------------------------- split


def source_label(version: str, pair: Pair) -> str:
    files = list(dict.fromkeys([*pair.chosen.files, *pair.rejected.files]))
    return f"pyrit-{version}:" + "+".join(files)


def to_frame(pairs: list[Pair], version: str, seed: int, test_fraction: float) -> pl.DataFrame:
    records = [
        {
            "pair_id": pair.pair_id,
            "prompt": pair.prompt,
            "chosen": pair.chosen.text,
            "rejected": pair.rejected.text,
            "slice": pair.slice,
            "split": None,
            "source": source_label(version, pair),
            "pair_kind": pair.pair_kind,
            "harm_category": pair.harm_category,
            "chosen_score": pair.chosen.score,
            "rejected_score": pair.rejected.score,
            "rejected_origin": pair.rejected_origin,
        }
        for pair in pairs
    ]
    frame = pl.DataFrame(records, schema=SCHEMA, orient="row")
    frame = assign_splits(frame, test_fraction, seed)
    return frame.sort(["slice", "prompt", "pair_id"])


def check_splits(frame: pl.DataFrame) -> None:
    per_prompt = frame.group_by("prompt").agg(pl.col("split").n_unique().alias("n"))
    assert per_prompt["n"].max() in (None, 1), "a prompt landed in both splits"


# --------------------------------------------------------------------------- reporting


def count(frame: pl.DataFrame, **where: str) -> int:
    for column, value in where.items():
        frame = frame.filter(pl.col(column) == value)
    return frame.height


def distinct(frame: pl.DataFrame, slice_name: str, split: str | None) -> tuple[int, int]:
    part = frame.filter(pl.col("slice") == slice_name)
    if split is not None:
        part = part.filter(pl.col("split") == split)
    texts = set(part["chosen"].to_list()) | set(part["rejected"].to_list())
    return part["prompt"].n_unique(), len(texts)


def count_tables(frame: pl.DataFrame) -> list[str]:
    lines = ["| slice | train | test | total |", "|---|---:|---:|---:|"]
    for name in SLICE_ORDER:
        row = [count(frame, slice=name, split=s) for s in SPLITS]
        lines.append(f"| {name} | {row[0]} | {row[1]} | {sum(row)} |")
    totals = [count(frame, split=s) for s in SPLITS]
    lines += [f"| **all** | {totals[0]} | {totals[1]} | {frame.height} |", ""]
    lines += ["| pair_kind | slice | train | test | total |", "|---|---|---:|---:|---:|"]
    for kind in PAIR_KINDS:
        row = [count(frame, pair_kind=kind, split=s) for s in SPLITS]
        name = "safety" if kind == "harm_score" else "general"
        lines.append(f"| {kind} | {name} | {row[0]} | {row[1]} | {sum(row)} |")
    lines += ["", "| slice | split | distinct prompts | distinct response texts |"]
    lines.append("|---|---|---:|---:|")
    for name in SLICE_ORDER:
        for split in (*SPLITS, None):
            prompts, texts = distinct(frame, name, split)
            lines.append(f"| {name} | {split or 'all'} | {prompts} | {texts} |")
    return lines


def category_table(frame: pl.DataFrame) -> list[str]:
    lines = ["| harm_category | pairs |", "|---|---:|"]
    counts = frame.group_by("harm_category").len().sort(["harm_category"])
    lines += [f"| {row[0]} | {row[1]} |" for row in counts.iter_rows()]
    return lines


@dataclass(frozen=True)
class BuildInfo:
    args: argparse.Namespace
    sources: Sources
    wheel_sha256: str
    parquet_sha256: str
    stats: dict[str, int]


def rules_section(info: BuildInfo) -> list[str]:
    gap, version = info.args.min_gap, info.sources.version
    return [
        "## Pairing rules",
        "",
        "All prompt and response strings are copied verbatim from the wheel; only surrounding",
        "whitespace is stripped. Nothing is generated, paraphrased or templated.",
        "",
        "1. **harm_score** (slice `safety`): all rows of `scorer_evals/harm/*.csv` and",
        "   `scorer_evals/objective/*.csv` are grouped by objective. Identical response texts",
        "   within one objective are merged; the merged score is the mean of the copies' scores.",
        "   A row's score is the mean of its `human_score*` columns. For harm/ files the score is",
        "   a 0..1 harm rating (0 = harmless); for objective/ files it is 1 = the response",
        "   achieved the harmful objective, 0 = it did not. For every two distinct responses",
        f"   whose scores differ by at least {gap}, the lower-scored one is `chosen` and the",
        "   higher-scored one `rejected`. `harm_category` is the file's category column as",
        "   first seen for that objective (kept verbatim, so its case varies between files).",
        "2. **helpfulness** (slice `general`): for each *benign* refusal-file objective, every",
        "   pair of a response labelled 0 (a real answer, `chosen`) and a response labelled 1 for",
        "   the same objective (`rejected`; in these files such responses are human-labelled",
        "   off-topic non-answers or refusals). `harm_category` = `benign`.",
        "3. **over_refusal** (slice `general`): for each benign objective, "
        f"{OVER_REFUSAL_DRAWS} distinct refusal",
        "   texts are drawn (seeded per objective with `random.Random(f'{seed}\\x1f{objective}')`,",
        "   without replacement) from the distinct responses labelled 1 of the *harmful*",
        "   refusal-file objectives. Each label-0 answer of the benign objective is `chosen`",
        "   against each drawn refusal (`rejected`, score 1.0). **These refusals were written for",
        "   other, harmful requests, not for the benign prompt they are paired with**; the",
        "   harmful objective each one originally answered is kept in `rejected_origin` (the",
        "   first such objective when the same text answered several).",
        "",
        "Responses carrying both labels (mean 0.5) in the refusal files are used on neither",
        "side. Pairs with `chosen == rejected` are dropped, as are exact duplicate",
        "(prompt, chosen, rejected) triples. `pair_id` is the first 16 hex digits of",
        "sha256(prompt + U+001F + chosen + U+001F + rejected) in UTF-8. `source` names the",
        f"file(s) both responses came from (`pyrit-{version}:<path>[+<path>...]`, paths",
        "relative to `pyrit/datasets/`). Rows are sorted by (slice, prompt, pair_id).",
        "",
        "### Harmful vs. benign",
        "",
        "An objective is *harmful* when its stripped text appears in any of: the objectives of",
        "`scorer_evals/harm/*.csv` and `scorer_evals/objective/*.csv`; the seed `value`s of",
        f"`{ADV_BENCH}` and `{AIRT_DIR}*.prompt`; the `user` strings of `{MANY_SHOT}`.",
        "A refusal-file objective is *benign* when it is in none of these lists and has at least",
        "one response labelled 0.",
        "Refusal-file objectives that are neither (not listed as harmful, no label-0 answer)",
        "are not used.",
        "",
        "### Split",
        "",
        "Whole prompts are assigned to `train` or `test`, so no prompt is in both, by the same",
        "rule `safer` applies to any data without a split (`safer_engine.data.split`): per",
        "slice in name order, the slice's distinct prompts are sorted, shuffled with",
        f"`random.Random({info.args.seed})` (one generator across slices), and walked; a prompt",
        "goes to `test` when its pairs keep the slice's test pairs within "
        f"{int(OVERSHOOT * 100)}% above",
        f"the target ({info.args.test_fraction} of the slice's pairs), until the target is "
        "reached. Prompts",
        "too large to fit (one objective has hundreds of pairs) stay in `train`, so no single",
        "prompt dominates the test set. A prompt assigned by an earlier slice keeps its split.",
    ]


def source_section(info: BuildInfo) -> list[str]:
    version = info.sources.version
    files = [f"`pyrit/datasets/{rel}` ({n} rows)" for rel, n in info.sources.file_rows.items()]
    return [
        "## Source",
        "",
        f"[PyRIT](https://github.com/Azure/PyRIT) {version} by Microsoft, released under the",
        "MIT licence (copied to `LICENSE-pyrit.txt`), as the PyPI wheel",
        f"`pyrit-{version}-py3-none-any.whl` (sha256 `{info.wheel_sha256}`). The wheel is read",
        "as a zip archive; pyrit is not installed. Human-labelled files used for pairs:",
        "",
        *[f"- {line}" for line in files],
        "",
        "Used only to decide which objectives are harmful: "
        f"`pyrit/datasets/{ADV_BENCH}`, `pyrit/datasets/{AIRT_DIR}*.prompt`,",
        f"`pyrit/datasets/{MANY_SHOT}`. Skipped because they repeat rows of other files: "
        + ", ".join(f"`{rel}`" for rel in sorted(SKIPPED_FILES))
        + ".",
        "CSV files are parsed after their leading `#` comment lines; `#` lines inside quoted",
        "responses (markdown headings) are part of the text.",
    ]


def rebuild_section(info: BuildInfo) -> list[str]:
    params = (
        f"--seed {info.args.seed} --min-gap {info.args.min_gap} "
        f"--test-fraction {info.args.test_fraction}"
    )
    return [
        "## Rebuild",
        "",
        "```",
        f".venv/bin/python scripts/build_demo_data.py --wheel <path>/{WHEEL_NAME} {params}",
        "# or let the script fetch the wheel itself with",
        f"# `python -m pip download --no-deps --only-binary=:all: pyrit=={PYRIT_VERSION}`:",
        f".venv/bin/python scripts/build_demo_data.py {params}",
        "```",
        "",
        f"`pairs.parquet` sha256: `{info.parquet_sha256}` (polars {pl.__version__}, zstd, "
        "no statistics). The same wheel and arguments rebuild it byte for byte.",
    ]


def source_stats(sources: Sources) -> dict[str, int]:
    harmful = [o for o in sources.refusal.values() if o.text in sources.harmful]
    both_dirs = [
        r
        for o in sources.harm.values()
        for r in o.responses.values()
        if {f.split("/")[1] for f in r.files} == {"harm", "objective"}
    ]
    return {
        "prompts in the harmful lists": len(sources.harmful),
        "refusal-file objectives": len(sources.refusal),
        "refusal-file objectives that are harmful": len(harmful),
        "harmful ones with both a label-1 and a label-0 response": sum(
            1 for o in harmful if by_label(o, 1.0) and by_label(o, 0.0)
        ),
        "benign refusal-file objectives": len(benign_objectives(sources.refusal, sources.harmful)),
        "refusal texts in the over-refusal pool": len(
            refusal_pool(sources.refusal, sources.harmful)
        ),
        "response texts labelled in both a harm/ and an objective/ file (scales mixed)": len(
            both_dirs
        ),
    }


# Patterns of text damage seen in 1.1.0; reported, never repaired (texts stay verbatim).
QUIRKS = {
    '"??" where an emoji was probably lost in a non-UTF-8 round trip': r"\?\?",
    'UTF-8 decoded as cp1252 (e.g. "Ã©", "â€")': r"Ã.|â€",
}


def data_notes(info: BuildInfo, frame: pl.DataFrame) -> list[str]:
    lines = ["## Notes on this release", ""]
    lines += [f"- {name}: {value}" for name, value in info.stats.items()]
    texts = set(frame["prompt"]) | set(frame["chosen"]) | set(frame["rejected"])
    for name, pattern in QUIRKS.items():
        hits = sum(1 for text in texts if re.search(pattern, text))
        lines.append(f"- distinct texts with {name}: {hits}")
    lines.append(f"- longest text: {max(map(len, texts), default=0)} characters")
    per_prompt = frame.group_by("slice", "split", "prompt").len().sort("len", "prompt")
    for name, split, prompt, n in per_prompt.tail(1).iter_rows():
        share = n / count(frame, slice=name, split=split)
        lines.append(
            f"- largest prompt: {n} pairs ({share:.0%} of {name}/{split}): {prompt[:80]!r}"
        )
    return lines


def provenance(info: BuildInfo, frame: pl.DataFrame) -> str:
    lines = [
        "# Demo preference pairs: provenance",
        "",
        "Generated by `scripts/build_demo_data.py`; do not edit by hand.",
        "",
        *source_section(info),
        "",
        *rules_section(info),
        "",
        "## Counts",
        "",
        *count_tables(frame),
        "",
        *category_table(frame),
        "",
        *data_notes(info, frame),
        "",
        *rebuild_section(info),
    ]
    return "\n".join(lines) + "\n"


def print_summary(info: BuildInfo, frame: pl.DataFrame, out: Path) -> None:
    print(f"pyrit {info.sources.version} wheel sha256 {info.wheel_sha256}")
    print("\n".join(f"{name}: {value}" for name, value in info.stats.items()))
    print("\n".join(count_tables(frame)))
    print(f"wrote {out / 'pairs.parquet'} ({frame.height} pairs, sha256 {info.parquet_sha256})")


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="pyrit wheel; downloaded with pip if absent")
    parser.add_argument("--out", type=Path, default=Path("assets/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-gap", type=float, default=0.5)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    args = parser.parse_args(argv)
    if not 0.0 <= args.test_fraction <= 1.0:
        parser.error("--test-fraction must be within [0, 1]")
    return args


def write_text(path: Path, text: str) -> None:
    # Fixed newline so the outputs are byte-identical on every platform.
    path.write_text(text, encoding="utf-8", newline="\n")


def build(args: argparse.Namespace, wheel_path: Path) -> None:
    wheel_sha = sha256_file(wheel_path)
    if wheel_sha != EXPECTED_WHEEL_SHA256:
        print(f"warning: wheel sha256 {wheel_sha} is not the PyPI {WHEEL_NAME}", file=sys.stderr)
    with closing(Wheel(wheel_path)) as wheel:
        sources = load_sources(wheel)
        license_text = wheel.license_text()
    pairs = build_pairs(sources, args.seed, args.min_gap)
    frame = to_frame(pairs, sources.version, args.seed, args.test_fraction)
    check_splits(frame)
    args.out.mkdir(parents=True, exist_ok=True)
    parquet = args.out / "pairs.parquet"
    frame.write_parquet(parquet, compression="zstd", statistics=False)
    write_text(args.out / "LICENSE-pyrit.txt", license_text)
    info = BuildInfo(args, sources, wheel_sha, sha256_file(parquet), source_stats(sources))
    write_text(args.out / "PROVENANCE.md", provenance(info, frame))
    print_summary(info, frame, args.out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.wheel is not None:
        build(args, args.wheel)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(args, download_wheel(Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
