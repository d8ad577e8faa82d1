"""Helpers of the load test on the local stack: what the emulators answer, a ramp, the stack's processes.

serverless-offline answers an HTTP API (payload 2.0) Lambda that timed out or failed with a 200 whose
body is the error object, and cognito-local relays a trigger that serverless-offline timed out as a
`UserLambdaValidationException` "... failed with error [504] - Lambda timeout.". Both are the emulator
outrunning a function's timeout on a busy machine (a cold Python start counts in it there), not an
answer of ours: the load test retries them as a client would and reports them as figures.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from scripts.stack_info import StackInfo

EMULATOR_TIMEOUT = 598  # a `GET /me` that serverless-offline timed out
MASKED_ERROR = 599  # any other Lambda error serverless-offline masks as a 200: a server error of ours
LAMBDA_TIMEOUT_MARK = "Lambda timeout"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 < share <= 1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def figures(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.0f} ms, p99 {percentile(values, 0.99) * 1000:.0f} ms, "
        f"max {max(values) * 1000:.0f} ms (n={len(values)})"
    )


def status_of(response: Any) -> int:
    """The HTTP status API Gateway would have answered: a timed-out Lambda is EMULATOR_TIMEOUT, any
    other Lambda error MASKED_ERROR (serverless-offline answers both with a 200 and the error body)."""
    if response.status_code != 200:
        return int(response.status_code)
    try:
        body = response.json()
    except ValueError:
        return 200
    if not isinstance(body, dict) or not ("errorType" in body or "errorMessage" in body):
        return 200
    return EMULATOR_TIMEOUT if LAMBDA_TIMEOUT_MARK in str(body.get("errorMessage", "")) else MASKED_ERROR


def emulator_slow(exc: BaseException) -> bool:
    """Whether a Cognito call failed because an emulator was slow: a trigger serverless-offline timed
    out (relayed by cognito-local), or cognito-local itself not answering within the client's timeout."""
    if isinstance(exc, ReadTimeoutError):
        return True
    return isinstance(exc, ClientError) and LAMBDA_TIMEOUT_MARK in str(exc)


class Ramp:
    """Concurrency that starts at one and grows by one each time a unit of work succeeds, up to
    `limit`: a slow machine ramps up slower, and serverless-offline starts its Python processes a few at
    a time instead of all at once (a burst of cold starts on a busy machine outruns every timeout)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reached = 1
        self._slots = threading.Semaphore(1)
        self._lock = threading.Lock()

    def __enter__(self) -> Ramp:
        self._slots.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._slots.release()

    def succeeded(self) -> None:
        with self._lock:
            if self.reached < self.limit:
                self.reached += 1
                self._slots.release()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def descendants(root: int) -> set[int]:
    """Every live process below `root` (from /proc), to find orphans after the stop."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def handler_processes(pids: set[int]) -> tuple[int, int]:
    """How many of `pids` are serverless-offline's Python handler processes, and their total RSS (MB)."""
    count, pages = 0, 0
    for pid in pids:
        try:
            if b"invoke.py" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
        count += 1
    return count, pages * os.sysconf("SC_PAGE_SIZE") // 2**20


def stack_processes(info: StackInfo) -> set[int]:
    """Every live process of this stack, wherever it was reparented: serverless-offline and its Python
    workers carry MIRROR_HTTP_PORT in their environment, cognito-local runs in the state folder,
    DynamoDB Local has its port on the command line."""
    marks = [
        f"MIRROR_HTTP_PORT={info.ports.http}".encode(),
        str(info.state_dir).encode(),
        f"-port\0{info.ports.dynamodb}\0".encode(),
    ]
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not alive(int(entry.name)):
            continue
        try:
            seen = (entry / "environ").read_bytes() + b"\0" + (entry / "cmdline").read_bytes()
            seen += b"\0" + os.readlink(entry / "cwd").encode()
        except OSError:
            continue
        if any(mark in seen for mark in marks):
            found.add(int(entry.name))
    return found


def orphaned_handlers(info: StackInfo) -> int:
    """The stack's Python handler processes whose parent is gone (reparented to init): what a Lambda
    timeout left behind when serverless-offline killed only the shell around Python."""
    count = 0
    for pid in stack_processes(info):
        try:
            if b"invoke.py" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            parent = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except OSError:
            continue
        count += parent == 1
    return count
