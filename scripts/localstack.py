"""The local stack: DynamoDB Local, cognito-local, serverless-offline (osls) and the example consumer.

    python -m scripts.localstack          # `make dev`: start, print endpoints, run until Ctrl-C

One object, `LocalStack`, starts the three services in order, creates the mirror table from
`serverless.yml`, a user pool (with custom:tenant and custom:plan) and an app client, waits until
each answers a health check, and stops every child (process group) on `stop()`. Next to the
mirror it runs the example consumer service (examples/consumer, a second serverless-offline) on a
venv holding only the built `cognito_mirror` wheel (scripts/library_venv.py). The demo and the
integration tests use it too. Ports come from MIRROR_DYNAMODB_PORT, MIRROR_COGNITO_PORT,
MIRROR_HTTP_PORT, MIRROR_LAMBDA_PORT, MIRROR_CONSUMER_HTTP_PORT and MIRROR_CONSUMER_LAMBDA_PORT
(defaults 8000, 9229, 3000, 3002, 3100, 3102); state (cognito-local's config and database, service
logs, the library venv) lives under the git-ignored `.local/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from scripts.dynamodb_local import (
    DynamoDBLocal,
    LocalServiceError,
    port_in_use,
    start_dynamodb_local,
    wait_for_port,
)
from scripts.event_relay import Relay, create_rule, rule_pattern
from scripts.library_venv import library_venv
from scripts.table import STATE_TABLE, create_table

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
NODE_BIN = ROOT / "node_modules" / ".bin"
COGNITO_LOCAL = ROOT / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js"
SERVICE = "cognito-mirror"
CONSUMER_DIR = ROOT / "examples" / "consumer"
CONSUMER_SERVICE = "mirror-consumer"
# The consumer's function subscribed to the user events (examples/consumer/serverless.yml).
EVENTS_FUNCTION_KEY = "userChanges"
# The mirror's function a reader invokes on a miss (serverless.yml `repairUser`).
REPAIR_FUNCTION_KEY = "repairUser"
LOCAL_REPAIR_TIMEOUT_S = 15
REGION = "eu-west-1"
DEFAULT_STAGE = "local"
ADMIN_GROUP = "admin"
# Members list their own tenant through GET /users (serverless.yml tenantAdminGroup).
TENANT_ADMIN_GROUP = "tenant-admin"
# DynamoDB Local and cognito-local accept any credentials; botocore needs some.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
PORT_VARIABLES = {
    "dynamodb": ("MIRROR_DYNAMODB_PORT", 8000),
    "cognito": ("MIRROR_COGNITO_PORT", 9229),
    "http": ("MIRROR_HTTP_PORT", 3000),
    "lambda_": ("MIRROR_LAMBDA_PORT", 3002),
    "consumer_http": ("MIRROR_CONSUMER_HTTP_PORT", 3100),
    "consumer_lambda": ("MIRROR_CONSUMER_LAMBDA_PORT", 3102),
    # moto's server: the user event bus, the consumer's rule and its queue (scripts/event_relay.py).
    "events": ("MIRROR_EVENTS_PORT", 4010),
}
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Ports:
    dynamodb: int
    cognito: int
    http: int
    lambda_: int
    # The example consumer's serverless-offline (HTTP API, Lambda API).
    consumer_http: int = PORT_VARIABLES["consumer_http"][1]
    consumer_lambda: int = PORT_VARIABLES["consumer_lambda"][1]
    events: int = PORT_VARIABLES["events"][1]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        values: dict[str, int] = {}
        for key, (variable, default) in PORT_VARIABLES.items():
            raw = env.get(variable, "").strip() or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise LocalServiceError(f"{variable} must be a port number, got {raw!r}")
            values[key] = int(raw)
        return cls(**values)

    @classmethod
    def free(cls, env: Mapping[str, str] = os.environ) -> Ports:
        """Ports free now, one per service port (for tests next to a running `make dev`).

        From MIRROR_PORT_RANGE ("13000-13999") when set, else whatever the kernel hands out.
        """
        span = env.get("MIRROR_PORT_RANGE", "").strip()
        if span:
            return cls._free_in_range(span)
        sockets = []
        try:
            for _ in PORT_VARIABLES:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                sockets.append(sock)
            numbers = [sock.getsockname()[1] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        return cls(*numbers)

    @classmethod
    def _free_in_range(cls, span: str) -> Ports:
        low, _, high = span.partition("-")
        if not (low.isdigit() and high.isdigit() and 0 < int(low) < int(high) < 65536):
            raise LocalServiceError(f"MIRROR_PORT_RANGE must look like 13000-13999, got {span!r}")
        candidates = list(range(int(low), int(high) + 1))
        random.shuffle(candidates)  # two test runs in one range rarely pick the same ports
        found = [port for port in candidates[:200] if not port_in_use(port)][: len(PORT_VARIABLES)]
        if len(found) < len(PORT_VARIABLES):
            raise LocalServiceError(f"no {len(PORT_VARIABLES)} free ports in MIRROR_PORT_RANGE {span}")
        return cls(*found)

    def all(self) -> tuple[int, ...]:
        return tuple(getattr(self, key) for key in PORT_VARIABLES)

    def variable_of(self, port: int) -> str:
        for key, (variable, _) in PORT_VARIABLES.items():
            if getattr(self, key) == port:
                return variable
        return "the port variables"


@dataclass(frozen=True)
class StackInfo:
    """What a client of the running stack needs: endpoints, ids, names."""

    ports: Ports
    stage: str
    region: str
    table: str
    user_pool_id: str
    client_id: str
    state_dir: Path

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.dynamodb}"

    @property
    def cognito_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.cognito}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def lambda_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.lambda_}"

    @property
    def consumer_url(self) -> str:
        """The example consumer's HTTP API (`GET /hello`)."""
        return f"http://127.0.0.1:{self.ports.consumer_http}"

    @property
    def events_endpoint(self) -> str:
        """moto's server: EventBridge and SQS."""
        return f"http://127.0.0.1:{self.ports.events}"

    @property
    def event_bus(self) -> str:
        """The mirror's user change event bus (serverless.yml UserEventBus)."""
        return f"{SERVICE}-{self.stage}-user-events"

    @property
    def replica_table(self) -> str:
        """The example consumer's replica of the users, fed by the events (examples/consumer)."""
        return f"{CONSUMER_SERVICE}-{self.stage}-user-replica"

    @property
    def issuer(self) -> str:
        return f"{self.cognito_endpoint}/{self.user_pool_id}"

    def function_name(self, key: str) -> str:
        """The Lambda name serverless-offline serves for a `serverless.yml` function key."""
        return f"{SERVICE}-{self.stage}-{key}"

    def client_env(self) -> dict[str, str]:
        """Environment for a process (CLI, Lambda) that talks to this stack."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": self.cognito_endpoint,
            "MIRROR_TABLE": self.table,
            "USER_POOL_ID": self.user_pool_id,
        }

    @property
    def consumer_lambda_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.consumer_lambda}"

    def client(self, service: str, connections: int = 10, endpoint: str | None = None) -> Any:
        """A boto3 client for `dynamodb`, `cognito-idp` or `lambda` on this stack.

        `connections`: its HTTP pool size (botocore's default 10), for callers sharing it across threads.
        """
        import boto3
        from botocore.config import Config

        endpoints = {
            "dynamodb": self.dynamodb_endpoint,
            "cognito-idp": self.cognito_endpoint,
            "lambda": self.lambda_endpoint,
            "events": self.events_endpoint,
            "sqs": self.events_endpoint,
        }
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint or endpoints[service],
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            # An invoke is not retried: a hung handler fails once, after the read timeout.
            config=Config(
                retries={"mode": "standard", "total_max_attempts": 1 if service == "lambda" else 2},
                read_timeout=30,
                max_pool_connections=connections,
            ),
        )


@dataclass
class Child:
    """A service process in its own process group, so stopping it stops all it spawned."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # Children that outlive their leader (serverless-offline's Python workers) share its group,
        # even when the leader died first: kill them and wait until none is left.
        kill_group(self.process.pid)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL every process of group `pgid` and wait (bounded) until none is alive."""
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.05)


def _spawn(name: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], logs: Path) -> Child:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name=name, process=process, log=log)


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


def _wait_for_child_port(child: Child, port: int) -> None:
    try:
        wait_for_port(port, START_TIMEOUT_S, child.process)
    except LocalServiceError as exc:
        raise LocalServiceError(f"{child.name}: {exc} (see {child.log})") from None


def _wait_until(check: Callable[[], bool], what: str, timeout: float, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise LocalServiceError(
                f"{child.name} exited with code {child.process.returncode} (see {child.log})"
            )
        with contextlib.suppress(requests.RequestException):
            if check():
                return
        time.sleep(0.1)
    raise LocalServiceError(f"{what} did not answer within {timeout:.0f} s")


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

        self.say(f"starting DynamoDB Local on :{self.ports.dynamodb}")
        self._dynamodb = start_dynamodb_local(
            self.ports.dynamodb, timeout=START_TIMEOUT_S, log=logs / "dynamodb.log"
        )
        ddb = self._partial_info().client("dynamodb")
        # With its stream (the userEvents function reads it), unlike the unit tests' tables.
        create_table(ddb, self.table, stream=True)
        create_table(ddb, f"{SERVICE}-{self.stage}-reconcile-state", resource=STATE_TABLE)
        create_table(
            ddb,
            self._partial_info().replica_table,
            resource=(CONSUMER_DIR / "serverless.yml", "UserReplicaTable"),
        )
        # The stream plugin resumes from its checkpoint: a new table's shards start afresh.
        self._streams_checkpoint.unlink(missing_ok=True)

        self.say(f"starting cognito-local on 127.0.0.1:{self.ports.cognito}")
        config = cognito_local_config(self.ports)
        config["TriggerFunctions"] = {
            "PostConfirmation": f"{SERVICE}-{self.stage}-postConfirmation",
            "PostAuthentication": f"{SERVICE}-{self.stage}-postAuthentication",
        }
        (cognito_dir / ".cognito" / "config.json").write_text(json.dumps(config, indent=2))
        cognito = self._add(
            _spawn(
                "cognito-local",
                ["node", str(COGNITO_LOCAL)],
                cwd=cognito_dir,
                env={**os.environ, "PORT": str(self.ports.cognito), "HOST": "127.0.0.1"},
                logs=logs,
            )
        )
        _wait_for_child_port(cognito, self.ports.cognito)
        pool_id, client_id = create_pool(self._partial_info().client("cognito-idp"))
        info = StackInfo(
            ports=self.ports,
            stage=self.stage,
            region=REGION,
            table=self.table,
            user_pool_id=pool_id,
            client_id=client_id,
            state_dir=self.state_dir,
        )

        self.say(f"starting moto's server (EventBridge, SQS) on 127.0.0.1:{self.ports.events}")
        moto = self._add(
            _spawn(
                "moto-server",
                [
                    str(ROOT / ".venv" / "bin" / "moto_server"),
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(self.ports.events),
                ],
                cwd=ROOT,
                env={**os.environ, **FAKE_CREDENTIALS},
                logs=logs,
            )
        )

        self.say(f"starting serverless-offline on 127.0.0.1:{self.ports.http} (Lambda :{self.ports.lambda_})")
        argv, env = self._offline_argv(info), self._offline_env(info)
        offline = self._add(_spawn("serverless-offline", argv, cwd=ROOT, env=env, logs=logs))
        # The consumer starts alongside (it needs the mirror only when a request comes in).
        self.say(
            f"starting the example consumer on 127.0.0.1:{self.ports.consumer_http}"
            f" (Lambda :{self.ports.consumer_lambda})"
        )
        consumer_argv, consumer_env = self._consumer_argv(info), self._consumer_env(info, library_venv())
        consumer = self._add(
            _spawn("consumer-offline", consumer_argv, cwd=CONSUMER_DIR, env=consumer_env, logs=logs)
        )
        _wait_for_child_port(offline, self.ports.lambda_)
        _wait_for_child_port(moto, self.ports.events)
        queue_url = create_rule(
            info.client("events"),
            info.client("sqs"),
            bus=info.event_bus,
            rule=f"{CONSUMER_SERVICE}-{self.stage}-{EVENTS_FUNCTION_KEY}",
            pattern=rule_pattern(CONSUMER_DIR / "serverless.yml", EVENTS_FUNCTION_KEY),
        )
        # The authorizer answers 401 without a token: the HTTP API is routing.
        _wait_until(
            lambda: requests.get(f"{info.http_url}/me", timeout=2).status_code == 401,
            "serverless-offline's HTTP API",
            START_TIMEOUT_S,
            offline,
        )
        _wait_until(
            lambda: requests.get(f"{info.consumer_url}/hello", timeout=2).status_code == 401,
            "the example consumer's HTTP API",
            START_TIMEOUT_S,
            consumer,
        )
        _wait_until(
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
            function=f"{CONSUMER_SERVICE}-{self.stage}-{EVENTS_FUNCTION_KEY}",
        )
        self._relay.start()
        return info

    @property
    def _streams_checkpoint(self) -> Path:
        return self.state_dir / "ddb-streams-checkpoint.json"

    def _partial_info(self) -> StackInfo:
        return StackInfo(self.ports, self.stage, REGION, self.table, "", "", self.state_dir)

    def _add(self, child: Child) -> Child:
        self._children.append(child)
        return child

    def _osls_offline_argv(self, info: StackInfo, *extra: str) -> list[str]:
        """`osls offline start` for this stage, with the pool's issuer and client as params."""
        return [
            str(NODE_BIN / "osls"),
            "offline",
            "start",
            "--stage",
            self.stage,
            "--region",
            REGION,
            f"--param=issuerUrl={info.issuer}",
            f"--param=appClientId={info.client_id}",
            f"--param=cacheTtlSeconds={self.cache_ttl_seconds}",
            f"--param=cursorKey={self.cursor_key}",
            *extra,
        ]

    def _offline_argv(self, info: StackInfo) -> list[str]:
        return self._osls_offline_argv(
            info, f"--param=userPoolId={info.user_pool_id}", f"--param=eventBusName={info.event_bus}"
        )

    def _offline_env(self, info: StackInfo) -> dict[str, str]:
        venv_bin = str(ROOT / ".venv" / "bin")
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "MIRROR_", "JWT_", "VIRTUAL_ENV"))
        }
        env.update(info.client_env())
        env.update(
            {
                # serverless-offline runs Python handlers with `python3` from PATH: the venv's.
                "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
                "PYTHONPATH": str(ROOT),
                "MIRROR_HTTP_PORT": str(self.ports.http),
                "MIRROR_LAMBDA_PORT": str(self.ports.lambda_),
                "MIRROR_STREAMS_CHECKPOINT": str(self._streams_checkpoint),
                # userEvents publishes to moto's server (boto3's service-specific endpoint variable).
                "AWS_ENDPOINT_URL_EVENTBRIDGE": info.events_endpoint,
                "SLS_TELEMETRY_DISABLED": "1",
                "SLS_NOTIFICATIONS_MODE": "off",
            }
        )
        env.pop("MIRROR_TABLE", None)  # from serverless.yml's provider.environment (the stage's table)
        return env

    def _consumer_argv(self, info: StackInfo) -> list[str]:
        """examples/consumer under serverless-offline: plain values where AWS has the mirror's exports."""
        return self._osls_offline_argv(
            info,
            "--httpPort",
            str(self.ports.consumer_http),
            "--lambdaPort",
            str(self.ports.consumer_lambda),
            f"--param=mirrorTable={info.table}",
            f"--param=mirrorRepairFunction={info.function_name(REPAIR_FUNCTION_KEY)}",
            f"--param=mirrorEventBus={info.event_bus}",
            # serverless-offline starts a function's Python on its first call (seconds here, not
            # the ~1 s of Lambda's init): give a cold repair function time.
            f"--param=repairTimeoutSeconds={LOCAL_REPAIR_TIMEOUT_S}",
        )

    def _consumer_env(self, info: StackInfo, venv: Path) -> dict[str, str]:
        """A user's service: only the library venv's Python, no repository path, no Cognito endpoint."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "MIRROR_", "JWT_", "VIRTUAL_ENV", "PYTHON"))
        }
        env.update(
            {
                **FAKE_CREDENTIALS,
                "AWS_REGION": info.region,
                "AWS_DEFAULT_REGION": info.region,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ENDPOINT_URL_DYNAMODB": info.dynamodb_endpoint,
                # The repair function is the mirror's: reached through the mirror's Lambda API.
                "AWS_ENDPOINT_URL_LAMBDA": info.lambda_endpoint,
                # serverless-offline runs handlers with `python3` from PATH: the library venv's.
                "PATH": str(venv / "bin") + os.pathsep + os.environ.get("PATH", ""),
                "SLS_TELEMETRY_DISABLED": "1",
                "SLS_NOTIFICATIONS_MODE": "off",
            }
        )
        return env

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


def create_pool(cognito: Any, name: str = "mirror-local") -> tuple[str, str]:
    """A user pool with custom:tenant and custom:plan, an `admin` group and an app client."""
    pool = cognito.create_user_pool(
        PoolName=name,
        Schema=[
            {"Name": "tenant", "AttributeDataType": "String", "Mutable": True},
            {"Name": "plan", "AttributeDataType": "String", "Mutable": True},
        ],
    )["UserPool"]
    cognito.create_group(GroupName=ADMIN_GROUP, UserPoolId=pool["Id"])
    cognito.create_group(GroupName=TENANT_ADMIN_GROUP, UserPoolId=pool["Id"])
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="mirror-local-app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return str(pool["Id"]), str(client["ClientId"])


DEV_USER = "dev-user"
DEV_PASSWORD = "Dev-Passw0rd!"  # noqa: S105 - a local sample user


def dev_token(info: StackInfo) -> str:
    """An access token for a sample user (admin-created, so it is mirrored on sign-in)."""
    cognito = info.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=info.user_pool_id,
        Username=DEV_USER,
        UserAttributes=[
            {"Name": "email", "Value": "dev@example.com"},
            {"Name": "given_name", "Value": "Dev"},
            {"Name": "custom:tenant", "Value": "acme"},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=info.user_pool_id, Username=DEV_USER, Password=DEV_PASSWORD, Permanent=True
    )
    auth = cognito.initiate_auth(
        ClientId=info.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": DEV_USER, "PASSWORD": DEV_PASSWORD},
    )
    return str(auth["AuthenticationResult"]["AccessToken"])


def describe(info: StackInfo, token: str) -> str:
    return "\n".join(
        [
            "",
            "Local stack ready (everything on 127.0.0.1; DynamoDB Local listens on all interfaces)",
            f"  HTTP API           {info.http_url}   (GET /me, GET /users/{{sub}})",
            f"  Lambda API         {info.lambda_endpoint}   (functions {info.function_name('<key>')})",
            f"  example consumer   {info.consumer_url}   (GET /hello; examples/consumer, cognito_mirror)",
            f"  user events        {info.events_endpoint}   (moto: EventBridge bus {info.event_bus}, SQS)",
            f"  consumer replica   {info.replica_table}   (table fed by userChanges from the events)",
            f"  cognito-local      {info.cognito_endpoint}",
            f"  DynamoDB Local     {info.dynamodb_endpoint}",
            f"  user pool          {info.user_pool_id}",
            f"  app client         {info.client_id}",
            f"  issuer             {info.issuer}",
            f"  mirror table       {info.table}",
            f"  logs               {info.state_dir / 'logs'}",
            "",
            f"Sample user {DEV_USER!r} (password {DEV_PASSWORD!r}); try:",
            f"  export TOKEN='{token}'",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {info.http_url}/me',
            f'  curl -s -H "Authorization: Bearer $TOKEN" {info.consumer_url}/hello',
            "",
            "Point the CLI and boto3 at it:",
            *(f"  export {name}={value}" for name, value in info.client_env().items()),
            "",
            "Ctrl-C stops every service.",
        ]
    )


class _Stop(Exception):
    """SIGTERM or SIGHUP: shut down like Ctrl-C."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main() -> int:
    stack: LocalStack | None = None
    with _stop_on_signals():
        try:
            stack = LocalStack()
            info = stack.start()
            token = dev_token(info)
            print(describe(info, token))
            print(f"(ready in {stack.ready_seconds:.1f} s)", flush=True)
            while not (dead := stack.dead_children()):
                time.sleep(0.5)
            print(f"error: {', '.join(dead)} stopped unexpectedly (see {info.state_dir / 'logs'})")
            return 1
        except LocalServiceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, _Stop):
            print("\nstopping the local stack")
            return 0
        finally:
            if stack is not None:
                stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
