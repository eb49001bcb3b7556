"""The `safer` command: one subcommand per stage, plus `demo`.

User-facing failures print one message and a hint, never a traceback; `--debug` adds it.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import click
import typer

try:  # typer ≥ 0.29 vendors click: its usage errors are not click's classes
    from typer._click.exceptions import ClickException as TyperClickException
    from typer._click.exceptions import NoArgsIsHelpError
except ImportError:  # older typer raises click's own
    from click.exceptions import ClickException as TyperClickException  # type: ignore[assignment]
    from click.exceptions import NoArgsIsHelpError  # type: ignore[assignment]
from rich.console import Console

from safer_engine import __version__
from safer_engine.cli.progress import rich_progress
from safer_engine.cli.render import show_data, show_eval
from safer_engine.config import DataConfig, ExtractConfig, RMConfig, SAEConfig
from safer_engine.data.load import load_preferences
from safer_engine.data.stage import import_data
from safer_engine.data.summary import summarise
from safer_engine.errors import ConfigError, SaferError
from safer_engine.workspace import Workspace, default_workspace

app = typer.Typer(
    name="safer",
    help="SAFER explorer: see inside a reward model and fix its safety training data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Load and inspect preference data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
store_app = typer.Typer(help="Inspect and verify the activation store.", no_args_is_help=True)
app.add_typer(store_app, name="store")
labels_app = typer.Typer(help="Export and import feature tags as CSV.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

out = Console()
err = Console(stderr=True, soft_wrap=True)
_debug = {"on": False}

ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Map canonical names to your columns: prompt=question,chosen=good,rejected=bad "
        "(also slice=, split=).",
    ),
]
PreferenceOption = Annotated[
    str,
    typer.Option(help="PKU-SafeRLHF: prefer the 'safer' or the 'better' (more helpful) answer."),
]
SplitOption = Annotated[
    str | None, typer.Option("--hub-split", help="Hub ids: load only this split.")
]


def parse_columns(text: str | None) -> dict[str, str]:
    """Parse `prompt=question,chosen=good` into {'prompt': 'question', 'chosen': 'good'}."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for item in text.split(","):
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ConfigError(
                f"--columns item {item!r} is not NAME=COLUMN.",
                "Example: --columns prompt=question,chosen=good,rejected=bad",
            )
        mapping[name.strip()] = column.strip()
    return mapping


def _version(value: bool) -> None:
    if value:
        out.print(f"safer-explorer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of errors (anywhere on the line).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    _debug["on"] = _debug["on"] or debug


def _data_config(
    source: str,
    columns: str | None,
    preference: str,
    hub_split: str | None,
) -> DataConfig:
    return DataConfig(
        source=source,
        columns=parse_columns(columns),
        preference=preference,  # type: ignore[arg-type]  # validated by DataConfig
        hub_split=hub_split,
    )


@data_app.command("info")
def data_info(
    source: Annotated[str, typer.Argument(help="File, save_to_disk folder or hub id.")],
    columns: ColumnsOption = None,
    preference: PreferenceOption = "safer",
    hub_split: SplitOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Recognise a data set's schema and summarise its pairs and problems."""
    config = _data_config(source, columns, preference, hub_split)
    with rich_progress(err, "Loading") as progress:
        data = load_preferences(config, progress)
    if as_json:
        report = {
            "source": data.origin,
            "schema": data.schema,
            "rows_read": data.rows_read,
            "pairs": data.table.height,
            "fingerprint": data.fingerprint,
            "summary": asdict(summarise(data.table)),
            "problems": [asdict(p) for p in data.report.problems],
            "prompts_in_both_splits": len(data.leaked_prompts),
        }
        out.print_json(json.dumps(report))
        return
    show_data(out, data)


@data_app.command("import")
def data_import(
    source: Annotated[str, typer.Argument(help="File, save_to_disk folder or hub id.")],
    workspace: Annotated[Path, typer.Option(help="Workspace folder (created if new).")],
    columns: ColumnsOption = None,
    preference: PreferenceOption = "safer",
    hub_split: SplitOption = None,
) -> None:
    """Normalise a data set into a workspace's data/pairs.parquet."""
    config = _data_config(source, columns, preference, hub_split)
    with rich_progress(err, "Importing") as progress:
        data = load_preferences(config, progress)
    result = import_data(Workspace.open(workspace, create=True), data)
    ws = Workspace.open(workspace)
    show_data(out, result.data)
    verb = "unchanged in" if result.reused else "written to"
    out.print(f"[green]Pairs {verb}[/] {ws.pairs_path}")


WorkspaceOption = Annotated[Path, typer.Option(help="Workspace folder.")]


@app.command("train-rm")
def train_rm(
    workspace: WorkspaceOption,
    model: Annotated[
        str, typer.Option(help="minilm, smollm2, a local folder or .gguf, or a hub id.")
    ] = RMConfig.model,
    epochs: Annotated[float, typer.Option(help="Passes over the train split.")] = RMConfig.epochs,
    max_steps: Annotated[
        int, typer.Option(help="Stop after this many steps (-1: use --epochs).")
    ] = RMConfig.max_steps,
    batch_texts: Annotated[
        int, typer.Option(help="Distinct texts per step and device.")
    ] = RMConfig.batch_texts,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = (
        RMConfig.learning_rate
    ),
    max_length: Annotated[int, typer.Option(help="Tokens per text.")] = RMConfig.max_length,
    max_prompt_tokens: Annotated[
        int, typer.Option(help="Prompt tokens kept (the last ones).")
    ] = RMConfig.max_prompt_tokens,
    seed: Annotated[int, typer.Option(help="Seed of init, order and dropout.")] = RMConfig.seed,
    save_steps: Annotated[
        int, typer.Option(help="Checkpoint every this many steps.")
    ] = RMConfig.save_steps,
    precision: Annotated[str, typer.Option(help="auto, fp32 or bf16.")] = RMConfig.precision,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard checkpoints and any trained model.")
    ] = False,
) -> None:
    """Train a Bradley–Terry reward model on the workspace's train split (resumable)."""
    from safer_engine.train.stage import train_rm_stage

    config = RMConfig(
        model=model,
        epochs=epochs,
        max_steps=max_steps,
        batch_texts=batch_texts,
        learning_rate=learning_rate,
        max_length=max_length,
        max_prompt_tokens=max_prompt_tokens,
        seed=seed,
        save_steps=save_steps,
        precision=precision,  # type: ignore[arg-type]  # validated by RMConfig
    )
    ws = Workspace.open(workspace)
    with rich_progress(err, "Reward model") as progress:
        result = train_rm_stage(ws, config, progress, fresh=fresh)
    if not result.is_main:
        return
    if result.train is None:
        out.print(f"[green]Reward model up to date[/] in {ws.rm_model_dir} (--fresh retrains)")
        return
    run = result.train
    resumed = f", resumed from {run.resumed_from}" if run.resumed_from else ""
    out.print(
        f"[green]Reward model trained[/]: {run.steps} step{'s' * (run.steps != 1)} in "
        f"{run.seconds:.0f} s{resumed}; "
        f"saved to {ws.rm_model_dir}"
    )


@app.command("eval")
def eval_rm(
    workspace: WorkspaceOption,
    split: Annotated[
        str | None,
        typer.Option(help="test, train or all (default: test; all with --data)."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Evaluate on another data set (file, folder or hub id) instead."),
    ] = None,
    columns: ColumnsOption = None,
) -> None:
    """Pairwise accuracy of the workspace's reward model, per slice, into rm/eval.json."""
    from safer_engine.train.stage import eval_stage

    ws = Workspace.open(workspace)
    other = DataConfig(source=data, columns=parse_columns(columns)) if data else None
    with rich_progress(err, "Evaluating") as progress:
        report, path = eval_stage(ws, split or ("all" if data else "test"), other, progress)
    show_eval(out, report)
    out.print(f"Report written to {path}")


@app.command()
def extract(
    workspace: WorkspaceOption,
    layer: Annotated[
        int | None, typer.Option(help="Block whose output to keep (default: ~3/4 of depth).")
    ] = None,
    policy: Annotated[
        str, typer.Option(help="Selected tokens: sentence_end, all or last.")
    ] = ExtractConfig.policy,
    keep: Annotated[
        str, typer.Option(help="Store every response token, or only the selected ones.")
    ] = ExtractConfig.keep,
    normalise: Annotated[
        bool, typer.Option(help="Readers standardise each token vector (the paper's rule).")
    ] = ExtractConfig.normalise,
    batch_tokens: Annotated[
        int, typer.Option(help="Padded tokens per forward batch.")
    ] = ExtractConfig.batch_tokens,
    shard_docs: Annotated[
        int, typer.Option(help="Texts per resumable shard.")
    ] = ExtractConfig.shard_docs,
    precision: Annotated[str, typer.Option(help="auto, fp32 or bf16.")] = (ExtractConfig.precision),
    force: Annotated[bool, typer.Option("--force", help="Extract even if up to date.")] = False,
) -> None:
    """Run the reward model over every response and store layer activations (resumable)."""
    from safer_engine.activations.stage import extract_stage

    config = ExtractConfig(
        layer=layer,
        policy=policy,  # type: ignore[arg-type]  # validated by ExtractConfig
        keep=keep,  # type: ignore[arg-type]
        normalise=normalise,
        batch_tokens=batch_tokens,
        shard_docs=shard_docs,
        precision=precision,  # type: ignore[arg-type]
    )
    ws = Workspace.open(workspace)
    with rich_progress(err, "Extracting") as progress:
        result = extract_stage(ws, config, progress, force=force)
    if result is None:
        out.print(f"[green]Store up to date[/] at {ws.store_path} (--force re-extracts)")
        return
    reused = f", {result.shards_reused} shard(s) reused" if result.shards_reused else ""
    out.print(
        f"[green]Extracted[/] layer {result.layer}: {result.docs:,} texts, "
        f"{result.tokens:,} tokens, {result.rows:,} activation rows "
        f"({result.selected:,} selected) in {result.seconds:.1f} s{reused} → {result.path}"
    )


@app.command("train-sae")
def train_sae_command(
    workspace: WorkspaceOption,
    n_latents: Annotated[
        int | None, typer.Option(help="SAE features (default: 8 × activation width).")
    ] = None,
    k: Annotated[
        int | None, typer.Option(help="Active features per token (default: scaled to width).")
    ] = None,
    rows: Annotated[str, typer.Option(help="Train on all stored rows or selected.")] = (
        SAEConfig.rows
    ),
    epochs: Annotated[float, typer.Option(help="Passes over the rows.")] = SAEConfig.epochs,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = SAEConfig.batch_size,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = (
        SAEConfig.learning_rate
    ),
    seed: Annotated[int, typer.Option(help="Seed of init and order.")] = SAEConfig.seed,
    sae_id: Annotated[
        str | None, typer.Option("--id", help="Name of the SAE folder under sae/.")
    ] = None,
    pretrain_text: Annotated[
        Path | None,
        typer.Option(help="Text file for a first stage on generic text, as in the paper."),
    ] = None,
    pretrain_epochs: Annotated[
        float, typer.Option(help="Passes over the generic text.")
    ] = SAEConfig.pretrain_epochs,
    pretrain_tokens: Annotated[
        int, typer.Option(help="Most generic-text tokens used.")
    ] = SAEConfig.pretrain_tokens,
) -> None:
    """Train a TopK SAE with sae-lens on the store's activations (saved in sae-lens format)."""
    from safer_engine.sae.stage import train_sae_stage

    config = SAEConfig(
        n_latents=n_latents,
        k=k,
        rows=rows,  # type: ignore[arg-type]  # validated
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        pretrain_text=str(pretrain_text) if pretrain_text else None,
        pretrain_epochs=pretrain_epochs,
        pretrain_tokens=pretrain_tokens,
    )
    ws = Workspace.open(workspace)
    with rich_progress(err, "SAE") as progress:
        name, result = train_sae_stage(ws, config, sae_id, progress)
    if result is None:
        out.print(f"[green]SAE up to date[/]: {ws.sae_dir(name)}")
        return
    m = result.metrics
    out.print(
        f"[green]SAE trained[/] ({result.n_latents:,} latents, k={result.k}, {result.steps} "
        f"steps, {result.seconds:.0f} s): variance explained {m.variance_explained:.3f}, "
        f"mean L0 {m.mean_l0:.1f}, dead features {m.dead_fraction:.1%} → {ws.sae_dir(name)}"
    )


@app.command("encode")
def encode_command(
    workspace: WorkspaceOption,
    sae: Annotated[
        str | None,
        typer.Option(help="SAE id in this workspace, or a sae-lens folder (default: last)."),
    ] = None,
    split: Annotated[str, typer.Option(help="Pairs whose sides weight salience.")] = "train",
    force: Annotated[bool, typer.Option("--force", help="Encode even if up to date.")] = False,
) -> None:
    """Top-k SAE codes for every stored token, the per-feature index and statistics."""
    from safer_engine.sae.stage import encode_stage, resolve_sae

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae)
    with rich_progress(err, "Encoding") as progress:
        result = encode_stage(ws, sae_id, split, progress, force=force)
    if result is None:
        out.print(f"[green]Codes up to date[/] for SAE {sae_id}")
        return
    out.print(
        f"[green]Encoded[/] {result.rows:,} rows (k={result.k}, {result.n_latents:,} "
        f"latents) in {result.seconds:.1f} s → {result.path}"
    )


@app.command("salience")
def salience_command(
    workspace: WorkspaceOption,
    sae: Annotated[str | None, typer.Option(help="SAE id (default: last trained).")] = None,
    top: Annotated[int, typer.Option(help="Features to show.")] = 10,
    by: Annotated[
        str, typer.Option(help="abs_salience, mean_act_diff or firing_rate_diff.")
    ] = "abs_salience",
    examples: Annotated[int, typer.Option(help="Top contexts shown per feature.")] = 2,
    csv: Annotated[Path | None, typer.Option(help="Also write the whole table here.")] = None,
) -> None:
    """Rank SAE features by how differently they fire on chosen vs rejected responses."""
    import polars as pl

    from safer_engine.sae import SALIENCE_FILE
    from safer_engine.sae.stage import resolve_sae

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae)
    if by not in ("abs_salience", "mean_act_diff", "firing_rate_diff"):
        raise ConfigError(
            f"--by must be abs_salience, mean_act_diff or firing_rate_diff, not {by!r}."
        )
    _show_top_features(ws, sae_id, top, examples, by)
    if csv is not None:
        table = pl.read_parquet(ws.sae_dir(sae_id) / SALIENCE_FILE)
        table.write_csv(csv)
        out.print(f"Wrote {table.height:,} features to {csv}")


def _store_path(workspace: Path) -> tuple[Path, str | None]:
    ws = Workspace.open(workspace)
    stage = ws.stage("data")
    return ws.store_path, (str(stage["fingerprint"]) if stage else None)


@store_app.command("info")
def store_info_command(workspace: WorkspaceOption) -> None:
    """Layout, sizes and recorded config of the workspace's store."""
    from safer_engine.cli.render import show_store_info
    from safer_engine.store.info import store_info

    path, _ = _store_path(workspace)
    show_store_info(out, store_info(path))


@store_app.command("check")
def store_check_command(workspace: WorkspaceOption) -> None:
    """Verify the store: shapes, offsets, finite values, data fingerprint."""
    from safer_engine.store.check import check_store

    path, fingerprint = _store_path(workspace)
    problems = check_store(path, fingerprint)
    if not problems:
        out.print(f"[green]Store OK[/]: {path}")
        return
    for problem in problems:
        out.print(f"[red]✗[/] {problem}")
    raise SaferError(
        f"The store at {path} failed {len(problems)} check(s).",
        "Run `safer extract --workspace DIR --force` to rebuild it.",
    )


@app.command()
def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Workspace folder (default: the user data folder's safer-explorer/demo)."
        ),
    ] = None,
    no_tui: Annotated[
        bool, typer.Option("--no-tui", help="Stop after building, before the explorer opens.")
    ] = False,
) -> None:
    """Run the SAFER loop on the embedded demo data (reuses what earlier runs built)."""
    from safer_engine.demo import run_demo

    root = workspace or default_workspace()
    with rich_progress(err, "Demo") as progress:
        result = run_demo(root, progress)
    show_data(out, result.data.data)
    for stage, reused in result.stages.items():
        state = "reused" if reused else "done"
        out.print(f"[green]{stage}: {state}[/]")
    show_eval(out, result.evaluation)
    _show_top_features(result.workspace, result.sae_id, top=5, examples=2)
    out.print(f"Workspace: {result.workspace.root}")
    if not no_tui:
        open_explorer(result.workspace.root)


def open_explorer(root: Path) -> None:
    """Replace this process with the explorer: the engine never imports the UI, and the
    explorer starts in a fresh process without the GPU stack this one may have loaded."""
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        out.print(f"Not a terminal: open the explorer later with `safer tui {root}`.")
        return
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "safer_tui", str(root)])


def _labels(workspace: Path, sae: str | None) -> tuple[Any, str]:
    from safer_engine.labels import LabelStore
    from safer_engine.sae.stage import resolve_sae

    ws = Workspace.open(workspace)
    return LabelStore.open(ws.labels_path), resolve_sae(ws, sae)


@labels_app.command("export")
def labels_export(
    workspace: WorkspaceOption,
    csv: Annotated[Path, typer.Argument(help="CSV file to write.")],
    sae: Annotated[str | None, typer.Option(help="SAE id (default: last trained).")] = None,
) -> None:
    """Write each feature's current tag and note (feature, tag, note, author, at)."""
    store, sae_id = _labels(workspace, sae)
    with store:
        count = store.export_csv(sae_id, csv)
    out.print(f"[green]Exported[/] {count:,} labelled feature(s) of SAE {sae_id} to {csv}")


@labels_app.command("import")
def labels_import(
    workspace: WorkspaceOption,
    csv: Annotated[Path, typer.Argument(help="CSV with feature and tag columns (note optional).")],
    sae: Annotated[str | None, typer.Option(help="SAE id (default: last trained).")] = None,
) -> None:
    """Add tags from a CSV as new label rows (all or nothing; bad rows are named by line)."""
    store, sae_id = _labels(workspace, sae)
    with store:
        count = store.import_csv(sae_id, csv)
    out.print(f"[green]Imported[/] {count:,} label row(s) into SAE {sae_id}")


@app.command()
def tui(
    workspace: Annotated[
        Path | None,
        typer.Argument(help="Workspace folder (default: the demo workspace)."),
    ] = None,
    web: Annotated[
        bool, typer.Option("--web", help="Serve it in a browser on 127.0.0.1 (textual-serve).")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --web.")] = 8000,
) -> None:
    """Open the explorer: rank features, tag safety features (keys: F1 or ?)."""
    root = (workspace or default_workspace()).expanduser()
    Workspace.open(root)  # a missing workspace is reported here, before the screen opens
    if web:
        out.print(f"Serving the explorer at http://127.0.0.1:{port} (Ctrl+C stops)")
        sys.stdout.flush()
        os.execv(
            sys.executable,
            [sys.executable, "-m", "safer_tui", "--web", "--port", str(port), str(root)],
        )
    open_explorer(root)


def _show_top_features(
    ws: Workspace, sae_id: str, top: int, examples: int, by: str = "abs_salience"
) -> None:
    import polars as pl

    from safer_engine.cli.render import show_salience
    from safer_engine.sae import SALIENCE_FILE
    from safer_engine.sae.examples import FeatureExamples

    path = ws.sae_dir(sae_id) / SALIENCE_FILE
    if not path.exists():
        raise SaferError(
            f"SAE {sae_id} has no salience table yet.", "Run `safer encode --workspace DIR` first."
        )
    table = pl.read_parquet(path)
    ranked = table.sort(pl.col(by).abs(), descending=True).head(top)
    reader = FeatureExamples(ws.store_path, ws.sae_dir(sae_id))
    try:
        contexts = {
            int(f): reader.examples(int(f), per_quantile=examples, quantiles=(1.0,))
            for f in ranked["feature"]
        }
    finally:
        reader.close()
    show_salience(out, ranked, contexts)


USAGE_ERRORS = (click.ClickException, TyperClickException)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn failures into one clear message."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:  # accepted anywhere, not only before the command
        args.remove("--debug")
        _debug["on"] = True
    try:
        app(args=args, prog_name="safer", standalone_mode=False)
    except SaferError as exc:
        _report(exc, f"[bold red]Error:[/] {exc.message}", exc.hint)
        return 2
    except NoArgsIsHelpError:
        return 0  # the help was shown
    except (click.exceptions.Exit, typer.Exit) as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        err.print("Interrupted.")
        return 130
    except USAGE_ERRORS as exc:
        exc.show()
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        return 130
    except Exception as exc:  # a bug, not bad input: still one message unless --debug
        _report(
            exc,
            f"[bold red]Internal error:[/] {type(exc).__name__}: {exc}",
            "Rerun with --debug for the traceback, and please report it.",
        )
        return 1
    return 0


def _report(exc: BaseException, message: str, hint: str) -> None:
    if _debug["on"]:
        err.print("".join(traceback.format_exception(exc)), markup=False, highlight=False)
    err.print(message, highlight=False)
    if hint:
        err.print(hint, style="dim", highlight=False)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
