from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from safer_engine.artifacts import CODES_FILE
from safer_engine.codes.parts import parts_folder
from safer_engine.errors import Cancelled, ConfigError
from safer_engine.files import partial_path
from safer_engine.progress import CancelToken
from safer_engine.sae import encode
from safer_engine.sae.stage import encode_stage
from safer_engine.workspace import Workspace
from tests.accelerate_launch import launch

PART_ROWS = 64


@pytest.fixture
def chunks_smaller_than_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of several chunks, as on a real store (8,192-row chunks in 131,072-row parts)."""
    monkeypatch.setattr(encode, "CHUNK_ROWS", 16)


def codes_of(codes: Path) -> dict[str, object]:
    with h5py.File(codes) as f:
        contents: dict[str, object] = {name: f[name][()] for name in f}
        contents.update({f"attr:{key}": value for key, value in f.attrs.items()})
    return contents


def assert_same_codes(codes: Path, reference: dict[str, object]) -> None:
    contents = codes_of(codes)
    assert contents.keys() == reference.keys()
    for key, value in reference.items():
        assert np.array_equal(np.asarray(contents[key]), np.asarray(value)), key


def only_sae(workspace: Workspace) -> tuple[str, Path]:
    (sae_id,) = workspace.sae_ids()
    return sae_id, workspace.sae_dir(sae_id) / CODES_FILE


def cancel_after(rows: int) -> tuple[CancelToken, object]:
    """A token that is cancelled once encoding has reached `rows`."""
    token = CancelToken()

    def progress(task: str, done: int, total: int | None) -> None:
        if task == "encoding" and done >= rows:
            token.cancel()

    return token, progress


@pytest.mark.usefixtures("chunks_smaller_than_parts")
def test_a_cancelled_encoding_resumes_at_its_unfinished_parts(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id, codes = only_sae(workspace)
    first = encode_stage(workspace, sae_id, force=True, part_rows=PART_ROWS)
    assert first is not None and first.rows > 4 * PART_ROWS  # enough parts to stop among
    reference = codes_of(codes)

    token, progress = cancel_after(3 * PART_ROWS)
    with pytest.raises(Cancelled, match=r"Cancelled encoding\.") as stopped:
        encode_stage(workspace, sae_id, progress, token, force=True, part_rows=PART_ROWS)
    assert "Finished parts are kept" in stopped.value.hint
    marks = sorted(parts_folder(codes).glob("part-*.done"))
    assert [m.name for m in marks] == ["part-00000.done", "part-00001.done", "part-00002.done"]
    assert_same_codes(codes, reference)  # the finished codes stay until new ones are whole

    codes.unlink()  # so only the resumed run's rename can bring them back
    resumed = encode_stage(workspace, sae_id, force=True, part_rows=PART_ROWS)
    assert resumed is not None and resumed.parts_reused == 3
    assert_same_codes(codes, reference)
    assert not parts_folder(codes).exists() and not partial_path(codes).exists()


@pytest.mark.usefixtures("chunks_smaller_than_parts")
def test_parts_of_another_layout_or_sae_are_started_over(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id, codes = only_sae(workspace)
    reference = codes_of(codes)
    token, progress = cancel_after(2 * PART_ROWS)
    with pytest.raises(Cancelled):
        encode_stage(workspace, sae_id, progress, token, force=True, part_rows=PART_ROWS)
    other_layout = encode_stage(workspace, sae_id, force=True, part_rows=PART_ROWS + 1)
    assert other_layout is not None and other_layout.parts_reused == 0
    assert_same_codes(codes, reference)

    token, progress = cancel_after(2 * PART_ROWS)
    with pytest.raises(Cancelled):
        encode_stage(workspace, sae_id, progress, token, force=True, part_rows=PART_ROWS)
    weights = workspace.sae_dir(sae_id) / "sae_weights.safetensors"
    stat = weights.stat()  # a retrained SAE is a new file
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    retrained = encode_stage(workspace, sae_id, force=True, part_rows=PART_ROWS)
    assert retrained is not None and retrained.parts_reused == 0


@pytest.mark.usefixtures("chunks_smaller_than_parts")
def test_current_codes_remove_an_unfinished_runs_parts(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id, codes = only_sae(workspace)
    token, progress = cancel_after(PART_ROWS)
    with pytest.raises(Cancelled):
        encode_stage(workspace, sae_id, progress, token, force=True, part_rows=PART_ROWS)
    assert parts_folder(codes).exists() and partial_path(codes).exists()
    assert encode_stage(workspace, sae_id) is None
    assert not parts_folder(codes).exists() and not partial_path(codes).exists()


@pytest.mark.slow
def test_two_processes_encode_the_single_process_codes_and_resume_after_a_kill(
    encoded_workspace: Path, tmp_path: Path
) -> None:
    single = Workspace.open(Path(shutil.copytree(encoded_workspace, tmp_path / "single")))
    sae_id, single_codes = only_sae(single)
    first = encode_stage(single, sae_id, force=True, part_rows=PART_ROWS)
    assert first is not None
    reference = codes_of(single_codes)
    workspace = Workspace.open(encoded_workspace)
    _, codes = only_sae(workspace)
    args = ["encode", "--workspace", str(encoded_workspace), "--part-rows", str(PART_ROWS)]

    killed = launch(*args, "--force", script=Path(__file__).with_name("kill_one_encoder.py"))
    assert killed.returncode != 0
    codes.unlink()  # so only the resumed run's rename can bring them back
    marks = sorted(parts_folder(codes).glob("part-*.done"))
    assert 1 <= len(marks) < first.rows / PART_ROWS

    resumed = launch(*args, "--force")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("Encoded") == 1  # only the main process reports
    assert f"{len(marks)} part(s) reused, 2 processes" in resumed.stdout
    assert_same_codes(codes, reference)
    assert not parts_folder(codes).exists()
    assert "Salience" in resumed.stdout  # the main process indexed the new codes

    elsewhere = Path(shutil.copytree(workspace.sae_dir(sae_id), tmp_path / "elsewhere" / sae_id))
    (elsewhere / CODES_FILE).unlink()
    # from scratch, both processes encoding, the SAE imported from a folder (by one process)
    again = launch(*args, "--force", "--sae", str(elsewhere))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reused" not in again.stdout and "2 processes" in again.stdout
    assert_same_codes(codes, reference)


def test_parts_of_no_rows_are_refused_with_a_hint(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id, codes = only_sae(workspace)
    with pytest.raises(ConfigError, match="at least 1, not 0") as refused:
        encode_stage(workspace, sae_id, force=True, part_rows=0)
    assert "Leave --part-rows out" in refused.value.hint and codes.exists()
