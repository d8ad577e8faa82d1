"""Load on the local stack: parallel sign-ups and sign-ins through cognito-local while GET /me is read.

cognito-local fires PostConfirmation and PostAuthentication through serverless-offline's Lambda API;
readers who signed in before the load call `GET /me` over HTTP the whole time. Every sign-in must
succeed, every new user must be mirrored, and no `GET /me` may answer 5xx of ours (serverless-offline's
own timeouts on a busy machine are reported as figures, and a new user's GET /me is retried after one).
Afterwards the stack is
stopped and must leave no process and no port behind.

Bounded: MIRROR_LOAD_USERS users (default 200) by MIRROR_LOAD_WORKERS threads (default 5 per core, at
most 20: serverless-offline runs one Python process per concurrent call, so the load is sized to the
machine; 200 at once fails on 2 cores, see RELIABILITY.md section 5), MIRROR_LOAD_READERS reader
threads (default 8, one GET /me every MIRROR_LOAD_READ_INTERVAL_S = 0.2 s each), everything within
MIRROR_LOAD_DEADLINE_S (default 600 s); loopback only, on ports the kernel picks (or from MIRROR_PORT_RANGE).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.dynamodb_local import LocalServiceError, port_in_use
from scripts.ports import Ports
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import StackInfo

USERS = int(os.environ.get("MIRROR_LOAD_USERS", "200"))
WORKERS = int(os.environ.get("MIRROR_LOAD_WORKERS", str(min(20, 5 * (os.cpu_count() or 2)))))
READERS = int(os.environ.get("MIRROR_LOAD_READERS", "8"))
READ_INTERVAL_S = float(os.environ.get("MIRROR_LOAD_READ_INTERVAL_S", "0.2"))  # a reader's pause
DEADLINE_S = float(os.environ.get("MIRROR_LOAD_DEADLINE_S", "600"))
MAX_READS = 50_000  # a bound on the readers, whatever the deadline
OWN_ME_ATTEMPTS = 3  # a new user's own GET /me is retried after an emulator timeout, as a client would
# serverless-offline answers a call that outran the function timeout with a 200 whose body is its
# LambdaTimeoutError: the emulator being slow on a busy machine, not an answer of ours. Reported, not failed.
EMULATOR_TIMEOUT = 598
MASKED_ERROR = 599  # any other Lambda error serverless-offline masks as a 200: a server error of ours


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


@dataclass
class Outcome:
    """What one new user went through: sign-up + confirmation, sign-in, their own GET /me."""

    username: str
    sub: str = ""
    sign_up_s: float = 0.0
    sign_in_s: float = 0.0
    token: str = ""
    own_me_status: int = 0
    timeouts: int = 0  # emulator timeouts of the own GET /me, retried
    resets: int = 0  # pooled keep-alive connections the server had closed (the GET is retried once)
    error: str = ""


@dataclass
class Reads:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    wrong_user: list[tuple[str, str]] = field(default_factory=list)  # (expected sub, the body served)
    samples: list[str] = field(default_factory=list)  # bodies of the first server errors
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())


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


def status_of(response: Any) -> int:
    """The HTTP status API Gateway would have answered. serverless-offline answers a failed or timed-out
    HTTP API (payload 2.0) Lambda with a 200 whose body is the error object: a timeout is
    EMULATOR_TIMEOUT, any other error MASKED_ERROR."""
    if response.status_code != 200:
        return int(response.status_code)
    try:
        body = response.json()
    except ValueError:
        return 200
    if not isinstance(body, dict) or not ("errorType" in body or "errorMessage" in body):
        return 200
    return EMULATOR_TIMEOUT if "Lambda timeout" in str(body.get("errorMessage", "")) else MASKED_ERROR


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


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def preexisting() -> set[int]:
    """Processes alive before the stack starts (e.g. another stress test's session DynamoDB Local):
    not the stack's, so never counted as its orphans."""
    return descendants(os.getpid())


@pytest.fixture
def load_stack(tmp_path: Path, preexisting: set[int]) -> Iterator[tuple[LocalStack, StackInfo]]:
    stack = LocalStack(ports=Ports.free(), stage="load", state_dir=tmp_path / "stack", say=print)
    try:
        info = stack.start()
    except LocalServiceError as exc:
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    try:
        yield stack, info
    finally:
        stack.stop()


def new_user(scenario: Scenario, username: str, deadline: float) -> Outcome:
    outcome = Outcome(username)
    if time.monotonic() > deadline:
        outcome.error = "not started: deadline passed"
        return outcome
    step = "sign-up"
    try:
        started = time.perf_counter()
        outcome.sub = scenario.sign_up(
            username, email=f"{username}@example.com", given_name="Load", custom__tenant="load"
        )
        signed_up = time.perf_counter()
        step = "sign-in"
        outcome.token = scenario.sign_in(username)
        signed_in = time.perf_counter()
        outcome.sign_up_s, outcome.sign_in_s = signed_up - started, signed_in - signed_up
        step = "own GET /me"
        for _ in range(OWN_ME_ATTEMPTS):
            try:
                response = scenario.get("/me", outcome.token)
            except requests.ConnectionError:
                # The pooled connection sat idle through the sign-in (longer than the server keeps it) and
                # the server closed it as it was reused: retried once, as an HTTP client does; counted.
                outcome.resets += 1
                response = scenario.get("/me", outcome.token)
            outcome.own_me_status = status_of(response)
            if outcome.own_me_status != EMULATOR_TIMEOUT:
                break
            outcome.timeouts += 1
    except Exception as exc:  # deliberate: each failure is counted and reported
        outcome.error = f"{step}: {type(exc).__name__}: {str(exc)[:200]}"
    return outcome


def read_me(scenario: Scenario, token: str, sub: str, stop: threading.Event, reads: Reads) -> None:
    while not stop.wait(READ_INTERVAL_S) and reads.total() < MAX_READS:
        started = time.perf_counter()
        try:
            response = scenario.get("/me", token)
        except Exception as exc:  # deliberate: a transport error is a failed read
            with reads.lock:
                reads.errors[type(exc).__name__] += 1
            continue
        elapsed = time.perf_counter() - started
        status = status_of(response)
        with reads.lock:
            reads.statuses[status] += 1
            reads.latencies.append(elapsed)
            if status == 200 and response.json().get("sub") != sub:
                reads.wrong_user.append((sub, response.text[:300]))
            if status >= 500 and len(reads.samples) < 5:
                reads.samples.append(response.text[:300])


def test_parallel_sign_ups_and_sign_ins_are_all_mirrored_while_get_me_stays_up(
    load_stack: tuple[LocalStack, StackInfo], preexisting: set[int], record_property: Any
) -> None:
    stack, info = load_stack
    deadline = time.monotonic() + DEADLINE_S
    run = uuid.uuid4().hex[:6]
    # Given readers who signed up and signed in before the load
    readers = [Scenario(info) for _ in range(READERS)]
    reader_logins = []
    for number, reader in enumerate(readers):
        username = f"reader-{run}-{number}"
        reader_logins.append(
            (reader.sign_up(username, email=f"{username}@example.com"), reader.sign_in(username))
        )
    reads, stop = Reads(), threading.Event()
    reader_threads = [
        threading.Thread(target=read_me, args=(reader, token, sub, stop, reads), daemon=True)
        for reader, (sub, token) in zip(readers, reader_logins, strict=True)
    ]
    for thread in reader_threads:
        thread.start()

    # When USERS users sign up, are confirmed and sign in, WORKERS at a time, while the readers read
    shared = Scenario(info, connections=WORKERS)
    usernames = [f"load-{run}-{number:04d}" for number in range(USERS)]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(lambda name: new_user(shared, name, deadline), usernames))
    load_s = time.perf_counter() - began
    stop.set()
    for thread in reader_threads:
        thread.join(timeout=60)

    # Then every sign-in succeeded and every new user is mirrored with their attributes
    failed = [outcome for outcome in outcomes if outcome.error]
    causes = Counter(outcome.error.partition(" (")[0][:80] for outcome in failed)  # step: error type
    rows = {outcome.username: shared.stored_row(outcome.sub) for outcome in outcomes if outcome.sub}
    mirrored = [
        name
        for name, row in rows.items()
        if row is not None and row["username"] == name and row["attributes"].get("custom:tenant") == "load"
    ]
    own_me = Counter(outcome.own_me_status for outcome in outcomes if not outcome.error)
    sign_ups = [outcome.sign_up_s for outcome in outcomes if not outcome.error]
    sign_ins = [outcome.sign_in_s for outcome in outcomes if not outcome.error]
    server_errors = sum(
        count for status, count in reads.statuses.items() if status >= 500 and status != EMULATOR_TIMEOUT
    )
    emulator_timeouts = reads.statuses[EMULATOR_TIMEOUT] + sum(outcome.timeouts for outcome in outcomes)
    processes = (descendants(os.getpid()) - preexisting) | stack_processes(info)
    handlers, handlers_mb = handler_processes(processes)

    # And the stack stops with no process and no port left behind
    stack.stop()
    ports = [info.ports.dynamodb, info.ports.cognito, info.ports.http, info.ports.lambda_]
    orphans = sorted(pid for pid in processes | stack_processes(info) if alive(pid))
    for pid in orphans:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            print(f"  left after stop: {pid} {cmdline[:200]}")
    busy_ports = [port for port in ports if port_in_use(port)]

    report = {
        "users": USERS,
        "workers": WORKERS,
        "readers": READERS,
        "load_s": round(load_s, 1),
        "sign_ups_per_s": round((USERS - len(failed)) / load_s, 2),
        "sign_up_p50_ms": round(percentile(sign_ups, 0.5) * 1000) if sign_ups else None,
        "sign_up_p99_ms": round(percentile(sign_ups, 0.99) * 1000) if sign_ups else None,
        "sign_in_p50_ms": round(percentile(sign_ins, 0.5) * 1000) if sign_ins else None,
        "sign_in_p99_ms": round(percentile(sign_ins, 0.99) * 1000) if sign_ins else None,
        "failed": len(failed),
        "failed_by_cause": dict(causes),
        "mirrored": len(mirrored),
        "own_get_me": dict(own_me),
        "own_get_me_resets_retried": sum(outcome.resets for outcome in outcomes),
        "emulator_timeouts": emulator_timeouts,
        "reads": reads.total(),
        "wrong_user": len(reads.wrong_user),
        "read_statuses": dict(reads.statuses),
        "read_errors": dict(reads.errors),
        "get_me_p50_ms": round(percentile(reads.latencies, 0.5) * 1000) if reads.latencies else None,
        "get_me_p99_ms": round(percentile(reads.latencies, 0.99) * 1000) if reads.latencies else None,
        "processes_before_stop": len(processes),
        "python_handler_processes": handlers,
        "python_handler_rss_mb": handlers_mb,
        "orphans": len(orphans),
        "busy_ports": busy_ports,
    }
    for name, value in report.items():
        record_property(name, value)
    print(
        f"\nload: {USERS} users, {WORKERS} in parallel, {READERS} readers: {load_s:.1f} s, "
        f"{report['sign_ups_per_s']} sign-ups/s, {len(failed)} failed, {len(mirrored)} mirrored"
        f"\n  sign-up + confirm: {figures(sign_ups)}\n  sign-in: {figures(sign_ins)}"
        f"\n  GET /me under load: {figures(reads.latencies)}, statuses {dict(reads.statuses)}, "
        f"errors {dict(reads.errors)}; new users' own GET /me {dict(own_me)} "
        f"({report['own_get_me_resets_retried']} keep-alive resets retried, "
        f"{emulator_timeouts} serverless-offline timeouts: reported, not failed)"
        f"\n  {handlers} Python handler processes ({handlers_mb} MB RSS)"
        f"\n  stop: {len(processes)} processes before, {len(orphans)} left, busy ports {busy_ports}"
    )
    for expected, served in reads.wrong_user[:10]:
        print(f"  GET /me for {expected} served {served}")
    for sample in reads.samples:
        print(f"  server error: {sample}")
    for cause, count in causes.most_common():
        print(f"  {count} failed at {cause}")
    for outcome in failed[:3]:
        print(f"  failed {outcome.username}: {outcome.error}")

    assert not failed
    assert len(mirrored) == USERS
    # a new user's own GET /me answered by us (200) or, after its retries, timed out in the emulator
    assert set(own_me) <= {200, EMULATOR_TIMEOUT}, own_me
    assert server_errors == 0 and not reads.errors and not reads.wrong_user
    assert reads.statuses[200] > 0
    assert not orphans
    assert not busy_ports
