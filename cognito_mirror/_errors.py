"""The library's errors: Powertools `ServiceError`s, so a user's resolver answers them by itself.

    MirrorError                               (mixin: public message, headers, detail)
    ├── UnauthenticatedError   401  UnauthorizedError
    ├── AccessDeniedError      403  ForbiddenError (no such group in the token or the mirrored row,
    │                               or the caller's own user is gone)
    ├── UserDisabledError      403  ForbiddenError
    ├── UserNotFoundError      404  NotFoundError
    ├── DirectoryQueryError    400  BadRequestError (attribute not indexed, blank value)
    ├── MirrorUnavailableError 503  ServiceUnavailableError (Retry-After: a retry may succeed)
    └── ConfigurationError     500  InternalServerError (a deployment fault, never the caller's:
                                    a bad setting, or DynamoDB refusing the deployment)

The HTTP body carries the class's public message (or one given for the instance, never with a
value the caller sent); `detail` (also `str(exc)`) says why, for logs.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.event_handler import exceptions as pt

NO_STORE = {"Cache-Control": "no-store"}


class MirrorError(pt.ServiceError):
    """Base of every error the library raises for a request."""

    status = 500
    message = "Internal server error"
    headers: dict[str, str] = NO_STORE

    def __init__(
        self, detail: str = "", *, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        pt.ServiceError.__init__(self, self.status, message or self.message)
        self.detail = detail
        if headers is not None:
            self.headers = {**type(self).headers, **headers}


class UnauthenticatedError(MirrorError, pt.UnauthorizedError):
    """The request carries no verified identity of an accepted kind (401)."""

    status = 401
    message = "Unauthorized"
    headers = {**NO_STORE, "WWW-Authenticate": "Bearer"}


class AccessDeniedError(MirrorError, pt.ForbiddenError):
    """A privileged request refused: the token lacks the group, the caller's own mirrored row no
    longer holds it, or that user is deleted or unknown (403; the answer says no more than that)."""

    status = 403
    message = "Forbidden"


class UserDisabledError(MirrorError, pt.ForbiddenError):
    """The caller's user is disabled in Cognito: a still-valid token reads nothing (403)."""

    status = 403
    message = "User is disabled"


class UserNotFoundError(MirrorError, pt.NotFoundError):
    """No such user in the mirror (nor after repair), or the user was deleted (404)."""

    status = 404
    message = "User not found"


class DirectoryQueryError(MirrorError, pt.BadRequestError):
    """A directory lookup the indexes cannot answer: the attribute is not indexed, or the value is
    blank or too long to be indexed (400)."""

    status = 400
    message = "Bad request"


class MirrorUnavailableError(MirrorError, pt.ServiceUnavailableError):
    """DynamoDB, the repair function or the JWKS endpoint failed, or answered what none of them
    would (a 200 of another shape): retry later (503)."""

    status = 503
    message = "Service temporarily unavailable"
    headers = {**NO_STORE, "Retry-After": "1"}


class ConfigurationError(MirrorError, pt.InternalServerError):
    """The reader's configuration is missing or malformed, or DynamoDB refuses it for good (access
    denied, no such table, unknown credentials, a bad region): 500, a deployment fault that no
    retry fixes (no Retry-After)."""

    status = 500
    message = "Service misconfigured"
