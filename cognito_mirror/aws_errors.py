"""The failures of the library's AWS clients, for code that calls AWS next to it: which exceptions
a failed call raises (`client_errors`) and its AWS error code (`error_code`, for logs and metrics)."""

from __future__ import annotations

from cognito_mirror._aws import client_errors, error_code

__all__ = ["client_errors", "error_code"]
