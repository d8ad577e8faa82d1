"""`make dev`: start the local stack, print its endpoints and a sample user's token, run until Ctrl-C.

    python -m scripts.localstack

The stack itself is scripts/stack.py (`LocalStack`); its ports come from MIRROR_DYNAMODB_PORT,
MIRROR_COGNITO_PORT, MIRROR_HTTP_PORT, MIRROR_LAMBDA_PORT, MIRROR_CONSUMER_HTTP_PORT,
MIRROR_CONSUMER_LAMBDA_PORT and MIRROR_EVENTS_PORT (scripts/ports.py). Exit codes: 0 after Ctrl-C,
SIGTERM or SIGHUP; 1 when a service cannot start or stops unexpectedly (one line on stderr or stdout).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator

from scripts.dynamodb_local import LocalServiceError
from scripts.stack import LocalStack
from scripts.stack_info import StackInfo
from scripts.user_pool import create_user, sign_in

DEV_USER = "dev-user"
DEV_PASSWORD = "Dev-Passw0rd!"  # noqa: S105 - a local sample user


def dev_token(info: StackInfo) -> str:
    """An access token for a sample user (admin-created, so it is mirrored on sign-in)."""
    cognito = info.client("cognito-idp")
    attributes = {"email": "dev@example.com", "given_name": "Dev", "custom:tenant": "acme"}
    create_user(cognito, info.user_pool_id, DEV_USER, attributes, password=DEV_PASSWORD)
    return sign_in(cognito, info.client_id, DEV_USER, DEV_PASSWORD)


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
            f"  group members      {info.group_members_table}   (table fed by groupMembers from the stream)",
            f"  logs               {info.state_dir / 'logs'}",
            f"  freshness          python -m scripts.emf {info.state_dir / 'logs'}/serverless-offline.log",
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
