"""The local stack: DynamoDB Local, cognito-local, moto's server, serverless-offline and the example consumer.

One object, `LocalStack`, starts the services in order, creates the mirror table from
`serverless.yml`, seeds a user pool (scripts/user_pool.py) and an app client, waits until each
service answers a health check, and stops every child (process group) on `stop()`. Next to the
mirror it runs the example consumer service (examples/consumer, a second serverless-offline) on a
venv holding only the built `cognito_mirror` wheel (scripts/library_venv.py). `make dev`
(scripts/localstack.py), the demo, the integration tests and the benches use it. State
(cognito-local's config and database, service logs, the library venv) lives under the git-ignored
`.local/`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from scripts.dynamodb_local import DynamoDBLocal, LocalServiceError, port_in_use, start_dynamodb_local
from scripts.event_relay import Relay, create_rule, rule_pattern
from scripts.library_venv import library_venv
from scripts.offline import NODE_BIN, OfflineParams, consumer_argv, consumer_env, mirror_argv, mirror_env
from scripts.ports import Ports
from scripts.processes import START_TIMEOUT_S, Child, kill_group, spawn, wait_for_child_port, wait_until
from scripts.stack_info import (
    CONSUMER_DIR,
    CONSUMER_SERVICE,
    DEFAULT_STAGE,
    EVENTS_FUNCTION_KEY,
    FAKE_CREDENTIALS,
    REGION,
    ROOT,
    SERVICE,
    STATE_DIR,
    StackInfo,
)
from scripts.table import GROUP_MEMBERS_TABLE, STATE_TABLE, create_table
from scripts.user_pool import create_pool

COGNITO_LOCAL = ROOT / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js"


def check_prerequisites() -> None:
    """Java, node and the npm packages, or one clear line saying what is missing."""
    if shutil.which("java") is None:
        raise LocalServiceError("java not found: DynamoDB Local needs Java 17 on PATH")
    if shutil.which("node") is None:
        raise LocalServiceError("node not found: cognito-local and serverless-offline need Node 20 on PATH")
    if not COGNITO_LOCAL.is_file() or not (NODE_BIN / "osls").exists():
        raise LocalServiceError("node packages missing: run `make setup-node` (npm ci) first")
    if not (ROOT / ".venv" / "bin" / "python3").exists():
        raise LocalServiceError(".venv missing: run `make setup` first")


def cognito_local_config(ports: Ports) -> dict[str, Any]:
    """cognito-local's `.cognito/config.json`: triggers go to serverless-offline's Lambda API."""
    return {
        "LambdaClient": {
            "endpoint": f"http://127.0.0.1:{ports.lambda_}",
            "region": REGION,
            "credentials": {
                "accessKeyId": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "secretAccessKey": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            },
        },
        "TriggerFunctions": {},  # filled in by LocalStack once the stage is known
        "TokenConfig": {"IssuerDomain": f"http://127.0.0.1:{ports.cognito}"},
        "ServerConfig": {"hostname": "127.0.0.1", "port": ports.cognito},
        # Plain usernames (not emails), as in the pool the project deploys.
        "UserPoolDefaults": {"UsernameAttributes": []},
    }


@dataclass
class LocalStack:
    """Start with `start()` (or `with LocalStack(...) as info:`), stop with `stop()`."""

    ports: Ports = field(default_factory=Ports.from_env)
    stage: str = DEFAULT_STAGE
    state_dir: Path = STATE_DIR / "dev"
    cache_ttl_seconds: str = "0"
    # Signs GET /users cursors; one per stack start, so that cursors work across its containers.
    cursor_key: str = field(default_factory=lambda: secrets.token_hex(32))
    say: Callable[[str], None] = print
    info: StackInfo | None = None
    ready_seconds: float = 0.0
    _dynamodb: DynamoDBLocal | None = None
    _relay: Relay | None = None
    _children: list[Child] = field(default_factory=list)

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def table(self) -> str:
        return f"{SERVICE}-{self.stage}-users"

    @property
    def offline_params(self) -> OfflineParams:
        return OfflineParams(cache_ttl_seconds=self.cache_ttl_seconds, cursor_key=self.cursor_key)

    def start(self) -> StackInfo:
        began = time.monotonic()
        check_prerequisites()
        for port in self.ports.all():
            if port_in_use(port):
                raise LocalServiceError(
                    f"port {port} is already in use (set {self.ports.variable_of(port)} to another one)"
                )
        try:
            self.info = self._start_services()
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - began
        return self.info

    def _start_services(self) -> StackInfo:
        logs = self.state_dir / "logs"
        cognito_dir = self.state_dir / "cognito"
        # Fresh state each run: DynamoDB Local is in memory, so the pool must be new too.
        shutil.rmtree(cognito_dir, ignore_errors=True)
        (cognito_dir / ".cognito").mkdir(parents=True)
        shutil.rmtree(logs, ignore_errors=True)  # each run's logs alone, for "see <log>"
        logs.mkdir(parents=True)
        partial = StackInfo(self.ports, self.stage, REGION, self.table, "", "", self.state_dir)

        self.say(f"starting DynamoDB Local on :{self.ports.dynamodb}")
        self._dynamodb = start_dynamodb_local(
            self.ports.dynamodb, timeout=START_TIMEOUT_S, log=logs / "dynamodb.log"
        )
        ddb = partial.client("dynamodb")
        # With its stream (the userEvents function reads it), unlike the unit tests' tables.
        create_table(ddb, self.table, stream=True)
        create_table(ddb, f"{SERVICE}-{self.stage}-reconcile-state", resource=STATE_TABLE)
        create_table(ddb, partial.group_members_table, resource=GROUP_MEMBERS_TABLE)
        create_table(
            ddb, partial.replica_table, resource=(CONSUMER_DIR / "serverless.yml", "UserReplicaTable")
        )
        # The stream plugin resumes from its checkpoint: a new table's shards start afresh.
        partial.streams_checkpoint.unlink(missing_ok=True)

        self.say(f"starting cognito-local on 127.0.0.1:{self.ports.cognito}")
        config = cognito_local_config(self.ports)
        config["TriggerFunctions"] = {
            "PostConfirmation": partial.function_name("postConfirmation"),
            "PostAuthentication": partial.function_name("postAuthentication"),
        }
        (cognito_dir / ".cognito" / "config.json").write_text(json.dumps(config, indent=2))
        cognito_env = {**os.environ, "PORT": str(self.ports.cognito), "HOST": "127.0.0.1"}
        cognito = self._add(
            spawn("cognito-local", ["node", str(COGNITO_LOCAL)], cwd=cognito_dir, env=cognito_env, logs=logs)
        )
        wait_for_child_port(cognito, self.ports.cognito)
        pool_id, client_id = create_pool(partial.client("cognito-idp"))
        info = StackInfo(self.ports, self.stage, REGION, self.table, pool_id, client_id, self.state_dir)

        self.say(f"starting moto's server (EventBridge, SQS) on 127.0.0.1:{self.ports.events}")
        moto_argv = [
            str(ROOT / ".venv" / "bin" / "moto_server"),
            "-H",
            "127.0.0.1",
            "-p",
            str(self.ports.events),
        ]
        moto = self._add(
            spawn("moto-server", moto_argv, cwd=ROOT, env={**os.environ, **FAKE_CREDENTIALS}, logs=logs)
        )

        self.say(f"starting serverless-offline on 127.0.0.1:{self.ports.http} (Lambda :{self.ports.lambda_})")
        offline = self._add(self._spawn_offline(info))
        # The consumer starts alongside (it needs the mirror only when a request comes in).
        self.say(
            f"starting the example consumer on 127.0.0.1:{self.ports.consumer_http}"
            f" (Lambda :{self.ports.consumer_lambda})"
        )
        argv, env = consumer_argv(info, self.offline_params), consumer_env(info, library_venv())
        consumer = self._add(spawn("consumer-offline", argv, cwd=CONSUMER_DIR, env=env, logs=logs))
        wait_for_child_port(offline, self.ports.lambda_)
        wait_for_child_port(moto, self.ports.events)
        consumer_function = f"{CONSUMER_SERVICE}-{self.stage}-{EVENTS_FUNCTION_KEY}"
        queue_url = create_rule(
            info.client("events"),
            info.client("sqs"),
            bus=info.event_bus,
            rule=consumer_function,
            pattern=rule_pattern(CONSUMER_DIR / "serverless.yml", EVENTS_FUNCTION_KEY),
        )
        self._wait_offline_routes(offline, info)
        wait_until(
            lambda: requests.get(f"{info.consumer_url}/hello", timeout=2).status_code == 401,
            "the example consumer's HTTP API",
            START_TIMEOUT_S,
            consumer,
        )
        wait_until(
            lambda: requests.get(f"{info.cognito_endpoint}/{pool_id}/.well-known/jwks.json", timeout=2).ok,
            "cognito-local's JWKS",
            START_TIMEOUT_S,
            cognito,
        )
        ddb.describe_table(TableName=self.table)
        self._relay = Relay(
            info.client("sqs"),
            info.client("lambda", endpoint=info.consumer_lambda_endpoint),
            queue_url=queue_url,
            function=consumer_function,
        )
        self._relay.start()
        return info

    def _spawn_offline(self, info: StackInfo) -> Child:
        argv, env = mirror_argv(info, self.offline_params), mirror_env(info)
        return spawn("serverless-offline", argv, cwd=ROOT, env=env, logs=self.state_dir / "logs")

    def _wait_offline_routes(self, offline: Child, info: StackInfo) -> None:
        # The authorizer answers 401 without a token: the HTTP API is routing.
        wait_until(
            lambda: requests.get(f"{info.http_url}/me", timeout=2).status_code == 401,
            "serverless-offline's HTTP API",
            START_TIMEOUT_S,
            offline,
        )

    def restart_offline(self, *, down_s: float = 0.0) -> None:
        """Kill the mirror's serverless-offline as a crash would (SIGKILL to its whole process group:
        nothing gets to save), stay down `down_s`, start it again with the same arguments and wait
        until it routes. The stream checkpoint file is kept: the stream plugin resumes after the
        last batch whose handler had finished (docs/LOCAL.md)."""
        if self.info is None:
            raise LocalServiceError("the stack is not running")
        (index,) = [i for i, child in enumerate(self._children) if child.name == "serverless-offline"]
        crashed = self._children[index]
        kill_group(crashed.process.pid)
        crashed.process.wait(timeout=5)
        time.sleep(down_s)
        offline = self._children[index] = self._spawn_offline(self.info)
        wait_for_child_port(offline, self.ports.lambda_)
        self._wait_offline_routes(offline, self.info)

    def _add(self, child: Child) -> Child:
        self._children.append(child)
        return child

    def dead_children(self) -> list[str]:
        names = [child.name for child in self._children if not child.alive()]
        if self._dynamodb is not None and self._dynamodb.process.poll() is not None:
            names.append("DynamoDB Local")
        return names

    def stop(self) -> None:
        """Stop every child, newest first; safe to call twice."""
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        while self._children:
            self._children.pop().stop()
        if self._dynamodb is not None:
            self._dynamodb.stop()
            self._dynamodb = None
