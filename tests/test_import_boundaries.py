"""The explorer must open stores without the GPU stack; the engine must not know the UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "transformers", "sae_lens")


def loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return [m for m in result.stdout.strip().split(",") if m]


def test_explorer_does_not_import_the_gpu_stack(encoded_workspace: Path) -> None:
    """Every explorer module, and reading labels and judgements: a judge run imports the
    judge (torch, for its local backend) only inside its worker's call."""
    code = (
        "from pathlib import Path\n"
        "import importlib, pkgutil, safer_tui\n"
        "for m in pkgutil.walk_packages(safer_tui.__path__, 'safer_tui.'):\n"
        "    importlib.import_module(m.name)\n"
        "from safer_engine.service.explorer import Explorer\n"
        f"data = Explorer.open(Path({str(encoded_workspace)!r}))\n"
        "data.labels(); data.judgements(); data.last_label_change(); data.features.head()"
    )
    assert loaded_after(code, HEAVY) == []


def test_engine_data_path_does_not_import_the_gpu_stack() -> None:
    assert loaded_after("import safer_engine.data, safer_engine.workspace", HEAVY) == []


def test_no_engine_module_imports_textual() -> None:
    code = (
        "import importlib, pkgutil, safer_engine\n"
        "for m in pkgutil.walk_packages(safer_engine.__path__, 'safer_engine.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)"
    )
    assert loaded_after(code, ("textual", "safer_tui")) == []


def test_edits_and_runs_screens_do_not_import_the_gpu_stack(encoded_workspace: Path) -> None:
    """Planning, listing runs and the experiment need no torch; only a retrain does, inside
    its worker (`RunsService.retrain` imports the engine's retrain when called)."""
    code = (
        "from pathlib import Path\n"
        "import safer_tui.jobs, safer_tui.screens.edits, safer_tui.screens.runs\n"
        "import safer_tui.screens.pair_view, safer_tui.widgets.accuracy_chart\n"
        "from safer_engine.progress import CancelToken, no_progress\n"
        "from safer_engine.service.edits import EditRequest, EditsService\n"
        "from safer_engine.service.explorer import Explorer\n"
        "from safer_engine.service.runs import RunsService\n"
        f"data = Explorer.open(Path({str(encoded_workspace)!r}))\n"
        "request = EditRequest(mode='poison', ratio=25, select='salience')\n"
        "EditsService(data).plan(request, no_progress, CancelToken())\n"
        "runs = RunsService(data)\n"
        "runs.runs(); runs.comparisons(); runs.latest_experiment()"
    )
    assert loaded_after(code, HEAVY) == []


def test_safer_version_loads_no_command_module_polars_torch_or_textual() -> None:
    """Every `safer` command pays for what `safer_engine.cli` imports before it runs."""
    code = (
        "import contextlib, io\n"
        "from safer_engine.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--version']) == 0"
    )
    assert loaded_after(code, ("polars", "textual", *HEAVY)) == []
    groups = tuple(f"safer_engine.cli.{module}" for module in ("data", "rm", "runs", "explorer"))
    assert loaded_after("import safer_engine.cli", groups) == []


def test_safer_tui_loads_only_what_opens_a_workspace(tmp_path: Path) -> None:
    """`safer tui` checks the workspace and hands over to a new process: polars and the
    other command modules would be paid for at every start."""
    code = (
        "import contextlib, io\n"
        "from pathlib import Path\n"
        "from safer_engine.cli import main\n"
        "from safer_engine.workspace import Workspace\n"
        f"Workspace.open(Path({str(tmp_path)!r}), create=True)\n"
        "with contextlib.redirect_stdout(io.StringIO()) as shown:\n"  # not a terminal: no exec
        f"    assert main(['tui', {str(tmp_path)!r}]) == 0\n"
        "assert 'Not a terminal' in shown.getvalue()"
    )
    others = tuple(f"safer_engine.cli.{module}" for module in ("runs", "sae", "render", "data"))
    assert loaded_after(code, ("polars", "textual", *others, *HEAVY)) == []


def test_the_explorer_starts_with_its_first_screen_only() -> None:
    later = tuple(f"safer_tui.screens.{s}" for s in ("edits", "runs", "pairs", "feature_page"))
    services = ("safer_engine.service.edits", "safer_engine.service.runs")
    assert loaded_after("import safer_tui.app", (*later, *services)) == []


def test_the_audit_report_and_the_export_need_no_gpu_stack(
    synthetic_workspace: Path, tmp_path: Path
) -> None:
    """The explorer writes the report in a worker of its own process: no torch on the way."""
    code = (
        "from pathlib import Path\n"
        "from safer_engine.config import NeuronpediaConfig\n"
        "from safer_engine.progress import CancelToken, no_progress\n"
        "from safer_engine.service.explorer import Explorer\n"
        "from safer_engine.share.neuronpedia import export_neuronpedia\n"
        f"data = Explorer.open(Path({str(synthetic_workspace)!r}))\n"
        "data.write_report(no_progress, CancelToken())\n"
        "export_neuronpedia(data.workspace, data.sae_id, "
        f"Path({str(tmp_path / 'exports')!r}), NeuronpediaConfig(features=4))"
    )
    assert loaded_after(code, HEAVY) == []
