"""HTTP API (v2) handler: GET /me and GET /users/{sub}, served from the mirror."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from functions.common.cognito import valid_sub
from functions.common.errors import (
    BadRequestError,
    ForbiddenError,
    ServiceUnavailableError,
    UnauthenticatedError,
    UserDisabledError,
    UserNotFoundError,
)
from functions.common.identity import caller_from_event
from functions.common.observability import count, logger, metrics
from functions.common.profiles import get_profile
from functions.profile import get_caller_profile
from models.settings import ConfigurationError, get_settings

app = APIGatewayHttpResolver()


@app.get("/me")
def me() -> dict[str, Any]:
    return get_caller_profile(app.current_event.raw_event).to_dict()


@app.get("/users/<sub>")
def user_by_sub(sub: str) -> dict[str, Any]:
    caller = caller_from_event(app.current_event.raw_event)
    if get_settings().admin_group not in caller.groups:
        raise ForbiddenError("reading another user's profile needs the admin group")
    if not valid_sub(sub):
        raise BadRequestError("malformed sub")
    return get_profile(sub).to_dict()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response[dict[str, str]]:
    count(f"ApiError{status}")
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": message},
        headers=headers,
    )


@app.exception_handler(UnauthenticatedError)
def _unauthenticated(exc: UnauthenticatedError) -> Response[dict[str, str]]:
    return _error(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})


@app.exception_handler(ForbiddenError)
def _forbidden(exc: ForbiddenError) -> Response[dict[str, str]]:
    return _error(403, "Forbidden")


@app.exception_handler(UserDisabledError)
def _disabled(exc: UserDisabledError) -> Response[dict[str, str]]:
    return _error(403, "User is disabled")


@app.exception_handler(UserNotFoundError)
def _not_found(exc: UserNotFoundError) -> Response[dict[str, str]]:
    return _error(404, "User not found")


@app.exception_handler(BadRequestError)
def _bad_request(exc: BadRequestError) -> Response[dict[str, str]]:
    return _error(400, str(exc))


@app.exception_handler(ServiceUnavailableError)
def _unavailable(exc: ServiceUnavailableError) -> Response[dict[str, str]]:
    logger.error("dependency unavailable", extra={"error": str(exc)})
    return _error(503, "Service temporarily unavailable", {"Retry-After": "1"})


@app.exception_handler(ConfigurationError)
def _misconfigured(exc: ConfigurationError) -> Response[dict[str, str]]:
    logger.error("configuration error", extra={"error": str(exc)})
    return _error(500, "Internal server error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = app.resolve(event, context)
    # Profiles are personal data: no browser or shared cache may keep any answer of this API.
    response.setdefault("headers", {})["Cache-Control"] = "no-store"
    return response
