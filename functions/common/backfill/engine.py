"""One backfill or reconcile run over one pool: list, compare and write, then check the mirror.

Listing threads page through the segments (`listing`) and put each page on a bounded pipeline
(`pipeline`); writer threads compare it with the mirror, repair it (`compare`) and commit it to the
checkpoint (`checkpoint`). Unless --no-groups, the pool's memberships are listed beside the users
(`membership`, under the same rate limiter) and writers wait for them before their first page, so
every page is compared and written with its users' groups. Only after every segment completed
does the mirror scan look for orphans and misindexed rows (`mirror_scan`): never prune on a
partial listing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from functions.common.backfill.checkpoint import Checkpoint
from functions.common.backfill.compare import PageRepairer
from functions.common.backfill.confirm import UserConfirmer
from functions.common.backfill.errors import CREDENTIAL_CODES, EngineError, credentials_error
from functions.common.backfill.listing import SegmentLister, segment_prefixes
from functions.common.backfill.membership import MembershipLister, Memberships
from functions.common.backfill.mirror_scan import MirrorScanner
from functions.common.backfill.options import Mode, Options
from functions.common.backfill.pipeline import ListedPage, PagePipeline
from functions.common.backfill.rate_limit import RateLimiter
from functions.common.backfill.summary import Summary, new_tally
from functions.common.observability import logger
from models.errors import DependencyUnavailableError, TableUnavailableError, error_code
from models.settings import Settings, get_settings
from models.table import MirrorTable, table_for_settings
from models.user import now_us

_FAILED_SUBS_SHOWN = 100
_PAGES_QUEUED_PER_WRITER = 2


class Engine:
    """One run over one pool. `should_stop` is polled between pages (Ctrl-C, Lambda deadline).

    `settings` are the run's (an admin CLI's, built from its arguments; the process's by default,
    for the reconcile Lambda): region, AWS profile, allowlist, Cognito bounds. `table` is the mirror
    (the settings' by default); the run shares one connection pool among its threads."""

    def __init__(
        self,
        options: Options,
        checkpoint: Checkpoint,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        on_page: Callable[[int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        table: MirrorTable | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.options = options
        self.settings = settings or get_settings()
        self.table = (table or table_for_settings(self.settings)).with_pool_size(options.workers + 2)
        self.checkpoint = checkpoint
        self._should_stop = should_stop
        self._on_page = on_page
        self._fatal = threading.Event()
        limiter = RateLimiter(options.max_rps)  # one for every Cognito call of the run
        self.confirmer = UserConfirmer(options, limiter, self.settings, sleep=sleep)
        self.lister = SegmentLister(options, limiter, self.settings, sleep=sleep, on_fatal=self._fatal.set)
        self.repairer = PageRepairer(options, self.confirmer, self.table)
        self.scanner = MirrorScanner(options, checkpoint, self.confirmer, self.table, stopping=self.stopping)
        self._listed_here = 0
        self._resumed = 0
        self._progress_lock = threading.Lock()

    def stopping(self) -> bool:
        return self._fatal.is_set() or self._should_stop()

    # --- listing and repair ----------------------------------------------------------------------

    def _list_and_repair(self, prefixes: list[str], table_ready: Future[None]) -> bool:
        """List every segment and repair each page; True when every page of every segment was.
        Writers start once `table_ready` (the preflight) succeeded and the memberships are listed:
        listing does not wait for either."""
        writers = max(1, self.options.workers)
        pipeline = PagePipeline(writers * _PAGES_QUEUED_PER_WRITER, abandoned=self.stopping)
        with ThreadPoolExecutor(max_workers=writers + 1, thread_name_prefix="backfill-write") as pool:
            groups = pool.submit(self._list_memberships) if self.options.groups else None
            repairs = [pool.submit(self._repair_pages, pipeline, table_ready, groups) for _ in range(writers)]
            try:
                listed = self._parallel(
                    lambda prefix: self._list_segment(prefix, pipeline), prefixes, self.options.workers
                )
            finally:
                pipeline.listing_finished()
            for repair in repairs:
                repair.result()  # re-raises a writer's error
        return listed and pipeline.all_done()

    def _list_segment(self, prefix: str, pipeline: PagePipeline) -> bool:
        """List one segment to its end (True), or stop early (False); pages go to the writers."""
        token, done = self.checkpoint.segment(prefix)
        if token or done:
            with self._progress_lock:
                self._resumed += 1
        while not done:
            if self.stopping():
                return False
            tally = new_tally()
            observed = now_us()  # before the call: the snapshot is at least this fresh
            page = self.lister.list_page(prefix, token, tally)
            snapshots, malformed = self.lister.snapshots(page.get("Users", []), observed)
            token = page.get("PaginationToken") or None
            if not pipeline.put(ListedPage(prefix, snapshots, malformed, token, tally)):
                return False
            done = token is None
        return True

    def _list_memberships(self) -> Memberships | None:
        """The pool's memberships (None: the run stopped first); their counters are committed."""
        try:
            lister = MembershipLister(self.lister, workers=self.options.workers, stopping=self.stopping)
            memberships = lister.run()
            self.checkpoint.add_counters("#groups", lister.tally)
        except BaseException:
            self._fatal.set()
            raise
        return memberships

    def _repair_pages(
        self, pipeline: PagePipeline, table_ready: Future[None], groups: Future[Memberships | None] | None
    ) -> None:
        try:
            table_ready.result()  # re-raises the preflight's error: nothing is read or written
            memberships = groups.result() if groups is not None else None
            if groups is not None and memberships is None:
                return  # stopped while listing the memberships: no page is repaired
            while (page := pipeline.take()) is not None:
                self._repair_page(page, memberships)
                pipeline.done(page)
        except BaseException:
            self._fatal.set()  # let the listing stop at its next page
            raise

    def _repair_page(self, page: ListedPage, memberships: Memberships | None) -> None:
        """Repair a page, then commit it: where the segment resumes, its subs, its counters."""
        tally = page.tally
        tally["listed"] += len(page.snapshots) + page.malformed
        tally["failed"] += page.malformed
        failed = self.repairer.repair(page.snapshots, tally, memberships)
        subs = [s.sub for s in page.snapshots]
        self.checkpoint.commit_page(page.prefix, page.next_token, subs, tally, failed)
        with self._progress_lock:
            self._listed_here += tally["listed"]
        if self._on_page is not None:
            self._on_page(tally["listed"])

    # --- the run ---------------------------------------------------------------------------------

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
            self.table.get_record("#preflight")  # no such row: the table answering is all it asks
        except TableUnavailableError as exc:
            if exc.__cause__ is not None and error_code(exc.__cause__) in CREDENTIAL_CODES:
                raise credentials_error(error_code(exc.__cause__)) from exc
            raise EngineError(f"mirror table {self.table.name!r} is not usable: {exc}") from exc

    def _needs_scan(self) -> bool:
        return self.options.prune or self.options.checks_index or self.options.mode is not Mode.FILL

    def _start_preflight(self) -> Future[None]:
        """The preflight on its own thread: the table's client (its botocore session)
        warms up while the listing starts, instead of before it (a fixed cost of every run)."""
        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-preflight")
        try:
            return starter.submit(self.preflight)
        finally:
            starter.shutdown(wait=False)

    def run(self) -> Summary:
        started = time.monotonic()
        table_ready = self._start_preflight()
        try:
            # Create the clients before the threads (each is created once).
            self.lister.client  # noqa: B018
            if self.options.prune:
                self.confirmer.client  # noqa: B018
        except Exception:
            table_ready.result()  # the preflight names a credentials problem in one line
            raise
        summary = Summary(mode=self.options.mode)
        try:
            try:
                listed = self._list_and_repair(segment_prefixes(self.options.segments), table_ready)
            except EngineError:
                table_ready.result()  # a table or credentials problem is the one to report first
                raise
            if listed and self.checkpoint.flag("partial_listing"):
                summary.prune_skipped = "the listing was resumed from saved progress: its sub set is partial"
            elif listed and self._needs_scan():
                scans = list(range(self.options.scan_segments))
                listed = self._parallel(self.scanner.scan_segment, scans, self.options.scan_segments)
            elif not listed and self.options.prune:
                summary.prune_skipped = "the listing did not complete"
            summary.complete = listed
        except DependencyUnavailableError as exc:
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
