"""GET /hello: greets the caller by name and tenant, read from the Cognito attribute mirror.

The HTTP API's JWT authorizer has verified the caller's access token; `profile_middleware` looks the
caller up in the mirror (a cached GetItem, a repair on a miss) and answers 401/403/404/503 as JSON
by itself, so the route only runs for a caller with a live profile.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cognito_mirror import caller_profile, profile_middleware

logger = Logger()
app = APIGatewayHttpResolver()
app.use(middlewares=[profile_middleware])


@app.get("/hello")
def hello() -> dict[str, Any]:
    profile = caller_profile(app)
    name = profile.attributes.get("given_name") or profile.username
    tenant = profile.attributes.get("custom:tenant")
    greeting = f"Hello {name} of {tenant}!" if tenant else f"Hello {name}!"
    return {"message": greeting, "given_name": name, "tenant": tenant}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
