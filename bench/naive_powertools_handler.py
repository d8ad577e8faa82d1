"""BASELINE ONLY, not part of the mirror: the naive GetUser handler written the way the example
consumer is (a Powertools resolver and Logger), so a cold start can compare the library with GetUser
on the same framework. Same calls as bench/naive_getuser_handler.py: a cognito-idp client created at
import, GetUser with the caller's access token on every request."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.logging import correlation_paths

client = boto3.client("cognito-idp")
logger = Logger()
app = APIGatewayHttpResolver()


@app.get("/me")
def me() -> dict[str, Any]:
    scheme, _, token = str(app.current_event.headers.get("authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("Unauthorized")
    try:
        user = client.get_user(AccessToken=token)
    except client.exceptions.NotAuthorizedException as exc:
        raise UnauthorizedError("Unauthorized") from exc
    attributes = {item["Name"]: item["Value"] for item in user["UserAttributes"]}
    return {"username": user["Username"], "attributes": attributes}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
