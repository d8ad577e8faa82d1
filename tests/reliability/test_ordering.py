"""Ordering and idempotency of the one guarded write path, property-based (hypothesis on moto).

Several writers (triggers, sync, reconcile, backfill, read-through) deliver snapshots and
tombstones of a few users, with random observation times, duplicated and in any order
(at-least-once delivery). Whatever the interleaving:
- the stored row equals the newest delivered snapshot (on equal times, the first one to land);
- after a tombstone nothing brings the user back, except `revive_tombstone` with a snapshot
  newer than the tombstone (AdminGetUser saw the user after it was written), once;
- a repeated delivery never changes anything (SKIPPED).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from functions.common.observability import FRESHNESS_PATHS
from models.guard import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.pii_watch import PII_VALUES

# Every writer of the mirror (a snapshot's `source`).
WRITERS = FRESHNESS_PATHS
USERS = 2
BASE_US = 1_764_290_000_000_000


@dataclass(frozen=True)
class Delivery:
    user: int
    observed_at: int
    writer: str
    tombstone: bool
    variant: int

    def snapshot(self, sub: str) -> UserSnapshot:
        return UserSnapshot(
            sub=sub,
            username=f"user-{self.user}-v{self.variant}",
            attributes={
                "email": PII_VALUES[self.variant % len(PII_VALUES)],
                "custom:plan": f"plan-{self.variant}",
            },
            status="CONFIRMED" if self.variant % 3 else "FORCE_CHANGE_PASSWORD",
            enabled=self.variant % 4 != 0,
            observed_at=self.observed_at,
            source=self.writer,
        )


# Tombstones are rarer than snapshots, as in real life, but present in most runs.
deliveries = st.builds(
    Delivery,
    user=st.integers(0, USERS - 1),
    observed_at=st.integers(0, 12).map(lambda t: BASE_US + t),
    writer=st.sampled_from(WRITERS),
    tombstone=st.sampled_from([False] * 4 + [True]),
    variant=st.integers(0, 5),
)


@st.composite
def schedules(draw: Any) -> list[Delivery]:
    """Distinct events, then a delivery order with duplicates (indices drawn with repetition)."""
    events = draw(st.lists(deliveries, min_size=1, max_size=12))
    order = draw(st.lists(st.integers(0, len(events) - 1), min_size=1, max_size=24))
    return [events[i] for i in order]


class Model:
    """The contract, written independently of the implementation."""

    def __init__(self) -> None:
        self.rows: dict[int, Delivery] = {}

    def apply(self, d: Delivery) -> WriteOutcome:
        current = self.rows.get(d.user)
        if current is not None and current.tombstone:
            return WriteOutcome.SKIPPED
        if d.tombstone or current is None or current.observed_at < d.observed_at:
            self.rows[d.user] = d
            return WriteOutcome.WRITTEN
        return WriteOutcome.SKIPPED


def deliver(d: Delivery, subs: list[str]) -> WriteOutcome:
    sub = subs[d.user]
    if d.tombstone:
        return mirror_table().put_tombstone(sub, observed_at=d.observed_at, source=d.writer)
    return mirror_table().put_snapshot(d.snapshot(sub))


def assert_stored(sub: str, expected: Delivery | None) -> None:
    record = mirror_table().get_record(sub, consistent=True)
    if expected is None:
        assert record is None
        return
    assert record is not None
    if expected.tombstone:
        assert record.is_tombstone
        assert record.expires_at is not None
        return
    assert not record.is_tombstone
    stored = record.to_snapshot()
    want = expected.snapshot(sub)
    assert stored.same_state(want)
    assert (stored.observed_at, stored.source) == (want.observed_at, want.source)


def fresh_subs() -> list[str]:
    return [str(uuid.uuid4()) for _ in range(USERS)]


@given(schedule=schedules())
def test_any_interleaving_stores_the_newest_event_and_never_resurrects(schedule: list[Delivery]) -> None:
    # Given a fresh set of users and a model of the contract
    subs, model = fresh_subs(), Model()
    seen: set[Delivery] = set()
    event(f"deliveries={len(schedule)}")
    event(f"with tombstone={any(d.tombstone for d in schedule)}")
    # When every delivery goes through the guarded write path, in this order
    for d in schedule:
        outcome = deliver(d, subs)
        # Then each outcome is the contract's, and a repeated delivery is a no-op
        assert outcome is model.apply(d)
        if d in seen:
            event("duplicate delivery")
            assert outcome is WriteOutcome.SKIPPED
        seen.add(d)
    # Then each stored row is the contract's, checked against first principles too
    for user, sub in enumerate(subs):
        mine = [d for d in schedule if d.user == user]
        if any(d.tombstone for d in mine):
            event("resurrection attempted after tombstone")
            record = mirror_table().get_record(sub, consistent=True)
            assert record is not None and record.is_tombstone
        elif mine:
            newest = max(d.observed_at for d in mine)
            first_newest = next(d for d in mine if d.observed_at == newest)
            assert model.rows[user] == first_newest
        assert_stored(sub, model.rows.get(user))


@given(schedule=schedules(), data=st.data())
def test_the_final_state_does_not_depend_on_delivery_order(schedule: list[Delivery], data: Any) -> None:
    # Given the same deliveries in two different orders, to two twin sets of users
    reordered = data.draw(st.permutations(schedule), label="reordered")
    first, second = fresh_subs(), fresh_subs()
    # When both are delivered
    for d in schedule:
        deliver(d, first)
    for d in reordered:
        deliver(d, second)
    # Then both end in the same state (the winner among equal times may differ: compare times)
    for user in range(USERS):
        a, b = (
            mirror_table().get_record(first[user], consistent=True),
            mirror_table().get_record(second[user], consistent=True),
        )
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        assert a.is_tombstone == b.is_tombstone
        if a.is_tombstone:
            continue
        assert a.observed_at == b.observed_at
        newest = [d for d in schedule if d.user == user and d.observed_at == a.observed_at]
        if len({(d.variant, d.writer) for d in newest}) == 1:
            event("unique newest event: full state compared")
            x, y = a.to_snapshot(), b.to_snapshot()
            assert (x.username, x.attributes, x.status, x.enabled, x.source) == (
                y.username,
                y.attributes,
                y.status,
                y.enabled,
                y.source,
            )


def test_a_late_snapshot_of_every_writer_is_refused_after_a_tombstone() -> None:
    # Given a user deleted at t=5
    sub = str(uuid.uuid4())
    first = Delivery(0, BASE_US + 1, "post_confirmation", False, 1)
    assert mirror_table().put_snapshot(first.snapshot(sub)) is WriteOutcome.WRITTEN
    assert (
        mirror_table().put_tombstone(sub, observed_at=BASE_US + 5, source="attribute_sync")
        is WriteOutcome.WRITTEN
    )
    # When every writer delivers a later snapshot, and another tombstone arrives
    outcomes = [
        mirror_table().put_snapshot(Delivery(0, BASE_US + 10 + i, w, False, 2).snapshot(sub))
        for i, w in enumerate(WRITERS)
    ]
    again = mirror_table().put_tombstone(sub, observed_at=BASE_US + 99, source="reconcile")
    # Then nothing lands and the row stays the first tombstone
    assert set(outcomes) == {WriteOutcome.SKIPPED}
    assert again is WriteOutcome.SKIPPED
    record = mirror_table().get_record(sub, consistent=True)
    assert record is not None and record.is_tombstone and int(record.observed_at) == BASE_US + 5


def test_every_pair_of_writers_agrees_on_equal_times() -> None:
    # Given two writers observing the same user at the same microsecond
    for a, b in itertools.permutations(WRITERS, 2):
        sub = str(uuid.uuid4())
        # When both deliver
        one = mirror_table().put_snapshot(Delivery(0, BASE_US, a, False, 1).snapshot(sub))
        two = mirror_table().put_snapshot(Delivery(0, BASE_US, b, False, 2).snapshot(sub))
        # Then the first lands and the second is a no-op
        assert (one, two) == (WriteOutcome.WRITTEN, WriteOutcome.SKIPPED)
        assert_stored(sub, Delivery(0, BASE_US, a, False, 1))


@given(
    tombstone_at=st.integers(0, 12),
    late=st.lists(st.tuples(st.integers(0, 12), st.sampled_from(WRITERS)), min_size=1, max_size=6),
    revive_at=st.integers(0, 12),
)
def test_only_a_newer_confirmed_revive_leaves_a_tombstone(
    tombstone_at: int, late: list[tuple[int, str]], revive_at: int
) -> None:
    # Given a user mirrored, then tombstoned at some time
    sub = str(uuid.uuid4())
    mirror_table().put_snapshot(Delivery(0, BASE_US, "post_confirmation", False, 1).snapshot(sub))
    mirror_table().put_tombstone(sub, observed_at=BASE_US + tombstone_at, source="attribute_sync")
    # When ordinary late snapshots of any writer and time arrive
    outcomes = {
        mirror_table().put_snapshot(Delivery(0, BASE_US + t, w, False, 2).snapshot(sub)) for t, w in late
    }
    # Then none lands: the row stays the tombstone
    assert outcomes == {WriteOutcome.SKIPPED}
    assert mirror_table().get_record(sub, consistent=True).is_tombstone  # type: ignore[union-attr]
    # When the revive path runs with a confirmed snapshot, twice
    confirmed = Delivery(0, BASE_US + revive_at, "reconcile", False, 3).snapshot(sub)
    first, second = mirror_table().revive_tombstone(confirmed), mirror_table().revive_tombstone(confirmed)
    # Then it lands once, and only when it is newer than the tombstone; a revived row has no TTL
    newer = revive_at > tombstone_at
    event(f"revive newer than tombstone={newer}")
    assert (first, second) == (
        (WriteOutcome.WRITTEN if newer else WriteOutcome.SKIPPED),
        WriteOutcome.SKIPPED,
    )
    record = mirror_table().get_record(sub, consistent=True)
    assert record is not None and record.is_tombstone is not newer
    if newer:
        assert record.expires_at is None
        assert record.to_snapshot().same_state(confirmed)
