"""The backfill's scheduling, without AWS: writers never idle on a segment's turn while another
segment's page is ready, a segment's pages go in listing order, and the one rate limiter never lets
a one-second window see more than its rate (counted on a fake clock)."""

from __future__ import annotations

import random
import threading

import pytest

from functions.common.backfill.pipeline import ListedPage, PagePipeline
from functions.common.backfill.rate_limit import RateLimiter


def page(prefix: str, *, last: bool = False) -> ListedPage:
    next_token = None if last else "next"
    return ListedPage(prefix=prefix, snapshots=[], malformed=0, next_token=next_token, tally={})


def test_a_writer_takes_another_segments_page_while_a_segment_has_a_page_in_repair() -> None:
    # Given pages queued in listing order a0, a1, b0, and a writer repairing a0
    pipeline = PagePipeline(8, abandoned=lambda: False)
    a0, a1, b0 = page("a"), page("a"), page("b")
    for listed in (a0, a1, b0):
        assert pipeline.put(listed)
    assert pipeline.take() is a0

    # When a second writer asks for work
    taken = pipeline.take()

    # Then it gets b0 at once, instead of waiting for a0 to finish before a1 may go
    assert taken is b0


def test_a_segments_next_page_goes_only_once_its_previous_page_is_done() -> None:
    # Given a0 in repair and a1 waiting, the listing finished
    pipeline = PagePipeline(8, abandoned=lambda: False)
    a0, a1 = page("a"), page("a", last=True)
    pipeline.put(a0)
    pipeline.put(a1)
    pipeline.listing_finished()
    assert pipeline.take() is a0
    second: list[ListedPage | None] = []
    writer = threading.Thread(target=lambda: second.append(pipeline.take()))

    # When another writer asks while a0 is in repair, then a0 is done
    writer.start()
    writer.join(timeout=0.2)
    waited = writer.is_alive()
    pipeline.done(a0)
    writer.join(timeout=5)

    # Then a1 went only after a0, and nothing is left once it is done too
    assert waited is True
    assert second == [a1]
    pipeline.done(a1)
    assert pipeline.take() is None
    assert pipeline.all_done() is True


def test_a_full_pipeline_holds_the_listing_back_until_the_run_is_abandoned() -> None:
    # Given a pipeline of two pages that nobody takes from
    abandoned = threading.Event()
    pipeline = PagePipeline(2, abandoned=abandoned.is_set)
    assert pipeline.put(page("a")) and pipeline.put(page("b"))
    result: list[bool] = []

    # When a third page is put, and the run is abandoned while it waits
    putter = threading.Thread(target=lambda: result.append(pipeline.put(page("c"))))
    putter.start()
    putter.join(timeout=0.3)
    still_waiting = putter.is_alive()
    abandoned.set()
    putter.join(timeout=5)

    # Then it waited (memory stays bounded) and gave up without queueing the page
    assert still_waiting is True
    assert result == [False]


def test_taking_a_page_makes_room_for_the_listing() -> None:
    # Given a full pipeline of one page and a listing thread waiting to put another
    pipeline = PagePipeline(1, abandoned=lambda: False)
    pipeline.put(page("a"))
    result: list[bool] = []
    putter = threading.Thread(target=lambda: result.append(pipeline.put(page("b"))))
    putter.start()

    # When a writer takes the first page (still in repair)
    pipeline.take()
    putter.join(timeout=5)

    # Then the second page is queued: the bound counts waiting pages, not pages in repair
    assert result == [True]


def test_pages_still_waiting_are_dropped_when_the_run_is_abandoned() -> None:
    # Given two waiting pages, and the run stopped (Ctrl-C)
    stopped = threading.Event()
    pipeline = PagePipeline(4, abandoned=stopped.is_set)
    pipeline.put(page("a"))
    pipeline.put(page("b"))
    stopped.set()

    # When a writer asks for work, Then it gets none, and the run knows pages were not repaired
    assert pipeline.take() is None
    assert pipeline.all_done() is False


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("rate", [1, 5, 7, 20, 30])
def test_no_one_second_window_sees_more_calls_than_the_rate(rate: float) -> None:
    # Given the limiter on a fake clock, and 16 callers arriving at random moments over 20 s
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock)
    arrivals = sorted(random.Random(rate).uniform(0, 20) for _ in range(int(rate * 30)))
    calls: list[float] = []

    # When each caller reserves a slot as it arrives and calls once the wait is over
    for arrival in arrivals:
        clock.now = 1000.0 + arrival
        calls.append(clock.now + limiter.reserve())

    # Then every trailing one-second window holds at most `rate` calls, and none was lost
    calls.sort()
    busiest = max(sum(1 for t in calls[i:] if t < start + 1.0) for i, start in enumerate(calls))
    assert busiest <= rate
    assert len(calls) == len(arrivals)


def test_the_limiter_hands_out_the_full_rate_when_callers_keep_it_busy() -> None:
    # Given callers always waiting for a slot (more demand than the rate)
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock)

    # When 300 calls reserve at once
    calls = [clock.now + limiter.reserve() for _ in range(300)]

    # Then they span 10 s less one interval: the rate itself, no slot left unused
    assert calls[-1] - calls[0] == pytest.approx(299 / 30)
