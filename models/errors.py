"""The data layer's errors, all in one place: plain exceptions, as PynamoDB's, never HTTP answers.

    DependencyUnavailableError (Exception)  Cognito or DynamoDB could not be reached or refused the
    │                                       call: retry later. The one class that code handling "a
    │                                       dependency is down" catches; `.cause` is the botocore error
    ├── TableUnavailableError               DynamoDB failed (not a condition failure)
    └── functions.common.errors.CognitoUnavailableError (and its CognitoThrottledError)
    MalformedStateError    (ValueError)     a stored engine state that is not a string
    MalformedUserError     (ValueError)     a Cognito payload that does not describe a user
    DirectoryQueryError    (ValueError)     a directory query the caller got wrong: attribute not
                                            indexed, unusable value or limit, foreign continuation

An HTTP status is chosen only by a handler: the API answers DependencyUnavailableError as the
library's 503 (functions/api.py). `error_code` names the AWS error code of a botocore error (else its
type) for one-line messages: the library's one function (`cognito_mirror.aws_errors`), re-exported
here for the layers above. Settings keep `models.settings.ConfigurationError` (the library's).
"""

from __future__ import annotations

from cognito_mirror.aws_errors import error_code as error_code  # the one; re-exported for callers


class DependencyUnavailableError(Exception):
    """Cognito or DynamoDB could not be reached or refused the call: a retry later may succeed."""

    @property
    def cause(self) -> BaseException | None:
        """The error the dependency raised (botocore's), if any."""
        return self.__cause__


class TableUnavailableError(DependencyUnavailableError):
    """DynamoDB could not be reached or refused the call (not a condition failure)."""


class MalformedStateError(ValueError):
    """A stored engine state whose `state` is not a string."""


class MalformedUserError(ValueError):
    """A Cognito payload that does not describe a user (no sub, wrong types)."""


class DirectoryQueryError(ValueError):
    """A query the directory cannot answer: attribute not indexed, unusable value or limit, or a
    continuation that does not belong to the query (a caller's fault, a 4xx)."""
