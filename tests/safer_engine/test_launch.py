from __future__ import annotations

import threading
from pathlib import Path

import pytest

from safer_engine.errors import Cancelled
from safer_engine.launch import ProcessShare, current_share, wait_for_files
from safer_engine.progress import CancelToken, no_progress


def test_processes_share_the_work_round_robin() -> None:
    work = [3, 4, 7, 8, 9]
    shares = [ProcessShare(index, 2).mine(work) for index in range(2)]
    assert shares == [[3, 7, 9], [4, 8]]
    assert ProcessShare().mine(work) == work and ProcessShare().is_main


def test_one_process_is_the_whole_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert current_share() == ProcessShare()


def test_waiting_for_files_ends_when_they_exist_or_on_cancel(tmp_path: Path) -> None:
    paths = [tmp_path / "a", tmp_path / "b"]
    paths[0].touch()
    later = threading.Timer(0.3, paths[1].touch)
    later.start()
    seen: list[int] = []
    wait_for_files(paths, lambda task, done, total: seen.append(done), CancelToken(), "x", "y")
    assert seen and seen[0] == 1
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled, match=r"Cancelled encoding\.") as stopped:
        wait_for_files([tmp_path / "never"], no_progress, token, "encoding", "Parts are kept.")
    assert stopped.value.hint == "Parts are kept."
