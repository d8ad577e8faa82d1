"""The run's progress on disk (sqlite), so a killed or timed-out run resumes with nothing lost.

Each page commits, in one transaction, the segment's next token, the listed subs and the page's
counters; the set of listed subs stays on disk, so memory stays flat however large the pool.
This module is the one place that creates, validates and removes checkpoint files.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from functions.common.backfill.errors import CheckpointError, CheckpointMismatchError
from functions.common.backfill.summary import Tally
from functions.common.observability import logger

CHECKPOINT_APPLICATION_ID = 0x434D4952  # "CMIR": sqlite header mark of this tool's checkpoints
CHECKPOINT_SCHEMA = 2  # sqlite user_version; a checkpoint of another schema is refused
_CHECKPOINT_TABLES = (
    "CREATE TABLE counters (scope TEXT NOT NULL, name TEXT NOT NULL, "
    "value INTEGER NOT NULL, PRIMARY KEY (scope, name))",
    "CREATE TABLE failed (sub TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE listed (sub TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE orphans (sub TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE pruned (sub TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE scanned (segment INTEGER PRIMARY KEY)",
    "CREATE TABLE segments (prefix TEXT PRIMARY KEY, token TEXT, done INTEGER NOT NULL, "
    "pages INTEGER NOT NULL, subs INTEGER NOT NULL)",
)  # in name order, as sqlite_master lists them
_IMPORTED = "#imported"  # counter scope of progress imported from the reconcile state


def _prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds [low, high) of the subs starting with `prefix` (hex digits)."""
    if not prefix:
        return "", "\U0010ffff"
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class Checkpoint:
    """Progress on disk (sqlite): segments, listed subs, counters, orphans, pruned and failed subs.

    A path is either new (created here, exclusively) or a checkpoint this tool wrote: the sqlite
    header carries CHECKPOINT_APPLICATION_ID and CHECKPOINT_SCHEMA, and `bind` checks the run
    identity. Anything else (another file, a directory, a corrupt or empty file, a missing folder)
    raises CheckpointError and is left as it was. With no path, a temporary file is used and
    removed on close (it still keeps memory flat).
    """

    def __init__(self, path: str | None = None) -> None:
        self._temporary = path is None
        if path is None:
            handle, path = tempfile.mkstemp(prefix="mirror-engine-", suffix=".sqlite")
            os.close(handle)
            self._initialise(path)
            created = True
        else:
            created = self._create(path)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            if not created:
                self._check_marks()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, CheckpointError) as exc:
            self._db.close()
            if created:
                self._remove()
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(f"checkpoint {path} is not usable ({exc})") from exc

    @classmethod
    def _create(cls, path: str) -> bool:
        """Create `path` as a fresh checkpoint (True); False when something is already there.

        The file is built under a temporary name beside it and linked into place, so a kill at any
        moment leaves either no file or a complete empty checkpoint, never a half-made one.
        """
        if os.path.lexists(path):
            if not os.path.isfile(path):
                raise CheckpointError(f"checkpoint {path} is not a file")
            return False
        try:
            handle, staging = tempfile.mkstemp(
                prefix=".checkpoint-", suffix=".tmp", dir=os.path.dirname(path) or "."
            )
        except OSError as exc:
            raise CheckpointError(f"checkpoint {path} cannot be created ({exc.strerror})") from exc
        os.close(handle)
        try:
            cls._initialise(staging)
            os.link(staging, path)  # atomic, and never replaces a file that appeared meanwhile
        except FileExistsError:
            return False
        except (OSError, sqlite3.Error) as exc:
            raise CheckpointError(f"checkpoint {path} cannot be created ({exc})") from exc
        finally:
            os.remove(staging)
        return True

    @staticmethod
    def _initialise(path: str) -> None:
        """Write the marks and the schema into the empty file `path`, in one transaction."""
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("BEGIN")
            db.execute(f"PRAGMA application_id = {CHECKPOINT_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {CHECKPOINT_SCHEMA}")
            for ddl in _CHECKPOINT_TABLES:
                db.execute(ddl)
            db.execute("COMMIT")

    def _check_marks(self) -> None:
        application_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if application_id != CHECKPOINT_APPLICATION_ID:
            raise CheckpointError(
                f"checkpoint {self.path} was not written by this tool; "
                "give a new --checkpoint path (it is created) or the file of the run to resume"
            )
        if version != CHECKPOINT_SCHEMA:
            raise CheckpointError(
                f"checkpoint {self.path} has schema {version}, this tool reads {CHECKPOINT_SCHEMA}; "
                "give a new --checkpoint path"
            )
        tables = self._db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if tuple(row[0] for row in tables) != _CHECKPOINT_TABLES:
            raise CheckpointError(f"checkpoint {self.path} does not have the tables of its schema")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def bind(self, identity: dict[str, Any], *, imported_ok: bool = False) -> bool:
        """Attach to a run; True when resuming one. Raises on a checkpoint of another run.

        Only the reconcile imports progress (`imported_ok`); the command refuses a file holding
        imported progress, whose segments it could not check.
        """
        wanted = json.dumps(identity, sort_keys=True)
        try:
            rows = self._query("SELECT value FROM meta WHERE key = 'identity'")
            imported = self.flag("partial_listing")
        except sqlite3.Error as exc:
            raise CheckpointError(f"checkpoint {self.path} is not usable ({exc})") from exc
        if rows:
            if rows[0][0] != wanted:
                raise CheckpointMismatchError(
                    f"checkpoint {self.path} belongs to another run ({rows[0][0]}); "
                    "use another --checkpoint file or delete it"
                )
            if imported and not imported_ok:
                raise CheckpointError(f"checkpoint {self.path} was not written by this command")
            return True
        with self._transaction() as db:
            db.execute("INSERT INTO meta VALUES ('identity', ?)", (wanted,))
        return False

    def flag(self, key: str) -> bool:
        return bool(self._query("SELECT 1 FROM meta WHERE key = ?", (key,)))

    def segment(self, prefix: str) -> tuple[str | None, bool]:
        """Where a segment resumes: (token, done); (None, False) for a fresh start.

        Saved progress is taken only when it is consistent: at least one committed page, as many
        listed subs under the prefix as its pages committed, and a listed counter that covers them.
        A done segment that listed nobody is listed again (one call): "done, empty" is what a planted
        file would say. Progress imported by the reconcile has no subs to check and is taken as is.
        An inconsistent segment is reset (its subs and counters dropped) and listed again.
        """
        rows = self._query("SELECT token, done, pages, subs FROM segments WHERE prefix = ?", (prefix,))
        if not rows:
            return None, False
        token, done, pages, subs = rows[0]
        if self.flag("partial_listing"):
            return token, bool(done)
        counted = self._query("SELECT value FROM counters WHERE scope = ? AND name = 'listed'", (prefix,))
        listed = int(counted[0][0]) if counted else 0
        low, high = _prefix_range(prefix)
        found = int(self._query("SELECT COUNT(*) FROM listed WHERE sub >= ? AND sub < ?", (low, high))[0][0])
        if pages >= 1 and found == subs and listed >= subs and not (done and listed == 0):
            return token, bool(done)
        logger.warning("checkpoint segment not trusted: listing it again", extra={"prefix": prefix})
        with self._transaction() as db:
            db.execute("DELETE FROM segments WHERE prefix = ?", (prefix,))
            db.execute("DELETE FROM counters WHERE scope = ?", (prefix,))
            db.execute("DELETE FROM listed WHERE sub >= ? AND sub < ?", (low, high))
            db.execute("DELETE FROM failed WHERE sub >= ? AND sub < ?", (low, high))
        return None, False

    def commit_page(
        self,
        prefix: str,
        next_token: str | None,
        subs: list[str],
        tally: Tally,
        failed: list[str],
    ) -> None:
        """One page, atomically: where the segment resumes, what was listed, what it counted."""
        with self._transaction() as db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO listed VALUES (?)", ((sub,) for sub in subs))
            added = db.total_changes - before
            db.execute(
                "INSERT INTO segments VALUES (?, ?, ?, 1, ?) ON CONFLICT(prefix) DO UPDATE SET "
                "token = excluded.token, done = excluded.done, "
                "pages = pages + 1, subs = subs + excluded.subs",
                (prefix, next_token, 0 if next_token else 1, added),
            )
            db.executemany("INSERT OR IGNORE INTO failed VALUES (?)", ((sub,) for sub in failed))
            self._add(db, prefix, tally)

    def add_counters(self, scope: str, tally: Tally) -> None:
        """Counters of work outside the segments' pages (the membership listing), under `scope`."""
        with self._transaction() as db:
            self._add(db, scope, tally)

    @staticmethod
    def _add(db: sqlite3.Connection, scope: str, tally: Tally) -> None:
        db.executemany(
            "INSERT INTO counters VALUES (?, ?, ?) "
            "ON CONFLICT(scope, name) DO UPDATE SET value = value + excluded.value",
            [(scope, name, value) for name, value in tally.items() if value],
        )

    def counters(self) -> dict[str, int]:
        rows = self._query("SELECT name, SUM(value) FROM counters GROUP BY name")
        return {name: int(value) for name, value in rows}

    def unlisted(self, subs: list[str]) -> list[str]:
        """The subs of `subs` that no segment listed."""
        if not subs:
            return []
        marks = ",".join("?" * len(subs))
        found = {row[0] for row in self._query(f"SELECT sub FROM listed WHERE sub IN ({marks})", subs)}  # noqa: S608 - placeholders only
        return [sub for sub in subs if sub not in found]

    def add_subs(self, table: str, subs: Iterable[str]) -> None:
        assert table in ("orphans", "pruned")
        with self._transaction() as db:
            db.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?)", ((sub,) for sub in subs))  # noqa: S608 - fixed names

    def size(self, table: str) -> int:
        assert table in ("orphans", "pruned", "listed", "failed")
        return int(self._query(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608 - fixed names

    def failed_subs(self, limit: int) -> list[str]:
        return [row[0] for row in self._query("SELECT sub FROM failed ORDER BY sub LIMIT ?", (limit,))]

    def scan_done(self, segment: int) -> bool:
        return bool(self._query("SELECT 1 FROM scanned WHERE segment = ?", (segment,)))

    def mark_scanned(self, segment: int, tally: Tally | None = None) -> None:
        """A scan segment done, with what it counted, atomically."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO scanned VALUES (?)", (segment,))
            if tally:
                self._add(db, f"#scan{segment}", tally)

    def export_progress(self) -> dict[str, Any]:
        """Segments and counters (not the listed subs): enough to resume listing elsewhere."""
        segments = {p: [t, bool(d)] for p, t, d in self._query("SELECT prefix, token, done FROM segments")}
        return {"segments": segments, "counters": self.counters()}

    def import_progress(self, progress: dict[str, Any]) -> None:
        """Resume listing from exported progress; the listed set is then partial (no prune)."""
        with self._transaction() as db:
            for prefix, (token, done) in progress.get("segments", {}).items():
                db.execute(
                    "INSERT OR REPLACE INTO segments VALUES (?, ?, ?, 0, 0)", (prefix, token, int(done))
                )
            self._add(db, _IMPORTED, {k: int(v) for k, v in progress.get("counters", {}).items()})
            db.execute("INSERT OR REPLACE INTO meta VALUES ('partial_listing', '1')")

    def close(self, *, remove: bool = False) -> None:
        """Close; with `remove` (or for a temporary file) delete the checkpoint, a file of this tool."""
        with self._lock:
            self._db.close()
        if remove or self._temporary:
            self._remove()

    def _remove(self) -> None:
        remove_checkpoint_files(self.path)


def remove_checkpoint_files(path: str) -> None:
    """Delete a checkpoint and its sqlite journal files (whichever exist)."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.remove(path + suffix)
