"""The functions layer's errors: one tree with the cognito_mirror library's.

    cognito_mirror.MirrorError                        Powertools ServiceError: an API answers it by itself
    ├── cognito_mirror.MirrorUnavailableError   503   a dependency is down: retry later
    │   ├── ServiceUnavailableError                   Cognito failed, was unreachable or kept failing
    │   │   └── CognitoThrottledError                 Cognito throttled: retry later, slower
    │   └── models.errors.MirrorUnavailableError      DynamoDB failed (the data layer's)
    └── cognito_mirror.ConfigurationError       500   a setting is missing or malformed: the only one
                                                      (models.settings re-exports it; functions/common/
                                                      settings.py checks each entry point's at cold start)

Code that handles "a dependency is down" (Cognito's or DynamoDB's) catches `DEPENDENCY_DOWN`, the
library's MirrorUnavailableError, never the classes side by side.

Errors of one concern stay in their own module, outside this tree:
- functions/common/backfill/errors.py: EngineError (a backfill or reconcile run cannot start or go
  on: one line for the operator, CLI exit 4) and its CheckpointError, CheckpointMismatchError;
- input that can never succeed, a ValueError each: MalformedSyncRecordError (cloudtrail.py),
  MalformedStreamRecordError (user_events.py), CursorError (cursor.py); models' MalformedUserError,
  MalformedStateError, DirectoryQueryError;
- functions/user_events.py: EventNotPublishedError (one stream record to retry).
"""

from __future__ import annotations

from cognito_mirror import MirrorUnavailableError


class ServiceUnavailableError(MirrorUnavailableError):
    """A dependency (Cognito) failed or throttled: retry later."""


class CognitoThrottledError(ServiceUnavailableError):
    """Cognito answered TooManyRequestsException / throttling: retry later."""


# Every "dependency down, retry later" error: Cognito's (this tree) and DynamoDB's (the data layer's).
DEPENDENCY_DOWN = MirrorUnavailableError
