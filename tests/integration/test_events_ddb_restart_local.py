"""User change events across a crash of DynamoDB Local, the stream's own store.

A file-backed DynamoDB Local (`-dbPath`) holds the mirror table and its stream. A poller reads the
stream the way serverless-offline-dynamodb-streams does (DescribeStream, TRIM_HORIZON on a shard it
has no checkpoint for, else AFTER_SEQUENCE_NUMBER of the last record of the last batch whose handler
finished) and feeds each batch to `functions.user_events.handler`, whose PutEvents go to a stand-in.
Mid-way, with records written but not yet read, DynamoDB Local's process group is SIGKILLed and
started again on the same port and folder; the poller resumes from its checkpoint. What a consumer
of the bus relies on (docs/EVENTS.md, Guarantees) is checked: every change at least once,
duplicates with the same `id` and content, each user's latest state by `version`, no event without
a change. Writes are sequential and the poller runs between them, so the run is deterministic.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from scripts.dynamodb_local import DynamoDBLocal, start_dynamodb_local
from scripts.processes import kill_group
from scripts.table import create_table
from tests.support.fixtures import TABLE
from tests.support.loopback import free_port
from tests.support.user_events import (
    StubEvents,
    assert_consumer_view,
    configure_bus,
    run_handler,
    tenant_snapshot,
)

USERS = 6
WRITES_BEFORE, WRITES_UNPOLLED_AT_KILL, WRITES_AFTER = 36, 12, 36
POLL_EVERY = 4  # writes between two polls
BATCH_SIZE = 100  # the userEvents event source's batchSize (serverless.yml)


@dataclass
class StreamPoller:
    """One consumer of the table's stream, checkpointing per shard after each finished batch."""

    streams: Any
    stream_arn: str
    checkpoints: dict[str, str] = field(default_factory=dict)
    iterators: dict[str, str | None] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def poll(self) -> int:
        """One GetRecords per shard, each batch handled; the number of records handled.

        An error (the engine away) drops every iterator: the next poll opens them again from the
        checkpoints, as the plugin does on start.
        """
        handled = 0
        try:
            if not self.iterators:
                self._open_iterators()
            for shard_id, iterator in list(self.iterators.items()):
                if iterator is None:
                    continue  # a closed shard read to its end
                answer = self.streams.get_records(ShardIterator=iterator, Limit=BATCH_SIZE)
                records = answer["Records"]
                if records:
                    batch = {"Records": [lambda_record(r, self.stream_arn) for r in records]}
                    assert run_handler(batch) == {"batchItemFailures": []}
                    self.checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                    handled += len(records)
                self.iterators[shard_id] = answer.get("NextShardIterator")
        except (BotoCoreError, ClientError) as exc:
            code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else ""
            self.errors[f"{type(exc).__name__} {code}".strip()] += 1
            self.iterators.clear()
        return handled

    def resume(self) -> None:
        """Forget the iterators: the next poll opens them from the checkpoints (a poller's start)."""
        self.iterators.clear()

    def drain(self, timeout: float = 30.0) -> None:
        """Poll until two rounds in a row bring nothing and none failed."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 2:
            assert time.monotonic() < deadline, "the stream did not drain"
            errors = sum(self.errors.values())
            quiet = quiet + 1 if self.poll() == 0 and sum(self.errors.values()) == errors else 0
            time.sleep(0.1)

    def _open_iterators(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            where: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self.checkpoints:
                where = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self.checkpoints[shard_id],
                }
            self.iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, **where
            )["ShardIterator"]


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda delivers it (creation time in epoch seconds)."""
    dynamodb = dict(record["dynamodb"])
    dynamodb["ApproximateCreationDateTime"] = int(dynamodb["ApproximateCreationDateTime"].timestamp())
    return {**record, "awsRegion": "eu-west-1", "eventSourceARN": stream_arn, "dynamodb": dynamodb}


@dataclass
class Writer:
    """Guarded writes of USERS users; `changes` holds (sub, version, detail type) of real changes."""

    subs: list[str] = field(default_factory=lambda: [str(uuid.uuid4()) for _ in range(USERS)])
    changes: list[tuple[str, int, str]] = field(default_factory=list)
    last_version: dict[str, int] = field(default_factory=dict)
    last_tenant: dict[str, str] = field(default_factory=dict)
    sign_ins: int = 0
    number: int = 0

    def write(self, *, sign_ins: bool = True) -> None:
        """The next write: a tenant change, or every third one a sign-in (no change, no event)."""
        from models.guard import WriteOutcome
        from models.table import mirror_table

        sub, self.number = self.subs[self.number % USERS], self.number + 1
        sign_in = sign_ins and sub in self.last_tenant and self.number % 3 == 0
        tenant = self.last_tenant[sub] if sign_in else f"tenant-{self.number}"
        snapshot = tenant_snapshot(sub, tenant, source="ddb-restart-test")
        assert mirror_table().put_snapshot(snapshot) is WriteOutcome.WRITTEN
        if sign_in:
            self.sign_ins += 1
        else:
            kind = "User Updated" if sub in self.last_tenant else "User Created"
            self.changes.append((sub, snapshot.observed_at, kind))
            self.last_tenant[sub] = tenant
        self.last_version[sub] = snapshot.observed_at


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A file-backed DynamoDB Local on a free port; the holder lets the test replace the process."""
    port, folder = free_port(), tmp_path / "ddb"
    folder.mkdir()
    holder: dict[str, Any] = {"port": port, "db_path": folder}
    holder["service"] = start_dynamodb_local(port, db_path=folder)
    yield holder
    service: DynamoDBLocal = holder["service"]
    service.stop()


def test_a_crash_of_file_backed_dynamodb_local_keeps_the_stream_and_loses_no_change(
    engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the mirror table with its stream on a file-backed DynamoDB Local, guarded writes going to
    # it, and a poller handing the stream's batches to userEvents, whose PutEvents are recorded
    endpoint = engine["service"].endpoint
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
    monkeypatch.setenv("MIRROR_TABLE", TABLE)
    monkeypatch.setenv("MIRROR_DDB_READ_TIMEOUT", "10")
    bus = StubEvents()
    configure_bus(monkeypatch, bus)
    create_table(boto3.client("dynamodb", endpoint_url=endpoint), TABLE, stream=True)
    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    stream_arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    poller = StreamPoller(boto3.client("dynamodbstreams", endpoint_url=endpoint), stream_arn)
    writer = Writer()
    for number in range(WRITES_BEFORE):
        writer.write()
        if number % POLL_EVERY == POLL_EVERY - 1:
            poller.poll()
    for _ in range(WRITES_UNPOLLED_AT_KILL):
        writer.write()
    written_before_kill, published_before_kill = len(writer.changes), len(bus.accepted)

    # When DynamoDB Local is SIGKILLed with its process group and started again on the same folder,
    # the poller resuming from its checkpoint while writes go on, then draining the stream
    killed = time.monotonic()
    kill_group(engine["service"].process.pid)
    engine["service"].process.wait(timeout=5)
    engine["service"] = start_dynamodb_local(engine["port"], db_path=engine["db_path"])
    listening_s = time.monotonic() - killed
    arn_after = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    restart_s = time.monotonic() - killed
    poller.resume()
    for number in range(WRITES_AFTER):
        writer.write(sign_ins=number < WRITES_AFTER - USERS)  # each user's last write a change
        if number % POLL_EVERY == POLL_EVERY - 1:
            poller.poll()
    poller.drain()
    events = bus.events()
    details = [event["detail"] for event in events]

    # Then every change written before and after the restart was published at least once
    expected = {(sub, version, kind) for sub, version, kind in writer.changes}
    seen = {(e["detail"]["sub"], int(e["detail"]["version"]), e["detail-type"]) for e in events}
    ids = Counter(d["id"] for d in details)
    duplicates = sum(count - 1 for count in ids.values())
    print(
        f"\nchanges written {len(expected)} (+{writer.sign_ins} sign-ins, no change), "
        f"{written_before_kill} before the kill, {written_before_kill - published_before_kill} of them "
        "not yet read at the kill; "
        f"events {len(details)}, duplicates {duplicates}, lost {len(expected - seen)}, "
        f"without a change {len(seen - expected)}; restart {restart_s:.1f} s (kill to listening "
        f"{listening_s:.1f} s, then the table answering), poller errors {dict(poller.errors)}"
    )
    assert arn_after == stream_arn  # the same stream, found again in the folder
    assert written_before_kill > published_before_kill  # some were read only after the restart
    assert expected - seen == set()
    # And no event came without a real change
    assert seen - expected == set()
    # And duplicates are the same event, and each user's highest version is their last write
    assert_consumer_view(
        details, changes=len(expected), last_tenant=writer.last_tenant, last_version=writer.last_version
    )
