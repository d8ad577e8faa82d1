"""The bounded pipeline between listing and writing, so listing never waits on writes.

Listing threads put each page on a bounded queue (memory stays flat: at most `capacity` pages wait)
and writer threads take them. Segments are repaired in parallel, but the pages of one segment in
listing order, one at a time (`wait_turn`, `done`): a segment's saved token never moves past a page
whose users were not repaired, and a stop (Ctrl-C, the Lambda deadline) leaves every page either
repaired and committed or untouched, to be listed again on resume.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from functions.common.backfill.summary import Tally
from models.user import UserSnapshot

_POLL_S = 0.05  # how often a blocked thread looks whether the run was abandoned


@dataclass
class ListedPage:
    prefix: str
    number: int  # position in this run's listing of the segment, from 0
    snapshots: list[UserSnapshot]
    malformed: int
    next_token: str | None
    tally: Tally


class PagePipeline:
    def __init__(self, capacity: int, *, abandoned: Callable[[], bool]) -> None:
        self._queue: queue.Queue[ListedPage] = queue.Queue(maxsize=capacity)
        self._abandoned = abandoned
        self._listing_done = threading.Event()
        self._done: defaultdict[str, int] = defaultdict(int)  # pages of each segment done
        self._turn = threading.Condition()
        self._queued = 0
        self._finished = 0

    def put(self, page: ListedPage) -> bool:
        """Queue a page, waiting while the queue is full; False when the run was abandoned."""
        while True:
            try:
                self._queue.put(page, timeout=_POLL_S)
            except queue.Full:
                if self._abandoned():
                    return False
            else:
                with self._turn:
                    self._queued += 1
                return True

    def listing_finished(self) -> None:
        self._listing_done.set()

    def pages(self) -> Iterator[ListedPage]:
        """Pages as they come, until the listing finished and the queue is empty (or abandoned)."""
        while not self._abandoned():
            try:
                yield self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._listing_done.is_set() and self._queue.empty():
                    return

    def wait_turn(self, page: ListedPage) -> bool:
        """Wait until the segment's earlier pages are done; False when the run stops or was abandoned
        first (the page is then dropped: not repaired, not committed)."""
        with self._turn:
            while not self._abandoned():
                if self._done[page.prefix] == page.number:
                    return True
                self._turn.wait(_POLL_S)
            return False

    def done(self, page: ListedPage) -> None:
        """The page is repaired and committed: the segment's next page may go."""
        with self._turn:
            self._done[page.prefix] = page.number + 1
            self._finished += 1
            self._turn.notify_all()

    def all_done(self) -> bool:
        """Every queued page was repaired and committed (none dropped)."""
        with self._turn:
            return self._finished == self._queued
