"""Safety tags and notes on SAE features, kept in `<workspace>/labels.sqlite`.

The table is append-only: every tag, clear or note is a new row, so several people tagging
the same workspace at once never overwrite each other and every change stays in the
history. The current state of a feature is folded from its rows (`fold_rows`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from safer_engine.errors import WorkspaceError
from safer_engine.labels.csv_io import (
    CsvImport,
    read_labels_csv,
    summarise_import,
    write_labels_csv,
)
from safer_engine.labels.fold import (
    SOURCES,
    TAGS,
    Label,
    LabelRow,
    check_feature,
    check_tag,
    default_author,
    fold_rows,
    utc_now,
)
from safer_engine.labels.schema import SCHEMA, SCHEMA_VERSION

DEFAULT_BUSY_TIMEOUT_S = 5.0

_INSERT = (
    "INSERT INTO feature_labels (sae_id, feature, tag, note, author, at, source) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_ROW_COLUMNS = "id, sae_id, feature, tag, note, author, at, source"


class LabelStore:
    """Append-only tags and notes on SAE features, safe to share between processes."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, author: str, busy_timeout_s: float
    ) -> None:
        self._conn = conn
        self.path = path
        self.author = author
        self.busy_timeout_s = busy_timeout_s

    @classmethod
    def open(
        cls,
        path: Path,
        author: str | None = None,
        *,
        read_only: bool = False,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> LabelStore:
        """Open (and, unless `read_only`, create or upgrade) the labels database at `path`."""
        path = Path(path)
        if not path.parent.is_dir():
            raise WorkspaceError(
                f"The workspace folder {path.parent} does not exist.",
                "Check the workspace path, or create the workspace first.",
            )
        if read_only and not path.exists():
            raise WorkspaceError(
                f"There is no labels database at {path}.", "Nothing has been tagged here yet."
            )
        mode = "ro" if read_only else "rw"
        try:
            return cls._open_as(path, author, mode, busy_timeout_s)
        except WorkspaceError as exc:
            if not read_only or "read-only" not in exc.message:
                raise
        # A WAL database in a folder we cannot write cannot even be read normally (sqlite
        # needs its -shm file), so read it as immutable: it will not see later changes.
        return cls._open_as(path, author, "immutable", busy_timeout_s)

    @classmethod
    def _open_as(
        cls, path: Path, author: str | None, mode: str, busy_timeout_s: float
    ) -> LabelStore:
        """Connect in `mode` ("rw", "ro" or "immutable") and check or create the schema."""
        store = cls(_connect(path, mode, busy_timeout_s), path, "", busy_timeout_s)
        store.author = author or default_author()
        try:
            store._prepare(read_only=mode != "rw")
        except BaseException:
            store.close()
            raise
        return store

    def _prepare(self, read_only: bool) -> None:
        """Check the schema version and, when writable, set WAL mode and create the table."""
        if read_only:
            self._check_version(self._user_version())
            return
        # The journal mode cannot change inside a transaction, so it is set on its own.
        self._retry_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL").fetchall())
        with self._write() as conn:
            # Checked inside the write lock so two processes creating the file agree.
            self._check_version(self._user_version())
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _user_version(self) -> int:
        """The schema version stored in the file (0 for a new, empty file)."""
        with self._translated():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        """Refuse a file written by a newer schema than this code understands."""
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"The labels database {self.path} is from a newer version of SAFER explorer "
                f"(schema version {version}; this version reads up to {SCHEMA_VERSION}).",
                "Upgrade safer-explorer to read and change these tags.",
            )

    # -- writing -----------------------------------------------------------------------------

    def tag(self, sae_id: str, feature: int, tag: str, source: str = "human") -> None:
        """Set (or, with "", clear) the tag of one feature."""
        if source not in SOURCES:
            raise WorkspaceError(f"Unknown label source {source!r}.", f"Use one of: {SOURCES}.")
        row = (sae_id, check_feature(feature), check_tag(tag), None, self.author, utc_now())
        with self._write() as conn:
            conn.execute(_INSERT, (*row, source))

    def note(self, sae_id: str, feature: int, text: str) -> None:
        """Set (or, with "", clear) the note on one feature; its tag is left as it is."""
        row = (sae_id, check_feature(feature), None, text, self.author, utc_now(), "human")
        with self._write() as conn:
            conn.execute(_INSERT, row)

    def bulk_tag(self, sae_id: str, features: Iterable[int], tag: str) -> int:
        """Tag many features in one transaction, one row each; returns how many rows."""
        check_tag(tag)
        at = utc_now()  # one time for the whole batch: it was one change
        count = 0
        with self._write() as conn:
            # Inserted while iterating, so a failure part-way rolls everything back.
            for feature in features:
                conn.execute(
                    _INSERT, (sae_id, check_feature(feature), tag, None, self.author, at, "human")
                )
                count += 1
        return count

    def clear_tags(
        self, sae_id: str, features: Iterable[int] | None = None, tag: str | None = None
    ) -> int:
        """Clear the tag of every tagged feature among `features` (all when None) whose tag is
        `tag` (any when None), in one transaction, one clear row each; notes stay. Returns how
        many tags were cleared."""
        wanted = None if features is None else {check_feature(f) for f in features}
        if tag is not None and check_tag(tag) == "":
            raise WorkspaceError("Give the tag to clear.", f"Use one of: {', '.join(TAGS)}.")
        at = utc_now()
        with self._write() as conn:
            # read inside the write lock, so a tag set meanwhile by another process is seen
            rows = conn.execute(
                f"SELECT {_ROW_COLUMNS} FROM feature_labels WHERE sae_id = ? ORDER BY id",
                (sae_id,),
            ).fetchall()
            current = fold_rows(LabelRow(*row) for row in rows)
            cleared = [
                feature
                for feature, label in current.items()
                if label.tag
                and (wanted is None or feature in wanted)
                and (tag is None or label.tag == tag)
            ]
            conn.executemany(
                _INSERT, [(sae_id, f, "", None, self.author, at, "human") for f in cleared]
            )
        return len(cleared)

    # -- reading -----------------------------------------------------------------------------

    def history(self, sae_id: str, feature: int) -> list[LabelRow]:
        """Every change to one feature, oldest first."""
        rows = self._select(
            f"SELECT {_ROW_COLUMNS} FROM feature_labels WHERE sae_id = ? AND feature = ? "
            "ORDER BY id",
            (sae_id, check_feature(feature)),
        )
        return [LabelRow(*row) for row in rows]

    def current(self, sae_id: str) -> dict[int, Label]:
        """The current tag and note of every feature that has either, keyed by feature."""
        rows = self._select(
            f"SELECT {_ROW_COLUMNS} FROM feature_labels WHERE sae_id = ? ORDER BY id", (sae_id,)
        )
        return fold_rows(LabelRow(*row) for row in rows)

    def last_change(self) -> int:
        """The id of the newest change by anyone: cheap to poll for other explorers' tags."""
        rows = self._select("SELECT max(id) FROM feature_labels", ())
        return int(rows[0][0] or 0) if rows else 0

    # -- CSV ---------------------------------------------------------------------------------

    def export_csv(self, sae_id: str, path: Path) -> int:
        """Write the current labels of `sae_id` to a CSV file; returns how many features."""
        labels = self.current(sae_id)
        write_labels_csv(labels.values(), Path(path))
        return len(labels)

    def import_csv(self, sae_id: str, path: Path, n_features: int | None = None) -> CsvImport:
        """Add the labels in a CSV file to `sae_id`, all or nothing; an empty tag clears the
        feature's tag. With `n_features`, ids the SAE lacks are bad rows. Every bad row is
        named in one WorkspaceError, and then nothing is added."""
        rows = read_labels_csv(Path(path), self.author, n_features, sae_id)
        with self._write() as conn:
            conn.executemany(_INSERT, [(sae_id, *row, "import") for row in rows])
        return summarise_import(rows)

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection; the store cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- other tables of this database (judgements) ----------------------------------------

    def query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows of one read query, with this store's error translation; [] on a read-only
        file that predates the queried table."""
        return self._select(sql, params)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction with this store's locking, retries and error translation."""
        return self._write()

    # -- plumbing ----------------------------------------------------------------------------

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Run one query in its own read transaction, so other processes' commits show."""
        try:
            with self._translated():
                return self._conn.execute(sql, params).fetchall()
        except WorkspaceError as exc:
            # A read-only store on a file nobody has written to yet simply has no labels.
            if isinstance(exc.__cause__, sqlite3.OperationalError) and "no such table" in str(
                exc.__cause__
            ):
                return []
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A BEGIN IMMEDIATE transaction, committed on success and rolled back on error."""
        self._retry_locked(lambda: self._conn.execute("BEGIN IMMEDIATE"))
        try:
            with self._translated():
                yield self._conn
                self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _retry_locked(self, action: Any) -> None:
        """Run `action`, retrying while another process holds the lock, up to the timeout."""
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                with self._translated():
                    action()
                return
            except WorkspaceError as exc:
                if not _is_locked(exc.__cause__) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn sqlite errors into WorkspaceErrors a user can act on."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _workspace_error(exc, self.path, self.busy_timeout_s) from exc


def _connect(path: Path, mode: str, busy_timeout_s: float) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) with a busy timeout."""
    query = {"rw": "mode=rwc", "ro": "mode=ro", "immutable": "mode=ro&immutable=1"}[mode]
    target = f"file:{quote(str(path))}?{query}"
    try:
        conn = sqlite3.connect(
            target, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise _workspace_error(exc, path, busy_timeout_s) from exc
    return conn


def _is_locked(exc: BaseException | None) -> bool:
    """Whether an sqlite error means another connection holds the lock."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _workspace_error(exc: sqlite3.Error, path: Path, busy_timeout_s: float) -> WorkspaceError:
    """The user-facing error for an sqlite failure on the labels database at `path`."""
    text = str(exc).lower()
    if _is_locked(exc):
        return WorkspaceError(
            f"The labels database is locked by another process for more than {busy_timeout_s:g} s.",
            f"Someone else may be tagging in {path.parent}; try again in a moment.",
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return WorkspaceError(
            f"The labels database {path} is read-only: tags cannot be saved.",
            "Ask the workspace owner for write access to the file and its folder, "
            "or copy the workspace somewhere you can write.",
        )
    if "not a database" in text or "malformed" in text or "no such table" in text:
        return WorkspaceError(
            f"{path} is not a labels database (it is corrupted or another kind of file).",
            "Move it aside to start tagging afresh, or restore it from a backup.",
        )
    return WorkspaceError(f"Cannot use the labels database {path}: {exc}.", _HINT_GENERIC)


_HINT_GENERIC = "Check the workspace folder and its permissions; rerun with --debug for details."
