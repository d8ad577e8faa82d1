"""The backfill command's progress line: drawn on a terminal's stderr, absent otherwise."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from functions.backfill.cli import main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fill(cognito: Any, stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> int:
    for i in range(3):
        cognito.create_user(f"progress{i}", email=f"p{i}@example.com")
    monkeypatch.setattr(sys, "stderr", stderr)
    return main(["--user-pool-id", cognito.id, "--table", "mirror-test", "--write-mode", "put", "--json"])


def test_a_terminal_sees_one_progress_line_of_listed_users(
    cognito: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given stderr is a terminal
    stderr = Terminal()
    # When the backfill runs over three users
    code = fill(cognito, stderr, monkeypatch)
    # Then the progress line counts them, and ends its line when the run ends
    assert code == 0
    assert "\rlisted 3 users (" in stderr.getvalue()
    assert stderr.getvalue().endswith("/s)\n")


def test_no_progress_line_when_stderr_is_not_a_terminal(
    cognito: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given stderr is a pipe or a file
    stderr = io.StringIO()
    # When the backfill runs
    code = fill(cognito, stderr, monkeypatch)
    # Then nothing but logs reach it: no progress line
    assert code == 0
    assert "\rlisted" not in stderr.getvalue()
