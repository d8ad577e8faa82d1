"""The scheduled reconcile's progress across invocations, kept in the engine's state table.

When the Lambda's time runs out, the segment progress and counters are saved in the state table; the
next invocation validates them field by field and continues. The listed-sub set lives in a sqlite
checkpoint under the work folder (/tmp on Lambda), so only a warm container can prune at the end.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any

from functions.common.backfill.checkpoint import Checkpoint, remove_checkpoint_files
from functions.common.backfill.engine import Engine
from functions.common.backfill.errors import CheckpointError
from functions.common.backfill.listing import segment_prefixes
from functions.common.backfill.options import Options
from functions.common.backfill.summary import COUNTERS, Summary
from functions.common.observability import logger
from models.errors import MalformedStateError
from models.settings import Settings, get_settings
from models.state import StateTable, state_table_for_settings
from models.user import now_us


def reconcile_state_key(user_pool_id: str) -> str:
    """The state table's key of a pool's reconcile progress."""
    return f"reconcile#{user_pool_id}"


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


def _load_progress(state: StateTable, key: str, segments: int) -> dict[str, Any] | None:
    """The saved progress ({} when there is none), or None when it was unreadable and is discarded."""
    try:
        saved = state.load(key)
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
        remove_checkpoint_files(path)
        checkpoint, warm = Checkpoint(path), False
    try:
        checkpoint.bind(identity, imported_ok=True)
    except CheckpointError as exc:
        logger.warning("reconcile checkpoint unusable: replaced", extra={"reason": str(exc)})
        checkpoint.close(remove=True)
        checkpoint, warm = Checkpoint(path), False
        checkpoint.bind(identity, imported_ok=True)
    return checkpoint, warm


def run_reconcile(
    options: Options,
    *,
    should_stop: Callable[[], bool],
    workdir: str = tempfile.gettempdir(),
    settings: Settings | None = None,
) -> Summary:
    """One invocation of the scheduled reconcile: repair, prune, and resume across invocations.

    The listed-sub set lives in sqlite under `workdir` (/tmp on Lambda). When the time budget runs
    out, the segment progress and counters are saved in the state table, and the next invocation
    continues from them. A warm container still has the sqlite file of that run and
    can prune at the end; a cold one has only part of the listed set, so that run skips the prune
    (never prune on a partial listing) and the next full run does it. A stored state that cannot be
    read (not JSON, wrong types, another shape) is discarded: the run starts afresh and says so
    (`state_discarded`), instead of failing every invocation until the row expires. `settings`
    name the tables and clients (the process's by default).
    """
    settings = settings or get_settings()
    state = state_table_for_settings(settings)
    key = reconcile_state_key(options.user_pool_id)
    loaded = _load_progress(state, key, options.segments)
    progress = loaded or {}
    run_id = str(progress.get("run_id") or f"{now_us():x}")
    path = os.path.join(workdir, f"mirror-reconcile-{run_id}.sqlite")
    checkpoint, warm = _open_reconcile_checkpoint(path, options.identity(settings.table_name))
    try:
        if progress and not warm:
            checkpoint.import_progress(progress)
        summary = Engine(options, checkpoint, should_stop=should_stop, settings=settings).run()
        if summary.complete:
            state.save(key, None)
        else:
            state.save(key, json.dumps({"run_id": run_id, **checkpoint.export_progress()}))
    finally:
        checkpoint.close()
    summary.state_discarded = loaded is None
    if summary.complete:
        remove_checkpoint_files(path)
    return summary
