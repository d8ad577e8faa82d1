"""Errors of the mirror's Cognito reads (sync, reconcile, backfill, repair).

The read side's errors (401/403/404/503 for a caller) are the cognito_mirror library's.
"""


class ServiceUnavailableError(Exception):
    """A dependency (Cognito) failed or throttled: retry later."""


class CognitoThrottledError(ServiceUnavailableError):
    """Cognito answered TooManyRequestsException / throttling: retry later."""
