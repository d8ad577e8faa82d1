"""Our errors as HTTP answers: Powertools middleware and a helper for plain Lambda handlers."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError

from cognito_mirror._errors import MirrorError
from cognito_mirror._reader import default_reader
from cognito_mirror.record import Profile

CONTEXT_KEY = "caller_profile"


def _body(exc: ServiceError) -> dict[str, Any]:
    # The same body Powertools renders for a ServiceError raised inside a route.
    return {"statusCode": int(exc.status_code), "message": exc.msg}


def error_answer(exc: ServiceError) -> Response[dict[str, Any]]:
    """A Powertools Response for one of our errors (or Powertools' own), with the error's headers:
    WWW-Authenticate on a 401, Retry-After on a 503, Cache-Control: no-store on ours."""
    return Response(
        status_code=int(exc.status_code),
        content_type=content_types.APPLICATION_JSON,
        body=_body(exc),
        headers=dict(getattr(exc, "headers", {})),
    )


def error_response(exc: MirrorError) -> dict[str, Any]:
    """An HTTP API (v2) response for one of our errors, for handlers without a Powertools resolver."""
    return {
        "statusCode": int(exc.status_code),
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **exc.headers},
        "body": json.dumps(_body(exc)),
        "isBase64Encoded": False,
    }


def profile_middleware(app: Any, next_middleware: Any) -> Any:
    """Powertools middleware: resolve the caller's profile, or answer our error with its headers.

    `app.use(middlewares=[profile_middleware])` (or per route); read it with `caller_profile(app)`.
    """
    try:
        profile = default_reader().get_caller_profile(app.current_event)
    except MirrorError as exc:
        return error_answer(exc)
    # What `app.append_context(caller_profile=...)` does, without building keyword arguments.
    app.context[CONTEXT_KEY] = profile
    return next_middleware(app)


def caller_profile(app: Any) -> Profile:
    """The profile `profile_middleware` resolved for this request."""
    profile = app.context.get(CONTEXT_KEY)
    if not isinstance(profile, Profile):
        raise RuntimeError("caller_profile(app) needs profile_middleware on this route")
    return profile
