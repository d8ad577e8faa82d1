"""Cognito's errors: plain exceptions in the data layer's tree (models/errors.py), never HTTP answers.

    models.errors.DependencyUnavailableError      Cognito or DynamoDB is down: retry later
    ├── models.errors.TableUnavailableError       DynamoDB failed (the data layer's)
    └── CognitoUnavailableError                   Cognito failed, was unreachable or kept failing
        └── CognitoThrottledError                 Cognito throttled: retry later, slower
    cognito_mirror.ConfigurationError             a setting is missing or malformed: the only one
                                                  (models.settings re-exports it; functions/common/
                                                  settings.py checks each entry point's at cold start)

Code that handles "a dependency is down" (Cognito's or DynamoDB's) catches DependencyUnavailableError,
never the classes side by side; an HTTP handler answers it as the library's 503 (functions/api.py).

Errors of one concern stay in their own module, outside this tree:
- functions/common/backfill/errors.py: EngineError (a backfill or reconcile run cannot start or go
  on: one line for the operator, CLI exit 4) and its CheckpointError, CheckpointMismatchError;
- input that can never succeed, a ValueError each: MalformedSyncRecordError (cloudtrail.py),
  MalformedStreamRecordError (user_events.py, for every stream consumer), CursorError (cursor.py);
  models' MalformedUserError, MalformedStateError, DirectoryQueryError;
- functions/common/stream_batch.py: RecordNotProcessedError (one stream record to retry: its event
  not published, its memberships not written).
"""

from __future__ import annotations

from models.errors import DependencyUnavailableError


class CognitoUnavailableError(DependencyUnavailableError):
    """Cognito failed, was unreachable or kept failing: retry later."""


class CognitoThrottledError(CognitoUnavailableError):
    """Cognito answered TooManyRequestsException / throttling: retry later, slower."""
