"""Rich renderings of engine results for the terminal."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from safer_engine.data.load import PreferenceData
from safer_engine.data.summary import summarise
from safer_engine.store.info import StoreInfo
from safer_engine.train.evaluate import RB_OVERALL, EvalReport

if TYPE_CHECKING:
    from safer_engine.codes.examples import Example

MAX_PROBLEMS_SHOWN = 20


def show_data(console: Console, data: PreferenceData) -> None:
    summary = summarise(data.table)
    console.print(f"[bold]Source[/]      {data.origin}")
    console.print(f"[bold]Schema[/]      {data.schema}")
    console.print(
        f"[bold]Pairs[/]       {data.table.height:,} usable of {data.rows_read:,} rows read; "
        f"{summary.distinct_prompts:,} distinct prompts, "
        f"{summary.distinct_responses:,} distinct responses"
    )
    console.print(f"[bold]Fingerprint[/] {data.fingerprint}")
    console.print(_counts_table(summary.counts))
    lengths = Table(title="Length in characters", title_justify="left")
    for name in ("column", "min", "median", "p95", "max"):
        lengths.add_column(name, justify="left" if name == "column" else "right")
    for s in summary.lengths:
        lengths.add_row(s.column, *(f"{v:,}" for v in (s.minimum, s.median, s.p95, s.maximum)))
    console.print(lengths)
    show_problems(console, data)


def _counts_table(counts: list[tuple[str, str, int]]) -> Table:
    splits = sorted({split for _, split, _ in counts})
    by_cell = {(slice_, split): n for slice_, split, n in counts}
    table = Table(title="Pairs by slice and split", title_justify="left")
    table.add_column("slice")
    for split in [*splits, "total"]:
        table.add_column(split, justify="right")
    slices = sorted({s for s, _, _ in counts})
    for slice_ in slices:
        row = [by_cell.get((slice_, split), 0) for split in splits]
        table.add_row(slice_, *(f"{n:,}" for n in [*row, sum(row)]))
    totals = [sum(by_cell.get((s, split), 0) for s in slices) for split in splits]
    table.add_row("[bold]total", *(f"[bold]{n:,}" for n in [*totals, sum(totals)]))
    return table


def show_problems(console: Console, data: PreferenceData) -> None:
    problems = data.report.problems
    leaked = data.leaked_prompts
    if not problems and not leaked:
        console.print("[green]No problems found.")
        return
    kinds = Counter(p.kind for p in problems)
    console.print(
        "[yellow]Problems:[/] "
        + ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in kinds.most_common())
        + (" (skipped rows are not in the table)" if data.report.skipped else "")
    )
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        console.print(f"  row {p.row}, column {p.column}: {p.message}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        console.print(f"  … and {len(problems) - MAX_PROBLEMS_SHOWN:,} more (see --json)")
    if leaked:
        console.print(
            f"[yellow]{len(leaked):,} prompt(s) are in both train and test[/] "
            "(the data's own split leaks them)."
        )


def show_eval(console: Console, report: EvalReport) -> None:
    table = Table(title=f"Pairwise accuracy on the {report.split} split", title_justify="left")
    for name in ("slice", "pairs", "accuracy", "95% interval"):
        table.add_column(name, justify="left" if name == "slice" else "right")
    # With one slice the overall row would repeat it.
    rows = report.slices if len(report.slices) == 1 else [*report.slices, report.overall]
    for s in rows:
        name = "[bold]all" if s is report.overall else s.name
        table.add_row(
            name, f"{s.pairs:,}", f"{s.accuracy:.3f}", f"{s.ci_low:.3f} – {s.ci_high:.3f}"
        )
    console.print(table)
    m = report.margins
    console.print(
        f"Reward margin r(chosen) − r(rejected): mean {m.mean:.3f} ± {m.std:.3f}, "
        f"median {m.median:.3f}, 5–95% {m.p05:.3f} … {m.p95:.3f}"
    )
    if report.rewardbench:
        sections = dict(report.rewardbench)
        overall = sections.pop(RB_OVERALL, None)
        if overall is not None:
            console.print(f"RewardBench overall score: {overall:.3f} (the mean of its sections)")
        console.print(
            "RewardBench sections: " + ", ".join(f"{k} {v:.3f}" for k, v in sections.items())
        )


def show_store_info(console: Console, info: StoreInfo) -> None:
    console.print(f"[bold]Store[/] {info.path} ({info.file_bytes / 2**20:,.1f} MiB)")
    for key in (
        "schema_version",
        "model",
        "layer",
        "d_model",
        "policy",
        "normalise",
        "data_fingerprint",
    ):
        if key in info.attrs:
            console.print(f"  {key}: {info.attrs[key]}")
    table = Table(title="Datasets", title_justify="left")
    for name in ("name", "shape", "dtype", "MiB", "memory-mapped"):
        table.add_column(name, justify="left" if name in ("name", "dtype") else "right")
    for d in info.datasets:
        table.add_row(
            d.name,
            " × ".join(f"{n:,}" for n in d.shape),
            d.dtype,
            f"{d.bytes / 2**20:,.2f}",
            "yes" if d.contiguous else "no",
        )
    console.print(table)
    console.print(f"config: {info.attrs.get('config', '')}")


def show_salience(
    console: Console, ranked: pl.DataFrame, contexts: dict[int, list[Example]]
) -> None:
    table = Table(
        title="Most salient features (s > 0 leans chosen/safe)",
        title_justify="left",
        show_lines=True,
    )
    effect = ("effect",) if "effect" in ranked.columns else ()
    for name in ("feature", "salience", *effect, "mean act Δ", "fire rate Δ", "top contexts"):
        table.add_column(name, justify="left" if name == "top contexts" else "right")
    for row in ranked.iter_rows(named=True):
        shown = Text()
        for context in contexts[int(row["feature"])]:
            shown.append(f"[{context.side} {context.activation:.1f}] ", style="dim")
            for span in context.spans:
                text = span.text.replace("\n", "⏎")
                style = "bold reverse" if span.focus else "dim" if span.part == "prompt" else ""
                shown.append(text, style=style)
            shown.append("\n")
        table.add_row(
            str(row["feature"]),
            f"{row['salience']:+.3f}",
            *((f"{row['effect']:+.4f}",) if effect else ()),
            f"{row['mean_act_diff']:+.3f}",
            f"{row['firing_rate_diff']:+.3f}",
            shown,
        )
    console.print(table)
