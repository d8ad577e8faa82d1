"""`python -m functions.backfill`: fill, verify and repair the mirror at Cognito's speed limit.

Exit codes: 0 done, 1 some users failed or the run did not complete, 2 usage error,
3 drift found (--verify), 4 cannot run (bad pool, table, credentials, checkpoint), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TextIO

from functions.common.admin_cli import EXIT_CANNOT_RUN, add_aws_arguments, admin_settings, require_table

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_DRIFT = 3
EXIT_INTERRUPTED = 130
DEFAULT_MAX_RPS = 20.0  # of ListUsers' 30 RPS account quota, which the application shares
ACCOUNT_RPS = 30.0
PROGRESS_INTERVAL_S = 0.5
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")  # what botocore accepts


def _positive_rps(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from exc
    if not 0 < value <= ACCOUNT_RPS:
        raise argparse.ArgumentTypeError(f"must be in (0, {ACCOUNT_RPS:.0f}], got {raw}")
    return value


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {raw!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {raw}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m functions.backfill",
        description="Fill, verify and repair the Cognito mirror table from the user pool (ListUsers).",
        epilog="Exit codes: 0 done, 1 some users failed or incomplete, 2 usage, 3 drift (--verify), "
        "4 bad pool/table/credentials/checkpoint, 130 interrupted (resume with the same --checkpoint).",
    )
    parser.add_argument("--user-pool-id", default=os.environ.get("USER_POOL_ID"), help="(env USER_POOL_ID)")
    add_aws_arguments(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="read both sides, write nothing, report")
    mode.add_argument("--verify", action="store_true", help="drift report only; exit 3 when drift is found")
    parser.add_argument(
        "--prune",
        action="store_true",
        help="tombstone rows whose user left the pool (confirmed with AdminGetUser; needs a full listing)",
    )
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="after the fill, rewrite user-directory index keys that do not match "
        "MIRROR_INDEXED_ATTRIBUTES (a Scan of the mirror)",
    )
    parser.add_argument(
        "--no-groups",
        action="store_true",
        help="leave the rows' group membership as it is (no ListGroups/ListUsersInGroup): "
        "for pools that use no groups",
    )
    parser.add_argument(
        "--segments", type=int, choices=(1, 16, 256), default=16, help="sub-prefix partitions (default 16)"
    )
    parser.add_argument(
        "--max-rps",
        type=_positive_rps,
        default=DEFAULT_MAX_RPS,
        help=f"ListUsers calls per second across all segments (default {DEFAULT_MAX_RPS:.0f}; quota 30)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=16,
        help="listing threads, and as many writer threads (default 16)",
    )
    parser.add_argument(
        "--write-mode",
        choices=("partiql", "put"),
        default="partiql",
        help="partiql: BatchExecuteStatement, 25 conditional writes a call (default); put: one write each",
    )
    parser.add_argument(
        "--checkpoint", metavar="FILE", help="sqlite progress file: resume after Ctrl-C/crash"
    )
    parser.add_argument("--json", action="store_true", help="one JSON summary object on stdout")
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.user_pool_id:
        parser.error("--user-pool-id is required (or set USER_POOL_ID)")
    require_table(parser, args)
    if args.verify and args.prune:
        parser.error("--verify reports only; it cannot be combined with --prune")
    if args.reindex and (args.verify or args.dry_run):
        parser.error("--reindex writes; it cannot be combined with --verify or --dry-run")
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        parser.error("no region: pass --region or set AWS_REGION")
    if not _REGION.fullmatch(region):
        parser.error(f"not a region name: {region!r}")
    args.region = region
    return args


class _Progress:
    """One line on stderr, redrawn at most twice a second, when it is a terminal; nothing otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream if stream.isatty() else None
        self._lock = threading.Lock()
        self._listed = 0
        self._started = self._shown = time.monotonic()

    def __call__(self, users: int) -> None:
        if self._stream is None:
            return
        with self._lock:
            self._listed += users
            if time.monotonic() - self._shown >= PROGRESS_INTERVAL_S:
                self._show()

    def _show(self) -> None:
        assert self._stream is not None
        self._shown = time.monotonic()
        rate = self._listed / max(self._shown - self._started, 1e-3)
        self._stream.write(f"\rlisted {self._listed} users ({rate:.0f}/s)")
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            with self._lock:
                self._show()
                self._stream.write("\n")
                self._stream.flush()


def _render(summary: dict[str, Any]) -> str:
    lines = [
        f"mode {summary['mode']}: {'complete' if summary['complete'] else 'NOT complete'}"
        + (" (interrupted; resume with the same --checkpoint)" if summary["interrupted"] else ""),
        "listed {listed}  written {written}  unchanged {unchanged}  skipped (mirror newer) {skipped}  "
        "revived {revived}  pruned {pruned}  failed {failed}".format(**summary),
        "drift: missing {missing}  stale {stale}  orphaned {orphaned}  tombstoned {tombstoned}  "
        "misindexed {misindexed}  groups unknown {groups_unknown}  groups stale {groups_stale}   "
        "throttles {throttles}".format(**summary),
        "elapsed {elapsed_s:.1f} s  {users_per_s:.1f} users/s".format(**summary),
    ]
    if summary["freshness"]["count"]:
        lines.append(
            "freshness (listed -> landed): p50 {p50_ms} ms  p99 {p99_ms} ms  max {max_ms} ms "
            "over {count} writes".format(**summary["freshness"])
        )
    if summary["groups_written"] or summary["group_calls"]:
        lines.append("groups written {groups_written}  membership calls {group_calls}".format(**summary))
    if summary["reindexed"]:
        lines.append(f"reindexed {summary['reindexed']}")
    if summary["prune_skipped"]:
        lines.append(f"prune skipped: {summary['prune_skipped']}")
    if summary["failed_subs"]:
        lines.append("failed subs: " + " ".join(summary["failed_subs"]))
    return "\n".join(lines)


def _exit_code(summary: Any, verify: bool) -> int:
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.failed or not summary.complete:
        return EXIT_FAILED
    if verify and summary.drift:
        return EXIT_DRIFT
    return EXIT_OK


def main(
    argv: Sequence[str] | None = None,
    *,
    stop: threading.Event | None = None,
    on_page: Callable[[int], None] | None = None,
) -> int:
    """Run the backfill command; `stop` ends it after the current pages, `on_page` sees each page's
    user count as it is listed (besides the progress bar)."""
    args = _parse(argv)

    from functions.common.observability import logger

    # stdout carries the summary (--json); diagnostics go to stderr while the command runs.
    handler = logger.registered_handler
    stream = handler.setStream(sys.stderr) if isinstance(handler, logging.StreamHandler) else None
    try:
        return _run(args, stop or threading.Event(), on_page)
    finally:
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def _run(args: argparse.Namespace, stop: threading.Event, on_page: Callable[[int], None] | None) -> int:
    from functions.common.backfill.checkpoint import Checkpoint
    from functions.common.backfill.engine import Engine
    from functions.common.backfill.errors import EngineError
    from functions.common.backfill.options import Mode, Options, WriteMode
    from functions.common.observability import lag_summary, mirror_freshness
    from models.settings import BULK_DYNAMODB, ConfigurationError

    options = Options(
        user_pool_id=args.user_pool_id,
        mode=Mode.VERIFY if args.verify else Mode.DRY_RUN if args.dry_run else Mode.FILL,
        prune=args.prune,
        reindex=args.reindex,
        segments=args.segments,
        max_rps=args.max_rps,
        workers=args.workers,
        write_mode=WriteMode(args.write_mode),
        groups=not args.no_groups,
    )

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop.set()
        print("stopping after the current pages (Ctrl-C again to abort)...", file=sys.stderr)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main_thread else None
    progress = _Progress(sys.stderr)

    def page_listed(users: int) -> None:
        progress(users)
        if on_page is not None:
            on_page(users)

    checkpoint: Checkpoint | None = None
    try:
        # Bulk jobs can wait longer for DynamoDB than a trigger (MIRROR_DDB_* still win).
        settings = admin_settings(args, user_pool_id=args.user_pool_id, dynamodb=BULK_DYNAMODB)
        checkpoint = Checkpoint(args.checkpoint)
        checkpoint.bind(options.identity(settings.table_name))
        engine = Engine(options, checkpoint, should_stop=stop.is_set, on_page=page_listed, settings=settings)
        # Not a Lambda: no log group takes EMF here, so the freshness goes into the summary.
        with mirror_freshness.kept() as freshness:
            summary = engine.run()
    except (EngineError, ConfigurationError) as exc:
        if checkpoint is not None:
            checkpoint.close()
        print(f"backfill: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    finally:
        progress.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    # A finished run needs no checkpoint (a re-run lists afresh and retries failed users);
    # an unfinished one keeps it for the resume.
    checkpoint.close(remove=summary.complete)
    result = summary.as_dict()
    result["freshness"] = lag_summary(freshness.get(options.source, []))
    print(json.dumps(result, sort_keys=True) if args.json else _render(result))
    return _exit_code(summary, args.verify)
