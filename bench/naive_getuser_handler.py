"""BASELINE ONLY, not part of the mirror: the seed's approach, Cognito GetUser on every request.

A boto3 cognito-idp client created once per container (at import), and GetUser with the caller's
access token from the Authorization header for each request. The benchmarks compare against it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

client = boto3.client("cognito-idp")


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _response(401, {"message": "Unauthorized"})
    try:
        user = client.get_user(AccessToken=token)
    except client.exceptions.NotAuthorizedException:
        return _response(401, {"message": "Unauthorized"})
    attributes = {item["Name"]: item["Value"] for item in user["UserAttributes"]}
    return _response(200, {"username": user["Username"], "attributes": attributes})
