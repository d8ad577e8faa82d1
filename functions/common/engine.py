"""The list / compare / write / prune engine shared by the backfill CLI and the scheduled reconcile.

- List: the pool is partitioned by `sub ^= "<hex prefix>"` (1, 16 or 256 segments), listed page by
  page (60 users) by worker threads under ONE token-bucket limiter for every ListUsers call, with
  exponential backoff and full jitter on throttling.
- Compare: each page's subs are read from the mirror with one BatchGetItem and classified as
  missing / stale / unchanged / skipped (the mirror is newer) / tombstoned (Cognito lists a sub the
  mirror holds as deleted: a wrong tombstone).
- Write: only missing and stale users, through the guarded write path (`put_snapshots`, PartiQL with
  per-statement conditions; or `put_snapshot` per user). A newer row is never overwritten. A wrong
  tombstone is revived (`revive_tombstone`) only after AdminGetUser confirms that the user with that
  sub exists now.
- Prune: only after every segment completed. A parallel Scan of the mirror checks each live row
  against the set of listed subs (kept on disk in the checkpoint, so memory stays flat); each
  candidate is confirmed with Cognito (AdminGetUser by its username, same sub) before a tombstone.
- Index check (verify, reindex): the same Scan compares each live row's user-directory keys with the
  ones its stored attributes give under the current MIRROR_INDEXED_ATTRIBUTES ("misindexed");
  `reindex` rewrites only those keys (`put_index_keys`), guarded on the row's own observed_at, so a
  newer write in between wins and observed_at keeps its meaning.
- Checkpoint: a sqlite file. Each page commits, in one transaction, the segment's next token, the
  listed subs and the page's counters, so a killed run resumes with nothing lost or counted twice.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import random
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from functions.common.cognito import THROTTLE_CODES, cognito_client, read_user
from functions.common.errors import CognitoThrottledError, ServiceUnavailableError
from functions.common.observability import logger
from models.mirror_table import (
    BATCH_GET_MAX,
    MalformedStateError,
    MirrorRecord,
    MirrorUnavailableError,
    WriteOutcome,
    error_code,
    expected_index_keys,
    get_records,
    load_state,
    put_index_keys,
    put_snapshot,
    put_snapshots,
    put_tombstone,
    revive_tombstone,
    save_state,
    scan_records,
    set_pool_size,
)
from models.settings import get_settings
from models.user import MalformedUserError, UserSnapshot, now_us, snapshot_from_cognito_user

HEX = "0123456789abcdef"
PAGE_SIZE = 60  # ListUsers' maximum
SEGMENT_CHOICES = (1, 16, 256)
COUNTERS = (
    "listed",
    "missing",
    "stale",
    "unchanged",
    "skipped",
    "written",
    "tombstoned",
    "revived",
    "failed",
    "throttles",
    "misindexed",
    "reindexed",
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "AccessDeniedException",
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
    }
)
_FAILED_SUBS_SHOWN = 100


class EngineError(RuntimeError):
    """The run cannot start or go on (bad pool, table or credentials): one line for the operator."""


class CheckpointError(EngineError):
    """The --checkpoint path is not a new file nor a checkpoint of this tool (or is unusable)."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint file belongs to another pool, table or mode."""


class Mode(enum.Enum):
    FILL = "fill"
    DRY_RUN = "dry-run"
    VERIFY = "verify"


class WriteMode(enum.Enum):
    PARTIQL = "partiql"  # BatchExecuteStatement, 25 conditional statements per call
    PUT = "put"  # one conditional PutItem per user (put_snapshot)


def segment_prefixes(segments: int) -> list[str]:
    """Sub prefixes that partition a pool of UUID subs ("" = the whole pool)."""
    if segments == 1:
        return [""]
    if segments == 16:
        return list(HEX)
    if segments == 256:
        return [a + b for a in HEX for b in HEX]
    raise ValueError(f"segments must be one of {SEGMENT_CHOICES}")


class RateLimiter:
    """A token bucket of one token refilled `rate` times per second, shared by all threads.

    A burst of one keeps calls evenly spaced, so no one-second window ever sees more than `rate`.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate
        self._clock = clock
        self._next = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; return how long to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self._interval
            return slot - now

    def acquire(self, stop: threading.Event | None = None) -> None:
        delay = self.reserve()
        if delay > 0:
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not secrecy


@dataclass
class Options:
    user_pool_id: str
    mode: Mode = Mode.FILL
    prune: bool = False
    # Rewrite directory index keys that do not match MIRROR_INDEXED_ATTRIBUTES (after listing).
    reindex: bool = False
    segments: int = 16
    max_rps: float = 20.0
    workers: int = 16
    write_mode: WriteMode = WriteMode.PARTIQL
    source: str = "backfill"
    max_attempts: int = 8
    # Throttling is the shared quota asking for patience, not a failure: far more retries.
    max_throttle_retries: int = 40
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    scan_segments: int = 4

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed."""
        identity: dict[str, Any] = {
            "user_pool_id": self.user_pool_id,
            "table": get_settings().table_name,
            "mode": self.mode.value,
            "prune": self.prune,
            "segments": self.segments,
        }
        if self.reindex:
            identity["reindex"] = True
        return identity


@dataclass
class Summary:
    mode: Mode = Mode.FILL
    listed: int = 0
    missing: int = 0
    stale: int = 0
    unchanged: int = 0
    skipped: int = 0
    written: int = 0
    tombstoned: int = 0
    revived: int = 0
    failed: int = 0
    throttles: int = 0
    misindexed: int = 0
    reindexed: int = 0
    orphaned: int = 0
    pruned: int = 0
    failed_subs: list[str] = field(default_factory=list)
    complete: bool = False
    interrupted: bool = False
    prune_skipped: str | None = None
    elapsed: float = 0.0
    listed_this_run: int = 0
    resumed_segments: int = 0  # segments whose progress was taken from the checkpoint
    state_discarded: bool = False  # the reconcile found its stored state unreadable

    @property
    def users_per_second(self) -> float:
        return self.listed_this_run / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def drift(self) -> int:
        return self.missing + self.stale + self.tombstoned + self.orphaned + self.misindexed

    def set_counters(self, counters: dict[str, int]) -> None:
        for name in COUNTERS:
            setattr(self, name, counters.get(name, 0))

    def as_dict(self) -> dict[str, Any]:
        result = {name: getattr(self, name) for name in (*COUNTERS, "orphaned", "pruned", "failed_subs")}
        result.update(
            mode=self.mode.value,
            complete=self.complete,
            interrupted=self.interrupted,
            prune_skipped=self.prune_skipped,
            resumed_segments=self.resumed_segments,
            elapsed_s=round(self.elapsed, 3),
            users_per_s=round(self.users_per_second, 1),
        )
        return result


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

    def set_flag(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (key,))

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
        counts: dict[str, int],
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
            self._add(db, prefix, counts)

    @staticmethod
    def _add(db: sqlite3.Connection, scope: str, counts: dict[str, int]) -> None:
        db.executemany(
            "INSERT INTO counters VALUES (?, ?, ?) "
            "ON CONFLICT(scope, name) DO UPDATE SET value = value + excluded.value",
            [(scope, name, value) for name, value in counts.items() if value],
        )

    def counters(self) -> dict[str, int]:
        rows = self._query("SELECT name, SUM(value) FROM counters GROUP BY name")
        return {name: int(value) for name, value in rows}

    def segments_saved(self) -> int:
        """Segments with saved progress (done or part-way)."""
        return int(self._query("SELECT COUNT(*) FROM segments")[0][0])

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

    def mark_scanned(self, segment: int, counts: dict[str, int] | None = None) -> None:
        """A scan segment done, with what it counted, atomically."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO scanned VALUES (?)", (segment,))
            if counts:
                self._add(db, f"#scan{segment}", counts)

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
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)


def _classify(snapshot: UserSnapshot, row: MirrorRecord | None) -> str:
    if row is None:
        return "missing"
    if row.is_tombstone:
        return "tombstoned"  # Cognito lists this sub: the tombstone is wrong (or the user left since)
    if int(row.observed_at) >= snapshot.observed_at:
        return "skipped"
    if row.to_snapshot().same_state(snapshot):
        return "unchanged"
    return "stale"


class Engine:
    """One run over one pool. `should_stop` is polled between pages (Ctrl-C, Lambda deadline)."""

    def __init__(
        self,
        options: Options,
        checkpoint: Checkpoint,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_page: Callable[[int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.checkpoint = checkpoint
        self._should_stop = should_stop
        self._on_page = on_page
        self._sleep = sleep
        self._fatal = threading.Event()
        self._limiter = RateLimiter(options.max_rps)
        self._allowlist = get_settings().mirror_attributes
        self._listed_here = 0
        self._resumed = 0
        self._listed_lock = threading.Lock()

    @cached_property
    def _cognito(self) -> Any:
        """A ListUsers client without botocore retries: the limiter and backoff here own retrying."""
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=3,
            read_timeout=10,
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=self.options.workers + 2,
        )
        return boto3.client("cognito-idp", region_name=get_settings().region, config=config)

    def stopping(self) -> bool:
        return self._fatal.is_set() or self._should_stop()

    # --- listing -------------------------------------------------------------------------------

    def _list_page(self, prefix: str, token: str | None, counts: dict[str, int]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"UserPoolId": self.options.user_pool_id, "Limit": PAGE_SIZE}
        if prefix:
            kwargs["Filter"] = f'sub ^= "{prefix}"'
        if token:
            kwargs["PaginationToken"] = token
        throttled = failed = 0
        while True:
            self._limiter.acquire()
            try:
                response: dict[str, Any] = self._cognito.list_users(**kwargs)
                return response
            except ClientError as exc:
                code = error_code(exc)
                if code not in THROTTLE_CODES:
                    raise self._fatal_error(exc) from exc
                counts["throttles"] += 1
                throttled += 1
                if throttled > self.options.max_throttle_retries:
                    raise ServiceUnavailableError(
                        f"ListUsers still throttled ({code}) after {throttled} attempts"
                    ) from exc
            except BotoCoreError as exc:
                if error_code(exc) in _CREDENTIAL_CODES:
                    raise self._fatal_error(exc) from exc
                failed += 1
                if failed >= self.options.max_attempts:
                    raise ServiceUnavailableError(
                        f"ListUsers kept failing ({type(exc).__name__}) after {failed} attempts"
                    ) from exc
            attempt = min(throttled + failed - 1, 10)
            self._sleep(backoff_delay(attempt, base=self.options.backoff_base, cap=self.options.backoff_cap))

    def _fatal_error(self, exc: BaseException) -> EngineError:
        self._fatal.set()
        code = error_code(exc)
        if code in _CREDENTIAL_CODES:
            return EngineError(f"AWS credentials were rejected or are missing ({code})")
        if code == "ResourceNotFoundException":
            return EngineError(f"user pool {self.options.user_pool_id!r} not found ({code})")
        return EngineError(f"Cognito refused ListUsers on {self.options.user_pool_id!r}: {code}")

    def _snapshots(self, users: list[dict[str, Any]], observed: int) -> tuple[list[UserSnapshot], int]:
        snapshots: list[UserSnapshot] = []
        malformed = 0
        for user in users:
            try:
                snapshots.append(
                    snapshot_from_cognito_user(
                        user, allowlist=self._allowlist, source=self.options.source, observed_at=observed
                    )
                )
            except MalformedUserError:
                malformed += 1
        return snapshots, malformed

    def _write(self, to_write: list[UserSnapshot], missing: set[str]) -> list[WriteOutcome | None]:
        """Outcome per snapshot; None where the write failed (DynamoDB refused or was unreachable)."""
        if self.options.write_mode is WriteMode.PARTIQL:
            try:
                return list(put_snapshots(to_write, missing=missing))
            except MirrorUnavailableError as exc:
                logger.warning("batch write failed", extra={"users": len(to_write), "error": str(exc)})
                return [None] * len(to_write)
        outcomes: list[WriteOutcome | None] = []
        for snapshot in to_write:
            try:
                outcomes.append(put_snapshot(snapshot))
            except MirrorUnavailableError as exc:
                logger.warning("write failed", extra={"sub": snapshot.sub, "error": str(exc)})
                outcomes.append(None)
        return outcomes

    def _process_page(self, snapshots: list[UserSnapshot], counts: dict[str, int]) -> list[str]:
        """Compare a page with the mirror and repair it; return the subs that failed."""
        try:
            rows = get_records([s.sub for s in snapshots]) if snapshots else {}
        except MirrorUnavailableError:
            counts["failed"] += len(snapshots)
            return [s.sub for s in snapshots]
        to_write: list[UserSnapshot] = []
        missing: set[str] = set()
        tombstoned: list[UserSnapshot] = []
        for snapshot in snapshots:
            kind = _classify(snapshot, rows.get(snapshot.sub))
            counts[kind] += 1
            if kind in ("missing", "stale"):
                to_write.append(snapshot)
                if kind == "missing":
                    missing.add(snapshot.sub)
            elif kind == "tombstoned":
                tombstoned.append(snapshot)
        if self.options.mode is not Mode.FILL:
            return []
        failed = [s.sub for s in tombstoned if not self._revive(s, counts)]
        if not to_write:
            return failed
        for snapshot, outcome in zip(to_write, self._write(to_write, missing), strict=True):
            if outcome is None:
                failed.append(snapshot.sub)
                counts["failed"] += 1
            elif outcome is WriteOutcome.WRITTEN:
                counts["written"] += 1
            else:
                counts["skipped"] += 1
        return failed

    def _revive(self, listed: UserSnapshot, counts: dict[str, int]) -> bool:
        """Repair a wrong tombstone once AdminGetUser confirms the sub exists; False if that failed."""
        try:
            current = self._read_confirmed(listed.username or None, listed.sub)
            outcome = revive_tombstone(current) if current is not None else WriteOutcome.SKIPPED
        except (ServiceUnavailableError, MirrorUnavailableError) as exc:
            logger.warning("revive failed", extra={"sub": listed.sub, "error": str(exc)})
            counts["failed"] += 1
            return False
        # SKIPPED: the user left since it was listed, or a newer write got there first.
        counts["revived" if outcome is WriteOutcome.WRITTEN else "skipped"] += 1
        logger.info("tombstone of a listed user", extra={"sub": listed.sub, "outcome": outcome.value})
        return True

    def _run_segment(self, prefix: str) -> bool:
        """List one segment to its end (True), or stop early (False) with its progress saved."""
        token, done = self.checkpoint.segment(prefix)
        if token or done:
            with self._listed_lock:
                self._resumed += 1
        while not done:
            if self.stopping():
                return False
            counts = dict.fromkeys(COUNTERS, 0)
            observed = now_us()  # before the call: the snapshot is at least this fresh
            page = self._list_page(prefix, token, counts)
            snapshots, malformed = self._snapshots(page.get("Users", []), observed)
            counts["listed"] += len(snapshots) + malformed
            counts["failed"] += malformed
            failed = self._process_page(snapshots, counts)
            token = page.get("PaginationToken") or None
            self.checkpoint.commit_page(prefix, token, [s.sub for s in snapshots], counts, failed)
            done = token is None
            with self._listed_lock:
                self._listed_here += counts["listed"]
            if self._on_page is not None:
                self._on_page(counts["listed"])
        return True

    # --- orphans -------------------------------------------------------------------------------

    def _read_confirmed(self, username: str | None, sub: str) -> UserSnapshot | None:
        """Cognito's user `sub` now (AdminGetUser by its username, same sub), or None; throttling
        is waited out under the engine's limiter and backoff."""
        for attempt in range(self.options.max_attempts):
            self._limiter.acquire()
            try:
                return read_user(
                    user_pool_id=self.options.user_pool_id,
                    source=self.options.source,
                    username=username,
                    sub=sub,
                )
            except CognitoThrottledError:
                self._sleep(
                    backoff_delay(attempt, base=self.options.backoff_base, cap=self.options.backoff_cap)
                )
        raise ServiceUnavailableError("Cognito kept throttling while confirming users")

    def _confirm_gone(self, row: MirrorRecord) -> bool:
        """True when Cognito confirms the row's user no longer exists (by username, same sub)."""
        return self._read_confirmed(row.username or None, row.sub) is None

    @property
    def _checks_index(self) -> bool:
        return self.options.reindex or self.options.mode is Mode.VERIFY

    def _scan_segment(self, segment: int) -> bool:
        if self.checkpoint.scan_done(segment):
            return True
        batch: list[MirrorRecord] = []
        counts = {"misindexed": 0, "reindexed": 0, "skipped": 0}
        for row in scan_records(segment, self.options.scan_segments, with_index=self._checks_index):
            if self.stopping():
                return False
            if not row.is_tombstone:
                batch.append(row)
                if self._checks_index:
                    self._check_index(row, counts)
            if len(batch) >= BATCH_GET_MAX:
                self._orphans(batch)
                batch = []
        self._orphans(batch)
        self.checkpoint.mark_scanned(segment, counts)
        return True

    def _check_index(self, row: MirrorRecord, counts: dict[str, int]) -> None:
        """Count a live row whose directory keys are not what its attributes give; with reindex
        (fill mode), rewrite them for the very observation the row holds."""
        attributes = row.attributes.as_dict() if row.attributes else {}
        expected = expected_index_keys(row.sub, attributes)
        if expected == row.stored_index_keys():
            return
        counts["misindexed"] += 1
        if self.options.reindex and self.options.mode is Mode.FILL:
            outcome = put_index_keys(row.sub, observed_at=int(row.observed_at), keys=expected)
            # SKIPPED: a newer write (with its own keys) or a deletion got there first.
            counts["reindexed" if outcome is WriteOutcome.WRITTEN else "skipped"] += 1

    def _orphans(self, rows: list[MirrorRecord]) -> None:
        unlisted = set(self.checkpoint.unlisted([row.sub for row in rows]))
        candidates = [row for row in rows if row.sub in unlisted]
        if not candidates:
            return
        if not (self.options.prune and self.options.mode is not Mode.VERIFY):
            self.checkpoint.add_subs("orphans", (row.sub for row in candidates))
            return
        for row in candidates:
            if not self._confirm_gone(row):
                continue  # created after its segment was listed: not an orphan
            self.checkpoint.add_subs("orphans", [row.sub])
            if self.options.mode is Mode.FILL:
                outcome = put_tombstone(row.sub, observed_at=now_us(), source=self.options.source)
                if outcome is WriteOutcome.WRITTEN:
                    self.checkpoint.add_subs("pruned", [row.sub])

    # --- the run -------------------------------------------------------------------------------

    def _parallel(self, work: Callable[[Any], bool], items: list[Any], workers: int) -> bool:
        """Run `work` over `items` on threads; True when every item completed."""
        if not items:
            return True
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
            futures = [pool.submit(work, item) for item in items]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() for f in finished):
                self._fatal.set()  # let the other threads stop at their next page
            results = [f.result() for f in futures]  # re-raises the first error
        return all(results)

    def preflight(self) -> None:
        """Fail early, in one line, on a missing table or unusable credentials."""
        try:
            load_state("#preflight")
        except MalformedStateError:
            pass  # the table answered: that is all the preflight asks
        except MirrorUnavailableError as exc:
            if exc.__cause__ is not None and error_code(exc.__cause__) in _CREDENTIAL_CODES:
                code = error_code(exc.__cause__)
                raise EngineError(f"AWS credentials were rejected or are missing ({code})") from exc
            raise EngineError(f"mirror table {get_settings().table_name!r} is not usable: {exc}") from exc

    def run(self) -> Summary:
        started = time.monotonic()
        set_pool_size(self.options.workers + 2)
        self.preflight()
        # Create the clients before the threads: boto3's default session is not thread-safe.
        self._cognito  # noqa: B018
        if self.options.prune:
            cognito_client()
        summary = Summary(mode=self.options.mode)
        try:
            listed = self._parallel(
                self._run_segment, segment_prefixes(self.options.segments), self.options.workers
            )
            if listed and self.checkpoint.flag("partial_listing"):
                summary.prune_skipped = "the listing was resumed from saved progress: its sub set is partial"
            elif listed and (self.options.prune or self._checks_index or self.options.mode is not Mode.FILL):
                scanned = self._parallel(
                    self._scan_segment, list(range(self.options.scan_segments)), self.options.scan_segments
                )
                listed = listed and scanned
            elif not listed and self.options.prune:
                summary.prune_skipped = "the listing did not complete"
            summary.complete = listed
        except (ServiceUnavailableError, MirrorUnavailableError) as exc:
            logger.error("run stopped", extra={"error": str(exc)})
            summary.complete = False
        summary.interrupted = not summary.complete and not self._fatal.is_set() and self._should_stop()
        summary.set_counters(self.checkpoint.counters())
        summary.orphaned = self.checkpoint.size("orphans")
        summary.pruned = self.checkpoint.size("pruned")
        summary.failed_subs = self.checkpoint.failed_subs(_FAILED_SUBS_SHOWN)
        summary.elapsed = time.monotonic() - started
        summary.listed_this_run = self._listed_here
        summary.resumed_segments = self._resumed
        return summary


# --- the scheduled reconcile ---------------------------------------------------------------------


def reconcile_state_key(user_pool_id: str) -> str:
    """Reserved mirror key of a pool's reconcile progress ("#" never starts a sub)."""
    return f"#reconcile#{user_pool_id}"


_RUN_ID = re.compile(r"[0-9a-f]{1,32}")


def _progress_from_state(saved: str, segments: int) -> dict[str, Any]:
    """The reconcile progress in `saved`, checked field by field; ValueError when it is not one."""
    progress = json.loads(saved)
    if not isinstance(progress, dict) or set(progress) != {"run_id", "segments", "counters"}:
        raise ValueError("not a reconcile state object")
    run_id, saved_segments, counters = progress["run_id"], progress["segments"], progress["counters"]
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError("run_id is not a short hex string")
    prefixes = set(segment_prefixes(segments))
    if not isinstance(saved_segments, dict) or not set(saved_segments) <= prefixes:
        raise ValueError("segments are not prefixes of the configured segmentation")
    for value in saved_segments.values():
        if not (
            isinstance(value, list)
            and len(value) == 2
            and (value[0] is None or isinstance(value[0], str))
            and isinstance(value[1], bool)
        ):
            raise ValueError("a segment is not [token or null, done]")
    if not isinstance(counters, dict) or not all(
        name in COUNTERS and type(value) is int and value >= 0 for name, value in counters.items()
    ):
        raise ValueError("counters are not known names with non-negative integers")
    return progress


def _load_progress(key: str, segments: int) -> dict[str, Any] | None:
    """The saved progress ({} when there is none), or None when it was unreadable and is discarded."""
    try:
        saved = load_state(key)
        return _progress_from_state(saved, segments) if saved else {}
    except (MalformedStateError, ValueError, RecursionError) as exc:
        # Only the reason, never the stored text: it could hold anything.
        logger.warning("reconcile state unreadable: discarded, starting afresh", extra={"reason": str(exc)})
        return None


def _open_reconcile_checkpoint(path: str, identity: dict[str, Any]) -> tuple[Checkpoint, bool]:
    """The run's sqlite file and whether it was there (warm); an unusable leftover is replaced."""
    warm = os.path.exists(path)
    try:
        checkpoint = Checkpoint(path)
    except CheckpointError as exc:
        logger.warning("reconcile checkpoint unusable: replaced", extra={"reason": str(exc)})
        _remove_files(path)
        checkpoint, warm = Checkpoint(path), False
    try:
        checkpoint.bind(identity, imported_ok=True)
    except CheckpointError as exc:
        logger.warning("reconcile checkpoint unusable: replaced", extra={"reason": str(exc)})
        checkpoint.close(remove=True)
        checkpoint, warm = Checkpoint(path), False
        checkpoint.bind(identity, imported_ok=True)
    return checkpoint, warm


def _remove_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.remove(path + suffix)


def run_reconcile(
    options: Options, *, should_stop: Callable[[], bool], workdir: str = tempfile.gettempdir()
) -> Summary:
    """One invocation of the scheduled reconcile: repair, prune, and resume across invocations.

    The listed-sub set lives in sqlite under `workdir` (/tmp on Lambda). When the time budget runs
    out, the segment progress and counters are saved in the mirror under a reserved key, and the
    next invocation continues from them. A warm container still has the sqlite file of that run and
    can prune at the end; a cold one has only part of the listed set, so that run skips the prune
    (never prune on a partial listing) and the next full run does it. A stored state that cannot be
    read (not JSON, wrong types, another shape) is discarded: the run starts afresh and says so
    (`state_discarded`), instead of failing every invocation until the row expires.
    """
    key = reconcile_state_key(options.user_pool_id)
    loaded = _load_progress(key, options.segments)
    progress = loaded or {}
    run_id = str(progress.get("run_id") or f"{now_us():x}")
    path = os.path.join(workdir, f"mirror-reconcile-{run_id}.sqlite")
    checkpoint, warm = _open_reconcile_checkpoint(path, options.identity())
    try:
        if progress and not warm:
            checkpoint.import_progress(progress)
        summary = Engine(options, checkpoint, should_stop=should_stop).run()
        if summary.complete:
            save_state(key, None)
        else:
            save_state(key, json.dumps({"run_id": run_id, **checkpoint.export_progress()}))
    finally:
        checkpoint.close()
    summary.state_discarded = loaded is None
    if summary.complete:
        _remove_files(path)
    return summary
