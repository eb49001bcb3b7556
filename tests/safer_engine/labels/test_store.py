from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safer_engine.artifacts import LABELS_FILE
from safer_engine.errors import WorkspaceError
from safer_engine.labels import SCHEMA_VERSION, TAGS, LabelStore

REPO = Path(__file__).resolve().parents[3]
SAE = "gemma-2b/res-12/16k"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / LABELS_FILE


@pytest.fixture
def store(db: Path) -> Iterator[LabelStore]:
    with LabelStore.open(db, author="alice") as opened:
        yield opened


def test_open_creates_wal_database_with_schema_version(db: Path) -> None:
    LabelStore.open(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_tag_persists_across_reopen(db: Path) -> None:
    with LabelStore.open(db, author="alice") as store:
        store.tag(SAE, 7, "unsafe")
    with LabelStore.open(db, author="bob") as store:
        label = store.current(SAE)[7]
    assert (label.feature, label.tag, label.author) == (7, "unsafe", "alice")


def test_latest_tag_wins_and_clear_removes_it(store: LabelStore) -> None:
    store.tag(SAE, 3, "safe")
    store.tag(SAE, 3, "unsure")
    assert store.current(SAE)[3].tag == "unsure"
    store.tag(SAE, 3, "")
    assert 3 not in store.current(SAE)


def test_note_is_kept_independently_of_tag_changes(store: LabelStore) -> None:
    store.tag(SAE, 1, "safe")
    store.note(SAE, 1, "fires on refusals")
    store.tag(SAE, 1, "unsafe")
    store.tag(SAE, 1, "")
    label = store.current(SAE)[1]
    assert (label.tag, label.note) == (None, "fires on refusals")
    store.tag(SAE, 1, "irrelevant")
    assert store.current(SAE)[1].note == "fires on refusals"


def test_history_lists_every_change_in_order(db: Path) -> None:
    with LabelStore.open(db, author="alice") as store:
        store.tag(SAE, 5, "safe")
        store.note(SAE, 5, "hmm")
    with LabelStore.open(db, author="bob") as store:
        store.tag(SAE, 5, "unsafe")
        rows = store.history(SAE, 5)
    assert [(r.tag, r.note, r.author) for r in rows] == [
        ("safe", None, "alice"),
        (None, "hmm", "alice"),
        ("unsafe", None, "bob"),
    ]
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    assert all(r.at.endswith("+00:00") and "." in r.at for r in rows)


def test_labels_are_kept_per_sae(store: LabelStore) -> None:
    store.tag(SAE, 2, "safe")
    store.tag("other-sae", 5, "unsafe")
    assert {f: label.tag for f, label in store.current(SAE).items()} == {2: "safe"}
    assert {f: label.tag for f, label in store.current("other-sae").items()} == {5: "unsafe"}
    assert store.current("third-sae") == {}


def test_human_tag_wins_over_later_judge_suggestion(store: LabelStore) -> None:
    store.tag(SAE, 4, "safe")
    store.tag(SAE, 4, "unsafe", source="judge")
    label = store.current(SAE)[4]
    assert (label.tag, label.author) == ("safe", "alice")


def test_judge_suggestion_shows_without_human_tag(store: LabelStore) -> None:
    store.tag(SAE, 4, "unsafe", source="judge")
    store.note(SAE, 4, "check this one")
    label = store.current(SAE)[4]
    assert (label.tag, label.note) == ("unsafe", "check this one")
    store.tag(SAE, 4, "")  # a human dismissing the suggestion
    assert 4 in store.current(SAE)
    assert store.current(SAE)[4].tag is None


def test_bulk_tag_writes_one_row_per_feature(store: LabelStore) -> None:
    assert store.bulk_tag(SAE, range(10), "irrelevant") == 10
    current = store.current(SAE)
    assert sorted(current) == list(range(10))
    assert {label.tag for label in current.values()} == {"irrelevant"}
    assert len({label.at for label in current.values()}) == 1  # one change, one time


def test_bulk_tag_failure_midway_writes_nothing(store: LabelStore) -> None:
    def features() -> Iterator[int]:
        yield from range(5)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        store.bulk_tag(SAE, features(), "safe")
    with pytest.raises(WorkspaceError, match="not a feature index"):
        store.bulk_tag(SAE, [1, 2, -3, 4], "safe")
    assert store.current(SAE) == {}


def test_invalid_tag_names_allowed_tags(store: LabelStore) -> None:
    with pytest.raises(WorkspaceError) as caught:
        store.tag(SAE, 1, "dangerous")
    assert "dangerous" in caught.value.message
    assert all(tag in caught.value.hint for tag in TAGS)
    with pytest.raises(WorkspaceError):
        store.bulk_tag(SAE, [1], "maybe")
    assert store.current(SAE) == {}


def test_csv_round_trip_into_another_sae(store: LabelStore, tmp_path: Path) -> None:
    store.tag(SAE, 9, "unsafe")
    store.note(SAE, 9, 'says "kill", with a comma')
    store.tag(SAE, 2, "safe")
    store.note(SAE, 5, "note only")
    out = tmp_path / "labels.csv"
    assert store.export_csv(SAE, out) == 3
    assert out.read_text().splitlines()[0] == "feature,tag,note,author,at"
    assert store.import_csv("copy", out).rows == 3
    original, copy = store.current(SAE), store.current("copy")
    assert copy == original
    assert {row.source for row in store.history("copy", 9)} == {"import"}


def test_csv_import_uses_importing_user_without_author_column(
    store: LabelStore, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("feature,tag\n1,safe\n")
    assert store.import_csv(SAE, path).rows == 1
    assert store.current(SAE)[1].author == "alice"


def test_csv_names_every_bad_row_and_imports_nothing(store: LabelStore, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "feature,tag,note,author,at\n"
        "1,safe,ok,,\n"
        "x2,unsafe,,,\n"  # line 3
        "3,bogus,,,\n"  # line 4
        "4,unsafe,,,\n"
        "5,safe,,,yesterday\n"  # line 6
        ",,,,\n"  # blank: skipped
        "64,safe,,,\n"  # line 8: the SAE has 64 features, 0-63
        "4,safe,,,\n"  # line 9: feature 4 twice
    )
    with pytest.raises(WorkspaceError) as caught:
        store.import_csv(SAE, path, n_features=64)
    message = caught.value.message
    assert "has 5 bad row(s); nothing was imported" in message
    assert "line 9: feature 4 again (first on line 5)" in message
    assert "line 3: feature 'x2' is not a whole number" in message
    assert "line 4: unknown tag 'bogus'" in message
    assert "line 6: at 'yesterday' is not an ISO-8601 time" in message
    assert f"line 8: SAE {SAE} has no feature 64 (it has 64)" in message
    for line in (2, 5, 7):  # good and blank rows are not named (line 5 only as the first 4)
        assert f"line {line}:" not in message
    assert "empty to clear" in caught.value.hint and "--allow-unknown" in caught.value.hint
    assert "check_" not in message + caught.value.hint  # no internal names
    assert store.current(SAE) == {}


def test_csv_unknown_features_are_imported_when_unchecked(
    store: LabelStore, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("feature,tag\n64,safe\n")
    with pytest.raises(WorkspaceError, match="has no feature 64"):
        store.import_csv(SAE, path, n_features=64)
    assert store.import_csv(SAE, path).rows == 1  # no feature count: not checked
    assert store.current(SAE)[64].tag == "safe"


def test_csv_empty_tag_clears_the_tag(store: LabelStore, tmp_path: Path) -> None:
    store.tag(SAE, 1, "safe")
    store.tag(SAE, 2, "unsafe")
    store.note(SAE, 2, "kept")
    path = tmp_path / "in.csv"
    path.write_text("feature,tag,note\n1,,\n2,,\n3,irrelevant,new\n")
    done = store.import_csv(SAE, path)
    assert (done.rows, done.tags, done.clears, done.notes) == (3, 1, 2, 1)
    labels = store.current(SAE)
    assert 1 not in labels
    assert (labels[2].tag, labels[2].note) == (None, "kept")
    assert (labels[3].tag, labels[3].note) == ("irrelevant", "new")
    assert [row.tag for row in store.history(SAE, 1)] == ["safe", ""]  # a clear row


def test_clear_tags_by_tag_features_or_all(store: LabelStore) -> None:
    for feature, tag in enumerate(["safe", "unsafe", "safe", "irrelevant", "unsure"]):
        store.tag(SAE, feature, tag)
    store.note(SAE, 0, "stays")
    store.tag("other-sae", 0, "safe")
    before = len(store.history(SAE, 0))
    assert store.clear_tags(SAE, tag="safe") == 2
    assert {f: label.tag for f, label in store.current(SAE).items()} == {
        0: None,
        1: "unsafe",
        3: "irrelevant",
        4: "unsure",
    }
    assert store.current(SAE)[0].note == "stays"
    assert len(store.history(SAE, 0)) == before + 1  # appended, never rewritten
    assert store.clear_tags(SAE, features=[1, 2, 99]) == 1  # 2 and 99 have no tag
    assert store.clear_tags(SAE) == 2
    assert all(label.tag is None for label in store.current(SAE).values())
    assert store.clear_tags(SAE) == 0
    assert store.current("other-sae")[0].tag == "safe"
    with pytest.raises(WorkspaceError, match="Unknown tag"):
        store.clear_tags(SAE, tag="maybe")


def test_clear_tags_is_one_change_at_one_time(store: LabelStore, db: Path) -> None:
    store.bulk_tag(SAE, range(50), "unsafe")
    assert store.clear_tags(SAE) == 50
    rows = sqlite3.connect(db).execute(
        "SELECT count(*), count(DISTINCT at) FROM feature_labels WHERE tag = ''"
    )
    assert rows.fetchone() == (50, 1)


def test_csv_without_tag_column_is_refused(store: LabelStore, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("feature,label\n1,safe\n")
    with pytest.raises(WorkspaceError, match="tag column"):
        store.import_csv(SAE, path)


WORKER = """
import sys, time
from pathlib import Path
from safer_engine.labels import LabelStore
db, who, start, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
with LabelStore.open(db, author=who) as store:
    while not go.exists():
        time.sleep(0.005)
    for i, feature in enumerate(range(start, start + 200)):
        store.tag("sae", feature, ("safe", "unsafe")[i % 2])
"""


def test_two_processes_tagging_at_once_lose_nothing(db: Path, tmp_path: Path) -> None:
    LabelStore.open(db).close()
    go = tmp_path / "go"
    # Features 150-199 are tagged by both processes.
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(db), who, start, str(go)], cwd=REPO)
        for who, start in (("p1", "0"), ("p2", "150"))
    ]
    go.touch()
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    with LabelStore.open(db) as store:
        rows = [row for f in range(350) for row in store.history("sae", f)]
        assert len(rows) == 400
        assert sorted(r.author for r in rows).count("p1") == 200
        assert len(store.history("sae", 170)) == 2
        assert len(store.current("sae")) == 350


def test_read_only_store_reads_but_refuses_to_save(db: Path) -> None:
    with LabelStore.open(db) as store:
        store.tag(SAE, 1, "safe")
    with LabelStore.open(db, read_only=True) as store:
        assert store.current(SAE)[1].tag == "safe"
        with pytest.raises(WorkspaceError, match="read-only") as caught:
            store.tag(SAE, 1, "unsafe")
    assert "cannot be saved" in caught.value.message
    assert caught.value.hint


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores modes")
def test_read_only_permissions_are_reported(db: Path) -> None:
    with LabelStore.open(db) as store:
        store.tag(SAE, 1, "safe")
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        with pytest.raises(WorkspaceError, match="cannot be saved"):
            LabelStore.open(db).close()
        with LabelStore.open(db, read_only=True) as store:
            assert store.current(SAE)[1].tag == "safe"
    finally:
        db.parent.chmod(0o755)
        db.chmod(0o644)


def test_corrupted_file_is_reported(db: Path) -> None:
    db.write_bytes(os.urandom(4096))
    with pytest.raises(WorkspaceError, match="not a labels database"):
        LabelStore.open(db)
    with pytest.raises(WorkspaceError, match="not a labels database"):
        LabelStore.open(db, read_only=True)


def test_newer_schema_version_is_refused(db: Path) -> None:
    LabelStore.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(WorkspaceError, match="newer version") as caught:
        LabelStore.open(db)
    assert "Upgrade" in caught.value.hint


def test_lock_held_too_long_is_reported(db: Path) -> None:
    store = LabelStore.open(db, busy_timeout_s=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(WorkspaceError, match=r"locked .* more than 0\.2 s"):
            store.tag(SAE, 1, "safe")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.tag(SAE, 1, "safe")  # usable again once the lock is gone
    assert store.current(SAE)[1].tag == "safe"
    store.close()


def test_missing_workspace_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="does not exist"):
        LabelStore.open(tmp_path / "nope" / "labels.sqlite")


def test_odd_characters_in_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "a #b?c%20"
    folder.mkdir()
    with LabelStore.open(folder / "labels.sqlite") as store:
        store.tag(SAE, 1, "safe")
    assert (folder / "labels.sqlite").exists()
    with LabelStore.open(folder / "labels.sqlite", read_only=True) as store:
        assert store.current(SAE)[1].tag == "safe"


def test_last_change_moves_when_another_process_writes(db: Path) -> None:
    with LabelStore.open(db, author="a") as mine, LabelStore.open(db, author="b") as theirs:
        assert mine.last_change() == 0
        theirs.tag(SAE, 5, "safe")
        first = mine.last_change()
        assert first > 0
        theirs.note(SAE, 5, "refusal")
        assert mine.last_change() > first


def test_export_to_a_pipe_writes_through_it(db: Path, tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with LabelStore.open(db, author="a") as store:
        store.tag(SAE, 3, "safe")
        assert store.export_csv(SAE, fifo) == 1
    reader.join(timeout=10)
    assert fifo.exists() and not fifo.is_file()  # still the pipe, not replaced by a file
    assert received and received[0].splitlines()[1].startswith("3,safe")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_export_to_a_stream_name_writes_through_it(db: Path, tmp_path: Path) -> None:
    # /dev/stdout with stdout redirected to a file is a link into /proc naming that file
    redirected = tmp_path / "redirected.txt"
    with LabelStore.open(db, author="a") as store, redirected.open("w") as handle:
        store.tag(SAE, 3, "safe")
        stream = tmp_path / "stdout"
        stream.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        inode = redirected.stat().st_ino
        assert store.export_csv(SAE, stream) == 1
    assert stream.is_symlink() and redirected.stat().st_ino == inode
    assert redirected.read_text().splitlines()[1].startswith("3,safe")


def test_export_through_a_link_replaces_the_file_it_names(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "tags.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with LabelStore.open(db, author="a") as store:
        store.tag(SAE, 4, "unsafe")
        assert store.export_csv(SAE, link) == 1
    assert link.is_symlink()
    assert target.read_text().splitlines()[1].startswith("4,unsafe")
