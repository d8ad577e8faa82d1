"""The data layer's errors, all in one place.

    MirrorUnavailableError                 DynamoDB could not be reached or refused the call (not a
                                           condition failure): the caller's dependency is down, a 503;
                                           a cognito_mirror.MirrorUnavailableError, so one class
                                           catches every "dependency down" (functions/common/errors.py)
    MalformedStateError    (ValueError)    a stored engine state that is not a string
    MalformedUserError     (ValueError)    a Cognito payload that does not describe a user
    DirectoryQueryError    (ValueError)    a directory query the caller got wrong: attribute not indexed,
                                           unusable value or limit, foreign continuation (a 4xx)

`error_code` names the AWS error code of a botocore error (else its type) for one-line messages: the
library's one function (`cognito_mirror.aws_errors`), re-exported here for the layers above. The library's
own errors (HTTP-mapped `ServiceError`s) are `cognito_mirror`'s; settings keep
`models.settings.ConfigurationError`.
"""

from __future__ import annotations

import cognito_mirror
from cognito_mirror.aws_errors import error_code as error_code  # the one; re-exported for callers


class MirrorUnavailableError(cognito_mirror.MirrorUnavailableError):
    """DynamoDB could not be reached or refused the call (not a condition failure)."""


class MalformedStateError(ValueError):
    """A stored engine state whose `state` is not a string."""


class MalformedUserError(ValueError):
    """A Cognito payload that does not describe a user (no sub, wrong types)."""


class DirectoryQueryError(ValueError):
    """A query the directory cannot answer: attribute not indexed, unusable value or limit, or a
    continuation that does not belong to the query (a caller's fault, a 4xx)."""
