"""The backfill's bounded pipeline: listing runs ahead of writes, memory stays bounded."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

from functions.common.backfill.checkpoint import Checkpoint
from functions.common.backfill.engine import Engine
from functions.common.backfill.options import Options, WriteMode
from functions.common.backfill.pipeline import ListedPage, PagePipeline
from models.table import MirrorTable
from models.user import UserSnapshot


def page(number: int) -> ListedPage:
    return ListedPage(prefix="a", number=number, snapshots=[], malformed=0, next_token="t", tally={})


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


def test_a_full_queue_holds_the_listing_back_until_the_run_is_abandoned() -> None:
    # Given a pipeline of two pages that nobody takes from
    abandoned = threading.Event()
    pipeline = PagePipeline(2, abandoned=abandoned.is_set)
    assert pipeline.put(page(0)) and pipeline.put(page(1))
    result: list[bool] = []

    # When a third page is put, and the run is abandoned while it waits
    putter = threading.Thread(target=lambda: result.append(pipeline.put(page(2))))
    putter.start()
    putter.join(timeout=0.3)
    still_waiting = putter.is_alive()
    abandoned.set()
    putter.join(timeout=5)

    # Then it waited (memory stays bounded) and gave up without queueing the page
    assert still_waiting is True
    assert result == [False]


def test_a_segment_page_waits_for_its_predecessor() -> None:
    # Given a pipeline where page 0 of a segment is not done yet
    pipeline = PagePipeline(4, abandoned=lambda: False)
    turns: list[int] = []

    # When page 1 asks for its turn, then page 0 is done
    waiter = threading.Thread(target=lambda: turns.append(1) if pipeline.wait_turn(page(1)) else None)
    waiter.start()
    waiter.join(timeout=0.2)
    assert pipeline.wait_turn(page(0)) is True
    turns.append(0)
    pipeline.done(page(0))
    waiter.join(timeout=5)

    # Then page 1 went only after page 0
    assert turns == [0, 1]
