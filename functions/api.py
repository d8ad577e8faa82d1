"""HTTP API (v2) handler: GET /me, GET /users/{sub} and GET /users (the directory), read through the
cognito_mirror library and the directory's indexes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, ServiceError
from aws_lambda_powertools.logging import correlation_paths

from cognito_mirror import MirrorUnavailableError, error_answer
from cognito_mirror.record import valid_sub
from functions.common.observability import count_metric, log_metrics, logger
from functions.common.reader import mirror_reader
from functions.common.settings import check_at_cold_start
from models.errors import DependencyUnavailableError
from models.settings import get_settings

# The API's settings are the mirror's and the reader's: both are parsed when the reader is built.
check_at_cold_start("api", mirror_reader)
app = APIGatewayHttpResolver()


@app.get("/me")
def me() -> dict[str, Any]:
    return mirror_reader().get_caller_profile(app.current_event).to_dict()


@app.get("/users/<sub>")
def user_by_sub(sub: str) -> dict[str, Any]:
    reader = mirror_reader()
    reader.require_group(app.current_event, get_settings().admin_group)
    if not valid_sub(sub):
        raise BadRequestError("malformed sub")
    # An admin reads disabled users too (enabled=false in the answer).
    return reader.get(sub).to_dict()


@app.get("/users")
def users() -> dict[str, Any]:
    # The directory's reads are imported with its first request, not on a GET /me container's path.
    from functions.common.user_directory import authorised_query, list_users

    reader = mirror_reader()
    params = app.current_event.query_string_parameters
    return list_users(authorised_query(params, lambda group: reader.require_group(app.current_event, group)))


def _answer(exc: ServiceError) -> Response[dict[str, Any]]:
    """The library's error answer, counted by status; a 5xx logged with its reason (never a value)."""
    status = int(exc.status_code)
    count_metric(f"ApiError{status}")
    if status >= 500:
        logger.error("request failed", extra={"status": status, "error": getattr(exc, "detail", "")})
    return error_answer(exc)


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response[dict[str, Any]]:
    # The library's errors (a bad setting's ConfigurationError: 500 "Service misconfigured"), ours,
    # and Powertools' own (an unknown route's 404).
    return _answer(exc)


@app.exception_handler(DependencyUnavailableError)
def _dependency_unavailable(exc: DependencyUnavailableError) -> Response[dict[str, Any]]:
    # Cognito or DynamoDB down (the stack's plain errors): the library's 503, Retry-After.
    return _answer(MirrorUnavailableError(str(exc)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = app.resolve(event, context)
    # Profiles are personal data: no browser or shared cache may keep any answer of this API.
    response.setdefault("headers", {})["Cache-Control"] = "no-store"
    return response
