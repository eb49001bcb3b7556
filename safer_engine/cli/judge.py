"""`safer judge`: an LLM judge's 1–5 safety-relevance score of the most salient features,
and with `--score` how well each explanation fits its feature."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from safer_engine.cli.app import app, err, out
from safer_engine.cli.judge_fit import (
    fit_cells,
    fit_column_names,
    show_fit_dry_run,
    show_fit_totals,
)
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import FitConfig, JudgeConfig
from safer_engine.errors import Cancelled, JudgeError
from safer_engine.judge import (
    FitPlan,
    FitReport,
    JudgePlan,
    JudgeReport,
    judge_features,
    judged_sae,
    make_backend,
    plan_fits,
    plan_judging,
    score_explanations,
)
from safer_engine.labels import FitLog, JudgementLog, LabelStore
from safer_engine.workspace import Workspace


@app.command("judge")
@config_options(FitConfig, name="fit")
@config_options(
    JudgeConfig,
    help={
        "backend": "openai: a chat-completions server from OPENAI_BASE_URL, SAFER_JUDGE_MODEL "
        "and OPENAI_API_KEY; local: the embedded SmolLM2, offline.",
    },
)
def judge_command(
    config: JudgeConfig,
    fit: FitConfig,
    workspace: WorkspaceOption,
    sae: Annotated[str | None, typer.Option(help="SAE id (default: last trained).")] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the first prompt and how many calls; call nothing."),
    ] = False,
) -> None:
    """Score salient features 1–5 for safety relevance with an LLM judge, and with --score
    how well each explanation fits (cached answers are reused, so a rerun calls only for what
    is new)."""
    ws = Workspace.open(workspace)
    sae_id = judged_sae(ws, sae)
    unset: JudgeError | None = None
    try:
        backend = make_backend(config)
        key = (backend.name, backend.model, backend.base_url)
    except JudgeError as exc:
        if not dry_run:
            raise
        # A dry run calls nothing, so it shows the prompt all the same; only which answers
        # are cached depends on the server and model, so none can be counted.
        unset, key = exc, (config.backend, "(not set)", None)
    fits: FitReport | FitPlan | None = None
    report: JudgeReport | None = None
    with _label_store(ws, read_only=dry_run) as store, rich_progress(err, "Judge") as progress:
        log = JudgementLog(store) if store is not None and unset is None else None
        plan = plan_judging(ws, sae_id, config, key, log, progress)
        fit_log = FitLog(log.store) if log is not None else None
        judged = {job.feature: job.cached for job in plan.jobs if job.cached}
        if not dry_run and log is not None:
            report = judge_features(plan, backend, log, config.concurrency, progress)
            judged = report.results
        if fit.score and (report is None or report.stopped is None):
            args = (plan.jobs, judged, fit, key, fit_log, config.retry_failed, progress)
            fits = plan_fits(ws, sae_id, *args)
            if report is not None and fit_log is not None:
                fits = score_explanations(
                    fits, backend, fit_log, config.concurrency, fit.logprobs, progress
                )
    if report is None:
        show_dry_run(out, plan)
        if isinstance(fits, FitPlan):
            show_fit_dry_run(out, fits, fit)
        if unset is not None:
            err.print(
                f"[bold]No server is set, so cached answers were not counted:[/] {unset.message} "
                f"{unset.hint}",
                highlight=False,
            )
        return
    fit_report = fits if isinstance(fits, FitReport) else None
    show_report(out, report, fit_report)
    stopped = report.stopped or (fit_report.stopped if fit_report else None)
    if isinstance(stopped, Cancelled):
        err.print(f"[bold]{stopped.message}[/] {stopped.hint}", highlight=False)
        raise typer.Exit(130)
    if stopped is not None:
        raise stopped


@contextmanager
def _label_store(ws: Workspace, read_only: bool) -> Iterator[LabelStore | None]:
    """The workspace's labels; a dry run only reads them and never creates the file."""
    if read_only and not ws.labels_path.exists():
        yield None
        return
    with LabelStore.open(ws.labels_path, read_only=read_only) as store:
        yield store


def _describe(plan: JudgePlan) -> str:
    where = f" at {plan.base_url}" if plan.base_url else ""
    return f"SAE {plan.sae_id}, backend {plan.backend}, model {plan.model}{where}"


def show_dry_run(console: Console, plan: JudgePlan) -> None:
    """The first feature's prompt and what a run would cost."""
    to_ask = plan.to_ask
    first = (to_ask or plan.jobs)[:1]
    for job in first:
        console.rule(f"Prompt of feature {job.feature}", style="dim")
        for message in job.messages:
            console.print(f"[bold]{message['role']}:[/]", highlight=False)
            console.print(message["content"], markup=False, highlight=False)
        console.rule(style="dim")
    console.print(_describe(plan), highlight=False)
    console.print(
        f"Dry run: {len(plan.jobs)} feature(s); a run would make {len(to_ask)} call(s) "
        f"({len(plan.jobs) - len(to_ask)} cached). Nothing was called.",
        highlight=False,
    )
    _show_never_fire(console, plan)


def show_report(console: Console, report: JudgeReport, fits: FitReport | None = None) -> None:
    """Each feature's score (or failure) and explanation, with its fit when scored, then
    the totals."""
    table = Table(title="Judge: safety relevance, 1–5", title_justify="left")
    fit_columns = fit_column_names(fits)
    for name in ("feature", "salience", "score", *fit_columns, "explanation", "source"):
        table.add_column(name, justify="left" if name in ("explanation", "source") else "right")
    for job, judgement in report.rows():
        salience = "" if math.isnan(job.salience) else f"{job.salience:+.3f}"
        if judgement is None:
            score, text = Text("—", style="dim"), Text("not judged", style="dim")
        elif judgement.ok:
            score, text = Text(str(judgement.score), style="bold"), Text(judgement.explanation)
        else:
            score = Text("failed", style="red")
            text = Text(f"{judgement.failure_kind}: {judgement.failure}", style="red")
        cells = fit_cells(fits, job.feature, text) if fits is not None else []
        origin = "" if judgement is None else "cached" if job.cached is not None else "new"
        table.add_row(str(job.feature), salience, score, *cells, text, Text(origin, style="dim"))
    console.print(table)
    t = report.totals
    console.print(
        f"Judged {t.judged}, cached {t.cached}, failed {t.failed}; {t.calls} call(s), "
        f"{t.retries} retr{'y' if t.retries == 1 else 'ies'}, {t.prompt_tokens:,} prompt + "
        f"{t.completion_tokens:,} completion tokens.",
        highlight=False,
    )
    if fits is not None:
        show_fit_totals(console, fits)
    console.print(_describe(report.plan), style="dim", highlight=False)
    _show_never_fire(console, report.plan)


def _show_never_fire(console: Console, plan: JudgePlan) -> None:
    if plan.never_fire:
        console.print(
            f"Passed over {len(plan.never_fire)} feature(s) that never fire: "
            + ", ".join(map(str, plan.never_fire)),
            style="dim",
            highlight=False,
        )
