"""Revocation latency on the local stack: removal from a group → the first 403 on the same token.

    python -m bench.revocation [--removals 50] [--delivery sync|row]   (make bench-revocation)

Starts the local stack (scripts/stack.py, loopback ports the kernel picks), seeds an admin and a
target user, signs the admin in once, then, one at a time: puts the admin back into `admin` (until
GET /users/{sub} answers 200 again with that same token), removes them from it in cognito-local
(AdminRemoveUserFromGroup) and times until GET /users/{sub} with the same, still valid token first
answers 403. `--delivery sync` (default) delivers the removal to attributeSync in CloudTrail's shape
through the Lambda API, as `make demo` does (the sync re-reads the user's groups from Cognito and
writes the row); `--delivery row` writes the row's groups straight to the table instead
(scripts/membership.py): the read side's share alone. Local stand-ins, not AWS figures (on AWS the
CloudTrail → EventBridge → SQS delivery comes first). Results: bench/results/revocation.json.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from bench.command import Count, count_main
from bench.stats import Report, figure
from scripts.dynamodb_local import LocalServiceError
from scripts.ports import Ports
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import STATE_DIR
from scripts.user_pool import ADMIN_GROUP

WARMUP = 3
# One sync delivery (a synchronous invoke here) and one request: the cache plays no part, since a
# privileged request reads the caller's row fresh.
GOAL_P50_S = 2.0
TIMEOUT_S = 30.0
POLL_S = 0.01
DELIVERIES = ("sync", "row")


def _until(s: Scenario, path: str, token: str, status: int) -> float | None:
    """Seconds until GET `path` answers `status` (bounded by TIMEOUT_S), or None."""
    began = time.perf_counter()
    while s.get(path, token).status_code != status:
        if time.perf_counter() - began > TIMEOUT_S:
            return None
        time.sleep(POLL_S)
    return time.perf_counter() - began


def _membership(s: Scenario, delivery: str, username: str, sub: str) -> Callable[[str, bool], None]:
    """`change(event_name, member)`: the admin's membership changed in cognito-local, delivered."""

    def change(event_name: str, member: bool) -> None:
        if member:
            s.make_admin(username)
        else:
            s.remove_from_group(username)
        if delivery == "row":
            s.write_groups(sub, [ADMIN_GROUP] if member else [])
            return
        answer = s.deliver_cloudtrail(event_name, username=username, sub=sub, group=ADMIN_GROUP)
        if answer != {"batchItemFailures": []}:
            raise LocalServiceError(f"attributeSync failed the {event_name} record: {answer}")

    return change


def run(removals: int, delivery: str) -> Report:
    stack = LocalStack(ports=Ports.free(), stage="bench", state_dir=STATE_DIR / "bench-revocation", say=print)
    info = stack.start()
    try:
        s = Scenario(info)
        admin = f"revoke-{uuid.uuid4().hex[:8]}"
        s.admin_create(admin, email=f"{admin}@example.com")
        sub = s.sub_of(admin)
        target = s.sign_up(f"target-{uuid.uuid4().hex[:8]}", email="target@example.com")
        change = _membership(s, delivery, admin, sub)
        change("AdminAddUserToGroup", True)
        token = s.sign_in(admin)  # issued while in admin: it keeps the group for its whole life
        path = f"/users/{target}"
        latencies: list[float] = []
        for index in range(WARMUP + removals):
            change("AdminAddUserToGroup", True)
            if _until(s, path, token, 200) is None:
                raise LocalServiceError("the admin was not served again after rejoining the group")
            began = time.perf_counter()
            change("AdminRemoveUserFromGroup", False)
            refused = _until(s, path, token, 403)
            if refused is None:
                raise LocalServiceError(
                    f"no 403 within {TIMEOUT_S:.0f} s of the removal ({delivery} delivery): "
                    "does the sync write the membership?"
                )
            if index >= WARMUP:
                latencies.append(time.perf_counter() - began)
        report = Report("revocation")
        report.setup = {
            "removals": removals,
            "warmup": WARMUP,
            "delivery": delivery,
            "stack_ready_s": round(stack.ready_seconds, 1),
        }
        note = (
            "cognito-local removal + attributeSync (CloudTrail shape) + first request"
            if delivery == "sync"
            else "cognito-local removal + the row's groups written directly + first request"
        )
        report.figures.append(
            figure(
                f"removal -> first 403 ({delivery} delivery, local stack)",
                latencies,
                unit="s",
                at_most=GOAL_P50_S,
                note=note,
            )
        )
        return report
    finally:
        stack.stop()


def _delivery(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delivery", choices=DELIVERIES, default="sync", help="how the removal reaches the row"
    )


def main(argv: list[str] | None = None) -> int:
    return count_main(
        argv,
        __doc__,
        Count("--removals", 50, 1000, "measured removals"),
        lambda args: run(args.removals, args.delivery),
        options=_delivery,
    )


if __name__ == "__main__":
    raise SystemExit(main())
