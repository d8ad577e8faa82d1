"""The backfill CLI in a subprocess against DynamoDB Local and the Cognito stand-in, with faults.

- Cognito throttles ListUsers (the stand-in admits fewer calls per second than the CLI sends):
  every TooManyRequestsException is retried with backoff, the run completes, nothing is lost.
- The CLI is killed with SIGKILL at random points (several seeds, several kills each) and resumed
  with the same `--checkpoint`: the final summary lists every user exactly once (nothing lost,
  nothing counted twice), `--verify` finds no drift, and the table holds exactly the pool.

Bounded: MIRROR_STRESS_KILL_SEEDS seeds (default 4) x MIRROR_STRESS_KILLS kills (default 3) over a
pool of MIRROR_STRESS_KILL_USERS users (default 3,000); every CLI run has a timeout. Loopback only,
free ports (the stand-in's is MIRROR_STRESS_STANDIN_PORT when set).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.backfill_bench import standin
from bench.cognito_standin import Pool
from tests.support.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
POOL_ID = "eu-west-1_StandIn"
USERS = int(os.environ.get("MIRROR_STRESS_KILL_USERS", "3000"))
SEEDS = int(os.environ.get("MIRROR_STRESS_KILL_SEEDS", "4"))
KILLS = int(os.environ.get("MIRROR_STRESS_KILLS", "3"))
RUN_TIMEOUT = 180.0

pytestmark = pytest.mark.loopback

Stats = Callable[[], dict[str, int]]


@pytest.fixture
def cognito_standin(request: pytest.FixtureRequest) -> Iterator[tuple[str, Stats]]:
    """The stand-in with USERS users; ListUsers calls a second from indirect parametrization (30)."""
    list_rps = str(getattr(request, "param", 30))
    port = int(os.environ.get("MIRROR_STRESS_STANDIN_PORT") or free_port())
    with standin(USERS, port=port, options=["--latency-ms", "20", "--list-rps", list_rps]) as stats:
        yield f"http://127.0.0.1:{port}", stats


def cli_env(cognito_endpoint: str) -> dict[str, str]:
    """This process's environment (fake credentials, the DynamoDB Local endpoint, the table)."""
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=cognito_endpoint,
        PYTHONPATH=str(ROOT),
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    return env


def cli(env: dict[str, str], *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions.backfill",
        "--user-pool-id",
        POOL_ID,
        "--json",
        "--workers",
        "4",
        *options,
    ]


def run(env: dict[str, str], *options: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(  # noqa: S603 - our own CLI, argv built here
        cli(env, *options), cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return done.returncode, summary


def committed_listed(checkpoint: Path) -> int:
    """Users whose page the killed run had committed (0 when it never got that far)."""
    if not checkpoint.exists():
        return 0
    with sqlite3.connect(checkpoint) as db:
        try:
            row = db.execute("SELECT SUM(value) FROM counters WHERE name = 'listed'").fetchone()
        except sqlite3.OperationalError:  # killed before the schema was written
            return 0
    return int(row[0] or 0)


def live_rows(table: str) -> dict[str, int]:
    """sub -> observed_at of every live row (a full consistent Scan)."""
    client = boto3.client("dynamodb")
    rows: dict[str, int] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if not item.get("deleted", {}).get("BOOL", False):
                rows[item["sub"]["S"]] = int(item["observed_at"]["N"])
    return rows


def assert_complete_and_exact(summary: dict[str, Any], table: str, env: dict[str, str]) -> None:
    """Every user listed once, each in exactly one outcome; --verify finds no drift."""
    assert summary["complete"] is True and summary["failed"] == 0
    assert summary["listed"] == USERS  # nothing lost, nothing counted twice
    assert summary["written"] + summary["unchanged"] + summary["skipped"] == USERS
    assert set(live_rows(table)) == set(Pool(USERS).subs)
    code, verify = run(env, "--verify")
    assert (code, verify["missing"], verify["stale"], verify["orphaned"]) == (0, 0, 0, 0), verify
    assert verify["listed"] == USERS and verify["unchanged"] == USERS


@pytest.mark.parametrize("cognito_standin", [5], indirect=True)
def test_cognito_throttling_during_a_backfill_is_retried_and_nothing_is_lost(
    local_mirror, cognito_standin, record_property
):
    # Given a Cognito that admits 5 ListUsers a second while the CLI asks for 20
    endpoint, stats = cognito_standin
    env = cli_env(endpoint)

    # When the backfill runs
    code, summary = run(env, "--max-rps", "20", "--segments", "16")

    # Then Cognito refused calls, the CLI retried them, and the run completed with every user
    served = stats()
    record_property("throttled_by_standin", served.get("ListUsers.throttled", 0))
    record_property("throttles_counted", summary["throttles"])
    record_property("elapsed_s", summary["elapsed_s"])
    refused = served.get("ListUsers.throttled", 0)
    print(f"throttling: {refused} of {served['ListUsers.calls']} ListUsers refused; summary {summary}")
    assert code == 0, summary
    assert served.get("ListUsers.throttled", 0) > 0
    assert summary["throttles"] == served["ListUsers.throttled"]
    assert_complete_and_exact(summary, local_mirror, env)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_a_backfill_killed_at_random_points_resumes_with_nothing_lost_or_duplicated(
    local_mirror, cognito_standin, tmp_path, seed, record_property
):
    # Given a backfill with a checkpoint, killed with SIGKILL at random moments
    endpoint, _ = cognito_standin
    env = cli_env(endpoint)
    checkpoint = tmp_path / "backfill.sqlite"
    options = ("--checkpoint", str(checkpoint), "--max-rps", "10", "--segments", "16")
    rng = random.Random(seed)
    kills: list[tuple[float, int]] = []
    summary: dict[str, Any] | None = None
    for _ in range(KILLS):
        process = subprocess.Popen(  # noqa: S603 - our own CLI, argv built here
            cli(env, *options),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        delay = rng.uniform(0.4, 2.2)
        try:
            out, _ = process.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
            kills.append((round(delay, 2), committed_listed(checkpoint)))
            continue
        summary = json.loads(out.strip().splitlines()[-1])  # it finished before its kill
        break

    # When it is resumed with the same checkpoint until it completes
    code = 0
    if summary is None:
        code, summary = run(env, *options)

    # Then every user is listed exactly once, the mirror holds exactly the pool, no drift
    record_property("kills", json.dumps(kills))
    record_property(
        "final", json.dumps({k: summary[k] for k in ("listed", "written", "unchanged", "skipped")})
    )
    print(f"seed {seed}: kills (after s, users committed) {kills}; final {summary}")
    assert code == 0, summary
    assert kills, "no kill landed while the CLI ran: raise MIRROR_STRESS_KILL_USERS"
    # the table started empty: each user was written once; a page written but not committed
    # before a kill is re-listed on the resume and counted `unchanged` there, never twice
    assert summary["skipped"] == 0
    assert not checkpoint.exists()  # a completed run removes its checkpoint
    assert_complete_and_exact(summary, local_mirror, env)
