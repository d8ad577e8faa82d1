"""serverless-offline (osls) command lines and environments: the mirror's and the example consumer's.

Both run the same `osls offline start` for the stage, with the pool's issuer and app client as
params; the mirror on the repository's venv, the consumer on a venv holding only the built
`cognito_mirror` wheel (scripts/library_venv.py) and plain values where AWS has the mirror's exports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scripts.stack_info import FAKE_CREDENTIALS, REGION, REPAIR_FUNCTION_KEY, ROOT, StackInfo

NODE_BIN = ROOT / "node_modules" / ".bin"
LOCAL_REPAIR_TIMEOUT_S = 15
QUIET_FRAMEWORK = {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}


@dataclass(frozen=True)
class OfflineParams:
    """What both services get as `--param` besides the pool: the reader's cache TTL and the cursor key."""

    cache_ttl_seconds: str
    # Signs GET /users cursors; one per stack start, so that cursors work across its containers.
    cursor_key: str


def osls_offline_argv(info: StackInfo, params: OfflineParams, *extra: str) -> list[str]:
    """`osls offline start` for this stage, with the pool's issuer and client as params."""
    return [
        str(NODE_BIN / "osls"),
        "offline",
        "start",
        "--stage",
        info.stage,
        "--region",
        REGION,
        f"--param=issuerUrl={info.issuer}",
        f"--param=appClientId={info.client_id}",
        f"--param=cacheTtlSeconds={params.cache_ttl_seconds}",
        f"--param=cursorKey={params.cursor_key}",
        *extra,
    ]


def mirror_argv(info: StackInfo, params: OfflineParams) -> list[str]:
    return osls_offline_argv(
        info, params, f"--param=userPoolId={info.user_pool_id}", f"--param=eventBusName={info.event_bus}"
    )


def inherited_env(*dropped_prefixes: str) -> dict[str, str]:
    """This process's environment without the AWS, mirror and JWT settings of the caller's shell."""
    prefixes = ("AWS_", "MIRROR_", "JWT_", "VIRTUAL_ENV", *dropped_prefixes)
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


def mirror_env(info: StackInfo) -> dict[str, str]:
    env = inherited_env()
    env.update(info.client_env())
    env.update(
        {
            # serverless-offline runs Python handlers with `python3` from PATH: the venv's.
            "PATH": str(ROOT / ".venv" / "bin") + os.pathsep + os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "MIRROR_HTTP_PORT": str(info.ports.http),
            "MIRROR_LAMBDA_PORT": str(info.ports.lambda_),
            "MIRROR_STREAMS_CHECKPOINT": str(info.streams_checkpoint),
            # userEvents publishes to moto's server (boto3's service-specific endpoint variable).
            "AWS_ENDPOINT_URL_EVENTBRIDGE": info.events_endpoint,
            **QUIET_FRAMEWORK,
        }
    )
    # From serverless.yml (the stage's tables), not from the client's environment.
    env.pop("MIRROR_TABLE", None)
    env.pop("MIRROR_GROUP_MEMBERS_TABLE", None)
    return env


def consumer_argv(info: StackInfo, params: OfflineParams) -> list[str]:
    """examples/consumer under serverless-offline: plain values where AWS has the mirror's exports."""
    return osls_offline_argv(
        info,
        params,
        "--httpPort",
        str(info.ports.consumer_http),
        "--lambdaPort",
        str(info.ports.consumer_lambda),
        f"--param=mirrorTable={info.table}",
        f"--param=mirrorRepairFunction={info.function_name(REPAIR_FUNCTION_KEY)}",
        f"--param=mirrorEventBus={info.event_bus}",
        # serverless-offline starts a function's Python on its first call (seconds here, not
        # the ~1 s of Lambda's init): give a cold repair function time.
        f"--param=repairTimeoutSeconds={LOCAL_REPAIR_TIMEOUT_S}",
    )


def consumer_env(info: StackInfo, venv: Path) -> dict[str, str]:
    """A user's service: only the library venv's Python, no repository path, no Cognito endpoint."""
    env = inherited_env("PYTHON")
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
            **QUIET_FRAMEWORK,
        }
    )
    return env
