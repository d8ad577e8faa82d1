"""Load on the local stack: parallel sign-ups and sign-ins through cognito-local while GET /me is read.

cognito-local fires PostConfirmation and PostAuthentication through serverless-offline's Lambda API;
readers who signed in before the load call `GET /me` over HTTP the whole time. Every user who started
must end up signed in and mirrored, and no `GET /me` may answer 5xx of ours or another user's profile.
Afterwards the stack is stopped and must leave no process and no port behind.

Sized to the machine: concurrency ramps up from one user at a time by one per user done (up to
MIRROR_LOAD_WORKERS, default 5 per core, at most 20), readers join one at a time once the previous one
was answered, and new users start only until MIRROR_LOAD_BUDGET_S (default 240 s) has passed: a busy
machine does fewer users (at least MIRROR_LOAD_MIN_USERS, default 20), a quiet one all
MIRROR_LOAD_USERS (default 200). The emulators' own timeouts (serverless-offline counts a cold Python
start in a function's timeout) are retried as a client would and reported as figures, never counted as
answers of ours. MIRROR_LOAD_READERS reader threads (default 8, one GET /me every
MIRROR_LOAD_READ_INTERVAL_S = 0.2 s each); loopback only, on ports the kernel picks (or MIRROR_PORT_RANGE).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from models.errors import error_code
from scripts.dynamodb_local import LocalServiceError, port_in_use
from scripts.ports import Ports
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import StackInfo
from tests.support.load import (
    EMULATOR_TIMEOUT,
    Ramp,
    alive,
    descendants,
    emulator_slow,
    figures,
    handler_processes,
    orphaned_handlers,
    percentile,
    stack_processes,
    status_of,
)

USERS = int(os.environ.get("MIRROR_LOAD_USERS", "200"))
WORKERS = int(os.environ.get("MIRROR_LOAD_WORKERS", str(min(20, 5 * (os.cpu_count() or 2)))))
READERS = int(os.environ.get("MIRROR_LOAD_READERS", "8"))
READ_INTERVAL_S = float(os.environ.get("MIRROR_LOAD_READ_INTERVAL_S", "0.2"))  # a reader's pause
BUDGET_S = float(os.environ.get("MIRROR_LOAD_BUDGET_S", "240"))  # no new user starts after it
MIN_USERS = min(USERS, int(os.environ.get("MIRROR_LOAD_MIN_USERS", "20")))
MAX_READS = 50_000  # a bound on the readers, whatever the budget
STEP_ATTEMPTS = 4  # a step the emulator timed out is tried again, as a client would
T = TypeVar("T")


@dataclass
class Outcome:
    """What one new user went through: sign-up + confirmation, sign-in, their own GET /me."""

    username: str
    started: bool = False
    sub: str = ""
    sign_up_s: float = 0.0
    sign_in_s: float = 0.0
    token: str = ""
    own_me_status: int = 0
    retried: Counter[str] = field(default_factory=Counter)  # step -> emulator timeouts retried
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


def patiently(outcome: Outcome, step: str, call: Callable[[], T]) -> T:
    """`call()`, tried again (up to STEP_ATTEMPTS) when an emulator was too slow; each retry counted."""
    for _ in range(STEP_ATTEMPTS - 1):
        try:
            return call()
        except Exception as exc:  # deliberate: only the emulators' slowness is retried
            if not emulator_slow(exc):
                raise
            outcome.retried[step] += 1
    return call()


def register(scenario: Scenario, outcome: Outcome) -> str:
    name = outcome.username
    try:
        return scenario.register(name, email=f"{name}@example.com", given_name="Load", custom__tenant="load")
    except Exception as exc:
        # The client retried a SignUp that cognito-local had taken but answered too late: the user is
        # there (usernames are unique to this run).
        if error_code(exc) != "UsernameExistsException":
            raise
        outcome.retried["sign-up"] += 1
        return scenario.sub_of(name)


def confirm(scenario: Scenario, outcome: Outcome) -> None:
    try:
        scenario.confirm(outcome.username)
    except Exception as exc:
        # cognito-local confirms the user before it fires PostConfirmation: after a trigger the
        # emulator timed out (or an answer that came too late), the user is confirmed already and the
        # sign-in's PostAuthentication mirrors them.
        if "Current status is CONFIRMED" not in str(exc):
            raise
        outcome.retried["confirm"] += 1


def own_get_me(scenario: Scenario, outcome: Outcome) -> None:
    for _ in range(STEP_ATTEMPTS):
        try:
            response = scenario.get("/me", outcome.token)
        except requests.ConnectionError:
            # The pooled connection sat idle through the sign-in (longer than the server keeps it) and
            # the server closed it as it was reused: retried once, as an HTTP client does; counted.
            outcome.resets += 1
            response = scenario.get("/me", outcome.token)
        outcome.own_me_status = status_of(response)
        if outcome.own_me_status != EMULATOR_TIMEOUT:
            return
        outcome.retried["own GET /me"] += 1


def enrol(scenario: Scenario, outcome: Outcome) -> None:
    """Sign-up, confirmation (PostConfirmation fires) and sign-in (PostAuthentication fires)."""
    started = time.perf_counter()
    outcome.sub = patiently(outcome, "sign-up", lambda: register(scenario, outcome))
    patiently(outcome, "confirm", lambda: confirm(scenario, outcome))
    outcome.sign_up_s = time.perf_counter() - started
    outcome.token = patiently(outcome, "sign-in", lambda: scenario.sign_in(outcome.username))
    outcome.sign_in_s = time.perf_counter() - started - outcome.sign_up_s


def new_user(scenario: Scenario, username: str, ramp: Ramp, stop_starting: float) -> Outcome:
    outcome = Outcome(username)
    with ramp:
        if time.monotonic() > stop_starting:
            return outcome  # not started: the budget is spent (reported, not failed)
        outcome.started = True
        try:
            enrol(scenario, outcome)
            own_get_me(scenario, outcome)
        except Exception as exc:  # deliberate: each failure is counted and reported
            step = "own GET /me" if outcome.token else "sign-in" if outcome.sign_up_s else "sign-up"
            outcome.error = f"{step}: {type(exc).__name__}: {str(exc)[:200]}"
            return outcome
    ramp.succeeded()
    return outcome


def read_me(
    scenario: Scenario, token: str, sub: str, stop: threading.Event, answered: threading.Event, reads: Reads
) -> None:
    while reads.total() < MAX_READS:
        started = time.perf_counter()
        try:
            response = scenario.get("/me", token)
        except Exception as exc:  # deliberate: a transport error is a failed read
            with reads.lock:
                reads.errors[type(exc).__name__] += 1
            response = None
        elapsed = time.perf_counter() - started
        status = status_of(response) if response is not None else 0
        if response is not None:
            with reads.lock:
                reads.statuses[status] += 1
                reads.latencies.append(elapsed)
                if status == 200 and response.json().get("sub") != sub:
                    reads.wrong_user.append((sub, response.text[:300]))
                if status >= 500 and status != EMULATOR_TIMEOUT and len(reads.samples) < 5:
                    reads.samples.append(response.text[:300])
        if status == 200:
            answered.set()
        if stop.wait(READ_INTERVAL_S):
            return


def start_readers(
    readers: list[tuple[Scenario, str, str]], stop: threading.Event, reads: Reads, until: float
) -> list[threading.Thread]:
    """One reader thread at a time, the next once the previous one was answered (or `until` passed)."""
    threads = []
    for scenario, sub, token in readers:
        answered = threading.Event()
        args = (scenario, token, sub, stop, answered, reads)
        thread = threading.Thread(target=read_me, args=args, daemon=True)
        thread.start()
        threads.append(thread)
        answered.wait(timeout=max(0.0, until - time.monotonic()))
    return threads


def test_parallel_sign_ups_and_sign_ins_are_all_mirrored_while_get_me_stays_up(
    load_stack: tuple[LocalStack, StackInfo], preexisting: set[int], record_property: Any
) -> None:
    stack, info = load_stack
    began_at = time.monotonic()
    stop_starting = began_at + BUDGET_S
    run = uuid.uuid4().hex[:6]
    # Given readers who signed up and signed in before the load, reading GET /me
    readers = []
    for number in range(READERS):
        reader, enrolled = Scenario(info), Outcome(f"reader-{run}-{number}")
        enrol(reader, enrolled)
        readers.append((reader, enrolled.sub, enrolled.token))
    reads, stop = Reads(), threading.Event()
    reader_threads = start_readers(readers, stop, reads, until=stop_starting)

    # When up to USERS users sign up, are confirmed and sign in, ramping up to WORKERS at a time
    shared = Scenario(info, connections=WORKERS)
    ramp = Ramp(WORKERS)
    usernames = [f"load-{run}-{number:04d}" for number in range(USERS)]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(lambda name: new_user(shared, name, ramp, stop_starting), usernames))
    load_s = time.perf_counter() - began
    stop.set()
    for thread in reader_threads:
        thread.join(timeout=60)

    # Then every user who started is signed in and mirrored with their attributes
    started = [outcome for outcome in outcomes if outcome.started]
    failed = [outcome for outcome in started if outcome.error]
    causes = Counter(outcome.error.partition(" (")[0][:80] for outcome in failed)  # step: error type
    rows = {outcome.username: shared.stored_row(outcome.sub) for outcome in started if outcome.sub}
    mirrored = [
        name
        for name, row in rows.items()
        if row is not None and row["username"] == name and row["attributes"].get("custom:tenant") == "load"
    ]
    own_me = Counter(outcome.own_me_status for outcome in started if not outcome.error)
    sign_ups = [outcome.sign_up_s for outcome in started if not outcome.error]
    sign_ins = [outcome.sign_in_s for outcome in started if not outcome.error]
    retried = sum((outcome.retried for outcome in outcomes), Counter[str]())
    server_errors = sum(
        count for status, count in reads.statuses.items() if status >= 500 and status != EMULATOR_TIMEOUT
    )
    processes = (descendants(os.getpid()) - preexisting) | stack_processes(info)
    handlers, handlers_mb = handler_processes(processes)
    orphaned = orphaned_handlers(info)

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
        "started": len(started),
        "workers": WORKERS,
        "ramp_reached": ramp.reached,
        "readers": READERS,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 1),
        "load_s": round(load_s, 1),
        "sign_ups_per_s": round((len(started) - len(failed)) / load_s, 2),
        "sign_up_p50_ms": round(percentile(sign_ups, 0.5) * 1000) if sign_ups else None,
        "sign_up_p99_ms": round(percentile(sign_ups, 0.99) * 1000) if sign_ups else None,
        "sign_in_p50_ms": round(percentile(sign_ins, 0.5) * 1000) if sign_ins else None,
        "sign_in_p99_ms": round(percentile(sign_ins, 0.99) * 1000) if sign_ins else None,
        "failed": len(failed),
        "failed_by_cause": dict(causes),
        "mirrored": len(mirrored),
        "own_get_me": dict(own_me),
        "own_get_me_resets_retried": sum(outcome.resets for outcome in outcomes),
        "emulator_timeouts_retried": dict(retried),
        "reads": reads.total(),
        "wrong_user": len(reads.wrong_user),
        "read_statuses": dict(reads.statuses),
        "read_errors": dict(reads.errors),
        "get_me_p50_ms": round(percentile(reads.latencies, 0.5) * 1000) if reads.latencies else None,
        "get_me_p99_ms": round(percentile(reads.latencies, 0.99) * 1000) if reads.latencies else None,
        "processes_before_stop": len(processes),
        "python_handler_processes": handlers,
        "python_handler_rss_mb": handlers_mb,
        "orphaned_handler_processes": orphaned,
        "orphans": len(orphans),
        "busy_ports": busy_ports,
    }
    for name, value in report.items():
        record_property(name, value)
    print(
        f"\nload: {len(started)} of {USERS} users started in {BUDGET_S:.0f} s, ramped to {ramp.reached} of "
        f"{WORKERS} at once, {READERS} readers: {load_s:.1f} s, {report['sign_ups_per_s']} sign-ups/s, "
        f"{len(failed)} failed, {len(mirrored)} mirrored (load average {report['load_avg_1m_at_end']})"
        f"\n  sign-up + confirm: {figures(sign_ups)}\n  sign-in: {figures(sign_ins)}"
        f"\n  GET /me under load: {figures(reads.latencies)}, statuses {dict(reads.statuses)}, "
        f"errors {dict(reads.errors)}; new users' own GET /me {dict(own_me)} "
        f"({report['own_get_me_resets_retried']} keep-alive resets retried)"
        f"\n  emulator timeouts retried: {dict(retried)}; {EMULATOR_TIMEOUT} = serverless-offline timeout: "
        "reported, not failed"
        f"\n  {handlers} Python handler processes ({handlers_mb} MB RSS), {orphaned} orphaned"
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

    assert len(started) >= MIN_USERS, f"only {len(started)} users started within {BUDGET_S:.0f} s"
    assert not failed
    assert sorted(mirrored) == sorted(outcome.username for outcome in started)
    # a new user's own GET /me answered by us (200) or, after its retries, timed out in the emulator
    assert set(own_me) <= {200, EMULATOR_TIMEOUT}, own_me
    assert server_errors == 0 and not reads.errors and not reads.wrong_user
    assert reads.statuses[200] > 0
    assert orphaned == 0
    assert not orphans
    assert not busy_ports
