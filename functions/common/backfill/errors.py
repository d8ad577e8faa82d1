"""Why a backfill or reconcile run cannot start or go on: one line for the operator."""

from __future__ import annotations

# AWS answers meaning "your credentials are wrong or missing": fatal, never retried.
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "AccessDeniedException",
        "NoCredentialsError",
        "PartialCredentialsError",
        "ProfileNotFound",
    }
)


class EngineError(RuntimeError):
    """The run cannot start or go on (bad pool, table or credentials): one line for the operator."""


class CheckpointError(EngineError):
    """The --checkpoint path is not a new file nor a checkpoint of this tool (or is unusable)."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint file belongs to another pool, table or mode."""


def credentials_error(code: str) -> EngineError:
    return EngineError(f"AWS credentials were rejected or are missing ({code})")
