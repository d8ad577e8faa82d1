"""User change events end to end on the local stack: lag from a guarded write to the consumer.

    python -m bench.events_lag [--writes 50]   (make bench-events-lag)

Starts the local stack (scripts/stack.py, loopback ports the kernel picks), then, one at a
time, changes `custom:tenant` of one user through the mirror's guarded write
(`models.table.MirrorTable.put_snapshot`) and waits (bounded) until the example consumer's replica
table holds that version: table stream (serverless-offline-dynamodb-streams) → userEvents →
PutEvents on the EventBridge stand-in → userChanges (a second serverless-offline) → its table.
The lag runs from the write's return to the consumer's own clock reading (same machine).
Local stand-ins, not AWS figures. Results: bench/results/events_lag.json.
"""

from __future__ import annotations

import os
import time
import uuid

from bench.command import Count, count_main
from bench.stats import Report, figure
from scripts.dynamodb_local import LocalServiceError
from scripts.ports import Ports
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import STATE_DIR

WARMUP = 3
# The stream plugin polls every ~1 s: the goal is that plus the two functions' own time.
GOAL_P50_S = 2.0
TIMEOUT_S = 30.0


def run(writes: int) -> Report:
    stack = LocalStack(ports=Ports.free(), stage="bench", state_dir=STATE_DIR / "bench-events-lag", say=print)
    info = stack.start()
    try:
        os.environ.update(info.client_env())  # the guarded write below goes to the stack's table
        from models.table import mirror_table
        from models.user import UserSnapshot

        scenario = Scenario(info)
        sub = str(uuid.uuid4())
        lags: list[float] = []
        missed = 0
        for index in range(WARMUP + writes):
            snapshot = UserSnapshot(
                sub=sub,
                username="lag-bench",
                attributes={"email": "lag@example.com", "custom:tenant": f"tenant-{index}"},
                status="CONFIRMED",
                enabled=True,
                observed_at=time.time_ns() // 1000,
                source="bench",
            )
            mirror_table().put_snapshot(snapshot)
            written_at = time.time()
            received = scenario.wait_for_event(sub, snapshot.observed_at, written_at, timeout=TIMEOUT_S)
            if received is None:
                missed += 1
            elif index >= WARMUP:
                lags.append(received.lag_s)
        if not lags:
            raise LocalServiceError(f"no event reached the consumer within {TIMEOUT_S:.0f} s")
        report = Report("events_lag")
        report.setup = {"writes": writes, "warmup": WARMUP, "stack_ready_s": round(stack.ready_seconds, 1)}
        report.figures.append(
            figure(
                "write -> consumer (local stack)",
                lags,
                unit="s",
                at_most=GOAL_P50_S,
                note="stream plugin + userEvents + EventBridge stand-in + userChanges",
            )
        )
        report.lines.append(
            f"events received {WARMUP + writes - missed}/{WARMUP + writes} (warm-up included)"
        )
        return report
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    return count_main(
        argv, __doc__, Count("--writes", 50, 1000, "measured writes"), lambda args: run(args.writes)
    )


if __name__ == "__main__":
    raise SystemExit(main())
