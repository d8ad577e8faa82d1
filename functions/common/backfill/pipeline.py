"""The bounded pipeline between listing and writing, so listing never waits on writes.

Listing threads put each page in (memory stays flat: at most `capacity` pages wait) and writer
threads take them. Segments are repaired in parallel, but the pages of one segment in listing order,
one at a time: a writer takes the oldest waiting page of a segment that has no page in repair, so no
writer waits on a segment's earlier page while another segment's page is ready, and a segment's saved
token never moves past a page whose users were not repaired. A stop (Ctrl-C, the Lambda deadline)
leaves every page either repaired and committed or untouched, to be listed again on resume.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from functions.common.backfill.summary import Tally
from models.user import UserSnapshot

_POLL_S = 0.05  # how often a blocked thread looks whether the run was abandoned


@dataclass
class ListedPage:
    prefix: str
    snapshots: list[UserSnapshot]
    malformed: int
    next_token: str | None
    tally: Tally


class PagePipeline:
    def __init__(self, capacity: int, *, abandoned: Callable[[], bool]) -> None:
        self._capacity = capacity
        self._abandoned = abandoned
        lock = threading.Lock()
        self._room = threading.Condition(lock)  # a listing thread may put a page
        self._work = threading.Condition(lock)  # a writer may take a page
        self._waiting: dict[str, deque[ListedPage]] = {}  # per segment, in listing order
        self._ready: deque[str] = deque()  # segments with a waiting page and none in repair
        self._in_repair: set[str] = set()
        self._held = 0  # pages put and not yet taken
        self._listing_done = False
        self._queued = 0
        self._finished = 0

    def put(self, page: ListedPage) -> bool:
        """Queue a page (a segment's pages in listing order), waiting while `capacity` pages wait;
        False when the run was abandoned meanwhile."""
        with self._room:
            while self._held >= self._capacity:
                if self._abandoned():
                    return False
                self._room.wait(_POLL_S)
            pages = self._waiting.setdefault(page.prefix, deque())
            pages.append(page)
            if len(pages) == 1 and page.prefix not in self._in_repair:
                self._ready.append(page.prefix)
                self._work.notify()
            self._held += 1
            self._queued += 1
            return True

    def listing_finished(self) -> None:
        with self._work:
            self._listing_done = True
            self._work.notify_all()

    def take(self) -> ListedPage | None:
        """The next page to repair: the oldest of the first segment with no page in repair. Waits
        while there is none; None once the listing finished and nothing waits, or the run was
        abandoned (the pages still waiting are dropped: not repaired, not committed)."""
        with self._work:
            while not self._abandoned():
                if self._ready:
                    prefix = self._ready.popleft()
                    pages = self._waiting[prefix]
                    page = pages.popleft()
                    if not pages:
                        del self._waiting[prefix]
                    self._in_repair.add(prefix)
                    self._held -= 1
                    self._room.notify()
                    return page
                if self._listing_done and self._held == 0:
                    self._work.notify_all()  # the other writers are done too
                    return None
                self._work.wait(_POLL_S)
            return None

    def done(self, page: ListedPage) -> None:
        """The page is repaired and committed: the segment's next page may go."""
        with self._work:
            self._in_repair.discard(page.prefix)
            if page.prefix in self._waiting:
                self._ready.append(page.prefix)
                self._work.notify()
            self._finished += 1

    def all_done(self) -> bool:
        """Every queued page was repaired and committed (none dropped)."""
        with self._work:
            return self._finished == self._queued
