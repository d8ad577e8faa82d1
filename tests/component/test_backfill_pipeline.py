"""The backfill's pipeline in a run: listing runs ahead of writes (its scheduling: tests/unit)."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest

from functions.common.backfill.checkpoint import Checkpoint
from functions.common.backfill.engine import Engine
from functions.common.backfill.options import Options, WriteMode
from models.table import MirrorTable
from models.user import UserSnapshot

# Its figures kept, as the CLI keeps them (none left waiting for another test's flush).
pytestmark = pytest.mark.usefixtures("engine_lags_kept")


def test_listing_does_not_wait_for_the_writes_of_earlier_pages(cognito: Any, ddb: Any) -> None:
    # Given one segment of three pages, and mirror writes that hang until the third page is listed
    for i in range(130):
        cognito.create_user(f"user{i:03d}", email=f"u{i}@example.com")
    options = Options(user_pool_id=cognito.id, write_mode=WriteMode.PUT, segments=1, workers=4)
    checkpoint = Checkpoint()
    checkpoint.bind(options.identity("mirror-test"))
    engine = Engine(options, checkpoint, sleep=lambda s: None)
    real_list = engine.lister.client.list_users
    calls: list[int] = []
    all_listed = threading.Event()
    waited_too_long: list[bool] = []

    def list_users(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            all_listed.set()
        return real_list(**kwargs)

    real_put = MirrorTable.put_snapshot

    def slow_put(table: MirrorTable, snapshot: UserSnapshot) -> Any:
        if not all_listed.wait(timeout=5):
            waited_too_long.append(True)
            all_listed.set()  # the listing was waiting on this write: let it go on
        return real_put(table, snapshot)

    engine.lister.client.list_users = list_users

    # When the backfill runs
    with mock.patch.object(MirrorTable, "put_snapshot", slow_put):
        summary = engine.run()
    checkpoint.close()

    # Then all three pages were listed while the first write still hung, and every user landed
    assert (summary.complete, summary.listed, summary.written) == (True, 130, 130)
    assert not any(waited_too_long)
