"""User change events across a crash of what carries the stream on the local stack.

The table's stream is read by serverless-offline-dynamodb-streams inside the mirror's
serverless-offline; it saves a per-shard checkpoint after each batch whose handler finished and
resumes after it on start. This kills that process (its whole group, SIGKILL) while guarded writes
continue, starts it again, and checks what a consumer of the bus sees (docs/EVENTS.md, Guarantees):
every change at least once, duplicates with the same `id`, each user's latest state recoverable by
`version`. A restart of DynamoDB Local itself is not tested here: in memory, it loses the table and
its stream altogether; file-backed, test_events_ddb_restart_local.py (docs/LOCAL.md).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from scripts.dynamodb_local import LocalServiceError
from scripts.event_relay import subscribe_queue
from scripts.ports import Ports
from scripts.stack import LocalStack
from scripts.stack_info import StackInfo
from tests.support.fixtures import reset_process_state
from tests.support.user_events import assert_consumer_view, tenant_snapshot

USERS = 8
WRITE_PAUSE_S = 0.05  # ~20 changes/s across USERS users, as the writer can on DynamoDB Local
BEFORE_S, DOWN_S, AFTER_S = 4.0, 3.0, 4.0
CATCH_UP_S = 120.0  # the first batch after the restart also starts userEvents' Python again


@dataclass
class Writes:
    """Changes the mirror accepted, per sub: every `version` in order, and the last tenant."""

    versions: dict[str, list[int]] = field(default_factory=dict)
    last_tenant: dict[str, str] = field(default_factory=dict)

    def expected(self) -> set[tuple[str, int]]:
        return {(sub, version) for sub, versions in self.versions.items() for version in versions}


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of this module's own: its serverless-offline is killed and started again."""
    local = LocalStack(
        ports=Ports.free(), stage="rtest", state_dir=tmp_path_factory.mktemp("restart"), say=print
    )
    try:
        local.start()
    except LocalServiceError as exc:
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    yield local
    local.stop()


@pytest.fixture
def mirror_writes_to(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackInfo]:
    """This process's guarded writes go to the stack's table."""
    assert local_stack.info is not None
    for name, value in local_stack.info.client_env().items():
        monkeypatch.setenv(name, value)
    reset_process_state()
    yield local_stack.info
    reset_process_state()


def write_changes(stop: threading.Event, writes: Writes) -> None:
    """Change `custom:tenant` of USERS users round-robin through the guarded write until `stop`."""
    from models.guard import WriteOutcome
    from models.table import mirror_table

    subs = [str(uuid.uuid4()) for _ in range(USERS)]
    number = 0
    while not stop.is_set():
        sub = subs[number % USERS]
        tenant = f"tenant-{number}"
        snapshot = tenant_snapshot(sub, tenant, source="restart-test")
        if mirror_table().put_snapshot(snapshot) is WriteOutcome.WRITTEN:
            writes.versions.setdefault(sub, []).append(snapshot.observed_at)
            writes.last_tenant[sub] = tenant
        number += 1
        stop.wait(WRITE_PAUSE_S)


class Observer:
    """A daemon thread that drains the observer's queue into `details` (arrival order)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.details: list[dict[str, Any]] = []
        self._sqs, self._queue_url = sqs, queue_url
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="observer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in answer.get("Messages", []):
                self.details.append(json.loads(message["Body"])["detail"])
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])

    def seen(self) -> set[tuple[str, int]]:
        return {(detail["sub"], int(detail["version"])) for detail in list(self.details)}

    def wait_for(self, expected: set[tuple[str, int]], timeout: float) -> None:
        """Until `expected` all arrived (bounded), then 3 s more for late duplicates; then stop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not expected <= self.seen():
            time.sleep(0.5)
        time.sleep(3.0)
        self._stopped.set()
        self._thread.join(timeout=5)


def late_arrivals(details: list[dict[str, Any]]) -> int:
    """Events that arrived after an event of the same user with a higher version."""
    highest: dict[str, int] = {}
    late = 0
    for detail in details:
        version = int(detail["version"])
        late += version < highest.get(detail["sub"], version)
        highest[detail["sub"]] = max(version, highest.get(detail["sub"], version))
    return late


def test_a_crash_of_the_stream_poller_loses_no_change_and_its_duplicates_share_their_id(
    local_stack: LocalStack, mirror_writes_to: StackInfo
) -> None:
    # Given a consumer queue subscribed to every event of the bus, and guarded writes going on
    info = mirror_writes_to
    sqs = info.client("sqs")
    queue_url = subscribe_queue(
        info.client("events"),
        sqs,
        bus=info.event_bus,
        rule=f"restart-observer-{uuid.uuid4().hex[:8]}",
        pattern={"source": ["cognito-attribute-mirror"]},
    )
    observer = Observer(sqs, queue_url)
    writes, stop = Writes(), threading.Event()
    writer = threading.Thread(target=write_changes, args=(stop, writes), name="writer")
    writer.start()
    try:
        time.sleep(BEFORE_S)
        # (the kill lands while events flow: the first ones have reached the consumer)
        first_events = time.monotonic() + CATCH_UP_S
        while not observer.details and time.monotonic() < first_events:
            time.sleep(0.2)
        # When the process that polls the stream is killed, stays down while writes go on, and is
        # started again
        restarted = time.monotonic()
        local_stack.restart_offline(down_s=DOWN_S)
        restart_s = time.monotonic() - restarted
        time.sleep(AFTER_S)
    finally:
        stop.set()
        writer.join()
    expected = writes.expected()
    observer.wait_for(expected, CATCH_UP_S)
    details = observer.details

    # Then every accepted change reached the consumer at least once
    seen = {(d["sub"], int(d["version"])) for d in details}
    ids = Counter(d["id"] for d in details)
    duplicates = sum(count - 1 for count in ids.values())
    print(
        f"\nchanges written {len(expected)}, events received {len(details)}, distinct {len(ids)},"
        f" duplicates {duplicates}, lost {len(expected - seen)}, behind a later version of their"
        f" user on arrival {late_arrivals(details)}; down {restart_s:.1f} s (killed, {DOWN_S:.0f} s"
        " down, started, routing)"
    )
    assert len(expected) > 100
    assert expected - seen == set()
    # And each duplicate is the same event (same id, same content), and keeping each user's highest
    # version gives the user's last write, whatever the arrival order
    assert_consumer_view(
        details,
        changes=len(expected),
        last_tenant=writes.last_tenant,
        last_version={sub: versions[-1] for sub, versions in writes.versions.items()},
    )
