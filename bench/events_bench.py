"""User change events benchmark: the stream handler's throughput on batches of 100 real changes.

    python -m bench.events_bench [--batches 200] [--payload full|names]   (make bench-events)

Each batch is DynamoDB-Streams-shaped (100 MODIFY records, old and new images of a user whose
attribute changed), handled by `functions.user_events.handler` with PutEvents answered by an
in-process stand-in (no network: the figure is the function's own cost; EventBridge's latency
adds per call, 10 calls per batch). Both wall-clock and CPU-time rates are recorded (the
machine may be shared). Results: bench/results/events.json. Goal: ≥ 2,000 changes/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "events.json"
GOAL = 2_000
BATCH = 100
T0 = 1_764_547_200_000_000


class StandInEvents:
    """PutEvents accepting everything, answering like EventBridge."""

    def __init__(self) -> None:
        self.calls = 0
        self.entries = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        self.entries += len(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}


def _image(sub: str, at: int, tenant: str) -> dict[str, Any]:
    attributes = {"email": f"{sub[:8]}@example.com", "given_name": "Bench", "custom:tenant": tenant}
    return {
        "sub": {"S": sub},
        "username": {"S": sub[:8]},
        "attributes": {"M": {name: {"S": value} for name, value in attributes.items()}},
        "status": {"S": "CONFIRMED"},
        "enabled": {"BOOL": True},
        "observed_at": {"N": str(at)},
        "source": {"S": "attribute_sync"},
        "deleted": {"BOOL": False},
    }


def stream_batch(number: int) -> dict[str, Any]:
    records = []
    for index in range(BATCH):
        sub = f"{number:08x}-{index:04x}-4000-8000-000000000000"
        old, new = _image(sub, T0 + number, "acme"), _image(sub, T0 + number + 1, "globex")
        records.append(
            {
                "eventID": f"{number}-{index}",
                "eventName": "MODIFY",
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "Keys": {"sub": {"S": sub}},
                    "OldImage": old,
                    "NewImage": new,
                    "SequenceNumber": str(10**20 + number * BATCH + index),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
        )
    return {"Records": records}


def run(batches: int, payload: str) -> dict[str, Any]:
    os.environ.update(
        {
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "MIRROR_TABLE": "bench-events",
            "MIRROR_EVENT_BUS": "bench-events",
            "MIRROR_EVENT_PAYLOAD": payload,
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)
    from functions.common import event_publisher
    from functions.user_events import handler

    client = StandInEvents()
    event_publisher.events_client = cache(lambda: client)

    class Context:
        function_name = "bench-user-events"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench-user-events"
        aws_request_id = "bench"

    inputs = [stream_batch(number) for number in range(batches + 5)]
    for batch in inputs[:5]:  # warm-up: imports, first-use caches
        handler(batch, Context())
    durations = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for batch in inputs[5:]:
        begin = time.perf_counter()
        result = handler(batch, Context())
        durations.append(time.perf_counter() - begin)
        assert result == {"batchItemFailures": []}
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    changes = batches * BATCH
    return {
        "payload": payload,
        "batches": batches,
        "changes": changes,
        "seconds": round(elapsed, 3),
        "changes_per_second": round(changes / elapsed),
        # CPU time of this process only: the figure a shared, loaded machine cannot distort.
        "changes_per_cpu_second": round(changes / cpu),
        "batch_ms_p50": round(statistics.median(durations) * 1000, 2),
        "batch_ms_p99": round(sorted(durations)[int(len(durations) * 0.99) - 1] * 1000, 2),
        "put_events_calls": client.calls,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="measured batches of 100 changes")
    parser.add_argument("--payload", choices=("full", "names"), default="full")
    args = parser.parse_args(argv)
    result = run(args.batches, args.payload)
    result.update(
        {
            "goal_changes_per_second": GOAL,
            "goal_met": result["changes_per_second"] >= GOAL,
            "machine": f"{platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}",
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
