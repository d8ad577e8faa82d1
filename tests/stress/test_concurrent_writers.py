"""Several writers at once on DynamoDB Local: nothing lost, nothing resurrected, nothing twice.

Writer threads (as triggers, sync, reconcile and backfill would) deliver shuffled, duplicated
snapshots and tombstones of many users at the same time, against Amazon's real DynamoDB Local.
Then, for every user: the row is the newest snapshot (or the tombstone), and every distinct event
landed at most once. Bounded: MIRROR_STRESS_ROUNDS rounds (default 5) of about 1,000 writes.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from models.guard import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot

ROUNDS = int(os.environ.get("MIRROR_STRESS_ROUNDS", "5"))
USERS, WRITERS = 60, 8
WRITER_NAMES = ("post_confirmation", "post_authentication", "attribute_sync", "reconcile", "backfill")


@dataclass(frozen=True)
class Event:
    sub: str
    observed_at: int
    tombstone: bool
    version: int


def plan(rng: random.Random) -> list[Event]:
    events: list[Event] = []
    for _ in range(USERS):
        sub = str(uuid.uuid4())
        times = rng.sample(range(1, 10_000), rng.randint(1, 8))  # distinct times per user
        events += [Event(sub, t, False, i) for i, t in enumerate(times)]
        if rng.random() < 0.3:
            events.append(Event(sub, rng.randint(1, 10_000), True, -1))
    return events


def deliver(event: Event, writer: str) -> WriteOutcome:
    if event.tombstone:
        return mirror_table().put_tombstone(event.sub, observed_at=event.observed_at, source=writer)
    return mirror_table().put_snapshot(
        UserSnapshot(
            sub=event.sub,
            username=f"u-{event.sub[:8]}",
            attributes={"custom:version": str(event.version)},
            status="CONFIRMED",
            enabled=True,
            observed_at=event.observed_at,
            source=writer,
        )
    )


def test_concurrent_duplicated_writers_keep_the_newest_state(local_mirror: str, record_property) -> None:
    totals: Counter[str] = Counter()
    for round_ in range(ROUNDS):
        # Given many users' events, each delivered one to three times, shuffled over the writers
        rng = random.Random(round_)
        events = plan(rng)
        deliveries = [e for e in events for _ in range(rng.randint(1, 3))]
        rng.shuffle(deliveries)
        shares = [deliveries[i::WRITERS] for i in range(WRITERS)]

        def run(share: list[Event], writer: str) -> list[tuple[Event, WriteOutcome]]:
            return [(e, deliver(e, writer)) for e in share]

        # When the writers deliver them all at the same time
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            futures = [
                pool.submit(run, share, WRITER_NAMES[i % len(WRITER_NAMES)]) for i, share in enumerate(shares)
            ]
            results = [pair for f in futures for pair in f.result()]

        # Then every distinct event landed at most once, and one tombstone per deleted user
        landed = Counter(e for e, outcome in results if outcome is WriteOutcome.WRITTEN)
        assert max(landed.values()) == 1
        tombstoned = {e.sub for e in events if e.tombstone}
        assert sum(1 for e in landed if e.tombstone) == len(tombstoned)
        # Then each row is the tombstone, or the newest snapshot
        for sub in {e.sub for e in events}:
            record = mirror_table().get_record(sub, consistent=True)
            assert record is not None
            if sub in tombstoned:
                assert record.is_tombstone
                continue
            newest = max((e for e in events if e.sub == sub), key=lambda e: e.observed_at)
            assert not record.is_tombstone
            assert int(record.observed_at) == newest.observed_at
            assert record.to_snapshot().attributes == {"custom:version": str(newest.version)}
        totals["users"] += len({e.sub for e in events})
        totals["events"] += len(events)
        totals["deliveries"] += len(deliveries)
        totals["written"] += sum(landed.values())
        totals["skipped"] += len(results) - sum(landed.values())
    for key, value in totals.items():
        record_property(key, value)
    print(f"\nconcurrent writers: {dict(totals)} over {ROUNDS} rounds, {WRITERS} threads")
