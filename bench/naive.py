"""The seed's approach (bench/naive_getuser_handler.py) on the same stand-ins, vs the mirror.

Cognito stand-in: moto's server on 127.0.0.1 (real GetUser wire protocol, a real access token
from InitiateAuth, NO injected latency: real Cognito answers over the internet, so these
naive figures are a lower bound). The quota arithmetic is printed as a separate labelled line.
"""

from __future__ import annotations

from typing import Any

from bench.api import call_get_me
from bench.fixtures import FakeLambdaContext, get_me_event, load_event
from bench.stack import Stack
from bench.stats import Report, figure, quiet_stdout, timed_pair
from scripts.user_pool import create_pool, create_user, sign_in

PASSWORD = "Bench-Passw0rd!"  # noqa: S105 - a throwaway user on a local moto server

# Published Cognito quotas (GetUser/AdminGetUser: UserRead category) and DynamoDB on-demand defaults.
COGNITO_ACCOUNT_RPS = 120
COGNITO_PER_USER_RPS = 10
DYNAMODB_TABLE_RRU = 40_000


def access_token(stack: Stack) -> str:
    """A user like the fixture's, in a fresh moto pool, signed in: its access token."""
    idp = stack.cognito_client()
    pool_id, client_id = create_pool(idp, "mirror-bench", client_name="bench")
    event = load_event("post_authentication")
    attrs = {
        k: v for k, v in event["request"]["userAttributes"].items() if not k.startswith(("sub", "cognito:"))
    }
    create_user(idp, pool_id, event["userName"], attrs, password=PASSWORD)
    return sign_in(idp, client_id, event["userName"], PASSWORD)


def quota_line() -> str:
    return " ".join(
        [
            "QUOTA ARITHMETIC (published limits, not measured): the naive handler makes 1 GetUser",
            f"per request, so the API is capped at {COGNITO_ACCOUNT_RPS} requests/s for the whole account",
            f"(shared with every other GetUser/AdminGetUser caller) and {COGNITO_PER_USER_RPS} requests/s",
            "per user.",
            "The mirror makes 0 Cognito calls per request (1 AdminGetUser only when the mirror has no row",
            "for the user) and at most 1 GetItem per user per cache TTL (default 30 s) per warm container,",
            f"on an on-demand table (default quota {DYNAMODB_TABLE_RRU:,} read request units/s per table,",
            "adjustable).",
        ]
    )


def run(stack: Stack, token: str, *, samples: int) -> Report:
    """`token`: an access token of the fixture user on the Cognito stand-in (`access_token`)."""
    from bench import naive_getuser_handler
    from functions.api import handler
    from functions.common.reader import mirror_reader

    event = get_me_event()
    naive_event = get_me_event()
    naive_event["headers"]["authorization"] = f"Bearer {token}"
    context = FakeLambdaContext()

    def naive() -> None:
        response: dict[str, Any] = naive_getuser_handler.handler(naive_event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"naive handler answered {response['statusCode']}: {response['body']}")

    def mirror() -> None:
        call_get_me(handler, event, context)

    warmup = min(100, samples)
    with quiet_stdout():
        miss, naive_a = timed_pair(mirror, naive, samples, warmup=warmup, before=mirror_reader().cache.clear)
        hit, naive_b = timed_pair(mirror, naive, samples, warmup=warmup)
    label = "naive GET /me: GetUser per request (moto stand-in, no added latency)"
    report = Report(
        "naive_getuser",
        setup={
            "cognito_standin": f"moto server {stack.cognito.endpoint}",
            "dynamodb": stack.dynamodb.endpoint,
        },
    )
    report.figures.append(figure(label, naive_a, baseline=("mirror GET /me, cache miss", miss), unit="ms"))
    report.figures.append(figure(label, naive_b, baseline=("mirror GET /me, cache hit", hit), unit="ms"))
    report.lines.append(quota_line())
    return report
