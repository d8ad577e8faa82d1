"""Domain errors, mapped to HTTP answers in one place (functions/api.py)."""


class UnauthenticatedError(Exception):
    """The request carries no usable identity (401)."""


class ForbiddenError(Exception):
    """The caller may not read this profile (403)."""


class UserDisabledError(ForbiddenError):
    """The caller's own user is disabled in Cognito; their still-valid token reads nothing (403)."""


class UserNotFoundError(Exception):
    """No such user in the mirror nor in Cognito, or the user was deleted (404)."""


class BadRequestError(Exception):
    """The caller's input is malformed (400)."""


class ServiceUnavailableError(Exception):
    """A dependency (DynamoDB, Cognito, the JWKS endpoint) failed or throttled (503)."""


class CognitoThrottledError(ServiceUnavailableError):
    """Cognito answered TooManyRequestsException / throttling: retry later."""
