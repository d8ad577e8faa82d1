"""Freshness per writer path and user event lag on the local stack, from the shipped metrics.

    python -m bench.freshness [--users 20]   (make bench-freshness)

Starts the local stack (scripts/stack.py, loopback ports the kernel picks), then: `--users` sign-ups
(PostConfirmation), their sign-ins (PostAuthentication), an attribute change of each delivered to
attributeSync as the CloudTrail stand-in's event (its `eventTime` is the change, in whole seconds);
`--users` users no trigger saw, written by the backfill command. The reconcile function is not run:
serverless-offline's Python context reports 6 s left whatever the timeout, under the reconcile's
60 s safety margin, so it stops at once; it writes through the same engine as the backfill. The
figures are the functions' own `MirrorFreshness` and `UserEventLag` EMF lines, read from
serverless-offline's log (scripts/emf.py), and the backfill command's summary (it is no Lambda):
no separate timer. Local stand-ins, not AWS figures.
Results: bench/results/freshness.json.
"""

from __future__ import annotations

import json
import time

from bench.command import Count, count_main
from bench.stats import Report, figure
from scripts.dynamodb_local import LocalServiceError
from scripts.emf import metric_values
from scripts.ports import Ports
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import STATE_DIR

STREAM_SETTLE_S = 5.0  # the stream plugin polls about once a second; events of the last writes land
NOTES = {
    "post_confirmation": "trigger invocation -> row landed",
    "post_authentication": "trigger invocation -> row landed",
    "attribute_sync": "CloudTrail eventTime (whole s) -> row landed; Lambda API stands in for the queue",
}


def exercise(s: Scenario, users: int) -> dict[str, float]:
    """Run every writer path on `users` users; the backfill command's freshness summary."""
    for index in range(users):
        name = f"fresh-{index:03d}"
        sub = s.sign_up(name, email=f"{name}@example.com", custom__tenant="t1")
        s.sign_in(name)
        s.update_attributes(name, custom__tenant="t2")
        s.deliver_cloudtrail("AdminUpdateUserAttributes", username=name, sub=sub)
    for index in range(users):
        s.admin_create(f"unseen-{index:03d}", email=f"unseen{index}@example.com")
    run = s.backfill()
    if run.returncode != 0:
        raise LocalServiceError(f"backfill exited {run.returncode}: {run.stderr[-300:]}")
    summary: dict[str, float] = json.loads(run.stdout)["freshness"]
    return summary


def run(users: int) -> Report:
    stack = LocalStack(ports=Ports.free(), stage="bench", state_dir=STATE_DIR / "bench-freshness", say=print)
    info = stack.start()
    try:
        backfill = exercise(Scenario(info), users)
        time.sleep(STREAM_SETTLE_S)
        log = (info.state_dir / "logs" / "serverless-offline.log").read_text(errors="replace")
    finally:
        stack.stop()
    report = Report("freshness")
    report.setup = {"users": users, "stack_ready_s": round(stack.ready_seconds, 1)}
    for path, values in sorted(metric_values(log, "MirrorFreshness", "path").items()):
        seconds = [value / 1000 for value in values]
        report.figures.append(figure(f"freshness {path}", seconds, unit="ms", note=NOTES.get(path, "")))
    events = [value / 1000 for value in metric_values(log, "UserEventLag").get("", [])]
    if events:
        report.figures.append(
            figure(
                "user event lag", events, unit="ms", note="stream record time (whole s locally) -> PutEvents"
            )
        )
    report.lines.append(
        "freshness backfill (its summary, listed -> landed): p50 {p50_ms} ms, p99 {p99_ms} ms, "
        "max {max_ms} ms over {count} writes".format(**backfill)
    )
    return report


def main(argv: list[str] | None = None) -> int:
    return count_main(
        argv, __doc__, Count("--users", 20, 500, "users per path"), lambda args: run(args.users)
    )


if __name__ == "__main__":
    raise SystemExit(main())
