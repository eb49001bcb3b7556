"""`safer demo`: the whole loop on the embedded demo data, reusing finished stages."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from safer_engine.config import DataConfig, ExtractConfig, RMConfig, SAEConfig
from safer_engine.data.load import load_preferences
from safer_engine.data.stage import ImportResult, import_data
from safer_engine.errors import DataError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.evaluate import EvalReport
from safer_engine.workspace import Workspace

DEMO_FILE = Path("demo") / "pairs.parquet"


def demo_data_path() -> Path:
    """The embedded demo pairs: in the source tree, or where a wheel install put them."""
    candidates = (
        Path(__file__).resolve().parents[1] / "assets" / DEMO_FILE,
        Path(sys.prefix) / "share" / "safer-explorer" / DEMO_FILE,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(
        "The embedded demo data is missing from this installation.",
        "Reinstall safer-explorer, or rebuild it with scripts/build_demo_data.py.",
    )


@dataclass(frozen=True)
class DemoResult:
    """The demo workspace, what each stage did (True = reused), and the RM's evaluation."""

    workspace: Workspace
    data: ImportResult
    stages: dict[str, bool]
    evaluation: EvalReport
    sae_id: str


def run_demo(
    root: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    rm_config: RMConfig | None = None,
    extract_config: ExtractConfig | None = None,
    sae_config: SAEConfig | None = None,
) -> DemoResult:
    from safer_engine.activations.stage import extract_stage
    from safer_engine.sae.stage import encode_stage, train_sae_stage
    from safer_engine.salience.stage import salience_stage
    from safer_engine.train.stage import eval_is_current, eval_stage, train_rm_stage

    pairs = load_preferences(DataConfig(source=str(demo_data_path())), progress, cancel)
    workspace = Workspace.open(root, create=True)
    data = import_data(workspace, pairs)
    rm = train_rm_stage(workspace, rm_config or RMConfig(), progress, cancel)
    reuse_eval = rm.train is None and eval_is_current(workspace)
    if reuse_eval:
        report = EvalReport.load(workspace.eval_path)
    else:
        report, _ = eval_stage(workspace, "test", None, progress, cancel)
    extracted = extract_stage(workspace, extract_config or ExtractConfig(), progress, cancel)
    sae_id, trained = train_sae_stage(workspace, sae_config or SAEConfig(), None, progress, cancel)
    encoded = encode_stage(workspace, sae_id, progress, cancel)
    ranked = salience_stage(workspace, sae_id, "train", progress, cancel)
    stages = {
        "data": data.reused,
        "reward model": rm.train is None,
        "evaluation": reuse_eval,
        "activations": extracted is None,
        "SAE": trained is None,
        "codes": encoded is None,
        "salience": ranked is None,
    }
    return DemoResult(workspace, data, stages, report, sae_id)
